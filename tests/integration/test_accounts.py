"""One pushdeploy for several accounts, in moto: a push in the registry account deploys in the workload
account (through the workload role), the tracker follows the workload's deployment events, and each refusal
says which account and why. The events are those the accounts/ templates forward (their ``account`` is the
source account)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto.events.models import EventPattern

from pushdeploy import wiring
from tests.accounts_world import (
    CENTRAL,
    OUTSIDE,
    PROD_CONFIG,
    REGISTRY,
    ROOT,
    WORKLOAD,
    RecordingRegionalClients,
    ThreeAccounts,
    deployment_event,
    forwarded_push,
    put_config,
    seed_three_accounts,
)
from tests.helpers import Inbox, LambdaContext, load_event, load_function
from tools.sample_world import CONFIG_PREFIX, STAGING_CONFIG, put_target_config, task_definition
from tools.template import load_template

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def accounts(session: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreeAccounts]:
    seeded = seed_three_accounts(session)
    for name, value in {
        "TOPIC_ARN": seeded.topic_arn,
        "TABLE_NAME": seeded.table_name,
        "CONFIG_PREFIX": CONFIG_PREFIX,
        "CONFIG_CACHE_SECONDS": "0",
        "ACCOUNT_ID": CENTRAL,
        "ALLOWED_ACCOUNTS": WORKLOAD,
        "TRUSTED_ACCOUNTS": f"{REGISTRY},{WORKLOAD}",
    }.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield seeded
    wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@pytest.fixture
def recorded(accounts: ThreeAccounts) -> RecordingRegionalClients:
    """The workload clients the deploy function creates, and every call made with them."""
    recording = RecordingRegionalClients()
    wiring.reset(wiring.Seams(regional_clients=recording))
    return recording


@pytest.fixture
def deploy() -> Invoke:
    app = load_function("deploy")
    return lambda event: app.handler(event, LambdaContext())


@pytest.fixture
def track() -> Invoke:
    app = load_function("track")
    return lambda event: app.handler(event, LambdaContext(function_name="pushdeploy-TrackFunction"))


def workload_service(accounts: ThreeAccounts) -> dict[str, Any]:
    described = accounts.workload.client("ecs").describe_services(cluster="prod", services=["api"])
    return cast(dict[str, Any], described["services"][0])


def test_a_push_in_the_registry_account_deploys_in_the_workload_account(
    session: boto3.Session, accounts: ThreeAccounts, recorded: RecordingRegionalClients, deploy: Invoke
) -> None:
    # Given the registry's api deploying to prod in the workload account, and the team's inbox
    put_config(session, f"{REGISTRY}/api/prod", PROD_CONFIG)
    inbox = Inbox(session, accounts.topic_arn)

    # When the registry's push of v2.0.0 arrives on the central bus
    result = deploy(forwarded_push("v2.0.0", accounts.digests["v2.0.0"]))

    # Then prod's service in the workload account runs a new revision there, with the registry's image
    [report] = result["targets"]
    assert (report["target"], report["status"]) == ("prod", "DEPLOYING")
    service = workload_service(accounts)
    revision = service["taskDefinition"]
    assert revision.startswith(f"arn:aws:ecs:us-east-1:{WORKLOAD}:task-definition/api-prod:")
    assert revision != accounts.workload_task_definition
    definition = accounts.workload.client("ecs").describe_task_definition(taskDefinition=revision)["taskDefinition"]
    images = {c["name"]: c["image"] for c in definition["containerDefinitions"]}
    assert images["api"] == f"{accounts.registry_image}@{accounts.digests['v2.0.0']}"
    assert images["api"].startswith(f"{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/api@sha256:")
    # And the secret's existence was checked in the workload account (its ARN is the workload's)
    secrets = {s["name"]: s["valueFrom"] for c in definition["containerDefinitions"] for s in c.get("secrets", [])}
    assert secrets["DATABASE_URL"] == f"arn:aws:ssm:us-east-1:{WORKLOAD}:parameter/api/prod/DATABASE_URL"
    # And nothing was registered in the central account; every workload call was made as the workload
    assert session.client("ecs").list_task_definitions()["taskDefinitionArns"] == []
    assert set(recorded.accounts) == {WORKLOAD}
    assert {call.operation for call in recorded.calls} >= {"DescribeServices", "RegisterTaskDefinition"}
    # And the team is told, naming the account and its alias
    [deploying] = inbox.receive()
    assert (deploying.message["status"], deploying.message["account"], deploying.message["accountAlias"]) == (
        "DEPLOYING",
        WORKLOAD,
        "prod",
    )


def test_the_tracker_follows_the_workload_deployment_and_never_matches_another_accounts(
    session: boto3.Session, accounts: ThreeAccounts, recorded: RecordingRegionalClients, deploy: Invoke, track: Invoke
) -> None:
    # Given prod deployed in the workload account
    put_config(session, f"{REGISTRY}/api/prod", PROD_CONFIG)
    inbox = Inbox(session, accounts.topic_arn)
    [report] = deploy(forwarded_push("v2.0.0", accounts.digests["v2.0.0"]))["targets"]
    deployment_id = report["deploymentId"]
    service_arn = workload_service(accounts)["serviceArn"]
    inbox.receive()

    # When the same deployment id completes in another account, then in the workload account
    elsewhere = track(
        deployment_event("SERVICE_DEPLOYMENT_COMPLETED", deployment_id, service_arn.replace(WORKLOAD, OUTSIDE))
    )
    completed = track(deployment_event("SERVICE_DEPLOYMENT_COMPLETED", deployment_id, service_arn))

    # Then only the workload's event completes prod, and the team is told once, naming the account
    assert elsewhere["status"] == "IGNORED"
    assert completed["status"] == "COMPLETED"
    [outcome] = inbox.receive()
    assert (outcome.message["status"], outcome.message["target"], outcome.message["account"]) == (
        "COMPLETED",
        "prod",
        WORKLOAD,
    )


def test_same_named_repositories_of_two_registries_deploy_their_own_targets(
    session: boto3.Session, accounts: ThreeAccounts, recorded: RecordingRegionalClients, deploy: Invoke
) -> None:
    # Given repository api in the central registry (staging, in the central account) and in the registry
    # account (prod, in the workload account), both configured
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName="staging")
    own_uri = f"{CENTRAL}.dkr.ecr.us-east-1.amazonaws.com/api"
    registered = ecs.register_task_definition(**task_definition("api-staging", own_uri, "staging-41"))
    ecs.create_service(
        cluster="staging",
        serviceName="api",
        taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
        desiredCount=1,
    )
    staging = {**STAGING_CONFIG, "tags": ["v*"], "secrets": {}, "secretsPath": None}
    put_target_config(session, "api", "staging", {k: v for k, v in staging.items() if v is not None})
    put_config(session, f"{REGISTRY}/api/prod", PROD_CONFIG)
    digest = accounts.digests["v2.0.0"]

    # When both registries push api:v2.0.0
    own = deploy(forwarded_push("v2.0.0", digest, account=CENTRAL))
    foreign = deploy(forwarded_push("v2.0.0", digest))

    # Then each push deployed its own registry's target only (a shared ledger key would have skipped the second
    # as a duplicate of the first)
    assert [(t["target"], t["status"]) for t in own["targets"]] == [("staging", "DEPLOYING")]
    assert [(t["target"], t["status"]) for t in foreign["targets"]] == [("prod", "DEPLOYING")]
    history = deploy({"action": "history", "repository": "api", "registry": REGISTRY, "target": "prod"})
    assert [item["image"].split(".", 1)[0] for item in history["deploys"]] == [REGISTRY]
    assert deploy({"action": "history", "repository": "api", "target": "staging"})["deploys"][0]["image"].startswith(
        CENTRAL
    )


def test_an_account_outside_allowed_accounts_fails_naming_it(
    session: boto3.Session, accounts: ThreeAccounts, recorded: RecordingRegionalClients, deploy: Invoke
) -> None:
    # Given a target in an account the stack's AllowedAccounts does not list
    put_config(session, f"{REGISTRY}/api/elsewhere", {**PROD_CONFIG, "account": OUTSIDE})

    # When the registry pushes
    [report] = deploy(forwarded_push("v2.0.0", accounts.digests["v2.0.0"]))["targets"]

    # Then it fails naming the account and the parameter, and no client of another account was made
    assert (report["status"], report["code"]) == ("FAILED", "account-not-allowed")
    assert f"account {OUTSIDE} is not one pushdeploy may deploy to (AllowedAccounts: {WORKLOAD})" in report["reason"]
    assert recorded.accounts == []


def test_a_push_from_an_untrusted_registry_is_refused(accounts: ThreeAccounts, deploy: Invoke) -> None:
    # Given a push from a registry the stack does not trust
    event = forwarded_push("v2.0.0", accounts.digests["v2.0.0"], account=OUTSIDE)

    # When it arrives
    # Then it is refused naming the account
    with pytest.raises(Exception, match=rf"field 'account' is {OUTSIDE}: a push from another account's registry"):
        deploy(event)


def test_the_forwarding_rules_deliver_what_the_central_rules_match() -> None:
    # Given the registry's and the workload's forwarding rules, and the central stack's rules
    registry = load_template(ROOT / "accounts" / "registry.yaml")["Resources"]
    workload = load_template(ROOT / "accounts" / "workload.yaml")["Resources"]
    central = load_template(ROOT / "template.yaml")["Resources"]
    forward_push = EventPattern.load(json.dumps(registry["ForwardEcrPushes"]["Properties"]["EventPattern"]))
    forward_ecs = EventPattern.load(json.dumps(workload["ForwardEcsEvents"]["Properties"]["EventPattern"]))
    deploy_rule = EventPattern.load(
        json.dumps(central["DeployFunction"]["Properties"]["Events"]["EcrPush"]["Properties"]["Pattern"])
    )
    track_rule = EventPattern.load(
        json.dumps(
            central["TrackFunction"]["Properties"]["Events"]["EcsDeploymentStateChange"]["Properties"]["Pattern"]
        )
    )

    # When the sample events are matched
    push, untagged, deployment, hook = (
        cast(Any, load_event(name))
        for name in (
            "ecr-push-foreign-registry.json",
            "ecr-push-untagged.json",
            "ecs-deployment-completed.json",
            "ecs-hook-awaiting-action.json",
        )
    )

    # Then what the registry forwards the deploy rule takes, and what the workload forwards the tracker takes
    assert forward_push.matches_event(push) and deploy_rule.matches_event(push)
    assert not forward_push.matches_event(untagged)
    for event in (deployment, hook):
        assert forward_ecs.matches_event(event) and track_rule.matches_event(event)
