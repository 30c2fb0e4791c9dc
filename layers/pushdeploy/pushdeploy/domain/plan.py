"""What a deploy of one target does, decided once: the claim decision and the target's plan.

Both the real run and the dry run call these functions; the real run executes the plan's steps one by one,
the dry run shows them. A new kind of step (a task to run first, an approval, a gate) is a new ``StepKind``
here and one branch in the executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from pushdeploy.domain.accounts import TargetLocation, check_account_allowed, target_location
from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import ConfigError, DeployError, InvalidEventError
from pushdeploy.domain.ledger import ClaimResult, PushRecord, TargetState, Verdict, judge_push
from pushdeploy.domain.policy import tag_policy
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.scope import check_cluster, check_service
from pushdeploy.domain.service import ServiceState, check_deployable
from pushdeploy.domain.strategy import DeploymentChange
from pushdeploy.domain.taskdef import TAG_IMAGE_DIGEST, TAG_IMAGE_TAG, RenderedTaskDefinition
from pushdeploy.domain.tasks import TaskPhase, check_tasks

# -- the claim -------------------------------------------------------------------------------------------


class ClaimAction(StrEnum):
    """What a deploy does once it asked the ledger for the target's claim."""

    DEPLOY = "DEPLOY"  # the claim is ours: plan and execute
    SKIP = "SKIP"  # a duplicate or a stale push: nothing to deploy
    RENOTIFY = "RENOTIFY"  # deployed by an earlier attempt whose notification was lost: publish it
    REFRESH = "REFRESH"  # this digest runs already; record this newer push of it, deploy nothing
    WAIT = "WAIT"  # another push holds the claim: ask again shortly
    REPLAY = "REPLAY"  # this event was handled for the target already: its first result, nothing redone
    IN_PROGRESS = "IN_PROGRESS"  # another invocation of this very event is deploying the target now
    QUEUE = "QUEUE"  # a one-off task of an older push holds the claim: record this push, it runs after it


@dataclass(frozen=True)
class ClaimDecision:
    action: ClaimAction
    reason: str = ""
    code: str | None = None  # "duplicate" or "stale", for a skip
    release: bool = False  # the claim was taken and must be given back (a skip while holding it)


def decide_claim(result: ClaimResult, push: PushRecord, *, manual: bool, now: float) -> ClaimDecision:
    """The next move of a deploy after a claim attempt, from the target's state as the ledger returned it."""
    state = result.state
    if not result.acquired and push.event_id in state.events:
        return ClaimDecision(ClaimAction.REPLAY, "this event was handled already: its first result")
    held = state.claim
    if not result.acquired and held is not None and held.push.event_id == push.event_id and held.expires_at > now:
        return ClaimDecision(ClaimAction.IN_PROGRESS, "the same event is being handled by another invocation")
    judgement = judge_push(state, push, manual=manual, now=now)
    verdict = judgement.verdict
    if result.acquired and verdict is Verdict.BUSY:
        verdict = Verdict.PROCEED  # the claim we replaced had lapsed
    if verdict is Verdict.PROCEED and result.acquired:
        return ClaimDecision(ClaimAction.DEPLOY)
    if verdict in {Verdict.DUPLICATE, Verdict.STALE}:
        return ClaimDecision(ClaimAction.SKIP, judgement.reason, verdict.value.lower(), release=result.acquired)
    if verdict is Verdict.RENOTIFY and result.acquired:
        return ClaimDecision(ClaimAction.RENOTIFY, judgement.reason)
    if verdict is Verdict.REFRESH and result.acquired and state.deployed is not None:
        if state.claim is not None:
            # A claim was left behind (released claims are removed): its holder died, maybe after moving the
            # service without recording it, so what the ledger says runs may not. Deploy: the plan looks at
            # what runs, rather than only recording this push.
            return ClaimDecision(ClaimAction.DEPLOY)
        return ClaimDecision(ClaimAction.REFRESH, judgement.reason, "duplicate")
    if verdict is Verdict.BUSY and state.task is not None and state.task.holds(held, now):
        return ClaimDecision(ClaimAction.QUEUE, f"{state.task.label} runs first", "queued")
    # BUSY, or a verdict that can only be acted on while holding the claim: wait for the holder.
    return ClaimDecision(ClaimAction.WAIT, judgement.reason or "the target stays claimed")


