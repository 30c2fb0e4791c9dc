"""The webhook notifier's routing and failure handling, with in-memory fakes (no network, no AWS)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import SNSEvent

from pushdeploy.domain.errors import AwsCallError, DeployError
from pushdeploy.domain.slack import (
    SLACK,
    render_slack,
)
from pushdeploy.domain.webhook import (
    Delivery,
    WebhookNotFoundError,
    WebhookRejectedError,
    WebhookUnavailableError,
)
from pushdeploy.usecases.notify import NotifyError, WebhookNotifier
from tests.helpers import notification_schema
from tests.unit.builders import ACCOUNT, REGION
from tests.unit.notification_records import (
    PATH,
    TEAM_A_WEBHOOK,
    WEBHOOK,
    records,
)

# --- The use case, with in-memory fakes ---------------------------------------------------------------------


@dataclass
class FakeWebhooks:
    """Webhook parameters in memory; ``rotated`` is what a re-read returns."""

    urls: dict[str, str]
    rotated: dict[str, str] = field(default_factory=dict)
    reads: list[tuple[str, bool]] = field(default_factory=list)

    def parameter_for(self, name: str) -> str:
        return f"{PATH}/{name}"

    def url_for(self, name: str, *, refresh: bool = False) -> str:
        self.reads.append((name, refresh))
        if refresh and name in self.rotated:
            return self.rotated[name]
        if name not in self.urls:
            raise WebhookNotFoundError(self.parameter_for(name), SLACK)
        return self.urls[name]


@dataclass
class FakePoster:
    """Records posts; ``answers`` maps a URL to the error it raises."""

    answers: dict[str, DeployError] = field(default_factory=dict)
    posts: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    def post(self, url: str, payload: Mapping[str, Any], *, deadline: float) -> Delivery:
        self.posts.append((url, dict(payload), deadline))
        if url in self.answers:
            raise self.answers[url]
        return Delivery(attempts=1, seconds=0.01)


def sns_event(*bodies: str) -> SNSEvent:
    """The Lambda event of an SNS subscription carrying ``bodies``."""
    return SNSEvent(
        {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:pushdeploy:sub",
                    "Sns": {"Type": "Notification", "MessageId": f"msg-{index}", "Message": body},
                }
                for index, body in enumerate(bodies)
            ]
        }
    )


def notifier(webhooks: FakeWebhooks, poster: FakePoster, **options: Any) -> WebhookNotifier:
    return WebhookNotifier(channel=SLACK, webhooks=webhooks, poster=poster, clock=lambda: 1000.0, **options)


@pytest.fixture
def webhooks() -> FakeWebhooks:
    return FakeWebhooks({"default": WEBHOOK, "team-a": TEAM_A_WEBHOOK})


def test_routes_each_record_to_its_webhook(webhooks: FakeWebhooks) -> None:
    # Given two records, one for a target with its own webhook
    poster = FakePoster()
    team_a = {**records()["COMPLETED"], "slackWebhook": "team-a"}
    notification_schema().validate(team_a)
    event = sns_event(json.dumps(records()["DEPLOYING"]), json.dumps(team_a))

    # When they are notified
    result = notifier(webhooks, poster).notify(event, remaining_ms=60_000)

    # Then each went to its channel, with its rendered payload
    assert [(url, payload) for url, payload, _ in poster.posts] == [
        (WEBHOOK, render_slack(records()["DEPLOYING"])),
        (TEAM_A_WEBHOOK, render_slack(team_a)),
    ]
    # And the result names the parameters, never the URLs
    assert [post["webhook"] for post in result["posted"]] == [f"{PATH}/default", f"{PATH}/team-a"]
    assert "hooks.slack.com" not in json.dumps(result)


def test_deadline_leaves_a_margin(webhooks: FakeWebhooks) -> None:
    # Given a minute left, and then only four seconds left
    poster = FakePoster()
    body = json.dumps(records()["DEPLOYING"])

    # When notified
    notifier(webhooks, poster, margin_seconds=5).notify(sns_event(body), remaining_ms=60_000)
    notifier(webhooks, poster, margin_seconds=5).notify(sns_event(body), remaining_ms=4_000)

    # Then retries end five seconds before the function would time out, or half-way when that is too little
    assert [deadline for _, _, deadline in poster.posts] == [1055.0, 1002.0]


def test_one_failure_does_not_stop_the_others_and_raises_after_all(webhooks: FakeWebhooks) -> None:
    # Given three records: one for an unknown webhook, one that is not a record, one fine
    poster = FakePoster()
    unknown = {**records()["FAILED"], "slackWebhook": "team-z"}
    event = sns_event(json.dumps(unknown), '{"hello": "world"}', json.dumps(records()["COMPLETED"]))

    # When they are notified
    with pytest.raises(NotifyError) as raised:
        notifier(webhooks, poster).notify(event, remaining_ms=60_000)

    # Then the good one was posted
    assert [url for url, _, _ in poster.posts] == [WEBHOOK]
    # And the error names both failures: the missing parameter and the problem with the record
    error = raised.value
    assert "2 of 3 Slack notification(s) not posted" in str(error)
    assert f"Slack webhook parameter {PATH}/team-z not found in Parameter Store" in str(error)
    assert "FAILED of api:staging-42 to staging" in str(error)
    assert "record 2 (SNS message msg-1): the SNS message is not a pushdeploy notification" in str(error)
    assert "missing key(s) schemaVersion" in str(error)
    # And neither failure may pass by retrying
    assert not error.retryable


def test_a_retryable_failure_makes_the_error_retryable(webhooks: FakeWebhooks) -> None:
    # Given Slack unavailable for the default channel, and a permanent refusal for team-a
    poster = FakePoster(
        {
            WEBHOOK: WebhookUnavailableError(3, 50.0, "HTTP 503 'down'", "Slack"),
            TEAM_A_WEBHOOK: WebhookRejectedError(400, "bad", SLACK),
        }
    )
    team_a = {**records()["COMPLETED"], "slackWebhook": "team-a"}
    event = sns_event(json.dumps(records()["DEPLOYING"]), json.dumps(team_a))

    # When notified
    with pytest.raises(NotifyError) as raised:
        notifier(webhooks, poster).notify(event, remaining_ms=60_000)

    # Then both were tried, and the error is retryable (a later attempt may deliver the first)
    assert len(poster.posts) == 2
    assert raised.value.retryable
    assert isinstance(raised.value.__cause__, WebhookUnavailableError)


def test_parameter_store_failure_is_retryable(webhooks: FakeWebhooks) -> None:
    # Given Parameter Store throttles
    class Throttled(FakeWebhooks):
        def url_for(self, name: str, *, refresh: bool = False) -> str:
            raise AwsCallError("ssm:GetParameter", "ThrottlingException", "Rate exceeded")

    # When notified
    with pytest.raises(NotifyError) as raised:
        notifier(Throttled({}), FakePoster()).notify(sns_event(json.dumps(records()["FAILED"])), remaining_ms=60_000)

    # Then the error is retryable and says what failed
    assert raised.value.retryable
    assert "ssm:GetParameter failed: ThrottlingException" in str(raised.value)


def test_a_replaced_webhook_is_read_again_once(webhooks: FakeWebhooks) -> None:
    # Given the cached URL was revoked (404) and the parameter now holds a new one
    new_url = "https://hooks.slack.com/services/T0PUSHDPL/B0DEFAULT/NewTokenAfterRotation"
    webhooks.rotated["default"] = new_url
    poster = FakePoster({WEBHOOK: WebhookRejectedError(404, "no_service", SLACK)})

    # When notified
    notifier(webhooks, poster).notify(sns_event(json.dumps(records()["DEPLOYING"])), remaining_ms=60_000)

    # Then the parameter was re-read and the message posted to the new URL
    assert webhooks.reads == [("default", False), ("default", True)]
    assert [url for url, _, _ in poster.posts] == [WEBHOOK, new_url]


def test_a_revoked_webhook_that_was_not_replaced_fails_for_good(webhooks: FakeWebhooks) -> None:
    # Given the URL was revoked and the parameter still holds it
    poster = FakePoster({WEBHOOK: WebhookRejectedError(403, "invalid_token", SLACK)})

    # When notified
    with pytest.raises(NotifyError) as raised:
        notifier(webhooks, poster).notify(sns_event(json.dumps(records()["DEPLOYING"])), remaining_ms=60_000)

    # Then it was posted once, and the error is permanent and says what to do
    assert len(poster.posts) == 1
    assert not raised.value.retryable
    assert "HTTP 403 'invalid_token' (the webhook's token was revoked" in str(raised.value)


def test_a_parameter_holding_another_url_is_refused_before_posting(webhooks: FakeWebhooks) -> None:
    # Given the default parameter holds a URL that is not Slack's
    webhooks.urls["default"] = "https://example.com/collect/Xy9TokenThatIsSecret"
    poster = FakePoster()

    # When notified
    with pytest.raises(NotifyError) as raised:
        notifier(webhooks, poster).notify(sns_event(json.dumps(records()["DEPLOYING"])), remaining_ms=60_000)

    # Then nothing was posted, and the error names the parameter and not the URL
    assert poster.posts == []
    assert f"Slack webhook parameter {PATH}/default is not usable" in str(raised.value)
    assert "Xy9TokenThatIsSecret" not in str(raised.value)


def test_an_event_without_records_is_ignored(webhooks: FakeWebhooks) -> None:
    # Given an event that is not from SNS
    poster = FakePoster()

    # When notified
    result = notifier(webhooks, poster).notify(SNSEvent({"source": "aws.events"}), remaining_ms=60_000)

    # Then nothing happens and the result says why
    assert result == {"status": "IGNORED", "reason": "not an SNS event (no Records)"}
    assert poster.posts == []


def test_a_record_without_its_sns_part_is_an_error(webhooks: FakeWebhooks) -> None:
    # Given an SNS event whose record lost its Sns part
    event = SNSEvent({"Records": [{"EventSource": "aws:sns"}]})

    # When notified
    with pytest.raises(NotifyError, match=r"record 1: the SNS record is malformed \(KeyError"):
        notifier(webhooks, FakePoster()).notify(event, remaining_ms=60_000)


def test_the_notifiers_region_links_a_record_that_names_none(webhooks: FakeWebhooks) -> None:
    # Given a SKIPPED record naming a cluster and a service but no Region and no revision
    poster = FakePoster()
    record = records()["SKIPPED"]
    assert "region" not in record

    # When a notifier running in the stack's Region posts it
    notifier(webhooks, poster, region=REGION).notify(sns_event(json.dumps(record)), remaining_ms=60_000)

    # Then the payload is Slack's rendering with that Region: it links to the service
    (_, payload, _), *_ = poster.posts
    assert payload == render_slack(record, region=REGION)
    assert "clusters/main/services/api-prod/health?region=us-east-1" in json.dumps(payload)
