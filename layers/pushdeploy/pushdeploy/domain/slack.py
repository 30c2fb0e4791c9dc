"""Slack: the Block Kit message of a notification, the record and webhook checks, the notifier's errors.

Pure: no network and no AWS library. The HTTP call is ``pushdeploy.adapters.slack``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pushdeploy.domain.channels import (
    STATUS_MARKERS,
    console_links,
    describe_changes,
    describe_trigger,
    headline,
    revision,
)
from pushdeploy.domain.errors import DeployError, InvalidEventError
from pushdeploy.domain.ledger import short_digest
from pushdeploy.domain.messages import SCHEMA_VERSION

# Slack's limits (Block Kit reference): blocks per message, characters per section text, per section field,
# fields per section, characters of a header, of a button's text and of its URL.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_URL = 3000
# Ours: the fallback shows in push notifications and in clients without Block Kit; keep it a readable size.
MAX_FALLBACK_TEXT = 3000
MAX_LISTED = 20  # changes or warnings; beyond this a channel message stops being readable: "… and N more"
MAX_LINE = 500

DEFAULT_WEBHOOK = "default"
WEBHOOK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # the rule config.py applies to a target's slackWebhook
SLACK_WEBHOOK_HOST = "hooks.slack.com"
LOOPBACK_HOST = "127.0.0.1"
ELLIPSIS = "…"


# --- Errors ------------------------------------------------------------------------------------------------


class InvalidNotificationError(InvalidEventError):
    """An SNS message that is not a pushdeploy notification record (schema version 1)."""


class WebhookNotFoundError(DeployError):
    """The webhook parameter a notification routes to does not exist."""

    def __init__(self, parameter: str) -> None:
        super().__init__(
            f"Slack webhook parameter {parameter} not found in Parameter Store: create it as a SecureString "
            "holding the incoming-webhook URL, or correct the target's slackWebhook"
        )
        self.parameter = parameter


class WebhookUrlError(DeployError):
    """The webhook parameter holds something that is not a usable Slack webhook URL (never quoted: a secret)."""

    def __init__(self, problem: str, parameter: str | None = None) -> None:
        where = f"Slack webhook parameter {parameter}" if parameter else "the Slack webhook URL"
        super().__init__(f"{where} is not usable: {problem}")
        self.parameter = parameter
        self.problem = problem


class SlackRejectedError(DeployError):
    """Slack refused the message for good (a 4xx other than 429): retrying the same request cannot help."""

    HINTS: Mapping[str, str] = {
        "no_service": "the webhook was removed or its URL is wrong; store the current URL in the parameter",
        "invalid_token": "the webhook's token was revoked; store a new webhook URL in the parameter",
        "no_team": "the Slack workspace is gone or the URL is wrong",
        "channel_not_found": "the webhook's channel was deleted",
        "channel_is_archived": "the webhook's channel is archived",
        "action_prohibited": "a workspace admin restricted posting to the channel",
        "invalid_payload": "Slack could not read the message pushdeploy built (a pushdeploy bug: please report it)",
    }

    def __init__(self, status: int, body: str) -> None:
        hint = self.HINTS.get(body.strip())
        super().__init__(f"Slack refused the message: HTTP {status} {body!r}" + (f" ({hint})" if hint else ""))
        self.status = status
        self.body = body


class SlackUnavailableError(DeployError):
    """Slack did not take the message before the deadline (429, 5xx, timeouts): a later attempt may."""

    retryable = True

    def __init__(self, attempts: int, seconds: float, last: str) -> None:
        super().__init__(
            f"Slack did not take the message after {attempts} attempt(s) in {seconds:.1f} s (last: {last}); "
            "failing the invocation so that Lambda retries it and its failure queue keeps it"
        )
        self.attempts = attempts
        self.seconds = seconds


@dataclass(frozen=True)
class Delivery:
    """A message Slack took: after how many attempts and how long."""

    attempts: int
    seconds: float


# --- The notification record --------------------------------------------------------------------------------

_REQUIRED = ("schemaVersion", "status", "repository", "tag", "digest", "image", "target", "trigger", "eventId", "time")
_STRINGS = ("tag", "image", "eventId", "time")
_NON_EMPTY_STRINGS = ("repository", "target")
_OPTIONAL_STRINGS = ("requestedBy", "code", "configParameter", "stopped")
_NULLABLE_STRINGS = ("cluster", "service", "taskDefinitionArn", "previousTaskDefinitionArn", "deploymentId")
_TRIGGERS = ("push", "manual", "rollback")
_CHANGE_FIELDS = ("image", "environment", "secret")
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64})?")
_DEPLOYMENT_ID = re.compile(r"ecs-svc/[0-9]+")
_NEEDS_REASON = frozenset({"FAILED", "ROLLED_BACK", "SKIPPED"})
_NEEDS_SERVICE = frozenset({"DEPLOYING", "COMPLETED"})


def parse_notification(body: str | None) -> dict[str, Any]:
    """The notification record in an SNS message, checked against schema version 1.

    Keys the schema does not know are kept, not refused: an additive change of the schema keeps its version,
    and the notifier must not stop posting when the publisher gains a field. Raises
    InvalidNotificationError naming every problem.
    """
    if not isinstance(body, str):
        raise InvalidNotificationError(f"the SNS message must be a JSON string, got {type(body).__name__}")
    try:
        record = json.loads(body)
    except ValueError as exc:
        raise InvalidNotificationError(f"the SNS message is not JSON ({exc}): {_quote(body)}") from None
    if not isinstance(record, dict):
        raise InvalidNotificationError(f"the SNS message must be a JSON object, got {type(record).__name__}")
    problems = _record_problems(record)
    if problems:
        raise InvalidNotificationError(
            f"the SNS message is not a pushdeploy notification (schema version {SCHEMA_VERSION}): "
            + "; ".join(problems)
        )
    return record


def _record_problems(record: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    missing = [key for key in _REQUIRED if key not in record]
    status = record.get("status")
    if status in _NEEDS_REASON and "reason" not in record:
        missing.append("reason")
    if status in _NEEDS_SERVICE:
        missing += [key for key in ("cluster", "service", "taskDefinitionArn") if key not in record]
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    version = record.get("schemaVersion", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        problems.append(f"schemaVersion is {_quote(version)}; this notifier reads version {SCHEMA_VERSION}")
    if "status" in record and status not in STATUS_MARKERS:
        problems.append(f"status must be one of {', '.join(STATUS_MARKERS)}, got {_quote(status)}")
    if "trigger" in record and record["trigger"] not in _TRIGGERS:
        problems.append(f"trigger must be one of {', '.join(_TRIGGERS)}, got {_quote(record['trigger'])}")
    problems += [f"{key} must be a string" for key in _STRINGS if key in record and not isinstance(record[key], str)]
    problems += [
        f"{key} must be a non-empty string"
        for key in _NON_EMPTY_STRINGS
        if key in record and not (isinstance(record[key], str) and record[key])
    ]
    problems += [
        f"{key} must be a string" for key in _OPTIONAL_STRINGS if key in record and not isinstance(record[key], str)
    ]
    problems += [
        f"{key} must be a string or null"
        for key in _NULLABLE_STRINGS
        if record.get(key) is not None and not isinstance(record[key], str)
    ]
    digest = record.get("digest")
    if isinstance(digest, str) and not _DIGEST.fullmatch(digest):
        problems.append(f"digest must be sha256:<64 hex> or empty, got {_quote(digest)}")
    deployment_id = record.get("deploymentId")
    if isinstance(deployment_id, str) and not _DEPLOYMENT_ID.fullmatch(deployment_id):
        problems.append(f"deploymentId must look like ecs-svc/<number>, got {_quote(deployment_id)}")
    if "reason" in record and not (isinstance(record["reason"], str) and record["reason"]):
        problems.append("reason must be a non-empty string")
    problems += _change_problems(record.get("changes"))
    warnings = record.get("warnings")
    if warnings is not None and not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
        problems.append("warnings must be a list of strings")
    duration = record.get("durationSeconds")
    if "durationSeconds" in record and (
        isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0
    ):
        problems.append(f"durationSeconds must be a number of seconds >= 0, got {_quote(duration)}")
    webhook = record.get("slackWebhook")
    if "slackWebhook" in record and not (isinstance(webhook, str) and WEBHOOK_NAME.fullmatch(webhook)):
        problems.append(f"slackWebhook must be a parameter name (letters, digits, . _ -), got {_quote(webhook)}")
    return problems


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
        if change.get("field", "image") not in _CHANGE_FIELDS:
            problems.append(f"changes[{index}].field must be one of {', '.join(_CHANGE_FIELDS)}")
        strings = [key for key in ("container", "name") if key in change and not isinstance(change[key], str)]
        strings += [
            key for key in ("before", "after") if change.get(key) is not None and not isinstance(change[key], str)
        ]
        problems += [f"changes[{index}].{key} must be a string" for key in strings]
    return problems


def _quote(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:79] + ELLIPSIS


# --- The webhook URL ----------------------------------------------------------------------------------------


def check_webhook_url(url: str, *, parameter: str | None = None, allow_loopback: bool = False) -> str:
    """``url`` if it is a Slack incoming-webhook URL (``https://hooks.slack.com/...``).

    With ``allow_loopback`` (tests only), ``http://127.0.0.1:<port>/...`` passes too. Raises WebhookUrlError
    naming the parameter and the problem; the URL itself is a secret and is never quoted.
    """
    expected = f"https://{SLACK_WEBHOOK_HOST}/..." + (
        f" or http://{LOOPBACK_HOST}:<port>/..." if allow_loopback else ""
    )
    if not url:
        raise WebhookUrlError("it is empty", parameter)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise WebhookUrlError("it contains whitespace or control characters", parameter)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlError(f"it is not a URL; expected {expected}", parameter) from None
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("it carries a user name or password", parameter)
    if len(parts.path) <= 1 or parts.fragment:
        raise WebhookUrlError(f"it has no webhook path; expected {expected}", parameter)
    host = parts.hostname
    if parts.scheme == "https" and host == SLACK_WEBHOOK_HOST and port in (None, 443):
        return url
    if allow_loopback and parts.scheme == "http" and host == LOOPBACK_HOST:
        return url
    # Scheme and host are not the secret part of a webhook (its path is): name them to help whoever fixes it.
    raise WebhookUrlError(
        f"expected {expected}, got scheme {_quote(parts.scheme)} and host {_quote(host)}"
        + (f" port {port}" if port is not None else ""),
        parameter,
    )


def redact(text: str, url: str) -> str:
    """``text`` without ``url``, its path or any of its path segments (the webhook's token is one of them)."""
    if not url:
        return text
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    secrets = {url, url.rstrip("/"), repr(url)[1:-1], path}
    secrets |= {segment for segment in path.split("/") if len(segment) >= 6}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


# --- The Block Kit message ----------------------------------------------------------------------------------


def render_slack(message: Mapping[str, Any]) -> dict[str, Any]:
    """The incoming-webhook payload of a notification: Block Kit blocks and a plain-text ``text`` fallback.

    Shows the status with its marker, repository:tag and short digest, target/cluster/service, the revision
    before → after, the changed fields (secrets by name: a record never holds a value), the trigger and who
    asked, the duration when known, the reason, the warnings, and buttons to the service and the task
    definition in the AWS console. Every text fits Slack's limits; long lists end "… and N more changes".
    Text from the record is escaped, so a reason holding ``<!channel>`` cannot ping anyone.
    """
    status = str(message.get("status"))
    marker = STATUS_MARKERS.get(status, ":grey_question:")
    title = headline(message)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(_one_line(f"{marker} {title}"), MAX_HEADER_TEXT),
                "emoji": True,
            },
        },
        {"type": "section", "fields": [_mrkdwn(text, MAX_FIELD_TEXT) for text in _facts(message, marker)][:MAX_FIELDS]},
    ]
    if message.get("reason"):
        blocks.append(_section(f"*Reason*\n{_escape(str(message['reason']))}"))
    changes = describe_changes(message)
    if changes:
        blocks.append(_section(_listing(f"*Changes* ({len(changes)})", changes, "change")))
    warnings = [str(warning) for warning in message.get("warnings") or []]
    if warnings:
        blocks.append(_section(_listing(f":warning: *Warnings* ({len(warnings)})", warnings, "warning")))
    buttons = _buttons(message)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "context", "elements": [_mrkdwn(_context(message), MAX_FIELD_TEXT)]})
    return {"text": _fallback(message, marker, title), "blocks": blocks[:MAX_BLOCKS]}


