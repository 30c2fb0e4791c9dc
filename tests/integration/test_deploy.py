"""The deploy function's happy paths, end to end in moto: the state of ECS after a deploy, the notification
as a subscriber of the topic receives it, and what reaches the logs."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from unittest.mock import patch

import boto3
import pytest
from botocore.client import BaseClient

from pushdeploy.domain.errors import InvalidEventError
from tests.helpers import Inbox, load_event
from tools.sample_world import (
    ACCOUNT,
    DB_IMAGE,
    SECRET_VALUE,
    World,
    put_target_config,
    task_definition,
)

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
ApiCall = tuple[str, dict[str, Any]]

# A refused manual deploy ends without a metric, and powertools warns that it has none to publish.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

# DescribeTaskDefinition returns these; RegisterTaskDefinition does not take them (botocore's ECS model).
READ_ONLY_FIELDS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "deregisteredAt",
        "deleteRequestedAt",
        "registeredBy",
    }
)
TASK_LEVEL_FIELDS = (
    "family",
    "cpu",
    "memory",
    "networkMode",
    "executionRoleArn",
    "taskRoleArn",
    "volumes",
    "ephemeralStorage",
    "runtimePlatform",
    "requiresCompatibilities",
)
PUSH_DIGEST = load_event("ecr-push.json")["detail"]["image-digest"]
PROD_DIGEST = load_event("ecr-push-prod.json")["detail"]["image-digest"]
REQUIRED_MESSAGE_KEYS = frozenset(
    {
        "schemaVersion",
        "status",
        "repository",
        "tag",
        "digest",
        "target",
        "cluster",
        "service",
        "taskDefinitionArn",
        "previousTaskDefinitionArn",
        "changes",
        "trigger",
    }
)


def ssm_arn(name: str) -> str:
    return f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{name.lstrip('/')}"


def push_event(name: str = "ecr-push.json", detail: dict[str, str] | None = None) -> dict[str, Any]:
    """A sample event, copied, with ``detail`` fields replaced."""
    event = copy.deepcopy(load_event(name))
    event["detail"].update(detail or {})
    return event


def revisions(session: boto3.Session) -> list[str]:
    return list(session.client("ecs").list_task_definitions()["taskDefinitionArns"])


def service_task_definition(session: boto3.Session, cluster: str, service: str = "api") -> str:
    described = session.client("ecs").describe_services(cluster=cluster, services=[service])
    return described["services"][0]["taskDefinition"]


def describe(session: boto3.Session, arn: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The task definition and its tags (as a dict)."""
    response = session.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    tags = {tag["key"]: tag["value"] for tag in response.get("tags", [])}
    return cast(dict[str, Any], response["taskDefinition"]), tags


def container(definition: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in definition["containerDefinitions"] if c["name"] == name]
    assert len(found) == 1, f"container {name} not in {definition['family']}"
    return found[0]


def task_level(definition: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in definition.items() if key not in READ_ONLY_FIELDS | {"containerDefinitions"}}


def target(result: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [report for report in result["targets"] if report["target"] == name]
    assert len(found) == 1, f"target {name} not in {result['targets']}"
    return found[0]


def add_service(session: boto3.Session, world: World, cluster: str, family: str, repository_uri: str) -> str:
    """Create ``cluster`` with a service ``api`` running a fresh two-container task definition."""
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    arn = ecs.register_task_definition(**task_definition(family, repository_uri, "staging-41"))["taskDefinition"][
        "taskDefinitionArn"
    ]
    ecs.create_service(
        cluster=cluster,
        serviceName="api",
        taskDefinition=arn,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [world.subnet_id], "securityGroups": [world.security_group_id]}
        },
    )
    return arn


