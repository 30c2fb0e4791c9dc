"""A deployment's outcome without AWS: what each ECS event means, the outcome's notification, the tracker
through in-memory ports, and the warning the DEPLOYING notification carries when no outcome may ever come."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.outcome import (
    ALLOWED_BEFORE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    DeploymentEvent,
    Outcome,
    outcome_of,
    outcome_reason,
    render_outcome,
)
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.times import parse_time
from pushdeploy.usecases.deploy import deploy_warnings
from pushdeploy.usecases.track import Tracker
from tests.fakes import FakePublisher, InMemoryLedger

SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/staging/api"
DEPLOYMENT = "ecs-svc/4937285106452937241"
ROLLBACK_DEPLOYMENT = "ecs-svc/8274619302846192375"
PUSHED_AT = parse_time("2026-11-20T10:15:30Z")
NOW = parse_time("2026-11-20T10:30:00Z")
CIRCUIT_BREAKER = "ECS deployment circuit breaker: task failed to start."
ROLLING_BACK = f"ECS deployment circuit breaker: rolling back to deploymentId {DEPLOYMENT}."


def event(
    name: str, deployment_id: str = DEPLOYMENT, reason: str = "", at: str = "2026-11-20T10:19:12.512Z"
) -> DeploymentEvent:
    return DeploymentEvent(
        event_name=name, deployment_id=deployment_id, service_arn=SERVICE_ARN, reason=reason, updated_at=parse_time(at)
    )


def started_message() -> dict[str, Any]:
    """The DEPLOYING message a deploy published (and stored with its history item)."""
    return {
        "schemaVersion": 1,
        "status": "DEPLOYING",
        "repository": "api",
        "tag": "staging-42",
        "digest": "sha256:" + "4f" * 32,
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "4f" * 32,
        "target": "staging",
        "cluster": "staging",
        "service": "api",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:2",
        "previousTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:1",
        "deploymentId": DEPLOYMENT,
        "changes": [],
        "trigger": "push",
        "eventId": "5c1f9d2e-8d0c-4a35-9f6c-2c8e0a1b7d11",
        "time": "2026-11-20T10:15:35Z",
        "warnings": ["service api has neither the deployment circuit breaker nor CloudWatch alarm rollback"],
    }


# --- what an event means ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "is_rollback", "expected"),
    [
        (IN_PROGRESS, False, None),
        (COMPLETED, False, Outcome.COMPLETED),
        (FAILED, False, Outcome.FAILED),
        (IN_PROGRESS, True, None),
        (COMPLETED, True, Outcome.ROLLED_BACK),
        (FAILED, True, Outcome.ROLLBACK_FAILED),
        ("SERVICE_DEPLOYMENT_SOMETHING_NEW", False, None),
    ],
)
def test_outcome_of_each_event(name: str, is_rollback: bool, expected: Outcome | None) -> None:
    # Given an ECS deployment event, of our deployment or of ECS's rollback of it
    # When its outcome is read
    # Then COMPLETED of a rollback deployment is ROLLED_BACK, never success; IN_PROGRESS is no outcome
    assert outcome_of(name, is_rollback_deployment=is_rollback) is expected


@pytest.mark.parametrize(
    ("name", "reason", "expected"),
    [
        (IN_PROGRESS, ROLLING_BACK, True),
        (IN_PROGRESS, "ECS deployment circuit breaker: Rolling Back to deploymentId ecs-svc/1.", True),
        (IN_PROGRESS, f"ECS deployment {DEPLOYMENT} in progress.", False),
        (COMPLETED, ROLLING_BACK, False),
        (FAILED, ROLLING_BACK, False),
    ],
)
def test_only_an_in_progress_that_says_rolling_back_starts_a_rollback(name: str, reason: str, expected: bool) -> None:
    # Given an ECS deployment event with a reason
    # When asked whether it starts a rollback
    # Then only IN_PROGRESS saying "rolling back" (any case) does
    assert event(name, reason=reason).starts_a_rollback is expected


def test_which_status_each_outcome_may_follow() -> None:
    # Given the outcome rules
    # Then COMPLETED and FAILED follow DEPLOYING only; ROLLED_BACK and a failed rollback may also follow FAILED
    expected = {
        Outcome.COMPLETED: frozenset({"DEPLOYING"}),
        Outcome.FAILED: frozenset({"DEPLOYING"}),
        Outcome.ROLLED_BACK: frozenset({"DEPLOYING", "FAILED"}),
        Outcome.ROLLBACK_FAILED: frozenset({"DEPLOYING", "FAILED"}),
    }
    assert expected == ALLOWED_BEFORE


def test_reasons_given_for_each_outcome() -> None:
    # Given the events of each outcome
    failed = event(FAILED, reason=CIRCUIT_BREAKER)
    rolled_back = event(COMPLETED, ROLLBACK_DEPLOYMENT, reason=f"ECS deployment {ROLLBACK_DEPLOYMENT} completed.")

    # When the reasons are worded
    # Then a completion needs none; a failure gives ECS's reason (or says ECS reported it)
    assert outcome_reason(Outcome.COMPLETED, event(COMPLETED), is_rollback_deployment=False) is None
    assert outcome_reason(Outcome.FAILED, failed, is_rollback_deployment=False) == CIRCUIT_BREAKER
    assert outcome_reason(Outcome.FAILED, event(FAILED), is_rollback_deployment=False) == (
        "ECS reported the deployment failed"
    )
    # And a rollback names ECS's rollback deployment, and the failure before it when known
    with_failure = outcome_reason(
        Outcome.ROLLED_BACK, rolled_back, is_rollback_deployment=True, failure=CIRCUIT_BREAKER
    )
    without_failure = outcome_reason(Outcome.ROLLED_BACK, rolled_back, is_rollback_deployment=True)
    assert with_failure is not None
    assert without_failure is not None
    assert CIRCUIT_BREAKER in with_failure
    assert ROLLBACK_DEPLOYMENT in with_failure
    assert ROLLBACK_DEPLOYMENT in without_failure
    # And a failed rollback says both failed
    failed_rollback = event(FAILED, ROLLBACK_DEPLOYMENT, reason="tasks failed to start")
    assert outcome_reason(Outcome.ROLLBACK_FAILED, failed_rollback, is_rollback_deployment=True) == (
        "the deployment failed and so did ECS's rollback of it: tasks failed to start"
    )
    assert outcome_reason(
        Outcome.ROLLBACK_FAILED, failed_rollback, is_rollback_deployment=True, failure=CIRCUIT_BREAKER
    ) == (f"the deployment failed ({CIRCUIT_BREAKER}) and so did ECS's rollback of it: tasks failed to start")
    # And it is announced as FAILED (the schema's status)
    assert Outcome.ROLLBACK_FAILED.published == "FAILED"


def test_outcome_notification_is_the_deploying_one_with_the_outcome() -> None:
    # Given the DEPLOYING message, with its warnings
    started = {**started_message(), "reason": "an earlier reason"}

    # When the FAILED outcome is rendered 222.512 s after the push
    notification = render_outcome(
        started, Outcome.FAILED, reason=CIRCUIT_BREAKER, duration_seconds=222.512, time="2026-11-20T10:30:00Z"
    )

    # Then it keeps what the deploy said, with the outcome's status, reason, time and rounded duration
    message = notification.message
    expected = {
        **started_message(),
        "status": "FAILED",
        "reason": CIRCUIT_BREAKER,
        "durationSeconds": 222.5,
        "time": "2026-11-20T10:30:00Z",
    }
    # And the warnings (about the deploy) are not repeated
    del expected["warnings"]
    assert message == expected
    assert notification.subject == "pushdeploy FAILED: api:staging-42 to staging (staging/api)"
    assert notification.attributes["status"] == "FAILED"


def test_outcome_notification_without_reason_or_duration_has_neither() -> None:
    # Given the DEPLOYING message, which gave a reason
    started = {**started_message(), "reason": "manual redeploy"}

    # When COMPLETED is rendered without a reason or duration
    notification = render_outcome(started, Outcome.COMPLETED, reason=None, duration_seconds=None, time="t")

    # Then neither appears
    assert "reason" not in notification.message
    assert "durationSeconds" not in notification.message
    assert started["status"] == "DEPLOYING"  # the message it started from is untouched


# --- the tracker, through in-memory ports ----------------------------------------------------------------


def tracked(
    *, notification: dict[str, Any] | None = None, pushed_at: float | None = PUSHED_AT
) -> tuple[Tracker, InMemoryLedger, FakePublisher]:
    """A tracker whose ledger holds one deploy of staging, DEPLOYING as ``DEPLOYMENT``."""
    ledger = InMemoryLedger()
    ledger.add_history(deploying_item(notification=notification, pushed_at=pushed_at))
    publisher = FakePublisher()
    return Tracker(ledger=ledger, publisher=publisher, clock=lambda: NOW), ledger, publisher


def deploying_item(*, notification: dict[str, Any] | None = None, pushed_at: float | None = PUSHED_AT) -> HistoryItem:
    """The history item of staging-42's deploy, DEPLOYING as ``DEPLOYMENT``."""
    return HistoryItem(
        repository="api",
        target="staging",
        tag="staging-42",
        digest="sha256:" + "4f" * 32,
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "4f" * 32,
        trigger="push",
        status="DEPLOYING",
        cluster="staging",
        service="api",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:2",
        previous_task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:1",
        deployment_id=DEPLOYMENT,
        event_id="5c1f9d2e-8d0c-4a35-9f6c-2c8e0a1b7d11",
        pushed_at=pushed_at or 0.0,  # the ledger reads a push time it does not have as 0
        recorded_at=parse_time("2026-11-20T10:15:35Z"),
        service_arn=SERVICE_ARN,
        notification=json.dumps(notification) if notification is not None else None,
    )


