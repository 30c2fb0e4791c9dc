"""Several accounts: a central pushdeploy, a registry account, workload accounts (domain.accounts, the push
parser, the deployer and the tracker across accounts, the workload role's session, the bus policy's size)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from pushdeploy.adapters.sts import SESSION_SECONDS, WorkloadRoles
from pushdeploy.domain.accounts import (
    AccountNotAllowedError,
    RoleNotAssumableError,
    TargetAccount,
    TargetLocation,
    check_account_allowed,
    parse_account_fields,
    pull_hint,
    registry_account_of,
    role_session_name,
    scoped_deployment_id,
    target_location,
)
from pushdeploy.domain.channels import render_chatbot, render_email
from pushdeploy.domain.errors import ClusterNotFoundError, ConfigError, DeployError, InvalidEventError
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.outcome import COMPLETED, DeploymentEvent, HookEvent
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.records import history_item
from pushdeploy.domain.report import DeployStatus
from pushdeploy.domain.requests import ApprovalRequest, ManualDeployRequest, RollbackRequest
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.times import parse_time
from pushdeploy.events import parse_deploy_event
from pushdeploy.settings import RegistryTrust, Settings, SettingsError
from pushdeploy.usecases.approvals import Approvals
from pushdeploy.usecases.deploy import Deployer
from pushdeploy.usecases.rollback import TargetOperations
from pushdeploy.usecases.targets import TargetClients
from pushdeploy.usecases.track import Tracker
from tests.fakes import FakeConfigs, FakeEcs, FakeImages, FakeParameters, FakePublisher, InMemoryLedger
from tests.helpers import load_event
from tests.unit.builders import deploying_report, described_task_definition
from tests.unit.test_approvals import HOOK, ApprovingLedger, PausingEcs
from tools.template import load_template

CENTRAL, REGISTRY, WORKLOAD, OTHER = "123456789012", "111111111111", "222222222222", "333333333333"
REGION = "us-east-1"
NOW = parse_time("2026-11-20T10:21:00Z")
ROOT = Path(__file__).resolve().parents[2]
OWN_REGISTRY = f"{CENTRAL}.dkr.ecr.{REGION}.amazonaws.com"


def parse(event: Any, **trust: Any) -> Any:
    return parse_deploy_event(event, "request-1", trusted_account=CENTRAL, now=NOW, **trust)


# --- the account fields of a target config ----------------------------------------------------------------


def test_account_fields_are_checked_naming_the_field() -> None:
    # Given target configs whose account fields are wrong
    # When they are parsed
    # Then each refusal names the field and what it takes
    with pytest.raises(ConfigError, match=r"field 'account' must be a 12-digit AWS account id .*got 2222"):
        parse_account_fields("/pushdeploy/api/prod", {"account": 2222})
    with pytest.raises(ConfigError, match=r"field 'region' must be a Region name"):
        parse_account_fields("/pushdeploy/api/prod", {"region": "Europe"})
    with pytest.raises(ConfigError, match=r"field 'accountAlias' must be a short name"):
        parse_account_fields("/pushdeploy/api/prod", {"accountAlias": "x" * 80})
    # And good ones are kept
    assert parse_account_fields("/p", {"account": WORKLOAD, "region": "eu-west-1", "accountAlias": "prod"}) == (
        TargetAccount(WORKLOAD, "eu-west-1", "prod")
    )


def test_a_target_without_account_is_local_and_one_naming_the_stacks_own_is_too() -> None:
    # Given the stack's account and Region
    # When targets without account, with the stack's own account, and with another are located
    local = target_location(TargetAccount(), own_account=CENTRAL, own_region=REGION)
    own = target_location(TargetAccount(CENTRAL), own_account=CENTRAL, own_region=REGION)
    workload = target_location(TargetAccount(WORKLOAD, None, "prod"), own_account=CENTRAL, own_region=REGION)

    # Then only the other account is remote, its deployments keyed by its account
    assert (local.remote, local.named, local.ledger_account) == (False, False, None)
    assert (own.remote, own.named, own.ledger_account) == (False, True, None)
    assert (workload.remote, workload.ledger_account, workload.region) == (True, WORKLOAD, REGION)
    assert workload.describe() == f"account {WORKLOAD} (prod), Region {REGION}"


def test_an_account_outside_allowed_accounts_is_refused_naming_it_and_the_parameter() -> None:
    # Given a workload account the stack does not list
    location = target_location(TargetAccount(OTHER), own_account=CENTRAL, own_region=REGION)

    # When it is checked against AllowedAccounts
    with pytest.raises(AccountNotAllowedError) as error:
        check_account_allowed(location, (WORKLOAD,), own_account=CENTRAL)

    # Then the refusal names the account and the parameter
    assert f"account {OTHER} is not one pushdeploy may deploy to (AllowedAccounts: {WORKLOAD})" in str(error.value)
    check_account_allowed(replace(location, account=WORKLOAD), (WORKLOAD,), own_account=CENTRAL)


def test_the_session_name_names_the_push_within_stss_pattern_and_length() -> None:
    # Given a push of a long, slashed repository name
    # When its session name is made
    name = role_session_name("team/" + "a" * 80, "prod", "5c1f9d2e-8d0c-4a35")

    # Then it has at most 64 characters of [\w+=,.@-] (botocore's model of RoleSessionName)
    assert len(name) == 64
    assert name.startswith("pushdeploy@prod.team-aaaa")
    assert all(character.isalnum() or character in "_+=,.@-" for character in name)


def test_a_foreign_registry_qualifies_the_config_path_and_a_twelve_digit_own_repository_too() -> None:
    # Given pushes of the stack's own registry and of another account's
    # When the registry account qualifying their config path is decided
    # Then a foreign registry's repository is qualified; the own one is not...
    assert registry_account_of("api", REGISTRY, CENTRAL) == REGISTRY
    assert registry_account_of("api", CENTRAL, CENTRAL) is None
    # ...unless its first segment is twelve digits: then it is qualified by the own account (a foreign
    # registry is never the own account, so the two paths cannot meet)
    assert registry_account_of(f"{REGISTRY}/api", CENTRAL, CENTRAL) == CENTRAL
    assert registry_account_of("1234/api", CENTRAL, CENTRAL) is None


def test_deployment_ids_are_keyed_by_a_workload_account_and_keying_twice_changes_nothing() -> None:
    # Given an ECS deployment id
    # When it is keyed for the stack's own account and for a workload account (twice)
    # Then only the workload's is qualified, once
    assert scoped_deployment_id("ecs-svc/1", None) == "ecs-svc/1"
    assert scoped_deployment_id("ecs-svc/1", WORKLOAD) == f"{WORKLOAD}:ecs-svc/1"
    assert scoped_deployment_id(f"{WORKLOAD}:ecs-svc/1", WORKLOAD) == f"{WORKLOAD}:ecs-svc/1"


def test_a_pull_error_says_the_registry_must_grant_the_workload_account() -> None:
    # Given ECS's reason for a task that could not pull its image from the registry account
    reason = "CannotPullContainerError: pull image manifest has been retried 1 time(s): access denied"
    image = f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/api@sha256:" + "7e" * 32

    # When the hint is asked for
    hint = pull_hint(reason, image, WORKLOAD)

    # Then it names the workload account, the registry and the actions its repository policy must grant
    assert hint is not None
    assert f"account {WORKLOAD} cannot pull the image from registry {REGISTRY}" in hint
    assert "ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and ecr:BatchCheckLayerAvailability" in hint
    assert pull_hint("task failed to start", image, WORKLOAD) is None


# --- events ---------------------------------------------------------------------------------------------


def test_a_push_from_a_trusted_registry_is_a_push_of_that_registrys_image() -> None:
    # Given a push in the registry account, forwarded to the central bus (its 'account' is the registry's)
    event = load_event("ecr-push-foreign-registry.json")

    # When it is parsed by a stack that trusts that account
    push = parse(event, trusted_accounts=(REGISTRY, WORKLOAD))

    # Then the image is the registry's, and its configs are under the registry's account
    assert isinstance(push, ImagePush)
    assert push.image_uri == f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/api@sha256:" + "7e" * 32
    assert (push.registry_account, push.config_key) == (REGISTRY, f"{REGISTRY}/api")


def test_a_push_from_an_untrusted_registry_is_refused_and_the_organization_admits_any() -> None:
    # Given a push from a registry the stack does not list
    event = load_event("ecr-push-foreign-registry.json")

    # When it is parsed without TrustedAccounts, then with another list, then with an OrganizationId
    with pytest.raises(InvalidEventError, match=r"field 'account' is 111111111111: a push from another"):
        parse(event)
    with pytest.raises(InvalidEventError, match=r"and of TrustedAccounts \(222222222222\) only"):
        parse(event, trusted_accounts=(WORKLOAD,))
    push = parse(event, organization=True)

    # Then only the organization's bus admits it
    assert isinstance(push, ImagePush)
    assert push.config_key == f"{REGISTRY}/api"


def test_a_manual_deploy_names_its_registry_and_rollback_reads_the_qualified_path() -> None:
    # Given a manual deploy naming the registry, and a rollback of the same repository
    deploy = parse(load_event("manual-deploy-foreign-registry.json"))
    rollback = parse({"action": "rollback", "repository": "api", "registry": REGISTRY, "target": "prod"})

    # Then the deploy carries the registry, and the rollback the repository's config path
    assert isinstance(deploy, ManualDeployRequest)
    assert (deploy.registry, deploy.targets, deploy.requested_by) == (REGISTRY, ("prod",), "alice")
    assert isinstance(rollback, RollbackRequest)
    assert rollback.repository == f"{REGISTRY}/api"
    # And a registry that is no account id is refused naming the field
    with pytest.raises(InvalidEventError, match=r"field 'registry' must be the 12-digit account id"):
        parse({"repository": "api", "tag": "v1", "registry": "registry.example"})


# --- the workload role's session (STS stubbed as botocore's model has it) -----------------------------


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


def sts_client() -> Any:
    return botocore.session.get_session().create_client(
        "sts", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def credentials_expiring(at: float) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": datetime.fromtimestamp(at, UTC),
        }
    }


def test_the_role_is_assumed_once_with_external_id_and_minimum_duration_then_renewed_before_expiry() -> None:
    # Given STS answering two AssumeRole calls with the external id, 900 s and the push's session name
    client, clock = sts_client(), Clock()
    roles = WorkloadRoles(client, external_id="pushdeploy-central-7f3a", clock=clock)
    expected = {
        "RoleArn": f"arn:aws:iam::{WORKLOAD}:role/pushdeploy-workload",
        "RoleSessionName": "pushdeploy@prod.api.event-1",
        "DurationSeconds": SESSION_SECONDS,
        "ExternalId": "pushdeploy-central-7f3a",
    }
    with Stubber(client) as stub:
        stub.add_response("assume_role", credentials_expiring(NOW + 900), expected)
        stub.add_response("assume_role", credentials_expiring(NOW + 1800), expected)

        # When credentials are asked for, again 10 minutes later, and again a few minutes before expiry
        first = roles.credentials(WORKLOAD, "pushdeploy@prod.api.event-1")
        clock.now += 600
        again = roles.credentials(WORKLOAD, "pushdeploy@prod.api.event-2")
        clock.now += 180
        renewed = roles.credentials(WORKLOAD, "pushdeploy@prod.api.event-1")

        # Then the role was assumed once for the first two, and renewed for the last
        stub.assert_no_pending_responses()
    assert SESSION_SECONDS == 900
    assert first is again
    assert renewed.expires_at == NOW + 1800


def test_a_role_that_cannot_be_assumed_is_named_with_the_likely_cause() -> None:
    # Given STS refusing the role (the workload stack is not deployed, or trusts another role)
    client = sts_client()
    roles = WorkloadRoles(client, caller_role=f"arn:aws:iam::{CENTRAL}:role/pushdeploy-DeployFunctionRole-X")
    with Stubber(client) as stub:
        stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole")

        # When credentials are asked for
        with pytest.raises(RoleNotAssumableError) as error:
            roles.credentials(WORKLOAD, "pushdeploy@prod.api.event-1")

    # Then the error names the role, the account and what to check
    message = str(error.value)
    assert f"cannot assume role arn:aws:iam::{WORKLOAD}:role/pushdeploy-workload in account {WORKLOAD}" in message
    assert "the workload stack (accounts/workload.yaml) is not deployed" in message
    assert f"role (arn:aws:iam::{CENTRAL}:role/pushdeploy-DeployFunctionRole-X)" in message
    assert error.value.code == "assume-role"
    assert not error.value.retryable


# --- the deployer and the tracker across accounts ------------------------------------------------------


STAGING_CONFIG = '{"cluster": "main", "service": "api", "tags": ["v*"]}'
PROD_CONFIG = json.dumps(
    {"cluster": "main", "service": "api", "tags": ["v*"], "account": WORKLOAD, "accountAlias": "prod"}
)


def fake_ecs(account: str, registry: str) -> FakeEcs:
    """ECS of ``account``: service api of cluster main on api:7, its app image from ``registry``'s api (both
    accounts' deployments get the same ids)."""
    service = ServiceState(
        arn=f"arn:aws:ecs:{REGION}:{account}:service/main/api",
        name="api",
        cluster_arn=f"arn:aws:ecs:{REGION}:{account}:cluster/main",
        status="ACTIVE",
        task_definition_arn=f"arn:aws:ecs:{REGION}:{account}:task-definition/api:7",
        circuit_breaker=True,
    )
    ecs = FakeEcs(service, account=account)
    described, tags = described_task_definition()
    for definition in described["containerDefinitions"]:
        if definition["name"] == "app":
            definition["image"] = f"{registry}.dkr.ecr.{REGION}.amazonaws.com/api:v1"
    ecs.add_task_definition(
        {**described, "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{account}:task-definition/api:7"}, tags
    )
    return ecs


