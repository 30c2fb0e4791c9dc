"""One-off tasks around a deploy, through the local AWS: a beforeDeploy migration runs the new revision (RunTask)
before the service is updated, its end arrives as an ECS Task State Change through the stack's rule, its
timeout is a timer; pushes arriving meanwhile wait behind it (newest wins); afterDeploy tasks run once the
deployment COMPLETED; a manual run-task runs on the current revision."""

from __future__ import annotations

import copy
import time
from typing import Any

import boto3
import pytest

from pushdeploy.adapters.ledger import DynamoDbLedger
from pushdeploy.domain.times import describe_time
from tests.e2e.readback import service, target_report
from tests.helpers import Inbox, load_event
from tools.localaws import Delivery, LocalAws, LocalStack
from tools.sample_world import STAGING_CONFIG, World, put_target_config

pytestmark = pytest.mark.e2e

MIGRATE = ["python", "manage.py", "migrate"]
SMOKE = ["python", "manage.py", "smoke"]


def migrating(timeout_minutes: int = 15, **more: Any) -> dict[str, Any]:
    """Staging's config with a beforeDeploy migration in its api container."""
    return {
        **STAGING_CONFIG,
        "beforeDeploy": [{"container": "api", "command": MIGRATE, "timeoutMinutes": timeout_minutes}],
        **more,
    }


def push(
    local: LocalAws, stack: LocalStack, tag: str = "staging-42", at: str | None = None, seed: str = "4f"
) -> dict[str, Any]:
    """Deliver an ECR push of ``tag`` through the stack's rule; staging's report."""
    event = load_event("ecr-push.json")
    event["id"] = f"push-{tag}"
    event["detail"]["image-tag"] = tag
    event["detail"]["image-digest"] = "sha256:" + (seed * 32)[:64]
    if at is not None:
        event["time"] = at
    delivery = local.deliver(stack, event)
    [invocation] = delivery.invocations
    assert invocation.error is None, invocation.error
    return target_report(invocation.result, "staging")


