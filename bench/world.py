"""Events and AWS resources the benchmark deploys with, on top of tools.sample_world's world."""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from tools.sample_world import World, push_image, put_target_config, task_definition

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    """One of the sample events in events/."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


class EventClock:
    """Event times that only go forward, one second apart (the ledger orders pushes by event time). They start
    an hour back, so that a long burst never runs ahead of the clock (the deploy function refuses event times
    more than five minutes in the future)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._next = (start or datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)

    def tick(self) -> str:
        now = self._next
        self._next += timedelta(seconds=1)
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")


class Seeds:
    """Distinct image seeds, so that every pushed image has its own digest."""

    def __init__(self) -> None:
        self._counter = itertools.count(0x1000)

    def next(self) -> str:
        return f"{next(self._counter):08x}"


def push_event(template: dict[str, Any], repository: str, tag: str, digest: str, time: str) -> dict[str, Any]:
    """An ECR push event like ``template`` (events/ecr-push.json) with a new id."""
    event = copy.deepcopy(template)
    event["id"] = str(uuid.uuid4())
    event["time"] = time
    event["detail"].update({"repository-name": repository, "image-tag": tag, "image-digest": digest})
    return event


def image_of(task_definition_description: dict[str, Any], container: str = "api") -> str:
    """The image of ``container`` in a DescribeTaskDefinition ``taskDefinition``."""
    for definition in task_definition_description.get("containerDefinitions", []):
        if definition.get("name") == container:
            return str(definition.get("image", ""))
    return ""


def digest_of(image: str) -> str:
    """The digest an image URI is pinned to ('' for a tag)."""
    return image.rsplit("@", 1)[1] if "@" in image else ""


@dataclass
class Service:
    """A service created for the benchmark, and the repository its target deploys from."""

    cluster: str
    service: str
    family: str
    repository: str
    repository_uri: str
    target: str


def create_services(
    session: boto3.Session,
    world: World,
    *,
    cluster: str,
    count: int,
    prefix: str,
    target: str,
    tags: list[str],
) -> list[Service]:
    """``count`` services in ``cluster``, each with its own ECR repository, task-definition family and
    target config (``/pushdeploy/<repository>/<target>``, updating the ``api`` container)."""
    ecs, ecr = session.client("ecs"), session.client("ecr")
    ecs.create_cluster(clusterName=cluster)
    services: list[Service] = []
    width = max(3, len(str(count - 1)))
    for index in range(count):
        name = f"{prefix}-{index:0{width}d}"  # zero-padded: no family is a prefix of another
        repository_uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
        definition = task_definition(name, repository_uri, "initial")
        arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=arn,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": [world.subnet_id], "securityGroups": [world.security_group_id]}
            },
        )
        config = {"cluster": cluster, "service": name, "tags": tags, "containers": ["api"]}
        put_target_config(session, name, target, config)
        services.append(Service(cluster, name, name, name, repository_uri, target))
    return services


def push(session: boto3.Session, repository: str, tag: str, seeds: Seeds) -> str:
    """Push a new image under ``tag``; returns its digest."""
    return push_image(session, repository, tag, seeds.next())
