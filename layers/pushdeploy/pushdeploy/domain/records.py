"""What the ledger keeps of each deploy and each ECS deployment, as typed records.

How they are stored (keys, item layout) is the ledger adapter's business; the use cases and the tracker
handle only these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushdeploy.domain.accounts import ecs_deployment_id, scoped_deployment_id
from pushdeploy.domain.outcome import ApprovalState, DeploymentEvent
from pushdeploy.domain.report import TargetReport
from pushdeploy.domain.times import describe_time


@dataclass(frozen=True)
class HistoryItem:
    """One deploy of a target (a push, a manual deploy or a rollback), and its outcome once ECS reports it."""

    repository: str
    target: str
    tag: str
    digest: str
    image: str
    trigger: str
    status: str  # DEPLOYING, then COMPLETED, FAILED, ROLLED_BACK or ROLLBACK_FAILED
    cluster: str | None
    service: str | None
    task_definition_arn: str | None
    previous_task_definition_arn: str | None
    deployment_id: str | None
    event_id: str
    pushed_at: float
    recorded_at: float
    service_arn: str | None = None
    notification: str | None = None  # the DEPLOYING message (JSON): the outcome's message is built from it
    reason: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    notified: bool | None = None  # whether the outcome was published (None: no outcome yet)
    # The deployment's approval: its last pause (a PAUSE hook awaiting action) and the answer to it.
    approval_stage: str | None = None
    hook_id: str | None = None
    service_deployment_arn: str | None = None
    approval_expires_at: float | None = None
    decision: str | None = None  # approved | rejected
    decided_by: str | None = None
    decided_at: float | None = None
    decided_hook_id: str | None = None
    gate_override: str | None = None  # "gates overridden by alice: <reason>"
    promotion: str | None = None  # "promoted from staging (COMPLETED 10:02, soaked 30 min)"

    @property
    def approval(self) -> ApprovalState | None:
        """The approval's state, once ECS paused the deployment for one."""
        if not self.approval_stage or not self.hook_id or not self.service_deployment_arn:
            return None
        return ApprovalState(
            stage=self.approval_stage,
            hook_id=self.hook_id,
            service_deployment_arn=self.service_deployment_arn,
            expires_at=self.approval_expires_at,
            decision=self.decision,
            decided_by=self.decided_by,
            decided_at=self.decided_at,
            decided_hook_id=self.decided_hook_id,
        )

    def as_result(self) -> dict[str, Any]:
        """The item as the history request returns it (camelCase, no empty fields, no message body)."""
        fields: dict[str, Any] = {
            "time": describe_time(self.recorded_at),
            "repository": self.repository,
            "target": self.target,
            "tag": self.tag,
            "digest": self.digest,
            "image": self.image,
            "trigger": self.trigger,
            "status": self.status,
            "cluster": self.cluster,
            "service": self.service,
            "serviceArn": self.service_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "previousTaskDefinitionArn": self.previous_task_definition_arn,
            "deploymentId": ecs_deployment_id(self.deployment_id),
            "eventId": self.event_id,
            "pushedAt": self.pushed_at,
            "reason": self.reason,
            "finishedAt": self.finished_at,
            "durationSeconds": self.duration_seconds,
            "notified": self.notified,
            "approvalStage": self.approval_stage,
            "decision": self.decision,
            "decidedBy": self.decided_by,
            "decidedAt": describe_time(self.decided_at) if self.decided_at is not None else None,
            "gateOverride": self.gate_override,
            "promotedFrom": self.promotion,
        }
        return {name: value for name, value in fields.items() if value is not None}


def history_item(
    report: TargetReport, *, recorded_at: float, service_arn: str | None, notification: str | None
) -> HistoryItem:
    """The history item of a deploy that started (``report`` is its DEPLOYING report)."""
    push = report.push
    gates, promotion = report.extra.get("gates") or {}, report.extra.get("promotion") or {}
    override = gates.get("override") if isinstance(gates, dict) else None
    return HistoryItem(
        repository=push.config_key,
        target=report.target,
        tag=push.tag,
        digest=push.digest,
        image=push.image_uri,
        trigger=push.trigger.value,
        status=report.status.value,
        cluster=report.cluster,
        service=report.service,
        task_definition_arn=report.task_definition_arn,
        previous_task_definition_arn=report.previous_task_definition_arn,
        deployment_id=scoped_deployment_id(
            report.deployment_id, report.location.ledger_account if report.location else None
        ),
        event_id=push.event_id,
        pushed_at=push.pushed_at,
        recorded_at=recorded_at,
        service_arn=service_arn,
        notification=notification,
        gate_override=f"gates overridden by {override['requestedBy']}: {override['reason']}" if override else None,
        promotion=str(promotion["summary"]) if isinstance(promotion, dict) and promotion.get("summary") else None,
    )


@dataclass(frozen=True)
class DeploymentRecord:
    """What pushdeploy knows of one ECS deployment: the deploy of its that started it, or that it is ECS's
    rollback of one of its deployments, and an outcome event that came before either was known."""

    deployment_id: str
    deploy: HistoryItem | None = None
    rollback_of: str | None = None
    parked: DeploymentEvent | None = None
    stage_reached: str | None = None  # on a rollback link: the lifecycle stage ECS reported when it began
    pull_error: str | None = None  # a task of the deployment could not pull its image (its stoppedReason)

    @property
    def known(self) -> bool:
        """Ours, or linked to ours."""
        return self.deploy is not None or self.rollback_of is not None


@dataclass(frozen=True)
class OutcomeUpdate:
    """What the tracker records when a deployment reaches an outcome."""

    status: str
    finished_at: str
    reason: str | None
    duration_seconds: float | None
