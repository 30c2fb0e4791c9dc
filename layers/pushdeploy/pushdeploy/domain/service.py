"""An ECS service as the deployer sees it, and whether it can take a new task definition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pushdeploy.domain.errors import ServiceNotDeployableError
from pushdeploy.domain.tasks import RunSettings

if TYPE_CHECKING:
    from pushdeploy.domain.config import CreateService


@dataclass(frozen=True)
class ServiceState:
    """The parts of DescribeServices the deployer relies on."""

    arn: str
    name: str
    cluster_arn: str
    status: str
    task_definition_arn: str
    deployment_controller: str = "ECS"
    rollout_in_progress: bool = False
    circuit_breaker: bool = False  # deploymentCircuitBreaker.enable
    rollback_alarms: bool = False  # deploymentConfiguration.alarms.enable
    primary_deployment_id: str | None = None  # the id of the deployment of the current task definition
    # deploymentConfiguration as DescribeServices returns it: what a target's ``deployment`` block merges over
    deployment_configuration: Mapping[str, Any] = field(default_factory=dict)
    load_balancers: tuple[Mapping[str, Any], ...] = ()
    run: RunSettings = field(default_factory=RunSettings)  # how it launches tasks: a one-off task reuses it

    @property
    def strategy(self) -> str:
        """The service's deployment strategy (ROLLING when it names none)."""
        return str(self.deployment_configuration.get("strategy") or "ROLLING")

    @property
    def missing(self) -> bool:
        """DescribeServices did not find it (or found it deleted): a create block may create it."""
        return self.status in {"MISSING", "INACTIVE"}

    @property
    def detects_failure(self) -> bool:
        """Whether a failing deployment ends on its own (circuit breaker or CloudWatch alarms)."""
        return self.circuit_breaker or self.rollback_alarms


def check_deployable(service: ServiceState, cluster: str) -> None:
    """Raise unless the service is ACTIVE and uses the ECS deployment controller."""
    if service.status == "MISSING":
        raise ServiceNotDeployableError(
            f"service {service.name} not found in cluster {cluster}; create it, add a 'create' block to the "
            "target, or fix the target's 'service'"
        )
    if service.status != "ACTIVE":
        raise ServiceNotDeployableError(
            f"service {service.name} in cluster {cluster} is {service.status}, not ACTIVE: "
            "it is being deleted or was deleted; recreate it or point the target elsewhere"
        )
    if service.deployment_controller != "ECS":
        raise ServiceNotDeployableError(
            f"service {service.name} in cluster {cluster} uses the {service.deployment_controller} deployment "
            "controller; pushdeploy updates services that use the ECS controller (rolling, blue/green, "
            "linear or canary through deploymentConfiguration.strategy)"
        )


def deploy_warnings(service: ServiceState) -> tuple[str, ...]:
    """What the team should know before trusting this deploy to end on its own."""
    if service.detects_failure:
        return ()
    return (
        f"service {service.name} has neither the deployment circuit breaker nor CloudWatch alarm rollback: "
        "a failing deployment will not stop or roll back on its own, and no FAILED outcome will be reported",
    )


def as_created(service: ServiceState, create: CreateService | None) -> ServiceState:
    """The service as a target's create block creates it (for the warnings about it)."""
    return replace(service, circuit_breaker=create is not None and create.circuit_breaker)


@dataclass(frozen=True)
class PausedHook:
    """A lifecycle hook of a service deployment awaiting action (DescribeServiceDeployments'
    ``lifecycleHookDetails`` with status AWAITING_ACTION)."""

    hook_id: str
    expires_at: float | None
    timeout_action: str | None


@dataclass(frozen=True)
class ServiceDeploymentState:
    """What an approval needs of a service deployment: whether it runs, its stage, the hooks awaiting action."""

    arn: str
    status: str
    lifecycle_stage: str | None
    paused: tuple[PausedHook, ...] = ()

    @property
    def in_progress(self) -> bool:
        return self.status == "IN_PROGRESS"