def statuses(publisher: FakePublisher) -> list[str]:
    return [notification.message["status"] for notification in publisher.published]


def test_tracker_announces_a_completed_deployment_once() -> None:
    # Given staging-42 is deploying
    tracker, ledger, publisher = tracked(notification=started_message())

    # When ECS says it completed, twice
    first = tracker.track(event(COMPLETED))
    second = tracker.track(event(COMPLETED))

    # Then it is announced COMPLETED once, with the time from the push; the duplicate is ignored
    assert first == {"status": "COMPLETED", "deploymentId": DEPLOYMENT, "reason": None}
    assert second["status"] == "IGNORED"
    assert statuses(publisher) == ["COMPLETED"]
    assert publisher.published[0].message["durationSeconds"] == 222.5
    assert publisher.published[0].message["time"] == "2026-11-20T10:30:00Z"
    [item] = ledger.history_of("api", "staging")
    assert (item.status, item.finished_at, item.duration_seconds) == ("COMPLETED", "2026-11-20T10:19:12Z", 222.5)


def test_tracker_ignores_in_progress_and_deployments_it_did_not_start() -> None:
    # Given staging-42 is deploying
    tracker, ledger, publisher = tracked(notification=started_message())

    # When ECS reports our deployment in progress, and another deployment completed
    in_progress = tracker.track(event(IN_PROGRESS))
    other = tracker.track(event(COMPLETED, "ecs-svc/1111"))

    # Then both are ignored, saying why; nothing is published or changed
    assert in_progress == {"status": "IGNORED", "reason": f"{IN_PROGRESS} of {DEPLOYMENT}: not an outcome"}
    assert other["status"] == "IGNORED"
    assert other["reason"].startswith("deployment ecs-svc/1111 was not started by pushdeploy")
    assert publisher.published == []
    assert ledger.history_of("api", "staging")[0].status == "DEPLOYING"


