"""The Slack notifier function against a real HTTP server on loopback playing the incoming webhook, with its
webhook URLs as SecureString parameters in in-process moto, and SNS events made by real publishes."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest

from pushdeploy import wiring
from pushdeploy.adapters.sns import SnsPublisher
from pushdeploy.adapters.webhook import RetryPolicy
from pushdeploy.domain.channels import STATUS_MARKERS
from pushdeploy.domain.messages import Notification, attributes_for, subject_for
from pushdeploy.domain.slack import render_slack
from pushdeploy.usecases.notify import NotifyError
from tests.helpers import LambdaContext, load_event, load_function, notification_schema
from tests.unit.builders import REGION
from tests.unit.notification_records import records
from tools.sample_world import SECRET_VALUE, STAGING_CONFIG, World, put_target_config

WEBHOOK_PATH = "/pushdeploy-slack"
DEFAULT_TOKEN = "DefaultTokenNeverLogged0001"
TEAM_A_TOKEN = "TeamATokenNeverLogged0002"
# Fast retries for tests, injected: the production defaults (1 s base, 5 s timeout) stay as they are.
FAST = RetryPolicy(timeout=0.3, base_delay=0.02, max_delay=0.1, max_attempts=50)

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

# An invocation that raises publishes no metric, and powertools warns that it has none.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


# --- The webhook: a real HTTP server on 127.0.0.1 -----------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """How the webhook answers one POST."""

    status: int = 200
    body: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """A POST the webhook received."""

    path: str
    content_type: str
    payload: dict[str, Any]
    at: float
    status: int


@dataclass
class WebhookServer:
    """An incoming webhook on loopback: records every POST, answers from a script (then 200 "ok")."""

    script: list[Reply] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookServer:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with webhook.lock:
                    reply = webhook.script.pop(0) if webhook.script else Reply()
                    webhook.received.append(
                        Received(
                            path=self.path,
                            content_type=self.headers.get("Content-Type", ""),
                            payload=json.loads(body),
                            at=time.monotonic(),
                            status=reply.status,
                        )
                    )
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(reply.body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the slow-server test)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # http.server logs each request line to stderr: that line holds the webhook's path

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def url(self, token: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T0PUSHDPL/B0WEBHOOK/{token}"

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """What Slack would have shown: the payloads answered with a 2xx."""
        return [item.payload for item in self.received if 200 <= item.status < 300]


@pytest.fixture
def default_channel() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
def team_a_channel() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


# --- moto: the webhook parameters, a topic and the function --------------------------------------------------


@pytest.fixture
def webhooks(
    session: boto3.Session,
    default_channel: WebhookServer,
    team_a_channel: WebhookServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The two channels' URLs as SecureString parameters under the path, and the function's environment."""
    ssm = session.client("ssm")
    urls = {"default": default_channel.url(DEFAULT_TOKEN), "team-a": team_a_channel.url(TEAM_A_TOKEN)}
    for name, url in urls.items():
        ssm.put_parameter(Name=f"{WEBHOOK_PATH}/{name}", Value=url, Type="SecureString")
    monkeypatch.setenv("SLACK_WEBHOOK_PATH", WEBHOOK_PATH)
    monkeypatch.setenv("WEBHOOK_CACHE_SECONDS", "300")
    monkeypatch.setenv("SLACK_ALLOW_LOOPBACK", "true")
    wiring.reset()
    yield urls
    wiring.reset()


@pytest.fixture
def app(webhooks: dict[str, str]) -> ModuleType:
    return load_function("notify_slack")


@pytest.fixture
def fast_retries(webhooks: dict[str, str]) -> None:
    """The function wired as in production, but with the webhook client's delays made small."""
    wiring.reset(wiring.Seams(webhook_retries=FAST))


@dataclass
class Context(LambdaContext):
    """A Lambda context whose remaining time the test chooses."""

    function_name: str = "pushdeploy-SlackNotifyFunction"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Topic:
    """The deploy topic with an SQS subscriber whose envelopes become the function's SNS events."""

    session: boto3.Session
    arn: str
    queue_url: str = ""

    def subscribe(self) -> Topic:
        sqs = self.session.client("sqs")
        self.queue_url = sqs.create_queue(QueueName=f"slack-envelopes-{id(self)}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.session.client("sns").subscribe(
            TopicArn=self.arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"}
        )
        return self

    def publish(self, *messages: dict[str, Any]) -> dict[str, Any]:
        """Publish each record as pushdeploy does (one body per protocol) and return the Lambda SNS event."""
        publisher = SnsPublisher(self.session.client("sns"), self.arn)
        for message in messages:
            notification_schema().validate(message)
            publisher.publish(Notification(subject_for(message), message, attributes_for(message)))
        return self.event()

    def event(self) -> dict[str, Any]:
        """What SNS would hand the function: each envelope the queue received, in the Lambda event's shape."""
        sqs = self.session.client("sqs")
        envelopes: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                envelopes.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return {"Records": [lambda_record(envelope) for envelope in envelopes]}


