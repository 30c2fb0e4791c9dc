"""Deploy a pushed image to every target of its repository whose tag policy matches.

Each target, independently: check its config and scope, claim it in the deploy ledger (one deploy of a
target at a time; duplicates and stale pushes are skipped there), render and register the next revision,
update the service, publish the notification, then commit the ledger. Every failure is notified; those a
retry may fix make the invocation raise once every target was tried.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import TargetConfig, create_service_request, parse_target_config, target_name
from pushdeploy.domain.errors import (
    AwsCallError,
    ConfigError,
    DeployError,
    InvalidEventError,
    MissingParametersError,
)
from pushdeploy.domain.ledger import (
    CLAIM_LEASE_SECONDS,
    Claim,
    DeployedRecord,
    PendingRevision,
    TargetState,
    Verdict,
    describe_time,
    fingerprint,
    judge_push,
    reusable_revision,
)
from pushdeploy.domain.messages import Notification, render_notification
from pushdeploy.domain.ports import (
    DeployLedger,
    EcsGateway,
    ImageCatalog,
    NotificationPublisher,
    ParameterCatalog,
    TargetConfigSource,
)
from pushdeploy.domain.push import AwsLocation, ImagePush, Trigger, ecr_registry
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.requests import ManualDeployRequest
from pushdeploy.domain.scope import check_cluster, check_family, family_of
from pushdeploy.domain.secrets import target_secrets
from pushdeploy.domain.service import ServiceState, check_deployable
from pushdeploy.domain.tags import tag_matches
from pushdeploy.domain.taskdef import (
    TAG_IMAGE_DIGEST,
    TAG_IMAGE_TAG,
    RenderedTaskDefinition,
    registration_request,
    render_task_definition,
)

# The service is named here: a child logger created before POWERTOOLS_SERVICE_NAME is read would not attach.
logger = Logger(service="pushdeploy", child=True)

# A target is not started with less time left than this: its AWS calls (each bounded by the client's
# timeouts and retries) and the ledger commit must fit, or the next attempt would find it half-done.
TARGET_TIME_BUDGET_MS = 30_000
ALL_TARGETS = "*"  # the target named in a notification about a push that failed before its targets were known
BUSY_WAIT_SECONDS = 45


class DeployIncompleteError(DeployError):
    """Raised after every target was tried and notified, when a retry may finish the job."""

    retryable = True


@dataclass
class DeployOutcome:
    """Every target's report for one push."""

    push: ImagePush | None
    reports: list[TargetReport] = field(default_factory=list)
    reason: str | None = None

    @property
    def status(self) -> str:
        """FAILED if any target failed, DEPLOYING if any deploys, else SKIPPED."""
        statuses = {report.status for report in self.reports}
        for status in (DeployStatus.FAILED, DeployStatus.DEPLOYING, DeployStatus.PLANNED):
            if status in statuses:
                return status.value
        return DeployStatus.SKIPPED.value

    @property
    def notification_errors(self) -> list[str]:
        """The notifications that could not be published."""
        return [f"{r.target}: {r.notification_error}" for r in self.reports if r.notification_error]

    def as_result(self) -> dict[str, Any]:
        """The invocation's return value."""
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

    def raise_if_retryable(self) -> None:
        """Fail the invocation when a target failed for a passing reason or a notification was lost."""
        retryable = [report for report in self.reports if report.status is DeployStatus.FAILED and report.retryable]
        if retryable or self.notification_errors:
            problems = [f"{report.target}: {report.reason}" for report in retryable] + self.notification_errors
            raise DeployIncompleteError("deploy incomplete, to be retried: " + "; ".join(problems))


