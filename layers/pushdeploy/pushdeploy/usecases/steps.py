"""Running one step of a target's deploy plan against ECS (the plan itself is decided in domain/plan.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import TargetConfig, create_service_request
from pushdeploy.domain.errors import AwsCallError, ConfigError
from pushdeploy.domain.ledger import TargetState, reusable_revision
from pushdeploy.domain.plan import StepKind, TargetPlan
from pushdeploy.domain.ports import DeploymentControl, EcsGateway
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.taskdef import fingerprint, registers_the_same

logger = Logger(service="pushdeploy", child=True)

# A target is not started with less time left than this: its AWS calls (each bounded by the client's
# timeouts and retries) and the ledger commit must fit, or the next attempt would find it half-done.
TARGET_TIME_BUDGET_MS = 30_000


@dataclass(frozen=True)
class Executed:
    """What executing a plan's steps did."""

    task_definition_arn: str | None
    deployment_id: str | None
    service_arn: str


class StepRunner:
    """Runs a plan's steps: register the revision (or find the one registered before), update or create the
    service, with the deployment configuration the plan decided."""

    def __init__(self, ecs: EcsGateway, control: DeploymentControl | None) -> None:
        self._ecs = ecs
        self._control = control

    def run(
        self,
        step: StepKind,
        push: ImagePush,
        config: TargetConfig,
        remaining_ms: Callable[[], int],
        *,
        state: TargetState,
        service: ServiceState,
        plan: TargetPlan,
        registered: str | None,
    ) -> Executed:
        """Run one step of ``push``'s plan for the target of ``config``; ``registered`` is the revision an
        earlier step registered."""
        if step is StepKind.REGISTER:
            return Executed(self._register(push, state, plan, remaining_ms), None, service.arn)
        if step is StepKind.RECORD_EARLIER_UPDATE:
            assert plan.earlier is not None
            return Executed(plan.earlier.task_definition_arn, plan.earlier.deployment_id, service.arn)
        require_time(remaining_ms, "updating the service")
        if step is StepKind.CREATE_SERVICE:
            assert registered is not None
            configuration = plan.deployment.configuration if plan.deployment else None
            service_arn, deployment_id = self._ecs.create_service(
                create_service_request(config, registered, configuration)
            )
            return Executed(registered, deployment_id, service_arn)
        if step is StepKind.FORCE_NEW_DEPLOYMENT:
            current = service.task_definition_arn
            deployment_id = self._ecs.update_service(config.cluster, config.service, current, force_new_deployment=True)
            return Executed(current, deployment_id, service.arn)
        assert step is StepKind.UPDATE_SERVICE and registered is not None
        if plan.deployment is not None:
            if self._control is None:
                raise ConfigError(
                    config.parameter, "field 'deployment' cannot be applied: this deployer has no ECS control"
                )
            deployment_id = self._control.update_service_configured(
                config.cluster, config.service, registered, plan.deployment.configuration
            )
            return Executed(registered, deployment_id, service.arn)
        return Executed(registered, self._ecs.update_service(config.cluster, config.service, registered), service.arn)

    def _register(self, push: ImagePush, state: TargetState, plan: TargetPlan, remaining_ms: Callable[[], int]) -> str:
        """Register the rendered revision, unless an earlier attempt registered exactly it."""
        request_fingerprint = fingerprint(plan.rendered.request)
        reused = reusable_revision(state, push.digest, request_fingerprint)
        if reused is not None:
            logger.info("Reusing the revision registered before", extra={"taskDefinitionArn": reused})
            return reused
        if state.claim is not None and state.claim.push.event_id == push.event_id:
            # An earlier attempt of this very event still held the claim (it crashed, or could not record what
            # it registered): if the family's latest revision is exactly this one, it registered it.
            latest, tags = self._ecs.describe_task_definition(plan.rendered.family)
            if registers_the_same(latest, tags, request_fingerprint):
                return str(latest.get("taskDefinitionArn"))
        require_time(remaining_ms, "registering the revision")
        return self._ecs.register_task_definition(plan.rendered.request)


def require_time(remaining_ms: Callable[[], int], step: str) -> None:
    """Stop before a write that might not finish in the invocation's time: a clean, retryable failure."""
    if remaining_ms() < TARGET_TIME_BUDGET_MS:
        raise AwsCallError("deadline", "OutOfTime", f"too little time left in the invocation for {step}")
