"""The state the end-to-end tests assert on, read back from the local server over HTTP with boto3."""

from __future__ import annotations

import json
from typing import Any, cast

import boto3

from tools.sample_world import ACCOUNT

REGION = "us-east-1"


def ssm_arn(name: str) -> str:
    """The ARN of Parameter Store parameter ``name`` in the sample world's account."""
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def revisions(session: boto3.Session, family: str | None = None) -> list[str]:
    """Every registered task-definition revision (of ``family`` when given)."""
    arns: list[str] = []
    for page in session.client("ecs").get_paginator("list_task_definitions").paginate():
        arns.extend(page["taskDefinitionArns"])
    if family is not None:
        arns = [arn for arn in arns if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]
    return sorted(arns)


def service(session: boto3.Session, cluster: str, name: str = "api") -> dict[str, Any]:
    """DescribeServices' description of one service."""
    described = session.client("ecs").describe_services(cluster=cluster, services=[name])
    assert len(described["services"]) == 1, f"service {name} not in cluster {cluster}: {described['failures']}"
    return cast(dict[str, Any], described["services"][0])


def task_definition(session: boto3.Session, arn: str) -> tuple[dict[str, Any], dict[str, str]]:
    """DescribeTaskDefinition(include=["TAGS"]): the task definition and its tags as a dict."""
    response = session.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    tags = {tag["key"]: tag["value"] for tag in response.get("tags", [])}
    return cast(dict[str, Any], response["taskDefinition"]), tags


def container(definition: dict[str, Any], name: str) -> dict[str, Any]:
    found = [item for item in definition["containerDefinitions"] if item["name"] == name]
    assert len(found) == 1, f"container {name} not in {definition['family']}"
    return cast(dict[str, Any], found[0])


def target_report(result: dict[str, Any], name: str) -> dict[str, Any]:
    """One target's report in the handler's result."""
    found = [report for report in result["targets"] if report["target"] == name]
    assert len(found) == 1, f"target {name} not in {result['targets']}"
    return cast(dict[str, Any], found[0])


def queue_url(session: boto3.Session, url_or_name: str) -> str:
    """The local URL of a queue, from its name or from the URL a CloudFormation output reports."""
    name = url_or_name.rsplit("/", 1)[-1]
    return session.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def drain(session: boto3.Session, url: str) -> list[dict[str, Any]]:
    """Every message body in the queue (JSON-decoded), removed from it."""
    sqs = session.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
