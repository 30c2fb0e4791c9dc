"""Every input the deploy function must refuse, skip or report, each with its outcome: the result, the
notification (or none), and that nothing was registered unless a failure says so."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from unittest.mock import patch

import boto3
import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from pushdeploy import wiring
from pushdeploy.domain.errors import ImageNotFoundError, InvalidEventError
from pushdeploy.usecases.deploy import DeployIncompleteError
from tests.helpers import Inbox, LambdaContext, load_event, load_function
from tools.sample_world import ACCOUNT, PROD_CONFIG, STAGING_CONFIG, World, push_image, put_target_config

if TYPE_CHECKING:
    from mypy_boto3_ecs.literals import DeploymentControllerTypeType

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
ServiceSetup = Callable[[boto3.Session, World], dict[str, str]]

STAGING_PARAMETER = "/pushdeploy/api/staging"
PUSH_DIGEST = load_event("ecr-push.json")["detail"]["image-digest"]

# Events that end without a metric (ignored, refused) make powertools warn that it has none to publish.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture(autouse=True)
def _no_default_amis(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's EC2 backend otherwise loads ~1,300 AMIs for each test's world; none of these tests needs one.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def push_event(name: str = "ecr-push.json", detail: dict[str, str] | None = None) -> dict[str, Any]:
    """A sample event, copied, with ``detail`` fields replaced."""
    event = copy.deepcopy(load_event(name))
    event["detail"].update(detail or {})
    return event


def revisions(session: boto3.Session) -> list[str]:
    return list(session.client("ecs").list_task_definitions()["taskDefinitionArns"])


def service_task_definition(session: boto3.Session, cluster: str, service: str = "api") -> str:
    return session.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]


def target(result: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [report for report in result["targets"] if report["target"] == name]
    assert len(found) == 1, f"target {name} not in {result['targets']}"
    return found[0]


@contextmanager
def failing(operation: str, code: str = "ThrottlingException", message: str = "Rate exceeded") -> Iterator[None]:
    """AWS answers ``operation`` with a ClientError (after botocore's retries, as far as the caller sees);
    every other call goes through to moto."""
    original = vars(BaseClient)["_make_api_call"]  # not in botocore-stubs

    def call(client: BaseClient, name: str, params: dict[str, Any]) -> Any:
        if name == operation:
            raise ClientError({"Error": {"Code": code, "Message": message}}, name)
        return original(client, name, params)

    with patch.object(BaseClient, "_make_api_call", call):
        yield


@contextmanager
def recorded_operations() -> Iterator[list[str]]:
    """The name of every AWS call made inside the block."""
    operations: list[str] = []
    original = vars(BaseClient)["_make_api_call"]  # not in botocore-stubs

    def call(client: BaseClient, name: str, params: dict[str, Any]) -> Any:
        operations.append(name)
        return original(client, name, params)

    with patch.object(BaseClient, "_make_api_call", call):
        yield operations


@contextmanager
def fresh_pushdeploy_modules() -> Iterator[None]:
    """Inside the block, ``import pushdeploy...`` runs the package's code again; afterwards every test sees
    the modules it saw before (and none of the fresh ones, whose classes are not the same objects)."""

    def ours(name: str) -> bool:
        return name == "pushdeploy" or name.startswith("pushdeploy.")

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


# --- events that are not ours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "overrides", "reason"),
    [
        pytest.param("ecr-delete.json", {}, "ECR action DELETE is not a push", id="delete"),
        pytest.param("ecr-push-failure.json", {}, "ECR push result FAILURE is not SUCCESS", id="failed-push"),
        pytest.param(
            "ecr-push-untagged.json",
            {},
            "untagged push (an image index's manifest or a digest-only push)",
            id="untagged",
        ),
        pytest.param(
            "ecr-push.json",
            {"source": "aws.ecs", "detail-type": "ECS Deployment State Change"},
            "not an ECR image action: aws.ecs / ECS Deployment State Change",
            id="other-source",
        ),
    ],
)
def test_events_that_are_not_ours_are_ignored(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    name: str,
    overrides: dict[str, str],
    reason: str,
) -> None:
    # Given an EventBridge event that is not a successful, tagged ECR push
    event = copy.deepcopy(load_event(name))
    event.update(overrides)
    before = revisions(session)

    # When it is delivered
    with recorded_operations() as operations:
        result = invoke(event)

    # Then it is ignored without a single AWS call, no notification, nothing registered
    assert result == {"status": "IGNORED", "reason": reason}
    assert operations == []
    assert inbox.receive() == []
    assert revisions(session) == before


def test_a_push_to_a_repository_without_config_is_skipped(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given no config under /pushdeploy/worker
    before = revisions(session)

    # When worker:staging-42 is pushed
    result = invoke(push_event(detail={"repository-name": "worker"}))

    # Then it is skipped with the reason, silently
    assert result == {
        "status": "SKIPPED",
        "repository": "worker",
        "tag": "staging-42",
        "digest": PUSH_DIGEST,
        "reason": "no target config for repository worker",
        "targets": [],
    }
    assert inbox.receive() == []
    assert revisions(session) == before


def test_a_push_matching_no_target_is_skipped(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given targets on staging-* / build-* and v*
    before = revisions(session)

    # When feature-login is pushed
    result = invoke(load_event("ecr-push-no-match.json"))

    # Then every target is skipped, saying why, and nothing is announced or registered
    assert result["status"] == "SKIPPED"
    assert target(result, "staging") == {
        "target": "staging",
        "status": "SKIPPED",
        "cluster": "staging",
        "service": "api",
        "reason": "tag feature-login does not match the target's tags ['staging-*', 'build-*']",
        "code": "no-match",
    }
    assert target(result, "prod")["reason"] == "tag feature-login does not match the target's tags ['v*']"
    assert inbox.receive() == []
    assert revisions(session) == before


# --- broken target configs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        pytest.param(
            '{"cluster": "staging", "service": "api",',
            "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 41",
            id="not-json",
        ),
        pytest.param(
            {key: value for key, value in STAGING_CONFIG.items() if key != "service"},
            "missing required field 'service'",
            id="no-service",
        ),
        pytest.param(
            {**STAGING_CONFIG, "containr": ["api"]},
            "unknown field 'containr' (did you mean 'containers'?)",
            id="unknown-field",
        ),
    ],
)
def test_a_broken_config_fails_its_target(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    config: dict[str, Any] | str,
    problem: str,
) -> None:
    # Given staging's config is broken
    put_target_config(session, "api", "staging", config)
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then staging fails, naming the parameter and the problem (a permanent error: no retry)
    reason = f"target config {STAGING_PARAMETER}: {problem}"
    assert result["status"] == "FAILED"
    assert target(result, "staging") == {"target": "staging", "status": "FAILED", "reason": reason, "code": "config"}
    # And the team is told
    received = inbox.receive()
    assert len(received) == 1
    assert received[0].message["status"] == "FAILED"
    assert received[0].message["reason"] == reason
    assert received[0].message["configParameter"] == STAGING_PARAMETER
    assert received[0].attributes["status"] == "FAILED"
    assert received[0].attributes["target"] == "staging"
    assert received[0].subject == "pushdeploy FAILED: api:staging-42 to staging"
    # And nothing is registered
    assert revisions(session) == before
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]


def test_a_broken_config_does_not_stop_the_other_targets(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given prod's config has an unknown field
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "cluser": "prod"})
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then prod fails and staging deploys all the same
    assert result["status"] == "FAILED"
    assert target(result, "prod")["status"] == "FAILED"
    assert "/pushdeploy/api/prod: unknown field 'cluser'" in target(result, "prod")["reason"]
    assert target(result, "staging")["status"] == "DEPLOYING"
    assert len(revisions(session)) == len(before) + 1
    assert service_task_definition(session, "staging").endswith("/api-staging:2")
    assert sorted((r.message["target"], r.message["status"]) for r in inbox.receive()) == [
        ("prod", "FAILED"),
        ("staging", "DEPLOYING"),
    ]


def test_a_target_that_fails_in_ecs_does_not_stop_the_others(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a target tried before staging (targets go by name) whose cluster does not exist
    put_target_config(session, "api", "a-lost", {"cluster": "nowhere", "service": "api", "tags": ["staging-*"]})

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then that target fails and staging still deploys
    assert [(r["target"], r["status"]) for r in result["targets"]] == [
        ("a-lost", "FAILED"),
        ("prod", "SKIPPED"),
        ("staging", "DEPLOYING"),
    ]
    assert service_task_definition(session, "staging").endswith("/api-staging:2")
    assert sorted((r.message["target"], r.message["status"]) for r in inbox.receive()) == [
        ("a-lost", "FAILED"),
        ("staging", "DEPLOYING"),
    ]


# --- secrets -------------------------------------------------------------------------------------------


def test_missing_secret_parameters_are_all_named(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging's config references three parameters that do not exist (by name, by ARN, flat)
    missing = ["/api/staging/NOPE", "/api/staging/ALSO_NOPE", "FLAT_NOPE"]
    secrets = {
        "DATABASE_URL": "/api/staging/NOPE",
        "API_KEY": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/api/staging/ALSO_NOPE",
        "FLAT": "FLAT_NOPE",
        "PRESENT": "/api/staging/DATABASE_URL",
    }
    put_target_config(session, "api", "staging", {**STAGING_CONFIG, "secrets": secrets})
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then staging fails naming every missing parameter and only those
    reason = target(result, "staging")["reason"]
    assert reason.startswith("secret parameter(s) not found in Parameter Store: ")
    listed = reason.removeprefix("secret parameter(s) not found in Parameter Store: ").split(";", 1)[0]
    assert sorted(listed.split(", ")) == sorted(missing)
    assert "nothing was registered" in reason
    # And the team is told, and nothing is registered
    received = inbox.receive()
    assert [(r.message["status"], r.message["reason"]) for r in received] == [("FAILED", reason)]
    assert revisions(session) == before


def test_a_parameter_under_secrets_path_that_cannot_be_a_variable_fails_the_target(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a parameter under staging's secretsPath whose last segment is not a variable name
    session.client("ssm").put_parameter(Name="/api/staging/env/stripe-key", Value="x", Type="SecureString")
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then staging fails naming the parameter and the path
    reason = target(result, "staging")["reason"]
    assert reason.startswith(
        f"target config {STAGING_PARAMETER}: parameter /api/staging/env/stripe-key under secretsPath "
        "/api/staging/env is not named like an environment variable"
    )
    assert [r.message["status"] for r in inbox.receive()] == ["FAILED"]
    assert revisions(session) == before


# --- services that cannot take a deploy ----------------------------------------------------------------


def _missing_service(session: boto3.Session, world: World) -> dict[str, str]:
    return {"service": "nope"}


def _inactive_service(session: boto3.Session, world: World) -> dict[str, str]:
    session.client("ecs").delete_service(cluster="staging", service="api", force=True)
    return {}


def _missing_cluster(session: boto3.Session, world: World) -> dict[str, str]:
    return {"cluster": "nowhere"}


def _controlled_by(controller: DeploymentControllerTypeType) -> ServiceSetup:
    def setup(session: boto3.Session, world: World) -> dict[str, str]:
        name = f"api-{controller.lower().replace('_', '-')}"
        session.client("ecs").create_service(
            cluster="staging",
            serviceName=name,
            taskDefinition=world.task_definitions["staging"],
            desiredCount=1,
            deploymentController={"type": controller},
        )
        return {"service": name}

    return setup


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param(
            _missing_service,
            "service nope not found in cluster staging; create it, add a 'create' block to the target, or fix "
            "the target's 'service'",
            id="service-missing",
        ),
        pytest.param(
            _inactive_service,
            "service api in cluster staging is INACTIVE, not ACTIVE: it is being deleted or was deleted; "
            "recreate it or point the target elsewhere",
            id="service-inactive",
        ),
        pytest.param(
            _missing_cluster,
            "cluster nowhere does not exist in this account and Region",
            id="cluster-missing",
        ),
        pytest.param(
            _controlled_by("CODE_DEPLOY"),
            "service api-code-deploy in cluster staging uses the CODE_DEPLOY deployment controller; pushdeploy "
            "updates services that use the ECS controller",
            id="code-deploy",
        ),
        pytest.param(
            _controlled_by("EXTERNAL"),
            "service api-external in cluster staging uses the EXTERNAL deployment controller; pushdeploy "
            "updates services that use the ECS controller",
            id="external",
        ),
    ],
)
def test_a_service_that_cannot_take_a_deploy_fails_its_target(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    setup: ServiceSetup,
    reason: str,
) -> None:
    # Given staging's target points at a service that cannot take a new task definition
    overrides = setup(session, world)
    config = {**STAGING_CONFIG, **overrides}
    put_target_config(session, "api", "staging", config)
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then staging fails with the reason (permanent: the invocation returns), and nothing is registered
    staging = target(result, "staging")
    assert result["status"] == "FAILED"
    assert staging["status"] == "FAILED"
    assert staging["reason"].startswith(reason)
    assert "taskDefinitionArn" not in staging
    assert revisions(session) == before
    # And the team is told which service it was about
    received = inbox.receive()
    assert len(received) == 1
    assert received[0].message["status"] == "FAILED"
    assert received[0].message["reason"] == staging["reason"]
    assert (received[0].attributes["cluster"], received[0].attributes["service"]) == (
        config["cluster"],
        config["service"],
    )


# --- task definitions that do not fit the push ---------------------------------------------------------


@pytest.mark.parametrize(
    ("repository", "containers", "reason"),
    [
        pytest.param(
            "worker",
            None,
            "no container of task definition api-staging uses repository worker (containers: api, db); "
            "name the containers to update in the target's 'containers' field",
            id="no-container-uses-the-repository",
        ),
        pytest.param(
            "api",
            ["api", "web"],
            "container(s) web named by the target are not in task definition api-staging (it has: api, db)",
            id="named-container-missing",
        ),
    ],
)
def test_a_task_definition_without_the_container_fails_its_target(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    repository: str,
    containers: list[str] | None,
    reason: str,
) -> None:
    # Given a target on staging's service for a repository none of its containers uses, or naming a stranger
    config: dict[str, Any] = {"cluster": "staging", "service": "api", "tags": ["staging-*"]}
    if containers is not None:
        config["containers"] = containers
    put_target_config(session, repository, "staging", config)
    before = revisions(session)

    # When that repository's staging-42 is pushed
    result = invoke(push_event(detail={"repository-name": repository}))

    # Then the target fails saying which containers there are, and nothing is registered
    assert target(result, "staging")["reason"] == reason
    assert [(r.message["status"], r.message["reason"]) for r in inbox.receive()] == [("FAILED", reason)]
    assert revisions(session) == before


# --- AWS failures: reported, then retried --------------------------------------------------------------


def test_a_throttled_registration_is_reported_and_retried(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given ECS throttles RegisterTaskDefinition
    before = revisions(session)

    # When staging-42 is pushed, Then the invocation fails so that Lambda retries it
    with (
        failing("RegisterTaskDefinition"),
        pytest.raises(DeployIncompleteError, match=r"staging: ecs:RegisterTaskDefinition failed: ThrottlingException"),
    ):
        invoke(push_event())

    # And the team was told first, and nothing was registered
    received = inbox.receive()
    assert len(received) == 1
    assert received[0].message["status"] == "FAILED"
    assert received[0].message["reason"] == (
        "ecs:RegisterTaskDefinition failed: ThrottlingException: Rate exceeded; nothing was registered"
    )
    assert received[0].message["taskDefinitionArn"] is None
    assert revisions(session) == before
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]


def test_a_failed_service_update_names_the_revision_it_registered(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given ECS throttles UpdateService
    before = revisions(session)

    # When staging-42 is pushed, Then the invocation fails so that Lambda retries it
    with failing("UpdateService"), pytest.raises(DeployIncompleteError, match=r"ecs:UpdateService failed"):
        invoke(push_event())

    # And the revision was registered but the service still runs revision 1
    registered = sorted(set(revisions(session)) - set(before))
    assert registered == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/api-staging:2"]
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]
    # And the FAILED notification says which revision is left over
    received = inbox.receive()
    assert len(received) == 1
    message = received[0].message
    assert message["status"] == "FAILED"
    assert message["taskDefinitionArn"] == registered[0]
    assert message["reason"] == (
        f"ecs:UpdateService failed: ThrottlingException: Rate exceeded; revision {registered[0]} was registered "
        "but the service was not updated to it"
    )

    # And when Lambda retries the event, the deploy finishes
    result = invoke(push_event())
    assert target(result, "staging")["status"] == "DEPLOYING"
    running = session.client("ecs").describe_task_definition(taskDefinition=service_task_definition(session, "staging"))
    assert running["taskDefinition"]["containerDefinitions"][0]["image"] == f"{world.registry}/api@{PUSH_DIGEST}"
    assert [r.message["status"] for r in inbox.receive()] == ["DEPLOYING"]


def test_a_lost_notification_fails_the_invocation(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given SNS refuses to publish
    # When staging-42 is pushed, Then the invocation fails naming the lost notification
    with (
        failing("Publish", code="InternalError", message="try again"),
        pytest.raises(
            DeployIncompleteError,
            match=r"staging: notification not published: sns:Publish failed: InternalError: try again",
        ),
    ):
        invoke(push_event())

    # And the deploy itself went through
    assert service_task_definition(session, "staging").endswith("/api-staging:2")
    assert inbox.receive() == []


def test_the_retry_after_a_lost_notification_delivers_it(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a push whose deploy went through but whose notification SNS refused
    event = push_event()
    with failing("Publish", code="InternalError"), pytest.raises(DeployIncompleteError):
        invoke(event)

    # When Lambda retries the event, as the raised error asks
    invoke(event)

    # Then the team hears about the deploy
    assert [(r.message["target"], r.message["status"]) for r in inbox.receive()] == [("staging", "DEPLOYING")]


# --- malformed events ----------------------------------------------------------------------------------


def _without_detail() -> Any:
    event = push_event()
    del event["detail"]
    return event


@pytest.mark.parametrize(
    ("make_event", "message"),
    [
        pytest.param(_without_detail, "ECR Image Action event has no 'detail' object", id="no-detail"),
        pytest.param(
            lambda: push_event(detail={"image-digest": "sha256:abc"}),
            "field 'detail.image-digest' must be sha256:<64 hex digits>, got 'sha256:abc'",
            id="bad-digest",
        ),
        pytest.param(
            lambda: push_event(detail={"repository-name": "API"}),
            "field 'detail.repository-name' must be an ECR repository name, got 'API'",
            id="bad-repository",
        ),
        pytest.param(
            lambda: {"repository": "api"},
            "field 'tag' must be an image tag, e.g. \"v1.4.2\", got missing",
            id="manual-without-tag",
        ),
        pytest.param(
            lambda: {"repository": "api", "tag": "v1.4.2", "targets": "prod"},
            "manual deploy: 'targets' must be a non-empty list of target names",
            id="manual-targets-not-a-list",
        ),
        pytest.param(
            lambda: {"repository": "api", "tag": "v1.4.2", "target": ["prod"]},
            "manual deploy: unknown field(s) target",
            id="manual-unknown-field",
        ),
        pytest.param(lambda: ["api", "v1.4.2"], "event must be a JSON object, got an array", id="not-an-object"),
        pytest.param(lambda: {"image": "api:v1.4.2"}, "got keys: image", id="neither-kind"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    make_event: Callable[[], Any],
    message: str,
) -> None:
    # Given a malformed event
    event = make_event()
    before = revisions(session)

    # When it is delivered, Then it is refused with a message naming the field
    with pytest.raises(InvalidEventError) as raised:
        invoke(cast(dict[str, Any], event))
    assert message in str(raised.value)

    # And nothing is registered or announced
    assert revisions(session) == before
    assert inbox.receive() == []


def test_a_manual_deploy_of_a_tag_ecr_does_not_hold_is_refused(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a manual request for a tag that was never pushed
    event = {**load_event("manual-deploy.json"), "tag": "staging-99"}
    before = revisions(session)

    # When it runs, Then it is refused naming the tag and the repository
    with pytest.raises(ImageNotFoundError, match=r"tag staging-99 not found in repository api"):
        invoke(event)

    # And nothing is registered or announced
    assert revisions(session) == before
    assert inbox.receive() == []


# --- the composition root ------------------------------------------------------------------------------


def test_importing_the_function_creates_no_aws_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given every way of creating a boto3 client fails, and the pushdeploy package is imported afresh.
    # One client is let through: powertools' Tracer() imports the X-Ray SDK, whose recorder builds an unsigned
    # botocore "xray" client for the local X-Ray daemon (sampling rules) the first time it is imported.
    wiring.reset()  # and the clients earlier builds were making in the background are made
    created: list[str] = []
    create_client = botocore.session.Session.create_client

    def only_xray(self: botocore.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service_name)
        if service_name != "xray":
            raise AssertionError(f"a {service_name} client was created")
        return create_client(self, service_name, *args, **kwargs)

    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a boto3 client was created")

    monkeypatch.setattr(boto3.Session, "client", no_client)
    monkeypatch.setattr(boto3, "client", no_client)
    monkeypatch.setattr(botocore.session.Session, "create_client", only_xray)
    wiring.reset()

    with fresh_pushdeploy_modules():
        # When functions/deploy/app.py is imported
        app = load_function("deploy")

        # Then no client of pushdeploy's was created
        assert set(created) <= {"xray"}
        # And an event that is not ours does not build one either
        result = app.handler(load_event("ecr-delete.json"), LambdaContext())
        assert result["status"] == "IGNORED"
        assert set(created) <= {"xray"}
        assert sys.modules["pushdeploy.wiring"].entry_point.cache_info().currsize == 0


def test_an_empty_secrets_path_fails_the_target_as_a_likely_typo(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging's secretsPath names a path that holds no parameter (a typo of /api/staging/env)
    put_target_config(session, "api", "staging", {**STAGING_CONFIG, "secretsPath": "/api/stagin/env"})
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then staging fails naming the parameter and the path, the team is told, and nothing is registered
    reason = target(result, "staging")["reason"]
    assert reason.startswith(f"target config {STAGING_PARAMETER}: secretsPath /api/stagin/env holds no parameters")
    assert [r.message["status"] for r in inbox.receive()] == ["FAILED"]
    assert revisions(session) == before


def test_a_manual_deploy_to_named_targets_of_an_unconfigured_repository_is_refused(
    session: boto3.Session, world: World, invoke: Invoke
) -> None:
    # Given a repository with no target config at all
    event = {"repository": "billing", "tag": "v1.0.0", "targets": ["prod"]}
    session.client("ecr").create_repository(repositoryName="billing")
    push_image(session, "billing", "v1.0.0", "b")

    # When a manual deploy names a target of it
    # Then it is refused, saying the repository has no targets
    with pytest.raises(InvalidEventError, match="repository billing has no targets configured"):
        invoke(event)