@dataclass
class Accounts:
    central: FakeEcs
    workload: FakeEcs
    ledger: InMemoryLedger
    publisher: FakePublisher
    deployer: Deployer
    tracker: Tracker
    sessions: list[tuple[TargetLocation, str]] = field(default_factory=list)


def accounts(configs: dict[str, str], *, refuse_role: bool = False, images: FakeImages | None = None) -> Accounts:
    """A central deployer whose workload clients come from the "clients for target" seam."""
    central, workload = fake_ecs(CENTRAL, CENTRAL), fake_ecs(WORKLOAD, REGISTRY)
    ledger, publisher, clock = InMemoryLedger(), FakePublisher(), Clock()
    tracker = Tracker(ledger=ledger, publisher=publisher, clock=clock, own_account=CENTRAL)
    sessions: list[tuple[TargetLocation, str]] = []

    def clients_for_target(location: TargetLocation, session_name: str) -> TargetClients:
        sessions.append((location, session_name))
        if refuse_role:
            raise RoleNotAssumableError(f"cannot assume role arn:aws:iam::{location.account}:role/pushdeploy-workload")
        return TargetClients(ecs=workload, parameters=FakeParameters())

    deployer = Deployer(
        configs=FakeConfigs(configs),
        ecs=central,
        parameters=FakeParameters(),
        images=images or FakeImages(),
        publisher=publisher,
        ledger=ledger,
        region=REGION,
        account=CENTRAL,
        clock=clock,
        apply_early_outcome=tracker.track,
        allowed_accounts=(WORKLOAD,),
        clients_for_target=clients_for_target,
    )
    return Accounts(central, workload, ledger, publisher, deployer, tracker, sessions)


