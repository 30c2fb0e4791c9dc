"""The notification record (schema version 1) and its reader, for every channel.

``schemas/notification.schema.json`` publishes the record; the constants here are the reader's copy of its
required fields, statuses and triggers, and a test holds the two equal. Pure: no AWS library, no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushdeploy.domain.errors import InvalidEventError

SCHEMA_VERSION = 1
MAX_SUBJECT = 99  # SNS: fewer than 100 ASCII characters, no line breaks
ELLIPSIS = "…"

STATUSES = (
    "DEPLOYING",
    "COMPLETED",
    "FAILED",
    "ROLLED_BACK",
    "RETRYING",
    "SKIPPED",
    "AWAITING_APPROVAL",
    "PREPARING",
    "WAITING",
)
TRIGGERS = ("push", "manual", "rollback", "promote")
CHANGE_FIELDS = ("image", "environment", "secret")
REQUIRED = ("schemaVersion", "status", "repository", "tag", "digest", "image", "target", "trigger", "eventId", "time")
NEEDS_REASON = frozenset({"FAILED", "ROLLED_BACK", "RETRYING", "SKIPPED", "AWAITING_APPROVAL", "PREPARING", "WAITING"})
NEEDS_GATES = frozenset({"WAITING"})
NEEDS_SERVICE = frozenset({"DEPLOYING", "COMPLETED"})
NEEDS_APPROVAL = frozenset({"AWAITING_APPROVAL"})
NEEDS_TASK = frozenset({"PREPARING"})  # a one-off task started: which, where, its logs
TASK_FIELDS = ("task", "cluster", "service", "taskDefinitionArn")
APPROVAL_FIELDS = ("approval", "cluster", "service", "deploymentId")
SERVICE_FIELDS = ("cluster", "service", "taskDefinitionArn")
STRINGS = ("tag", "image", "eventId", "time")
NON_EMPTY_STRINGS = ("repository", "target")
OPTIONAL_STRINGS: tuple[str, ...] = ("requestedBy", "code", "configParameter", "stopped", "region", "strategy")
OPTIONAL_STRINGS += ("account", "accountAlias", "registryAccount")  # a target in a workload account
NULLABLE_STRINGS = ("cluster", "service", "taskDefinitionArn", "previousTaskDefinitionArn", "deploymentId")
WEBHOOK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # the rule config.py applies to a target's slackWebhook
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64})?")
_DEPLOYMENT_ID = re.compile(r"ecs-svc/[0-9]+")


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


# --- The reader ---------------------------------------------------------------------------------------------


class InvalidNotificationError(InvalidEventError):
    """An SNS message that is not a pushdeploy notification record (schema version 1)."""


def parse_notification(body: str | None) -> dict[str, Any]:
    """The notification record in an SNS message, checked against schema version 1.

    Keys the schema does not know are kept, not refused: an additive change of the schema keeps its version,
    and a notifier must not stop posting when the publisher gains a field. Raises InvalidNotificationError
    naming every problem.
    """
    if not isinstance(body, str):
        raise InvalidNotificationError(f"the SNS message must be a JSON string, got {type(body).__name__}")
    try:
        record = json.loads(body)
    except ValueError as exc:
        raise InvalidNotificationError(f"the SNS message is not JSON ({exc}): {quote(body)}") from None
    if not isinstance(record, dict):
        raise InvalidNotificationError(f"the SNS message must be a JSON object, got {type(record).__name__}")
    problems = record_problems(record)
    if problems:
        raise InvalidNotificationError(
            f"the SNS message is not a pushdeploy notification (schema version {SCHEMA_VERSION}): "
            + "; ".join(problems)
        )
    return record


def record_problems(record: Mapping[str, Any]) -> list[str]:
    """What makes ``record`` not a notification of schema version 1 (empty: it is one)."""
    problems: list[str] = []
    status = record.get("status")
    missing = _missing_keys(record, status)
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    version = record.get("schemaVersion", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        problems.append(f"schemaVersion is {quote(version)}; this notifier reads version {SCHEMA_VERSION}")
    if "status" in record and status not in STATUSES:
        problems.append(f"status must be one of {', '.join(STATUSES)}, got {quote(status)}")
    if "trigger" in record and record["trigger"] not in TRIGGERS:
        problems.append(f"trigger must be one of {', '.join(TRIGGERS)}, got {quote(record['trigger'])}")
    problems += [f"{key} must be a string" for key in STRINGS if key in record and not isinstance(record[key], str)]
    problems += [
        f"{key} must be a non-empty string"
        for key in NON_EMPTY_STRINGS
        if key in record and not (isinstance(record[key], str) and record[key])
    ]
    problems += [
        f"{key} must be a string" for key in OPTIONAL_STRINGS if key in record and not isinstance(record[key], str)
    ]
    problems += [
        f"{key} must be a string or null"
        for key in NULLABLE_STRINGS
        if record.get(key) is not None and not isinstance(record[key], str)
    ]
    digest = record.get("digest")
    if isinstance(digest, str) and not _DIGEST.fullmatch(digest):
        problems.append(f"digest must be sha256:<64 hex> or empty, got {quote(digest)}")
    deployment_id = record.get("deploymentId")
    if isinstance(deployment_id, str) and not _DEPLOYMENT_ID.fullmatch(deployment_id):
        problems.append(f"deploymentId must look like ecs-svc/<number>, got {quote(deployment_id)}")
    region = record.get("region")
    if isinstance(region, str) and not REGION.fullmatch(region):
        problems.append(f"region must be an AWS Region name such as eu-west-1, got {quote(region)}")
    if "reason" in record and not (isinstance(record["reason"], str) and record["reason"]):
        problems.append("reason must be a non-empty string")
    problems += _change_problems(record.get("changes"))
    approval = record.get("approval")
    if approval is not None and not isinstance(approval, dict):
        problems.append("approval must be an object")
    problems += _task_problems(record.get("task"))
    problems += [
        f"{key} must be an object"
        for key in ("gates", "promotion")
        if key in record and not isinstance(record[key], dict)
    ]
    warnings = record.get("warnings")
    if warnings is not None and not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
        problems.append("warnings must be a list of strings")
    duration = record.get("durationSeconds")
    if "durationSeconds" in record and (
        isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0
    ):
        problems.append(f"durationSeconds must be a number of seconds >= 0, got {quote(duration)}")
    webhook = record.get("slackWebhook")
    if "slackWebhook" in record and not (isinstance(webhook, str) and WEBHOOK_NAME.fullmatch(webhook)):
        problems.append(f"slackWebhook must be a parameter name (letters, digits, . _ -), got {quote(webhook)}")
    return problems


def _missing_keys(record: Mapping[str, Any], status: Any) -> list[str]:
    """The keys ``record`` lacks: those every notification has, and those its status needs."""
    missing = [key for key in REQUIRED if key not in record]
    needs: list[tuple[frozenset[str], tuple[str, ...]]] = [
        (NEEDS_REASON, ("reason",)),
        (NEEDS_SERVICE, tuple(SERVICE_FIELDS)),
        (NEEDS_APPROVAL, tuple(APPROVAL_FIELDS)),
        (NEEDS_TASK, tuple(TASK_FIELDS)),
        (NEEDS_GATES, ("gates",)),
    ]
    for statuses, keys in needs:
        if status in statuses:
            missing += [key for key in keys if key not in record]
    return missing


def _task_problems(task: Any) -> list[str]:
    if task is None or (isinstance(task, dict) and isinstance(task.get("command", []), list)):
        return []
    return ["task must be an object (its command a list)"]


def _change_problems(changes: Any) -> list[str]:
    if changes is None:
        return []
    if not isinstance(changes, list):
        return ["changes must be a list"]
    problems: list[str] = []
    for index, change in enumerate(changes):
        if not isinstance(change, dict):
            problems.append(f"changes[{index}] must be an object")
            continue
        missing = [key for key in ("container", "field", "before", "after") if key not in change]
        if missing:
            problems.append(f"changes[{index}] lacks {', '.join(missing)}")
        if change.get("field", "image") not in CHANGE_FIELDS:
            problems.append(f"changes[{index}].field must be one of {', '.join(CHANGE_FIELDS)}")
        strings = [key for key in ("container", "name") if key in change and not isinstance(change[key], str)]
        strings += [
            key for key in ("before", "after") if change.get(key) is not None and not isinstance(change[key], str)
        ]
        problems += [f"changes[{index}].{key} must be a string" for key in strings]
    return problems


def quote(value: Any) -> str:
    """``value`` as JSON for an error message, cut after 80 characters (saying how many more there were)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else f"{text[:80]}{ELLIPSIS} ({len(text) - 80} more characters)"
