"""Approvals without AWS: the tracker announces a pause (ECS Hook State Change) as AWAITING_APPROVAL, the
console's approve/reject answers it (ContinueServiceDeployment) and the outcome says who decided; a timeout
says so; Slack's button requests are checked with real HMACs (bad signature, old timestamp, replay, unknown
user). Over tests/fakes.py's ledger, with the approval methods added by a subclass here."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from email.message import Message
from typing import Any
from urllib.parse import urlencode

import pytest

from pushdeploy.adapters.webhook import RetryPolicy, WebhookClient
from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.outcome import COMPLETED, IN_PROGRESS, ApprovalState, DeploymentEvent, HookEvent
from pushdeploy.domain.records import HistoryItem, history_item
from pushdeploy.domain.requests import ApprovalRequest
from pushdeploy.domain.service import PausedHook, ServiceDeploymentState
from pushdeploy.domain.slack import SLACK
from pushdeploy.domain.slack_actions import slack_signature
from pushdeploy.domain.strategy import ApprovalError
from pushdeploy.domain.times import parse_time
from pushdeploy.events import parse_approval_request
from pushdeploy.usecases.approvals import Approvals, SlackApprovals
from pushdeploy.usecases.track import Tracker
from tests.fakes import FakeConfigs, FakePublisher, InMemoryLedger
from tests.unit.builders import SERVICE_ARN, deploying_report

NOW = parse_time("2026-11-20T10:30:00Z")
RECORDED_AT = parse_time("2026-11-20T10:15:35Z")
DEPLOYMENT = deploying_report().deployment_id or ""
ROLLBACK_DEPLOYMENT = "ecs-svc/8274619302846192375"
SD_ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/staging/api/Abc123xyZ_7890"
HOOK = "pre_production_traffic_shift-0-5"
SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
APPROVAL = {"stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "timeoutMinutes": 120, "onTimeout": "ROLLBACK"}
CONFIG = json.dumps(
    {
        "cluster": "staging",
        "service": "api",
        "tags": ["staging-*"],
        "deployment": {"strategy": "CANARY", "circuitBreaker": {"enable": False}},
        "approval": {**APPROVAL, "approvers": ["U0123ABCD"]},
    }
)


class ApprovingLedger(InMemoryLedger):
    """InMemoryLedger with ApprovalLedger: the pause and the answer on the deployment's record and history
    item (both, as DynamoDbLedger writes them in one transaction), one-time request keys."""

    def __init__(self) -> None:
        super().__init__()
        self.request_keys: set[str] = set()

    def record_pause(self, deploy: HistoryItem, deployment_id: str, approval: ApprovalState) -> bool:
        if deploy.hook_id == approval.hook_id:
            return False
        return self._change(
            deployment_id,
            approval_stage=approval.stage,
            hook_id=approval.hook_id,
            service_deployment_arn=approval.service_deployment_arn,
            approval_expires_at=approval.expires_at,
        )

    def record_decision(self, deploy: HistoryItem, deployment_id: str, approval: ApprovalState) -> bool:
        record = self.deployments[deployment_id].deploy
        if record is None or record.hook_id != approval.hook_id or record.decided_hook_id == approval.hook_id:
            return False
        return self._change(
            deployment_id,
            decision=approval.decision,
            decided_by=approval.decided_by,
            decided_at=approval.decided_at,
            decided_hook_id=approval.hook_id,
        )

    def claim_request(self, key: str, expires_at: float) -> bool:
        if key in self.request_keys:
            return False
        self.request_keys.add(key)
        return True

    def _change(self, deployment_id: str, **fields: Any) -> bool:
        record = self.deployments[deployment_id]
        assert record.deploy is not None
        moved = replace(record.deploy, **fields)
        self.deployments[deployment_id] = replace(record, deploy=moved)
        items = self.items[(moved.repository, moved.target)]
        key = next(key for key, item in items.items() if item.deployment_id == deployment_id)
        items[key] = replace(items[key], **fields)
        return True


@dataclass
class PausingEcs:
    """DeploymentControl: one service deployment paused at HOOK until answered."""

    paused: bool = True
    status: str = "IN_PROGRESS"
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def update_service_configured(self, *args: Any) -> str | None:
        raise AssertionError("not a deploy")

    def describe_service_deployment(self, service_deployment_arn: str) -> ServiceDeploymentState | None:
        hooks = (PausedHook(HOOK, NOW + 3600, "ROLLBACK"),) if self.paused else ()
        return ServiceDeploymentState(service_deployment_arn, self.status, "PRODUCTION_TRAFFIC_SHIFT", hooks)

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> None:
        self.calls.append((service_deployment_arn, hook_id, action))
        self.paused = False


@dataclass
class World:
    ledger: ApprovingLedger
    publisher: FakePublisher
    tracker: Tracker
    ecs: PausingEcs
    approvals: Approvals
    clock: list[float]


def world() -> World:
    ledger, publisher, ecs = ApprovingLedger(), FakePublisher(), PausingEcs()
    clock = [NOW]
    report = replace(
        deploying_report(), extra={"strategy": "CANARY", "earliestCompletionMinutes": 10, "approval": APPROVAL}
    )
    message = render_notification(report, time="2026-11-20T10:15:35Z").message
    ledger.add_history(
        history_item(report, recorded_at=RECORDED_AT, service_arn=SERVICE_ARN, notification=json.dumps(message))
    )
    tracker = Tracker(ledger=ledger, publisher=publisher, clock=lambda: clock[0], approvals=ledger)
    approvals = Approvals(
        configs=FakeConfigs({"/pushdeploy/api/staging": CONFIG}),
        ledger=ledger,
        approvals=ledger,
        control=ecs,
        clock=lambda: clock[0],
    )
    return World(ledger, publisher, tracker, ecs, approvals, clock)


def pause(expires_at: float = NOW + 7200) -> HookEvent:
    return HookEvent(
        "HOOK_AWAITING_ACTION",
        SERVICE_ARN,
        SD_ARN,
        HOOK,
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        expires_at,
        NOW - 60,
        DEPLOYMENT,
    )


def ecs_event(name: str, deployment_id: str = DEPLOYMENT, reason: str = "", at: float = NOW + 600) -> DeploymentEvent:
    return DeploymentEvent(name, deployment_id, SERVICE_ARN, reason, at)


def test_a_pause_of_our_deployment_is_announced_once_as_awaiting_approval() -> None:
    # Given a canary deploy of ours, When ECS pauses it at its PAUSE hook (and the event comes twice)
    w = world()
    first = w.tracker.track(pause())
    second = w.tracker.track(pause())
    # Then AWAITING_APPROVAL is published once, with the stage, the deadline and how to answer
    assert first["status"] == "AWAITING_APPROVAL" and second["status"] == "IGNORED"
    assert w.publisher.statuses == ["AWAITING_APPROVAL"]
    approval = w.publisher.published[0].message["approval"]
    assert approval["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    assert approval["deadline"] == "2026-11-20T12:30:00Z"
    assert approval["approve"] == {
        "action": "approve",
        "repository": "api",
        "target": "staging",
        "requestedBy": "<your name>",
    }


def test_approved_from_the_console_then_completed_says_who_approved() -> None:
    # Given a paused deploy
    w = world()
    w.tracker.track(pause())
    # When alice approves it from the console
    result = w.approvals.decide(ApprovalRequest("api", "staging", "approve", "alice"))
    # Then ECS is told to continue that hook, and the history keeps the decision
    assert w.ecs.calls == [(SD_ARN, HOOK, "CONTINUE")]
    assert result["status"] == "APPROVED" and result["decidedBy"] == "alice"
    history = w.ledger.history_of("api", "staging")[0].as_result()
    assert (history["decision"], history["decidedBy"]) == ("approved", "alice")
    # And when the deployment completes, the notification says who approved it and when
    w.tracker.track(ecs_event(COMPLETED))
    completed = w.publisher.published[-1].message
    assert completed["status"] == "COMPLETED"
    assert completed["reason"] == "approved by alice at 2026-11-20T10:30:00Z (at PRE_PRODUCTION_TRAFFIC_SHIFT)"
    assert completed["approval"]["decision"] == "approved"


def test_rejected_then_rolled_back_says_who_rejected() -> None:
    # Given a paused deploy that bob rejects
    w = world()
    w.tracker.track(pause())
    w.approvals.decide(ApprovalRequest("api", "staging", "reject", "bob"))
    assert w.ecs.calls == [(SD_ARN, HOOK, "ROLLBACK")]
    # When ECS rolls it back (a rollback deployment, then its COMPLETED)
    rolling_back = f"ECS deployment rollback: rolling back to deploymentId {DEPLOYMENT}."
    w.tracker.track(ecs_event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, rolling_back))
    w.tracker.track(ecs_event(COMPLETED, ROLLBACK_DEPLOYMENT))
    # Then ROLLED_BACK says bob rejected it, at which stage
    rolled_back = w.publisher.published[-1].message
    assert rolled_back["status"] == "ROLLED_BACK"
    assert "rejected by bob at 2026-11-20T10:30:00Z (at PRE_PRODUCTION_TRAFFIC_SHIFT)" in rolled_back["reason"]


def test_a_pause_that_times_out_is_reported_as_such() -> None:
    # Given a paused deploy nobody answers, When ECS rolls it back after the deadline
    w = world()
    w.tracker.track(pause(expires_at=NOW + 60))
    w.clock[0] = NOW + 120
    rolling_back = f"ECS deployment rollback: rolling back to deploymentId {DEPLOYMENT}."
    w.tracker.track(ecs_event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, rolling_back, at=NOW + 61))
    w.tracker.track(ecs_event(COMPLETED, ROLLBACK_DEPLOYMENT, at=NOW + 100))
    # Then ROLLED_BACK says the approval timed out and ECS rolled it back
    message = w.publisher.published[-1].message
    assert (
        "the approval at PRE_PRODUCTION_TRAFFIC_SHIFT timed out at 2026-11-20T10:31:00Z: ECS rolled it back"
        in (message["reason"])
    )
    assert message["approval"]["decision"] == "timed-out"


def test_nothing_awaiting_is_a_clear_error_and_no_call() -> None:
    # Given a deploy that has not paused
    w = world()
    # When someone approves it, Then the error says so and ECS is not called
    with pytest.raises(ApprovalError, match="has not paused for approval"):
        w.approvals.decide(ApprovalRequest("api", "staging", "approve", "alice"))
    # And once answered, a second answer finds nothing awaiting either
    w.tracker.track(pause())
    w.approvals.decide(ApprovalRequest("api", "staging", "approve", "alice"))
    with pytest.raises(ApprovalError, match="nothing awaits approval"):
        w.approvals.decide(ApprovalRequest("api", "staging", "reject", "bob"))
    assert len(w.ecs.calls) == 1


def test_a_pause_ecs_no_longer_holds_is_not_answered() -> None:
    # Given the tracker noted a pause that ECS has since timed out
    w = world()
    w.tracker.track(pause())
    w.ecs.paused = False
    # Then approving it says nothing awaits, without calling ContinueServiceDeployment
    with pytest.raises(ApprovalError, match="no longer awaiting action"):
        w.approvals.decide(ApprovalRequest("api", "staging", "approve", "alice"))
    assert w.ecs.calls == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "approve", "repository": "api", "target": "prod"}, "'requestedBy' must name who decides"),
        ({"action": "reject", "repository": "api", "target": "prod", "requestedBy": "a", "tag": "v1"}, "unknown field"),
        ({"action": "approve", "repository": "API!", "target": "prod", "requestedBy": "a"}, "field 'repository'"),
    ],
)
def test_console_approval_requests_are_checked(event: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        parse_approval_request(event)


def test_console_approval_request_from_the_sample_events() -> None:
    from tests.helpers import load_event  # noqa: PLC0415

    approve = parse_approval_request(load_event("manual-approve.json"))
    reject = parse_approval_request(load_event("manual-reject.json"))
    assert approve == ApprovalRequest("api", "prod", "approve", "alice")
    assert reject is not None and reject.action == "ROLLBACK"
    assert parse_approval_request(load_event("manual-history.json")) is None


# -- Slack -------------------------------------------------------------------------------------------------


RESPONSE_URL = "https://hooks.slack.com/actions/T0123ABCD/1234567890123/r3sp0ns3T0k3nXyZ"


class RecordingOpener(urllib.request.OpenerDirector):
    """The webhook client's opener: answers every POST with Slack's 200 "ok", and keeps what was posted."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.posted: list[tuple[str, dict[str, Any]]] = []

    def open(self, fullurl: Any, data: Any = None, timeout: float | None = None) -> Any:
        assert isinstance(fullurl, urllib.request.Request) and isinstance(fullurl.data, bytes)
        self.posted.append((fullurl.full_url, json.loads(fullurl.data)))
        if self.status >= 400:
            raise urllib.error.HTTPError(fullurl.full_url, self.status, "error", Message(), io.BytesIO(b"no_service"))
        answer = io.BytesIO(b"ok")
        answer.status = self.status  # type: ignore[attr-defined]  # urllib's responses carry one
        return answer


