"""Starting a one-off task of a target (``domain.tasks``): RunTask, the timer of its timeout, the ledger's
record of it (the claim held while it runs), and PREPARING; and queueing a push that arrives meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.errors import AwsCallError, DeployError
from pushdeploy.domain.ledger import Claim, EventResult, TargetState
from pushdeploy.domain.names import short_digest
from pushdeploy.domain.ports import TaskGateway, TaskLedger, Timers
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.tasks import (
    TASK_LEASE_MARGIN_SECONDS,
    TASK_TIMEOUT_ACTION,
    OneOffTask,
    RunSettings,
    TaskPhase,
    TaskRun,
    client_token,
    log_stream_link,
    run_task_request,
)
from pushdeploy.domain.timers import Timer, earliest_due, timer_name
from pushdeploy.domain.times import describe_time
from pushdeploy.usecases.announce import Announcer

logger = Logger(service="pushdeploy", child=True)


class TasksUnavailableError(DeployError):
    """The target asks for a one-off task but this stack has no timers to bound it."""

    code = "config"


class TaskRunner:
    """Starts one-off tasks and queues the pushes that arrive while one runs."""

    def __init__(
        self,
        *,
        ecs: TaskGateway,
        ledger: TaskLedger,
        timers: Timers | None,
        timer_prefix: str | None,
        announcer: Announcer,
        clock: Callable[[], float],
        region: str,
        record_result: Callable[[str, str, EventResult], object] | None = None,
    ) -> None:
        self._ecs = ecs
        self._ledger = ledger
        self._timers = timers
        self._timer_prefix = timer_prefix
        self._announcer = announcer
        self._clock = clock
        self._region = region
        self._record_result = record_result

    def start(
        self,
        *,
        phase: TaskPhase,
        index: int,
        task: OneOffTask,
        push: ImagePush,
        target: str,
        cluster: str,
        claim: Claim,
        task_definition_arn: str,
        task_definition: Mapping[str, Any],
        run_settings: RunSettings,
        base: TargetReport,
        previous_task_definition_arn: str | None = None,
        deployment_id: str | None = None,
    ) -> TargetReport:
        """Start ``task`` (the ``index``-th of its phase) on ``task_definition_arn`` under ``claim``; returns the
        PREPARING report, announced. Its end (an event) or its timeout (a timer) continues the deploy."""
        if self._timers is None or self._timer_prefix is None:
            raise TasksUnavailableError(
                f"{phase.value} tasks need the stack's timers (TIMER_ROLE_ARN and TIMER_PREFIX) to bound them"
            )
        token = client_token(push.event_id, target, phase.value, str(index), task_definition_arn)
        request = run_task_request(
            cluster=cluster,
            task_definition_arn=task_definition_arn,
            task=task,
            run=run_settings,
            network_mode=task_definition.get("networkMode"),
            push=push,
            target=target,
            phase=phase,
            token=token,
        )
        task_arn = self._ecs.run_task(request)
        now = self._clock()
        timeout_at = now + task.timeout_minutes * 60
        name = timer_name(self._timer_prefix, "task", target, task_arn.rsplit("/", 1)[-1])
        run = TaskRun(
            phase=phase,
            index=index,
            done=index,
            task_arn=task_arn,
            cluster=cluster,
            container=task.container,
            command=task.command,
            task_definition_arn=task_definition_arn,
            claim_token=claim.token,
            started_at=now,
            timeout_at=timeout_at,
            timer=name,
            push=push,
            timeout_minutes=task.timeout_minutes,
            previous_task_definition_arn=previous_task_definition_arn,
            log_url=log_stream_link(task_definition, task.container, task_arn, self._region),
            deployment_id=deployment_id,
            rollback_on_failure=task.rollback_on_failure,
        )
        event = {"action": TASK_TIMEOUT_ACTION, "repository": push.repository, "target": target, "taskArn": task_arn}
        self._timers.set_timer(Timer(name, earliest_due(timeout_at, now), event))
        if not self._ledger.start_task(push.repository, target, run, timeout_at + TASK_LEASE_MARGIN_SECONDS):
            # Another deploy took the target over meanwhile: this task is nobody's, stop it.
            self._ecs.stop_task(cluster, task_arn, "pushdeploy: the deploy that started this task lost its claim")
            self._timers.cancel_timer(name)
            raise AwsCallError("deploy ledger", "ClaimLost", "the target's claim lapsed before the task was recorded")
        logger.info("Task started", extra={"taskArn": task_arn, "phase": phase.value, "index": index})
        report = replace(
            base,
            status=DeployStatus.PREPARING,
            task_definition_arn=task_definition_arn,
            previous_task_definition_arn=previous_task_definition_arn,
            deployment_id=deployment_id,
            code=phase.value,
            reason=f"{run.label} started in container {task.container} ({task_arn}); "
            + (
                "the service is updated once it exits with code 0"
                if phase is TaskPhase.BEFORE
                else "its end is reported when it fails"
            )
            + f", or stopped and reported FAILED after {task.timeout_minutes} min",
            extra={"task": run.task_fields()},
        )
        return self._announcer.announce(report)

    def queue(self, push: ImagePush, target: str, state: TargetState, base: TargetReport) -> TargetReport | None:
        """Queue ``push`` behind the task that holds the target's claim: the report (SKIPPED "queued", or
        SKIPPED "stale" when a newer push is queued already); None when no task holds the claim any more."""
        running, claim = state.task, state.claim
        if running is None or claim is None:
            return None
        queued, other = self._ledger.queue_push(push.repository, target, push, claim.token)
        if not queued and other is None:
            return None
        waiting = f"{running.label} of tag {running.push.tag} runs"
        if not queued and other is not None and other.event_id != push.event_id:
            return replace(
                base,
                code="stale",
                reason=f"stale: tag {push.tag} (pushed {describe_time(push.pushed_at)}) is older than tag {other.tag} "
                f"(pushed {describe_time(other.pushed_at)}), which waits while {waiting}",
            )
        if queued and other is not None:
            self._displaced(other, push, target, base)
        return replace(
            base,
            code="queued",
            reason=f"queued: {waiting}; tag {push.tag} ({short_digest(push.digest)}) is deployed after it",
        )

    def _displaced(self, displaced: ImagePush, newer: ImagePush, target: str, base: TargetReport) -> None:
        """A queued push replaced by a newer one: its event's result is SKIPPED as stale, naming the newer tag."""
        report = replace(
            base,
            push=displaced,
            status=DeployStatus.SKIPPED,
            code="stale",
            reason=f"stale: tag {displaced.tag} was waiting, and tag {newer.tag} (pushed "
            f"{describe_time(newer.pushed_at)}) arrived after it: only the newest runs",
        )
        logger.info("Queued push displaced", extra={"target": target, "tag": displaced.tag, "newer": newer.tag})
        if self._record_result is not None:
            try:
                self._record_result(
                    displaced.repository, target, EventResult(displaced.event_id, report.as_result(), self._clock())
                )
            except DeployError as exc:
                logger.warning("Stale result not recorded", extra={"target": target, "error": str(exc)})