def _facts(message: Mapping[str, Any], marker: str) -> list[str]:
    image = f"{message.get('repository')}:{message.get('tag')}"
    digest = short_digest(message.get("digest")) or "no digest"
    facts = [
        f"*Status*\n{marker} {_escape(str(message.get('status')))}",
        f"*Image*\n{_escape(image)}\n`{_escape(digest)}`",
        f"*Target*\n{_escape(str(message.get('target')))}\n{_escape(_where(message))}",
        f"*Revision*\n{_escape(_revisions(message))}",
        f"*Triggered by*\n{_escape(describe_trigger(message))}",
    ]
    duration = message.get("durationSeconds")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        facts.append(f"*Duration*\n{describe_duration(float(duration))}")
    if message.get("deploymentId"):
        facts.append(f"*Deployment*\n`{_escape(str(message['deploymentId']))}`")
    rollback = message.get("rollback")
    if isinstance(rollback, Mapping) and (rollback.get("from") or rollback.get("to")):
        facts.append(f"*Rollback*\n{_escape(_rollback(rollback))}")
    if message.get("created") is True:
        facts.append("*Service*\ncreated from the target's create block")
    return facts


def _where(message: Mapping[str, Any]) -> str:
    cluster, service = message.get("cluster"), message.get("service")
    if cluster and service:
        return f"{str(cluster).rsplit('/', 1)[-1]} / {service}"
    return "cluster and service unknown"