def preview_claim(state: TargetState, push: PushRecord, *, manual: bool, now: float) -> ClaimDecision:
    """The claim decision a dry run reports, from the state as it is (a dry run never claims)."""
    decision = decide_claim(ClaimResult(True, state), push, manual=manual, now=now)
    if decision.action is ClaimAction.REFRESH:
        return ClaimDecision(ClaimAction.SKIP, decision.reason, "duplicate")
    return decision


# -- the plan --------------------------------------------------------------------------------------------


class StepKind(StrEnum):
    """One thing a deploy does to AWS, in order."""

    REGISTER = "register"  # register the rendered revision (or reuse one registered for it before)
    UPDATE_SERVICE = "update-service"  # point the service at the registered revision
    CREATE_SERVICE = "create-service"  # create the missing service on the registered revision
    FORCE_NEW_DEPLOYMENT = "force-new-deployment"  # restart the tasks on the current revision
    RECORD_EARLIER_UPDATE = "record-earlier-update"  # an earlier attempt's update took effect: record it
    RUN_TASK = "run-task"  # run a beforeDeploy task of the registered revision; its end continues the deploy


@dataclass(frozen=True)
class PlanStep:
    kind: StepKind
    description: str
    task_index: int | None = None  # RUN_TASK: which task of the target's beforeDeploy list


@dataclass(frozen=True)
class RevisionSource:
    """Where the next revision is rendered from, and whether the service is to be created."""

    task_definition: str  # an ARN, or a family (its latest ACTIVE revision) when creating
    creating: bool


def revision_source(service: ServiceState, config: TargetConfig) -> RevisionSource:
    """The task definition the next revision is rendered from; raises unless the service can be deployed
    (or, missing, created from the target's ``create`` block)."""
    if service.missing and config.create is not None:
        return RevisionSource(config.create.family, creating=True)
    check_deployable(service, config.cluster)
    return RevisionSource(service.task_definition_arn, creating=False)


@dataclass(frozen=True)
class EarlierUpdate:
    """An update of the service that an earlier attempt of this push made but did not record."""

    task_definition_arn: str
    deployment_id: str | None  # as that attempt learnt it, else the service's PRIMARY deployment
    announced: bool  # that attempt published DEPLOYING already
    reason: str
    previous_task_definition_arn: str | None = None  # what the service ran before it
    message: str | None = None  # the DEPLOYING message it published (JSON), kept for the outcome's


@dataclass(frozen=True)
class TargetPlan:
    """The steps of one target's deploy, why, and what they start from."""

    steps: tuple[PlanStep, ...]
    reason: str
    rendered: RenderedTaskDefinition
    previous_task_definition_arn: str | None  # what the service ran before this deploy (None: created)
    creating: bool = False
    code: str | None = None  # why there is nothing to do ("unchanged"), or "reconciled"
    earlier: EarlierUpdate | None = None  # RECORD_EARLIER_UPDATE: what the earlier attempt did
    deployment: DeploymentChange | None = None  # the deploymentConfiguration the update or creation sends

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def has(self, kind: StepKind) -> bool:
        return any(step.kind is kind for step in self.steps)

    def report(
        self,
        base: TargetReport,
        *,
        registered: str | None = None,
        deployment_id: str | None = None,
        warnings: tuple[str, ...] = (),
        unknown: str | None = None,
    ) -> TargetReport:
        """What executing the plan led to: nothing to do; DEPLOYING with ``registered`` (the revision the
        service now runs) and ``deployment_id``; or, given ``unknown`` (the failed call), RETRYING: whether
        the service update took effect is unknown, and the retry finds out."""
        if self.nothing_to_do:
            previous = self.previous_task_definition_arn
            return replace(
                base,
                task_definition_arn=previous,
                previous_task_definition_arn=previous,
                code=self.code,
                reason=self.reason,
            )
        if unknown is not None:
            return replace(
                base,
                status=DeployStatus.RETRYING,
                task_definition_arn=registered,
                previous_task_definition_arn=self.previous_task_definition_arn,
                retryable=True,
                code="unknown",
                reason=f"{unknown}; whether the service was updated to {registered} is unknown: being retried "
                "(the retry finds out and finishes the deploy)",
            )
        return replace(
            base,
            status=DeployStatus.DEPLOYING,
            task_definition_arn=registered,
            previous_task_definition_arn=self.previous_task_definition_arn,
            deployment_id=deployment_id,
            changes=self.rendered.changes,
            warnings=warnings,
            code=self.code,
            reason=self.reason if self.earlier else None,
            extra={
                **base.extra,  # what came before the plan: the gates' verdict, a promotion's chain
                **({"created": True} if self.creating else {}),
                **(self.deployment.notification_fields() if self.deployment and not self.earlier else {}),
            },
        )