def foreign_push(**changes: Any) -> ImagePush:
    push = parse(load_event("ecr-push-foreign-registry.json"), trusted_accounts=(REGISTRY,))
    assert isinstance(push, ImagePush)
    return replace(push, **changes)


def test_a_workload_target_is_deployed_with_the_workload_clients_and_the_registrys_image() -> None:
    # Given the registry's repository api deploying to prod in the workload account
    given = accounts({f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG})

    # When the registry's push arrives
    [report] = given.deployer.deploy(foreign_push()).reports

    # Then the workload account's ECS registered and updated; the stack's own was not touched
    assert report.status is DeployStatus.DEPLOYING
    assert given.workload.call_names == ["register", "update"]
    assert given.central.calls == []
    registered = given.workload.calls[0][1]
    images = [definition["image"] for definition in registered["containerDefinitions"]]
    assert f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/api@sha256:" + "7e" * 32 in images
    # And the role was asked for with the push's session name
    [(location, session_name)] = given.sessions
    assert (location.account, session_name) == (WORKLOAD, "pushdeploy@prod.api.c3a1f0d2-5b7e-4e21-9a4c-6f8d2b1e0a73")
    # And the notification names the account, its alias and its Region
    [notification] = given.publisher.published
    assert {key: notification.message.get(key) for key in ("account", "accountAlias", "region")} == {
        "account": WORKLOAD,
        "accountAlias": "prod",
        "region": REGION,
    }