def _revisions(message: Mapping[str, Any]) -> str:
    return f"{revision(message.get('previousTaskDefinitionArn'))} → {revision(message.get('taskDefinitionArn'))}"


def _rollback(rollback: Mapping[str, Any]) -> str:
    def side(arn: str, tag: str) -> str:
        return (
            f"{rollback.get(tag)} ({revision(rollback.get(arn))})" if rollback.get(tag) else revision(rollback.get(arn))
        )

    return f"{side('from', 'fromTag')} → {side('to', 'toTag')}"


def describe_duration(seconds: float) -> str:
    """``45 s``, ``2 min 05 s``, ``1 h 03 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _listing(title: str, lines: Sequence[str], noun: str) -> str:
    """``title`` and one bullet per line, within a section's limit; what does not fit is counted."""
    text = title
    for index, line in enumerate(lines):
        left = len(lines) - index
        more = f"\n{ELLIPSIS} and {left} more {noun}{'s' if left != 1 else ''}"
        item = f"\n• {_escape(_cut(line, MAX_LINE))}"
        reserve = len(f"\n{ELLIPSIS} and {len(lines)} more {noun}s") if left > 1 else 0
        if index >= MAX_LISTED or len(text) + len(item) + reserve > MAX_SECTION_TEXT:
            return text + more
        text += item
    return text


