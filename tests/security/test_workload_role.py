"""Least privilege across accounts: every call the central deploy function makes in a workload account is one
the workload role (accounts/workload.yaml) grants, scoped by its AllowedClusters/AllowedFamilies; the role
trusts only the central deploy function's role with the external id; and the central role may assume that
role in AllowedAccounts only.

The calls are recorded while the real deploy handler deploys a registry's push to the workload account on
in-process moto (three accounts), mapped to the IAM requests they are authorized as (tools.iam_policy), and
evaluated against the workload template's role as CloudFormation would create it in that account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from pushdeploy import wiring
from tests.accounts_world import (
    CENTRAL,
    OUTSIDE,
    PROD_CONFIG,
    REGION,
    REGISTRY,
    ROOT,
    WORKLOAD,
    RecordedCall,
    RecordingRegionalClients,
    forwarded_push,
    put_config,
    seed_three_accounts,
)
from tests.helpers import LambdaContext, load_function
from tests.security.harness import IAM_PREFIXES, TEST_ENVIRONMENT
from tools.iam_policy import (
    AccountRegion,
    Request,
    StackValues,
    Statement,
    evaluate,
    parameter_values,
    parse_policy,
    requests_for_call,
    resolve_intrinsics,
    role_statements,
)
from tools.sample_world import CONFIG_PREFIX
from tools.template import load_template

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
WORKLOAD_TEMPLATE = ROOT / "accounts" / "workload.yaml"
DEPLOY_ROLE = f"arn:aws:iam::{CENTRAL}:role/pushdeploy-DeployFunctionRole-EXAMPLE"
EXTERNAL_ID = "pushdeploy-central-7f3a"
WHERE = AccountRegion(partition="aws", region=REGION, account=WORKLOAD)


def workload_values(template: Mapping[str, Any], **parameters: str) -> StackValues:
    given = {"CentralEventBusArn": f"arn:aws:events:{REGION}:{CENTRAL}:event-bus/default"}
    given |= {"DeployRoleArn": DEPLOY_ROLE, "ExternalId": EXTERNAL_ID} | parameters
    return StackValues(
        pseudo={"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": WORKLOAD},
        parameters=parameter_values(template, given),
        conditions=template.get("Conditions", {}),
    )


def without_if(node: Any, values: StackValues) -> Any:
    """``node`` with each Fn::If replaced by the branch its condition picks (tools.iam_policy has no Fn::If)."""
    if isinstance(node, list):
        return [without_if(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        condition, when_true, when_false = node["Fn::If"]
        chosen = when_true if resolve_intrinsics({"Condition": condition}, values) else when_false
        return without_if(chosen, values)
    return {key: without_if(value, values) for key, value in node.items()}


@pytest.fixture(scope="module")
def recorded() -> Iterator[list[RecordedCall]]:
    """The calls a registry's push makes in the workload account, with the real deploy handler."""
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "ACCOUNT_ID": CENTRAL,
        "ALLOWED_ACCOUNTS": WORKLOAD,
        "TRUSTED_ACCOUNTS": REGISTRY,
        "CONFIG_PREFIX": CONFIG_PREFIX,
        "CONFIG_CACHE_SECONDS": "0",
        **TEST_ENVIRONMENT,
    }
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in environment.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        central = boto3.Session(region_name=REGION)
        world = seed_three_accounts(central)
        patch.setenv("TOPIC_ARN", world.topic_arn)
        patch.setenv("TABLE_NAME", world.table_name)
        put_config(central, f"{REGISTRY}/api/prod", {**PROD_CONFIG, "deployment": {"alarms": {"names": ["api-5xx"]}}})
        world.workload.client("cloudwatch").put_metric_alarm(
            AlarmName="api-5xx",
            MetricName="HTTPCode_Target_5XX_Count",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        recording = RecordingRegionalClients()
        wiring.reset(wiring.Seams(regional_clients=recording))
        app = load_function("deploy")
        result = app.handler(forwarded_push("v2.0.0", world.digests["v2.0.0"]), LambdaContext())
        assert [target["status"] for target in result["targets"]] == ["DEPLOYING"], result
        yield recording.calls
        wiring.reset()
        parameters.clear_caches()  # type: ignore[no-untyped-call]


def workload_statements(**parameters: str) -> list[Statement]:
    template = load_template(WORKLOAD_TEMPLATE)
    return role_statements(template, "DeployRole", workload_values(template, **parameters))


def requests_of(calls: list[RecordedCall]) -> list[Request]:
    return [
        request
        for call in calls
        for request in requests_for_call(
            IAM_PREFIXES.get(call.service, call.service), call.operation, call.params, call.response, where=WHERE
        )
    ]


def test_every_call_in_the_workload_account_is_granted_by_the_workload_role(recorded: list[RecordedCall]) -> None:
    # Given the calls a push made in the workload account, and its role scoped to cluster prod, family api-*
    statements = workload_statements(AllowedClusters="prod", AllowedFamilies="api-*")

    # When each IAM request is evaluated against the role
    requests = requests_of(recorded)
    decisions = [evaluate(statements, request) for request in requests]

    # Then every call was made in the workload account, and each is allowed
    assert {call.account for call in recorded} == {WORKLOAD}
    assert {call.operation for call in recorded} >= {
        "DescribeServices",
        "DescribeTaskDefinition",
        "RegisterTaskDefinition",
        "UpdateService",
        "DescribeParameters",
        "DescribeAlarms",
    }
    denied = [(d.request.action, d.request.resource) for d in decisions if not d.allowed]
    assert denied == []


def test_the_workload_role_refuses_clusters_and_families_outside_its_scope(recorded: list[RecordedCall]) -> None:
    # Given the role scoped to cluster staging and family web-*
    statements = workload_statements(AllowedClusters="staging", AllowedFamilies="web-*")

    # When the push's calls are evaluated against it
    decisions = [evaluate(statements, request) for request in requests_of(recorded)]

    # Then the service update and the registration's tags are refused
    denied = {d.request.action for d in decisions if not d.allowed}
    assert {"ecs:UpdateService", "ecs:DescribeServices", "ecs:TagResource"} <= denied


def test_the_workload_role_trusts_only_the_central_deploy_role_with_the_external_id() -> None:
    # Given the workload role's trust policy (external id given)
    template = load_template(WORKLOAD_TEMPLATE)
    values = workload_values(template)
    document = resolve_intrinsics(
        without_if(template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"], values), values
    )
    role = f"arn:aws:iam::{WORKLOAD}:role/pushdeploy-workload"
    for statement in document["Statement"]:
        statement["Resource"] = role  # a trust policy's resource is its role
    trust = parse_policy(document, "trust")

    def assume(principal: str, context: dict[str, str]) -> bool:
        return evaluate(trust, Request("sts:AssumeRole", role, context, ("AWS", principal))).allowed

    # When the central role, another role, and the central role without the external id ask
    # Then only the first is trusted
    assert assume(DEPLOY_ROLE, {"sts:ExternalId": EXTERNAL_ID})
    assert not assume(f"arn:aws:iam::{CENTRAL}:role/someone-else", {"sts:ExternalId": EXTERNAL_ID})
    assert not assume(DEPLOY_ROLE, {})
    assert not assume(DEPLOY_ROLE, {"sts:ExternalId": "guessed"})


def test_the_central_role_may_assume_the_workload_role_in_allowed_accounts_only() -> None:
    # Given the central stack's AssumeWorkloadRoles policy with AllowedAccounts = the workload account
    template = load_template(ROOT / "template.yaml")
    values = StackValues(
        pseudo={"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": CENTRAL},
        parameters=parameter_values(template, {"AllowedAccounts": WORKLOAD}),
        conditions=template.get("Conditions", {}),
    )
    policy = template["Resources"]["AssumeWorkloadRolesPolicy"]
    document = resolve_intrinsics(policy["Properties"]["PolicyDocument"], values)
    statements = parse_policy(document, "assume-workload-roles")

    def assume(account: str, role: str = "pushdeploy-workload") -> bool:
        request = Request("sts:AssumeRole", f"arn:aws:iam::{account}:role/{role}", {"aws:ResourceAccount": account})
        return evaluate(statements, request).allowed

    # When the workload role, another account's and another role are asked for
    # Then only the workload account's deploy role is allowed, and the policy exists only with AllowedAccounts
    assert assume(WORKLOAD)
    assert not assume(OUTSIDE)
    assert not assume(WORKLOAD, "admin")
    assert resolve_intrinsics({"Condition": policy["Condition"]}, values)