def test_a_target_without_account_never_asks_for_workload_clients() -> None:
    # Given the stack's own registry's api deploying to staging in the stack's own account
    given = accounts({"/pushdeploy/api/staging": STAGING_CONFIG})

    # When its push arrives
    [report] = given.deployer.deploy(foreign_push(registry_account=None, registry=OWN_REGISTRY)).reports

    # Then it deploys as before: no session, no workload call
    assert report.status is DeployStatus.DEPLOYING
    assert given.sessions == []
    assert given.workload.calls == []


def test_same_named_repositories_of_two_registries_keep_their_own_targets_and_ledger() -> None:
    # Given repository api in the stack's registry (staging) and in the registry account (prod)
    given = accounts({"/pushdeploy/api/staging": STAGING_CONFIG, f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG})
    own = foreign_push(registry_account=None, event_id="own-push", registry=OWN_REGISTRY)

    # When each registry pushes the same tag
    own_reports = given.deployer.deploy(own).reports
    foreign_reports = given.deployer.deploy(foreign_push()).reports

    # Then each push deployed its registry's target only, and both are recorded apart
    assert [(r.target, r.status) for r in own_reports] == [("staging", DeployStatus.DEPLOYING)]
    assert [(r.target, r.status) for r in foreign_reports] == [("prod", DeployStatus.DEPLOYING)]
    assert given.ledger.history("api", "staging", 5)[0].image.startswith(CENTRAL)
    assert given.ledger.history(f"{REGISTRY}/api", "prod", 5)[0].image.startswith(REGISTRY)


