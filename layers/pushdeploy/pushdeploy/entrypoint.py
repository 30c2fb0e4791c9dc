"""The deploy function's work for one request: at most once per event, with its metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from pushdeploy.adapters.errors import error_code
from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.requests import HistoryRequest, ManualDeployRequest, RollbackRequest
from pushdeploy.usecases.deploy import Deployer, DeployIncompleteError, DeployOutcome
from pushdeploy.usecases.rollback import TargetOperations

_METRIC_NAMES = {
    DeployStatus.DEPLOYING: "DeployStarted",
    DeployStatus.FAILED: "DeployFailed",
    DeployStatus.SKIPPED: "DeploySkipped",
    DeployStatus.PLANNED: "DeployPlanned",
    DeployStatus.RETRYING: "DeployRetrying",
}


class DeployEntryPoint:
    """Runs deploy requests. A push event runs once per event id (powertools Idempotency): a redelivery
    returns the first run's result. A manual request always runs: it is a deliberate act."""

    def __init__(
        self,
        deployer: Deployer,
        operations: TargetOperations,
        persistence: BasePersistenceLayer,
        *,
        expires_after_seconds: int = 3600,
    ) -> None:
        self.deployer = deployer
        self.operations = operations
        self.idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=expires_after_seconds)
        self._run_once = idempotent_function(
            data_keyword_argument="event", persistence_store=persistence, config=self.idempotency
        )(self._run)

    def handle(
        self,
        request: ImagePush | ManualDeployRequest | RollbackRequest | HistoryRequest,
        event: dict[str, Any],
        context: LambdaContext,
    ) -> dict[str, Any]:
        """Deploy (or roll back, or read history); raise DeployIncompleteError (after notifying) when a retry
        may finish the job. Dry runs and manual requests always run; pushes run once per event."""
        if isinstance(request, HistoryRequest):
            return self.operations.history(request)
        if isinstance(request, RollbackRequest):
            return self.operations.rollback(request)
        self.idempotency.register_lambda_context(context)
        try:
            if isinstance(request, ManualDeployRequest) or request.dry_run:
                return self._run(event=event, request=request, context=context)
            result: dict[str, Any] = self._run_once(event=event, request=request, context=context)
        except IdempotencyAlreadyInProgressError:
            # A duplicate delivery while the first is still running: that one deploys (and its own retries
            # finish the job if it fails), so this one has nothing to do.
            return {
                "status": "IGNORED",
                "repository": request.repository,
                "tag": request.tag,
                "digest": getattr(request, "digest", ""),
                "reason": "the same event is being handled by another invocation",
            }
        except DeployIncompleteError:
            raise  # every target was notified already
        except (AwsCallError, IdempotencyPersistenceLayerError) as exc:
            # The push failed before its targets were known (config read, idempotency record, image lookup):
            # still tell the team, then fail so that Lambda retries it.
            self.deployer.report_push_failure(
                request, f"{_describe(exc)}; no target was deployed, the event will be retried"
            )
            raise
        return result

    def _run(
        self, *, event: dict[str, Any], request: ImagePush | ManualDeployRequest, context: LambdaContext
    ) -> dict[str, Any]:
        push = self.deployer.resolve_manual(request) if isinstance(request, ManualDeployRequest) else request
        outcome = self.deployer.deploy(push, remaining_ms=context.get_remaining_time_in_millis)
        record_metrics(outcome)
        outcome.raise_if_retryable()
        return outcome.as_result()


def _describe(exc: Exception) -> str:
    """The failure in words that name the AWS call (powertools wraps the idempotency store's errors)."""
    if isinstance(exc, IdempotencyPersistenceLayerError):
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ClientError | BotoCoreError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ClientError):
            return (
                f"dynamodb:{cause.operation_name} failed for the idempotency record: {error_code(cause)}: "
                f"{cause.response.get('Error', {}).get('Message', '')}"
            )
        return f"the idempotency record could not be written: {cause or exc}"
    return str(exc)


def record_metrics(outcome: DeployOutcome) -> None:
    """One metric per target: started, failed or skipped, by target and by reason."""
    if outcome.push is not None and outcome.push.dry_run:
        return
    for report in outcome.reports:
        with single_metric(
            name=_METRIC_NAMES[report.status], unit=MetricUnit.Count, value=1, namespace=Metrics().namespace
        ) as metric:
            metric.add_dimension(name="target", value=_target_dimension(report))
            if report.code:
                metric.add_dimension(name="reason", value=report.code)


def _target_dimension(report: TargetReport) -> str:
    return f"{report.push.repository}/{report.target}"