class _Skip(Exception):  # noqa: N818 - control flow inside a target's deploy, never escapes it
    def __init__(self, report: TargetReport) -> None:
        self.report = report


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
        allowed_clusters: Sequence[str] = ("*",),
        allowed_families: Sequence[str] = ("*",),
        notify_skipped: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._notify_skipped = notify_skipped
        self._configs = configs
        self._ecs = ecs
        self._parameters = parameters
        self._images = images
        self._publisher = publisher
        self._ledger = ledger
        self._region = region
        self._allowed_clusters = tuple(allowed_clusters)
        self._allowed_families = tuple(allowed_families)
        self._clock = clock
        self._sleep = sleep

    def resolve_manual(self, request: ManualDeployRequest) -> ImagePush:
        """The pinned image behind a manual request's tag (looked up in ECR)."""
        digest, registry_id = self._images.find_image(request.repository, request.tag)
        return ImagePush(
            repository=request.repository,
            tag=request.tag,
            digest=digest,
            registry=ecr_registry(registry_id, self._region),
            trigger=Trigger.MANUAL,
            event_id=request.event_id,
            pushed_at=self._clock(),
            targets=request.targets,
            dry_run=request.dry_run,
            requested_by=request.requested_by,
        )

    def report_push_failure(self, request: ImagePush | ManualDeployRequest, reason: str) -> None:
        """Notify a failure that happened before the push's targets were known (best effort)."""
        push = (
            request
            if isinstance(request, ImagePush)
            else ImagePush(
                repository=request.repository,
                tag=request.tag,
                digest="",
                registry="",
                trigger=Trigger.MANUAL,
                event_id=request.event_id,
                pushed_at=self._clock(),
                requested_by=request.requested_by,
            )
        )
        report = TargetReport(push, ALL_TARGETS, DeployStatus.FAILED, reason=reason, code="aws", retryable=True)
        if self._notified(report).notification_error:
            logger.error("Push failure not notified", extra={"reason": reason})

    def deploy(self, push: ImagePush, remaining_ms: Callable[[], int] = lambda: 900_000) -> DeployOutcome:
        """Deploy ``push`` to each matching target, independently, and notify each deploy or failure.

        ``remaining_ms`` is the invocation's time left: targets that cannot be finished in it are reported
        failed (retryable) rather than started.
        """
        raw_configs = self._configs.target_parameters(push.repository)
        outcome = DeployOutcome(push)
        if not raw_configs:
            if push.targets is not None:
                raise InvalidEventError(f"repository {push.repository} has no targets configured")
            outcome.reason = f"no target config for repository {push.repository}"
            logger.info("Push skipped: no target config", extra={"repository": push.repository})
            return outcome
        names = {target_name(parameter): parameter for parameter in raw_configs}
        if push.targets is not None:
            unknown = sorted(set(push.targets) - set(names))
            if unknown:
                raise InvalidEventError(
                    f"repository {push.repository} has no target named {', '.join(unknown)} "
                    f"(its targets: {', '.join(sorted(names))})"
                )
        for name, parameter in sorted(names.items()):
            if push.targets is not None and name not in push.targets:
                continue
            if remaining_ms() < TARGET_TIME_BUDGET_MS:
                report = self._notified(
                    TargetReport(
                        push,
                        name,
                        DeployStatus.FAILED,
                        parameter=parameter,
                        retryable=True,
                        code="out-of-time",
                        reason="not attempted: the invocation ran out of time; the retry will deploy it",
                    )
                )
            else:
                report = self._deploy_target(push, parameter, raw_configs[parameter], remaining_ms)
                # A matching target that had nothing to do is announced only when the stack asks for it.
                if (
                    self._notify_skipped
                    and report.status is DeployStatus.SKIPPED
                    and report.code != "no-match"
                    and not push.dry_run
                ):
                    report = self._notified(report)
            logger.info(
                "Target %s",
                report.status.value,
                extra={
                    "target": report.target,
                    "status": report.status.value,
                    "code": report.code,
                    "reason": report.reason,
                },
            )
            outcome.reports.append(report)
        return outcome

    # -- one target ---------------------------------------------------------------------------------------

    def _deploy_target(
        self, push: ImagePush, parameter: str, raw_config: str, remaining_ms: Callable[[], int]
    ) -> TargetReport:
        name = target_name(parameter)
        try:
            config = parse_target_config(parameter, raw_config)
        except ConfigError as exc:
            return self._notified(
                TargetReport(push, name, DeployStatus.FAILED, reason=str(exc), parameter=parameter, code="config")
            )
        base = TargetReport(
            push,
            name,
            DeployStatus.SKIPPED,
            cluster=config.cluster,
            service=config.service,
            parameter=parameter,
            slack_webhook=config.slack_webhook,
        )
        if not tag_matches(config.tags, push.tag):
            return replace(
                base, code="no-match", reason=f"tag {push.tag} does not match the target's tags {list(config.tags)}"
            )
        try:
            check_cluster(config.cluster, self._allowed_clusters)
        except DeployError as exc:
            return self._notified(replace(base, status=DeployStatus.FAILED, reason=str(exc), code="out-of-scope"))

        if push.dry_run:
            return self._plan(push, config, base)
        claim = Claim(uuid.uuid4().hex, push.record, self._clock() + CLAIM_LEASE_SECONDS)
        try:
            state = self._claim(push, config, claim, base, remaining_ms)
        except _Skip as skip:
            return skip.report
        except DeployError as exc:
            return self._notified(
                replace(base, status=DeployStatus.FAILED, reason=str(exc), retryable=exc.retryable, code="ledger")
            )
        return self._deploy_claimed(push, config, claim, state, base, remaining_ms=remaining_ms)

    def _claim(
        self,
        push: ImagePush,
        config: TargetConfig,
        claim: Claim,
        base: TargetReport,
        remaining_ms: Callable[[], int],
    ) -> TargetState:
        """Take the target's claim, waiting while an older push of it is being deployed."""
        manual = push.trigger is Trigger.MANUAL
        waited_until = self._clock() + BUSY_WAIT_SECONDS
        while True:
            result = self._ledger.claim(push.repository, config.name, claim, self._clock())
            judgement = judge_push(result.state, claim.push, manual=manual, now=self._clock())
            if result.acquired and judgement.verdict is Verdict.BUSY:
                judgement = replace(judgement, verdict=Verdict.PROCEED)  # the claim we replaced had lapsed
            if judgement.verdict is Verdict.PROCEED and result.acquired:
                return result.state
            if judgement.verdict in {Verdict.DUPLICATE, Verdict.STALE}:
                if result.acquired:
                    self._ledger.release(push.repository, config.name, claim.token)
                raise _Skip(replace(base, code=judgement.verdict.value.lower(), reason=judgement.reason))
            if judgement.verdict is Verdict.RENOTIFY and result.acquired:
                raise _Skip(self._renotify(push, config, claim, result.state, base))
            if judgement.verdict is Verdict.REFRESH and result.acquired and result.state.deployed is not None:
                self._ledger.commit(
                    push.repository, config.name, claim.token, replace(result.state.deployed, push=claim.push), None
                )
                raise _Skip(replace(base, code="duplicate", reason=judgement.reason))
            # BUSY, or a verdict we could only act on while holding the claim: wait for the holder.
            if self._clock() > waited_until or remaining_ms() < TARGET_TIME_BUDGET_MS + 5_000:
                raise AwsCallError("deploy ledger", "TargetBusy", judgement.reason or "the target stays claimed")
            self._sleep(0.5 + random.random())  # noqa: S311 - jitter, not cryptography

    def _deploy_claimed(
        self,
        push: ImagePush,
        config: TargetConfig,
        claim: Claim,
        state: TargetState,
        base: TargetReport,
        *,
        remaining_ms: Callable[[], int],
    ) -> TargetReport:
        registered: str | None = None
        previous: str | None = None
        request_fingerprint = ""
        try:
            service, rendered, creating = self._render(push, config)
            previous = None if creating else service.task_definition_arn
            if not rendered.changes and push.trigger is Trigger.PUSH and not creating:
                report = replace(
                    base,
                    task_definition_arn=previous,
                    previous_task_definition_arn=previous,
                    code="unchanged",
                    reason=f"service already runs {push.image_uri} with this configuration",
                )
                self._commit(push, config, claim, report, notification=None)
                return report
            if rendered.changes or creating:
                request_fingerprint = fingerprint(rendered.request)
                registered = reusable_revision(state, push.digest, request_fingerprint) or self._registered_before(
                    push, state, rendered, request_fingerprint
                )
                if registered is None:
                    _require_time(remaining_ms, "registering the revision")
                    registered = self._ecs.register_task_definition(rendered.request)
                else:
                    logger.info("Reusing the revision registered before", extra={"taskDefinitionArn": registered})
            _require_time(remaining_ms, "updating the service")
            if creating and registered is not None:
                service_arn, deployment_id = self._ecs.create_service(create_service_request(config, registered))
                service = replace(
                    service,
                    arn=service_arn,
                    circuit_breaker=config.create is not None and config.create.circuit_breaker,
                )
            else:
                # A manual deploy of what already runs restarts the tasks on the current revision.
                deployment_id = self._ecs.update_service(
                    config.cluster,
                    config.service,
                    registered or service.task_definition_arn,
                    force_new_deployment=registered is None,
                )
        except DeployError as exc:
            pending = PendingRevision(push.digest, request_fingerprint, registered) if registered is not None else None
            self._release_quietly(push, config, claim, pending)
            return self._notified(
                replace(
                    base,
                    status=DeployStatus.FAILED,
                    task_definition_arn=registered,
                    previous_task_definition_arn=previous,
                    reason=self._failure_reason(exc, registered),
                    retryable=exc.retryable,
                    code=_failure_code(exc),
                )
            )
        report = replace(
            base,
            status=DeployStatus.DEPLOYING,
            task_definition_arn=registered or previous,
            previous_task_definition_arn=previous,
            deployment_id=deployment_id,
            changes=rendered.changes,
            warnings=deploy_warnings(service),
            extra={"created": True} if creating else {},
        )
        notification = render_notification(report, time=describe_time(self._clock()))
        report = self._publish(report, notification)
        try:
            self._commit(push, config, claim, report, notification, service_arn=service.arn)
        except DeployError as exc:
            # Deployed and notified, but not recorded: the retry finds the service on this revision and
            # records it then. The target is not left claimed meanwhile.
            self._release_quietly(push, config, claim, None)
            return replace(
                report,
                retryable=True,
                notification_error=report.notification_error
                or f"deployed, but the deploy ledger was not updated: {exc}",
            )
        return report

    def _registered_before(
        self, push: ImagePush, state: TargetState, rendered: RenderedTaskDefinition, request_fingerprint: str
    ) -> str | None:
        """An earlier attempt of this very event that still held the claim (it crashed, or could not record
        what it registered) may have registered this revision: if the family's latest is exactly it, reuse it."""
        if state.claim is None or state.claim.push.event_id != push.event_id:
            return None
        latest, tags = self._ecs.describe_task_definition(rendered.family)
        if latest.get("status", "ACTIVE") == "ACTIVE" and (
            fingerprint(registration_request(latest, tags)) == request_fingerprint
        ):
            return str(latest.get("taskDefinitionArn"))
        return None

    def _render(self, push: ImagePush, config: TargetConfig) -> tuple[ServiceState, RenderedTaskDefinition, bool]:
        """The service, the next revision of its task definition, and whether the service is to be created."""
        service = self._ecs.describe_service(config.cluster, config.service)
        creating = service.missing and config.create is not None
        if creating:
            assert config.create is not None
            source = config.create.family
        else:
            check_deployable(service, config.cluster)
            source = service.task_definition_arn
        check_family(family_of(source), self._allowed_families)
        current, current_tags = self._ecs.describe_task_definition(source)
        location = AwsLocation.from_arn(str(current.get("taskDefinitionArn") or service.arn))
        secrets = self._check_secrets(config, location)
        rendered = render_task_definition(
            current,
            current_tags,
            repository_uri=push.repository_uri,
            image_uri=push.image_uri,
            containers=config.containers,
            environment=config.environment,
            secrets=secrets,
            record_tags={TAG_IMAGE_TAG: push.tag, TAG_IMAGE_DIGEST: push.digest},
        )
        return service, rendered, creating

    def _plan(self, push: ImagePush, config: TargetConfig, base: TargetReport) -> TargetReport:
        """A dry run: what a real run would do, with nothing registered, updated, recorded or published."""
        try:
            judgement = judge_push(
                self._ledger.read_state(push.repository, config.name),
                push.record,
                manual=push.trigger is not Trigger.PUSH,
                now=self._clock(),
            )
            if judgement.verdict in {Verdict.DUPLICATE, Verdict.STALE, Verdict.REFRESH}:
                code = "stale" if judgement.verdict is Verdict.STALE else "duplicate"
                return replace(base, code=code, reason=f"{judgement.reason} (dry run)")
            service, rendered, creating = self._render(push, config)
        except DeployError as exc:
            return replace(base, status=DeployStatus.FAILED, reason=f"{exc} (dry run)", code=_failure_code(exc))
        previous = None if creating else service.task_definition_arn
        if not rendered.changes and push.trigger is Trigger.PUSH and not creating:
            return replace(
                base,
                code="unchanged",
                previous_task_definition_arn=previous,
                reason=f"service already runs {push.image_uri} with this configuration (dry run)",
            )
        if creating:
            action = f"create service {config.service} from task definition {config.create and config.create.family}"
        elif rendered.changes:
            action = "register the revision below and update the service to it"
        else:
            action = "force a new deployment of the current revision"
        return replace(
            base,
            status=DeployStatus.PLANNED,
            previous_task_definition_arn=previous,
            changes=rendered.changes,
            warnings=() if creating else deploy_warnings(service),
            reason=f"dry run: would {action}",
            extra={"dryRun": True, "taskDefinition": rendered.request},
        )

    def _renotify(
        self, push: ImagePush, config: TargetConfig, claim: Claim, state: TargetState, base: TargetReport
    ) -> TargetReport:
        """Publish the notification a previous attempt deployed but could not publish."""
        deployed = state.deployed
        assert deployed is not None and deployed.notification is not None
        notification = Notification.from_json(deployed.notification)
        report = replace(
            base,
            status=DeployStatus.DEPLOYING,
            task_definition_arn=deployed.task_definition_arn,
            deployment_id=notification.message.get("deploymentId"),
            previous_task_definition_arn=notification.message.get("previousTaskDefinitionArn"),
            code="renotified",
            reason="deployed by an earlier attempt; its notification is published now",
        )
        report = self._publish(report, notification)
        self._commit(push, config, claim, report, notification, earlier=deployed)
        return report

    # -- helpers ------------------------------------------------------------------------------------------

    def _check_secrets(self, config: TargetConfig, location: AwsLocation) -> dict[str, str]:
        """Resolve every secret to its ``valueFrom`` and make sure each local parameter exists."""
        under_path = self._parameters.names_under(config.secrets_path) if config.secrets_path else []
        if config.secrets_path and not under_path:
            raise ConfigError(
                config.parameter,
                f"secretsPath {config.secrets_path} holds no parameters (a typo?); create them or drop the field",
            )
        secrets = target_secrets(config, under_path, location)
        local = [secret.local_parameter for secret in secrets.values() if secret.local_parameter]
        missing = self._parameters.missing(local) if local else []
        if missing:
            raise MissingParametersError(missing)
        return {name: secret.value_from for name, secret in secrets.items()}

    def _notified(self, report: TargetReport) -> TargetReport:
        if report.push.dry_run:  # a dry run publishes nothing, failures included: they are in its result
            return report
        return self._publish(report, render_notification(report, time=describe_time(self._clock())))

    def _publish(self, report: TargetReport, notification: Notification) -> TargetReport:
        try:
            self._publisher.publish(notification)
        except AwsCallError as exc:
            logger.error("Notification not published", extra={"target": report.target, "error": str(exc)})
            return replace(report, notified=False, notification_error=f"notification not published: {exc}")
        return replace(report, notified=True)

    def _commit(
        self,
        push: ImagePush,
        config: TargetConfig,
        claim: Claim,
        report: TargetReport,
        notification: Notification | None,
        *,
        earlier: DeployedRecord | None = None,
        service_arn: str | None = None,
    ) -> None:
        """Record what the target runs now and release the claim. A new deploy also gets a history item;
        ``earlier`` is the record being completed when only its notification was re-published."""
        now = self._clock()
        deployed = DeployedRecord(
            push=earlier.push if earlier else push.record,
            task_definition_arn=report.task_definition_arn or "",
            deployed_at=earlier.deployed_at if earlier else now,
            notified=notification is None or report.notified,
            notification=None if notification is None or report.notified else notification.to_json(),
        )
        if earlier is not None or report.status is not DeployStatus.DEPLOYING:
            self._ledger.commit(push.repository, config.name, claim.token, deployed, None)
            return
        history = {
            "time": describe_time(now),
            "repository": push.repository,
            "target": config.name,
            "tag": push.tag,
            "digest": push.digest,
            "trigger": push.trigger.value,
            "status": report.status.value,
            "cluster": config.cluster,
            "service": config.service,
            "taskDefinitionArn": report.task_definition_arn,
            "previousTaskDefinitionArn": report.previous_task_definition_arn,
            "deploymentId": report.deployment_id,
            "eventId": push.event_id,
            "pushedAt": push.pushed_at,
            "image": push.image_uri,
            "serviceArn": service_arn,
            "notification": json.dumps(notification.message) if notification else None,
        }
        self._ledger.commit(push.repository, config.name, claim.token, deployed, history)

    def _release_quietly(
        self, push: ImagePush, config: TargetConfig, claim: Claim, pending: PendingRevision | None
    ) -> None:
        try:
            self._ledger.release(push.repository, config.name, claim.token, pending)
        except DeployError as exc:  # the lease lapses by itself; the failure being reported matters more
            logger.warning("Claim not released", extra={"target": config.name, "error": str(exc)})

    @staticmethod
    def _failure_reason(exc: DeployError, registered: str | None) -> str:
        if registered is None:
            return str(exc) if not isinstance(exc, AwsCallError) else f"{exc}; nothing was registered"
        return f"{exc}; revision {registered} was registered but the service was not updated to it"


def _require_time(remaining_ms: Callable[[], int], step: str) -> None:
    """Stop before a write that might not finish in the invocation's time: a clean, retryable failure."""
    if remaining_ms() < TARGET_TIME_BUDGET_MS:
        raise AwsCallError("deadline", "OutOfTime", f"too little time left in the invocation for {step}")


def deploy_warnings(service: ServiceState) -> tuple[str, ...]:
    """What the team should know before trusting this deploy to end on its own."""
    if service.detects_failure:
        return ()
    return (
        f"service {service.name} has neither the deployment circuit breaker nor CloudWatch alarm rollback: "
        "a failing deployment will not stop or roll back on its own, and no FAILED outcome will be reported",
    )


def _failure_code(exc: DeployError) -> str:
    return {
        "ConfigError": "config",
        "MissingParametersError": "missing-secret",
        "ClusterNotFoundError": "service",
        "ServiceNotDeployableError": "service",
        "TaskDefinitionError": "task-definition",
        "OutOfScopeError": "out-of-scope",
        "AwsCallError": "aws",
    }.get(type(exc).__name__, "error")
