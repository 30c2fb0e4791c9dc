"""Deploys that fail: each failure is announced with a reason a person can act on, nothing half-done is
left behind, and a failure that may pass is retried by Lambda until the event lands in the on-failure queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from pushdeploy.adapters.ecs import REGISTER_ATTEMPTS
from tests.e2e.readback import container, drain, queue_url, revisions, service, target_report, task_definition
from tests.helpers import Inbox, load_event
from tools.localaws import LocalAws, LocalStack, StackFunction
from tools.sample_world import World, put_target_config
from tools.template import load_template

pytestmark = pytest.mark.e2e


@contextmanager
def throttled(operation: str) -> Iterator[list[str]]:
    """Every ``operation`` call fails with ThrottlingException, before it leaves the process; the rest pass.

    Yields the names of the calls that were refused. botocore's own retries happen below _make_api_call, so
    each refused call is one attempt of the handler.
    """
    refused: list[str] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]  # private: botocore-stubs omit it

    def refuse(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == operation:
            refused.append(operation_name)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation_name)
        return original(client, operation_name, api_params)

    with patch.object(BaseClient, "_make_api_call", refuse):
        yield refused


def failed_only(inbox: Inbox) -> list[dict[str, Any]]:
    received = inbox.receive()
    assert all(item.message["status"] == "FAILED" for item in received), [item.message for item in received]
    return [item.message for item in received]


def test_a_broken_config_fails_its_target_and_not_the_others(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    deploy_function: StackFunction,
    world: World,
    inbox: Inbox,
    staging_eu: str,
) -> None:
    # Given staging's config broken by hand (not JSON any more) and a valid staging-eu target beside it
    broken = put_target_config(session, "api", "staging", '{"cluster": "staging", "service": "api",')
    event = load_event("ecr-push.json")

    # When staging-42 is pushed
    delivery = local.deliver(stack, event)

    # Then the invocation ends (a bad config is not retried) and reports the broken target as failed
    invocation = delivery.invocations[0]
    assert (invocation.attempts, invocation.error, invocation.sent_to_on_failure) == (1, None, False)
    assert invocation.result["status"] == "FAILED"
    assert target_report(invocation.result, "staging")["status"] == "FAILED"
    # And the valid target is deployed all the same
    eu = service(session, "staging-eu")["taskDefinition"]
    assert revisions(session, "api-staging-eu") == [staging_eu, eu]
    assert container(task_definition(session, eu)[0], "api")["image"].endswith(event["detail"]["image-digest"])
    # And the broken target's service is untouched: nothing registered for it, still on revision 1
    assert revisions(session, "api-staging") == [world.task_definitions["staging"]]
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]
    # And the team hears of both: a FAILED naming the broken parameter, and the deploy
    received = {item.message["target"]: item.message for item in inbox.receive()}
    assert set(received) == {"staging", "staging-eu"}
    failed = received["staging"]
    assert failed["status"] == "FAILED"
    assert failed["configParameter"] == broken == "/pushdeploy/api/staging"
    assert broken in failed["reason"]
    assert "not valid JSON" in failed["reason"]
    assert received["staging-eu"]["status"] == "DEPLOYING"
    assert drain(session, str(deploy_function.on_failure_queue)) == []


def test_a_missing_secret_parameter_fails_the_target(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging's config names /api/staging/DATABASE_URL, which has been deleted
    session.client("ssm").delete_parameter(Name="/api/staging/DATABASE_URL")
    before = revisions(session)

    # When staging-42 is pushed
    delivery = local.deliver(stack, load_event("ecr-push.json"))

    # Then the target fails once (retrying will not create the parameter), naming the parameter
    invocation = delivery.invocations[0]
    assert (invocation.attempts, invocation.error) == (1, None)
    assert target_report(invocation.result, "staging")["status"] == "FAILED"
    [message] = failed_only(inbox)
    assert message["target"] == "staging"
    assert "/api/staging/DATABASE_URL" in message["reason"]
    assert "nothing was registered" in message["reason"]
    # And nothing was registered, and the service still runs revision 1
    assert revisions(session) == before
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]


def test_an_inactive_service_or_a_missing_cluster_fails_the_target(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given the staging service deleted (INACTIVE), and a staging-eu target whose cluster does not exist
    session.client("ecs").delete_service(cluster="staging", service="api", force=True)
    assert service(session, "staging")["status"] == "INACTIVE"
    put_target_config(session, "api", "staging-eu", {"cluster": "staging-eu", "service": "api", "tags": ["staging-*"]})
    before = revisions(session)

    # When staging-42 is pushed
    delivery = local.deliver(stack, load_event("ecr-push.json"))

    # Then both targets fail, once each, with a reason that says what is wrong
    invocation = delivery.invocations[0]
    assert (invocation.attempts, invocation.error) == (1, None)
    assert invocation.result["status"] == "FAILED"
    messages = {message["target"]: message for message in failed_only(inbox)}
    assert set(messages) == {"staging", "staging-eu"}
    assert "INACTIVE" in messages["staging"]["reason"]
    assert "not ACTIVE" in messages["staging"]["reason"]
    assert "cluster staging-eu does not exist" in messages["staging-eu"]["reason"]
    # And nothing was registered, and the services' task definitions did not move
    assert revisions(session) == before
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]


def test_an_aws_error_that_persists_ends_in_the_on_failure_queue(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    deploy_function: StackFunction,
    world: World,
    inbox: Inbox,
) -> None:
    # Given RegisterTaskDefinition throttled every time, and Lambda's retries as the template sets them
    max_retries = load_template()["Resources"]["DeployFunction"]["Properties"]["EventInvokeConfig"][
        "MaximumRetryAttempts"
    ]
    event = load_event("ecr-push.json")
    before = revisions(session)

    # When staging-42 is pushed
    with throttled("RegisterTaskDefinition") as refused:
        delivery = local.deliver(stack, event)

    # Then Lambda ran the function 1 + MaximumRetryAttempts times, each one trying to register, then gave up
    invocation = delivery.invocations[0]
    assert invocation.attempts == 1 + max_retries == 3
    # (each attempt of the handler tries REGISTER_ATTEMPTS times: registrations go through a client without
    # botocore retries, and the adapter retries throttling itself)
    assert refused == ["RegisterTaskDefinition"] * 3 * REGISTER_ATTEMPTS
    assert invocation.error is not None
    assert invocation.error.startswith("DeployIncompleteError: ")
    assert "ThrottlingException" in invocation.error
    assert invocation.sent_to_on_failure
    # And each attempt told the team it failed, and why
    messages = failed_only(inbox)
    assert len(messages) == 3
    for message in messages:
        assert message["target"] == "staging"
        assert "ecs:RegisterTaskDefinition failed: ThrottlingException" in message["reason"]
        assert "nothing was registered" in message["reason"]
    # And nothing was registered, and the service still runs revision 1
    assert revisions(session) == before
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]
    # And the event is in the on-failure queue, as Lambda's destination record
    failure_queue = queue_url(session, stack.outputs["DeployFailureQueueUrl"])
    assert failure_queue == deploy_function.on_failure_queue
    [record] = drain(session, failure_queue)
    assert record["version"] == "1.0"
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == f"{stack.outputs['DeployFunctionArn']}:$LATEST"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "DeployIncompleteError"
    assert "ThrottlingException" in record["responsePayload"]["errorMessage"]
    # And EventBridge's own dead-letter queue is empty: the rule did deliver the event
    assert drain(session, queue_url(session, stack.outputs["EcrPushDeadLetterQueueUrl"])) == []
