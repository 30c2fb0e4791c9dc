"""Typed views of the events the deploy function accepts, and the decision of what each one asks for."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pushdeploy.domain.accounts import registry_account_of, repository_key, trusted_registry
from pushdeploy.domain.artifacts import artifact_reason
from pushdeploy.domain.errors import InvalidEventError, json_type, quote, quote_list, shorten
from pushdeploy.domain.names import ACCOUNT_ID, DEPLOYMENT_ID, DIGEST, EVENT_ID, REGION, REPOSITORY, TAG, TARGET
from pushdeploy.domain.outcome import HOOK_AWAITING_ACTION, DeploymentEvent, HookEvent, PullFailure
from pushdeploy.domain.push import ImagePush, Trigger, ecr_registry
from pushdeploy.domain.requests import (
    ApprovalRequest,
    GateTimeoutRequest,
    HistoryRequest,
    ManualDeployRequest,
    PromoteRequest,
    RollbackRequest,
    ScanReadyEvent,
)
from pushdeploy.domain.tasks import DeploymentCompleted, RunTaskRequest, TaskStopped, TaskTimeout
from pushdeploy.domain.times import parse_time
from pushdeploy.task_events import parse_task_request

ECR_SOURCE = "aws.ecr"
ECR_IMAGE_ACTION = "ECR Image Action"
ECS_SOURCE = "aws.ecs"
ECS_DEPLOYMENT_STATE_CHANGE = "ECS Deployment State Change"
ECS_HOOK_STATE_CHANGE = "ECS Hook State Change"
SERVICE_DEPLOYMENT_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service-deployment/[A-Za-z0-9_/.-]{1,512}")
HOOK_ID = re.compile(r"[A-Za-z0-9_.:-]{1,256}")
# Event times pushdeploy accepts: anything else is a malformed event, not a push from the year 1.
_EARLIEST, _LATEST = 946_684_800.0, 4_102_444_800.0  # 2000-01-01, 2100-01-01
# How far an event's time may be ahead of the function's clock (clock skew between AWS and the function). A
# push dated later would be the newest of its targets until then: every real push would be skipped as stale.
MAX_FUTURE_SECONDS = 300


@dataclass(frozen=True)
class IgnoredEvent:
    """An event that is not a deploy request; the function does nothing with it."""

    reason: str

    def as_result(self) -> dict[str, str]:
        return {"status": "IGNORED", "reason": self.reason}


DeployRequest = (
    ImagePush
    | ManualDeployRequest
    | RollbackRequest
    | HistoryRequest
    | ApprovalRequest
    | IgnoredEvent
    | TaskStopped
    | TaskTimeout
    | RunTaskRequest
    | DeploymentCompleted
    | ScanReadyEvent
    | GateTimeoutRequest
    | PromoteRequest
)
ECR_IMAGE_SCAN = "ECR Image Scan"
INSPECTOR_SOURCE = "aws.inspector2"
INSPECTOR_SCAN = "Inspector2 Scan"
GATE_TIMEOUT_ACTION = "gate-timeout"
PROMOTE_ACTION = "promote"
OVERRIDE_REASON_LENGTH = 500
_ACTIONS = ("deploy", "rollback", "history")
_EXAMPLES = (
    '{"repository": "api", "tag": "v1.4.2", "targets": ["prod"]}, '
    '{"action": "rollback", "repository": "api", "target": "prod"}, '
    '{"action": "history", "repository": "api", "target": "prod"}, each optionally with "dryRun": true'
)


def parse_deploy_event(
    event: Any,
    request_id: str = "manual",
    *,
    trusted_account: str,
    now: float,
    trusted_accounts: Sequence[str] = (),
    organization: bool = False,
) -> DeployRequest:
    """Decide what ``event`` asks for: a push to deploy, a manual deploy, rollback or history, or nothing.

    ``"dryRun": true`` at the top level of any of them (an ECR push copied from the logs included) asks
    for the plan only. A push must come from ``trusted_account``'s registry (the stack's own account), one
    of ``trusted_accounts`` (TrustedAccounts) or, with ``organization`` (an OrganizationId, whose bus policy
    admits the organization's accounts), any registry, and be dated at most ``MAX_FUTURE_SECONDS`` after
    ``now`` (the function's clock, epoch seconds). Raises
    InvalidEventError, naming the field, for an event that is ours but malformed or refused.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {json_type(event)}")
    dry_run = event.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise InvalidEventError(f"'dryRun' must be true or false, got {_got(dry_run)}")
    approval = parse_approval_request(event)
    if approval is not None:
        return approval
    # One-off tasks (domain.tasks): a task's end, its timeout timer, a manual run-task; a deployment's
    # COMPLETED starts the afterDeploy tasks.
    task_request = parse_task_request(event, request_id, dry_run=dry_run)
    if task_request is not None:
        return IgnoredEvent(task_request) if isinstance(task_request, str) else task_request
    if (
        event.get("source") == ECS_SOURCE
        and event.get("detail-type") == ECS_DEPLOYMENT_STATE_CHANGE
        and isinstance(event.get("detail"), dict)
        and event["detail"].get("eventName") == "SERVICE_DEPLOYMENT_COMPLETED"
    ):
        deployment = parse_deployment_event(event, now=now)
        if isinstance(deployment, DeploymentEvent):
            return DeploymentCompleted(deployment.deployment_id, deployment.service_arn)
    timer = parse_timer_request(event, request_id, dry_run)
    if timer is not None:
        return timer
    body = {key: value for key, value in event.items() if key != "dryRun"}
    if _is_scan_event(body):
        return parse_scan_event(body, trusted_account=trusted_account)
    if "detail-type" in body and "source" in body:
        parsed = _parse_ecr_event(
            body,
            trusted_account=trusted_account,
            now=now,
            trusted_accounts=trusted_accounts,
            organization=organization,
        )
        return replace(parsed, dry_run=True) if dry_run and isinstance(parsed, ImagePush) else parsed
    if "repository" in body or "action" in body:
        request = _parse_manual(body, request_id, dry_run, own_account=trusted_account)
        artifact = artifact_reason(request.tag) if isinstance(request, ManualDeployRequest) else None
        return IgnoredEvent(artifact) if artifact else request
    if "detail-type" in body or "source" in body:
        raise InvalidEventError("EventBridge event must carry both 'source' and 'detail-type'")
    raise InvalidEventError(
        "event is neither an ECR push event (EventBridge 'ECR Image Action') nor a request such as "
        + _EXAMPLES
        + "; got keys: "
        + quote_list(sorted(event), render=shorten)
    )


APPROVAL_ACTIONS = ("approve", "reject")


def parse_approval_request(event: Any) -> ApprovalRequest | None:
    """A console request that answers a pause: ``{"action": "approve" | "reject", "repository", "target",
    "requestedBy"}``; None for any other event (``parse_deploy_event`` reads those)."""
    if not isinstance(event, dict) or event.get("action") not in APPROVAL_ACTIONS:
        return None
    action = str(event["action"])
    unknown = sorted(set(event) - {"action", "repository", "target", "requestedBy", "registry"})
    if unknown:
        raise InvalidEventError(
            f"manual {action}: unknown field(s) {quote_list(unknown, render=shorten)}; it takes repository, target "
            "and requestedBy"
        )
    repository = _check(event.get("repository"), REPOSITORY, "repository", "an ECR repository name")
    if event.get("registry") is not None:  # a foreign registry's repository: its config path
        registry = _check(event["registry"], ACCOUNT_ID, "registry", "the 12-digit account id of the registry")
        repository = repository_key(repository, registry)
    target = _check(event.get("target"), TARGET, "target", "a target name")
    requested_by = event.get("requestedBy")
    if not isinstance(requested_by, str) or not 0 < len(requested_by.strip()) <= 128:
        raise InvalidEventError(
            f"manual {action}: 'requestedBy' must name who decides (at most 128 characters), got "
            f"{_described(requested_by)}; it goes into the history and the notification"
        )
    return ApprovalRequest(repository, target, action, requested_by.strip())


def parse_timer_request(event: Any, request_id: str, dry_run: bool) -> GateTimeoutRequest | PromoteRequest | None:
    """A timer's event (``domain.timers``): a gate wait's end ``{"action": "gate-timeout", "repository", "target",
    "digest"}`` or a soak's end ``{"action": "promote", "repository", "target", "from", "digest",
    "sourceDeploymentId"}``; None for any other event."""
    if not isinstance(event, dict) or event.get("action") not in (GATE_TIMEOUT_ACTION, PROMOTE_ACTION):
        return None
    action = str(event["action"])
    fields = {"action", "repository", "target", "digest", "dryRun"}
    if action == PROMOTE_ACTION:
        fields |= {"from", "sourceDeploymentId"}
    unknown = sorted(set(event) - fields)
    if unknown:
        raise InvalidEventError(
            f"{action}: unknown field(s) {quote_list(unknown, render=shorten)}; it takes "
            + ", ".join(sorted(fields - {"action", "dryRun"}))
        )
    repository = _check(event.get("repository"), REPOSITORY, "repository", "an ECR repository name")
    target = _check(event.get("target"), TARGET, "target", "a target name")
    digest = _check(event.get("digest"), DIGEST, "digest", "sha256:<64 hex digits>")
    if action == GATE_TIMEOUT_ACTION:
        if dry_run:
            raise InvalidEventError("gate-timeout: a timer's event; 'dryRun' does not apply")
        return GateTimeoutRequest(repository, target, digest, request_id)
    source = _check(event.get("from"), TARGET, "from", "the target promoted from")
    deployment_id = _check(event.get("sourceDeploymentId"), DEPLOYMENT_ID, "sourceDeploymentId", "ecs-svc/<number>")
    return PromoteRequest(repository, target, source, digest, deployment_id, request_id, dry_run)


def _is_scan_event(event: Mapping[str, Any]) -> bool:
    source, detail_type = event.get("source"), event.get("detail-type")
    return (source, detail_type) in ((ECR_SOURCE, ECR_IMAGE_SCAN), (INSPECTOR_SOURCE, INSPECTOR_SCAN))


def parse_scan_event(event: dict[str, Any], *, trusted_account: str) -> ScanReadyEvent:
    """``ECR Image Scan`` (aws.ecr) or ``Inspector2 Scan`` (aws.inspector2, whose ``repository-name`` is the
    repository's ARN): the findings of a digest are ready (or final), so pushes waiting for them resume."""
    detail_type = str(event["detail-type"])
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEventError(f"{detail_type} event has no 'detail' object")
    name = detail.get("repository-name")
    if isinstance(name, str) and name.startswith("arn:"):
        name = name.split(":repository/", 1)[-1] if ":repository/" in name else name
    repository = _check(name, REPOSITORY, "detail.repository-name", "an ECR repository name or ARN")
    digest = _check(detail.get("image-digest"), DIGEST, "detail.image-digest", "sha256:<64 hex digits>")
    account = event.get("account")
    if account != trusted_account:
        raise InvalidEventError(
            f"{detail_type} event field 'account' is {_described(account)}: only this account's ({trusted_account}) "
            "scans resume its deploys"
        )
    event_id = _check(event.get("id"), EVENT_ID, "id", "an event id (up to 128 letters, digits, . _ : -)")
    return ScanReadyEvent(repository, digest, event_id, detail_type)


ECS_TASK_STATE_CHANGE = "ECS Task State Change"
CANNOT_PULL_PREFIX = "CannotPullContainerError"


def _parse_pull_failure(event: dict[str, Any]) -> PullFailure | IgnoredEvent:
    """A service task that stopped because its image could not be pulled (the tracker's rule matches only
    those); any other task event is ignored."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEventError("ECS Task State Change event has no 'detail' object")
    reason = _text(detail, "stoppedReason", "detail.stoppedReason")
    started_by = _text(detail, "startedBy", "detail.startedBy")
    if detail.get("lastStatus") != "STOPPED" or not reason.startswith(CANNOT_PULL_PREFIX):
        return IgnoredEvent("a task state change that is no image pull failure")
    if not DEPLOYMENT_ID.fullmatch(started_by):
        return IgnoredEvent(f"task started by {shorten(started_by) or '(nobody)'}, not by a service deployment")
    cluster_arn = _text(detail, "clusterArn", "detail.clusterArn")
    group = _text(detail, "group", "detail.group")
    if ":cluster/" not in cluster_arn or not group.startswith("service:"):
        raise InvalidEventError("fields 'detail.clusterArn' and 'detail.group' (service:<name>) must name the service")
    prefix, cluster = cluster_arn.split(":cluster/", 1)
    return PullFailure(
        deployment_id=started_by,
        service_arn=f"{prefix}:service/{cluster}/{group.removeprefix('service:')}",
        task_arn=_text(detail, "taskArn", "detail.taskArn"),
        reason=reason,
    )


def parse_deployment_event(event: Any, *, now: float) -> DeploymentEvent | HookEvent | PullFailure | IgnoredEvent:
    """An ``ECS Deployment State Change`` or ``ECS Hook State Change`` event for the tracker; anything else is
    ignored or invalid. Its time may be at most ``MAX_FUTURE_SECONDS`` after ``now`` (the function's clock,
    epoch seconds)."""
    if not isinstance(event, dict) or "source" not in event or "detail-type" not in event:
        raise InvalidEventError("the tracker takes EventBridge 'ECS Deployment State Change' events")
    source, detail_type = _text(event, "source", "source"), _text(event, "detail-type", "detail-type")
    if source == ECS_SOURCE and detail_type == ECS_HOOK_STATE_CHANGE:
        return _parse_hook_event(event, now)
    if source == ECS_SOURCE and detail_type == ECS_TASK_STATE_CHANGE:
        return _parse_pull_failure(event)
    if source != ECS_SOURCE or detail_type != ECS_DEPLOYMENT_STATE_CHANGE:
        return IgnoredEvent(f"not an ECS deployment state change: {shorten(source)} / {shorten(detail_type)}")
    detail = event.get("detail")
    resources = event.get("resources")
    if not isinstance(detail, dict):
        raise InvalidEventError("ECS Deployment State Change event has no 'detail' object")
    deployment_id, event_name = detail.get("deploymentId"), detail.get("eventName")
    if not isinstance(deployment_id, str) or not DEPLOYMENT_ID.fullmatch(deployment_id):
        raise InvalidEventError(
            f"field 'detail.deploymentId' must be ecs-svc/<number>, got {_described(deployment_id)}"
        )
    if not isinstance(event_name, str) or not event_name:
        raise InvalidEventError("field 'detail.eventName' is missing")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise InvalidEventError("field 'resources' must hold the service ARN")
    updated_at = _event_time(detail.get("updatedAt") or event.get("time"), "detail.updatedAt", now)
    return DeploymentEvent(
        event_name=event_name,
        deployment_id=deployment_id,
        service_arn=resources[0],
        reason=_text(detail, "reason", "detail.reason"),
        updated_at=updated_at,
    )


def _parse_hook_event(event: dict[str, Any], now: float) -> HookEvent | IgnoredEvent:
    """A PAUSE hook awaiting action; a hook event of another kind is ignored."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEventError("ECS Hook State Change event has no 'detail' object")
    event_name = _text(detail, "eventName", "detail.eventName")
    if event_name != HOOK_AWAITING_ACTION:
        return IgnoredEvent(f"hook event {shorten(event_name) or '(none)'} asks nothing of pushdeploy")
    service_deployment = _check(
        detail.get("serviceDeploymentArn"),
        SERVICE_DEPLOYMENT_ARN,
        "detail.serviceDeploymentArn",
        "a service deployment ARN",
    )
    hook_id = _check(detail.get("hookId"), HOOK_ID, "detail.hookId", "a lifecycle hook id")
    stage = _text(detail, "lifecycleStage", "detail.lifecycleStage")
    if not stage:
        raise InvalidEventError("field 'detail.lifecycleStage' is missing")
    resources = event.get("resources")
    service_arn = _text(detail, "serviceArn", "detail.serviceArn") or (
        resources[0] if isinstance(resources, list) and resources and isinstance(resources[0], str) else ""
    )
    if not service_arn:
        raise InvalidEventError("field 'detail.serviceArn' (or 'resources') must hold the service ARN")
    deployment_id = detail.get("deploymentId")
    if deployment_id is not None and (not isinstance(deployment_id, str) or not DEPLOYMENT_ID.fullmatch(deployment_id)):
        raise InvalidEventError(
            f"field 'detail.deploymentId' must be ecs-svc/<number>, got {_described(deployment_id)}"
        )
    expires = detail.get("expiresAt")
    return HookEvent(
        event_name=event_name,
        service_arn=service_arn,
        service_deployment_arn=service_deployment,
        hook_id=hook_id,
        lifecycle_stage=shorten(stage, 64),
        expires_at=_event_time(expires, "detail.expiresAt", now + 20160 * 60) if expires is not None else None,
        updated_at=_event_time(detail.get("updatedAt") or event.get("time"), "detail.updatedAt", now),
        deployment_id=deployment_id,
    )


def _parse_ecr_event(
    event: dict[str, Any],
    *,
    trusted_account: str,
    now: float,
    trusted_accounts: Sequence[str] = (),
    organization: bool = False,
) -> DeployRequest:
    source, detail_type = _text(event, "source", "source"), _text(event, "detail-type", "detail-type")
    if source != ECR_SOURCE or detail_type != ECR_IMAGE_ACTION:
        return IgnoredEvent(f"not an ECR image action: {shorten(source)} / {shorten(detail_type)}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEventError("ECR Image Action event has no 'detail' object")
    action_type = _text(detail, "action-type", "detail.action-type")
    if action_type != "PUSH":
        return IgnoredEvent(f"ECR action {shorten(action_type) or '(none)'} is not a push")
    result = _text(detail, "result", "detail.result")
    if result != "SUCCESS":
        return IgnoredEvent(f"ECR push result {shorten(result) or '(none)'} is not SUCCESS")
    tag = _text(detail, "image-tag", "detail.image-tag")
    if not tag:
        return IgnoredEvent("untagged push (an image index's manifest or a digest-only push)")
    repository = _check(detail.get("repository-name"), REPOSITORY, "detail.repository-name", "an ECR repository name")
    digest = _check(detail.get("image-digest"), DIGEST, "detail.image-digest", "sha256:<64 hex digits>")
    _check(tag, TAG, "detail.image-tag", "an image tag")
    account, region = event.get("account"), event.get("region")
    if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account):
        raise InvalidEventError(f"ECR event field 'account' must be a 12-digit account id, got {_described(account)}")
    if not trusted_registry(account, own_account=trusted_account, trusted=trusted_accounts, organization=organization):
        raise InvalidEventError(
            f"ECR event field 'account' is {account}: a push from another account's registry is refused; "
            f"this pushdeploy deploys images of its own account ({trusted_account})"
            + (f" and of TrustedAccounts ({', '.join(trusted_accounts)})" if trusted_accounts else "")
            + " only"
        )
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise InvalidEventError(f"ECR event field 'region' must be a Region name, got {_described(region)}")
    pushed_at = _event_time(event.get("time"), "time", now)
    event_id = _check(event.get("id"), EVENT_ID, "id", "an event id (up to 128 letters, digits, . _ : -)")
    artifact = artifact_reason(
        tag,
        _text(detail, "manifest-media-type", "detail.manifest-media-type"),
        _text(detail, "artifact-media-type", "detail.artifact-media-type"),
    )
    if artifact is not None:
        return IgnoredEvent(artifact)  # a signature, attestation or SBOM: never deployed, whatever the patterns
    return ImagePush(
        repository=repository,
        tag=tag,
        digest=digest,
        registry=ecr_registry(account, region),
        trigger=Trigger.PUSH,
        event_id=event_id,
        pushed_at=pushed_at,
        registry_account=registry_account_of(repository, account, trusted_account),
    )


def _parse_manual(
    event: dict[str, Any], request_id: str, dry_run: bool, *, own_account: str | None = None
) -> ManualDeployRequest | RollbackRequest | HistoryRequest:
    action = event.get("action", "deploy")
    if action not in _ACTIONS:
        raise InvalidEventError(f"unknown action {_got(action)}; use one of: {', '.join(_ACTIONS)}")
    allowed = {
        "deploy": {"repository", "tag", "targets", "requestedBy", "overrideGates"},
        "rollback": {"repository", "target", "requestedBy"},
        "history": {"repository", "target", "limit"},
    }[action] | {"action", "registry"}
    unknown = sorted(set(event) - allowed)
    if unknown:
        takes = {
            "deploy": "repository, tag and optional targets",
            "rollback": "repository and target",
            "history": "repository, target and optional limit",
        }[action]
        raise InvalidEventError(
            f"manual {action}: unknown field(s) {quote_list(unknown, render=shorten)}; it takes {takes}"
        )
    repository = _check(event.get("repository"), REPOSITORY, "repository", "an ECR repository name")
    registry = event.get("registry")
    if registry is not None:
        registry = _check(registry, ACCOUNT_ID, "registry", "the 12-digit account id of the repository's registry")
    registry_account = registry_account_of(repository, registry or own_account or "", own_account)
    if action != "deploy":
        # Rollback and history read the target by its config path: a foreign registry's repository is
        # qualified by its account there.
        repository = repository_key(repository, registry_account)
    requested_by = event.get("requestedBy")
    if requested_by is not None and (not isinstance(requested_by, str) or not 0 < len(requested_by) <= 128):
        raise InvalidEventError(f"manual {action}: 'requestedBy' must be a name of at most 128 characters")
    if action == "history":
        if dry_run:
            raise InvalidEventError("manual history: it only reads; 'dryRun' does not apply")
        limit = event.get("limit", 20)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise InvalidEventError("manual history: 'limit' must be a whole number from 1 to 100")
        return HistoryRequest(repository, _check(event.get("target"), TARGET, "target", "a target name"), limit)
    if action == "rollback":
        target = _check(event.get("target"), TARGET, "target", "a target name")
        return RollbackRequest(repository, target, request_id, dry_run, requested_by)
    tag = _check(event.get("tag"), TAG, "tag", 'an image tag, e.g. "v1.4.2"')
    targets = event.get("targets")
    if targets is not None and (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and TARGET.fullmatch(t) for t in targets)
    ):
        raise InvalidEventError("manual deploy: 'targets' must be a non-empty list of target names")
    override = event.get("overrideGates")
    if override is not None and (
        not isinstance(override, str) or not 0 < len(override.strip()) <= OVERRIDE_REASON_LENGTH
    ):
        raise InvalidEventError(
            f"manual deploy: 'overrideGates' must give the reason (a string of 1-{OVERRIDE_REASON_LENGTH} "
            f"characters), got {_described(override)}"
        )
    if override is not None and requested_by is None:
        raise InvalidEventError("manual deploy: 'overrideGates' needs 'requestedBy' (who overrides the gates)")
    return ManualDeployRequest(
        repository=repository,
        tag=tag,
        event_id=request_id,
        targets=tuple(targets) if targets is not None else None,
        dry_run=dry_run,
        requested_by=requested_by,
        registry=registry_account,
        override_gates=override.strip() if isinstance(override, str) else None,
    )


def _text(mapping: Mapping[str, Any], key: str, field: str) -> str:
    """A string field ('' when absent or null); any other JSON value is refused, never coerced."""
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidEventError(f"field '{field}' must be a string, got {_got(value)}")
    return value


def _got(value: Any) -> str:
    """A value that is not what a field takes, as a message shows it: a string in quotes, anything else by
    its JSON type (and its JSON text); bounded either way."""
    if isinstance(value, str):
        return f"'{shorten(value)}'"
    if value is None or isinstance(value, bool):
        return json_type(value)
    return f"{json_type(value)} ({quote(value)})"


def _described(value: Any) -> str:
    """``_got``, or "missing" for a field that is absent, null or empty."""
    return "missing" if value is None or value == "" else _got(value)


def _event_time(value: Any, field: str, now: float) -> float:
    if not isinstance(value, str):
        raise InvalidEventError(f"field '{field}' must be an ISO 8601 time, got {_described(value)}")
    try:
        parsed = parse_time(value)
    except (ValueError, OverflowError) as exc:
        raise InvalidEventError(f"field '{field}' must be an ISO 8601 time, got {_got(value)}") from exc
    if not _EARLIEST <= parsed <= _LATEST:
        raise InvalidEventError(f"field '{field}' must be a time between 2000 and 2100, got {_got(value)}")
    if parsed > now + MAX_FUTURE_SECONDS:
        raise InvalidEventError(
            f"field '{field}' is {_got(value)}, more than {MAX_FUTURE_SECONDS // 60} minutes ahead of this "
            "function's clock: an event from the future is refused (it would make every later push stale)"
        )
    return parsed


def _check(value: Any, pattern: re.Pattern[str], field: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidEventError(f"field '{field}' must be {expected}, got {_described(value)}")
    return value
