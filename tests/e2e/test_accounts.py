"""Several accounts on the local AWS (moto's server, the local ECS in front): template.yaml deployed with
AllowedAccounts and TrustedAccounts; a push in the registry account deploys in the workload account through the
workload role, and the workload's ECS deployment events complete it.

moto's server keeps a backend per account id and its STS credentials act in the role's account (as in-process).
Its bus-to-bus rule target re-emits an event as the receiving account's own, where EventBridge keeps the
source account: the registry's push and the workload's ECS events are delivered to the stack's rules as
EventBridge delivers them, with their source ``account``.
"""

from __future__ import annotations

import warnings

import boto3
import pytest

from tests.accounts_world import (
    CENTRAL,
    OUTSIDE,
    PROD_CONFIG,
    REGISTRY,
    WORKLOAD,
    ThreeAccounts,
    forwarded_push,
    put_config,
    seed_three_accounts,
    session_in,
)
from tests.helpers import Inbox
from tools.localaws import LocalAws, LocalStack

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def stack(local: LocalAws) -> LocalStack:
    """template.yaml with the workload account allowed and both other accounts trusted."""
    local.reset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        return local.deploy({"AllowedAccounts": WORKLOAD, "TrustedAccounts": f"{REGISTRY},{WORKLOAD}"})


@pytest.fixture
def accounts(local: LocalAws, session: boto3.Session, stack: LocalStack) -> ThreeAccounts:
    seeded = seed_three_accounts(session)
    local.settle_all()  # the workload's first deployment completes: it starts steady
    return seeded


def test_the_server_keeps_each_account_apart_and_assumed_credentials_act_in_the_roles_account(
    session: boto3.Session, stack: LocalStack
) -> None:
    # Given the local AWS and a session through a role of the workload account
    workload = session_in(WORKLOAD)

    # When each asks who it is and creates a cluster
    workload.client("ecs").create_cluster(clusterName="only-in-workload")

    # Then the role's credentials act in the workload account, and its cluster is not the central account's
    assert workload.client("sts").get_caller_identity()["Account"] == WORKLOAD
    assert session.client("sts").get_caller_identity()["Account"] == CENTRAL
    assert not any("only-in-workload" in arn for arn in session.client("ecs").list_clusters()["clusterArns"])


def test_a_push_in_the_registry_account_deploys_and_completes_in_the_workload_account(
    local: LocalAws, session: boto3.Session, stack: LocalStack, accounts: ThreeAccounts
) -> None:
    # Given the registry's api deploying to prod in the workload account, and the team's inbox
    put_config(session, f"{REGISTRY}/api/prod", PROD_CONFIG)
    inbox = Inbox(session, stack.outputs["DeployTopicArn"])

    # When the registry's push reaches the central bus
    delivery = local.deliver(stack, forwarded_push("v2.0.0", accounts.digests["v2.0.0"]))

    # Then the deploy rule ran the deploy function, which deployed prod in the workload account
    [invocation] = delivery.invocations
    assert invocation.error is None, invocation.output
    [target] = invocation.result["targets"]
    assert (target["target"], target["status"]) == ("prod", "DEPLOYING")
    described = accounts.workload.client("ecs").describe_services(cluster="prod", services=["api"])["services"][0]
    revision = described["taskDefinition"]
    assert revision.startswith(f"arn:aws:ecs:us-east-1:{WORKLOAD}:task-definition/api-prod:")
    definition = accounts.workload.client("ecs").describe_task_definition(taskDefinition=revision)
    images = {c["name"]: c["image"] for c in definition["taskDefinition"]["containerDefinitions"]}
    assert images["api"] == f"{accounts.registry_image}@{accounts.digests['v2.0.0']}"

    # When the workload's deployment completes (its ECS events carry the workload account)
    settled = local.settle("prod", "api")

    # Then the tracker completes prod, and the team hears DEPLOYING then COMPLETED, naming the account
    outcomes = [i.result for d in settled for i in d.invocations if i.function == "TrackFunction" and i.result]
    assert any(result.get("status") == "COMPLETED" for result in outcomes), outcomes
    assert {d.event["account"] for d in settled} == {WORKLOAD}
    received = [(m.message["status"], m.message.get("account"), m.message.get("accountAlias")) for m in inbox.receive()]
    assert received == [("DEPLOYING", WORKLOAD, "prod"), ("COMPLETED", WORKLOAD, "prod")]


def test_an_account_outside_allowed_accounts_fails_clearly(
    local: LocalAws, session: boto3.Session, stack: LocalStack, accounts: ThreeAccounts
) -> None:
    # Given a target in an account the stack does not allow
    put_config(session, f"{REGISTRY}/api/elsewhere", {**PROD_CONFIG, "account": OUTSIDE})
    inbox = Inbox(session, stack.outputs["DeployTopicArn"])

    # When the registry pushes
    [invocation] = local.deliver(stack, forwarded_push("v2.0.0", accounts.digests["v2.0.0"])).invocations

    # Then the target fails naming the account and AllowedAccounts, and the team is told
    [target] = invocation.result["targets"]
    assert (target["status"], target["code"]) == ("FAILED", "account-not-allowed")
    assert f"AllowedAccounts: {WORKLOAD}" in target["reason"]
    [failed] = inbox.receive()
    assert failed.message["status"] == "FAILED"
    assert failed.message["account"] == OUTSIDE
