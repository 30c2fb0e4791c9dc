"""Resilience fixtures: one moto server for the session, one stack per module, a fault proxy per test.

The stack (template.yaml) and the sample world are created once per module (moto's state is per process:
another module may reset it); before each test the world is put back as seeded (services on their first
revision, an empty deploy table, empty queues), so each test starts from the same state without paying for a
new stack. The handler reaches AWS through a FaultProxy; seeding and assertions go straight to the server.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pushdeploy import wiring
from tests.helpers import Inbox
from tools.faultproxy import FaultProxy
from tools.localaws import Invocation, LocalAws, LocalStack, StackFunction, patched_environ
from tools.sample_world import World, seed_world

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_sqs import SQSClient

DEPLOY_FUNCTION = "DeployFunction"


@dataclass
class SharedWorld:
    """The stack, the sample world, the team's inbox, and clients of the server, created once per module."""

    stack: LocalStack
    world: World
    inbox: Inbox
    ecs: ECSClient
    dynamodb: DynamoDBClient
    sqs: SQSClient

    @property
    def function(self) -> StackFunction:
        return self.stack.functions[DEPLOY_FUNCTION]

    def restore(self) -> None:
        """Put the world back as seeded: services on their first revision, no ledger records,
        no messages queued. Revisions registered by earlier tests are deregistered (so none of them is a
        family's latest ACTIVE revision); tests count the ones they add."""
        for cluster, revision in self.world.task_definitions.items():
            self.ecs.update_service(cluster=cluster, service="api", taskDefinition=revision)
            family = revision.rsplit("/", 1)[-1].rsplit(":", 1)[0]
            for arn in self.ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]:
                if arn != revision:
                    self.ecs.deregister_task_definition(taskDefinition=arn)
        table = self.stack.outputs["DeployTableName"]
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
            for item in page["Items"]:
                self.dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
        for url in (self.inbox.url, str(self.function.on_failure_queue)):
            # Drained rather than purged: SQS allows one PurgeQueue a minute.
            while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Rig:
    """One test's view: the shared world, and the fault proxy the handler reaches AWS through."""

    local: LocalAws
    shared: SharedWorld
    proxy: FaultProxy
    monkeypatch: pytest.MonkeyPatch

    @property
    def stack(self) -> LocalStack:
        return self.shared.stack

    @property
    def world(self) -> World:
        return self.shared.world

    @property
    def inbox(self) -> Inbox:
        return self.shared.inbox

    @property
    def function(self) -> StackFunction:
        return self.shared.function

    @contextlib.contextmanager
    def through_proxy(self) -> Iterator[None]:
        """Every boto3 client created inside reaches AWS through the proxy."""
        with self.monkeypatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", self.proxy.endpoint)
            yield

    def deliver(self, event: dict[str, Any]) -> Invocation:
        """An EventBridge event through the stack's rule: Lambda's async invoke, retries, on-failure queue."""
        with self.through_proxy():
            delivery = self.local.deliver(self.stack, event)
        invocations = delivery.invocations
        if event.get("detail-type") == "ECS Deployment State Change":
            # A deployment's COMPLETED reaches the deploy function too (afterDeploy): the tracker's is asked about.
            invocations = [i for i in invocations if i.function == "TrackFunction"]
        [invocation] = invocations
        return invocation

    def invoke_async(self, event: dict[str, Any]) -> Invocation:
        """An asynchronous invoke (``aws lambda invoke --invocation-type Event``): retries, on-failure queue."""
        with self.through_proxy():
            return self.local.invoke_async(self.function, event)

    def run(self, event: dict[str, Any]) -> Invocation:
        """A push through the rule (async), or a manual request invoked directly (synchronous, no retry)."""
        with self.through_proxy():
            delivery = self.local.run_event(self.stack, event)
        [invocation] = delivery.invocations
        return invocation

    def invoke(self, event: dict[str, Any]) -> Any:
        """One synchronous run of the handler; raises what the handler raises."""
        with self.through_proxy():
            return self.local.invoke(self.function, event, Invocation(DEPLOY_FUNCTION, attempts=1))


@pytest.fixture(scope="session")
def local() -> Iterator[LocalAws]:
    """moto's standalone server on loopback for the whole session."""
    with LocalAws() as running:
        yield running


@pytest.fixture(scope="module")
def shared_world(local: LocalAws) -> SharedWorld:
    """template.yaml deployed into a cleared server, the sample world seeded, an inbox on the topic."""
    with patched_environ({"AWS_ENDPOINT_URL": local.endpoint}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        local.reset()
        stack = local.deploy()
        session = local.session()
        topic_arn = stack.outputs["DeployTopicArn"]
        world = seed_world(session, topic_arn=topic_arn)
        local.settle_all()  # the seeded services' first deployments finish, as on a steady account
        return SharedWorld(
            stack=stack,
            world=world,
            inbox=Inbox(session, topic_arn),
            ecs=session.client("ecs", endpoint_url=local.endpoint),
            dynamodb=session.client("dynamodb", endpoint_url=local.endpoint),
            sqs=session.client("sqs", endpoint_url=local.endpoint),
        )


@pytest.fixture
def rig(
    local: LocalAws, shared_world: SharedWorld, fake_aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rig]:
    """The world as seeded, and a fault proxy in front of the server (no fault set yet)."""
    # tests/conftest.py removes AWS_ENDPOINT_URL before each test: point clients at the server again.
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    shared_world.restore()
    with FaultProxy(local.endpoint) as proxy:
        yield Rig(local=local, shared=shared_world, proxy=proxy, monkeypatch=monkeypatch)
    wiring.reset()  # a test may have wired its own seams
