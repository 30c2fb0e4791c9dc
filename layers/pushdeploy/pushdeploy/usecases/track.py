"""Track a deployment to its outcome from ECS deployment state-change events (no polling)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.ledger import describe_time
from pushdeploy.domain.outcome import (
    ALLOWED_BEFORE,
    COMPLETED,
    FAILED,
    DeploymentEvent,
    Outcome,
    outcome_of,
    outcome_reason,
    render_outcome,
)
from pushdeploy.domain.ports import DeployLedger, NotificationPublisher

logger = Logger(service="pushdeploy", child=True)
LINK_DAYS = 30


class Tracker:
    """Correlates ECS events with the deploys pushdeploy started, and announces each outcome once.

    Events come at least once and in any order. ECS's rollback of one of ours is a deployment of its own,
    recognised by its IN_PROGRESS ("rolling back"); an outcome of it that arrives before that is kept
    (parked) and applied once the link is known.
    """

    def __init__(
        self, *, ledger: DeployLedger, publisher: NotificationPublisher, clock: Callable[[], float] = time.time
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._clock = clock

    def track(self, event: DeploymentEvent) -> dict[str, Any]:
        """Record and announce what ``event`` means for a deploy of ours; ignore everything else."""
        record = self._ledger.find_deployment(event.deployment_id)
        if record is None or not (record.get("rollbackOf") or record.get("targetPk")):
            return self._unknown(event)
        return self._apply(event, record)

    def _unknown(self, event: DeploymentEvent) -> dict[str, Any]:
        """A deployment pushdeploy did not start: ECS's rollback of one of ours, or someone else's."""
        ours = self._ledger.latest_deployment_of(event.service_arn)
        if ours is None:
            return _ignored(f"deployment {event.deployment_id} is of a service pushdeploy has not deployed")
        expires = self._clock() + LINK_DAYS * 86400
        if event.starts_a_rollback:
            known = self._ledger.link_rollback(event.deployment_id, ours, expires)
            parked = known.get("parked")
            if parked:  # its outcome came first: apply it now
                return self._apply(DeploymentEvent(**parked), known)
            return {"status": "ROLLING_BACK", "deploymentId": ours, "rollbackDeploymentId": event.deployment_id}
        if event.event_name in {COMPLETED, FAILED}:
            known = self._ledger.park_event(event.deployment_id, asdict(event), expires)
            if known.get("rollbackOf"):  # linked meanwhile
                return self._apply(event, known)
            return _ignored(
                f"deployment {event.deployment_id} was not started by pushdeploy (kept in case it "
                "turns out to be ECS's rollback of one of its deployments)"
            )
        return _ignored(f"deployment {event.deployment_id} was not started by pushdeploy")

    def _apply(self, event: DeploymentEvent, record: dict[str, Any]) -> dict[str, Any]:
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
        if deployment.get("status") == outcome.value and deployment.get("notified") is False:
            # Recorded by an earlier attempt whose publish failed: announce it now, as recorded.
            return self._announce(deployment, outcome, deployment.get("reason"), deployment.get("durationSeconds"))
        reason = outcome_reason(
            outcome, event, is_rollback_deployment=is_rollback, failure=deployment.get("reason") or None
        )
        # Clocks differ (ECS's event time vs the push's): a duration is never negative.
        duration = max(0.0, event.updated_at - float(deployment["pushedAt"])) if deployment.get("pushedAt") else None
        # "notified" turns true once the outcome is published: a retry after a failed publish announces it.
        fields: dict[str, Any] = {"finishedAt": describe_time(event.updated_at), "notified": False}
        if reason:
            fields["reason"] = reason
        if duration is not None:
            fields["durationSeconds"] = round(duration, 1)
        if not self._ledger.record_outcome(deployment, outcome.value, ALLOWED_BEFORE[outcome], fields):
            return _ignored(f"{deployment['deploymentId']} is already past {outcome.value} (a duplicate or late event)")
        if outcome.failed and deployment.get("repository") and deployment.get("target"):
            self._ledger.mark_deployed_outcome(
                str(deployment["repository"]),
                str(deployment["target"]),
                str(deployment.get("taskDefinitionArn") or ""),
                outcome.value,
            )
        return self._announce(deployment, outcome, reason, duration)

    def _announce(
        self, deployment: dict[str, Any], outcome: Outcome, reason: str | None, duration: float | None
    ) -> dict[str, Any]:
        """Publish the outcome (raising if SNS refuses it, so the event is retried), then note it was."""
        started = json.loads(str(deployment.get("notification") or "{}"))
        notification = render_outcome(
            started or _minimal_message(deployment),
            outcome,
            reason=reason,
            duration_seconds=duration,
            time=describe_time(self._clock()),
        )
        self._publisher.publish(notification)
        self._ledger.mark_outcome_notified(str(deployment["deploymentId"]))
        logger.info("Deployment outcome", extra={"deploymentId": deployment["deploymentId"], "outcome": outcome.value})
        return {"status": outcome.published, "deploymentId": deployment["deploymentId"], "reason": reason}


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
