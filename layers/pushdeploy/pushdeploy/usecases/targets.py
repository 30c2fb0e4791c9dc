"""The AWS clients a target is deployed with: the stack's own, or those of the workload account's role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pushdeploy.domain.accounts import TargetLocation
from pushdeploy.domain.ports import AlarmCatalog, DeploymentControl, EcsGateway, ParameterCatalog


@dataclass(frozen=True)
class TargetClients:
    """The ports a target's deploy uses in its account and Region: ECS, the secret-existence checks (SSM) and
    the deployment alarms (CloudWatch)."""

    ecs: EcsGateway
    parameters: ParameterCatalog
    control: DeploymentControl | None = None
    alarms: AlarmCatalog | None = None


# (where the target is, the session name naming the push) -> its clients. The composition root assumes the
# workload role there; raises DeployError (RoleNotAssumableError, AwsCallError) when it cannot.
TargetClientsFactory = Callable[[TargetLocation, str], TargetClients]
