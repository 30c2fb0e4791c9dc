"""A retry finds out what its earlier attempt did and finishes the job: nothing deployed is left unrecorded,
untracked or announced as FAILED.

Each test breaks one step of a push's deploy with the fault proxy (a lost UpdateService response, a failed
ledger commit, an ECS outcome that arrives before the deploy is recorded), lets the retry run, then delivers
ECS's COMPLETED through the stack's rule, as ECS would.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pushdeploy.domain.times import describe_time
from tests.helpers import Received, load_event
from tests.resilience.conftest import Rig
from tools.faultproxy import LOST_RESPONSE, SERVICE_UNAVAILABLE

pytestmark = pytest.mark.e2e

CLUSTER = "staging"
ATTEMPTS_PER_CALL = 3  # the clients' total_max_attempts: a fault on every attempt of one call


def statuses(received: list[Received]) -> list[str]:
    return [item.message["status"] for item in received]


def running(rig: Rig) -> dict[str, Any]:
    [service] = rig.shared.ecs.describe_services(cluster=CLUSTER, services=["api"])["services"]
    return dict(service)


def completed(rig: Rig, deployment_id: str) -> dict[str, Any]:
    """ECS's COMPLETED of ``deployment_id`` on the staging service, stamped now."""
    event = load_event("ecs-deployment-completed.json")
    event["time"] = describe_time(time.time())
    event["resources"] = [running(rig)["serviceArn"]]
    event["detail"].update(
        deploymentId=deployment_id,
        updatedAt=event["time"],
        reason=f"ECS deployment {deployment_id} completed.",
    )
    return event


def history(rig: Rig) -> list[dict[str, Any]]:
    result: dict[str, Any] = rig.invoke({"action": "history", "repository": "api", "target": "staging"})
    return list(result["deploys"])


def test_a_lost_update_service_response_is_announced_as_unknown_and_the_retry_records_the_deploy(rig: Rig) -> None:
    # Given UpdateService applied by ECS on every attempt of the first invocation, each answer lost
    event = load_event("ecr-push.json")
    rig.proxy.fail("ecs", "UpdateService", times=ATTEMPTS_PER_CALL, error=LOST_RESPONSE)

    # When staging-42 is pushed (Lambda retries the failed invocation)
    invocation = rig.deliver(event)

    # Then the first attempt said the result was unknown (never FAILED), and the retry found the service on
    # the revision it registered and announced the deploy
    assert invocation.error is None, invocation.error
    assert invocation.attempts == 2
    received = rig.inbox.receive()
    assert statuses(received) == ["RETRYING", "DEPLOYING"]
    retrying, deploying = (item.message for item in received)
    assert "unknown" in retrying["reason"] and "being retried" in retrying["reason"]
    assert deploying["taskDefinitionArn"] == retrying["taskDefinitionArn"] == running(rig)["taskDefinition"]
    assert deploying["code"] == "reconciled"
    # And the deploy is in the history, so ECS's COMPLETED is announced
    assert [item["status"] for item in history(rig)] == ["DEPLOYING"]
    outcome = rig.deliver(completed(rig, str(deploying["deploymentId"])))
    assert outcome.result["status"] == "COMPLETED", outcome.result
    assert statuses(rig.inbox.receive()) == ["COMPLETED"]


def test_a_failed_commit_after_the_update_is_recorded_by_the_retry_without_a_second_announcement(rig: Rig) -> None:
    # Given the ledger commit failing on every attempt of the first invocation (the service update succeeded)
    event = load_event("ecr-push.json")
    rig.proxy.fail("dynamodb", "TransactWriteItems", times=ATTEMPTS_PER_CALL, error=SERVICE_UNAVAILABLE)

    # When staging-42 is pushed
    invocation = rig.deliver(event)

    # Then the retry recorded the deploy: one DEPLOYING, one history item, one service update
    assert invocation.error is None, invocation.error
    assert invocation.attempts == 2
    received = rig.inbox.receive()
    assert statuses(received) == ["DEPLOYING"]
    [deploying] = [item.message for item in received]
    assert rig.proxy.count("ecs", "UpdateService") == 1
    [recorded] = history(rig)
    assert (recorded["status"], recorded["taskDefinitionArn"]) == ("DEPLOYING", deploying["taskDefinitionArn"])
    # And ECS's COMPLETED of that deployment is announced, not ignored
    outcome = rig.deliver(completed(rig, str(deploying["deploymentId"])))
    assert outcome.result["status"] == "COMPLETED", outcome.result
    assert statuses(rig.inbox.receive()) == ["COMPLETED"]
    assert [item["status"] for item in history(rig)] == ["COMPLETED"]


def test_an_outcome_that_arrives_before_the_deploy_is_recorded_is_applied_by_the_commit(rig: Rig) -> None:
    # Given a push whose service update succeeded but whose commit failed (a first deploy of the service)
    event = load_event("ecr-push.json")
    rig.proxy.fail("dynamodb", "TransactWriteItems", times=ATTEMPTS_PER_CALL, error=SERVICE_UNAVAILABLE)
    with pytest.raises(Exception, match="deploy ledger was not updated"):
        rig.invoke(event)
    [deploying] = [item.message for item in rig.inbox.receive()]
    rig.proxy.clear()

    # When ECS's COMPLETED arrives before the retry records the deploy
    early = rig.deliver(completed(rig, str(deploying["deploymentId"])))
    # Then it is kept, not lost
    assert early.result["status"] == "IGNORED"
    assert rig.inbox.receive() == []

    # When the retry runs
    rig.invoke(event)

    # Then the commit hands the parked outcome back and it is announced: the deploy ends COMPLETED
    assert statuses(rig.inbox.receive()) == ["COMPLETED"]
    [recorded] = history(rig)
    assert recorded["status"] == "COMPLETED"
    # And a redelivery of the outcome changes nothing
    again = rig.deliver(completed(rig, str(deploying["deploymentId"])))
    assert again.result["status"] == "IGNORED"
    assert rig.inbox.receive() == []