@pytest.fixture(autouse=True)
def _no_default_amis(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's EC2 backend otherwise loads ~1,300 AMIs for each test's world; none of these tests needs one.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@contextmanager
def recorded_api_calls() -> Iterator[list[ApiCall]]:
    """Every AWS call made inside the block (operation name and parameters), passed through to moto."""
    calls: list[ApiCall] = []
    original = vars(BaseClient)["_make_api_call"]  # not in botocore-stubs

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        return original(client, operation, params)

    with patch.object(BaseClient, "_make_api_call", record):
        yield calls


@pytest.fixture
def powertools_output(invoke: Invoke) -> Iterator[io.StringIO]:
    """What the powertools Logger prints (its JSON lines), redirected into a buffer.

    The Logger's handler keeps the stdout it saw when the first Logger was built, so capsys does not see it.
    """
    buffer = io.StringIO()
    handlers = [
        handler for handler in logging.getLogger("pushdeploy").handlers if isinstance(handler, logging.StreamHandler)
    ]
    assert handlers, "the deploy function's Logger has no stream handler"
    previous = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        if stream is not None:
            handler.setStream(stream)


# --- a push to staging ---------------------------------------------------------------------------------


def test_push_to_staging_registers_a_revision_and_points_the_service_at_it(
    session: boto3.Session, world: World, invoke: Invoke
) -> None:
    # Given the staging service on revision 1
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then one revision is registered and the staging service runs it
    registered = sorted(set(revisions(session)) - set(before))
    assert registered == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/api-staging:2"]
    assert service_task_definition(session, "staging") == registered[0]
    assert result["status"] == "DEPLOYING"
    assert (result["repository"], result["tag"], result["digest"]) == ("api", "staging-42", PUSH_DIGEST)
    staging = target(result, "staging")
    assert staging["status"] == "DEPLOYING"
    assert staging["taskDefinitionArn"] == registered[0]
    assert staging["previousTaskDefinitionArn"] == world.task_definitions["staging"]
    assert staging["deploymentId"].startswith("ecs-svc/")
    assert target(result, "prod")["status"] == "SKIPPED"


def test_push_to_staging_pins_the_app_image_and_leaves_the_db_container_alone(
    session: boto3.Session, world: World, invoke: Invoke
) -> None:
    # Given revision 1 of the staging task definition
    old, _ = describe(session, world.task_definitions["staging"])

    # When staging-42 is pushed
    invoke(push_event())

    # Then the api container runs the pushed image by digest, and nothing else of it changed
    new, _ = describe(session, service_task_definition(session, "staging"))
    api, old_api = container(new, "api"), container(old, "api")
    assert api["image"] == f"{world.registry}/api@{PUSH_DIGEST}"
    merged_fields = {"image", "environment", "secrets"}
    assert {k: v for k, v in api.items() if k not in merged_fields} == {
        k: v for k, v in old_api.items() if k not in merged_fields
    }
    # And the db container (another registry) is exactly what it was
    assert container(new, "db") == container(old, "db")
    assert container(new, "db")["image"] == DB_IMAGE
    assert [c["name"] for c in new["containerDefinitions"]] == ["api", "db"]


def test_push_to_staging_keeps_every_task_level_field(session: boto3.Session, world: World, invoke: Invoke) -> None:
    # Given revision 1, with roles, cpu/memory, awsvpc, a volume, ephemeral storage and an ARM64 platform
    old, _ = describe(session, world.task_definitions["staging"])
    for field in TASK_LEVEL_FIELDS:
        assert field in old, f"moto no longer returns {field}; the comparison below would not cover it"

    # When staging-42 is pushed
    invoke(push_event())

    # Then the new revision's task-level fields equal revision 1's, minus the read-only ones
    new, _ = describe(session, service_task_definition(session, "staging"))
    assert new["revision"] == 2
    assert task_level(new) == task_level(old)
    assert new["ephemeralStorage"] == {"sizeInGiB": 30}
    assert new["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}


def test_push_to_staging_merges_environment_and_secrets(session: boto3.Session, world: World, invoke: Invoke) -> None:
    # Given revision 1's api container: LOG_LEVEL=debug, PORT=8080 and the secret OLD_TOKEN
    # When staging-42 is pushed (config: LOG_LEVEL=info, DATABASE_URL in 'secrets', /api/staging/env as secretsPath)
    invoke(push_event())

    # Then the environment is merged: LOG_LEVEL overridden, PORT kept
    api = container(describe(session, service_task_definition(session, "staging"))[0], "api")
    assert {item["name"]: item["value"] for item in api["environment"]} == {"LOG_LEVEL": "info", "PORT": "8080"}
    # And every secret is a Parameter Store ARN: the existing one kept, the config's and the path's added
    assert {item["name"]: item["valueFrom"] for item in api["secrets"]} == {
        "OLD_TOKEN": ssm_arn("/api/staging/legacy/OLD_TOKEN"),
        "DATABASE_URL": ssm_arn("/api/staging/DATABASE_URL"),
        "STRIPE_KEY": ssm_arn("/api/staging/env/STRIPE_KEY"),
        "SESSION_SECRET": ssm_arn("/api/staging/env/SESSION_SECRET"),
    }


def test_push_to_staging_tags_the_revision_and_leaves_prod_alone(
    session: boto3.Session, world: World, invoke: Invoke
) -> None:
    # Given revision 1 tagged team=payments, and prod on its own revision 1
    prod_before = describe(session, world.task_definitions["prod"])

    # When staging-42 is pushed
    invoke(push_event())

    # Then the new revision keeps team=payments and records the image's tag and digest
    _, tags = describe(session, service_task_definition(session, "staging"))
    assert tags == {"team": "payments", "pushdeploy:image-tag": "staging-42", "pushdeploy:image-digest": PUSH_DIGEST}
    # And prod still runs its revision 1, unchanged, with no new prod revision
    assert service_task_definition(session, "prod") == world.task_definitions["prod"]
    assert describe(session, world.task_definitions["prod"]) == prod_before
    assert [arn for arn in revisions(session) if "/api-prod:" in arn] == [world.task_definitions["prod"]]


# --- the notification ----------------------------------------------------------------------------------


def test_push_notification_as_the_inbox_receives_it(world: World, inbox: Inbox, invoke: Invoke) -> None:
    # Given a team inbox subscribed to the topic
    # When staging-42 is pushed
    result = invoke(push_event())

    # Then exactly one notification arrives: staging DEPLOYING (prod was skipped, and skips are not announced)
    received = inbox.receive()
    assert len(received) == 1
    message, attributes, subject = received[0].message, received[0].attributes, received[0].subject
    assert set(message) >= REQUIRED_MESSAGE_KEYS
    staging = target(result, "staging")
    assert message["schemaVersion"] == 1
    assert message["status"] == "DEPLOYING"
    assert (message["repository"], message["tag"], message["digest"]) == ("api", "staging-42", PUSH_DIGEST)
    assert (message["target"], message["cluster"], message["service"]) == ("staging", "staging", "api")
    assert message["taskDefinitionArn"] == staging["taskDefinitionArn"]
    assert message["previousTaskDefinitionArn"] == world.task_definitions["staging"]
    assert message["trigger"] == "push"
    assert message["changes"] == staging["changes"]
    # And it carries the attributes subscription filters need
    assert attributes == {
        "status": "DEPLOYING",
        "repository": "api",
        "target": "staging",
        "cluster": "staging",
        "service": "api",
        "trigger": "push",
    }
    # And a Subject a person can read in an e-mail list
    assert subject == "pushdeploy DEPLOYING: api:staging-42 to staging (staging/api)"
    assert len(subject) < 100
    assert subject.isascii()
    assert "\n" not in subject


def test_changes_name_secrets_but_their_value_never_leaves_parameter_store(
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    powertools_output: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given every secret parameter holds SECRET_VALUE, and logging at DEBUG (botocore then logs response bodies)
    capsys.readouterr()
    caplog.clear()
    caplog.set_level(logging.DEBUG)

    # When staging-42 is pushed
    with recorded_api_calls() as calls:
        result = invoke(push_event())
    logged = "\n".join(
        [powertools_output.getvalue(), capsys.readouterr().out]
        + [json.dumps(record.__dict__, default=str) for record in caplog.records]
    )
    received = inbox.receive()

    # Then the changes name the secrets by reference
    changes = target(result, "staging")["changes"]
    assert {(c["name"], c["after"]) for c in changes if c["field"] == "secret"} == {
        ("DATABASE_URL", ssm_arn("/api/staging/DATABASE_URL")),
        ("STRIPE_KEY", ssm_arn("/api/staging/env/STRIPE_KEY")),
        ("SESSION_SECRET", ssm_arn("/api/staging/env/SESSION_SECRET")),
    }
    # And the value is in neither the result, the notification, nor the logs (which did capture the deploy)
    assert SECRET_VALUE not in json.dumps(result)
    assert len(received) == 1
    assert SECRET_VALUE not in json.dumps([received[0].subject, received[0].message, received[0].attributes])
    assert "Deploy finished" in powertools_output.getvalue()
    assert PUSH_DIGEST in logged
    assert SECRET_VALUE not in logged
    # And the only SSM values read are the target configs: secrets are checked with DescribeParameters
    value_reads = [(op, params) for op, params in calls if op in {"GetParameter", "GetParameters"}]
    assert value_reads == []
    assert {params["Path"] for op, params in calls if op == "GetParametersByPath"} == {"/pushdeploy/api"}


# --- prod and manual deploys ---------------------------------------------------------------------------


def test_push_of_a_release_tag_deploys_prod_only(session: boto3.Session, world: World, invoke: Invoke) -> None:
    # Given prod's config: tags v*, containers ["api"], DATABASE_URL from /api/prod
    before = revisions(session)

    # When v1.4.2 is pushed
    result = invoke(push_event("ecr-push-prod.json"))

    # Then prod runs a new revision with the pushed image, and staging is untouched
    assert result["status"] == "DEPLOYING"
    assert target(result, "prod")["status"] == "DEPLOYING"
    assert target(result, "staging")["status"] == "SKIPPED"
    assert len(revisions(session)) == len(before) + 1
    new, tags = describe(session, service_task_definition(session, "prod"))
    old, _ = describe(session, world.task_definitions["prod"])
    api = container(new, "api")
    assert api["image"] == f"{world.registry}/api@{PROD_DIGEST}"
    assert container(new, "db") == container(old, "db")
    assert task_level(new) == task_level(old)
    # prod's config sets no environment: the container's own stays as it was
    assert {item["name"]: item["value"] for item in api["environment"]} == {"LOG_LEVEL": "debug", "PORT": "8080"}
    assert {item["name"]: item["valueFrom"] for item in api["secrets"]} == {
        "OLD_TOKEN": ssm_arn("/api/staging/legacy/OLD_TOKEN"),
        "DATABASE_URL": ssm_arn("/api/prod/DATABASE_URL"),
    }
    assert tags == {"team": "payments", "pushdeploy:image-tag": "v1.4.2", "pushdeploy:image-digest": PROD_DIGEST}
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]


def test_manual_deploy_looks_the_digest_up_in_ecr(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging-42 in ECR under its own digest
    digest = world.image_digests["staging-42"]

    # When someone asks for staging-42 by hand
    result = invoke(load_event("manual-deploy.json"))

    # Then staging runs the image pinned to ECR's digest, and the deploy says it was manual
    assert result["status"] == "DEPLOYING"
    assert result["digest"] == digest
    assert target(result, "prod")["status"] == "SKIPPED"
    api = container(describe(session, service_task_definition(session, "staging"))[0], "api")
    assert api["image"] == f"{world.registry}/api@{digest}"
    received = inbox.receive()
    assert len(received) == 1
    assert received[0].message["trigger"] == "manual"
    assert received[0].message["digest"] == digest
    assert received[0].attributes["trigger"] == "manual"


def test_manual_deploy_to_named_targets_deploys_only_those(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a manual request for v1.4.2 to prod only
    event = load_event("manual-deploy-targets.json")

    # When it runs
    result = invoke(event)

    # Then only prod is considered (staging does not even appear) and prod runs ECR's digest of v1.4.2
    assert [report["target"] for report in result["targets"]] == ["prod"]
    assert target(result, "prod")["status"] == "DEPLOYING"
    api = container(describe(session, service_task_definition(session, "prod"))[0], "api")
    assert api["image"] == f"{world.registry}/api@{world.image_digests['v1.4.2']}"
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]
    assert [(r.message["target"], r.message["trigger"]) for r in inbox.receive()] == [("prod", "manual")]


def test_manual_deploy_to_an_unknown_target_is_refused(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a manual request naming a target the repository does not have
    event = load_event("manual-deploy-targets.json")
    event["targets"] = ["prod", "qa"]
    before = revisions(session)

    # When it runs, Then it is refused with the repository's targets listed
    with pytest.raises(InvalidEventError, match=r"no target named qa \(its targets: prod, staging\)"):
        invoke(event)

    # And nothing is registered or announced, not even for the valid target
    assert revisions(session) == before
    assert inbox.receive() == []


# --- several targets, repository names -----------------------------------------------------------------


def test_every_matching_target_is_deployed_on_its_own(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a third target, staging-eu, on the same tags, with its own cluster and service
    eu_revision = add_service(session, world, "staging-eu", "api-staging-eu", world.repository_uri)
    put_target_config(session, "api", "staging-eu", {"cluster": "staging-eu", "service": "api", "tags": ["staging-*"]})
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(push_event())

    # Then both staging targets get their own new revision, and prod is skipped
    assert {report["target"]: report["status"] for report in result["targets"]} == {
        "prod": "SKIPPED",
        "staging": "DEPLOYING",
        "staging-eu": "DEPLOYING",
    }
    assert len(revisions(session)) == len(before) + 2
    staging_arn = service_task_definition(session, "staging")
    eu_arn = service_task_definition(session, "staging-eu")
    assert staging_arn.endswith("/api-staging:2")
    assert eu_arn.endswith("/api-staging-eu:2")
    assert target(result, "staging-eu")["previousTaskDefinitionArn"] == eu_revision
    for arn in (staging_arn, eu_arn):
        assert container(describe(session, arn)[0], "api")["image"] == f"{world.registry}/api@{PUSH_DIGEST}"
    # staging-eu's config has no secrets: its api container keeps only what it had
    eu_api = container(describe(session, eu_arn)[0], "api")
    assert [item["name"] for item in eu_api["secrets"]] == ["OLD_TOKEN"]
    # And one notification per deployed target
    received = inbox.receive()
    assert sorted((r.message["target"], r.message["status"]) for r in received) == [
        ("staging", "DEPLOYING"),
        ("staging-eu", "DEPLOYING"),
    ]


def test_a_repository_name_with_a_slash(session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke) -> None:
    # Given repository team/api, configured at /pushdeploy/team/api/staging for a service of its own
    team_uri = f"{world.registry}/team/api"
    add_service(session, world, "team", "team-api", team_uri)
    put_target_config(session, "team/api", "staging", {"cluster": "team", "service": "api", "tags": ["staging-*"]})

    # When team/api:staging-42 is pushed
    result = invoke(push_event(detail={"repository-name": "team/api"}))

    # Then the team service runs team/api by digest; the api services are untouched
    assert result["repository"] == "team/api"
    assert [(r["target"], r["status"]) for r in result["targets"]] == [("staging", "DEPLOYING")]
    api = container(describe(session, service_task_definition(session, "team"))[0], "api")
    assert api["image"] == f"{team_uri}@{PUSH_DIGEST}"
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]
    assert [(r.message["repository"], r.message["target"]) for r in inbox.receive()] == [("team/api", "staging")]


def test_configs_below_a_target_are_not_read(session: boto3.Session, world: World, invoke: Invoke) -> None:
    # Given team/api's config, and one level deeper a config that would deploy staging-42 to prod
    add_service(session, world, "team", "team-api", f"{world.registry}/team/api")
    put_target_config(session, "team/api", "staging", {"cluster": "team", "service": "api", "tags": ["staging-*"]})
    put_target_config(
        session,
        "team/api/nested",
        "deeper",
        {"cluster": "prod", "service": "api", "tags": ["*"], "containers": ["api"]},
    )
    before = revisions(session)

    # When team/api:staging-42 is pushed
    result = invoke(push_event(detail={"repository-name": "team/api"}))

    # Then only the direct child is a target (the lookup is not recursive): prod is not touched
    assert [report["target"] for report in result["targets"]] == ["staging"]
    assert service_task_definition(session, "prod") == world.task_definitions["prod"]
    assert len(revisions(session)) == len(before) + 1


def test_configs_of_a_repository_do_not_leak_into_one_whose_name_extends_it(
    session: boto3.Session, world: World, invoke: Invoke
) -> None:
    # Given api's configs, and repository api2 with a config of its own
    add_service(session, world, "api2", "api2", f"{world.registry}/api2")
    put_target_config(session, "api2", "dev", {"cluster": "api2", "service": "api", "tags": ["staging-*"]})
    before = revisions(session)

    # When api2:staging-42 is pushed
    result = invoke(push_event(detail={"repository-name": "api2"}))

    # Then only api2's own target is read and deployed, not api's staging (whose tags match too)
    assert [(r["target"], r["status"]) for r in result["targets"]] == [("dev", "DEPLOYING")]
    assert service_task_definition(session, "staging") == world.task_definitions["staging"]
    assert len(revisions(session)) == len(before) + 1

    # And when api:staging-42 is pushed (another event), api2's config is not read either
    result = invoke({**push_event(), "id": "0f1e2d3c-4b5a-4697-8877-665544332211"})
    assert sorted(report["target"] for report in result["targets"]) == ["prod", "staging"]


# --- doing it again ------------------------------------------------------------------------------------


def test_a_redelivered_event_returns_the_first_result_and_redoes_nothing(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging-42 was pushed and deployed
    event = push_event()
    first = invoke(event)
    deployed = service_task_definition(session, "staging")
    before = revisions(session)
    inbox.receive()

    # When EventBridge delivers the same event again (same id)
    result = invoke(event)

    # Then the first run's result is returned (powertools Idempotency), nothing is registered or announced
    assert result == first
    assert revisions(session) == before
    assert service_task_definition(session, "staging") == deployed
    assert inbox.receive() == []


def test_a_second_tag_of_the_deployed_digest_is_a_duplicate(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging-42 was pushed and deployed
    invoke(push_event())
    before = revisions(session)
    inbox.receive()

    # When the same image is pushed as build-42 (its own event, same digest)
    result = invoke(load_event("ecr-push-second-tag.json"))

    # Then staging is skipped as a duplicate, naming the tag it was deployed under; nothing is redone
    staging = target(result, "staging")
    assert (staging["status"], staging["code"]) == ("SKIPPED", "duplicate")
    assert staging["reason"].startswith(f"{PUSH_DIGEST[:19]} is already deployed (tag staging-42")
    assert revisions(session) == before
    assert inbox.receive() == []


def test_a_push_of_what_the_service_already_runs_is_skipped_unchanged(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging runs staging-42, but the deploy ledger does not know it (deployed by hand, ledger lost)
    invoke(load_event("manual-deploy.json"))
    session.client("dynamodb").delete_item(
        TableName=os.environ["TABLE_NAME"], Key={"pk": {"S": "TARGET#api#staging"}, "sk": {"S": "STATE"}}
    )
    before = revisions(session)
    inbox.receive()
    digest = world.image_digests["staging-42"]

    # When a push of that very digest arrives
    result = invoke(push_event(detail={"image-digest": digest}))

    # Then staging is skipped: the service already runs it with this configuration
    staging = target(result, "staging")
    assert (staging["status"], staging["code"]) == ("SKIPPED", "unchanged")
    assert f"api@{digest}" in staging["reason"]
    assert revisions(session) == before
    assert inbox.receive() == []


def test_manual_redeploy_of_the_running_tag_forces_a_new_deployment(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging runs staging-42 (ECR's digest), deployed by hand
    invoke(load_event("manual-deploy.json"))
    running = service_task_definition(session, "staging")
    before = revisions(session)
    inbox.receive()

    # When the same tag is asked for again
    with recorded_api_calls() as calls:
        result = invoke(load_event("manual-deploy.json"))

    # Then no revision is registered and the service is forced to redeploy the one it runs
    assert revisions(session) == before
    assert [op for op, _ in calls if op == "RegisterTaskDefinition"] == []
    updates = [params for op, params in calls if op == "UpdateService"]
    assert updates == [{"cluster": "staging", "service": "api", "taskDefinition": running, "forceNewDeployment": True}]
    staging = target(result, "staging")
    assert staging["status"] == "DEPLOYING"
    assert staging["taskDefinitionArn"] == staging["previousTaskDefinitionArn"] == running
    assert "changes" not in staging
    # And the redeploy is announced, with no changes
    received = inbox.receive()
    assert len(received) == 1
    assert received[0].message["status"] == "DEPLOYING"
    assert received[0].message["changes"] == []
    assert received[0].message["trigger"] == "manual"


def test_a_push_does_not_change_the_event_it_was_given(world: World, invoke: Invoke) -> None:
    # Given a push event
    event = push_event()
    pristine = copy.deepcopy(event)

    # When it is handled
    invoke(event)

    # Then the event is as it was (a retry in the same process sees the same event)
    assert event == pristine
