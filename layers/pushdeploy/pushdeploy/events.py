"""Typed views of the events the deploy function accepts, and the decision of what each one asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.ledger import parse_time
from pushdeploy.domain.outcome import DeploymentEvent
from pushdeploy.domain.push import ImagePush, Trigger, ecr_registry
from pushdeploy.domain.requests import HistoryRequest, ManualDeployRequest, RollbackRequest

ECR_SOURCE = "aws.ecr"
ECR_IMAGE_ACTION = "ECR Image Action"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# ECR: 2-256 characters, lowercase path segments.
_REPOSITORY = re.compile(r"^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # EventBridge ids are UUIDs; this bounds the ledger's keys
# Event times pushdeploy accepts: anything else is a malformed event, not a push from the year 1.
_EARLIEST, _LATEST = 946_684_800.0, 4_102_444_800.0  # 2000-01-01, 2100-01-01
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_TARGET = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class EcrImageActionEvent(EventBridgeEvent):
    """An ``ECR Image Action`` event (EventBridge), with its hyphenated detail fields named."""

    @property
    def action_type(self) -> str:
        return str(self.detail.get("action-type", ""))

    @property
    def result(self) -> str:
        return str(self.detail.get("result", ""))

    @property
    def repository_name(self) -> str:
        return str(self.detail.get("repository-name", ""))

    @property
    def image_digest(self) -> str:
        return str(self.detail.get("image-digest", ""))

    @property
    def image_tag(self) -> str:
        return str(self.detail.get("image-tag") or "")


@dataclass(frozen=True)
class IgnoredEvent:
    """An event that is not a deploy request; the function does nothing with it."""

    reason: str

    def as_result(self) -> dict[str, str]:
        return {"status": "IGNORED", "reason": self.reason}


DeployRequest = ImagePush | ManualDeployRequest | RollbackRequest | HistoryRequest | IgnoredEvent
_ACTIONS = ("deploy", "rollback", "history")
_EXAMPLES = (
    '{"repository": "api", "tag": "v1.4.2", "targets": ["prod"]}, '
    '{"action": "rollback", "repository": "api", "target": "prod"}, '
    '{"action": "history", "repository": "api", "target": "prod"}, each optionally with "dryRun": true'
)


def parse_deploy_event(event: Any, request_id: str = "manual") -> DeployRequest:
    """Decide what ``event`` asks for: a push to deploy, a manual deploy, rollback or history, or nothing.

    ``"dryRun": true`` at the top level of any of them (an ECR push copied from the logs included) asks
    for the plan only. Raises InvalidEventError, naming the problem, for an event that is ours but malformed.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    dry_run = event.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise InvalidEventError(f"'dryRun' must be true or false, got {dry_run!r}")
    body = {key: value for key, value in event.items() if key != "dryRun"}
    if "detail-type" in body and "source" in body:
        parsed = _parse_eventbridge(EcrImageActionEvent(body))
        return replace(parsed, dry_run=True) if dry_run and isinstance(parsed, ImagePush) else parsed
    if "repository" in body or "action" in body:
        return _parse_manual(body, request_id, dry_run)
    if "detail-type" in body or "source" in body:
        raise InvalidEventError("EventBridge event must carry both 'source' and 'detail-type'")
    raise InvalidEventError(
        "event is neither an ECR push event (EventBridge 'ECR Image Action') nor a request such as "
        + _EXAMPLES
        + "; got keys: "
        + (", ".join(sorted(map(str, event))) or "none")
    )


ECS_SOURCE = "aws.ecs"
ECS_DEPLOYMENT_STATE_CHANGE = "ECS Deployment State Change"


def parse_deployment_event(event: Any) -> DeploymentEvent | IgnoredEvent:
    """An ``ECS Deployment State Change`` event for the tracker; anything else is ignored or invalid."""
    if not isinstance(event, dict) or "source" not in event or "detail-type" not in event:
        raise InvalidEventError("the tracker takes EventBridge 'ECS Deployment State Change' events")
    wrapped = EventBridgeEvent(event)
    if wrapped.source != ECS_SOURCE or wrapped.detail_type != ECS_DEPLOYMENT_STATE_CHANGE:
        return IgnoredEvent(f"not an ECS deployment state change: {wrapped.source} / {wrapped.detail_type}")
    detail = event.get("detail")
    resources = event.get("resources")
    if not isinstance(detail, dict):
        raise InvalidEventError("ECS Deployment State Change event has no 'detail' object")
    deployment_id, event_name = detail.get("deploymentId"), detail.get("eventName")
    if not isinstance(deployment_id, str) or not re.fullmatch(r"ecs-svc/\d{1,32}", deployment_id):
        raise InvalidEventError(f"field 'detail.deploymentId' must be ecs-svc/<number>, got {deployment_id!r}")
    if not isinstance(event_name, str) or not event_name:
        raise InvalidEventError("field 'detail.eventName' is missing")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise InvalidEventError("field 'resources' must hold the service ARN")
    updated_at = _event_time(detail.get("updatedAt") or event.get("time"), "detail.updatedAt")
    return DeploymentEvent(
        event_name=event_name,
        deployment_id=deployment_id,
        service_arn=resources[0],
        reason=str(detail.get("reason") or ""),
        updated_at=updated_at,
    )


