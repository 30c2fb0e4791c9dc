"""End-to-end fixtures: one moto server (with the local ECS in front) for the whole session; per test, a clean
server with template.yaml deployed into it, the sample world seeded (its services steady on their first
revision) and a team inbox subscribed to the stack's topic."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import boto3
import pytest

from tests.helpers import Inbox
from tools.localaws import LocalAws, LocalStack, StackFunction
from tools.sample_world import World, put_target_config, seed_world
from tools.sample_world import task_definition as sample_task_definition


@pytest.fixture(scope="session")
def local() -> Iterator[LocalAws]:
    """moto's standalone server on loopback, stopped when the session ends (also after failures)."""
    with LocalAws() as running:
        yield running


@pytest.fixture(autouse=True)
def local_endpoint(local: LocalAws, fake_aws_environment: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every boto3 client at the local server again for this test.

    tests/conftest.py deletes AWS_ENDPOINT_URL before each test (after LocalAws set it for the session):
    without this, clients would aim at the real AWS endpoints, with fake credentials.
    """
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    return local.endpoint


@pytest.fixture
def session(local: LocalAws) -> boto3.Session:
    return local.session()


@pytest.fixture
def stack(local: LocalAws) -> LocalStack:
    """template.yaml, deployed into a freshly cleared server."""
    local.reset()
    with warnings.catch_warnings():
        # moto warns of each resource type it cannot create; test_stack.py asserts that list instead.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        return local.deploy()


@pytest.fixture
def world(local: LocalAws, session: boto3.Session, stack: LocalStack) -> World:
    seeded = seed_world(session, topic_arn=stack.outputs["DeployTopicArn"])
    local.settle_all()  # the first deployments of the seeded services complete: the world starts steady
    return seeded


@pytest.fixture
def inbox(session: boto3.Session, stack: LocalStack, world: World) -> Inbox:
    return Inbox(session, stack.outputs["DeployTopicArn"])


@pytest.fixture
def deploy_function(stack: LocalStack) -> StackFunction:
    return stack.functions["DeployFunction"]


@pytest.fixture
def staging_eu(local: LocalAws, session: boto3.Session, world: World) -> str:
    """A third target, /pushdeploy/api/staging-eu: cluster staging-eu with its own api service (task
    definition family api-staging-eu, the sample shape), taking staging-* tags. Returns its revision 1."""
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName="staging-eu")
    arn = ecs.register_task_definition(
        **sample_task_definition("api-staging-eu", world.repository_uri, "staging-41"),
        tags=[{"key": "team", "value": "payments"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="staging-eu",
        serviceName="api",
        taskDefinition=arn,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [world.subnet_id], "securityGroups": [world.security_group_id]}
        },
    )
    put_target_config(session, "api", "staging-eu", {"cluster": "staging-eu", "service": "api", "tags": ["staging-*"]})
    local.settle_all()
    return arn
