"""The notification published for a target's deploy: a versioned JSON record, a Subject, attributes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushdeploy.domain.report import TargetReport

SCHEMA_VERSION = 1
MAX_SUBJECT = 99  # SNS: fewer than 100 ASCII characters, no line breaks


@dataclass(frozen=True)
class Notification:
    """What goes to SNS: ``message`` is the JSON record, ``attributes`` feed subscription filter policies."""

    subject: str
    message: dict[str, Any]
    attributes: dict[str, str]

    def to_json(self) -> str:
        """The notification as kept by the ledger until it is published."""
        return json.dumps({"subject": self.subject, "message": self.message, "attributes": self.attributes})

    @classmethod
    def from_json(cls, text: str) -> Notification:
        """The inverse of ``to_json``."""
        data = json.loads(text)
        return cls(subject=data["subject"], message=data["message"], attributes=data["attributes"])


def render_notification(report: TargetReport, *, time: str) -> Notification:
    """Render the notification of ``report``; ``time`` is when it is published (ISO 8601, UTC)."""
    push = report.push
    message: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "status": report.status.value,
        "repository": push.repository,
        "tag": push.tag,
        "digest": push.digest,
        "image": push.image_uri,
        "target": report.target,
        "cluster": report.cluster,
        "service": report.service,
        "taskDefinitionArn": report.task_definition_arn,
        "previousTaskDefinitionArn": report.previous_task_definition_arn,
        "deploymentId": report.deployment_id,
        "changes": [change.as_dict() for change in report.changes],
        "trigger": push.trigger.value,
        "eventId": push.event_id,
        "time": time,
    }
    if report.reason is not None:
        message["reason"] = report.reason
    if report.code is not None:
        message["code"] = report.code
    if push.requested_by:
        message["requestedBy"] = push.requested_by
    if report.slack_webhook:
        message["slackWebhook"] = report.slack_webhook
    if report.parameter is not None:
        message["configParameter"] = report.parameter
    if report.warnings:
        message["warnings"] = list(report.warnings)
    if report.extra:
        message.update(report.extra)
    return Notification(subject=subject_for(message), message=message, attributes=attributes_for(message))


def attributes_for(message: Mapping[str, Any]) -> dict[str, str]:
    """SNS message attributes for subscription filter policies (empty values left out)."""
    names = ("status", "repository", "target", "cluster", "service", "trigger")
    return {name: str(message[name]) for name in names if message.get(name)}


def subject_for(message: Mapping[str, Any]) -> str:
    """A readable e-mail subject: ASCII, one line, under 100 characters."""
    where = f" ({message['cluster']}/{message['service']})" if message.get("cluster") and message.get("service") else ""
    action = " (rollback)" if message.get("trigger") == "rollback" else ""
    subject = (
        f"pushdeploy {message['status']}{action}: {message['repository']}:{message['tag']} "
        f"to {message['target']}{where}"
    )
    subject = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 3] + "..."


def render_subject(report: TargetReport) -> str:
    """The subject of ``report``'s notification."""
    return render_notification(report, time="").subject