def test_the_tracker_matches_an_event_by_account_and_deployment_id() -> None:
    # Given staging (own account) and prod (workload) deployed, ECS giving both deployment ecs-svc/...001
    given = accounts({"/pushdeploy/api/staging": STAGING_CONFIG, f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG})
    given.deployer.deploy(foreign_push(registry_account=None, event_id="own-push", registry=OWN_REGISTRY))
    given.deployer.deploy(foreign_push())
    [own_id] = {r.deployment_id for r in given.ledger.history("api", "staging", 1)}
    assert own_id == "ecs-svc/9000000000000000001"
    [workload_id] = {r.deployment_id for r in given.ledger.history(f"{REGISTRY}/api", "prod", 1)}
    assert workload_id == f"{WORKLOAD}:ecs-svc/9000000000000000001"

    def completed(account: str) -> DeploymentEvent:
        arn = f"arn:aws:ecs:{REGION}:{account}:service/main/api"
        return DeploymentEvent(COMPLETED, "ecs-svc/9000000000000000001", arn, "", NOW + 60)

    # When the same deployment id completes in a third account, then in the workload account
    other = given.tracker.track(completed(OTHER))
    workload = given.tracker.track(completed(WORKLOAD))

    # Then the third account's event matches nothing; the workload's completes prod, not staging
    assert other["status"] == "IGNORED"
    assert workload["status"] == "COMPLETED"
    assert given.ledger.history(f"{REGISTRY}/api", "prod", 1)[0].status == "COMPLETED"
    assert given.ledger.history("api", "staging", 1)[0].status == "DEPLOYING"
    outcome = given.publisher.published[-1].message
    assert (outcome["status"], outcome["target"], outcome["account"]) == ("COMPLETED", "prod", WORKLOAD)


def test_an_account_outside_allowed_accounts_fails_before_any_call() -> None:
    # Given a target in an account the stack does not list
    config = json.dumps({"cluster": "main", "service": "api", "tags": ["v*"], "account": OTHER})
    given = accounts({f"/pushdeploy/{REGISTRY}/api/elsewhere": config})

    # When the push arrives
    [report] = given.deployer.deploy(foreign_push()).reports

    # Then it fails naming the account and the parameter, with no session and no ECS call
    assert (report.status, report.code) == (DeployStatus.FAILED, "account-not-allowed")
    assert f"account {OTHER} is not one pushdeploy may deploy to (AllowedAccounts: {WORKLOAD})" in str(report.reason)
    assert (given.sessions, given.workload.calls, given.central.calls) == ([], [], [])
    assert given.publisher.published[0].message["status"] == "FAILED"


