"""Slack's interactivity requests for the Approve and Reject buttons: the signature check (Slack's "verifying
requests" rules: ``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the app's signing secret, timestamps
more than 5 minutes away refused, compared in constant time), reading the button's payload, and the message
updated to the decision. Pure: no AWS library, no network."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from pushdeploy.domain.names import REPOSITORY, TARGET
from pushdeploy.domain.requests import ApprovalRequest
from pushdeploy.domain.strategy import SLACK_USER_ID

REPLAY_WINDOW_SECONDS = 300
MAX_BODY = 64_000
APPROVE_ACTION = "pushdeploy-approve"
REJECT_ACTION = "pushdeploy-reject"
_DECISIONS = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}


@dataclass(frozen=True)
class SlackRequestError(Exception):
    """A request that is refused: its HTTP status (401 unsigned or stale or replayed, 400 malformed)."""

    status: int
    reason: str


def slack_signature(secret: bytes, timestamp: str, body: str) -> str:
    """``v0=<hex HMAC-SHA256 of v0:<timestamp>:<body>>``, as Slack signs its requests."""
    digest = hmac.new(secret, f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def verify_signature(secret: bytes, headers: Mapping[str, str], body: str, *, now: float) -> None:
    """Raise SlackRequestError(401) unless ``body`` is signed with ``secret`` within the last 5 minutes.

    ``headers`` are lower-cased (as a Lambda function URL gives them)."""
    if not secret:
        raise SlackRequestError(401, "no signing secret is configured")
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or not signature.startswith("v0="):
        raise SlackRequestError(401, "the request is not signed by Slack")
    if abs(now - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        raise SlackRequestError(401, "the request's timestamp is more than 5 minutes away")
    if len(body) > MAX_BODY:
        raise SlackRequestError(401, "the request's body is too large")
    if not hmac.compare_digest(slack_signature(secret, timestamp, body).encode(), signature.encode()):
        raise SlackRequestError(401, "the request's signature does not match")


def approval_request_from_slack(body: str) -> tuple[ApprovalRequest, dict[str, Any]]:
    """The decision a signed ``block_actions`` request carries, and the message its button was on."""
    try:
        payload = json.loads(parse_qs(body, strict_parsing=True)["payload"][0])
    except (KeyError, ValueError, IndexError) as exc:
        raise SlackRequestError(400, "the request carries no interactivity payload") from exc
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise SlackRequestError(400, "only block_actions requests are answered")
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    decision = _DECISIONS.get(str(action.get("action_id")))
    if decision is None:
        raise SlackRequestError(400, "the action is not pushdeploy's Approve or Reject")
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    assert isinstance(user, dict)
    user_id = user.get("id")
    if not isinstance(user_id, str) or not SLACK_USER_ID.fullmatch(user_id):
        raise SlackRequestError(400, "the request names no Slack user")
    try:
        value = json.loads(str(action.get("value")))
    except ValueError as exc:
        raise SlackRequestError(400, "the button's value is not pushdeploy's") from exc
    if not isinstance(value, dict):
        raise SlackRequestError(400, "the button's value is not pushdeploy's")
    repository, target, hook_id = value.get("repository"), value.get("target"), value.get("hookId")
    if not (
        isinstance(repository, str)
        and REPOSITORY.fullmatch(repository)
        and isinstance(target, str)
        and TARGET.fullmatch(target)
        and isinstance(hook_id, str)
        and 0 < len(hook_id) <= 256
    ):
        raise SlackRequestError(400, "the button's value names no target and pause")
    name = str(user.get("username") or user.get("name") or "")[:64]
    who = f"{name} ({user_id})" if name else user_id
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    assert isinstance(message, dict)
    return ApprovalRequest(repository, target, decision, f"slack:{who}", hook_id=hook_id, slack_user=user_id), message


def decided_message(message: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """The button's message replaced: its blocks without the Approve and Reject buttons, and a line saying
    who decided and when."""
    decided = f"{str(result.get('status')).lower()} by {result.get('decidedBy')} at {result.get('decidedAt')}"
    blocks: list[Any] = []
    for block in message.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions":
            elements = [
                element
                for element in block.get("elements") or []
                if isinstance(element, dict) and element.get("action_id") not in _DECISIONS
            ]
            if elements:
                blocks.append({**block, "elements": elements})
            continue
        blocks.append(block)
    emoji = ":white_check_mark:" if result.get("status") == "APPROVED" else ":no_entry:"
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(f"{emoji} {decided} ({result.get('stage')})")}}
    )
    text = f"{result.get('repository')}/{result.get('target')}: {decided}"
    return {"replace_original": True, "text": _escape(text), "blocks": blocks[:50]}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
