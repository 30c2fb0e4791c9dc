"""Shared test data for the unit tests: a described task definition, pushes and reports."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.taskdef import Change

DATA = Path(__file__).resolve().parent / "data"

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
REPOSITORY_URI = f"{REGISTRY}/api"
DIGEST = "sha256:" + "4f" * 32
IMAGE_URI = f"{REPOSITORY_URI}@{DIGEST}"
PARAMETER = "/pushdeploy/api/staging"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/main/api"


def described_task_definition() -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A DescribeTaskDefinition response for a two-container Fargate task (app from ``api``, db from
    public ECR), as boto3 returns it (``registeredAt`` is a datetime): the task definition and its tags."""
    response = json.loads((DATA / "describe-task-definition-api.json").read_text())
    task_definition: dict[str, Any] = response["taskDefinition"]
    task_definition["registeredAt"] = datetime.fromisoformat(task_definition["registeredAt"])
    tags: list[dict[str, str]] = response["tags"]
    return task_definition, tags


def container(task_definition: dict[str, Any], name: str) -> dict[str, Any]:
    """The container definition ``name`` of ``task_definition``."""
    for definition in task_definition["containerDefinitions"]:
        if definition["name"] == name:
            found: dict[str, Any] = definition
            return found
    raise KeyError(name)


def image_push(
    *,
    repository: str = "api",
    tag: str = "staging-42",
    digest: str = DIGEST,
    registry: str = REGISTRY,
    trigger: Trigger = Trigger.PUSH,
    targets: tuple[str, ...] | None = None,
) -> ImagePush:
    """A push of ``api:staging-42`` unless told otherwise."""
    return ImagePush(
        repository=repository,
        tag=tag,
        digest=digest,
        registry=registry,
        trigger=trigger,
        event_id="5c1f9d2e-8d0c-4a35-9f6c-2c8e0a1b7d11",
        targets=targets,
    )


def deploying_report(push: ImagePush | None = None, target: str = "staging") -> TargetReport:
    """A target whose service update was accepted, with an image change and an environment change."""
    push = push or image_push()
    return TargetReport(
        push=push,
        target=target,
        status=DeployStatus.DEPLOYING,
        cluster="main",
        service="api",
        task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:8",
        previous_task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:7",
        deployment_id="ecs-svc/1234567890123456789",
        changes=(
            Change("app", "image", None, f"{REPOSITORY_URI}:staging-41", push.image_uri),
            Change("app", "environment", "LOG_LEVEL", "info", "debug"),
        ),
        parameter=PARAMETER,
    )


def failed_report(
    push: ImagePush | None = None,
    *,
    target: str = "staging",
    reason: str = "service api in cluster main is DRAINING, not ACTIVE",
    retryable: bool = False,
    cluster: str | None = "main",
    service: str | None = "api",
) -> TargetReport:
    """A target whose deploy failed before anything was registered."""
    return TargetReport(
        push=push or image_push(),
        target=target,
        status=DeployStatus.FAILED,
        cluster=cluster,
        service=service,
        previous_task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:7" if cluster else None,
        reason=reason,
        retryable=retryable,
        parameter=PARAMETER,
    )


def skipped_report(push: ImagePush | None = None, target: str = "prod") -> TargetReport:
    """A target whose tag policy does not match the push."""
    return TargetReport(
        push=push or image_push(),
        target=target,
        status=DeployStatus.SKIPPED,
        cluster="main",
        service="api-prod",
        reason="tag staging-42 does not match the target's tags ['v*']",
        parameter="/pushdeploy/api/prod",
    )