def lambda_record(envelope: dict[str, Any]) -> dict[str, Any]:
    """An SNS envelope (as SQS receives it, RawMessageDelivery false) in the Lambda event's shape."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{envelope['TopicArn']}:slack-notify",
        "Sns": {
            "Type": envelope["Type"],
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": {
                name: {"Type": value["Type"], "Value": value["Value"]}
                for name, value in envelope.get("MessageAttributes", {}).items()
            },
        },
    }


@pytest.fixture
def topic(session: boto3.Session) -> Topic:
    return Topic(session, session.client("sns").create_topic(Name="pushdeploy-slack-test")["TopicArn"]).subscribe()


# --- Nothing of a webhook URL reaches a log ------------------------------------------------------------------


@pytest.fixture
def logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, app: ModuleType
) -> Iterator[io.StringIO]:
    """Everything logged during the test, at DEBUG (powertools' JSON lines, botocore, stdout, stderr);
    checked at the end of every test that uses it: no webhook token anywhere."""
    buffer = io.StringIO()
    handlers = [
        handler for handler in logging.getLogger("pushdeploy").handlers if isinstance(handler, logging.StreamHandler)
    ]
    assert handlers, "the function's Logger has no stream handler"
    previous = [(handler, handler.setStream(buffer), handler.level) for handler in handlers]
    logging.getLogger("pushdeploy").setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield buffer
    captured = capsys.readouterr()
    everything = "\n".join(
        [buffer.getvalue(), captured.out, captured.err]
        + [json.dumps(r.__dict__, default=str) for phase in ("setup", "call") for r in caplog.get_records(phase)]
    )
    for handler, stream, _ in previous:
        if stream is not None:
            handler.setStream(stream)
    # The check below proves something only if the function's logs and botocore's DEBUG lines were captured.
    assert "Posted to Slack" in everything or "Slack notification not posted" in everything
    assert "Response body" in everything
    for secret in (DEFAULT_TOKEN, TEAM_A_TOKEN, "/services/T0PUSHDPL"):
        assert secret not in everything, f"{secret} reached the logs"


def assert_url_free(error: BaseException) -> None:
    """Neither the error's text nor its whole traceback (causes included) quotes a webhook URL."""
    text = "".join(traceback.format_exception(error))
    for secret in (DEFAULT_TOKEN, TEAM_A_TOKEN, "/services/T0PUSHDPL", "127.0.0.1"):
        assert secret not in text, f"{secret} is in the error"


# --- Posting ---------------------------------------------------------------------------------------------


def test_posts_every_status_to_the_default_channel(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, team_a_channel: WebhookServer, logs: io.StringIO
) -> None:
    # Given one published record of each status, none naming its own webhook
    event = topic.publish(*records().values())

    # When the function receives the SNS event (wired from its environment, as in Lambda)
    result = app.handler(event, Context())

    # Then each was posted once, as JSON, to the default channel's path, with its Block Kit payload
    assert result["status"] == "POSTED"
    assert [post["status"] for post in result["posted"]] == list(records())
    assert [item.path for item in default_channel.received] == ["/services/T0PUSHDPL/B0WEBHOOK/" + DEFAULT_TOKEN] * len(
        records()
    )
    assert {item.content_type for item in default_channel.received} == {"application/json; charset=utf-8"}
    assert default_channel.payloads == [render_slack(record, region=REGION) for record in records().values()]
    assert team_a_channel.received == []
    # And each payload leads with its status's marker and names the image and the target
    for payload, status in zip(default_channel.payloads, records(), strict=True):
        assert payload["text"].startswith(f"{STATUS_MARKERS[status]} api:staging-42 ")
        assert payload["blocks"][0]["text"]["text"].startswith(STATUS_MARKERS[status])
    # And the log says where each went by parameter name
    assert f'"webhook":"{WEBHOOK_PATH}/default"' in logs.getvalue().replace(" ", "")


def test_a_target_with_its_own_webhook_goes_to_its_channel(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, team_a_channel: WebhookServer, logs: io.StringIO
) -> None:
    # Given two records in one event: one for a target whose config names webhook "team-a"
    team_a = {**records()["COMPLETED"], "target": "payments", "slackWebhook": "team-a"}
    event = topic.publish(records()["FAILED"], team_a)
    assert len(event["Records"]) == 2

    # When the function receives them
    result = app.handler(event, Context())

    # Then team-a's went to team-a's server, the other to the default one
    assert team_a_channel.payloads == [render_slack(team_a, region=REGION)]
    assert default_channel.payloads == [render_slack(records()["FAILED"], region=REGION)]
    assert [post["webhook"] for post in result["posted"]] == [f"{WEBHOOK_PATH}/default", f"{WEBHOOK_PATH}/team-a"]


def test_webhook_urls_are_read_once_and_cached(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, session: boto3.Session, logs: io.StringIO
) -> None:
    # Given a first notification posted
    app.handler(topic.publish(records()["DEPLOYING"]), Context())

    # When the parameter is changed and another notification arrives within WEBHOOK_CACHE_SECONDS
    session.client("ssm").put_parameter(
        Name=f"{WEBHOOK_PATH}/default",
        Value="https://hooks.slack.com/services/T/B/x",
        Type="SecureString",
        Overwrite=True,
    )
    app.handler(topic.publish(records()["COMPLETED"]), Context())

    # Then the cached URL was used: both reached the loopback server
    assert len(default_channel.payloads) == 2


# --- Retries ---------------------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_delivers(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, fast_retries: None, logs: io.StringIO
) -> None:
    # Given Slack rate-limits the first post with Retry-After: 1
    default_channel.script = [Reply(429, "rate_limited", (("Retry-After", "1"),))]
    event = topic.publish(records()["DEPLOYING"])

    # When the function runs
    started = time.monotonic()
    result = app.handler(event, Context())

    # Then the second attempt came about a second later (not sooner), and it was delivered once
    first, second = default_channel.received
    assert 1.0 <= second.at - first.at < 1.6
    assert time.monotonic() - started < 2.5
    assert default_channel.payloads == [render_slack(records()["DEPLOYING"], region=REGION)]
    assert result["posted"][0]["attempts"] == 2


