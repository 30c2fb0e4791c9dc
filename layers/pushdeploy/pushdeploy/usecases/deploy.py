"""Deploy a pushed image to every target of its repository whose tag policy matches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import (
    AwsCallError,
    ConfigError,
    DeployError,
    InvalidEventError,
    MissingParametersError,
)
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.ports import (
    EcsGateway,
    ImageCatalog,
    NotificationPublisher,
    ParameterCatalog,
    TargetConfigSource,
)
from pushdeploy.domain.push import AwsLocation, ImagePush, Trigger, ecr_registry
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.secrets import target_secrets
from pushdeploy.domain.service import check_deployable
from pushdeploy.domain.tags import tag_matches
from pushdeploy.domain.taskdef import TAG_IMAGE_DIGEST, TAG_IMAGE_TAG, render_task_definition

# The service is named here: a child logger created before POWERTOOLS_SERVICE_NAME is read would not attach.
logger = Logger(service="pushdeploy", child=True)


@dataclass(frozen=True)
class ManualDeployRequest:
    """A deploy asked for by hand: a tag of a repository, optionally to named targets only."""

    repository: str
    tag: str
    event_id: str
    targets: tuple[str, ...] | None = None


class DeployIncompleteError(DeployError):
    """Raised after every target was tried and notified, when a retry may finish the job."""

    retryable = True


@dataclass
class DeployOutcome:
    """Every target's report for one push."""

    push: ImagePush | None
    reports: list[TargetReport] = field(default_factory=list)
    reason: str | None = None
    notification_errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """FAILED if any target failed, DEPLOYING if any deploys, else SKIPPED."""
        statuses = {report.status for report in self.reports}
        for status in (DeployStatus.FAILED, DeployStatus.DEPLOYING):
            if status in statuses:
                return status.value
        return DeployStatus.SKIPPED.value

    def as_result(self) -> dict[str, Any]:
        """The invocation's return value."""
        result: dict[str, Any] = {"status": self.status}
        if self.push is not None:
            result.update(repository=self.push.repository, tag=self.push.tag, digest=self.push.digest)
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
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._configs = configs
        self._ecs = ecs
        self._parameters = parameters
        self._images = images
        self._publisher = publisher
        self._region = region
        self._clock = clock

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
            targets=request.targets,
        )

    def deploy(self, push: ImagePush) -> DeployOutcome:
        """Deploy ``push`` to each matching target, independently, and notify each deploy or failure."""
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
            report = self._deploy_target(push, parameter, raw_configs[parameter])
            logger.info(
                "Target %s",
                report.status.value,
                extra={"target": report.target, "status": report.status.value, "reason": report.reason},
            )
            outcome.reports.append(report)
            if report.notifies:
                self._notify(report, outcome)
        return outcome

    def _deploy_target(self, push: ImagePush, parameter: str, raw_config: str) -> TargetReport:
        name = target_name(parameter)
        try:
            config = parse_target_config(parameter, raw_config)
        except ConfigError as exc:
            return TargetReport(push, name, DeployStatus.FAILED, reason=str(exc), parameter=parameter)
        if not tag_matches(config.tags, push.tag):
            return TargetReport(
                push,
                name,
                DeployStatus.SKIPPED,
                cluster=config.cluster,
                service=config.service,
                reason=f"tag {push.tag} does not match the target's tags {list(config.tags)}",
                parameter=parameter,
            )
        registered: str | None = None
        previous: str | None = None
        try:
            service = self._ecs.describe_service(config.cluster, config.service)
            check_deployable(service, config.cluster)
            previous = service.task_definition_arn
            current, current_tags = self._ecs.describe_task_definition(previous)
            secrets = self._check_secrets(config, AwsLocation.from_arn(service.arn))
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
            if not rendered.changes and push.trigger is Trigger.PUSH:
                return TargetReport(
                    push,
                    name,
                    DeployStatus.SKIPPED,
                    cluster=config.cluster,
                    service=config.service,
                    task_definition_arn=previous,
                    previous_task_definition_arn=previous,
                    reason=f"service already runs {push.image_uri} with this configuration",
                    parameter=parameter,
                )
            if rendered.changes:
                registered = self._ecs.register_task_definition(rendered.request)
            # A manual deploy of what already runs restarts the tasks on the current revision.
            deployment_id = self._ecs.update_service(
                config.cluster, config.service, registered or previous, force_new_deployment=registered is None
            )
        except DeployError as exc:
            return TargetReport(
                push,
                name,
                DeployStatus.FAILED,
                cluster=config.cluster,
                service=config.service,
                task_definition_arn=registered,
                previous_task_definition_arn=previous,
                reason=self._failure_reason(exc, registered),
                retryable=exc.retryable,
                parameter=parameter,
            )
        return TargetReport(
            push,
            name,
            DeployStatus.DEPLOYING,
            cluster=config.cluster,
            service=config.service,
            task_definition_arn=registered or previous,
            previous_task_definition_arn=previous,
            deployment_id=deployment_id,
            changes=rendered.changes,
            parameter=parameter,
        )

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

    @staticmethod
    def _failure_reason(exc: DeployError, registered: str | None) -> str:
        if registered is None:
            return str(exc) if not isinstance(exc, AwsCallError) else f"{exc}; nothing was registered"
        return f"{exc}; revision {registered} was registered but the service was not updated to it"

    def _notify(self, report: TargetReport, outcome: DeployOutcome) -> None:
        notification = render_notification(report, time=self._clock().isoformat(timespec="seconds"))
        try:
            self._publisher.publish(notification)
        except AwsCallError as exc:
            logger.error("Notification not published", extra={"target": report.target, "error": str(exc)})
            outcome.notification_errors.append(f"{report.target}: notification not published: {exc}")
