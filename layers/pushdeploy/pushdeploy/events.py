"""Typed views of the events the deploy function accepts, and the decision of what each one asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.ledger import parse_time
from pushdeploy.domain.push import ImagePush, Trigger, ecr_registry
from pushdeploy.usecases.deploy import ManualDeployRequest

ECR_SOURCE = "aws.ecr"
ECR_IMAGE_ACTION = "ECR Image Action"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_MANUAL_FIELDS = frozenset({"repository", "tag", "targets"})


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


DeployRequest = ImagePush | ManualDeployRequest | IgnoredEvent


def parse_deploy_event(event: Any, request_id: str = "manual") -> DeployRequest:
    """Decide what ``event`` asks for: a push to deploy, a manual deploy, or nothing.

    Raises InvalidEventError, naming the problem, for an event that is ours but malformed.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    if "detail-type" in event and "source" in event:
        return _parse_eventbridge(EcrImageActionEvent(event))
    if "repository" in event:
        return _parse_manual(event, request_id)
    if "detail-type" in event or "source" in event:
        raise InvalidEventError("EventBridge event must carry both 'source' and 'detail-type'")
    raise InvalidEventError(
        "event is neither an ECR push event (EventBridge 'ECR Image Action') nor a manual deploy "
        '({"repository": "api", "tag": "v1.4.2", "targets": ["prod"]}); got keys: '
        + (", ".join(sorted(map(str, event))) or "none")
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
    try:
        pushed_at = parse_time(str(event.get("time")))
    except ValueError as exc:
        raise InvalidEventError(f"ECR event field 'time' must be an ISO 8601 time, got {event.get('time')!r}") from exc
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEventError("ECR event has no 'id'")
    return ImagePush(
        repository=event.repository_name,
        tag=event.image_tag,
        digest=event.image_digest,
        registry=ecr_registry(account, region),
        trigger=Trigger.PUSH,
        event_id=event_id,
        pushed_at=pushed_at,
    )


def _parse_manual(event: dict[str, Any], request_id: str) -> ManualDeployRequest:
    unknown = sorted(set(event) - _MANUAL_FIELDS)
    if unknown:
        raise InvalidEventError(
            f"manual deploy: unknown field(s) {', '.join(unknown)}; it takes repository, tag and optional targets"
        )
    repository = _check(event.get("repository"), _REPOSITORY, "repository", "an ECR repository name")
    tag = _check(event.get("tag"), _TAG, "tag", 'an image tag, e.g. "v1.4.2"')
    targets = event.get("targets")
    if targets is not None and (
        not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets)
    ):
        raise InvalidEventError("manual deploy: 'targets' must be a non-empty list of target names")
    return ManualDeployRequest(
        repository=repository,
        tag=tag,
        event_id=request_id,
        targets=tuple(targets) if targets is not None else None,
    )


def _check(value: Any, pattern: re.Pattern[str], field: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = "missing" if value is None or value == "" else repr(value)[:80]
        raise InvalidEventError(f"field '{field}' must be {expected}, got {shown}")
    return value
