"""A deployment's outcome, from ECS deployment state-change events: completed, failed or rolled back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pushdeploy.domain.messages import Notification, attributes_for, subject_for


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


def outcome_of(event_name: str, *, is_rollback_deployment: bool) -> Outcome | None:
    """The outcome an event announces for the deployment pushdeploy started (None: nothing final yet).

    For the deployment ECS started to roll pushdeploy's back, COMPLETED means ROLLED_BACK, never success.
    """
    if is_rollback_deployment:
        return {COMPLETED: Outcome.ROLLED_BACK, FAILED: Outcome.ROLLBACK_FAILED}.get(event_name)
    return {COMPLETED: Outcome.COMPLETED, FAILED: Outcome.FAILED}.get(event_name)


def outcome_reason(
    outcome: Outcome, event: DeploymentEvent, *, is_rollback_deployment: bool, failure: str | None = None
) -> str | None:
    """Words for the team: why it failed, what it rolled back to (``failure``: the reason ECS gave before)."""
    if outcome is Outcome.ROLLED_BACK:
        why = f" after it failed ({failure})" if failure else ""
        return (
            f"ECS rolled the deployment back{why}: the service is on its previous revision again "
            f"(rollback deployment {event.deployment_id} completed)"
        )
    if outcome is Outcome.ROLLBACK_FAILED:
        why = f" ({failure})" if failure else ""
        return f"the deployment failed{why} and so did ECS's rollback of it: {event.reason}"
    if outcome is Outcome.FAILED:
        return event.reason or "ECS reported the deployment failed"
    return None


def render_outcome(
    started: Mapping[str, Any], outcome: Outcome, *, reason: str | None, duration_seconds: float | None, time: str
) -> Notification:
    """The notification of a deployment's outcome, built from the DEPLOYING message it follows."""
    message = {**started, "status": outcome.published, "time": time}
    message.pop("reason", None)
    message.pop("warnings", None)
    if reason:
        message["reason"] = reason
    if duration_seconds is not None:
        message["durationSeconds"] = round(duration_seconds, 1)
    return Notification(subject=subject_for(message), message=message, attributes=attributes_for(message))
