"""Manual operations from the Lambda console, in moto: history, rollback, dry run, and create-if-missing.

moto keeps one deployment id per service across UpdateService calls, so the tests complete each deploy
(by delivering the ECS event to the tracker) before the next one overwrites the id's pointer. History items
written in the same second are ordered by the millisecond; the tests that read an order still give their
events ids that sort in time order.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast
from unittest.mock import patch

import boto3
import pytest
from botocore.client import BaseClient

from pushdeploy import wiring
from pushdeploy.adapters.ledger import DynamoDbLedger
from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.ledger import DeployedRecord, PushRecord
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.times import describe_time
from pushdeploy.usecases.rollback import NothingToRollBackError
from tests.helpers import Inbox, LambdaContext, Received, load_event, load_function
from tools.sample_world import ACCOUNT, SECRET_VALUE, World, put_target_config

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
Track = Callable[[dict[str, Any]], dict[str, Any]]
Run = Callable[..., dict[str, Any]]
ApiCall = tuple[str, dict[str, Any]]

# Event ids that sort in the order the tests send them (history items of one second sort by event id).
FIRST, SECOND, THIRD, FOURTH = (f"{digit}0000000-0000-4000-8000-000000000000" for digit in "1234")
TASK_DEFINITION = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition"
SERVICE_DEPLOYMENT_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/prod/api/Q2RlYzBkYjM"
PREVIEW_PARAMETER = "/pushdeploy/api/preview"

# Refused requests end without a metric, and powertools warns that it has none to publish.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def run(world: World) -> Run:
    """The deploy function's handler, invoked under a chosen request id (a manual request's event id)."""
    app = load_function("deploy")

    def invoke(event: dict[str, Any], request_id: str = "") -> dict[str, Any]:
        result: dict[str, Any] = app.handler(event, LambdaContext(aws_request_id=request_id))
        return result

    return invoke


@pytest.fixture
def track(world: World) -> Iterator[Track]:
    """The tracker function's handler."""
    wiring.reset()
    app = load_function("track")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.handler(event, LambdaContext(function_name="pushdeploy-TrackFunction"))
        return result

    yield invoke
    wiring.reset()


# --- helpers ---------------------------------------------------------------------------------------------


def push_event(name: str, *, tag: str, digest: str, event_id: str, at: float) -> dict[str, Any]:
    """The push sample ``name`` with its tag, digest, id and time replaced."""
    event = copy.deepcopy(load_event(name))
    event["id"] = event_id
    event["time"] = describe_time(at)
    event["detail"]["image-tag"] = tag
    event["detail"]["image-digest"] = digest
    return event


def ecs_event(name: str, deployment_id: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event(name))
    event["detail"]["deploymentId"] = deployment_id
    event["resources"] = [event["resources"][0]]
    return event


def target(result: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [report for report in result["targets"] if report["target"] == name]
    assert len(found) == 1, f"target {name} not in {result['targets']}"
    return found[0]


def revisions(session: boto3.Session) -> list[str]:
    return list(session.client("ecs").list_task_definitions()["taskDefinitionArns"])


def service_task_definition(session: boto3.Session, cluster: str, service: str = "api") -> str:
    return session.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]


