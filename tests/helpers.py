"""Shared test helpers: sample events, the function handlers, a Lambda context, the topic's inbox."""

from __future__ import annotations

import functools
import importlib.util
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SCHEMAS = ROOT / "schemas"


@functools.cache
def schema_validator(name: str) -> Any:
    """A JSON Schema (draft 2020-12) validator for ``schemas/<name>``, formats checked."""
    from jsonschema import Draft202012Validator, FormatChecker  # noqa: PLC0415 - only tests that read messages

    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def notification_schema() -> Any:
    """The validator of the SNS notification record."""
    return schema_validator("notification.schema.json")


def load_event(name: str) -> dict[str, Any]:
    """A sample event from ``events/`` (the same files ``sam local invoke -e`` takes)."""
    return dict(json.loads((EVENTS / name).read_text()))


def load_function(name: str) -> ModuleType:
    """The module ``functions/<name>/app.py``, imported fresh under a unique name."""
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"function_{name}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """The attributes of a Lambda context that powertools reads."""

    function_name: str = "pushdeploy-DeployFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:pushdeploy-DeployFunction"
    aws_request_id: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


@dataclass(frozen=True)
class Received:
    """A notification as an SQS subscriber of the topic received it."""

    subject: str
    message: dict[str, Any]
    attributes: dict[str, str]


class Inbox:
    """An SQS queue subscribed to a topic, standing in for the team's inbox."""

    def __init__(self, session: boto3.Session, topic_arn: str, name: str = "team-inbox") -> None:
        self._sqs = session.client("sqs")
        self.url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        session.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)

    def receive(self) -> list[Received]:
        """Every notification delivered so far (removed from the queue)."""
        received: list[Received] = []
        while True:
            response = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = response.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                envelope = json.loads(message["Body"])
                record = json.loads(envelope["Message"])
                # Every notification any test receives must match the published schema.
                notification_schema().validate(record)
                received.append(
                    Received(
                        subject=envelope.get("Subject", ""),
                        message=record,
                        attributes={k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                    )
                )
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
