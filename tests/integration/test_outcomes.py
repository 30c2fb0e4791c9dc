"""The outcome of a deploy, from ECS deployment state-change events delivered to the tracker function.

moto does not roll deployments forward, so each test delivers the ECS events (the samples in ``events/``)
itself, with the deployment id the deploy recorded. moto keeps one deployment id per service across
UpdateService calls; every test here deploys the service once, so that does not matter.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from pushdeploy import wiring
from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.times import parse_time
from tests.helpers import Inbox, LambdaContext, Received, load_event, load_function
from tools.sample_world import World

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
Track = Callable[[dict[str, Any]], dict[str, Any]]

PUSH = load_event("ecr-push.json")
PUSHED_AT = parse_time(PUSH["time"])
STAGING_SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/staging/api"
# ECS's own deployment that rolls ours back: pushdeploy did not start it, so the sample's id stays.
ROLLBACK_DEPLOYMENT_ID = load_event("ecs-deployment-rollback-in-progress.json")["detail"]["deploymentId"]
NO_DETECTION_WARNING = "has neither the deployment circuit breaker nor CloudWatch alarm rollback"

# Events that end without a metric (refused) make powertools warn that it has none to publish.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def track(world: World) -> Iterator[Track]:
    """The tracker function's handler, wired to the world's table and topic."""
    wiring.reset()
    app = load_function("track")

    def run(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.handler(event, LambdaContext(function_name="pushdeploy-TrackFunction"))
        return result

    yield run
    wiring.reset()


@pytest.fixture
def deployment_id(world: World, inbox: Inbox, invoke: Invoke) -> str:
    """staging-42 pushed and being deployed; its DEPLOYING notification already read from the inbox."""
    result = invoke(copy.deepcopy(PUSH))
    staging = target(result, "staging")
    assert staging["status"] == "DEPLOYING"
    assert [received.message["status"] for received in inbox.receive()] == ["DEPLOYING"]
    return str(staging["deploymentId"])


def ecs_event(name: str, deployment_id: str | None = None) -> dict[str, Any]:
    """An ECS deployment sample, about ``deployment_id`` when given (else the sample's own id)."""
    event = copy.deepcopy(load_event(name))
    if deployment_id is not None:
        event["detail"]["deploymentId"] = deployment_id
    return event


def target(result: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [report for report in result["targets"] if report["target"] == name]
    assert len(found) == 1, f"target {name} not in {result['targets']}"
    return found[0]


def history_items(session: boto3.Session, repository: str = "api", name: str = "staging") -> list[dict[str, Any]]:
    """The target's history items, as stored (read straight from the table, not through the ledger)."""
    response = session.client("dynamodb").query(
        TableName=os.environ["TABLE_NAME"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :deploy)",
        ExpressionAttributeValues={":pk": {"S": f"TARGET#{repository}#{name}"}, ":deploy": {"S": "DEPLOY#"}},
    )
    deserializer = TypeDeserializer()
    return [{key: deserializer.deserialize(value) for key, value in item.items()} for item in response["Items"]]


def statuses(received: list[Received]) -> list[str]:
    return [item.message["status"] for item in received]


# --- a deployment that completes -----------------------------------------------------------------------


def test_in_progress_of_our_deployment_is_not_an_outcome(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str
) -> None:
    # Given staging-42 is being deployed
    # When ECS says the deployment is in progress
    result = track(ecs_event("ecs-deployment-in-progress.json", deployment_id))

    # Then it is ignored: nothing is published and the deploy is still DEPLOYING
    assert result == {
        "status": "IGNORED",
        "reason": f"SERVICE_DEPLOYMENT_IN_PROGRESS of {deployment_id}: not an outcome",
    }
    assert inbox.receive() == []
    assert [item["status"] for item in history_items(session)] == ["DEPLOYING"]


def test_completed_deployment_is_announced_once_with_the_time_from_push(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str
) -> None:
    # Given staging-42 is being deployed
    event = ecs_event("ecs-deployment-completed.json", deployment_id)

    # When ECS says the deployment completed
    result = track(event)

    # Then one COMPLETED notification says how long it took from the push (updatedAt - the push event's time)
    duration = round(parse_time(event["detail"]["updatedAt"]) - PUSHED_AT, 1)
    assert duration == 222.5
    assert result == {"status": "COMPLETED", "deploymentId": deployment_id, "reason": None}
    received = inbox.receive()
    assert statuses(received) == ["COMPLETED"]
    message = received[0].message
    assert message["durationSeconds"] == duration
    assert (message["repository"], message["tag"], message["target"]) == ("api", "staging-42", "staging")
    assert message["deploymentId"] == deployment_id
    assert message["taskDefinitionArn"].endswith(":task-definition/api-staging:2")
    # And the DEPLOYING message's warnings are not repeated on the outcome
    assert "warnings" not in message
    assert "reason" not in message
    assert received[0].subject == "pushdeploy COMPLETED: api:staging-42 to staging (staging/api)"
    assert received[0].attributes["status"] == "COMPLETED"
    # And the history item is COMPLETED, with when it finished and how long it took
    [item] = history_items(session)
    assert item["status"] == "COMPLETED"
    assert item["finishedAt"] == "2026-11-20T10:19:12Z"
    assert float(item["durationSeconds"]) == duration


def test_a_duplicate_completed_event_changes_nothing(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str
) -> None:
    # Given staging-42's deployment was announced COMPLETED
    event = ecs_event("ecs-deployment-completed.json", deployment_id)
    track(event)
    inbox.receive()
    before = history_items(session)

    # When the same event arrives again (EventBridge delivers at least once)
    result = track(event)

    # Then it is ignored: nothing is published and the history item is unchanged
    assert result["status"] == "IGNORED"
    assert "already past COMPLETED" in result["reason"]
    assert inbox.receive() == []
    assert history_items(session) == before


# --- a deployment that fails ---------------------------------------------------------------------------


def test_failed_deployment_is_announced_with_the_reason(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str
) -> None:
    # Given staging-42 is being deployed
    event = ecs_event("ecs-deployment-failed.json", deployment_id)

    # When ECS's circuit breaker fails the deployment
    result = track(event)

    # Then one FAILED notification carries ECS's reason and the time from the push
    reason = "ECS deployment circuit breaker: task failed to start."
    assert result == {"status": "FAILED", "deploymentId": deployment_id, "reason": reason}
    received = inbox.receive()
    assert statuses(received) == ["FAILED"]
    assert received[0].message["reason"] == reason
    assert received[0].message["durationSeconds"] == round(parse_time(event["detail"]["updatedAt"]) - PUSHED_AT, 1)
    assert received[0].subject == "pushdeploy FAILED: api:staging-42 to staging (staging/api)"
    [item] = history_items(session)
    assert (item["status"], item["reason"]) == ("FAILED", reason)


def test_circuit_breaker_rollback_ends_rolled_back_never_completed(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str
) -> None:
    # Given staging-42 is being deployed
    # When the circuit breaker fails it, ECS starts a rollback deployment (a new id) and completes that
    failed = track(ecs_event("ecs-deployment-failed.json", deployment_id))
    rolling_back = track(ecs_event("ecs-deployment-rollback-in-progress.json"))
    rolled_back = track(ecs_event("ecs-deployment-rollback-completed.json"))

    # Then the deploy is FAILED, then ROLLED_BACK; the rollback's COMPLETED is never announced as success
    assert failed["status"] == "FAILED"
    assert rolling_back == {
        "status": "ROLLING_BACK",
        "deploymentId": deployment_id,
        "rollbackDeploymentId": ROLLBACK_DEPLOYMENT_ID,
    }
    assert (rolled_back["status"], rolled_back["deploymentId"]) == ("ROLLED_BACK", deployment_id)
    received = inbox.receive()
    assert statuses(received) == ["FAILED", "ROLLED_BACK"]
    message = received[1].message
    assert message["deploymentId"] == deployment_id
    # And the ROLLED_BACK reason names the failure and ECS's rollback deployment
    assert message["reason"].startswith("ECS rolled the deployment back")
    assert "ECS deployment circuit breaker: task failed to start." in message["reason"]
    assert ROLLBACK_DEPLOYMENT_ID in message["reason"]
    assert received[1].subject == "pushdeploy ROLLED_BACK: api:staging-42 to staging (staging/api)"
    assert [item["status"] for item in history_items(session)] == ["ROLLED_BACK"]


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(("failed", "rollback-in-progress", "rollback-completed"), id="as-sent"),
        pytest.param(("rollback-in-progress", "failed", "rollback-completed"), id="failed-second"),
        pytest.param(("rollback-in-progress", "rollback-completed", "failed"), id="failed-last"),
    ],
)
def test_rollback_events_in_any_order_end_rolled_back(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str, order: tuple[str, ...]
) -> None:
    # Given staging-42 is being deployed, and ECS's events of its circuit-breaker rollback
    events = {
        "failed": ecs_event("ecs-deployment-failed.json", deployment_id),
        "rollback-in-progress": ecs_event("ecs-deployment-rollback-in-progress.json"),
        "rollback-completed": ecs_event("ecs-deployment-rollback-completed.json"),
    }

    # When they arrive in this order (EventBridge does not keep order), each delivered twice
    for name in order:
        track(events[name])
        track(events[name])

    # Then the deploy ends ROLLED_BACK, announced once; never COMPLETED, and no FAILED after ROLLED_BACK
    published = statuses(inbox.receive())
    assert published.count("ROLLED_BACK") == 1
    assert "COMPLETED" not in published
    assert "FAILED" not in published[published.index("ROLLED_BACK") :]
    assert published in (["FAILED", "ROLLED_BACK"], ["ROLLED_BACK"])
    assert [item["status"] for item in history_items(session)] == ["ROLLED_BACK"]


