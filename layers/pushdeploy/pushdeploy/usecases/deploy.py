"""Deploy a pushed image to every target of its repository whose tag policy matches.

Each target, independently: check its config and scope, claim it in the deploy ledger (``decide_claim``
says what the claim allows), read the service and render the next revision, ask ``plan_target`` what the
deploy takes, then execute the plan's steps, publish the notification and commit the ledger. A dry run shows
the same plan. Every failure is notified; those a retry may fix make the invocation raise once every target
was tried.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from pushdeploy.domain.accounts import TargetLocation, located, role_session_name
from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import AwsCallError, ConfigError, DeployError
from pushdeploy.domain.ledger import CLAIM_LEASE_SECONDS, Claim, PendingRevision, TargetState
from pushdeploy.domain.messages import Notification
from pushdeploy.domain.outcome import DeploymentEvent
from pushdeploy.domain.plan import (
    ClaimAction,
    ClaimDecision,
    StepKind,
    TargetPlan,
    admit_target,
    decide_claim,
    failed_report,
    out_of_time_report,
    planned_report,
    preview_claim,
    select_targets,
    with_task_steps,
)
from pushdeploy.domain.ports import (
    AlarmCatalog,
    DeployLedger,
    DeploymentControl,
    EcsGateway,
    ImageCatalog,
    NotificationPublisher,
    ParameterCatalog,
    TargetConfigSource,
)
from pushdeploy.domain.push import ImagePush, Trigger, ecr_registry, manual_push
from pushdeploy.domain.report import DeployIncompleteError, DeployOutcome, DeployStatus, TargetReport
from pushdeploy.domain.requests import ManualDeployRequest
from pushdeploy.domain.service import ServiceState, as_created, deploy_warnings
from pushdeploy.domain.taskdef import fingerprint
from pushdeploy.domain.tasks import TaskPhase, tasks_done
from pushdeploy.usecases.announce import Announcer
from pushdeploy.usecases.planning import Planner
from pushdeploy.usecases.recording import ClaimedTarget, Recorder, renotified
from pushdeploy.usecases.steps import TARGET_TIME_BUDGET_MS, StepRunner
from pushdeploy.usecases.targets import TargetClientsFactory

if TYPE_CHECKING:  # the gates' and promotions' modules are imported where a target uses them
    from pushdeploy.usecases.gating import Gated, GateKeeper
    from pushdeploy.usecases.task_runner import TaskRunner

__all__ = ["DeployIncompleteError", "DeployOutcome", "Deployer", "deploy_warnings"]

# The service is named here: a child logger created before POWERTOOLS_SERVICE_NAME is read would not attach.
logger = Logger(service="pushdeploy", child=True)

# A target is not started with less time left than this: its AWS calls (each bounded by the client's
# timeouts and retries) and the ledger commit must fit, or the next attempt would find it half-done.
IN_PROGRESS_ELSEWHERE = "in-progress-elsewhere"  # a report code: another invocation handles this event
ALL_TARGETS = "*"  # the target named in a notification about a push that failed before its targets were known
BUSY_WAIT_SECONDS = 45.0


@dataclass(frozen=True)
class _Run:
    """One target's deploy of one push, as it goes."""

    push: ImagePush
    config: TargetConfig
    claim: Claim
    base: TargetReport  # the report so far: the target, its cluster and service
    remaining_ms: Callable[[], int]
    planner: Planner | None = None  # a target in another account or Region: its own (None: the stack's)
    steps: StepRunner | None = None