def test_tracker_builds_the_message_from_the_record_when_no_notification_was_stored() -> None:
    # Given a deploy recorded without its DEPLOYING message
    tracker, _, publisher = tracked(notification=None)

    # When it fails
    tracker.track(event(FAILED, reason=CIRCUIT_BREAKER))

    # Then the FAILED notification still names the image, target and revisions
    [notification] = publisher.published
    message = notification.message
    assert (message["status"], message["reason"]) == ("FAILED", CIRCUIT_BREAKER)
    assert (message["repository"], message["tag"], message["target"]) == ("api", "staging-42", "staging")
    assert message["taskDefinitionArn"].endswith("api-staging:2")
    assert message["deploymentId"] == DEPLOYMENT


@pytest.mark.parametrize(
    ("pushed_at", "expected"),
    [pytest.param(None, None, id="push-time-unknown"), pytest.param(NOW + 3600, 0.0, id="clock-skew")],
)
def test_tracker_duration_is_left_out_when_unknown_and_never_negative(
    pushed_at: float | None, expected: float | None
) -> None:
    # Given a deploy whose push time is unknown, or later than ECS's event (clocks differ)
    tracker, _, publisher = tracked(notification=started_message(), pushed_at=pushed_at)

    # When it completes
    tracker.track(event(COMPLETED))

    # Then the duration is left out, or zero
    assert publisher.published[0].message.get("durationSeconds") == expected


def test_tracker_follows_a_circuit_breaker_rollback_to_rolled_back() -> None:
    # Given staging-42 is deploying
    tracker, ledger, publisher = tracked(notification=started_message())

    # When the circuit breaker fails it, and ECS starts and completes a rollback deployment
    failed = tracker.track(event(FAILED, reason=CIRCUIT_BREAKER))
    linked = tracker.track(event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, reason=ROLLING_BACK))
    rolled_back = tracker.track(event(COMPLETED, ROLLBACK_DEPLOYMENT, at="2026-11-20T10:24:47.512Z"))

    # Then FAILED, then ROLLED_BACK (naming the failure) are announced for our deployment; never COMPLETED
    assert failed["status"] == "FAILED"
    assert linked == {"status": "ROLLING_BACK", "deploymentId": DEPLOYMENT, "rollbackDeploymentId": ROLLBACK_DEPLOYMENT}
    assert (rolled_back["status"], rolled_back["deploymentId"]) == ("ROLLED_BACK", DEPLOYMENT)
    assert statuses(publisher) == ["FAILED", "ROLLED_BACK"]
    reason = publisher.published[1].message["reason"]
    assert CIRCUIT_BREAKER in reason
    assert ROLLBACK_DEPLOYMENT in reason
    assert ledger.history_of("api", "staging")[0].status == "ROLLED_BACK"


