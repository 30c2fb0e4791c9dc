"""Track a deployment to its outcome from ECS deployment state-change events (no polling)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.ledger import describe_time
from pushdeploy.domain.outcome import (
    ALLOWED_BEFORE,
    DeploymentEvent,
    outcome_of,
    outcome_reason,
    render_outcome,
)
from pushdeploy.domain.ports import DeployLedger, NotificationPublisher

logger = Logger(service="pushdeploy", child=True)
LINK_DAYS = 30


class Tracker:
    """Correlates ECS events with the deploys pushdeploy started, and announces each outcome once."""

    def __init__(
        self, *, ledger: DeployLedger, publisher: NotificationPublisher, clock: Callable[[], float] = time.time
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._clock = clock

    def track(self, event: DeploymentEvent) -> dict[str, Any]:
        """Record and announce what ``event`` means for a deploy of ours; ignore everything else."""
        record = self._ledger.find_deployment(event.deployment_id)
        if record is None:
            return self._maybe_link_rollback(event)
        rolled_back_id = record.get("rollbackOf")
        if rolled_back_id:
            deployment = self._ledger.find_deployment(str(rolled_back_id))
            if deployment is None:
                return _ignored(f"deployment {rolled_back_id}, rolled back by {event.deployment_id}, is not known")
            deployment["deploymentId"] = rolled_back_id
        else:
            deployment = {**record, "deploymentId": event.deployment_id}
        is_rollback = bool(rolled_back_id)
        outcome = outcome_of(event.event_name, is_rollback_deployment=is_rollback)
        if outcome is None:
            return _ignored(f"{event.event_name} of {event.deployment_id}: not an outcome")
        reason = outcome_reason(
            outcome, event, is_rollback_deployment=is_rollback, failure=deployment.get("reason") or None
        )
        # Clocks differ (ECS's event time vs the push's): a duration is never negative.
        duration = max(0.0, event.updated_at - float(deployment["pushedAt"])) if deployment.get("pushedAt") else None
        fields: dict[str, Any] = {"finishedAt": describe_time(event.updated_at)}
        if reason:
            fields["reason"] = reason
        if duration is not None:
            fields["durationSeconds"] = round(duration, 1)
        if not self._ledger.record_outcome(deployment, outcome.value, ALLOWED_BEFORE[outcome], fields):
            return _ignored(f"{deployment['deploymentId']} is already past {outcome.value} (a duplicate or late event)")
        started = json.loads(str(deployment.get("notification") or "{}"))
        notification = render_outcome(
            started or _minimal_message(deployment),
            outcome,
            reason=reason,
            duration_seconds=duration,
            time=describe_time(self._clock()),
        )
        self._publisher.publish(notification)
        logger.info("Deployment outcome", extra={"deploymentId": deployment["deploymentId"], "outcome": outcome.value})
        return {"status": outcome.value, "deploymentId": deployment["deploymentId"], "reason": reason}

    def _maybe_link_rollback(self, event: DeploymentEvent) -> dict[str, Any]:
        if not event.starts_a_rollback:
            return _ignored(f"deployment {event.deployment_id} was not started by pushdeploy")
        ours = self._ledger.latest_deployment_of(event.service_arn)
        if ours is None:
            return _ignored(f"rollback {event.deployment_id} is of a service pushdeploy has not deployed")
        self._ledger.link_rollback(event.deployment_id, ours, self._clock() + LINK_DAYS * 86400)
        return {"status": "ROLLING_BACK", "deploymentId": ours, "rollbackDeploymentId": event.deployment_id}


def _ignored(reason: str) -> dict[str, Any]:
    return {"status": "IGNORED", "reason": reason}


def _minimal_message(deployment: dict[str, Any]) -> dict[str, Any]:
    names = (
        "repository",
        "tag",
        "digest",
        "target",
        "cluster",
        "service",
        "taskDefinitionArn",
        "previousTaskDefinitionArn",
        "deploymentId",
        "trigger",
    )
    return {"schemaVersion": 1, **{name: deployment.get(name) for name in names}}