def plan_target(
    *,
    service: ServiceState,
    source: RevisionSource,
    rendered: RenderedTaskDefinition,
    current_tags: Mapping[str, str],
    config: TargetConfig,
    state: TargetState,
    push: ImagePush,
    deployment: DeploymentChange | None = None,
) -> TargetPlan:
    """Decide what deploying ``push`` to the target takes.

    ``rendered`` is the next revision rendered from ``source`` (whose tags are ``current_tags``); ``state`` is
    the target's ledger state as the claim found it; ``deployment`` is the ``deploymentConfiguration`` the
    target's ``deployment`` and ``approval`` blocks make (``domain.strategy``), sent with the update or creation.
    """
    how = f" ({deployment.describe()})" if deployment is not None else ""
    if source.creating:
        family = config.create.family if config.create else source.task_definition
        return TargetPlan(
            steps=(
                PlanStep(StepKind.REGISTER, f"register the next revision of {family} with the pushed image"),
                PlanStep(StepKind.CREATE_SERVICE, f"create service {config.service} in cluster {config.cluster}{how}"),
            ),
            reason=f"create service {config.service} from task definition {family}",
            rendered=rendered,
            previous_task_definition_arn=None,
            creating=True,
            deployment=deployment,
        )
    current = service.task_definition_arn
    earlier = _earlier_update(service, current_tags, state, push)
    if earlier is not None:
        return TargetPlan(
            steps=(PlanStep(StepKind.RECORD_EARLIER_UPDATE, earlier.reason),),
            reason=earlier.reason,
            rendered=rendered,
            previous_task_definition_arn=earlier.previous_task_definition_arn
            or (state.deployed.task_definition_arn if state.deployed else None),
            code="reconciled",
            earlier=earlier,
        )
    if rendered.changes:
        return TargetPlan(
            steps=(
                PlanStep(StepKind.REGISTER, f"register the next revision of {rendered.family}"),
                PlanStep(StepKind.UPDATE_SERVICE, f"update service {config.service} to it{how}"),
            ),
            reason="register the revision below and update the service to it",
            rendered=rendered,
            previous_task_definition_arn=current,
            deployment=deployment,
        )
    if push.trigger in (Trigger.PUSH, Trigger.PROMOTE):
        return TargetPlan(
            steps=(),
            reason=f"service already runs {push.image_uri} with this configuration",
            rendered=rendered,
            previous_task_definition_arn=current,
            code="unchanged",
        )
    # A manual deploy of what already runs restarts the tasks on the current revision.
    return TargetPlan(
        steps=(PlanStep(StepKind.FORCE_NEW_DEPLOYMENT, f"force a new deployment of {config.service}"),),
        reason="force a new deployment of the current revision",
        rendered=rendered,
        previous_task_definition_arn=current,
    )