def table_items(session: boto3.Session, pk: str) -> list[dict[str, Any]]:
    """Every item of the deploy table under ``pk``, as DynamoDB holds it."""
    response = session.client("dynamodb").query(
        TableName=os.environ["TABLE_NAME"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return list(response["Items"])


def ledger(session: boto3.Session) -> DynamoDbLedger:
    return DynamoDbLedger(session.client("dynamodb"), os.environ["TABLE_NAME"])


def statuses(received: list[Received]) -> list[str]:
    return [item.message["status"] for item in received]


@contextmanager
def recorded_api_calls(
    fake: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
) -> Iterator[list[ApiCall]]:
    """Every AWS call made inside the block; those named in ``fake`` are answered by it instead of moto."""
    calls: list[ApiCall] = []
    original = vars(BaseClient)["_make_api_call"]  # not in botocore-stubs

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        if fake and operation in fake:
            return fake[operation](params)
        return original(client, operation, params)

    with patch.object(BaseClient, "_make_api_call", record):
        yield calls


def release(invoke: Invoke, track: Track, event: dict[str, Any], name: str, *, complete: bool = True) -> dict[str, Any]:
    """Deploy a push to target ``name`` and (unless told not to) deliver ECS's COMPLETED for it."""
    report = target(invoke(event), name)
    assert report["status"] == "DEPLOYING", report
    if complete:
        outcome = track(ecs_event("ecs-deployment-completed.json", report["deploymentId"]))
        assert outcome["status"] == "COMPLETED", outcome
    return report


def prod_push(world: World, tag: str, event_id: str, seconds_ago: float) -> dict[str, Any]:
    """A push of ``api:<tag>`` (ECR's digest) that matches only prod."""
    return push_event(
        "ecr-push-prod.json",
        tag=tag,
        digest=world.image_digests[tag],
        event_id=event_id,
        at=time.time() - seconds_ago,
    )


@pytest.fixture
def two_releases(world: World, inbox: Inbox, invoke: Invoke, track: Track) -> tuple[dict[str, Any], dict[str, Any]]:
    """prod got v1.4.1, then v1.4.2, both COMPLETED; the inbox has been read."""
    v1 = release(invoke, track, prod_push(world, "v1.4.1", FIRST, 600), "prod")
    v2 = release(invoke, track, prod_push(world, "v1.4.2", SECOND, 300), "prod")
    assert statuses(inbox.receive()) == ["DEPLOYING", "COMPLETED", "DEPLOYING", "COMPLETED"]
    return v1, v2


# --- history ---------------------------------------------------------------------------------------------


@pytest.fixture
def three_staging_deploys(world: World, inbox: Inbox, invoke: Invoke, track: Track) -> list[dict[str, Any]]:
    """staging got staging-41 (COMPLETED), staging-42 (FAILED), then staging-43 (still DEPLOYING)."""
    now = time.time()
    reports = []
    for index, (tag, digest, event_id, outcome) in enumerate(
        [
            ("staging-41", world.image_digests["staging-41"], FIRST, "ecs-deployment-completed.json"),
            ("staging-42", world.image_digests["staging-42"], SECOND, "ecs-deployment-failed.json"),
            ("staging-43", "sha256:" + "ab" * 32, THIRD, None),
        ]
    ):
        event = push_event("ecr-push.json", tag=tag, digest=digest, event_id=event_id, at=now - 300 + index * 60)
        report = target(invoke(event), "staging")
        assert report["status"] == "DEPLOYING", report
        if outcome is not None:
            track(ecs_event(outcome, report["deploymentId"]))
        reports.append(report)
    inbox.receive()
    return reports


def test_history_lists_a_targets_deploys_newest_first_with_their_outcome(
    run: Run, three_staging_deploys: list[dict[str, Any]]
) -> None:
    # Given three deploys of staging: COMPLETED, FAILED, and one still DEPLOYING
    # When its history is asked for
    result = run({"action": "history", "repository": "api", "target": "staging"})

    # Then they come newest first, each with its status, tag, revisions and trigger
    assert (result["repository"], result["target"]) == ("api", "staging")
    deploys = result["deploys"]
    assert [(d["tag"], d["status"]) for d in deploys] == [
        ("staging-43", "DEPLOYING"),
        ("staging-42", "FAILED"),
        ("staging-41", "COMPLETED"),
    ]
    assert [d["taskDefinitionArn"] for d in deploys] == [
        r["taskDefinitionArn"] for r in reversed(three_staging_deploys)
    ]
    assert [d["previousTaskDefinitionArn"] for d in deploys] == [
        f"{TASK_DEFINITION}/api-staging:3",
        f"{TASK_DEFINITION}/api-staging:2",
        f"{TASK_DEFINITION}/api-staging:1",
    ]
    assert {d["trigger"] for d in deploys} == {"push"}
    assert deploys[1]["reason"] == "ECS deployment circuit breaker: task failed to start."
    # And the stored notification is not part of the answer
    assert all("notification" not in d for d in deploys)


def test_history_respects_the_limit(run: Run, three_staging_deploys: list[dict[str, Any]]) -> None:
    # Given three deploys of staging
    # When the history is asked for with a limit of 2
    result = run({"action": "history", "repository": "api", "target": "staging", "limit": 2})

    # Then only the two newest come back
    assert [d["tag"] for d in result["deploys"]] == ["staging-43", "staging-42"]


def test_history_sample_of_a_target_never_deployed_is_empty(run: Run) -> None:
    # Given prod was never deployed by pushdeploy
    # When the sample history request (prod) is sent
    result = run(load_event("manual-history.json"))

    # Then the answer has no deploys
    assert result == {"repository": "api", "target": "prod", "deploys": []}


@pytest.mark.parametrize("action", ["history", "rollback"])
def test_history_or_rollback_of_an_unknown_target_lists_the_targets(run: Run, inbox: Inbox, action: str) -> None:
    # Given the repository has targets prod and staging
    # When a history or rollback names qa
    # Then it is refused, listing the targets there are
    with pytest.raises(InvalidEventError) as caught:
        run({"action": action, "repository": "api", "target": "qa"})
    assert str(caught.value) == "repository api has no target named qa (its targets: prod, staging)"
    assert inbox.receive() == []


def test_history_of_two_deploys_in_one_second_is_newest_first(session: boto3.Session, world: World) -> None:
    # Given two deploys of staging committed within the same second, the later one's event id sorting first
    deploys = ledger(session)
    now = time.time()
    for event_id, tag, at in (("f0000000-older", "staging-41", now), ("00000000-newer", "staging-42", now + 0.25)):
        push = PushRecord("sha256:" + "1" * 64, tag, at, event_id)
        deploys.commit(
            "api",
            "staging",
            "token",
            DeployedRecord(push, f"{TASK_DEFINITION}/api-staging:2", at),
            HistoryItem(
                repository="api",
                target="staging",
                tag=tag,
                digest=push.digest,
                image=f"api@{push.digest}",
                trigger="push",
                status="DEPLOYING",
                cluster="staging",
                service="api",
                task_definition_arn=f"{TASK_DEFINITION}/api-staging:2",
                previous_task_definition_arn=None,
                deployment_id=None,
                event_id=event_id,
                pushed_at=at,
                recorded_at=at,
            ),
        )

    # When the history is read
    history = deploys.history("api", "staging", 10)

    # Then the later deploy comes first
    assert [item.tag for item in history] == ["staging-42", "staging-41"]


# --- rollback --------------------------------------------------------------------------------------------


def test_rollback_puts_the_service_back_on_the_last_completed_revision_without_registering(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    run: Run,
    two_releases: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Given prod runs v1.4.2 (revision 3), after v1.4.1 (revision 2), both COMPLETED
    v1, v2 = two_releases
    assert service_task_definition(session, "prod") == v2["taskDefinitionArn"] == f"{TASK_DEFINITION}/api-prod:3"
    before = revisions(session)

    # When the sample rollback of prod is sent
    with recorded_api_calls() as calls:
        result = run(load_event("manual-rollback.json"), request_id=THIRD)

    # Then the service is updated to v1.4.1's revision; nothing is registered
    assert service_task_definition(session, "prod") == v1["taskDefinitionArn"]
    assert revisions(session) == before
    operations = [operation for operation, _ in calls]
    assert "RegisterTaskDefinition" not in operations
    assert [params for op, params in calls if op == "UpdateService"] == [
        {"cluster": "prod", "service": "api", "taskDefinition": v1["taskDefinitionArn"], "forceNewDeployment": False}
    ]
    plan = {
        "from": v2["taskDefinitionArn"],
        "to": v1["taskDefinitionArn"],
        "fromTag": "v1.4.2",
        "toTag": "v1.4.1",
        "stopsDeploymentInProgress": False,
    }
    assert result["status"] == "DEPLOYING"
    assert result["rollback"] == plan
    assert (result["taskDefinitionArn"], result["previousTaskDefinitionArn"]) == (plan["to"], plan["from"])
    # And the notification says it is a rollback, from what to what
    [received] = inbox.receive()
    message = received.message
    assert received.subject == "pushdeploy DEPLOYING (rollback): api:v1.4.1 to prod (prod/api)"
    assert (message["status"], message["trigger"], message["tag"]) == ("DEPLOYING", "rollback", "v1.4.1")
    assert message["reason"] == "rollback of prod from api-prod:3 (v1.4.2) to api-prod:2 (v1.4.1)"
    assert message["rollback"] == plan
    assert message["image"] == f"{world.repository_uri}@{world.image_digests['v1.4.1']}"
    assert received.attributes["trigger"] == "rollback"


def test_rollback_is_recorded_in_history_and_the_ledger(
    session: boto3.Session,
    world: World,
    run: Run,
    two_releases: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Given prod runs v1.4.2 after v1.4.1, both COMPLETED
    v1, v2 = two_releases

    # When prod is rolled back
    run(load_event("manual-rollback.json"), request_id=THIRD)

    # Then the history gains the rollback, newest first
    deploys = run(load_event("manual-history.json"))["deploys"]
    assert [(d["trigger"], d["tag"], d["status"]) for d in deploys] == [
        ("rollback", "v1.4.1", "DEPLOYING"),
        ("push", "v1.4.2", "COMPLETED"),
        ("push", "v1.4.1", "COMPLETED"),
    ]
    assert (deploys[0]["taskDefinitionArn"], deploys[0]["previousTaskDefinitionArn"]) == (
        v1["taskDefinitionArn"],
        v2["taskDefinitionArn"],
    )
    # And the ledger says prod runs v1.4.1's image on its revision, as of the rollback
    state = ledger(session).read_state("api", "prod")
    assert state.deployed is not None
    assert (state.deployed.push.digest, state.deployed.push.tag) == (world.image_digests["v1.4.1"], "v1.4.1")
    assert state.deployed.task_definition_arn == v1["taskDefinitionArn"]
    assert state.deployed.push.event_id == THIRD
    assert state.claim is None


def test_rollbacks_own_outcome_is_tracked(
    session: boto3.Session,
    inbox: Inbox,
    run: Run,
    track: Track,
    two_releases: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Given prod was rolled back to v1.4.1
    result = run(load_event("manual-rollback.json"), request_id=THIRD)
    inbox.receive()

    # When ECS completes the rollback's deployment
    outcome = track(ecs_event("ecs-deployment-completed.json", result["deploymentId"]))

    # Then the rollback is announced COMPLETED, as a rollback
    assert outcome["status"] == "COMPLETED"
    [received] = inbox.receive()
    assert received.subject == "pushdeploy COMPLETED (rollback): api:v1.4.1 to prod (prod/api)"
    assert run(load_event("manual-history.json"))["deploys"][0]["status"] == "COMPLETED"


def test_after_a_rollback_older_pushes_of_the_rolled_back_image_are_stale_and_newer_ones_deploy(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    run: Run,
    two_releases: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Given prod was rolled back from v1.4.2 to v1.4.1
    v1, v2 = two_releases
    run(load_event("manual-rollback.json"), request_id=THIRD)
    inbox.receive()
    v2_push = prod_push(world, "v1.4.2", SECOND, 300)

    # When v1.4.2's push event is delivered again (same id)
    redelivered = invoke(copy.deepcopy(v2_push))

    # Then the first run's result is returned (idempotency) and nothing is done: prod stays rolled back
    assert target(redelivered, "prod")["taskDefinitionArn"] == v2["taskDefinitionArn"]
    assert service_task_definition(session, "prod") == v1["taskDefinitionArn"]

    # When v1.4.2 arrives in another event pushed before the rollback
    repeat = invoke({**copy.deepcopy(v2_push), "id": FOURTH})

    # Then it is skipped as stale: the rollback is newer
    prod = target(repeat, "prod")
    assert (prod["status"], prod["code"]) == ("SKIPPED", "stale")
    assert prod["reason"].startswith("stale: tag v1.4.2 (pushed ")
    assert service_task_definition(session, "prod") == v1["taskDefinitionArn"]
    assert inbox.receive() == []

    # When v1.4.2 is pushed again after the rollback
    later = invoke(
        {
            **copy.deepcopy(v2_push),
            "id": "50000000-0000-4000-8000-000000000000",
            "time": describe_time(time.time() + 60),
        }
    )

    # Then it deploys: the newest push wins
    assert target(later, "prod")["status"] == "DEPLOYING"
    assert statuses(inbox.receive()) == ["DEPLOYING"]


@pytest.mark.parametrize("completed_before", [0, 1])
def test_rollback_with_no_completed_deploy_before_the_current_one_is_refused(
    session: boto3.Session,
    world: World,
    inbox: Inbox,
    invoke: Invoke,
    run: Run,
    track: Track,
    completed_before: int,
) -> None:
    # Given prod has no deploy of pushdeploy, or only the one it runs
    if completed_before:
        release(invoke, track, prod_push(world, "v1.4.1", FIRST, 600), "prod")
    running = service_task_definition(session, "prod")
    inbox.receive()

    # When prod is rolled back
    with pytest.raises(NothingToRollBackError) as caught:
        run(load_event("manual-rollback.json"))

    # Then it is refused, saying there is nothing to go back to; nothing changes or is announced
    revision = running.rsplit("/", 1)[-1]
    assert str(caught.value) == (
        f"target prod has no COMPLETED deploy before the one running ({revision}) to roll back to"
    )
    assert service_task_definition(session, "prod") == running
    assert inbox.receive() == []
    assert ledger(session).read_state("api", "prod").claim is None


def test_rollback_dry_run_plans_and_changes_nothing(
    session: boto3.Session,
    inbox: Inbox,
    run: Run,
    two_releases: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Given prod runs v1.4.2 after v1.4.1
    v1, v2 = two_releases
    state_before = table_items(session, "TARGET#api#prod")

    # When a dry run of the rollback is sent
    with recorded_api_calls() as calls:
        result = run({**load_event("manual-rollback.json"), "dryRun": True})

    # Then the plan says from what to what, and nothing is updated, recorded or announced
    assert result == {
        "status": "PLANNED",
        "dryRun": True,
        "target": "prod",
        "rollback": {
            "from": v2["taskDefinitionArn"],
            "to": v1["taskDefinitionArn"],
            "fromTag": "v1.4.2",
            "toTag": "v1.4.1",
            "stopsDeploymentInProgress": False,
        },
    }
    assert {operation for operation, _ in calls} <= {"GetParametersByPath", "DescribeServices", "Query"}
    assert service_task_definition(session, "prod") == v2["taskDefinitionArn"]
    assert table_items(session, "TARGET#api#prod") == state_before
    assert inbox.receive() == []


# A rollback while a deployment is in progress stops it (ListServiceDeployments, StopServiceDeployment): moto
# lacks both, so that path is tested on the local ECS, which has them
# (tests/e2e/test_local_ecs.py::test_the_console_rollback_stops_prods_deployment_in_progress).


# --- dry run ---------------------------------------------------------------------------------------------


def assert_untouched(session: boto3.Session, world: World, inbox: Inbox, before: list[str]) -> None:
    """Nothing registered, no service updated, nothing announced, no ledger record."""
    assert revisions(session) == before
    for cluster in ("staging", "prod"):
        assert service_task_definition(session, cluster) == world.task_definitions[cluster]
    assert inbox.receive() == []
    assert table_items(session, "TARGET#api#staging") == []
    assert table_items(session, "TARGET#api#prod") == []
    assert table_items(session, "IDEMPOTENCY") == []


def test_manual_dry_run_plans_the_full_diff_and_touches_nothing(
    session: boto3.Session, world: World, inbox: Inbox, run: Run
) -> None:
    # Given prod runs v1.4.1 on revision 1
    before = revisions(session)

    # When the sample dry run (v1.4.2 to prod) is sent
    result = run(load_event("manual-deploy-dry-run.json"))

    # Then prod is PLANNED with the diff: the image pinned by digest and the secret by name and ARN
    assert (result["status"], result["dryRun"]) == ("PLANNED", True)
    prod = target(result, "prod")
    image = f"{world.repository_uri}@{world.image_digests['v1.4.2']}"
    database_arn = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/api/prod/DATABASE_URL"
    assert prod["status"] == "PLANNED"
    assert prod["reason"] == "dry run: would register the revision below and update the service to it"
    assert prod["previousTaskDefinitionArn"] == world.task_definitions["prod"]
    assert prod["changes"] == [
        {"container": "api", "field": "image", "before": f"{world.repository_uri}:v1.4.1", "after": image},
        {"container": "api", "field": "secret", "name": "DATABASE_URL", "before": None, "after": database_arn},
    ]
    # And the task definition a real run would register
    planned = prod["taskDefinition"]
    assert planned["family"] == "api-prod"
    [api] = [c for c in planned["containerDefinitions"] if c["name"] == "api"]
    assert api["image"] == image
    assert {"name": "DATABASE_URL", "valueFrom": database_arn} in api["secrets"]
    assert {"key": "pushdeploy:image-tag", "value": "v1.4.2"} in planned["tags"]
    assert "taskDefinitionArn" not in planned
    assert SECRET_VALUE not in json.dumps(result)
    # And nothing was registered, updated, recorded or announced
    assert_untouched(session, world, inbox, before)


def test_push_dry_run_plans_each_target_and_touches_nothing(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging and prod on their first revisions
    before = revisions(session)

    # When a push copied from the logs is sent with "dryRun": true
    result = invoke(load_event("ecr-push-dry-run.json"))

    # Then staging is PLANNED with its diff (secrets by name and ARN, never a value) and prod is skipped
    assert (result["status"], result["dryRun"]) == ("PLANNED", True)
    staging = target(result, "staging")
    assert staging["status"] == "PLANNED"
    secrets = {c["name"]: c["after"] for c in staging["changes"] if c["field"] == "secret"}
    assert secrets == {
        name: f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/api/staging/{path}"
        for name, path in (
            ("DATABASE_URL", "DATABASE_URL"),
            ("STRIPE_KEY", "env/STRIPE_KEY"),
            ("SESSION_SECRET", "env/SESSION_SECRET"),
        )
    }
    assert staging["taskDefinition"]["family"] == "api-staging"
    assert any(NO_DETECTION in warning for warning in staging["warnings"])
    assert (target(result, "prod")["status"], target(result, "prod")["code"]) == ("SKIPPED", "no-match")
    assert SECRET_VALUE not in json.dumps(result)
    # And nothing was registered, updated, recorded or announced
    assert_untouched(session, world, inbox, before)


NO_DETECTION = "neither the deployment circuit breaker nor CloudWatch alarm rollback"


def test_a_dry_run_leaves_the_real_push_of_the_same_event_to_deploy(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a dry run of the push (same event id as the real one)
    invoke(load_event("ecr-push-dry-run.json"))

    # When the real push arrives
    result = invoke(load_event("ecr-push.json"))

    # Then it deploys: the dry run left no idempotency record behind
    assert target(result, "staging")["status"] == "DEPLOYING"
    assert statuses(inbox.receive()) == ["DEPLOYING"]


def test_a_dry_run_of_a_duplicate_push_says_so(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging-42 was pushed and deployed
    invoke(load_event("ecr-push.json"))
    before = revisions(session)
    inbox.receive()

    # When the same push is dry-run
    result = invoke(load_event("ecr-push-dry-run.json"))

    # Then staging is skipped as a duplicate, saying it is a dry run; nothing is done
    staging = target(result, "staging")
    assert (staging["status"], staging["code"]) == ("SKIPPED", "duplicate")
    assert "is already deployed (tag staging-42" in staging["reason"]
    assert staging["reason"].endswith("(dry run)")
    assert revisions(session) == before
    assert inbox.receive() == []


def test_a_dry_run_with_a_broken_target_config_publishes_nothing(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given staging's config is not valid JSON
    put_target_config(session, "api", "staging", "{not json")

    # When a push is dry-run
    result = invoke(load_event("ecr-push-dry-run.json"))

    # Then staging is reported FAILED in the result, and nothing is published
    assert target(result, "staging")["status"] == "FAILED"
    assert inbox.receive() == []


# --- create if missing -----------------------------------------------------------------------------------


def preview_config(world: World, *, create: bool = True) -> dict[str, Any]:
    """A target whose service api-preview (cluster staging) does not exist, with a create block."""
    config: dict[str, Any] = {"cluster": "staging", "service": "api-preview", "tags": ["staging-*"]}
    if create:
        config["create"] = {
            "taskDefinition": "api-staging",
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": [world.subnet_id], "securityGroups": [world.security_group_id]}
            },
        }
    return config


def preview_service(session: boto3.Session) -> dict[str, Any]:
    response = session.client("ecs").describe_services(cluster="staging", services=["api-preview"])
    [service] = response["services"]
    return cast(dict[str, Any], service)


def assert_created_on_the_pushed_image(
    session: boto3.Session, world: World, inbox: Inbox, result: dict[str, Any], calls: list[ApiCall]
) -> None:
    digest = load_event("ecr-push.json")["detail"]["image-digest"]
    preview = target(result, "preview")
    assert preview["status"] == "DEPLOYING"
    assert preview["created"] is True
    assert "previousTaskDefinitionArn" not in preview
    assert "warnings" not in preview  # created with the circuit breaker on
    # The service is ACTIVE on a new revision of api-staging with the pushed image pinned by digest
    service = preview_service(session)
    assert service["status"] == "ACTIVE"
    assert service["taskDefinition"] == preview["taskDefinitionArn"]
    assert service["taskDefinition"].startswith(f"{TASK_DEFINITION}/api-staging:")
    definition = session.client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])
    [api] = [c for c in definition["taskDefinition"]["containerDefinitions"] if c["name"] == "api"]
    assert api["image"] == f"{world.repository_uri}@{digest}"
    # Created as the block says, with the circuit breaker on
    [request] = [params for op, params in calls if op == "CreateService" and params["serviceName"] == "api-preview"]
    assert request["taskDefinition"] == preview["taskDefinitionArn"]
    assert request["desiredCount"] == 1
    assert request["launchType"] == "FARGATE"
    assert request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [world.subnet_id]
    assert request["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    # And the DEPLOYING notification says it was created
    [notification] = [r for r in inbox.receive() if r.message["target"] == "preview"]
    assert (notification.message["status"], notification.message["created"]) == ("DEPLOYING", True)


def test_a_push_creates_a_missing_service_from_the_create_block(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a target whose service does not exist, with a create block
    put_target_config(session, "api", "preview", preview_config(world))

    # When staging-42 is pushed
    with recorded_api_calls() as calls:
        result = invoke(load_event("ecr-push.json"))

    # Then the service is created on a revision with the pushed image, and the team is told
    assert_created_on_the_pushed_image(session, world, inbox, result, calls)


def test_a_push_recreates_an_inactive_service_from_the_create_block(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given api-preview existed and was deleted (INACTIVE; moto allows creating the name again)
    ecs = session.client("ecs")
    ecs.create_service(
        cluster="staging", serviceName="api-preview", taskDefinition=world.task_definitions["staging"], desiredCount=1
    )
    ecs.delete_service(cluster="staging", service="api-preview", force=True)
    assert preview_service(session)["status"] == "INACTIVE"
    put_target_config(session, "api", "preview", preview_config(world))

    # When staging-42 is pushed
    with recorded_api_calls() as calls:
        result = invoke(load_event("ecr-push.json"))

    # Then the service is created again, on the pushed image
    assert_created_on_the_pushed_image(session, world, inbox, result, calls)


def test_the_next_push_updates_the_created_service(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given api-preview was created by a push of staging-42
    put_target_config(session, "api", "preview", preview_config(world))
    created = target(invoke(load_event("ecr-push.json")), "preview")
    inbox.receive()

    # When a newer image is pushed
    event = push_event(
        "ecr-push.json", tag="staging-43", digest="sha256:" + "ab" * 32, event_id=SECOND, at=time.time() + 60
    )
    with recorded_api_calls() as calls:
        result = invoke(event)

    # Then the service is updated, not created again
    preview = target(result, "preview")
    assert preview["status"] == "DEPLOYING"
    assert "created" not in preview
    assert preview["previousTaskDefinitionArn"] == created["taskDefinitionArn"]
    assert [p["serviceName"] for op, p in calls if op == "CreateService"] == []
    assert preview_service(session)["taskDefinition"] == preview["taskDefinitionArn"]


def test_a_dry_run_plans_the_creation_and_creates_nothing(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a target whose service does not exist, with a create block
    put_target_config(session, "api", "preview", preview_config(world))
    before = revisions(session)

    # When a push is dry-run
    result = invoke(load_event("ecr-push-dry-run.json"))

    # Then the plan says the service would be created; nothing is
    preview = target(result, "preview")
    assert preview["status"] == "PLANNED"
    assert preview["reason"] == "dry run: would create service api-preview from task definition api-staging"
    assert session.client("ecs").describe_services(cluster="staging", services=["api-preview"])["services"] == []
    assert revisions(session) == before
    assert inbox.receive() == []


def test_without_a_create_block_a_missing_service_fails_as_before(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given a target whose service does not exist, without a create block
    put_target_config(session, "api", "preview", preview_config(world, create=False))
    before = revisions(session)

    # When staging-42 is pushed
    result = invoke(load_event("ecr-push.json"))

    # Then the target fails saying how to fix it; nothing is created or registered for it
    preview = target(result, "preview")
    assert preview["status"] == "FAILED"
    assert preview["reason"] == (
        "service api-preview not found in cluster staging; create it, add a 'create' block to the target, "
        "or fix the target's 'service'"
    )
    assert session.client("ecs").describe_services(cluster="staging", services=["api-preview"])["services"] == []
    # (staging itself deployed: one new revision, of its own family)
    assert [arn for arn in revisions(session) if arn not in before] == [f"{TASK_DEFINITION}/api-staging:2"]
    assert "FAILED" in statuses([r for r in inbox.receive() if r.message["target"] == "preview"])
