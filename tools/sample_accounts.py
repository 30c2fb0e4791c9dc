"""A registry account and a workload account beside the sample world's central one (moto keeps a backend
per account id; credentials from sts:AssumeRole act in the role's account).

Used by the demo and the tests of several accounts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from tools.sample_world import CONFIG_PREFIX, push_image, task_definition

CENTRAL, REGISTRY, WORKLOAD = "123456789012", "111111111111", "222222222222"
REGION = "us-east-1"
WORKLOAD_CLUSTER = "payments"
# What the central stack is deployed with to serve them.
STACK_PARAMETERS = {"AllowedAccounts": WORKLOAD, "TrustedAccounts": f"{REGISTRY},{WORKLOAD}"}
WORKLOAD_CONFIG: dict[str, Any] = {
    "cluster": WORKLOAD_CLUSTER,
    "service": "api",
    "tags": ["v*"],
    "containers": ["api"],
    "account": WORKLOAD,
    "accountAlias": "payments-prod",
}


def session_in(account: str, name: str = "sample-setup") -> boto3.Session:
    """A session acting in ``account`` (moto: through an assumed role of that account)."""
    sts = boto3.client("sts", region_name=REGION)
    issued = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName=name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
        region_name=REGION,
    )


@dataclass(frozen=True)
class SampleAccounts:
    registry: boto3.Session
    workload: boto3.Session
    registry_image: str  # the registry's api repository URI
    digests: dict[str, str]  # tag to digest, in the registry
    workload_task_definition: str


def seed_accounts(cluster: str = WORKLOAD_CLUSTER) -> SampleAccounts:
    """The registry's api repository (v1.4.1, v2.0.0); the workload's ``cluster`` with service api on
    api-prod (its api container from the registry, its roles the workload's), and its secret parameter."""
    registry, workload = session_in(REGISTRY), session_in(WORKLOAD)
    repository = registry.client("ecr").create_repository(repositoryName="api")["repository"]
    digests = {tag: push_image(registry, "api", tag, seed) for tag, seed in (("v1.4.1", "3"), ("v2.0.0", "7"))}
    ecs = workload.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    definition = task_definition("api-prod", repository["repositoryUri"], "v1.4.1")
    for role in ("taskRoleArn", "executionRoleArn"):  # the workload's own roles
        if role in definition:
            definition[role] = definition[role].replace(CENTRAL, WORKLOAD)
    arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=cluster,
        serviceName="api",
        taskDefinition=arn,
        desiredCount=1,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    workload.client("ssm").put_parameter(Name="/api/prod/DATABASE_URL", Value="postgres://prod", Type="SecureString")
    return SampleAccounts(registry, workload, repository["repositoryUri"], digests, arn)


def put_config(central: boto3.Session, path: str, config: dict[str, Any]) -> str:
    """Store a target config at ``<prefix>/<path>`` in the central account."""
    name = f"{CONFIG_PREFIX}/{path}"
    central.client("ssm").put_parameter(Name=name, Value=json.dumps(config), Type="String", Overwrite=True)
    return name