def deploy_results(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """What the deploy function answered to the delivered ECS events it received (ignored ones left out)."""
    results = []
    for delivery in deliveries:
        for invocation in delivery.invocations:
            if invocation.function != "DeployFunction":
                continue
            assert invocation.error is None, invocation.error
            if invocation.result.get("status") != "IGNORED":
                results.append(invocation.result)
    return results


def statuses(inbox: Inbox) -> list[str]:
    return [received.message["status"] for received in inbox.receive()]


def test_a_migration_that_succeeds_then_updates_the_service(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging with a beforeDeploy migration
    put_target_config(session, "api", "staging", migrating())
    before = service(session, "staging")["taskDefinition"]

    # When a push arrives
    report = push(local, stack)

    # Then the new revision is registered and its migration started, but the service is not updated yet
    assert report["status"] == "PREPARING", report
    task = report["task"]
    assert task["command"] == MIGRATE and task["container"] == "api" and task["phase"] == "beforeDeploy"
    assert service(session, "staging")["taskDefinition"] == before
    registered = report["taskDefinitionArn"]
    assert registered != before
    # ...RunTask ran the new revision with the command, the service's network configuration, and tags
    described = session.client("ecs").describe_tasks(cluster="staging", tasks=[task["taskArn"]])["tasks"][0]
    assert described["taskDefinitionArn"] == registered
    assert described["startedBy"] == "pushdeploy/staging/staging-42"
    # ...the team is told, with the task's log stream
    [preparing] = inbox.receive()
    assert preparing.message["status"] == "PREPARING"
    assert preparing.message["task"]["taskArn"] == task["taskArn"]
    assert "log-events/api$252Fapi$252F" in preparing.message["task"]["logs"]
    # ...and a timer bounds it
    [timer] = local.pending_timers()
    assert timer["event"] == {
        "action": "task-timeout",
        "repository": "api",
        "target": "staging",
        "taskArn": task["taskArn"],
    }

    # When the migration exits with code 0 (its STOPPED event goes through the stack's rule)
    results = deploy_results(local.stop_task("staging", task["taskArn"], exit_code=0))

    # Then the deploy continued: the service runs the registered revision, DEPLOYING is announced
    [result] = results
    assert result["task"]["status"] == "DEPLOYING", result
    assert service(session, "staging")["taskDefinition"] == registered
    assert statuses(inbox) == ["DEPLOYING"]
    # ...and the timer is gone
    assert local.pending_timers() == []


def test_a_migration_that_exits_1_never_updates_the_service(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a push whose migration runs
    put_target_config(session, "api", "staging", migrating())
    before = service(session, "staging")["taskDefinition"]
    report = push(local, stack)
    inbox.receive()

    # When the migration exits with code 1
    [result] = deploy_results(local.stop_task("staging", report["task"]["taskArn"], exit_code=1, reason="boom"))

    # Then the deploy FAILED, naming the exit code and the reason; the service was never updated
    assert result["task"]["status"] == "FAILED"
    assert service(session, "staging")["taskDefinition"] == before
    [failed] = inbox.receive()
    message = failed.message
    assert message["status"] == "FAILED" and message["code"] == "task-failed"
    assert "exited with code 1: boom" in message["reason"]
    assert "was registered but the service was not updated" in message["reason"]
    assert message["task"]["exitCode"] == 1 and message["task"]["stoppedReason"] == "boom"
    assert message["task"]["logs"].startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/")
    # ...and the target is free: the next push deploys (its own migration first)
    assert push(local, stack, "staging-43", seed="5a")["status"] == "PREPARING"


def test_a_migration_past_its_timeout_is_stopped_and_failed(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a push whose migration (1 minute at most) runs and never ends (its STOPPED event is lost)
    put_target_config(session, "api", "staging", migrating(timeout_minutes=1))
    before = service(session, "staging")["taskDefinition"]
    report = push(local, stack)
    inbox.receive()

    # When its timer fires
    [fired] = local.fire_timers()

    # Then the task is stopped and the deploy FAILED as timed out; the service was never updated
    assert fired.error is None, fired.error
    assert fired.result["task"]["status"] == "FAILED"
    described = session.client("ecs").describe_tasks(cluster="staging", tasks=[report["task"]["taskArn"]])["tasks"]
    assert described[0]["lastStatus"] == "STOPPED"
    assert service(session, "staging")["taskDefinition"] == before
    [failed] = inbox.receive()
    assert failed.message["code"] == "task-timeout" and "timed out after 1 min" in failed.message["reason"]
    # ...and the STOPPED event StopTask caused, arriving late, changes nothing
    assert deploy_results(local.deliver_ecs_events()) == []
    assert inbox.receive() == []


def test_a_push_during_a_migration_runs_after_it(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a push whose migration runs
    put_target_config(session, "api", "staging", migrating())
    first = push(local, stack, "staging-42", at="2026-11-20T10:15:30Z", seed="4f")

    # When a newer push arrives meanwhile
    second = push(local, stack, "staging-43", at="2026-11-20T10:16:30Z", seed="5a")

    # Then it is recorded to run after the migration, not refused nor waited for
    assert second["status"] == "SKIPPED" and second["code"] == "queued", second

    # When the migration succeeds
    results = deploy_results(local.stop_task("staging", first["task"]["taskArn"], exit_code=0))

    # Then the first push is deployed, and the queued one starts its own migration
    [result] = results
    assert result["task"]["status"] == "DEPLOYING"
    [queued] = result["queued"]["targets"]
    assert queued["status"] == "PREPARING" and queued["task"]["command"] == MIGRATE


def test_of_two_pushes_during_a_migration_only_the_newest_runs(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a push whose migration runs, and two newer pushes arriving meanwhile
    put_target_config(session, "api", "staging", migrating())
    first = push(local, stack, "staging-42", at="2026-11-20T10:15:30Z", seed="4f")
    assert push(local, stack, "staging-43", at="2026-11-20T10:16:30Z", seed="5a")["code"] == "queued"
    assert push(local, stack, "staging-44", at="2026-11-20T10:17:30Z", seed="6b")["code"] == "queued"
    # ...and an older one arriving last
    late = push(local, stack, "staging-41", at="2026-11-20T10:15:00Z", seed="3c")
    assert late["code"] == "stale" and "older than tag" in late["reason"]

    # When the migration succeeds
    [result] = deploy_results(local.stop_task("staging", first["task"]["taskArn"], exit_code=0))

    # Then only the newest of the waiting pushes runs
    [queued] = result["queued"]["targets"]
    assert queued["status"] == "PREPARING"
    described = session.client("ecs").describe_tasks(cluster="staging", tasks=[queued["task"]["taskArn"]])["tasks"]
    assert described[0]["startedBy"] == "pushdeploy/staging/staging-44"
    # ...and a redelivery of the displaced push says it was skipped as stale, naming the newer tag
    again = push(local, stack, "staging-43", at="2026-11-20T10:16:30Z", seed="5a")
    assert again["status"] == "SKIPPED" and again["code"] == "stale" and "staging-44" in again["reason"]


def test_a_duplicate_or_out_of_order_task_event_changes_nothing(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a migration that succeeded and whose deploy went on
    put_target_config(session, "api", "staging", migrating())
    report = push(local, stack)
    local.stop_task("staging", report["task"]["taskArn"], exit_code=0)
    inbox.receive()
    assert local.ecs is not None
    stopped = [
        e
        for e in local.ecs.emitted
        if e["detail-type"] == "ECS Task State Change" and e["detail"]["lastStatus"] == "STOPPED"
    ][-1]
    updated = service(session, "staging")["taskDefinition"]

    # When the same STOPPED event arrives again, and then a copy claiming it failed
    failed_copy = copy.deepcopy(stopped)
    failed_copy["id"] = "another-id"
    for container in failed_copy["detail"]["containers"]:
        container["exitCode"] = 1
    results = [local.deliver(stack, stopped), local.deliver(stack, failed_copy)]

    # Then both are ignored: nothing announced, the service untouched
    for delivery in results:
        [invocation] = delivery.invocations
        assert invocation.result["status"] == "IGNORED", invocation.result
    assert inbox.receive() == []
    assert service(session, "staging")["taskDefinition"] == updated


def test_an_after_deploy_task_that_fails_rolls_the_service_back(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging with an afterDeploy smoke test that rolls back on failure, and a first deploy completed
    config = {
        **STAGING_CONFIG,
        "afterDeploy": [{"container": "api", "command": SMOKE, "timeoutMinutes": 5, "rollbackOnFailure": True}],
    }
    put_target_config(session, "api", "staging", config)
    first = push(local, stack, "staging-42", at="2026-11-20T10:15:30Z", seed="4f")
    assert first["status"] == "DEPLOYING"
    [smoke] = deploy_results(local.settle("staging", "api"))
    assert smoke["task"]["status"] == "PREPARING" and smoke["task"]["task"]["phase"] == "afterDeploy"
    local.stop_task("staging", smoke["task"]["task"]["taskArn"], exit_code=0)
    inbox.receive()

    # When a second deploy completes and its smoke test exits 2
    second = push(local, stack, "staging-43", at="2026-11-20T10:16:30Z", seed="5a")
    [smoke] = deploy_results(local.settle("staging", "api"))
    assert service(session, "staging")["taskDefinition"] == second["taskDefinitionArn"]
    [result] = deploy_results(local.stop_task("staging", smoke["task"]["task"]["taskArn"], exit_code=2))

    # Then the failure is reported FAILED after the deploy, and the service is rolled back to the first revision
    assert result["task"]["status"] == "FAILED"
    assert result["task"]["rollback"]["status"] == "DEPLOYING", result
    assert service(session, "staging")["taskDefinition"] == first["taskDefinitionArn"]
    messages = [received.message for received in inbox.receive()]
    failed = [m for m in messages if m["status"] == "FAILED"]
    assert failed and "afterDeploy[0] (python manage.py smoke) exited with code 2" in failed[0]["reason"]
    assert any(m["status"] == "DEPLOYING" and m["trigger"] == "rollback" for m in messages)


def test_a_manual_run_task_runs_on_the_current_revision(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging on its first revision, and a manual run-task request (the sample in events/)
    request = load_event("manual-run-task.json")
    current = service(session, "staging")["taskDefinition"]

    # When the deploy function is invoked with it
    delivery = local.run_event(stack, request)
    [invocation] = delivery.invocations
    assert invocation.error is None, invocation.error

    # Then the task runs the current revision with the command, and PREPARING is announced
    report = invocation.result["task"]
    assert report["status"] == "PREPARING" and report["task"]["phase"] == "run-task"
    described = session.client("ecs").describe_tasks(cluster="staging", tasks=[report["task"]["taskArn"]])["tasks"]
    assert described[0]["taskDefinitionArn"] == current
    assert [m.message["status"] for m in inbox.receive()] == ["PREPARING"]

    # When it succeeds
    [result] = deploy_results(local.stop_task("staging", report["task"]["taskArn"], exit_code=0))

    # Then COMPLETED is announced, and the service was left alone
    assert result["task"]["status"] == "COMPLETED"
    [completed] = inbox.receive()
    assert completed.message["status"] == "COMPLETED" and completed.message["task"]["exitCode"] == 0
    assert service(session, "staging")["taskDefinition"] == current


def test_a_task_the_revision_cannot_run_fails_before_anything_is_registered(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a beforeDeploy task naming a container the task definition lacks
    config = migrating()
    config["beforeDeploy"][0]["container"] = "worker"
    put_target_config(session, "api", "staging", config)
    revisions_before = session.client("ecs").list_task_definitions(familyPrefix="api-staging")["taskDefinitionArns"]

    # When a push arrives
    report = push(local, stack)

    # Then it FAILED, naming the field; nothing was registered, no task started
    assert report["status"] == "FAILED" and report["code"] == "config"
    assert "field 'beforeDeploy[0].container'" in report["reason"] and "worker" in report["reason"]
    after = session.client("ecs").list_task_definitions(familyPrefix="api-staging")["taskDefinitionArns"]
    assert after == revisions_before
    assert local.pending_timers() == []


def test_the_dry_run_lists_the_tasks_and_their_commands(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World
) -> None:
    # Given staging with a migration
    put_target_config(session, "api", "staging", migrating())
    event = load_event("ecr-push.json")
    event["dryRun"] = True

    # When a push is run as a dry run
    [invocation] = local.run_event(stack, event).invocations

    # Then the plan shows the migration between registering and updating, with its command
    report = target_report(invocation.result, "staging")
    assert report["status"] == "PLANNED"
    steps = [(step["step"], step["description"]) for step in report["steps"]]
    assert [kind for kind, _ in steps] == ["register", "run-task", "update-service"]
    assert "python manage.py migrate" in steps[1][1]


def test_the_event_again_finishes_a_deploy_whose_first_continuation_failed(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a migration whose STOPPED event's first invocation ended the task in the ledger, then failed (the
    # claim still the task's, the service not updated)
    put_target_config(session, "api", "staging", migrating())
    report = push(local, stack)
    inbox.receive()
    task_arn = report["task"]["taskArn"]
    ledger = DynamoDbLedger(session.client("dynamodb"), stack.outputs["DeployTableName"])
    assert ledger.end_task("api", "staging", task_arn, succeeded=True) is not None

    # When the event arrives again (Lambda's retry of it)
    [result] = deploy_results(local.stop_task("staging", task_arn, exit_code=0))

    # Then the deploy is finished: the service updated, DEPLOYING announced
    assert result["task"]["status"] == "DEPLOYING", result
    assert service(session, "staging")["taskDefinition"] == report["taskDefinitionArn"]
    assert statuses(inbox) == ["DEPLOYING"]


def test_a_push_made_before_a_manual_run_task_but_delivered_during_it_is_queued_not_stale(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given a manual run-task running on staging's current revision
    [invocation] = local.run_event(stack, load_event("manual-run-task.json")).invocations
    task_arn = invocation.result["task"]["task"]["taskArn"]

    # When a push made a little before the request is delivered now (EventBridge delivers within seconds)
    pushed = push(local, stack, "staging-43", at=describe_time(time.time() - 5), seed="5a")

    # Then it is queued behind the task, not skipped as older than the task (a run-task is not a push)
    assert pushed["status"] == "SKIPPED" and pushed["code"] == "queued", pushed

    # When the task ends, the queued push deploys
    [result] = deploy_results(local.stop_task("staging", task_arn, exit_code=0))
    [queued] = result["queued"]["targets"]
    assert queued["status"] == "DEPLOYING", queued