def test_a_role_that_cannot_be_assumed_fails_the_target_with_the_role_named() -> None:
    # Given a workload account whose role cannot be assumed
    given = accounts({f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG}, refuse_role=True)

    # When the push arrives (and as a dry run)
    [report] = given.deployer.deploy(foreign_push()).reports
    [planned] = given.deployer.deploy(foreign_push(dry_run=True)).reports

    # Then both fail naming the role; nothing was called in either account
    for failed in (report, planned):
        assert (failed.status, failed.code) == (DeployStatus.FAILED, "assume-role")
        assert f"arn:aws:iam::{WORKLOAD}:role/pushdeploy-workload" in str(failed.reason)
    assert (given.workload.calls, given.central.calls) == ([], [])


def test_a_missing_workload_cluster_is_reported_in_that_account() -> None:
    # Given a workload account without the target's cluster
    given = accounts({f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG})
    given.workload.fail_next(
        "describe_service", ClusterNotFoundError("cluster main does not exist in this account and Region")
    )

    # When the push arrives
    [report] = given.deployer.deploy(foreign_push()).reports

    # Then the failure says where the cluster was looked for
    assert report.status is DeployStatus.FAILED
    assert f"in account {WORKLOAD} (prod), Region {REGION}" in str(report.reason)


def test_a_manual_deploy_naming_a_registry_looks_the_tag_up_there() -> None:
    # Given the registry's api:v2.0.0
    images = FakeImages({(f"{REGISTRY}/api", "v2.0.0"): ("sha256:" + "7e" * 32, REGISTRY)})
    given = accounts({f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG}, images=images)
    request = parse(load_event("manual-deploy-foreign-registry.json"))

    # When it is resolved and deployed
    push = given.deployer.resolve_manual(request)
    [report] = given.deployer.deploy(push).reports

    # Then the image is the registry's, deployed to prod in the workload account
    assert push.trigger is Trigger.MANUAL
    assert push.image_uri == f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/api@sha256:" + "7e" * 32
    assert (report.target, report.status) == ("prod", DeployStatus.DEPLOYING)
    assert given.workload.call_names == ["register", "update"]


# --- the bus policy ------------------------------------------------------------------------------------

BUS_POLICY_LIMIT = 10_240
# How many accounts the TrustedAccounts statement holds within the limit (AWS stores each as its root ARN).
TRUSTED_ACCOUNTS_THAT_FIT = 280


def bus_policy(accounts: list[str] | None, organization: str | None = None) -> str:
    """The default bus's policy as EventBridge returns it, for the template's statement (account principals
    expanded to root ARNs, as IAM does)."""
    template = load_template(ROOT / "template.yaml")
    name = "OrganizationBusPolicy" if organization else "TrustedAccountsBusPolicy"
    properties = template["Resources"][name]["Properties"]
    statement = json.loads(json.dumps(properties["Statement"]))
    statement["Sid"] = properties["StatementId"]
    statement["Resource"] = f"arn:aws:events:{REGION}:{CENTRAL}:event-bus/default"
    if organization:
        statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] = organization
    else:
        statement["Principal"]["AWS"] = [f"arn:aws:iam::{account}:root" for account in accounts or []]
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_the_bus_policy_fits_the_limit_for_the_organization_and_for_280_accounts() -> None:
    # Given the organization's statement, and TrustedAccounts of 280 and 300 accounts
    organization = bus_policy(None, "o-a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6")
    fits = bus_policy([f"{index:012d}" for index in range(TRUSTED_ACCOUNTS_THAT_FIT)])
    too_many = bus_policy([f"{index:012d}" for index in range(300)])

    # When their sizes are measured
    # Then the organization's is small whatever its size, 280 accounts fit, 300 do not
    assert len(organization) < 400
    assert len(fits) <= BUS_POLICY_LIMIT < len(too_many)


# --- approvals in a workload account --------------------------------------------------------------------


