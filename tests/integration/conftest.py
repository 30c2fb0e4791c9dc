"""Integration fixtures: in-process moto holding the sample world, and the deploy handler wired to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from pushdeploy import wiring
from tests.helpers import Inbox, LambdaContext, load_function
from tools.sample_world import CONFIG_PREFIX, World, create_deploy_table, seed_world


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def world(session: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    created = seed_world(session)
    monkeypatch.setenv("TOPIC_ARN", created.topic_arn)
    monkeypatch.setenv("TABLE_NAME", create_deploy_table(session))
    monkeypatch.setenv("CONFIG_PREFIX", CONFIG_PREFIX)
    monkeypatch.setenv("CONFIG_CACHE_SECONDS", "0")
    wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield created
    wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@pytest.fixture
def inbox(session: boto3.Session, world: World) -> Inbox:
    return Inbox(session, world.topic_arn)


@pytest.fixture
def invoke(world: World) -> Callable[[dict[str, Any]], dict[str, Any]]:
    app = load_function("deploy")

    def run(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.handler(event, LambdaContext())
        return result

    return run
