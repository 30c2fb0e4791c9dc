"""Reading what a deploy starts from, and asking the domain for the target's plan."""

from __future__ import annotations

from collections.abc import Sequence

from pushdeploy.domain.config import TargetConfig
from pushdeploy.domain.errors import ConfigError, MissingParametersError
from pushdeploy.domain.ledger import TargetState
from pushdeploy.domain.plan import TargetPlan, plan_target, revision_source
from pushdeploy.domain.ports import AlarmCatalog, EcsGateway, ParameterCatalog
from pushdeploy.domain.push import AwsLocation, ImagePush
from pushdeploy.domain.scope import check_family, family_of
from pushdeploy.domain.secrets import target_secrets
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.strategy import DeploymentChange, deployment_change, missing_alarms_message
from pushdeploy.domain.taskdef import TAG_IMAGE_DIGEST, TAG_IMAGE_TAG, render_task_definition


class Planner:
    """Reads the service, its task definition and the secrets' existence; the domain decides the rest."""

    def __init__(
        self,
        *,
        ecs: EcsGateway,
        parameters: ParameterCatalog,
        allowed_families: Sequence[str],
        alarms: AlarmCatalog | None = None,
    ) -> None:
        self._ecs = ecs
        self._parameters = parameters
        self._allowed_families = tuple(allowed_families)
        self._alarms = alarms

    def plan(self, push: ImagePush, config: TargetConfig, state: TargetState) -> tuple[ServiceState, TargetPlan]:
        """The service as it is, and the plan for deploying ``push`` to it. Raises DeployError naming what
        stands in the way (service, family scope, task definition, secrets)."""
        service = self._ecs.describe_service(config.cluster, config.service)
        source = revision_source(service, config)
        check_family(family_of(source.task_definition), self._allowed_families)
        current, current_tags = self._ecs.describe_task_definition(source.task_definition)
        location = AwsLocation.from_arn(str(current.get("taskDefinitionArn") or service.arn))
        rendered = render_task_definition(
            current,
            current_tags,
            repository_uri=push.repository_uri,
            image_uri=push.image_uri,
            containers=config.containers,
            environment=config.environment,
            secrets=self._secrets(config, location),
            record_tags={TAG_IMAGE_TAG: push.tag, TAG_IMAGE_DIGEST: push.digest},
        )
        plan = plan_target(
            service=service,
            source=source,
            rendered=rendered,
            current_tags={tag["key"]: tag["value"] for tag in current_tags},
            config=config,
            state=state,
            push=push,
            deployment=self._deployment(config, service, creating=source.creating),
        )
        return service, plan

    def _deployment(self, config: TargetConfig, service: ServiceState, *, creating: bool) -> DeploymentChange | None:
        """The ``deploymentConfiguration`` the target's blocks make over the service's (or, for a service to be
        created, over its create block's), with every alarm it names checked to exist."""
        if creating:
            create = config.create
            assert create is not None
            strategy = config.deployment.strategy if config.deployment else None
            breaker = create.circuit_breaker and strategy in (None, "ROLLING")
            current: dict[str, object] = {"deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}}
            balancers = create.load_balancers
        else:
            current, balancers = dict(service.deployment_configuration), service.load_balancers
        change = deployment_change(
            config.parameter, config.deployment, config.approval, current, load_balancers=balancers
        )
        if change is not None and change.alarm_names:
            if self._alarms is None:
                raise ConfigError(config.parameter, "field 'deployment.alarms' cannot be checked: no alarm catalog")
            missing = self._alarms.missing_alarms(change.alarm_names)
            if missing:
                raise ConfigError(config.parameter, missing_alarms_message(missing))
        return change

    def _secrets(self, config: TargetConfig, location: AwsLocation) -> dict[str, str]:
        """Resolve every secret to its ``valueFrom`` and make sure each local parameter exists (by name: no
        value is ever read)."""
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