def _buttons(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    labels = {"service": "Open the service", "taskDefinition": "Open the task definition"}
    links = console_links(message)
    return [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(label, MAX_BUTTON_TEXT)},
            "url": links[name],
            "action_id": f"pushdeploy-open-{name}",
        }
        for name, label in labels.items()
        if name in links and len(links[name]) <= MAX_BUTTON_URL
    ]


def _context(message: Mapping[str, Any]) -> str:
    parts = [f"pushdeploy · event `{message.get('eventId')}` · {message.get('time')}"]
    if message.get("code"):
        parts.append(f"code `{message['code']}`")
    if message.get("stopped"):
        parts.append(f"stopped {message['stopped']}")
    return _escape(" · ".join(parts))


def _fallback(message: Mapping[str, Any], marker: str, title: str) -> str:
    """The plain-text ``text`` Slack shows in notifications and where blocks cannot be shown."""
    text = f"{marker} {title} ({_where(message)}, {_revisions(message)}, {short_digest(message.get('digest'))})"
    if message.get("reason"):
        text += f": {message['reason']}"
    return _cut_escaped(_escape(_one_line(text)), MAX_FALLBACK_TEXT)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text, MAX_SECTION_TEXT)}


def _mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _cut_escaped(text, limit)}


def _escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` (the characters of links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _cut_escaped(text: str, limit: int) -> str:
    """``_cut`` that does not leave half an ``&amp;`` behind."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS
