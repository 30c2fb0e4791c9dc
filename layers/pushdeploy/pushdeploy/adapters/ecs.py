"""ECS: services and task definitions."""

from __future__ import annotations

import random
import time
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
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.taskdef import fingerprint, registers_the_same

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


REGISTER_ATTEMPTS = 3
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
        )

    def describe_task_definition(self, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The task definition (as DescribeTaskDefinition returns it) and its tags."""
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
            return response["taskDefinition"]["taskDefinitionArn"]
        raise AssertionError("unreachable: the last attempt returns or raises")

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
