"""The outcome of deploying one push to one target."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.taskdef import Change


class DeployStatus(StrEnum):
    """Where a target's deploy ended up (as far as the deploy function can see)."""

    DEPLOYING = "DEPLOYING"  # the service update was accepted; ECS is rolling it out
    PLANNED = "PLANNED"  # a dry run: what a real run would do
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # nothing to do for this target (tag does not match, already running)


@dataclass(frozen=True)
class TargetReport:
    """What happened to one target, enough to notify a person and to retry safely."""

    push: ImagePush
    target: str
    status: DeployStatus
    cluster: str | None = None
    service: str | None = None
    task_definition_arn: str | None = None
    previous_task_definition_arn: str | None = None
    deployment_id: str | None = None
    changes: tuple[Change, ...] = ()
    reason: str | None = None
    retryable: bool = False
    parameter: str | None = None
    code: str | None = None  # why it was skipped or failed, for metrics: "no-match", "stale", "config"...
    notified: bool = False  # its notification was published (or, for a re-publication, published again)
    notification_error: str | None = None
    warnings: tuple[str, ...] = ()
    slack_webhook: str | None = None  # the target's own Slack webhook (a name under the stack's path)
    extra: dict[str, Any] = field(default_factory=dict)  # more fields for the notification (rollback, plan)

    @property
    def notifies(self) -> bool:
        """Skipped targets are logged, not announced."""
        return self.status not in {DeployStatus.SKIPPED, DeployStatus.PLANNED}

    def as_result(self) -> dict[str, Any]:
        """A short summary for the invocation's return value."""
        result: dict[str, Any] = {"target": self.target, "status": self.status.value}
        for key, value in (
            ("cluster", self.cluster),
            ("service", self.service),
            ("taskDefinitionArn", self.task_definition_arn),
            ("previousTaskDefinitionArn", self.previous_task_definition_arn),
            ("deploymentId", self.deployment_id),
            ("reason", self.reason),
            ("code", self.code),
        ):
            if value is not None:
                result[key] = value
        if self.changes:
            result["changes"] = [change.as_dict() for change in self.changes]
        if self.warnings:
            result["warnings"] = list(self.warnings)
        result.update(self.extra)
        return result
