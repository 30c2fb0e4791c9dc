"""A deployment's outcome, from ECS deployment state-change events: completed, failed or rolled back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pushdeploy.domain.messages import Notification, attributes_for, subject_for
from pushdeploy.domain.times import describe_time


class Outcome(StrEnum):
    """Final statuses a deployment reaches after DEPLOYING (as recorded in the ledger)."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"  # it failed, and so did ECS's rollback of it

    @property
    def published(self) -> str:
        """The status announced (the notification schema's): a failed rollback is a FAILED deploy."""
        return "FAILED" if self is Outcome.ROLLBACK_FAILED else self.value

    @property
    def failed(self) -> bool:
        """The deployed image did not end up running."""
        return self is not Outcome.COMPLETED


# Which status each outcome may follow: events come at least once and in any order, so a duplicate or a
# late FAILED after the rollback completed changes nothing.
ALLOWED_BEFORE: dict[Outcome, frozenset[str]] = {
    Outcome.COMPLETED: frozenset({"DEPLOYING"}),
    Outcome.FAILED: frozenset({"DEPLOYING"}),
    Outcome.ROLLED_BACK: frozenset({"DEPLOYING", "FAILED"}),
    Outcome.ROLLBACK_FAILED: frozenset({"DEPLOYING", "FAILED"}),
}

IN_PROGRESS = "SERVICE_DEPLOYMENT_IN_PROGRESS"
COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED = "SERVICE_DEPLOYMENT_FAILED"


@dataclass(frozen=True)
class DeploymentEvent:
    """An ``ECS Deployment State Change`` event, as the tracker reads it."""

    event_name: str
    deployment_id: str
    service_arn: str
    reason: str
    updated_at: float  # epoch seconds

    @property
    def starts_a_rollback(self) -> bool:
        """ECS's circuit breaker (or alarm) starts a new deployment that rolls back to an earlier one."""
        return self.event_name == IN_PROGRESS and "rolling back" in self.reason.lower()


HOOK_AWAITING_ACTION = "HOOK_AWAITING_ACTION"


@dataclass(frozen=True)
class PullFailure:
    """An ``ECS Task State Change``: a task of a service's deployment stopped because ECS could not pull its
    image (``stoppedReason`` CannotPullContainerError). Its ``startedBy`` names the deployment."""

    deployment_id: str  # the ecs-svc/<number> of the deployment whose task it was
    service_arn: str  # the service, built from the task's cluster and group (service:<name>)
    task_arn: str
    reason: str  # the task's stoppedReason, as ECS gave it


@dataclass(frozen=True)
class HookEvent:
    """An ``ECS Hook State Change`` event: a PAUSE lifecycle hook of a service deployment awaits action."""

    event_name: str
    service_arn: str
    service_deployment_arn: str
    hook_id: str
    lifecycle_stage: str
    expires_at: float | None  # epoch seconds: when ECS takes the hook's timeout action
    updated_at: float
    deployment_id: str | None = None  # the ecs-svc/<number> of the deployment, when the event names it


@dataclass(frozen=True)
class ApprovalState:
    """Where a deployment's approval stands, as the ledger keeps it (the last pause, and its answer)."""

    stage: str
    hook_id: str
    service_deployment_arn: str
    expires_at: float | None
    decision: str | None = None  # "approved" or "rejected"
    decided_by: str | None = None
    decided_at: float | None = None
    decided_hook_id: str | None = None  # the pause that was answered (a canary pauses before each shift)

    @property
    def awaiting(self) -> bool:
        """The last pause has no answer yet."""
        return self.decided_hook_id != self.hook_id


def approval_summary(
    approval: ApprovalState | None, outcome: Outcome, *, at: float, on_timeout: str | None
) -> tuple[str | None, dict[str, Any] | None]:
    """What the outcome says of the approval (who answered and when, or that it timed out), in words and as
    the notification's ``approval`` fields; ``at`` is the outcome's time."""
    if approval is None:
        return None, None
    fields: dict[str, Any] = {"stage": approval.stage}
    if approval.decision is not None and not approval.awaiting:
        when = _iso(approval.decided_at)
        fields |= {"decision": approval.decision, "decidedBy": approval.decided_by, "decidedAt": when}
        return f"{approval.decision} by {approval.decided_by} at {when} (at {approval.stage})", fields
    if approval.expires_at is not None and at >= approval.expires_at - 1:
        action = {"ROLLBACK": "rolled it back", "CONTINUE": "continued it"}.get(on_timeout or "", "acted")
        fields |= {"decision": "timed-out", "deadline": _iso(approval.expires_at)}
        return f"the approval at {approval.stage} timed out at {_iso(approval.expires_at)}: ECS {action}", fields
    if outcome is not Outcome.COMPLETED:
        return f"rolled back at {approval.stage}, while awaiting approval", fields
    return None, fields