def test_rollback_completed_before_its_in_progress_still_ends_rolled_back(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str
) -> None:
    # Given staging-42 failed and ECS rolled it back; the tracker's first try at the rollback's IN_PROGRESS
    # failed (throttled, say) and Lambda retries it a minute later, after the rollback's COMPLETED
    track(ecs_event("ecs-deployment-failed.json", deployment_id))
    track(ecs_event("ecs-deployment-rollback-completed.json"))

    # When the retried IN_PROGRESS finally arrives
    track(ecs_event("ecs-deployment-rollback-in-progress.json"))

    # Then the deploy still ends ROLLED_BACK
    assert statuses(inbox.receive()) == ["FAILED", "ROLLED_BACK"]
    assert [item["status"] for item in history_items(session)] == ["ROLLED_BACK"]


def test_after_a_rollback_the_image_is_no_longer_called_deployed(
    session: boto3.Session, inbox: Inbox, invoke: Invoke, track: Track, deployment_id: str
) -> None:
    # Given staging-42's deployment failed and ECS rolled it back
    for event in (
        ecs_event("ecs-deployment-failed.json", deployment_id),
        ecs_event("ecs-deployment-rollback-in-progress.json"),
        ecs_event("ecs-deployment-rollback-completed.json"),
    ):
        track(event)
    inbox.receive()

    # When the same image is pushed again under another tag (the team fixed what made it fail)
    result = invoke(load_event("ecr-push-second-tag.json"))

    # Then staging is not skipped as "already deployed": it is not running
    staging = target(result, "staging")
    assert not (staging["status"] == "SKIPPED" and "is already deployed" in staging["reason"]), staging


