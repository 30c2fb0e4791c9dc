"""ECS one-off tasks: RunTask and StopTask."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.errors import DeployError, shorten

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


class TaskNotStartedError(DeployError):
    """RunTask answered without starting the task (its ``failures``: capacity, a missing resource)."""

    code = "task"


class EcsTasks:
    """Starts and stops the one-off tasks of a deploy."""

    def __init__(self, client: ECSClient) -> None:
        self._client = client

    def run_task(self, request: Mapping[str, Any]) -> str:
        """Start the task; returns its ARN (TaskNotStartedError when ECS reports failures instead)."""
        with aws_call("ecs:RunTask"):
            try:
                response = self._client.run_task(**request)
            except ClientError as exc:
                if error_code(exc) in {"InvalidParameterException", "ClientException", "PlatformUnknownException"}:
                    message = exc.response.get("Error", {}).get("Message", str(exc))
                    raise TaskNotStartedError(f"ECS refused to start the task: {shorten(message, 300)}") from exc
                raise
        tasks = response.get("tasks", [])
        if not tasks:
            failures = "; ".join(
                f"{failure.get('reason', 'unknown')} ({failure.get('arn', '-')})"
                for failure in response.get("failures", [])
            )
            raise TaskNotStartedError(f"ECS started no task: {shorten(failures or 'no reason given', 300)}")
        return str(tasks[0]["taskArn"])

    def stop_task(self, cluster: str, task_arn: str, reason: str) -> None:
        """Stop the task; one that is gone or already stopped is nothing to stop."""
        with aws_call("ecs:StopTask"):
            try:
                self._client.stop_task(cluster=cluster, task=task_arn, reason=reason[:255])
            except ClientError as exc:
                if error_code(exc) not in {"InvalidParameterException", "ClientException"}:
                    raise
