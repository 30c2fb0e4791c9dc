"""ECS: services and task definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.errors import ClusterNotFoundError, ServiceNotDeployableError, TaskDefinitionError
from pushdeploy.domain.service import ServiceState

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


class EcsServices:
    """The ECS calls a deploy makes."""

    def __init__(self, client: ECSClient) -> None:
        self._client = client

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
            reasons = ", ".join(failure.get("reason", "?") for failure in response.get("failures", []))
            raise ServiceNotDeployableError(
                f"service {service} not found in cluster {cluster} ({reasons or 'MISSING'}); create it, or "
                "fix the target's 'service'"
            )
        found = services[0]
        return ServiceState(
            arn=found["serviceArn"],
            name=found["serviceName"],
            cluster_arn=found.get("clusterArn", cluster),
            status=found.get("status", "UNKNOWN"),
            task_definition_arn=found.get("taskDefinition", ""),
            deployment_controller=found.get("deploymentController", {}).get("type", "ECS"),
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
        """Register a revision; returns its ARN."""
        with aws_call("ecs:RegisterTaskDefinition"):
            response = self._client.register_task_definition(**request)
        return response["taskDefinition"]["taskDefinitionArn"]

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