def _parse_eventbridge(event: EcrImageActionEvent) -> DeployRequest:
    if event.source != ECR_SOURCE or event.detail_type != ECR_IMAGE_ACTION:
        return IgnoredEvent(f"not an ECR image action: {event.source} / {event.detail_type}")
    if not isinstance(event.get("detail"), dict):
        raise InvalidEventError("ECR Image Action event has no 'detail' object")
    if event.action_type != "PUSH":
        return IgnoredEvent(f"ECR action {event.action_type or '(none)'} is not a push")
    if event.result != "SUCCESS":
        return IgnoredEvent(f"ECR push result {event.result or '(none)'} is not SUCCESS")
    if not event.image_tag:
        return IgnoredEvent("untagged push (an image index's manifest or a digest-only push)")
    _check(event.repository_name, _REPOSITORY, "detail.repository-name", "an ECR repository name")
    _check(event.image_digest, _DIGEST, "detail.image-digest", "sha256:<64 hex digits>")
    _check(event.image_tag, _TAG, "detail.image-tag", "an image tag")
    account, region = event.get("account"), event.get("region")
    if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
        raise InvalidEventError(f"ECR event field 'account' must be a 12-digit account id, got {account!r}")
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-\d{1,2}", region):
        raise InvalidEventError(f"ECR event field 'region' must be a Region name, got {region!r}")
    pushed_at = _event_time(event.get("time"), "time")
    event_id = _check(event.get("id"), _EVENT_ID, "id", "an event id (up to 128 letters, digits, . _ : -)")
    return ImagePush(
        repository=event.repository_name,
        tag=event.image_tag,
        digest=event.image_digest,
        registry=ecr_registry(account, region),
        trigger=Trigger.PUSH,
        event_id=event_id,
        pushed_at=pushed_at,
    )


def _parse_manual(
    event: dict[str, Any], request_id: str, dry_run: bool
) -> ManualDeployRequest | RollbackRequest | HistoryRequest:
    action = event.get("action", "deploy")
    if action not in _ACTIONS:
        raise InvalidEventError(f"unknown action {action!r}; use one of: {', '.join(_ACTIONS)}")
    allowed = {
        "deploy": {"repository", "tag", "targets", "requestedBy"},
        "rollback": {"repository", "target", "requestedBy"},
        "history": {"repository", "target", "limit"},
    }[action] | {"action"}
    unknown = sorted(set(event) - allowed)
    if unknown:
        takes = {
            "deploy": "repository, tag and optional targets",
            "rollback": "repository and target",
            "history": "repository, target and optional limit",
        }[action]
        raise InvalidEventError(f"manual {action}: unknown field(s) {', '.join(map(str, unknown))}; it takes {takes}")
    repository = _check(event.get("repository"), _REPOSITORY, "repository", "an ECR repository name")
    requested_by = event.get("requestedBy")
    if requested_by is not None and (not isinstance(requested_by, str) or not 0 < len(requested_by) <= 128):
        raise InvalidEventError(f"manual {action}: 'requestedBy' must be a name of at most 128 characters")
    if action == "history":
        if dry_run:
            raise InvalidEventError("manual history: it only reads; 'dryRun' does not apply")
        limit = event.get("limit", 20)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise InvalidEventError("manual history: 'limit' must be a whole number from 1 to 100")
        return HistoryRequest(repository, _check(event.get("target"), _TARGET, "target", "a target name"), limit)
    if action == "rollback":
        target = _check(event.get("target"), _TARGET, "target", "a target name")
        return RollbackRequest(repository, target, request_id, dry_run, requested_by)
    tag = _check(event.get("tag"), _TAG, "tag", 'an image tag, e.g. "v1.4.2"')
    targets = event.get("targets")
    if targets is not None and (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and _TARGET.fullmatch(t) for t in targets)
    ):
        raise InvalidEventError("manual deploy: 'targets' must be a non-empty list of target names")
    return ManualDeployRequest(
        repository=repository,
        tag=tag,
        event_id=request_id,
        targets=tuple(targets) if targets is not None else None,
        dry_run=dry_run,
        requested_by=requested_by,
    )


def _event_time(value: Any, field: str) -> float:
    try:
        parsed = parse_time(str(value))
    except (ValueError, OverflowError) as exc:
        raise InvalidEventError(f"field '{field}' must be an ISO 8601 time, got {value!r}") from exc
    if not _EARLIEST <= parsed <= _LATEST:
        raise InvalidEventError(f"field '{field}' must be a time between 2000 and 2100, got {value!r}")
    return parsed


def _check(value: Any, pattern: re.Pattern[str], field: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = "missing" if value is None or value == "" else repr(value)[:80]
        raise InvalidEventError(f"field '{field}' must be {expected}, got {shown}")
    return value