def test_a_pause_in_the_workload_account_is_answered_there_naming_the_registry() -> None:
    # Given a canary of the registry's api paused in the workload account (its ECS event names that account)
    ledger, publisher, central, workload = ApprovingLedger(), FakePublisher(), PausingEcs(), PausingEcs()
    config = json.loads(PROD_CONFIG) | {
        "deployment": {"strategy": "CANARY", "circuitBreaker": {"enable": False}},
        "approval": {"stage": "PRE_PRODUCTION_TRAFFIC_SHIFT"},
    }
    push = foreign_push()
    location = target_location(TargetAccount(WORKLOAD, None, "prod"), own_account=CENTRAL, own_region=REGION)
    service_arn = f"arn:aws:ecs:{REGION}:{WORKLOAD}:service/main/api"
    report = replace(deploying_report(push, "prod"), location=location)
    message = render_notification(report, time="2026-11-20T10:20:05Z").message
    ledger.add_history(history_item(report, recorded_at=NOW, service_arn=service_arn, notification=json.dumps(message)))
    tracker = Tracker(ledger=ledger, publisher=publisher, clock=Clock(), approvals=ledger, own_account=CENTRAL)
    sessions: list[str] = []

    def clients_for_target(where: TargetLocation, session_name: str) -> TargetClients:
        sessions.append(f"{where.account} {session_name}")
        return TargetClients(ecs=fake_ecs(WORKLOAD, REGISTRY), parameters=FakeParameters(), control=workload)

    approvals = Approvals(
        configs=FakeConfigs({f"/pushdeploy/{REGISTRY}/api/prod": json.dumps(config)}),
        ledger=ledger,
        approvals=ledger,
        control=central,
        clock=Clock(),
        account=CENTRAL,
        region=REGION,
        allowed_accounts=(WORKLOAD,),
        clients_for_target=clients_for_target,
    )
    deployment = "ecs-svc/1234567890123456789"
    sd_arn = f"arn:aws:ecs:{REGION}:{WORKLOAD}:service-deployment/main/api/Abc123"
    paused = HookEvent(
        "HOOK_AWAITING_ACTION", service_arn, sd_arn, HOOK, "PRE_PRODUCTION_TRAFFIC_SHIFT", None, NOW, deployment
    )

    # When the tracker announces the pause and the console request it suggests is sent
    awaiting = tracker.track(paused)
    approve = publisher.published[-1].message["approval"]["approve"]
    request = parse(approve | {"requestedBy": "alice"})
    result = approvals.decide(request)

    # Then the suggested request names the registry, and the workload account's ECS is told to continue
    assert awaiting["status"] == "AWAITING_APPROVAL"
    assert approve["registry"] == REGISTRY
    assert result["status"] == "APPROVED"
    assert workload.calls == [(sd_arn, HOOK, "CONTINUE")]
    assert central.calls == []
    assert sessions == [f"{WORKLOAD} pushdeploy@prod.{REGISTRY}-api.approve-{int(NOW)}"]


