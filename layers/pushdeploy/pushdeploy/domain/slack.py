"""Slack, one webhook channel: the Block Kit message of a notification, and what Slack's refusals mean.

Pure: no network and no AWS library. The record it renders is ``pushdeploy.domain.notification``; the
webhook URL check and the errors are ``pushdeploy.domain.webhook``; the HTTP call is
``pushdeploy.adapters.webhook``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pushdeploy.domain.channels import (
    STATUS_MARKERS,
    console_links,
    describe_approval,
    describe_changes,
    describe_gates,
    describe_promotion,
    describe_strategy,
    describe_task,
    describe_trigger,
    headline,
    revision,
)
from pushdeploy.domain.names import short_digest
from pushdeploy.domain.slack_actions import APPROVE_ACTION, REJECT_ACTION
from pushdeploy.domain.webhook import WebhookChannel

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

SLACK_WEBHOOK_HOST = "hooks.slack.com"
ELLIPSIS = "…"
# Slack's answers to a webhook POST it will never take, and what the team can do about each.
REJECTION_HINTS: Mapping[str, str] = {
    "no_service": "the webhook was removed or its URL is wrong; store the current URL in the parameter",
    "invalid_token": "the webhook's token was revoked; store a new webhook URL in the parameter",
    "no_team": "the Slack workspace is gone or the URL is wrong",
    "channel_not_found": "the webhook's channel was deleted",
    "channel_is_archived": "the webhook's channel is archived",
    "action_prohibited": "a workspace admin restricted posting to the channel",
    "invalid_payload": "Slack could not read the message pushdeploy built (a pushdeploy bug: please report it)",
}


# --- The Block Kit message ----------------------------------------------------------------------------------


def render_slack(message: Mapping[str, Any], *, region: str | None = None) -> dict[str, Any]:
    """The incoming-webhook payload of a notification: Block Kit blocks and a plain-text ``text`` fallback.

    Shows the status with its marker, repository:tag and short digest, target/cluster/service, the revision
    before → after, the changed fields (secrets by name: a record never holds a value), the trigger and who
    asked, the duration when known, the reason, the warnings, and buttons to the service and the task
    definition in the AWS console (``region``: where they point when the record says not). Every text fits
    Slack's limits; long lists end "… and N more changes".
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
    for label, text in (
        ("Strategy", describe_strategy(message)),
        ("Approval", describe_approval(message)),
        ("Task", describe_task(message)),
        ("Gates", describe_gates(message)),
        ("Promotion", describe_promotion(message)),
    ):
        if text:
            blocks.append(_section(f"*{label}*\n{_escape(text)}"))
    warnings = [str(warning) for warning in message.get("warnings") or []]
    if warnings:
        blocks.append(_section(_listing(f":warning: *Warnings* ({len(warnings)})", warnings, "warning")))
    buttons = [*_decision_buttons(message), *_buttons(message, region)]
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


def _buttons(message: Mapping[str, Any], region: str | None) -> list[dict[str, Any]]:
    labels = {
        "service": "Open the service",
        "taskDefinition": "Open the task definition",
        "taskLogs": "Open the task logs",
    }
    links = console_links(message, region=region)
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


MAX_BUTTON_VALUE = 2000


def decision_value(message: Mapping[str, Any]) -> str:
    """What an Approve or Reject button carries back: the target and the pause it answers."""
    approval = message.get("approval") or {}
    return json.dumps(
        {"repository": _config_repository(message), "target": message.get("target"), "hookId": approval.get("hookId")},
        separators=(",", ":"),
    )


def _config_repository(message: Mapping[str, Any]) -> Any:
    """The repository as its targets are configured: a foreign registry's is qualified by its account."""
    registry, repository = message.get("registryAccount"), message.get("repository")
    return f"{registry}/{repository}" if isinstance(registry, str) and registry else repository


def _decision_buttons(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Approve and Reject, on an AWAITING_APPROVAL message only (the interactivity endpoint answers them)."""
    if message.get("status") != "AWAITING_APPROVAL" or not isinstance(message.get("approval"), Mapping):
        return []
    value = decision_value(message)
    if len(value) > MAX_BUTTON_VALUE:
        return []
    stage = str(message["approval"].get("stage"))
    return [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Approve"},
            "style": "primary",
            "action_id": APPROVE_ACTION,
            "value": value,
        },
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Reject"},
            "style": "danger",
            "action_id": REJECT_ACTION,
            "value": value,
            "confirm": {
                "title": {"type": "plain_text", "text": "Reject the deployment?"},
                "text": {"type": "plain_text", "text": _cut(f"ECS rolls it back from {stage}.", MAX_BUTTON_URL)},
                "confirm": {"type": "plain_text", "text": "Reject"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        },
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


def _render(message: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    return render_slack(message, region=region)


SLACK = WebhookChannel(
    name="Slack",
    hosts=(SLACK_WEBHOOK_HOST,),
    route_field="slackWebhook",
    render=_render,
    rejection_hints=REJECTION_HINTS,
)