class Deployer:
    """The deploy use case, wired to its ports."""

    def __init__(
        self,
        *,
        configs: TargetConfigSource,
        ecs: EcsGateway,
        parameters: ParameterCatalog,
        images: ImageCatalog,
        publisher: NotificationPublisher,
        ledger: DeployLedger,
        region: str,
        account: str | None = None,
        allowed_clusters: Sequence[str] = ("*",),
        allowed_families: Sequence[str] = ("*",),
        notify_skipped: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        busy_wait_seconds: float = BUSY_WAIT_SECONDS,
        apply_early_outcome: Callable[[DeploymentEvent], object] | None = None,
        control: DeploymentControl | None = None,
        alarms: AlarmCatalog | None = None,
        allowed_accounts: Sequence[str] = (),
        clients_for_target: TargetClientsFactory | None = None,
        tasks: TaskRunner | None = None,
        gates: GateKeeper | None = None,
    ) -> None:
        self._configs = configs
        self._tasks = tasks  # one-off tasks (beforeDeploy): started here, continued by usecases.tasks
        self._gates = gates  # a target's supply-chain gates, asked before anything is registered
        # Targets in a workload account (or another Region): clients of the role there, from this factory.
        self._allowed_accounts = tuple(allowed_accounts)
        self._clients_for_target = clients_for_target
        self._allowed_families = tuple(allowed_families)
        self._ecs = ecs
        # Strategies and approvals: the UpdateService that sends a deploymentConfiguration, alarms checked.
        self._control = control
        self._steps = StepRunner(ecs, control)
        self._planner = Planner(ecs=ecs, parameters=parameters, allowed_families=allowed_families, alarms=alarms)
        self._images = images
        self._announcer = Announcer(publisher, clock, region)
        self._ledger = ledger
        self._recorder = Recorder(ledger, clock, apply_early_outcome)
        self._region = region
        self._account = account
        self._allowed_clusters = tuple(allowed_clusters)
        self._notify_skipped = notify_skipped
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._busy_wait_seconds = busy_wait_seconds

    def resolve_manual(self, request: ManualDeployRequest) -> ImagePush:
        """The pinned image behind a manual request's tag (looked up in ECR)."""
        if request.registry is not None and request.registry != self._account:
            digest, registry_id = self._images.find_image(request.repository, request.tag, registry=request.registry)
        else:
            digest, registry_id = self._images.find_image(request.repository, request.tag)
        registry = ecr_registry(registry_id, self._region)
        return manual_push(request, digest, registry, now=self._clock(), registry_account=request.registry)

    def report_push_failure(self, request: ImagePush | ManualDeployRequest, reason: str) -> None:
        """Notify a failure that happened before the push's targets were known (best effort)."""
        if isinstance(request, ManualDeployRequest):  # a failure is announced even for a dry run's request
            push = replace(manual_push(request, "", "", now=self._clock()), dry_run=False)
        else:
            push = request
        report = TargetReport(push, ALL_TARGETS, DeployStatus.FAILED, reason=reason, code="aws", retryable=True)
        if self._announcer.announce(report).notification_error:
            logger.error("Push failure not notified", extra={"reason": reason})

    def deploy(
        self, push: ImagePush, remaining_ms: Callable[[], int] = lambda: 900_000, attempt: str = ""
    ) -> DeployOutcome:
        """Deploy ``push`` to each matching target, independently, and notify each deploy or failure.

        ``remaining_ms`` is the invocation's time left: targets that cannot be finished in it are reported
        failed (retryable) rather than started. ``attempt`` is the invocation's request id (Lambda keeps it
        across its retries). A redelivered event returns its first result, target by target, from the ledger;
        one that another invocation is handling right now is ignored (that one reports).
        """
        raw_configs = self._configs.target_parameters(push.config_key)
        outcome = DeployOutcome(push)
        targets = select_targets(push.config_key, list(raw_configs), push.targets)
        if not targets:
            outcome.reason = f"no target config for repository {push.repository}"
            logger.info("Push skipped: no target config", extra={"repository": push.repository})
        for name, parameter in targets:
            if remaining_ms() < TARGET_TIME_BUDGET_MS:
                report = self._announcer.announce(out_of_time_report(push, name, parameter))
            else:
                report = self._deploy_target(push, parameter, raw_configs[parameter], remaining_ms, attempt)
                if report.code == IN_PROGRESS_ELSEWHERE:
                    outcome.in_progress_elsewhere = True
                    break
                # A matching target that had nothing to do is announced only when the stack asks for it.
                if (
                    self._notify_skipped
                    and report.status is DeployStatus.SKIPPED
                    and report.code != "no-match"
                    and not report.replayed
                ):
                    report = self._announcer.announce(report)
            # A target whose tags do not match is no deploy: logged at debug, so that a repository's many
            # targets do not each cost a log line on every push.
            log = logger.debug if report.code == "no-match" else logger.info
            log("Target %s", report.status.value, extra={"target": report.target, "code": report.code})
            outcome.reports.append(report)
        return outcome

    # -- one target ---------------------------------------------------------------------------------------

    def _deploy_target(
        self, push: ImagePush, parameter: str, raw_config: str, remaining_ms: Callable[[], int], attempt: str
    ) -> TargetReport:
        admission = admit_target(
            push,
            parameter,
            raw_config,
            allowed_clusters=self._allowed_clusters,
            account=self._account,
            region=self._region,
            allowed_accounts=self._allowed_accounts,
        )
        config, base = admission.config, admission.report
        push = admission.push  # with the tag's version when the target orders by version
        if config is not None:
            config, base = self._check_promotion(push, config, base)
        if config is None:
            return self._recorder.failed_once(base, self._announcer) if base.status is DeployStatus.FAILED else base
        try:
            planner, steps = self._workers(push, config.name, admission.location)
        except DeployError as exc:
            failed = replace(base, status=DeployStatus.FAILED, reason=str(exc), retryable=exc.retryable, code=exc.code)
            return failed if push.dry_run else self._recorder.failed_once(failed, self._announcer)
        if push.dry_run:
            return self._dry_run(push, config, base, planner)
        claim = Claim(uuid.uuid4().hex, push.record, self._clock() + CLAIM_LEASE_SECONDS, attempt)
        run = _Run(push, config, claim, base, remaining_ms, planner, steps)
        try:
            state, decision = self._claim(run)
        except DeployError as exc:
            failed = replace(base, status=DeployStatus.FAILED, reason=str(exc), retryable=exc.retryable, code="ledger")
            return self._announcer.announce(failed)
        claimed = ClaimedTarget(push, config.name, claim, state)
        if decision.action is ClaimAction.REPLAY:
            return TargetReport.replay(push, state.events[push.event_id].result)
        if decision.action is ClaimAction.IN_PROGRESS:
            return replace(base, code=IN_PROGRESS_ELSEWHERE, reason=decision.reason)
        if decision.action is ClaimAction.QUEUE:  # runs after the task that holds the claim (usecases.tasks)
            return replace(base, code=decision.code, reason=decision.reason)
        if decision.action is ClaimAction.SKIP:
            skipped = replace(base, code=decision.code, reason=decision.reason)
            self._recorder.skipped(claimed, skipped, holding=decision.release)
            return skipped
        if decision.action is ClaimAction.RENOTIFY:
            return self._renotify(run, claimed)
        if decision.action is ClaimAction.REFRESH:
            assert state.deployed is not None
            refreshed = replace(base, code=decision.code, reason=decision.reason)
            self._recorder.keep(claimed, replace(state.deployed, push=push.record), refreshed)
            return refreshed
        return self._execute(run, claimed)

    def _claim(self, run: _Run) -> tuple[TargetState, ClaimDecision]:
        """Take the target's claim, waiting while an older push of it is being deployed."""
        waited_until = self._clock() + self._busy_wait_seconds
        manual = run.push.trigger is Trigger.MANUAL
        while True:
            result = self._ledger.claim(run.push.config_key, run.config.name, run.claim, self._clock())
            decision = decide_claim(result, run.claim.push, manual=manual, now=self._clock())
            if decision.action is ClaimAction.QUEUE:
                queued = self._tasks.queue(run.push, run.config.name, result.state, run.base) if self._tasks else None
                if queued is not None:
                    action = ClaimAction.QUEUE if queued.code == "queued" else ClaimAction.SKIP
                    return result.state, ClaimDecision(action, queued.reason or "", queued.code)
                decision = ClaimDecision(ClaimAction.WAIT, "the task holding the claim ended meanwhile")
            if decision.action is not ClaimAction.WAIT:
                return result.state, decision
            if self._clock() > waited_until or run.remaining_ms() < TARGET_TIME_BUDGET_MS + 5_000:
                raise AwsCallError("deploy ledger", "TargetBusy", decision.reason)
            self._sleep(0.5 + self._jitter())

    def _execute(self, run: _Run, claimed: ClaimedTarget) -> TargetReport:
        """Plan the claimed target's deploy, run its steps, announce it and record it."""
        state = claimed.state
        if run.config.gates is not None:
            gated = self._gate(run, claimed)
            if gated.stop:
                return gated.report
            run = replace(run, base=gated.report)
        try:
            service, plan = (run.planner or self._planner).plan(run.push, run.config, state)
            plan = with_task_steps(plan, run.config, service, tasks_done(state, run.push, run.claim.token))
        except DeployError as exc:
            exc = located(exc, run.base.location)
            failed = self._announcer.announce(failed_report(run.base, exc, registered=None, previous=None))
            self._recorder.release(claimed, None, failed, quiet=True)
            return failed
        if plan.nothing_to_do:
            unchanged = plan.report(run.base)
            self._recorder.commit(claimed, unchanged, None)
            return unchanged
        request_fingerprint = fingerprint(plan.rendered.request)
        registered: str | None = None
        step = plan.steps[0].kind
        try:
            for planned in plan.steps:
                step = planned.kind
                if step is StepKind.RUN_TASK:  # the deploy continues from the task's end (usecases.tasks)
                    return self._start_task(run, plan, service, registered, planned.task_index)
                executed = (run.steps or self._steps).run(
                    step,
                    run.push,
                    run.config,
                    run.remaining_ms,
                    state=state,
                    service=service,
                    plan=plan,
                    registered=registered,
                )
                registered = executed.task_definition_arn
        except DeployError as exc:
            previous = plan.previous_task_definition_arn
            pending = (
                PendingRevision(run.push.digest, request_fingerprint, registered, previous_task_definition_arn=previous)
                if registered
                else None
            )
            if (
                step in {StepKind.UPDATE_SERVICE, StepKind.CREATE_SERVICE}
                and isinstance(exc, AwsCallError)
                and exc.result_unknown
            ):
                failed = self._announcer.announce(plan.report(run.base, registered=registered, unknown=str(exc)))
            else:
                failed = self._announcer.announce(
                    failed_report(run.base, exc, registered=registered, previous=previous)
                )
            self._recorder.release(claimed, pending, failed, quiet=True)
            return failed
        report = plan.report(
            run.base,
            registered=executed.task_definition_arn,
            deployment_id=executed.deployment_id,
            warnings=deploy_warnings(as_created(service, run.config.create) if plan.creating else service),
        )
        notification = self._announcer.render(report)
        if plan.earlier is not None and plan.earlier.announced:
            report = replace(report, notified=True)  # the earlier attempt published this very deploy
        else:
            report = self._announcer.publish(report, notification)
        try:
            kept = plan.earlier.message if plan.earlier else None  # the earlier attempt's message, with its diff
            self._recorder.commit(claimed, report, notification, service_arn=executed.service_arn, message=kept)
        except DeployError as exc:
            # Deployed (and announced), but not recorded: the retry finds the revision pending and records it.
            self._recorder.release(
                claimed,
                PendingRevision(
                    run.push.digest,
                    request_fingerprint,
                    executed.task_definition_arn or "",
                    deployment_id=executed.deployment_id,
                    announced=report.notified,
                    previous_task_definition_arn=plan.previous_task_definition_arn,
                    message=json.dumps(notification.message) if report.notified else None,
                )
                if executed.task_definition_arn
                else None,
                None,
                quiet=True,
            )
            lost = report.notification_error or f"deployed, but the deploy ledger was not updated: {exc}"
            return replace(report, retryable=True, notification_error=lost)
        return report

    def _dry_run(
        self, push: ImagePush, config: TargetConfig, base: TargetReport, planner: Planner | None = None
    ) -> TargetReport:
        """What a real run would do, from the same decisions: nothing registered, updated, recorded, published."""
        try:
            state = self._ledger.read_state(push.config_key, config.name)
            decision = preview_claim(state, push.record, manual=push.trigger is not Trigger.PUSH, now=self._clock())
            if decision.action is ClaimAction.SKIP:
                return replace(base, code=decision.code, reason=f"{decision.reason} (dry run)")
            if config.gates is not None:
                if self._gates is None:
                    raise ConfigError(config.parameter, "field 'gates' cannot be checked: no ECR gate keeper")
                gated = self._gates.gate(push, config, base)
                if gated.stop:
                    return replace(gated.report, reason=f"{gated.report.reason} (dry run)")
                base = gated.report
            service, plan = (planner or self._planner).plan(push, config, state)
            plan = with_task_steps(plan, config, service)
        except DeployError as exc:
            exc = located(exc, base.location)
            return replace(base, status=DeployStatus.FAILED, reason=f"{exc} (dry run)", code=exc.code)
        return planned_report(base, plan, () if plan.creating else deploy_warnings(service))

    def _workers(
        self, push: ImagePush, target: str, location: TargetLocation | None
    ) -> tuple[Planner | None, StepRunner | None]:
        """The planner and step runner of a target in another account or Region, with the clients of the role
        there (None, None: the stack's own, as built; no STS call)."""
        if location is None or not location.remote:
            return None, None
        if self._clients_for_target is None:
            raise DeployError(f"this pushdeploy cannot act in {location.describe()}: no workload sessions are wired")
        clients = self._clients_for_target(location, role_session_name(push.repository, target, push.event_id))
        planner = Planner(
            ecs=clients.ecs,
            parameters=clients.parameters,
            allowed_families=self._allowed_families,
            alarms=clients.alarms,
        )
        return planner, StepRunner(clients.ecs, clients.control)

    def _check_promotion(
        self, push: ImagePush, config: TargetConfig, base: TargetReport
    ) -> tuple[TargetConfig | None, TargetReport]:
        """A target's ``promote`` block checked against its siblings (a missing source, a cycle fail it), and a
        promotion's chain carried into its report."""
        if config.promote is not None:
            from pushdeploy.domain.promotion import promotion_problem  # noqa: PLC0415 - as in _gate

            problem = promotion_problem(config.name, self._promotion_sources(push.repository))
            if problem is not None:
                return None, replace(
                    base, status=DeployStatus.FAILED, reason=f"{config.parameter}: {problem}", code="config"
                )
        if push.promotion is not None:
            base = replace(base, extra={**base.extra, "promotion": dict(push.promotion)})
        return config, base

    def _promotion_sources(self, repository: str) -> dict[str, str | None]:
        """Each target of ``repository`` and the target it promotes from (None: none, or its config is bad)."""
        sources: dict[str, str | None] = {}
        for parameter, raw in self._configs.target_parameters(repository).items():
            try:
                promote = parse_target_config(parameter, raw).promote
            except ConfigError:
                promote = None
            sources[target_name(parameter)] = promote.source if promote is not None else None
        return sources

    def _gate(self, run: _Run, claimed: ClaimedTarget) -> Gated:
        """The gates of a claimed target: WAITING or FAILED end its deploy here (announced, claim released)."""
        # Imported here, not at the top: a push to a target without gates never loads the gates' modules.
        from pushdeploy.domain.gates import GateOutcome, GateVerdict  # noqa: PLC0415
        from pushdeploy.usecases.gating import Gated  # noqa: PLC0415

        if self._gates is None:
            failed = replace(
                run.base,
                status=DeployStatus.FAILED,
                reason=f"{run.config.parameter}: field 'gates' cannot be checked: no ECR gate keeper",
                code="config",
            )
            gated = Gated(GateVerdict(GateOutcome.FAIL), failed, stop=True)
        else:
            try:
                gated = self._gates.gate(run.push, run.config, run.base)
            except DeployError as exc:
                failed = replace(
                    run.base, status=DeployStatus.FAILED, reason=str(exc), retryable=exc.retryable, code=exc.code
                )
                gated = Gated(GateVerdict(GateOutcome.FAIL), failed, stop=True)
        if not gated.stop:
            return gated
        report = self._announcer.announce(gated.report)
        self._recorder.release(claimed, None, report, quiet=True)
        return replace(gated, report=report)

    def _renotify(self, run: _Run, claimed: ClaimedTarget) -> TargetReport:
        """Publish the notification a previous attempt deployed but could not publish."""
        deployed = claimed.state.deployed
        assert deployed is not None and deployed.notification is not None
        notification = Notification.from_json(deployed.notification)
        report = self._announcer.publish(renotified(run.base, deployed, notification), notification)
        kept = replace(
            deployed, notified=report.notified, notification=None if report.notified else deployed.notification
        )
        self._recorder.keep(claimed, kept, report)
        return report

    # -- one-off tasks (domain.tasks) ------------------------------------------------------------------------

    def _start_task(
        self, run: _Run, plan: TargetPlan, service: ServiceState, registered: str | None, index: int | None
    ) -> TargetReport:
        """Start the plan's beforeDeploy task ``index`` on the revision just registered; the claim stays held."""
        if self._tasks is None:
            raise ConfigError(run.config.parameter, "field 'beforeDeploy' cannot be run: this deployer runs no tasks")
        assert registered is not None and index is not None
        return self._tasks.start(
            phase=TaskPhase.BEFORE,
            index=index,
            task=run.config.before_deploy[index],
            push=run.push,
            target=run.config.name,
            cluster=run.config.cluster,
            claim=run.claim,
            task_definition_arn=registered,
            task_definition=plan.rendered.request,
            run_settings=service.run,
            base=run.base,
            previous_task_definition_arn=plan.previous_task_definition_arn,
        )

    def resume(self, push: ImagePush, target: str, remaining_ms: Callable[[], int] = lambda: 900_000) -> TargetReport:
        """Go on with ``push``'s deploy of ``target`` after one of its beforeDeploy tasks succeeded: the claim
        its task held is still ``push``'s; the plan skips the tasks done (the next one starts, or the service
        is updated)."""
        raw_configs = self._configs.target_parameters(push.repository)
        parameter = next((name for name in raw_configs if target_name(name) == target), None)
        state = self._ledger.read_state(push.repository, target)
        claim = state.claim
        if claim is None or claim.push.event_id != push.event_id:
            return TargetReport(push, target, DeployStatus.SKIPPED, code="lost", reason="the target's claim moved on")
        if parameter is None:
            gone = TargetReport(push, target, DeployStatus.FAILED, code="config", reason="the target's config is gone")
            self._recorder.release(ClaimedTarget(push, target, claim, state), None, gone, quiet=True)
            return self._announcer.announce(gone)
        admission = admit_target(
            push,
            parameter,
            raw_configs[parameter],
            allowed_clusters=self._allowed_clusters,
            account=self._account,
            region=self._region,
        )
        claimed = ClaimedTarget(push, target, claim, state)
        if admission.config is None or admission.report.code == "no-match":
            self._recorder.release(claimed, None, admission.report, quiet=True)
            return self._announcer.announce(admission.report)
        return self._execute(_Run(push, admission.config, claim, admission.report, remaining_ms), claimed)