def test_an_approval_endpoint_without_workload_sessions_refuses_a_workload_pause_naming_the_console() -> None:
    # Given an approvals use case wired without workload sessions (the Slack endpoint), and prod in the workload
    ledger = ApprovingLedger()
    config = json.loads(PROD_CONFIG) | {
        "deployment": {"strategy": "CANARY", "circuitBreaker": {"enable": False}},
        "approval": {"stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "approvers": ["U0123ABCD"]},
    }
    location = target_location(TargetAccount(WORKLOAD), own_account=CENTRAL, own_region=REGION)
    report = replace(deploying_report(foreign_push(), "prod"), location=location)
    item = history_item(
        report, recorded_at=NOW, service_arn=f"arn:aws:ecs:{REGION}:{WORKLOAD}:service/main/api", notification=None
    )
    ledger.add_history(
        replace(
            item,
            approval_stage="PRE_PRODUCTION_TRAFFIC_SHIFT",
            hook_id=HOOK,
            service_deployment_arn="arn:aws:ecs:us-east-1:222222222222:service-deployment/main/api/x",
        )
    )
    central = PausingEcs()
    approvals = Approvals(
        configs=FakeConfigs({f"/pushdeploy/{REGISTRY}/api/prod": json.dumps(config)}),
        ledger=ledger,
        approvals=ledger,
        control=central,
        clock=Clock(),
    )

    # When a Slack approver answers it
    with pytest.raises(DeployError) as error:
        approvals.decide(ApprovalRequest(f"{REGISTRY}/api", "prod", "approve", "slack:bob", slack_user="U0123ABCD"))

    # Then nothing is sent to the stack's own ECS, and the refusal names the account and the console
    assert central.calls == []
    assert f"is deployed in account {WORKLOAD}" in str(error.value)
    assert "answer its pause from the console" in str(error.value)


def test_trusted_and_allowed_accounts_are_read_from_the_environment_and_checked() -> None:
    # Given the deploy function's environment
    environment = {"AWS_REGION": REGION, "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "TABLE_NAME": "t"}

    # When it names accounts, an organization, or a wrong account id
    settings = Settings.from_environment(environment | {"ALLOWED_ACCOUNTS": f"{WORKLOAD}, {OTHER}"})
    trust = RegistryTrust.from_environment({"TRUSTED_ACCOUNTS": REGISTRY, "ORGANIZATION_ID": "o-a1b2c3d4e5"})

    # Then they are read as lists, and a wrong one is refused naming the variable
    assert settings.allowed_accounts == (WORKLOAD, OTHER)
    assert trust == RegistryTrust((REGISTRY,), organization=True)
    with pytest.raises(SettingsError, match=r"TRUSTED_ACCOUNTS must list 12-digit account ids, got 'prod'"):
        RegistryTrust.from_environment({"TRUSTED_ACCOUNTS": "prod"})


def test_the_email_and_chat_forms_name_the_workload_account() -> None:
    # Given a DEPLOYING record of a target in the workload account
    location = target_location(TargetAccount(WORKLOAD, None, "prod"), own_account=CENTRAL, own_region=REGION)
    message = render_notification(
        replace(deploying_report(foreign_push(), "prod"), location=location), time="2026-11-20T10:20:05Z"
    ).message

    # When it is rendered for e-mail and for chat
    email = render_email(message)
    chat = render_chatbot(message)["content"]["description"]

    # Then both name the account, its alias and its Region; the service link is in that Region
    assert f"Account:    {WORKLOAD} (prod), {REGION}" in email
    assert f"*Account:* {WORKLOAD} (prod), {REGION}" in chat
    assert f"https://{REGION}.console.aws.amazon.com/ecs/v2/clusters/main/services/api/health?region={REGION}" in email


def test_a_workload_target_is_rolled_back_in_the_workload_account() -> None:
    # Given prod deployed twice in the workload account, both completed
    given = accounts({f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG})
    operations = TargetOperations(
        configs=FakeConfigs({f"/pushdeploy/{REGISTRY}/api/prod": PROD_CONFIG}),
        ecs=given.central,
        publisher=given.publisher,
        ledger=given.ledger,
        clock=Clock(),
        region=REGION,
        account=CENTRAL,
        allowed_accounts=(WORKLOAD,),
        clients_for_target=lambda location, session: TargetClients(ecs=given.workload, parameters=FakeParameters()),
    )
    service_arn = f"arn:aws:ecs:{REGION}:{WORKLOAD}:service/main/api"
    for number, (tag, digest) in enumerate((("v2.0.0", "7e"), ("v2.0.1", "8f")), start=1):
        given.deployer.deploy(foreign_push(tag=tag, digest="sha256:" + digest * 32, event_id=f"push-{number}"))
        deployment = f"ecs-svc/900000000000000000{number}"
        given.tracker.track(DeploymentEvent(COMPLETED, deployment, service_arn, "", NOW + 60 * number))
    first, second = (f"arn:aws:ecs:{REGION}:{WORKLOAD}:task-definition/api:{n}" for n in (8, 9))
    assert given.workload.service.task_definition_arn == second

    # When prod is rolled back from the console, naming the registry
    request = parse({"action": "rollback", "repository": "api", "registry": REGISTRY, "target": "prod"})
    result = operations.rollback(request)

    # Then the workload account's service goes back to the first revision; the stack's own ECS is untouched
    assert result["status"] == "DEPLOYING"
    assert given.workload.calls[-1] == ("update", "main", "api", first, False)
    assert given.central.calls == []
    assert given.publisher.published[-1].message["account"] == WORKLOAD
