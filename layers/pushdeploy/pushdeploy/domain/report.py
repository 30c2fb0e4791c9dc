"""The outcome of deploying one push to one target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pushdeploy.domain.accounts import TargetLocation
from pushdeploy.domain.errors import DeployError
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.taskdef import Change


class DeployStatus(StrEnum):
    """Where a target's deploy ended up (as far as the deploy function can see)."""

    DEPLOYING = "DEPLOYING"  # the service update was accepted; ECS is rolling it out
    PLANNED = "PLANNED"  # a dry run: what a real run would do
    FAILED = "FAILED"
    RETRYING = "RETRYING"  # the service update's result is unknown (its response was lost): the retry finds out
    SKIPPED = "SKIPPED"  # nothing to do for this target (tag does not match, already running)
    PREPARING = "PREPARING"  # a one-off task (a migration) runs first; its end continues the deploy
    COMPLETED = "COMPLETED"  # a manual one-off task (run-task) exited with code 0
    WAITING = "WAITING"  # its gates wait for ECR (scan findings, a signature): resumed by the scan event or a timer


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
    replayed: bool = False  # the first result of this event, returned again to a redelivery
    location: TargetLocation | None = None  # the target's account and Region, when its config names them

    @property
    def final(self) -> bool:
        """Whether running the event again must return this report rather than try again: everything but a
        dry run, a failure a retry may mend, an unknown update, and a notification not published."""
        if self.push.dry_run or self.notification_error is not None:
            return False
        if self.status in {DeployStatus.RETRYING, DeployStatus.PREPARING}:
            return False
        return not (self.status is DeployStatus.FAILED and self.retryable)

    @classmethod
    def replay(cls, push: ImagePush, result: Mapping[str, Any]) -> TargetReport:
        """The report whose ``as_result()`` was ``result``, for a redelivery of the event that produced it."""
        fields = dict(result)
        names = {
            "cluster": "cluster",
            "service": "service",
            "taskDefinitionArn": "task_definition_arn",
            "previousTaskDefinitionArn": "previous_task_definition_arn",
            "deploymentId": "deployment_id",
            "reason": "reason",
            "code": "code",
        }
        known = {attribute: fields.pop(name) for name, attribute in names.items() if name in fields}
        changes = tuple(
            Change(c["container"], c["field"], c.get("name"), c.get("before"), c.get("after"))
            for c in fields.pop("changes", [])
        )
        return cls(
            push,
            str(fields.pop("target")),
            DeployStatus(fields.pop("status")),
            changes=changes,
            warnings=tuple(fields.pop("warnings", [])),
            extra=fields,
            notified=True,
            replayed=True,
            **known,
        )

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


class DeployIncompleteError(DeployError):
    """Raised after every target was tried and notified, when a retry may finish the job."""

    retryable = True


@dataclass
class DeployOutcome:
    """Every target's report for one push."""

    push: ImagePush | None
    reports: list[TargetReport] = field(default_factory=list)
    reason: str | None = None
    in_progress_elsewhere: bool = False  # another invocation of the same event is deploying: it reports

    @property
    def status(self) -> str:
        """FAILED if any target failed, DEPLOYING if any deploys, else SKIPPED (RETRYING counts as failed:
        the invocation is retried)."""
        statuses = {report.status for report in self.reports}
        if DeployStatus.RETRYING in statuses:
            statuses.add(DeployStatus.FAILED)
        for status in (DeployStatus.FAILED, DeployStatus.DEPLOYING, DeployStatus.PLANNED, DeployStatus.WAITING):
            if status in statuses:
                return status.value
        return DeployStatus.SKIPPED.value

    @property
    def notification_errors(self) -> list[str]:
        """The notifications that could not be published."""
        return [f"{r.target}: {r.notification_error}" for r in self.reports if r.notification_error]

    @property
    def retry_problems(self) -> list[str]:
        """Why running the push again may finish what this run could not (empty: nothing to retry)."""
        retryable = [
            report
            for report in self.reports
            if report.retryable and report.status in {DeployStatus.FAILED, DeployStatus.RETRYING}
        ]
        return [f"{report.target}: {report.reason}" for report in retryable] + self.notification_errors

    def raise_if_retryable(self) -> None:
        """Fail the invocation when a target failed for a passing reason or a notification was lost."""
        if self.retry_problems:
            raise DeployIncompleteError("deploy incomplete, to be retried: " + "; ".join(self.retry_problems))

    def as_result(self) -> dict[str, Any]:
        """The invocation's return value."""
        if self.in_progress_elsewhere and self.push is not None:
            return {
                "status": "IGNORED",
                "repository": self.push.repository,
                "tag": self.push.tag,
                "digest": self.push.digest,
                "reason": "the same event is being handled by another invocation",
            }
        result: dict[str, Any] = {"status": self.status}
        if self.push is not None:
            result.update(repository=self.push.repository, tag=self.push.tag, digest=self.push.digest)
            if self.push.dry_run:
                result["dryRun"] = True
        if self.reason:
            result["reason"] = self.reason
        result["targets"] = [report.as_result() for report in self.reports]
        if self.notification_errors:
            result["notificationErrors"] = self.notification_errors
        return result
