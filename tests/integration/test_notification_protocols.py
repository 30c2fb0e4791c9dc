"""One publish reaches each kind of subscriber in its own form: the JSON record over SQS, the chat service's
custom format over HTTP(S) (a real server on loopback receives moto's delivery), with filter policies on the
message attributes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from tests.helpers import Inbox, load_event, notification_schema, schema_validator
from tools.sample_world import World

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def https_subscriber() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP endpoint on loopback standing in for the chat service's HTTPS endpoint."""
    received: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/chat", received
    finally:
        server.shutdown()
        server.server_close()


def test_one_publish_gives_each_subscriber_its_form(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    https_subscriber: tuple[str, list[dict[str, Any]]],
) -> None:
    # Given an SQS inbox and an HTTP(S) subscriber on the deploy topic
    endpoint, posts = https_subscriber
    session.client("sns").subscribe(TopicArn=world.topic_arn, Protocol="http", Endpoint=endpoint)

    # When a push is deployed
    invoke(load_event("ecr-push.json"))

    # Then the inbox received the JSON record (valid against the schema)
    records = inbox.receive()
    assert [r.message["status"] for r in records] == ["DEPLOYING"]
    # And the HTTP subscriber received the chat service's custom notification, in the same thread id
    assert len(posts) == 1
    chat = json.loads(posts[0]["Message"])
    schema_validator("chatbot-custom-notification.schema.json").validate(chat)
    assert chat["content"]["title"].endswith("api:staging-42 is deploying to staging")
    assert chat["metadata"]["threadId"] == "pushdeploy/api/staging/sha256:4f4f4f4f4f4f"
    # And the Subject stays readable for e-mail
    assert posts[0]["Subject"] == "pushdeploy DEPLOYING: api:staging-42 to staging (staging/api)"


def test_subscribers_filter_on_the_message_attributes(session: boto3.Session, world: World, invoke: Invoke) -> None:
    # Given a queue that only wants prod's failures
    sqs, sns = session.client("sqs"), session.client("sns")
    url = sqs.create_queue(QueueName="prod-failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=world.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"target": ["prod"], "status": ["FAILED"]})},
    )

    # When staging deploys, and prod fails (its service is gone)
    invoke(load_event("ecr-push.json"))
    session.client("ecs").delete_service(cluster="prod", service="api", force=True)
    invoke(load_event("ecr-push-prod.json"))

    # Then the queue holds prod's FAILED only, as a valid record
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    for record in records:
        notification_schema().validate(record)
    assert [(r["target"], r["status"]) for r in records] == [("prod", "FAILED")]
