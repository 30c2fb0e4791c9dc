"""The opt-in check on a real AWS account: `make e2e-aws IMAGE=<ECR image URI>` with PUSHDEPLOY_AWS_E2E=1.

Deploys the stack with `sam deploy` into the account of the caller's credentials, creates a small Fargate
service running IMAGE (already in one of the account's ECR repositories), re-tags that image through the
ECR API (BatchGetImage, then PutImage with its manifest: no Docker) so that ECR emits the push, waits for
the DEPLOYING and COMPLETED notifications on an SQS queue subscribed to the stack's topic, and deletes
everything it created, whatever happened. Never part of `make test` or CI: it costs money and takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / ".venv-sam" / "bin" / "sam"
OPT_IN = "PUSHDEPLOY_AWS_E2E"
IMAGE_URI = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9._/-]+):([\w.-]{1,128})")
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def main(argv: list[str] | None = None) -> int:
    """Run the check; exit 0 when DEPLOYING then COMPLETED arrived for the re-tagged image."""
    parser = argparse.ArgumentParser(prog="python -m tools.aws_e2e", description=__doc__)
    parser.add_argument("--image", required=True, help="ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for COMPLETED (default 1200)")
    args = parser.parse_args(argv)
    if os.environ.get(OPT_IN) != "1":
        print(f"refused: this deploys to a real AWS account and costs money; set {OPT_IN}=1 to run it", file=sys.stderr)
        return 2
    match = IMAGE_URI.fullmatch(args.image)
    if not match:
        print(f"--image must be an ECR image URI with a tag, got {args.image[:200]!r}", file=sys.stderr)
        return 2
    account, region, repository, tag = match.groups()
    if os.environ.get("AWS_ENDPOINT_URL"):
        print("AWS_ENDPOINT_URL is set: unset it, this check talks to AWS itself", file=sys.stderr)
        return 2
    session = boto3.Session(region_name=region)
    caller = session.client("sts").get_caller_identity()["Account"]
    if caller != account:
        print(f"the image is in account {account}, your credentials are for {caller}", file=sys.stderr)
        return 2
    run = RealAccountRun(session, repository, tag, suffix=uuid.uuid4().hex[:8])
    try:
        return run.check(args.timeout)
    finally:
        run.clean_up()


class RealAccountRun:
    """What one run creates, and how to take each piece down again (newest first)."""

    def __init__(self, session: boto3.Session, repository: str, tag: str, suffix: str) -> None:
        self.session = session
        self.region = str(session.region_name)
        self.repository, self.tag, self.suffix = repository, tag, suffix
        self.name = f"pushdeploy-e2e-{suffix}"
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def created(self, what: str, undo: Callable[[], object]) -> None:
        print(f"created {what}")
        self._undo.append((what, undo))

    def clean_up(self) -> None:
        """Delete everything created, newest first; report (and go past) what cannot be deleted."""
        for what, undo in reversed(self._undo):
            try:
                undo()
                print(f"deleted {what}")
            except Exception as exc:
                print(f"could NOT delete {what}: {type(exc).__name__}: {exc}", file=sys.stderr)
        self._undo.clear()

    def check(self, timeout: float) -> int:
        outputs = self._deploy_stack()
        queue_url = self._subscribe_queue(outputs["DeployTopicArn"])
        cluster, service = self._create_service()
        target = f"e2e-{self.suffix}"
        ssm = self.session.client("ssm")
        parameter = f"/pushdeploy/{self.repository}/{target}"
        config = {"cluster": cluster, "service": service, "tags": [f"{self.name}*"]}
        ssm.put_parameter(Name=parameter, Value=json.dumps(config), Type="String")
        self.created(f"parameter {parameter}", lambda: ssm.delete_parameter(Name=parameter))
        new_tag = self._retag()
        statuses = self._wait(queue_url, new_tag, timeout)
        print(f"notifications for {self.repository}:{new_tag}: {', '.join(statuses) or 'none'}")
        return 0 if statuses[:1] == ["DEPLOYING"] and "COMPLETED" in statuses else 1

    def _deploy_stack(self) -> dict[str, str]:
        cfn = self.session.client("cloudformation")
        subprocess.run([str(SAM), "build"], cwd=ROOT, check=True)  # noqa: S603 - our own sam, fixed arguments
        self.created(f"stack {self.name}", lambda: _delete_stack(cfn, self.name))
        subprocess.run(  # noqa: S603
            [
                str(SAM),
                "deploy",
                "--stack-name",
                self.name,
                "--region",
                self.region,
                "--resolve-s3",
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_AUTO_EXPAND",
                "--no-confirm-changeset",
                "--no-fail-on-empty-changeset",
                "--parameter-overrides",
                f"AllowedClusters={self.name}",
                f"AllowedFamilies={self.name}",
            ],
            cwd=ROOT,
            check=True,
        )
        stack = cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def _subscribe_queue(self, topic_arn: str) -> str:
        sqs, sns = self.session.client("sqs"), self.session.client("sns")
        url = sqs.create_queue(QueueName=self.name)["QueueUrl"]
        self.created(f"queue {self.name}", lambda: sqs.delete_queue(QueueUrl=url))
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        subscription = sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )["SubscriptionArn"]
        self.created("topic subscription", lambda: sns.unsubscribe(SubscriptionArn=subscription))
        return url

    def _create_service(self) -> tuple[str, str]:
        ecs, iam, ec2 = self.session.client("ecs"), self.session.client("iam"), self.session.client("ec2")
        ecs.create_cluster(clusterName=self.name)
        self.created(f"cluster {self.name}", lambda: ecs.delete_cluster(cluster=self.name))
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(RoleName=self.name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        self.created(f"role {self.name}", lambda: iam.delete_role(RoleName=self.name))
        iam.attach_role_policy(RoleName=self.name, PolicyArn=EXECUTION_POLICY)
        self.created(
            "role policy attachment", lambda: iam.detach_role_policy(RoleName=self.name, PolicyArn=EXECUTION_POLICY)
        )
        time.sleep(10)  # IAM is eventually consistent: ECS must be able to assume the new role
        image = f"{self.session.client('sts').get_caller_identity()['Account']}.dkr.ecr.{self.region}.amazonaws.com/"
        definition = ecs.register_task_definition(
            family=self.name,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            executionRoleArn=role,
            containerDefinitions=[{"name": "app", "image": f"{image}{self.repository}:{self.tag}", "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
        self.created(
            f"task definition family {self.name}",
            lambda: _deregister_family(ecs, self.name),
        )
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise SystemExit(f"no default VPC in {self.region}: the check runs its service in the default VPC")
        vpc = vpcs[0]["VpcId"]
        subnets = [
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        ]
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
        ecs.create_service(
            cluster=self.name,
            serviceName="app",
            taskDefinition=definition,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": subnets[:3],
                    "securityGroups": [groups[0]["GroupId"]],
                    "assignPublicIp": "ENABLED",  # to pull from ECR without a NAT gateway
                }
            },
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        )
        self.created("service app", lambda: _delete_service(ecs, self.name, "app"))
        ecs.get_waiter("services_stable").wait(cluster=self.name, services=["app"])
        return self.name, "app"

    def _retag(self) -> str:
        """Put the image's manifest under a new tag: ECR emits the push event, as for a docker push."""
        ecr = self.session.client("ecr")
        [image] = ecr.batch_get_image(repositoryName=self.repository, imageIds=[{"imageTag": self.tag}])["images"]
        new_tag = f"{self.name}-{int(time.time())}"
        manifest: dict[str, Any] = {"imageManifest": image["imageManifest"]}
        if image.get("imageManifestMediaType"):
            manifest["imageManifestMediaType"] = image["imageManifestMediaType"]
        ecr.put_image(repositoryName=self.repository, imageTag=new_tag, **manifest)
        self.created(
            f"image tag {self.repository}:{new_tag}",
            lambda: ecr.batch_delete_image(repositoryName=self.repository, imageIds=[{"imageTag": new_tag}]),
        )
        return new_tag

    def _wait(self, queue_url: str, tag: str, timeout: float) -> list[str]:
        """The statuses of the notifications about ``tag``, in arrival order, until COMPLETED or FAILED."""
        sqs = self.session.client("sqs")
        statuses: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                body = json.loads(message["Body"])
                if body.get("tag") == tag:
                    statuses.append(str(body.get("status")))
                    print(f"  {body.get('status')}: {body.get('reason') or ''}")
            if any(status in {"COMPLETED", "FAILED", "ROLLED_BACK"} for status in statuses):
                break
        return statuses


def _delete_stack(cfn: Any, name: str) -> None:
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(StackName=name)


def _delete_service(ecs: Any, cluster: str, service: str) -> None:
    ecs.delete_service(cluster=cluster, service=service, force=True)
    ecs.get_waiter("services_inactive").wait(cluster=cluster, services=[service])


def _deregister_family(ecs: Any, family: str) -> None:
    arns = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    for arn in arns:
        ecs.deregister_task_definition(taskDefinition=arn)
    if arns:
        ecs.delete_task_definitions(taskDefinitions=arns)


if __name__ == "__main__":
    sys.exit(main())