def _earlier_update(
    service: ServiceState, current_tags: Mapping[str, str], state: TargetState, push: ImagePush
) -> EarlierUpdate | None:
    """The update of the service an earlier attempt of this push made without recording it (its ledger
    commit failed, or its UpdateService response was lost), or None.

    Either the ledger remembers registering the service's current revision for this digest (an attempt
    that could not finish records it as pending), or an earlier attempt of this very event still holds the
    claim (it could not even release it) and the service runs a revision pushdeploy registered for exactly
    this tag and digest.
    """
    current = service.task_definition_arn
    recorded = state.deployed.task_definition_arn if state.deployed else None
    if current == recorded:
        return None
    pending = state.pending
    if pending is not None and pending.digest == push.digest and pending.task_definition_arn == current:
        return EarlierUpdate(
            current,
            pending.deployment_id or service.primary_deployment_id,
            pending.announced,
            f"an earlier attempt updated the service to {current} but could not record it; recorded now",
            pending.previous_task_definition_arn,
            pending.message,
        )
    ours_held = state.claim is not None and state.claim.push.event_id == push.event_id
    if ours_held and current_tags.get(TAG_IMAGE_DIGEST) == push.digest and current_tags.get(TAG_IMAGE_TAG) == push.tag:
        return EarlierUpdate(
            current,
            service.primary_deployment_id,
            False,
            f"an earlier attempt of this push updated the service to {current} but could not record it; recorded now",
        )
    return None


# -- which targets a push deploys to ----------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """Whether a push goes on to a target: its config and the report so far, or the final report (a config
    that does not parse or is out of scope fails, and is announced; a tag that does not match is skipped)."""

    report: TargetReport
    config: TargetConfig | None = None
    location: TargetLocation | None = None  # where the target is deployed

    @property
    def push(self) -> ImagePush:
        """The push as this target sees it: with the tag's version when the target orders by version."""
        return self.report.push


def admit_target(
    push: ImagePush,
    parameter: str,
    raw_config: str,
    *,
    allowed_clusters: Sequence[str],
    account: str | None,
    region: str | None,
    allowed_accounts: Sequence[str] = (),
) -> Admission:
    """Parse the target's config and check the push's tag and the target's scope (its account among the
    stack's own and ``allowed_accounts``, its cluster among ``allowed_clusters``), before any AWS call."""
    name = target_name(parameter)
    try:
        config = parse_target_config(parameter, raw_config)
    except ConfigError as exc:
        return Admission(
            TargetReport(push, name, DeployStatus.FAILED, reason=str(exc), parameter=parameter, code=exc.code)
        )
    location = target_location(config.account, own_account=account, own_region=region or "")
    base = TargetReport(
        push,
        name,
        DeployStatus.SKIPPED,
        cluster=config.cluster,
        service=config.service,
        parameter=parameter,
        slack_webhook=config.slack_webhook,
        location=location if location.named else None,
    )
    try:
        match = tag_policy(parameter, config.tags, config.exclude).match(push.tag)
    except ConfigError as exc:  # a config built without parse_target_config (which checks its patterns)
        return Admission(replace(base, status=DeployStatus.FAILED, reason=str(exc), code=exc.code))
    if push.dry_run:
        base = replace(base, extra={"tagPolicy": match.reason})  # the dry run says which pattern decided
    # A promotion deploys the digest its source completed, whatever its tag: no tag is matched again.
    if push.trigger is not Trigger.PROMOTE and not match.matched:
        reason = match.reason
        if config.promote is not None:
            promote = config.promote
            reason += f"; it deploys what {promote.source} completes, after a {promote.soak_minutes} min soak"
        return Admission(replace(base, code="no-match", reason=reason))
    if match.matched:
        base = replace(base, push=replace(push, version=match.version))
    try:
        check_account_allowed(location, allowed_accounts, own_account=account)
        where = location.account if location.other_account else account
        check_cluster(config.cluster, allowed_clusters, account=where, region=location.region or region)
        check_service(config.service, account=where, region=location.region or region)
    except DeployError as exc:
        code = exc.code if exc.code != "error" else "out-of-scope"
        return Admission(replace(base, status=DeployStatus.FAILED, reason=str(exc), code=code))
    return Admission(base, config, location)


def out_of_time_report(push: ImagePush, name: str, parameter: str) -> TargetReport:
    """A target not started because the invocation could not finish it in its time left: the retry will."""
    return TargetReport(
        push,
        name,
        DeployStatus.FAILED,
        parameter=parameter,
        retryable=True,
        code="out-of-time",
        reason="not attempted: the invocation ran out of time; the retry will deploy it",
    )


