"""The notification published for a target's deploy: a versioned JSON record, a Subject, attributes."""

from __future__ import annotations

import json
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
    if report.parameter is not None:
        message["configParameter"] = report.parameter
    attributes = {
        "status": report.status.value,
        "repository": push.repository,
        "target": report.target,
        "cluster": report.cluster or "",
        "service": report.service or "",
        "trigger": push.trigger.value,
    }
    return Notification(
        subject=render_subject(report),
        message=message,
        attributes={key: value for key, value in attributes.items() if value},
    )


def render_subject(report: TargetReport) -> str:
    """A readable e-mail subject: ASCII, one line, under 100 characters."""
    where = f" ({report.cluster}/{report.service})" if report.cluster and report.service else ""
    subject = f"pushdeploy {report.status.value}: {report.push.repository}:{report.push.tag} to {report.target}{where}"
    subject = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 3] + "..."