def test_5xx_twice_then_delivered(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, fast_retries: None, logs: io.StringIO
) -> None:
    # Given Slack answers 500, then 503, then 200
    default_channel.script = [Reply(500, "internal_error"), Reply(503, "service_unavailable")]
    event = topic.publish(records()["FAILED"])

    # When the function runs
    result = app.handler(event, Context())

    # Then the third attempt delivered it
    assert [item.status for item in default_channel.received] == [500, 503, 200]
    assert default_channel.payloads == [render_slack(records()["FAILED"], region=REGION)]
    assert result["posted"][0]["attempts"] == 3


def test_always_5xx_fails_the_invocation_retryably_within_the_deadline(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, fast_retries: None, logs: io.StringIO
) -> None:
    # Given Slack answers 500 to everything, and the invocation has 4 s left (under twice the 5 s margin, so
    # retries stop half-way, after 2 s)
    default_channel.script = [Reply(500, "internal_error")] * 1000
    event = topic.publish(records()["COMPLETED"])

    # When the function runs
    started = time.monotonic()
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context(remaining_ms=4_000))
    elapsed = time.monotonic() - started

    # Then it kept trying until the deadline (2 s), no longer, and raised a retryable error
    assert 1.5 <= elapsed < 2.5
    assert len(default_channel.received) > 5
    assert default_channel.payloads == []
    error = raised.value
    assert error.retryable
    assert "Slack did not take the message after" in str(error)
    assert "last: HTTP 500 'internal_error'" in str(error)
    assert_url_free(error)


def test_404_is_a_permanent_error_that_names_status_and_body(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, fast_retries: None, logs: io.StringIO
) -> None:
    # Given the webhook was removed: Slack answers 404 no_service
    default_channel.script = [Reply(404, "no_service")]
    event = topic.publish(records()["ROLLED_BACK"])

    # When the function runs
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context())

    # Then it was tried once (the parameter, read again, still holds the same URL), and the error is permanent
    assert len(default_channel.received) == 1
    error = raised.value
    assert not error.retryable
    assert "HTTP 404 'no_service'" in str(error)
    assert "ROLLED_BACK of api:staging-42 to staging" in str(error)
    assert_url_free(error)


def test_a_redirect_is_not_followed(
    app: ModuleType,
    topic: Topic,
    default_channel: WebhookServer,
    team_a_channel: WebhookServer,
    fast_retries: None,
    logs: io.StringIO,
) -> None:
    # Given the webhook answers with a redirect to another server
    default_channel.script = [Reply(302, "", (("Location", team_a_channel.url("elsewhere")),))]
    event = topic.publish(records()["DEPLOYING"])

    # When the function runs
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context())

    # Then the message went nowhere else, and the error is permanent
    assert team_a_channel.received == []
    assert not raised.value.retryable
    assert "HTTP 302" in str(raised.value)
    assert_url_free(raised.value)