def test_tracker_ignores_a_rollback_of_a_deployment_it_no_longer_knows() -> None:
    # Given ECS's rollback deployment was linked to a deployment whose record is gone (expired)
    tracker, ledger, publisher = tracked(notification=started_message())
    ledger.link_rollback(ROLLBACK_DEPLOYMENT, "ecs-svc/2222", NOW + 86400)

    # When the rollback completes
    result = tracker.track(event(COMPLETED, ROLLBACK_DEPLOYMENT))

    # Then it is ignored, saying which deployment is unknown
    assert result == {
        "status": "IGNORED",
        "reason": f"deployment ecs-svc/2222, rolled back by {ROLLBACK_DEPLOYMENT}, is not known",
    }
    assert publisher.published == []


def test_tracker_ignores_a_rollback_on_a_service_it_never_deployed() -> None:
    # Given pushdeploy deployed nothing on another service
    tracker, _, publisher = tracked(notification=started_message())
    rollback = DeploymentEvent(
        IN_PROGRESS, ROLLBACK_DEPLOYMENT, SERVICE_ARN.replace("staging/api", "staging/web"), ROLLING_BACK, NOW
    )

    # When ECS rolls a deployment of it back
    # Then it is ignored
    assert tracker.track(rollback)["status"] == "IGNORED"
    assert publisher.published == []


def test_a_failed_rollback_after_the_failure_is_announced() -> None:
    # Given staging-42 failed and ECS started rolling it back
    tracker, _, publisher = tracked(notification=started_message())
    tracker.track(event(FAILED, reason=CIRCUIT_BREAKER))
    tracker.track(event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, reason=ROLLING_BACK))

    # When the rollback deployment fails too
    tracker.track(event(FAILED, ROLLBACK_DEPLOYMENT, reason="tasks failed to start"))

    # Then the team is told the rollback failed as well (the service may have no healthy tasks)
    assert len(publisher.published) == 2
    assert "so did ECS's rollback" in publisher.published[1].message["reason"]


# --- the warning on the DEPLOYING notification -----------------------------------------------------------


def service(*, circuit_breaker: bool = False, rollback_alarms: bool = False) -> ServiceState:
    return ServiceState(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/staging",
        status="ACTIVE",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:1",
        circuit_breaker=circuit_breaker,
        rollback_alarms=rollback_alarms,
    )


@pytest.mark.parametrize(
    ("circuit_breaker", "rollback_alarms"),
    [pytest.param(True, False, id="circuit-breaker"), pytest.param(False, True, id="alarms"), (True, True)],
)
def test_no_warning_when_ecs_detects_a_failing_deployment(circuit_breaker: bool, rollback_alarms: bool) -> None:
    # Given a service with the circuit breaker or CloudWatch alarm rollback
    # When the deploy's warnings are worked out
    # Then there are none
    assert deploy_warnings(service(circuit_breaker=circuit_breaker, rollback_alarms=rollback_alarms)) == ()


def test_warning_when_nothing_detects_a_failing_deployment() -> None:
    # Given a service with neither
    # When the deploy's warnings are worked out
    [warning] = deploy_warnings(service())

    # Then one warning names the service and says no FAILED outcome would come
    assert warning.startswith("service api has neither the deployment circuit breaker nor CloudWatch alarm rollback")
    assert "no FAILED outcome will be reported" in warning


def test_an_outcome_whose_publish_failed_is_announced_by_the_retry() -> None:
    # Given staging-42 is deploying, and SNS refuses the first publish of its outcome
    tracker, _, publisher = tracked(notification=started_message())
    publisher.error = AwsCallError("sns:Publish", "InternalError", "try again")

    # When ECS says it completed: the tracker raises, so that Lambda retries the event
    with pytest.raises(AwsCallError):
        tracker.track(event(COMPLETED))
    publisher.error = None

    # And the retry comes, then a duplicate
    retried = tracker.track(event(COMPLETED))
    duplicate = tracker.track(event(COMPLETED))

    # Then the outcome recorded by the first attempt is announced once, by the retry, as recorded
    assert retried == {"status": "COMPLETED", "deploymentId": DEPLOYMENT, "reason": None}
    assert duplicate["status"] == "IGNORED"
    assert statuses(publisher) == ["COMPLETED"]
    assert publisher.published[0].message["durationSeconds"] == 222.5
