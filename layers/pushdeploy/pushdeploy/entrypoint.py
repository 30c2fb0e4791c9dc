"""The deploy function's work for one request: at most once per event, with its metrics."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from pushdeploy.domain.errors import AwsCallError, InvalidEventError
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.report import DeployStatus, TargetReport
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
from pushdeploy.usecases.deploy import Deployer, DeployOutcome
from pushdeploy.usecases.rollback import TargetOperations

if TYPE_CHECKING:
    from pushdeploy.usecases.approvals import Approvals
    from pushdeploy.usecases.gating import GateResumer
    from pushdeploy.usecases.promotion import Promotions
    from pushdeploy.usecases.tasks import TaskContinuation

_METRIC_NAMES = {
    DeployStatus.DEPLOYING: "DeployStarted",
    DeployStatus.FAILED: "DeployFailed",
    DeployStatus.SKIPPED: "DeploySkipped",
    DeployStatus.PLANNED: "DeployPlanned",
    DeployStatus.RETRYING: "DeployRetrying",
    DeployStatus.PREPARING: "DeployPreparing",
    DeployStatus.COMPLETED: "TaskCompleted",
    DeployStatus.WAITING: "DeployWaiting",
}


class DeployEntryPoint:
    """Runs deploy requests. Each target of a push is deployed at most once per event: the deploy ledger keeps
    every event's result per target, so a redelivery returns the first run's result and redoes nothing, and a
    delivery whose twin is still running is ignored (the twin reports)."""

    def __init__(
        self,
        deployer: Deployer,
        operations: TargetOperations,
        *,
        approvals: Callable[[], Approvals] | None = None,
        tasks: Callable[[], TaskContinuation] | None = None,
        gates: GateResumer | None = None,
        promotions: Promotions | None = None,
    ) -> None:
        self.deployer = deployer
        self.operations = operations
        # One-off tasks (usecases.tasks): built on the first task event only.
        self._tasks = cache(tasks) if tasks is not None else None
        # Built on the first approval only: a push needs none of its clients.
        self._approvals = cache(approvals) if approvals is not None else None
        self._gates = gates  # resumes pushes waiting for their gates (a scan event, a wait's timer)
        self._promotions = promotions  # a soak timer's promotion

    def handle(
        self,
        request: ImagePush
        | ManualDeployRequest
        | RollbackRequest
        | HistoryRequest
        | ApprovalRequest
        | TaskStopped
        | TaskTimeout
        | RunTaskRequest
        | DeploymentCompleted
        | ScanReadyEvent
        | GateTimeoutRequest
        | PromoteRequest,
        event: dict[str, Any],
        context: LambdaContext,
    ) -> dict[str, Any]:
        """Deploy (or roll back, read history, answer a paused deployment, continue from a one-off task);
        raise DeployIncompleteError (after notifying) when a retry may finish the job."""
        if isinstance(request, TaskStopped | TaskTimeout | RunTaskRequest | DeploymentCompleted):
            return self._handle_task(request, context)
        if isinstance(request, ApprovalRequest):
            if self._approvals is None:
                raise InvalidEventError(f"{request.decision} is not available in this deployment of pushdeploy")
            return self._approvals().decide(request)
        if isinstance(request, ScanReadyEvent | GateTimeoutRequest):
            if self._gates is None:
                raise InvalidEventError("gates are not available in this deployment of pushdeploy")
            return (
                self._gates.scan_ready(request) if isinstance(request, ScanReadyEvent) else self._gates.timeout(request)
            )
        if isinstance(request, PromoteRequest):
            if self._promotions is None:
                raise InvalidEventError("promotions are not available in this deployment of pushdeploy")
            return self._promotions.promote(request)
        if isinstance(request, HistoryRequest):
            return self.operations.history(request)
        if isinstance(request, RollbackRequest):
            return self.operations.rollback(request)
        try:
            push = self.deployer.resolve_manual(request) if isinstance(request, ManualDeployRequest) else request
            outcome = self.deployer.deploy(
                push, remaining_ms=context.get_remaining_time_in_millis, attempt=context.aws_request_id
            )
        except AwsCallError as exc:
            # The push failed before its targets were known (config read, image lookup): still tell the team,
            # then fail so that Lambda retries it.
            self.deployer.report_push_failure(request, f"{exc}; no target was deployed, the event will be retried")
            raise
        record_metrics(outcome)
        outcome.raise_if_retryable()
        return outcome.as_result()

    def _handle_task(
        self, request: TaskStopped | TaskTimeout | RunTaskRequest | DeploymentCompleted, context: LambdaContext
    ) -> dict[str, Any]:
        if self._tasks is None:
            raise InvalidEventError("one-off tasks are not available in this deployment of pushdeploy")
        tasks = self._tasks()
        remaining = context.get_remaining_time_in_millis
        if isinstance(request, TaskStopped):
            result = tasks.stopped(request, remaining)
        elif isinstance(request, TaskTimeout):
            result = tasks.timed_out(request, remaining)
        elif isinstance(request, DeploymentCompleted):
            result = tasks.deployment_completed(request)
        else:
            result = tasks.run_manual(request)
        record_task_metric(result)
        return result


def record_task_metric(result: dict[str, Any]) -> None:
    """One metric per one-off task step that reported something (PREPARING, DEPLOYING, FAILED, COMPLETED), by
    target and status; ignored events count nothing."""
    report = result.get("task")
    if not isinstance(report, dict) or report.get("status") not in set(DeployStatus) - {DeployStatus.PLANNED}:
        return
    with single_metric(name="OneOffTaskStep", unit=MetricUnit.Count, value=1, namespace=Metrics().namespace) as metric:
        metric.add_dimension(name="target", value=str(report.get("target")))
        metric.add_dimension(name="status", value=str(report["status"]))


def record_metrics(outcome: DeployOutcome) -> None:
    """One metric per target that the push concerned: started, failed or skipped, by target and by reason
    (targets whose tags do not match are left out)."""
    if outcome.push is not None and outcome.push.dry_run:
        return
    for report in outcome.reports:
        if report.replayed or report.code == "no-match":  # counted when it happened; not a deploy
            continue
        with single_metric(
            name=_METRIC_NAMES[report.status], unit=MetricUnit.Count, value=1, namespace=Metrics().namespace
        ) as metric:
            metric.add_dimension(name="target", value=_target_dimension(report))
            if report.code:
                metric.add_dimension(name="reason", value=report.code)


def _target_dimension(report: TargetReport) -> str:
    return f"{report.push.repository}/{report.target}"