def _iso(epoch: float | None) -> str:
    return describe_time(epoch) if epoch is not None else "an unknown time"


def outcome_of(event_name: str, *, is_rollback_deployment: bool) -> Outcome | None:
    """The outcome an event announces for the deployment pushdeploy started (None: nothing final yet).

    For the deployment ECS started to roll pushdeploy's back, COMPLETED means ROLLED_BACK, never success.
    """
    if is_rollback_deployment:
        return {COMPLETED: Outcome.ROLLED_BACK, FAILED: Outcome.ROLLBACK_FAILED}.get(event_name)
    return {COMPLETED: Outcome.COMPLETED, FAILED: Outcome.FAILED}.get(event_name)


def outcome_reason(
    outcome: Outcome,
    event: DeploymentEvent,
    *,
    is_rollback_deployment: bool,
    failure: str | None = None,
    stage: str | None = None,
) -> str | None:
    """Words for the team: why it failed, what it rolled back to (``failure``: the reason ECS gave before;
    ``stage``: the lifecycle stage ECS reported when the failure was learnt, if not already in ``failure``)."""
    at = f" at {stage}" if stage else ""
    if outcome is Outcome.ROLLED_BACK:
        why = f" after it failed ({failure})" if failure else ""
        return (
            f"ECS rolled the deployment back{at}{why}: the service is on its previous revision again "
            f"(rollback deployment {event.deployment_id} completed)"
        )
    if outcome is Outcome.ROLLBACK_FAILED:
        why = f" ({failure})" if failure else ""
        return f"the deployment failed{at}{why} and so did ECS's rollback of it: {event.reason}"
    if outcome is Outcome.FAILED:
        return (event.reason or "ECS reported the deployment failed") + (f" (at {stage})" if stage else "")
    return None


def render_outcome(
    started: Mapping[str, Any],
    outcome: Outcome,
    *,
    reason: str | None,
    duration_seconds: float | None,
    time: str,
    approval: Mapping[str, Any] | None = None,
) -> Notification:
    """The notification of a deployment's outcome, built from the DEPLOYING message it follows (with what
    became of the approval, ``approval_summary``, when the deployment paused for one)."""
    message = {**started, "status": outcome.published, "time": time}
    if approval is not None:
        message["approval"] = {**(started.get("approval") or {}), **approval}
    message.pop("reason", None)
    message.pop("warnings", None)
    if reason:
        message["reason"] = reason
    if duration_seconds is not None:
        message["durationSeconds"] = round(duration_seconds, 1)
    return Notification(subject=subject_for(message), message=message, attributes=attributes_for(message))


AWAITING_APPROVAL = "AWAITING_APPROVAL"


def render_awaiting(started: Mapping[str, Any], event: HookEvent, *, time: str) -> Notification:
    """The AWAITING_APPROVAL notification of a paused deployment, built from its DEPLOYING message: the stage,
    the deadline, what ECS does then, and the console requests that answer it."""
    planned = started.get("approval") if isinstance(started.get("approval"), Mapping) else {}
    assert isinstance(planned, Mapping)
    on_timeout = str(planned.get("onTimeout") or "ROLLBACK")
    deadline = describe_time(event.expires_at) if event.expires_at is not None else None
    answer = {"repository": started.get("repository"), "target": started.get("target"), "requestedBy": "<your name>"}
    if started.get("registryAccount"):  # a foreign registry's repository: the request names its registry
        answer = {**answer, "registry": started["registryAccount"]}
    approval: dict[str, Any] = {
        **{key: value for key, value in planned.items() if key in {"timeoutMinutes", "approvers"}},
        "stage": event.lifecycle_stage,
        "hookId": event.hook_id,
        "serviceDeploymentArn": event.service_deployment_arn,
        "onTimeout": on_timeout,
        "approve": {"action": "approve", **answer},
        "reject": {"action": "reject", **answer},
    }
    if deadline:
        approval["deadline"] = deadline
    until = f" by {deadline}" if deadline else ""
    then = "rolls it back" if on_timeout == "ROLLBACK" else "continues it"
    message = {**started, "status": AWAITING_APPROVAL, "time": time, "approval": approval}
    message.pop("warnings", None)
    message["reason"] = (
        f"ECS paused the deployment at {event.lifecycle_stage} for approval: approve or reject it{until} "
        f"(then ECS {then})"
    )
    return Notification(subject=subject_for(message), message=message, attributes=attributes_for(message))