# -- what a plan reports ---------------------------------------------------------------------------------


def select_targets(repository: str, parameters: Sequence[str], wanted: Sequence[str] | None) -> list[tuple[str, str]]:
    """The (target name, config parameter) pairs a push deploys to, by name; ``wanted`` (a manual deploy's
    ``targets``) must name configured targets only."""
    names = {target_name(parameter): parameter for parameter in parameters}
    if wanted is not None:
        if not names:
            raise InvalidEventError(f"repository {repository} has no targets configured")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise InvalidEventError(
                f"repository {repository} has no target named {', '.join(unknown)} "
                f"(its targets: {', '.join(sorted(names))})"
            )
    return [(name, names[name]) for name in sorted(names) if wanted is None or name in wanted]


def planned_report(base: TargetReport, plan: TargetPlan, warnings: tuple[str, ...]) -> TargetReport:
    """A dry run's report of ``plan``: its steps, its diff and the revision it would register."""
    if plan.nothing_to_do:
        return replace(
            base,
            code=plan.code,
            previous_task_definition_arn=plan.previous_task_definition_arn,
            reason=f"{plan.reason} (dry run)",
        )
    return replace(
        base,
        status=DeployStatus.PLANNED,
        previous_task_definition_arn=plan.previous_task_definition_arn,
        changes=plan.rendered.changes,
        warnings=warnings,
        reason=f"dry run: would {plan.reason}",
        extra={
            **base.extra,  # the gates' verdict, a promotion's chain
            "dryRun": True,
            "steps": [{"step": step.kind.value, "description": step.description} for step in plan.steps],
            "taskDefinition": plan.rendered.request,
            **(
                {"deploymentConfiguration": plan.deployment.configuration, **plan.deployment.notification_fields()}
                if plan.deployment is not None and (plan.has(StepKind.UPDATE_SERVICE) or plan.creating)
                else {}
            ),
        },
    )


def failed_report(
    base: TargetReport, error: DeployError, *, registered: str | None, previous: str | None
) -> TargetReport:
    """A target's deploy that failed: why, and what it left behind (a revision registered, or nothing)."""
    if registered is not None:
        reason = f"{error}; revision {registered} was registered but the service was not updated to it"
    else:
        reason = f"{error}; nothing was registered" if error.code == "aws" else str(error)
    return replace(
        base,
        status=DeployStatus.FAILED,
        task_definition_arn=registered,
        previous_task_definition_arn=previous,
        reason=reason,
        retryable=error.retryable,
        code=error.code,
    )


# -- one-off tasks before the update ----------------------------------------------------------------------


def with_task_steps(plan: TargetPlan, config: TargetConfig, service: ServiceState, done: int = 0) -> TargetPlan:
    """``plan`` with the target's beforeDeploy tasks between registering the revision and updating the
    service (those of them ``done`` already left out: a deploy resumed after a task). Raises ConfigError,
    naming the field, for a task the revision or the service cannot run, before anything is registered.
    A plan that updates no service to a new revision (nothing to do, a creation, a forced restart, an
    earlier update recorded) runs no task."""
    tasks = config.before_deploy
    if not tasks or not plan.has(StepKind.UPDATE_SERVICE) or not plan.has(StepKind.REGISTER):
        return plan
    check_tasks(
        config.parameter,
        TaskPhase.BEFORE,
        tasks=tasks,
        task_definition=plan.rendered.request,
        run=service.run,
        service_name=service.name,
    )
    steps: list[PlanStep] = []
    for step in plan.steps:
        steps.append(step)
        if step.kind is StepKind.REGISTER:
            steps += [
                PlanStep(
                    StepKind.RUN_TASK,
                    f"run {TaskPhase.BEFORE.value}[{index}] in container {task.container} of the new revision: "
                    f"{task.describe()} (at most {task.timeout_minutes} min; the update waits for exit code 0)",
                    task_index=index,
                )
                for index, task in enumerate(tasks)
                if index >= done
            ]
    return replace(plan, steps=tuple(steps), reason=f"{plan.reason}, after its beforeDeploy task(s)")
