"""A sample world to deploy into: clusters, services, an ECR repository, target configs and secrets.

Used by the integration tests (in-process moto), the end-to-end tests and the demo (moto's server).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT = "123456789012"
REPOSITORY = "api"
DB_IMAGE = "public.ecr.aws/docker/library/postgres:16.4"
CONFIG_PREFIX = "/pushdeploy"

STAGING_CONFIG: dict[str, Any] = {
    "cluster": "staging",
    "service": "api",
    "tags": ["staging-*", "build-*"],
    "secrets": {"DATABASE_URL": "/api/staging/DATABASE_URL"},
    "secretsPath": "/api/staging/env",
    "environment": {"LOG_LEVEL": "info"},
}
PROD_CONFIG: dict[str, Any] = {
    "cluster": "prod",
    "service": "api",
    "tags": ["v*"],
    "containers": ["api"],
    "secrets": {"DATABASE_URL": "/api/prod/DATABASE_URL"},
}
# prod deployed as a canary (10% for a minute, then all), paused for approval after the test traffic shift.
# Short bakes: the local ECS's events must stay within the functions' 5 minutes of clock tolerance.
PROD_CANARY_CONFIG: dict[str, Any] = {
    **PROD_CONFIG,
    "deployment": {
        "strategy": "CANARY",
        "circuitBreaker": {"enable": False},  # the service's own breaker applies to ROLLING only
        "canary": {"percent": 10, "bakeTimeMinutes": 1},
        "bakeTimeMinutes": 0,
    },
    "approval": {"stage": "POST_TEST_TRAFFIC_SHIFT", "timeoutMinutes": 60, "onTimeout": "ROLLBACK"},
}
SECRET_PARAMETERS = (
    "/api/staging/DATABASE_URL",
    "/api/staging/env/STRIPE_KEY",
    "/api/staging/env/SESSION_SECRET",
    "/api/staging/legacy/OLD_TOKEN",
    "/api/prod/DATABASE_URL",
)
# A value the tests look for in every output: it must never leave Parameter Store.
SECRET_VALUE = "s3cr3t-value-that-must-never-be-logged"  # noqa: S105 - a marker, not a credential


@dataclass
class World:
    """What was created, for assertions and for the demo's account of it."""

    region: str
    registry: str
    repository_uri: str
    topic_arn: str
    image_digests: dict[str, str] = field(default_factory=dict)
    task_definitions: dict[str, str] = field(default_factory=dict)  # cluster to the service's first revision
    subnet_id: str = ""
    security_group_id: str = ""


def task_definition(family: str, repository_uri: str, tag: str) -> dict[str, Any]:
    """A typical two-container task: the app from the pushed repository, its database from another."""
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-execution",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task",
        "ephemeralStorage": {"sizeInGiB": 30},
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "volumes": [{"name": "scratch"}],
        "containerDefinitions": [
            {
                "name": "api",
                "image": f"{repository_uri}:{tag}",
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "PORT", "value": "8080"}],
                "secrets": [
                    {
                        "name": "OLD_TOKEN",
                        "valueFrom": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/api/staging/legacy/OLD_TOKEN",
                    }
                ],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{family}",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "api",
                    },
                },
            },
            {
                "name": "db",
                "image": DB_IMAGE,
                "essential": False,
                "environment": [{"name": "POSTGRES_DB", "value": "api"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{family}",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "db",
                    },
                },
            },
        ],
    }


def push_image(session: boto3.Session, repository: str, tag: str, seed: str) -> str:
    """Put an image manifest under ``tag`` (as a push would) and return its digest."""
    ecr = session.client("ecr")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + (seed * 64)[:64],
        },
        # moto derives the image digest from the layer digests: one layer per image keeps them distinct.
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 31_457_280,
                "digest": "sha256:" + (seed * 64)[:64],
            }
        ],
    }
    response = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return str(response["image"]["imageId"]["imageDigest"])


def seed_world(session: boto3.Session, *, topic_arn: str | None = None) -> World:
    """Create the sample world in whatever AWS ``session`` reaches (moto, in-process or server)."""
    region = session.region_name or "us-east-1"
    ec2, ecs, ecr, ssm = (session.client("ec2"), session.client("ecs"), session.client("ecr"), session.client("ssm"))

    repository = ecr.create_repository(repositoryName=REPOSITORY)["repository"]
    repository_uri = repository["repositoryUri"]
    world = World(
        region=region,
        registry=repository_uri.split("/", 1)[0],
        repository_uri=repository_uri,
        topic_arn=topic_arn or session.client("sns").create_topic(Name="pushdeploy")["TopicArn"],
    )
    for tag, seed in (("staging-41", "1"), ("staging-42", "2"), ("v1.4.1", "3"), ("v1.4.2", "4")):
        world.image_digests[tag] = push_image(session, REPOSITORY, tag, seed)

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # moto's Fargate RunTask needs it
    world.subnet_id = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    world.security_group_id = ec2.create_security_group(GroupName="api", Description="api service", VpcId=vpc)[
        "GroupId"
    ]

    for cluster, tag in (("staging", "staging-41"), ("prod", "v1.4.1")):
        ecs.create_cluster(clusterName=cluster)
        definition = task_definition(f"api-{cluster}", repository_uri, tag)
        registered = ecs.register_task_definition(**definition, tags=[{"key": "team", "value": "payments"}])[
            "taskDefinition"
        ]["taskDefinitionArn"]
        world.task_definitions[cluster] = registered
        ecs.create_service(
            cluster=cluster,
            serviceName="api",
            taskDefinition=registered,
            desiredCount=2,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": [world.subnet_id], "securityGroups": [world.security_group_id]}
            },
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        )

    for name in SECRET_PARAMETERS:
        ssm.put_parameter(Name=name, Value=SECRET_VALUE, Type="SecureString")
    put_target_config(session, REPOSITORY, "staging", STAGING_CONFIG)
    put_target_config(session, REPOSITORY, "prod", PROD_CONFIG)
    return world


def create_deploy_table(session: boto3.Session, name: str = "pushdeploy-deploys") -> str:
    """Create the deploy table as template.yaml defines it (for tests that run without the stack)."""
    from tools.template import load_template  # noqa: PLC0415 - keeps this module light for the demo

    properties = load_template()["Resources"]["DeployTable"]["Properties"]
    session.client("dynamodb").create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
    )
    return name


def put_target_config(
    session: boto3.Session,
    repository: str,
    target: str,
    config: dict[str, Any] | str,
    prefix: str = CONFIG_PREFIX,
) -> str:
    """Store a target config (a dict, or raw text to store as it is); returns the parameter name."""
    name = f"{prefix}/{repository}/{target}"
    value = config if isinstance(config, str) else json.dumps(config, indent=2)
    session.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return name