# --- events that are not about our deployments ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ecs-deployment-in-progress.json",
        "ecs-deployment-completed.json",
        "ecs-deployment-failed.json",
        "ecs-deployment-rollback-completed.json",
    ],
)
def test_event_of_a_deployment_pushdeploy_did_not_start_is_ignored(
    session: boto3.Session, inbox: Inbox, track: Track, deployment_id: str, name: str
) -> None:
    # Given staging-42 is being deployed (deployment_id), and an event about another deployment of the service
    event = ecs_event(name)
    assert event["detail"]["deploymentId"] != deployment_id

    # When it arrives
    result = track(event)

    # Then it is ignored; nothing is published and the deploy is untouched
    assert result["status"] == "IGNORED"
    assert result["reason"].startswith(f"deployment {event['detail']['deploymentId']} was not started by pushdeploy")
    assert inbox.receive() == []
    assert [item["status"] for item in history_items(session)] == ["DEPLOYING"]


def test_rollback_of_a_service_pushdeploy_never_deployed_is_ignored(world: World, inbox: Inbox, track: Track) -> None:
    # Given nothing was deployed by pushdeploy
    # When ECS rolls a deployment of the staging service back
    result = track(ecs_event("ecs-deployment-rollback-in-progress.json"))

    # Then it is ignored, and nothing is published
    assert result == {
        "status": "IGNORED",
        "reason": f"deployment {ROLLBACK_DEPLOYMENT_ID} is of a service pushdeploy has not deployed",
    }
    assert inbox.receive() == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(load_event("ecr-push.json"), "not an ECS deployment state change: aws.ecr / ECR Image Action"),
        pytest.param(
            {**load_event("ecs-deployment-completed.json"), "detail-type": "ECS Service Action"},
            "not an ECS deployment state change: aws.ecs / ECS Service Action",
        ),
    ],
)
def test_tracker_ignores_events_that_are_not_deployment_state_changes(
    world: World, inbox: Inbox, track: Track, event: dict[str, Any], reason: str
) -> None:
    # Given an EventBridge event of another kind
    # When the tracker receives it
    result = track(copy.deepcopy(event))

    # Then it is ignored with the reason, and nothing is published
    assert result == {"status": "IGNORED", "reason": reason}
    assert inbox.receive() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"deploymentId": None}, "field 'detail.deploymentId' must be ecs-svc/<number>", id="no-id"),
        pytest.param({"deploymentId": "svc/12"}, "field 'detail.deploymentId' must be ecs-svc/<number>", id="bad-id"),
        pytest.param({"eventName": ""}, "field 'detail.eventName' is missing", id="no-event-name"),
        pytest.param({"updatedAt": "yesterday"}, "field 'detail.updatedAt' must be an ISO 8601 time", id="bad-time"),
    ],
)
def test_tracker_refuses_a_malformed_deployment_event(
    world: World, inbox: Inbox, track: Track, change: dict[str, Any], message: str
) -> None:
    # Given an ECS Deployment State Change with one bad detail field
    event = ecs_event("ecs-deployment-completed.json")
    event["detail"].update(change)

    # When the tracker receives it
    # Then it is refused naming the field, and nothing is published
    with pytest.raises(InvalidEventError, match=message):
        track(event)
    assert inbox.receive() == []


def test_tracker_refuses_an_event_that_is_not_from_eventbridge(world: World, track: Track) -> None:
    # Given a manual request sent to the tracker by mistake
    # When the tracker receives it
    # Then it is refused, saying what the tracker takes
    with pytest.raises(InvalidEventError, match="the tracker takes EventBridge 'ECS Deployment State Change' events"):
        track(load_event("manual-rollback.json"))


# --- the warning on the DEPLOYING notification ---------------------------------------------------------


def test_deploying_notification_warns_when_failure_cannot_be_detected(
    world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given the staging service (moto keeps no deploymentConfiguration: no circuit breaker, no alarms)
    # When staging-42 is pushed
    result = invoke(copy.deepcopy(PUSH))

    # Then the DEPLOYING notification (and the result) warn that no FAILED outcome would ever come
    [received] = inbox.receive()
    assert received.message["status"] == "DEPLOYING"
    [warning] = received.message["warnings"]
    assert warning.startswith(f"service api {NO_DETECTION_WARNING}")
    assert "no FAILED outcome will be reported" in warning
    assert target(result, "staging")["warnings"] == [warning]