def test_a_slow_webhook_is_retried_after_the_client_timeout(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, fast_retries: None, logs: io.StringIO
) -> None:
    # Given the first answer takes 1.5 s, beyond the client's 0.3 s timeout
    default_channel.script = [Reply(delay=1.5)]
    event = topic.publish(records()["SKIPPED"])

    # When the function runs
    started = time.monotonic()
    result = app.handler(event, Context())

    # Then it did not wait for the slow answer: the second attempt delivered it
    assert time.monotonic() - started < 1.2
    assert len(default_channel.received) == 2
    assert result["posted"][0]["attempts"] == 2


def test_an_unreachable_webhook_fails_retryably(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, fast_retries: None, logs: io.StringIO
) -> None:
    # Given the webhook server is gone (connection refused)
    default_channel.stop()
    event = topic.publish(records()["DEPLOYING"])

    # When the function runs, with 2 s left
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context(remaining_ms=2_000))

    # Then the error is retryable, says the connection was refused, and quotes no URL
    assert raised.value.retryable
    assert "ConnectionRefusedError" in str(raised.value)
    assert_url_free(raised.value)


# --- Parameters and records ------------------------------------------------------------------------------


def test_a_missing_webhook_parameter_is_named_and_the_others_still_post(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, logs: io.StringIO
) -> None:
    # Given a record for a target whose webhook parameter does not exist, and one for the default channel
    lost = {**records()["FAILED"], "slackWebhook": "team-z"}
    event = topic.publish(lost, records()["COMPLETED"])

    # When the function runs
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context())

    # Then the default one was posted, and the error names the missing parameter
    assert default_channel.payloads == [render_slack(records()["COMPLETED"], region=REGION)]
    assert f"Slack webhook parameter {WEBHOOK_PATH}/team-z not found in Parameter Store" in str(raised.value)
    assert not raised.value.retryable
    assert_url_free(raised.value)


def test_a_message_that_is_not_a_notification_is_refused(
    app: ModuleType, topic: Topic, default_channel: WebhookServer, session: boto3.Session, logs: io.StringIO
) -> None:
    # Given someone published a message of their own to the topic
    session.client("sns").publish(TopicArn=topic.arn, Message=json.dumps({"hello": "world"}))
    event = topic.event()

    # When the function runs
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context())

    # Then nothing was posted, and the error says what is missing
    assert default_channel.received == []
    assert "is not a pushdeploy notification (schema version 1): missing key(s) schemaVersion" in str(raised.value)


def test_a_loopback_webhook_is_refused_in_production(
    app: ModuleType,
    topic: Topic,
    default_channel: WebhookServer,
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
) -> None:
    # Given the function's environment does not allow loopback webhooks (as in production)
    monkeypatch.delenv("SLACK_ALLOW_LOOPBACK")
    event = topic.publish(records()["DEPLOYING"])

    # When the function runs
    with pytest.raises(NotifyError) as raised:
        app.handler(event, Context())

    # Then nothing was posted, and the error names the parameter but not the URL
    assert default_channel.received == []
    assert f"Slack webhook parameter {WEBHOOK_PATH}/default is not usable: expected https://hooks.slack.com/" in str(
        raised.value
    )
    assert DEFAULT_TOKEN not in str(raised.value)


# --- End to end: a push deployed, published, and posted --------------------------------------------------


def test_a_push_reaches_the_targets_own_channel(
    session: boto3.Session,
    world: World,
    invoke: Invoke,
    app: ModuleType,
    default_channel: WebhookServer,
    team_a_channel: WebhookServer,
    logs: io.StringIO,
) -> None:
    # Given staging's config names webhook "team-a", and the topic's deliveries are captured
    put_target_config(session, "api", "staging", {**STAGING_CONFIG, "slackWebhook": "team-a"})
    deliveries = Topic(session, world.topic_arn).subscribe()

    # When staging-42 is pushed, and the SNS event of what the deploy function published reaches the notifier
    invoke(load_event("ecr-push.json"))
    event = deliveries.event()
    result = app.handler(event, Context())

    # Then team-a's channel got the DEPLOYING message, with the secrets by name and never their value
    assert [post["status"] for post in result["posted"]] == ["DEPLOYING"]
    (payload,) = team_a_channel.payloads
    assert payload["text"].startswith(
        ":rocket: api:staging-42 is deploying to staging (staging / api, api-staging:1 → "
    )
    text = json.dumps(payload)
    assert "secret DATABASE_URL" in text
    assert SECRET_VALUE not in text
    assert SECRET_VALUE not in logs.getvalue()
    assert default_channel.received == []
