"""Track a deployment to its outcome from ECS deployment state-change events (no polling)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, overload

from aws_lambda_powertools import Logger

from pushdeploy.domain.accounts import ecs_deployment_id, pull_hint, scoped_deployment_id
from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.names import account_of
from pushdeploy.domain.outcome import (
    ALLOWED_BEFORE,
    COMPLETED,
    FAILED,
    ApprovalState,
    DeploymentEvent,
    HookEvent,
    Outcome,
    PullFailure,
    approval_summary,
    outcome_of,
    outcome_reason,
    render_awaiting,
    render_outcome,
)
from pushdeploy.domain.ports import ApprovalLedger, DeploymentStages, NotificationPublisher, TrackerLedger
from pushdeploy.domain.records import DeploymentRecord, HistoryItem, OutcomeUpdate
from pushdeploy.domain.times import describe_time

logger = Logger(service="pushdeploy", child=True)
LINK_DAYS = 30


class Tracker:
    """Correlates ECS events with the deploys pushdeploy started, and announces each outcome once.

    Events come at least once and in any order. An outcome of a deployment not known yet is kept (parked):
    it may be ECS's rollback of one of ours (recognised by its IN_PROGRESS, "rolling back"), or one of ours
    whose deploy is being recorded (the deploy's commit hands it back, and it is applied then).
    """

    def __init__(
        self,
        *,
        ledger: TrackerLedger,
        publisher: NotificationPublisher,
        clock: Callable[[], float] = time.time,
        approvals: ApprovalLedger | None = None,
        stages: DeploymentStages | None = None,
        own_account: str | None = None,
        on_completed: Callable[[HistoryItem, str, float], object] | None = None,
    ) -> None:
        # An event of a workload account is correlated by its account and deployment id: ECS deployment ids
        # are unique per account only (domain.accounts.scoped_deployment_id).
        self._own_account = own_account
        self._ledger = ledger
        # What follows a COMPLETED deploy (the soak timers of the targets promoting from it): set before the
        # outcome is recorded, so that a retry of the event sets it again (a duplicate is the same timer).
        self._on_completed = on_completed
        self._publisher = publisher
        self._clock = clock
        self._approvals = approvals  # where each pause of a deployment (a PAUSE hook) is noted
        self._stages = stages  # where a failing deployment had got to (read once, when the failure is learnt)

    def track(self, event: DeploymentEvent | HookEvent | PullFailure) -> dict[str, Any]:
        """Record and announce what ``event`` means for a deploy of ours; ignore everything else."""
        if isinstance(event, PullFailure):
            return self._pull_failed(replace(event, deployment_id=self._scoped(event.deployment_id, event.service_arn)))
        if isinstance(event, HookEvent):
            event = replace(event, deployment_id=self._scoped(event.deployment_id, event.service_arn))
            return self._paused(event)
        event = replace(event, deployment_id=self._scoped(event.deployment_id, event.service_arn))
        record = self._ledger.find_deployment(event.deployment_id)
        if record is None or not record.known:
            return self._unknown(event)
        return self._apply(event, record)

    def _pull_failed(self, event: PullFailure) -> dict[str, Any]:
        """A task of a deployment of ours could not pull its image: keep it on the deployment's record, so its
        outcome (the circuit breaker's FAILED, the rollback) says what to fix. Nothing is announced now: ECS
        keeps trying until its circuit breaker or alarms decide."""
        record = self._ledger.find_deployment(event.deployment_id)
        if record is None or record.deploy is None:
            return _ignored(f"deployment {event.deployment_id} of task {event.task_arn} was not started by pushdeploy")
        if record.pull_error is None:
            self._ledger.note_pull_error(event.deployment_id, event.reason, self._clock() + LINK_DAYS * 86_400)
        logger.warning("Image pull failed", extra={"deploymentId": event.deployment_id, "reason": event.reason[:300]})
        return {"status": "PULL_FAILED", "deploymentId": event.deployment_id, "taskArn": event.task_arn}

    def _paused(self, event: HookEvent) -> dict[str, Any]:
        """A PAUSE hook of a deployment of ours awaits action: note the pause, announce AWAITING_APPROVAL."""
        deployment_id = event.deployment_id or self._ledger.latest_deployment_of(event.service_arn)
        record = self._ledger.find_deployment(deployment_id) if deployment_id else None
        if deployment_id is None or record is None or record.deploy is None:
            return _ignored(f"paused service deployment {event.service_deployment_arn} was not started by pushdeploy")
        deploy = record.deploy
        if deploy.status != "DEPLOYING":
            return _ignored(f"{deployment_id} is {deploy.status}: its pause is no longer awaited")
        if deploy.hook_id == event.hook_id:
            return _ignored(f"pause {event.hook_id} of {deployment_id} was announced already (a duplicate event)")
        if self._approvals is None:
            return _ignored("this tracker keeps no approvals")
        started = json.loads(deploy.notification or "{}") or _minimal_message(deploy, deployment_id)
        notification = render_awaiting(started, event, time=describe_time(self._clock()))
        self._publisher.publish(notification)
        pause = ApprovalState(event.lifecycle_stage, event.hook_id, event.service_deployment_arn, event.expires_at)
        self._approvals.record_pause(deploy, deployment_id, pause)
        logger.info("Deployment awaits approval", extra={"deploymentId": deployment_id, "stage": pause.stage})
        return {
            "status": "AWAITING_APPROVAL",
            "deploymentId": deployment_id,
            "stage": pause.stage,
            "hookId": pause.hook_id,
        }

    def _unknown(self, event: DeploymentEvent) -> dict[str, Any]:
        """A deployment pushdeploy has no record of: ECS's rollback of one of ours, one of ours whose deploy
        is being recorded, or someone else's."""
        expires = self._clock() + LINK_DAYS * 86400
        if event.starts_a_rollback:
            ours = self._ledger.latest_deployment_of(event.service_arn)
            if ours is None:
                return _ignored(f"deployment {event.deployment_id} is of a service pushdeploy has not deployed")
            known = self._ledger.link_rollback(event.deployment_id, ours, expires, self._stage(event.service_arn))
            if known.parked:  # its outcome came first: apply it now
                return self._apply(known.parked, known)
            return {"status": "ROLLING_BACK", "deploymentId": ours, "rollbackDeploymentId": event.deployment_id}
        if event.event_name in {COMPLETED, FAILED}:
            known = self._ledger.park_event(event, expires)
            if known.known:  # its deploy was recorded, or its rollback link made, meanwhile
                return self._apply(event, known)
            return _ignored(
                f"deployment {event.deployment_id} was not started by pushdeploy, as far as it knows yet (its "
                "outcome is kept in case the deployment turns out to be one of its own, or ECS's rollback of one)"
            )
        return _ignored(f"deployment {event.deployment_id} was not started by pushdeploy")

    def _apply(self, event: DeploymentEvent, record: DeploymentRecord) -> dict[str, Any]:
        deployment_id = record.deployment_id
        deploy = record.deploy
        ours = record  # the deployment of ours the outcome is about (not ECS's rollback deployment)
        if record.rollback_of:
            rolled_back = self._ledger.find_deployment(record.rollback_of)
            if rolled_back is None or rolled_back.deploy is None:
                return _ignored(f"deployment {record.rollback_of}, rolled back by {event.deployment_id}, is not known")
            deployment_id, deploy, ours = record.rollback_of, rolled_back.deploy, rolled_back
        assert deploy is not None
        is_rollback = record.rollback_of is not None
        outcome = outcome_of(event.event_name, is_rollback_deployment=is_rollback)
        if outcome is None:
            return _ignored(f"{event.event_name} of {event.deployment_id}: not an outcome")
        if deploy.status == outcome.value and deploy.notified is False:
            # Recorded by an earlier attempt whose publish failed: announce it now, as recorded.
            return self._announce(
                deploy, deployment_id, outcome, deploy.reason, deploy.duration_seconds, at=event.updated_at
            )
        # The stage it reached: read when ECS's failure is first learnt (its FAILED, else its rollback's start).
        stage = self._stage(event.service_arn) if outcome is Outcome.FAILED else None
        if is_rollback and deploy.status != Outcome.FAILED.value:
            stage = record.stage_reached
        reason = outcome_reason(
            outcome, event, is_rollback_deployment=is_rollback, failure=deploy.reason or None, stage=stage
        )
        planned = json.loads(deploy.notification or "{}").get("approval") or {}
        note, _ = approval_summary(deploy.approval, outcome, at=event.updated_at, on_timeout=planned.get("onTimeout"))
        if note:
            reason = f"{reason}; {note}" if reason else note
        hint = pull_hint(
            f"{event.reason} {deploy.reason or ''} {ours.pull_error or ''}",
            deploy.image,
            account_of(deploy.service_arn or event.service_arn),
        )
        if hint and outcome.failed:
            reason = f"{reason}; {hint}" if reason else hint
        # Clocks differ (ECS's event time vs the push's): a duration is never negative.
        duration = round(max(0.0, event.updated_at - deploy.pushed_at), 1) if deploy.pushed_at else None
        update = OutcomeUpdate(outcome.value, describe_time(event.updated_at), reason, duration)
        # A rollback that completes is promoted nowhere: what it put back is no newer than what was promoted.
        if (
            outcome is Outcome.COMPLETED
            and self._on_completed is not None
            and deploy.status == "DEPLOYING"
            and deploy.trigger != "rollback"
        ):
            self._on_completed(deploy, deployment_id, event.updated_at)
        if not self._ledger.record_outcome(deploy, deployment_id, update, ALLOWED_BEFORE[outcome]):
            return _ignored(f"{deployment_id} is already past {outcome.value} (a duplicate or late event)")
        if outcome.failed:
            self._ledger.mark_deployed_outcome(
                deploy.repository, deploy.target, deploy.task_definition_arn or "", outcome.value
            )
        return self._announce(deploy, deployment_id, outcome, reason, duration, at=event.updated_at)

    def _stage(self, service_arn: str) -> str | None:
        """The lifecycle stage ECS reports for the service's deployment; None when unknown or unreadable (it
        only adds to the outcome's words, which are announced all the same). A workload account's service is
        not this account's ECS to ask."""
        if self._stages is None:
            return None
        account = account_of(service_arn)
        if self._own_account is not None and account is not None and account != self._own_account:
            return None
        try:
            return self._stages.stage_reached(service_arn)
        except AwsCallError as exc:
            logger.warning("Lifecycle stage not read", extra={"serviceArn": service_arn, "error": str(exc)})
            return None

    def _announce(
        self,
        deploy: HistoryItem,
        deployment_id: str,
        outcome: Outcome,
        reason: str | None,
        duration: float | None,
        *,
        at: float,
    ) -> dict[str, Any]:
        """Publish the outcome (raising if SNS refuses it, so the event is retried), then note it was. ``at``
        is when ECS reached the outcome: an approval's timeout is judged against it, not this clock."""
        started = json.loads(deploy.notification or "{}")
        planned = started.get("approval") or {}
        moment = self._clock()
        _, approval = approval_summary(deploy.approval, outcome, at=at, on_timeout=planned.get("onTimeout"))
        notification = render_outcome(
            started or _minimal_message(deploy, deployment_id),
            outcome,
            reason=reason,
            duration_seconds=duration,
            time=describe_time(moment),
            approval=approval,
        )
        self._publisher.publish(notification)
        self._ledger.mark_outcome_notified(deployment_id)
        logger.info("Deployment outcome", extra={"deploymentId": deployment_id, "outcome": outcome.value})
        return {"status": outcome.published, "deploymentId": deployment_id, "reason": reason}

    @overload
    def _scoped(self, deployment_id: str, service_arn: str) -> str: ...
    @overload
    def _scoped(self, deployment_id: str | None, service_arn: str) -> str | None: ...
    def _scoped(self, deployment_id: str | None, service_arn: str) -> str | None:
        account = account_of(service_arn)
        foreign = account if self._own_account is not None and account not in {None, self._own_account} else None
        return scoped_deployment_id(deployment_id, foreign)


def _ignored(reason: str) -> dict[str, Any]:
    return {"status": "IGNORED", "reason": reason}


def _minimal_message(deploy: HistoryItem, deployment_id: str) -> dict[str, Any]:
    """The outcome's message when the DEPLOYING one was not kept."""
    return {
        "schemaVersion": 1,
        "repository": deploy.repository,
        "tag": deploy.tag,
        "digest": deploy.digest,
        "target": deploy.target,
        "cluster": deploy.cluster,
        "service": deploy.service,
        "taskDefinitionArn": deploy.task_definition_arn,
        "previousTaskDefinitionArn": deploy.previous_task_definition_arn,
        "deploymentId": ecs_deployment_id(deployment_id),
        "trigger": deploy.trigger,
    }