def slack_body(
    user: str = "U0123ABCD", action: str = "pushdeploy-approve", hook: str = HOOK, response_url: Any = RESPONSE_URL
) -> str:
    value = json.dumps({"repository": "api", "target": "staging", "hookId": hook})
    payload = {
        "type": "block_actions",
        "response_url": response_url,
        "user": {"id": user, "username": "alice"},
        "actions": [{"action_id": action, "value": value}],
        "message": {
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "awaits approval"}},
                {"type": "actions", "elements": [{"type": "button", "action_id": "pushdeploy-approve"}]},
            ]
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def signed(body: str, at: float, secret: bytes = SECRET) -> dict[str, str]:
    timestamp = str(int(at))
    return {"x-slack-request-timestamp": timestamp, "x-slack-signature": slack_signature(secret, timestamp, body)}


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record's message and fields (powertools' extras are record attributes)."""
    return "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)


def slack(w: World, opener: RecordingOpener | None = None) -> SlackApprovals:
    """The Slack use case over the world, posting with the generic webhook client through ``opener``."""
    poster = WebhookClient(SLACK, RetryPolicy(max_attempts=1), opener=opener or RecordingOpener())
    return SlackApprovals(
        approvals=w.approvals, ledger=w.ledger, signing_secret=lambda: SECRET, poster=poster, clock=lambda: w.clock[0]
    )


def test_slack_approve_from_an_approver_posts_the_updated_message_to_the_response_url() -> None:
    # Given a paused deploy, When an approver clicks Approve (a request signed with the app's secret)
    w = world()
    w.tracker.track(pause())
    body = slack_body()
    opener = RecordingOpener()
    status, answer = slack(w, opener).handle(signed(body, NOW - 10), body)
    # Then ECS continues
    assert status == 200
    assert w.ecs.calls == [(SD_ARN, HOOK, "CONTINUE")]
    # And the message without its buttons, saying who approved, is POSTed to the request's response_url
    [(url, posted)] = opener.posted
    assert url == RESPONSE_URL
    assert posted["replace_original"] is True
    assert [block["type"] for block in posted["blocks"]] == ["section", "section"]
    assert "approved by slack:alice (U0123ABCD)" in posted["blocks"][-1]["text"]["text"]
    assert "approved by slack:alice (U0123ABCD)" in posted["text"]
    # And the HTTP answer (which Slack ignores) is the same message
    assert answer == posted


def test_a_refusal_after_the_signature_check_is_posted_to_the_clicking_user_only() -> None:
    # Given a paused deploy, When a Slack user who is not an approver clicks Approve
    w = world()
    w.tracker.track(pause())
    body = slack_body(user="U9999ZZZZ")
    opener = RecordingOpener()
    status, _ = slack(w, opener).handle(signed(body, NOW), body)
    # Then nothing is answered, and an ephemeral refusal leaves the message as it was
    assert status == 403 and w.ecs.calls == []
    [(_, posted)] = opener.posted
    assert (posted["response_type"], posted["replace_original"]) == ("ephemeral", False)
    assert "not an approver" in posted["text"]


@pytest.mark.parametrize(
    "response_url",
    [
        "https://hooks.slack.com.evil.example/actions/T0/1/tok3nXyZ",
        "http://hooks.slack.com/actions/T0/1/tok3nXyZ",
        "https://evil.example/actions/T0/1/tok3nXyZ",
        "https://hooks.slack.com:8443/actions/T0/1/tok3nXyZ",
        "http://127.0.0.1:8080/actions/T0/1/tok3nXyZ",
        42,
        None,
    ],
)
def test_a_response_url_that_is_not_slacks_is_refused_before_anything_is_done(
    response_url: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a paused deploy, When an approver's correctly signed request names another response_url
    w = world()
    w.tracker.track(pause())
    body = slack_body(response_url=response_url)
    opener = RecordingOpener()
    status, answer = slack(w, opener).handle(signed(body, NOW), body)
    # Then it is refused (400): ECS is not called, nothing is posted, the pause still awaits its answer
    assert status == 400
    assert "response_url" in answer["error"]
    assert w.ecs.calls == [] and opener.posted == []
    assert w.ledger.history_of("api", "staging")[0].approval is not None
    assert w.ledger.history_of("api", "staging")[0].approval.awaiting  # type: ignore[union-attr]
    # And the URL is neither in the answer nor in the logs
    logged = everything_logged(caplog)
    assert "Slack request refused" in logged
    for shown in (json.dumps(answer), logged):
        assert "tok3nXyZ" not in shown and "evil.example" not in shown


def test_the_response_url_is_never_logged_even_when_slack_refuses_the_post(caplog: pytest.LogCaptureFixture) -> None:
    # Given a paused deploy, and Slack refusing the update (the response_url expired)
    w = world()
    w.tracker.track(pause())
    body = slack_body()
    opener = RecordingOpener(status=404)
    # When an approver clicks Approve
    status, answer = slack(w, opener).handle(signed(body, NOW), body)
    # Then the decision stands (ECS continued), the answer is the updated message all the same
    assert status == 200 and w.ecs.calls == [(SD_ARN, HOOK, "CONTINUE")]
    assert answer["replace_original"] is True and len(opener.posted) == 1
    # And the failed post is logged, without the URL or any part of its path
    logged = everything_logged(caplog)
    assert "Slack message not updated" in logged
    assert "HTTP 404" in logged
    for part in (RESPONSE_URL, "r3sp0ns3T0k3nXyZ", "/actions/"):
        assert part not in logged


def test_slack_reject_rolls_back() -> None:
    w = world()
    w.tracker.track(pause())
    body = slack_body(action="pushdeploy-reject")
    status, _ = slack(w).handle(signed(body, NOW), body)
    assert status == 200 and w.ecs.calls == [(SD_ARN, HOOK, "ROLLBACK")]


@pytest.mark.parametrize(
    ("case", "expected"),
    [("bad-signature", 401), ("old-timestamp", 401), ("unsigned", 401), ("unknown-user", 403)],
)
def test_slack_requests_that_are_refused_change_nothing(case: str, expected: int) -> None:
    # Given a paused deploy
    w = world()
    w.tracker.track(pause())
    body = slack_body(user="U9999ZZZZ" if case == "unknown-user" else "U0123ABCD")
    headers = {
        "bad-signature": signed(body, NOW, secret=b"not-the-secret"),
        "old-timestamp": signed(body, NOW - 301),
        "unsigned": {},
        "unknown-user": signed(body, NOW),
    }[case]
    # When the request comes, Then it is refused and ECS is not called
    opener = RecordingOpener()
    status, answer = slack(w, opener).handle(headers, body)
    assert status == expected
    assert w.ecs.calls == []
    # And an unverified request's response_url is never posted to
    assert len(opener.posted) == (1 if case == "unknown-user" else 0)
    assert SECRET.decode() not in json.dumps(answer)


def test_a_replayed_slack_request_is_refused() -> None:
    # Given a request that was answered
    w = world()
    w.tracker.track(pause())
    body = slack_body()
    headers = signed(body, NOW)
    assert slack(w).handle(headers, body)[0] == 200
    # When the same signed request comes again (within the 5 minutes), Then it is refused as a replay
    status, answer = slack(w).handle(headers, body)
    assert (status, answer["error"]) == (401, "this request was received before (a replay)")
    assert len(w.ecs.calls) == 1


def test_the_signature_is_slacks_documented_hmac() -> None:
    # Slack's documented example (api.slack.com "Verifying requests from Slack")
    secret = b"8f742231b10e8888abcd99yyyzzz85a5"
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert slack_signature(secret, "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )
    assert time.time() > 1531420618
