"""ECS: services and task definitions."""

from __future__ import annotations

import copy
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.errors import ClusterNotFoundError, TaskDefinitionError
from pushdeploy.domain.service import PausedHook, ServiceDeploymentState, ServiceState
from pushdeploy.domain.strategy import ApprovalError
from pushdeploy.domain.taskdef import fingerprint, registers_the_same
from pushdeploy.domain.tasks import RunSettings

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


REGISTER_ATTEMPTS = 3
# ContinueServiceDeployment's answers to a hook that awaits no action (answered, timed out, or unknown).
_NOT_AWAITING_CODES = frozenset({"InvalidParameterException", "ClientException", "ServiceDeploymentNotFoundException"})
REMEMBERED_REVISIONS = 64  # per execution environment: the latest few of each target it deployed
# Throttling and server errors: the registration did not happen, so it can simply be sent again.
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
        "ServerException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


class EcsServices:
    """The ECS calls a deploy makes."""

    def __init__(
        self,
        client: ECSClient,
        register_client: ECSClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        # RegisterTaskDefinition has no idempotency token: a client that retries a lost response registers a
        # second revision. Registrations go through a client without retries, and this adapter retries.
        self._register_client = register_client or client
        self._sleep = sleep
        # Revisions this adapter registered, as RegisterTaskDefinition returned them: revisions are immutable
        # and their tags are the ones sent, so describing one again would only cost a call.
        self._registered: OrderedDict[str, tuple[dict[str, Any], list[dict[str, str]]]] = OrderedDict()

    def describe_service(self, cluster: str, service: str) -> ServiceState:
        """The service's state; ClusterNotFoundError or ServiceNotDeployableError when there is none."""
        with aws_call("ecs:DescribeServices"):
            try:
                response = self._client.describe_services(cluster=cluster, services=[service])
            except ClientError as exc:
                if error_code(exc) == "ClusterNotFoundException":
                    raise ClusterNotFoundError(f"cluster {cluster} does not exist in this account and Region") from exc
                raise
        services = response.get("services", [])
        if not services:
            arn = next((f.get("arn", "") for f in response.get("failures", [])), "")
            return ServiceState(arn=arn, name=service, cluster_arn=cluster, status="MISSING", task_definition_arn="")
        found = services[0]
        configuration = found.get("deploymentConfiguration", {})
        deployments = found.get("deployments", [])
        return ServiceState(
            arn=found["serviceArn"],
            name=found["serviceName"],
            cluster_arn=found.get("clusterArn", cluster),
            status=found.get("status", "UNKNOWN"),
            task_definition_arn=found.get("taskDefinition", ""),
            deployment_controller=found.get("deploymentController", {}).get("type", "ECS"),
            rollout_in_progress=len(deployments) > 1
            or any(d.get("rolloutState") == "IN_PROGRESS" for d in deployments if d.get("status") == "PRIMARY"),
            circuit_breaker=bool(configuration.get("deploymentCircuitBreaker", {}).get("enable")),
            rollback_alarms=bool(configuration.get("alarms", {}).get("enable")),
            primary_deployment_id=next(
                (str(d["id"]) for d in deployments if d.get("status") == "PRIMARY" and d.get("id")), None
            ),
            deployment_configuration=dict(configuration),
            load_balancers=tuple(dict(balancer) for balancer in found.get("loadBalancers", [])),
            run=RunSettings.from_service(found),
        )

    def describe_task_definition(self, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The task definition (as DescribeTaskDefinition returns it) and its tags."""
        if arn in self._registered:
            described, tags = self._registered[arn]
            return copy.deepcopy(described), [dict(tag) for tag in tags]
        with aws_call("ecs:DescribeTaskDefinition"):
            try:
                response = self._client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            except ClientError as exc:
                if error_code(exc) in {"ClientException", "InvalidParameterException"}:
                    raise TaskDefinitionError(
                        f"task definition {arn} of the service cannot be read: "
                        f"{exc.response.get('Error', {}).get('Message', exc)}"
                    ) from exc
                raise
        tags = [{"key": tag["key"], "value": tag["value"]} for tag in response.get("tags", [])]
        return dict(response["taskDefinition"]), tags

    def register_task_definition(self, request: Mapping[str, Any]) -> str:
        """Register a revision; returns its ARN. Throttling is retried with backoff; after a lost response
        (timeout, dropped connection) the family's latest revision is looked at first, and taken if it is
        exactly this one, so a retry never registers a revision twice."""
        wanted = fingerprint(request)
        for attempt in range(REGISTER_ATTEMPTS):
            last = attempt == REGISTER_ATTEMPTS - 1
            try:
                with aws_call("ecs:RegisterTaskDefinition"):
                    try:
                        response = self._register_client.register_task_definition(**request)
                    except ClientError as exc:
                        if last or error_code(exc) not in _RETRYABLE_CODES:
                            raise
                        self._sleep(min(2.0**attempt, 8.0) * (0.5 + random.random() / 2))  # noqa: S311
                        continue
                    except (ReadTimeoutError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError):
                        if last:
                            raise
                        latest, tags = self.describe_task_definition(str(request["family"]))
                        if registers_the_same(latest, tags, wanted):
                            return str(latest["taskDefinitionArn"])
                        continue
            except TaskDefinitionError:
                continue  # the family has no revision yet: the registration did not happen
            return self._remember(response, request)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _remember(self, response: Mapping[str, Any], request: Mapping[str, Any]) -> str:
        described = dict(response["taskDefinition"])
        arn = str(described["taskDefinitionArn"])
        sent = response.get("tags") or request.get("tags") or []
        self._registered[arn] = (described, [{"key": str(t["key"]), "value": str(t["value"])} for t in sent])
        while len(self._registered) > REMEMBERED_REVISIONS:
            self._registered.popitem(last=False)
        return arn

    def create_service(self, request: Mapping[str, Any]) -> tuple[str, str | None]:
        """Create a service; returns its ARN and the id of its first deployment."""
        with aws_call("ecs:CreateService"):
            response = self._client.create_service(**request)
        created = response["service"]
        deployment = next((d.get("id") for d in created.get("deployments", []) if d.get("status") == "PRIMARY"), None)
        return created["serviceArn"], deployment

    def stop_deployment_in_progress(self, cluster: str, service: str) -> str | None:
        """Stop the service's in-progress deployment with rollback; returns what was stopped, if anything."""
        with aws_call("ecs:ListServiceDeployments"):
            listed = self._client.list_service_deployments(
                cluster=cluster, service=service, status=["IN_PROGRESS", "PENDING"]
            )
        arns = [item["serviceDeploymentArn"] for item in listed.get("serviceDeployments", [])]
        if not arns:
            return None
        with aws_call("ecs:StopServiceDeployment"):
            self._client.stop_service_deployment(serviceDeploymentArn=arns[0], stopType="ROLLBACK")
        return arns[0]

    def update_service(
        self, cluster: str, service: str, task_definition_arn: str, *, force_new_deployment: bool = False
    ) -> str | None:
        """Point the service at a revision; returns the id of the PRIMARY deployment it started."""
        with aws_call("ecs:UpdateService"):
            response = self._client.update_service(
                cluster=cluster,
                service=service,
                taskDefinition=task_definition_arn,
                forceNewDeployment=force_new_deployment,
            )
        for deployment in response["service"].get("deployments", []):
            if deployment.get("status") == "PRIMARY":
                return deployment.get("id")
        return None

    def update_service_configured(
        self, cluster: str, service: str, task_definition_arn: str, deployment_configuration: Mapping[str, Any]
    ) -> str | None:
        """Point the service at a revision with this ``deploymentConfiguration`` (strategy, bake times, hooks);
        returns the id of the PRIMARY deployment it started."""
        with aws_call("ecs:UpdateService"):
            response = self._client.update_service(
                cluster=cluster,
                service=service,
                taskDefinition=task_definition_arn,
                deploymentConfiguration=dict(deployment_configuration),  # type: ignore[arg-type]
            )
        for deployment in response["service"].get("deployments", []):
            if deployment.get("status") == "PRIMARY":
                return deployment.get("id")
        return None

    def stage_reached(self, service_arn: str) -> str | None:
        """The lifecycle stage of the service's current service deployment, as ECS reports it (None when the
        service has none)."""
        cluster = service_arn.split(":service/", 1)[-1].split("/", 1)[0]
        with aws_call("ecs:DescribeServices"):
            response = self._client.describe_services(cluster=cluster, services=[service_arn])
        current = next((s.get("currentServiceDeployment") for s in response.get("services", [])), None)
        state = self.describe_service_deployment(str(current)) if current else None
        return state.lifecycle_stage if state is not None else None

    def describe_service_deployment(self, service_deployment_arn: str) -> ServiceDeploymentState | None:
        """The service deployment's status, lifecycle stage and the hooks awaiting action."""
        with aws_call("ecs:DescribeServiceDeployments"):
            response = self._client.describe_service_deployments(serviceDeploymentArns=[service_deployment_arn])
        found = response.get("serviceDeployments", [])
        if not found:
            return None
        deployment = found[0]
        paused = tuple(
            PausedHook(
                hook_id=str(hook["hookId"]),
                expires_at=_epoch(hook.get("expiresAt")),
                timeout_action=hook.get("timeoutAction"),
            )
            for hook in deployment.get("lifecycleHookDetails", [])
            if hook.get("status") == "AWAITING_ACTION" and hook.get("hookId")
        )
        return ServiceDeploymentState(
            arn=str(deployment.get("serviceDeploymentArn", service_deployment_arn)),
            status=str(deployment.get("status", "")),
            lifecycle_stage=deployment.get("lifecycleStage"),
            paused=paused,
        )

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> None:
        """Answer a PAUSE hook with CONTINUE or ROLLBACK; ApprovalError when it awaits no action any more."""
        with aws_call("ecs:ContinueServiceDeployment"):
            try:
                self._client.continue_service_deployment(
                    serviceDeploymentArn=service_deployment_arn,
                    hookId=hook_id,
                    action=action,  # type: ignore[arg-type]
                )
            except ClientError as exc:
                if error_code(exc) in {
                    "InvalidParameterException",
                    "ClientException",
                    "ServiceDeploymentNotFoundException",
                }:
                    message = str(exc.response.get("Error", {}).get("Message", ""))[:200]
                    raise ApprovalError(f"ECS did not take the answer to hook {hook_id}: {message}") from exc
                raise


def _epoch(value: Any) -> float | None:
    """A botocore timestamp (a datetime, or epoch seconds) as epoch seconds."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
