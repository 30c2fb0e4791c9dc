"""Continuing from a one-off task's end (``domain.tasks``): the task's ``ECS Task State Change`` STOPPED event
or its timeout timer ends it; the deploy goes on from the ledger, never from a waiting Lambda.

- beforeDeploy: exit code 0 resumes the deploy (the next task, or the service update); anything else, or the
  timeout (the task is stopped), reports FAILED and the service is never updated.
- afterDeploy: a deployment of ours COMPLETED (the event reaches the deploy function, which has the
  permissions to run tasks and roll back; the tracker only records); a failure is FAILED and, with
  ``rollbackOnFailure``, rolls the service back as the rollback action does.
- run-task: a one-off task on the target's current revision, reported the same way (COMPLETED when it succeeds).

Then the push queued behind the task (the newest that arrived meanwhile) is deployed. An event or timer that
finds the ledger moved on (a duplicate, a late event, the timer after the event) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import ConfigError, DeployError, InvalidEventError
from pushdeploy.domain.ledger import CLAIM_LEASE_SECONDS, Claim, PushRecord, TargetState
from pushdeploy.domain.ports import DeployLedger, EcsGateway, TargetConfigSource, TaskGateway, TaskLedger, Timers
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.records import DeploymentRecord
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.requests import RollbackRequest
from pushdeploy.domain.scope import check_cluster, check_service
from pushdeploy.domain.service import check_deployable
from pushdeploy.domain.taskdef import TAG_IMAGE_DIGEST, TAG_IMAGE_TAG
from pushdeploy.domain.tasks import (
    DeploymentCompleted,
    OneOffTask,
    RunTaskRequest,
    TaskPhase,
    TaskRun,
    TaskStopped,
    TaskTimeout,
    check_tasks,
    default_container,
    end_reason,
)
from pushdeploy.usecases.announce import Announcer
from pushdeploy.usecases.deploy import Deployer
from pushdeploy.usecases.recording import ClaimedTarget, Recorder
from pushdeploy.usecases.rollback import TargetOperations
from pushdeploy.usecases.task_runner import TaskRunner

logger = Logger(service="pushdeploy", child=True)


class TaskContinuation:
    """What the deploy function does with a task's end, its timer, a deployment's COMPLETED and run-task."""

    def __init__(
        self,
        *,
        deployer: Deployer,
        runner: TaskRunner,
        operations: TargetOperations,
        configs: TargetConfigSource,
        ecs: EcsGateway,
        tasks: TaskGateway,
        ledger: DeployLedger,
        task_ledger: TaskLedger,
        find_deployment: Callable[[str], DeploymentRecord | None],
        timers: Timers | None,
        announcer: Announcer,
        clock: Callable[[], float],
        allowed_clusters: Sequence[str] = ("*",),
        account: str | None = None,
        region: str | None = None,
    ) -> None:
        self._deployer = deployer
        self._runner = runner
        self._operations = operations
        self._configs = configs
        self._ecs = ecs
        self._tasks = tasks
        self._ledger = ledger
        self._task_ledger = task_ledger
        self._find_deployment = find_deployment
        self._timers = timers
        self._announcer = announcer
        self._recorder = Recorder(ledger, clock)
        self._clock = clock
        self._allowed_clusters = tuple(allowed_clusters)
        self._account = account
        self._region = region

    # -- a task's end -------------------------------------------------------------------------------------

    def stopped(self, event: TaskStopped, remaining_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
        """A task pushdeploy started STOPPED: continue (or end) the deploy that waits for it."""
        found = self._task_ledger.find_task(event.task_arn)
        if found is None:
            return _ignored(f"task {event.task_arn} is none of pushdeploy's deploys")
        repository, target = found
        state = self._ledger.read_state(repository, target)
        run = state.task
        if (
            run is not None
            and run.task_arn is None
            and run.ended_task_arn == event.task_arn
            and run.holds_ended(state.claim)
        ):
            # The event again, after an invocation that ended the task but failed before finishing its deploy
            # (the claim is still the task's): finish it now.
            succeeded, reason = end_reason(run, event)
            return self._after_end(
                run,
                state=state,
                target=target,
                succeeded=succeeded,
                reason=reason,
                event=event,
                remaining_ms=remaining_ms,
            )
        if run is None or run.task_arn != event.task_arn:
            return _ignored(
                f"task {event.task_arn} is not the one target {target} waits for (a duplicate or late event)"
            )
        succeeded, reason = end_reason(run, event)
        ended = self._task_ledger.end_task(repository, target, event.task_arn, succeeded=succeeded)
        if ended is None:
            return _ignored(f"task {event.task_arn} was ended already (a duplicate event or its timeout)")
        self._cancel_timer(ended)
        logger.info("Task stopped", extra={"taskArn": event.task_arn, "succeeded": succeeded, "reason": reason})
        return self._after_end(
            ended,
            state=state,
            target=target,
            succeeded=succeeded,
            reason=reason,
            event=event,
            remaining_ms=remaining_ms,
        )

    def _after_end(
        self,
        run: TaskRun,
        *,
        state: TargetState,
        target: str,
        succeeded: bool,
        reason: str,
        event: TaskStopped,
        remaining_ms: Callable[[], int],
    ) -> dict[str, Any]:
        details = {
            "exitCode": event.exit_code(run.container),
            "stoppedReason": event.stopped_reason,
            "stopCode": event.stop_code,
        }
        if succeeded:
            report = self._succeeded(run, state, target, remaining_ms)
        else:
            report = self._failed(run, state, target, reason, details)
        return self._then_queued(report, run.push.repository, target, remaining_ms)

    def timed_out(self, request: TaskTimeout, remaining_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
        """A running task's timer: stop the task and report FAILED, if it still runs (the ledger says)."""
        state = self._ledger.read_state(request.repository, request.target)
        run = state.task
        if run is None or run.task_arn != request.task_arn:
            return _ignored(f"task {request.task_arn} is not running for target {request.target}: nothing to time out")
        ended = self._task_ledger.end_task(request.repository, request.target, request.task_arn, succeeded=False)
        if ended is None:
            return _ignored(f"task {request.task_arn} ended before its timeout")
        reason = f"{ended.label} timed out after {ended.timeout_minutes} min and was stopped"
        try:
            self._tasks.stop_task(
                ended.cluster, request.task_arn, f"pushdeploy: timed out after {ended.timeout_minutes} min"
            )
        except DeployError as exc:  # reported, not retried: the ledger has ended the task already
            reason += f" (StopTask failed: {exc})"
        report = self._failed(ended, state, request.target, reason, {"timedOut": True})
        return self._then_queued(report, request.repository, request.target, remaining_ms)

    def _succeeded(
        self, run: TaskRun, state: TargetState, target: str, remaining_ms: Callable[[], int]
    ) -> TargetReport:
        if run.phase is TaskPhase.BEFORE:
            return self._deployer.resume(run.push, target, remaining_ms)
        config, base = self._target(run.push, target, DeployStatus.COMPLETED)
        claimed = self._claimed(run, state, target)
        if run.phase is TaskPhase.AFTER and config is not None and run.index + 1 < len(config.after_deploy):
            try:
                return self._start_after(
                    config,
                    push=run.push,
                    claim=claimed.claim,
                    index=run.index + 1,
                    deployment_id=run.deployment_id,
                    base=base,
                )
            except DeployError as exc:
                return self._failed(run, state, target, f"afterDeploy[{run.index + 1}] could not start: {exc}", {})
        done = replace(
            base,
            task_definition_arn=run.task_definition_arn,
            code=run.phase.value,
            reason=f"{run.label} exited with code 0",
            extra={"task": {**run.task_fields(), "exitCode": 0}},
        )
        self._recorder.release(claimed, None, done, quiet=True)
        # A manual task is announced; afterDeploy tasks that pass add nothing to the COMPLETED already told.
        return self._announcer.announce(done) if run.phase is TaskPhase.MANUAL else done

    def _failed(
        self, run: TaskRun, state: TargetState, target: str, reason: str, details: dict[str, Any]
    ) -> TargetReport:
        """Report the task's failure (FAILED, with its exit code, stopped reason and log link), give the
        claim back, and roll back after a failed afterDeploy task that asks for it."""
        _, base = self._target(run.push, target, DeployStatus.FAILED)
        if run.phase is TaskPhase.BEFORE:
            reason = (
                f"{reason}; revision {run.task_definition_arn} was registered but the service was not updated to it"
            )
        elif run.phase is TaskPhase.AFTER:
            reason = f"{reason}; after the deployment {run.deployment_id} of {run.task_definition_arn} completed"
        failed = replace(
            base,
            task_definition_arn=run.task_definition_arn,
            previous_task_definition_arn=run.previous_task_definition_arn,
            deployment_id=run.deployment_id,
            code="task-failed" if "timed out" not in reason else "task-timeout",
            reason=reason,
            extra={"task": {**run.task_fields(), **details}},
        )
        self._recorder.release(self._claimed(run, state, target), None, failed, quiet=True)
        failed = self._announcer.announce(failed)
        if run.phase is TaskPhase.AFTER and run.rollback_on_failure:
            failed = self._roll_back(failed, run, target)
        return failed

    def _roll_back(self, failed: TargetReport, run: TaskRun, target: str) -> TargetReport:
        request = RollbackRequest(
            run.push.repository,
            target,
            f"after-deploy-rollback-{run.deployment_id or run.push.event_id}"[:128],
            requested_by="pushdeploy afterDeploy (rollbackOnFailure)",
        )
        try:
            result = self._operations.rollback(request)
        except DeployError as exc:
            logger.error("Rollback after a failed afterDeploy task failed", extra={"error": str(exc)})
            return replace(failed, extra={**failed.extra, "rollback": {"error": str(exc)}})
        return replace(failed, extra={**failed.extra, "rollback": result})

    def _then_queued(
        self, report: TargetReport, repository: str, target: str, remaining_ms: Callable[[], int]
    ) -> dict[str, Any]:
        """Once the target's claim is given back, deploy the push queued behind the task (if any)."""
        result: dict[str, Any] = {"task": report.as_result()}
        if report.status is DeployStatus.PREPARING:
            return result  # the next task of the same deploy holds the claim; the queue waits for it
        queued = self._task_ledger.take_queued(repository, target)
        if queued is not None:
            logger.info("Deploying the push queued behind the task", extra={"target": target, "tag": queued.tag})
            outcome = self._deployer.deploy(replace(queued, targets=(target,)), remaining_ms=remaining_ms)
            result["queued"] = outcome.as_result()
        return result

    # -- afterDeploy --------------------------------------------------------------------------------------

    def deployment_completed(self, event: DeploymentCompleted) -> dict[str, Any]:
        """A deployment COMPLETED: when it is a deploy of ours whose target has afterDeploy tasks, run the first."""
        record = self._find_deployment(event.deployment_id)
        deploy = record.deploy if record else None
        if deploy is None or deploy.trigger == Trigger.ROLLBACK.value or not deploy.task_definition_arn:
            return _ignored(f"deployment {event.deployment_id} is no deploy of pushdeploy's with afterDeploy tasks")
        push = ImagePush(
            repository=deploy.repository,
            tag=deploy.tag,
            digest=deploy.digest,
            registry=(deploy.image or "").split("/", 1)[0],
            trigger=Trigger(deploy.trigger),
            event_id=f"after-deploy-{event.deployment_id}"[:128],
            pushed_at=deploy.pushed_at,
        )
        config, base = self._target(push, deploy.target, DeployStatus.FAILED)
        if config is None or not config.after_deploy:
            return _ignored(f"target {deploy.target} has no afterDeploy tasks")
        claim = Claim(uuid.uuid4().hex, PushRecord(push.digest, push.tag, push.pushed_at, push.event_id), 0.0)
        claim = replace(claim, expires_at=self._clock() + CLAIM_LEASE_SECONDS)
        taken = self._ledger.claim(push.repository, deploy.target, claim, self._clock())
        if not taken.acquired:
            why = "handled already" if push.event_id in taken.state.events else "another deploy holds the target"
            return _ignored(f"afterDeploy of deployment {event.deployment_id} not run: {why}")
        deployed = taken.state.deployed
        if deployed is None or deployed.task_definition_arn != deploy.task_definition_arn:
            self._ledger.release(push.repository, deploy.target, claim.token)
            return _ignored("the target runs another revision now: its afterDeploy tasks are not run")
        base = replace(base, previous_task_definition_arn=deploy.previous_task_definition_arn)
        try:
            report = self._start_after(
                config, push=push, claim=claim, index=0, deployment_id=event.deployment_id, base=base
            )
        except DeployError as exc:
            failed = replace(
                base, task_definition_arn=deploy.task_definition_arn, code=exc.code, reason=f"afterDeploy: {exc}"
            )
            self._recorder.release(ClaimedTarget(push, deploy.target, claim, taken.state), None, failed, quiet=True)
            return {"task": self._announcer.announce(failed).as_result()}
        return {"task": report.as_result()}

    def _start_after(
        self,
        config: TargetConfig,
        *,
        push: ImagePush,
        claim: Claim,
        index: int,
        deployment_id: str | None,
        base: TargetReport,
    ) -> TargetReport:
        service = self._ecs.describe_service(config.cluster, config.service)
        described, _ = self._ecs.describe_task_definition(service.task_definition_arn)
        check_tasks(
            config.parameter,
            TaskPhase.AFTER,
            tasks=config.after_deploy,
            task_definition=described,
            run=service.run,
            service_name=service.name,
        )
        return self._runner.start(
            phase=TaskPhase.AFTER,
            index=index,
            task=config.after_deploy[index],
            push=push,
            target=config.name,
            cluster=config.cluster,
            claim=claim,
            task_definition_arn=service.task_definition_arn,
            task_definition=described,
            run_settings=service.run,
            base=base,
            previous_task_definition_arn=base.previous_task_definition_arn,
            deployment_id=deployment_id,
        )

    # -- run-task -----------------------------------------------------------------------------------------

    def run_manual(self, request: RunTaskRequest) -> dict[str, Any]:
        """Run a one-off task on the target's current revision (dry run: say what would run)."""
        raw = self._configs.target_parameters(request.repository)
        parameter = next((name for name in raw if target_name(name) == request.target), None)
        if parameter is None:
            known = ", ".join(sorted(target_name(name) for name in raw)) or "none"
            raise InvalidEventError(
                f"repository {request.repository} has no target named {request.target} (its targets: {known})"
            )
        config = parse_target_config(parameter, raw[parameter])
        check_cluster(config.cluster, self._allowed_clusters, account=self._account, region=self._region)
        check_service(config.service, account=self._account, region=self._region)
        service = self._ecs.describe_service(config.cluster, config.service)
        check_deployable(service, config.cluster)
        described, tags = self._ecs.describe_task_definition(service.task_definition_arn)
        tag_values = {tag["key"]: tag["value"] for tag in tags}
        repository_image = next(
            (
                str(c.get("image", ""))
                for c in described.get("containerDefinitions", [])
                if f"/{request.repository}" in str(c.get("image", ""))
            ),
            "",
        )
        push = ImagePush(
            repository=request.repository,
            tag=tag_values.get(TAG_IMAGE_TAG, "current"),
            digest=tag_values.get(TAG_IMAGE_DIGEST, ""),
            registry=repository_image.split("/", 1)[0] if repository_image else "",
            trigger=Trigger.MANUAL,
            event_id=request.event_id,
            # Not a push: its claim must never out-rank one. A push arriving while the task runs (or pushed
            # just before the request) is newer, so it waits and is queued behind the task, never stale.
            pushed_at=0.0,
            dry_run=request.dry_run,
            requested_by=request.requested_by,
        )
        container = request.container or default_container(described, push.repository_uri if push.registry else None)
        if container is None:
            raise ConfigError(parameter, "run-task: the task definition has no essential container to run in")
        task = OneOffTask(container, request.command, request.timeout_minutes)
        try:
            check_tasks(
                parameter,
                TaskPhase.MANUAL,
                tasks=(task,),
                task_definition=described,
                run=service.run,
                service_name=service.name,
            )
        except ConfigError as exc:
            raise InvalidEventError(str(exc).replace("field 'run-task[0].container'", "field 'container'")) from exc
        base = TargetReport(
            push,
            config.name,
            DeployStatus.PLANNED,
            cluster=config.cluster,
            service=config.service,
            task_definition_arn=service.task_definition_arn,
            parameter=parameter,
            slack_webhook=config.slack_webhook,
        )
        if request.dry_run:
            planned = replace(
                base,
                reason=f"dry run: would run {task.describe()} in container {container} of "
                f"{service.task_definition_arn}",
                extra={
                    "dryRun": True,
                    "task": {
                        "container": container,
                        "command": list(task.command),
                        "timeoutMinutes": task.timeout_minutes,
                    },
                },
            )
            return {"task": planned.as_result()}
        claim = Claim(uuid.uuid4().hex, push.record, self._clock() + CLAIM_LEASE_SECONDS)
        taken = self._ledger.claim(push.repository, config.name, claim, self._clock())
        if not taken.acquired:
            if push.event_id in taken.state.events:
                return {"task": taken.state.events[push.event_id].result, "replayed": True}
            raise DeployError(f"target {config.name} is being deployed right now; run the task after it")
        try:
            report = self._runner.start(
                phase=TaskPhase.MANUAL,
                index=0,
                task=task,
                push=push,
                target=config.name,
                cluster=config.cluster,
                claim=claim,
                task_definition_arn=service.task_definition_arn,
                task_definition=described,
                run_settings=service.run,
                base=base,
            )
        except DeployError:
            self._ledger.release(push.repository, config.name, claim.token)
            raise
        return {"task": report.as_result()}

    # -- helpers ------------------------------------------------------------------------------------------

    def _target(self, push: ImagePush, target: str, status: DeployStatus) -> tuple[TargetConfig | None, TargetReport]:
        """The target's config (None when it is gone or broken) and the report of ``push`` to it."""
        raw = self._configs.target_parameters(push.repository)
        parameter = next((name for name in raw if target_name(name) == target), None)
        config: TargetConfig | None = None
        if parameter is not None:
            try:
                config = parse_target_config(parameter, raw[parameter])
            except ConfigError as exc:
                logger.warning("Target config unreadable", extra={"target": target, "error": str(exc)})
        return config, TargetReport(
            push,
            target,
            status,
            cluster=config.cluster if config else None,
            service=config.service if config else None,
            parameter=parameter,
            slack_webhook=config.slack_webhook if config else None,
        )

    @staticmethod
    def _claimed(run: TaskRun, state: TargetState, target: str) -> ClaimedTarget:
        claim = state.claim if state.claim and state.claim.token == run.claim_token else None
        return ClaimedTarget(run.push, target, claim or Claim(run.claim_token, run.push.record, 0.0), state)

    def _cancel_timer(self, run: TaskRun) -> None:
        if self._timers is None:
            return
        try:
            self._timers.cancel_timer(run.timer)
        except DeployError as exc:  # it fires, finds the task ended, and changes nothing
            logger.warning("Task timer not cancelled", extra={"timer": run.timer, "error": str(exc)})


def _ignored(reason: str) -> dict[str, Any]:
    logger.info("Task event ignored", extra={"reason": reason})
    return {"status": "IGNORED", "reason": reason}
