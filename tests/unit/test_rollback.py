"""Manual operations on a target, without AWS: rollback and history through the in-memory ports of
tests/fakes.py, the ECS adapter's stop of an in-progress deployment (botocore Stubber), and the config's
``create`` block (create-if-missing)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pushdeploy.adapters.ecs import EcsServices
from pushdeploy.domain.config import CreateService, create_service_request, parse_target_config
from pushdeploy.domain.errors import (
    AwsCallError,
    ConfigError,
    DeployError,
    InvalidEventError,
    ServiceNotDeployableError,
)
from pushdeploy.domain.ledger import Claim, PushRecord, TargetState
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.requests import HistoryRequest, RollbackRequest
from pushdeploy.domain.scope import OutOfScopeError
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.times import describe_time, parse_time
from pushdeploy.usecases.rollback import NothingToRollBackError, TargetOperations, rollback_destination
from tests.fakes import FakeConfigs, FakeEcs, FakePublisher, InMemoryLedger

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
SERVICE_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/api"
SERVICE_DEPLOYMENT_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/prod/api/Q2RlYzBkYjM"
NOW = parse_time("2026-11-20T10:30:00Z")
REQUEST_ID = "c0ffee00-0000-4000-8000-000000000001"
CONFIGS = {
    "/pushdeploy/api/prod": json.dumps({"cluster": "prod", "service": "api", "tags": ["v*"], "containers": ["api"]}),
    "/pushdeploy/api/staging": json.dumps({"cluster": "staging", "service": "api", "tags": ["staging-*"]}),
}


def revision(number: int, family: str = "api-prod") -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{number}"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def deploy_item(
    tag: str, number: int, status: str, *, minutes: int, trigger: str = "push", char: str | None = None
) -> HistoryItem:
    """A history item of prod as a deploy writes it, ``minutes`` after 10:00."""
    image_digest = digest(char or str(number))
    recorded_at = parse_time(f"2026-11-20T10:{minutes:02d}:00Z")
    return HistoryItem(
        repository="api",
        target="prod",
        tag=tag,
        digest=image_digest,
        image=f"{REGISTRY}/api@{image_digest}",
        trigger=trigger,
        status=status,
        cluster="prod",
        service="api",
        service_arn=SERVICE_ARN,
        task_definition_arn=revision(number),
        previous_task_definition_arn=revision(number - 1),
        deployment_id=f"ecs-svc/{number}000",
        event_id=f"event-{tag}-{minutes:02d}",
        pushed_at=recorded_at - 5,
        recorded_at=recorded_at,
        notification=json.dumps({"status": "DEPLOYING"}),
    )


@dataclass
class World:
    """TargetOperations wired to the in-memory ports, prod running ``running``."""

    ledger: InMemoryLedger
    ecs: FakeEcs
    publisher: FakePublisher
    operations: TargetOperations


def world(
    *history: HistoryItem,
    running: int = 3,
    rollout_in_progress: bool = False,
    in_progress: str | None = SERVICE_DEPLOYMENT_ARN,
    status: str = "ACTIVE",
    allowed_clusters: tuple[str, ...] = ("*",),
    publish_error: DeployError | None = None,
) -> World:
    ledger = InMemoryLedger()
    for item in history:
        ledger.add_history(item)
    service = ServiceState(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod",
        status=status,
        task_definition_arn=revision(running),
        rollout_in_progress=rollout_in_progress,
    )
    ecs = FakeEcs(service, in_progress=in_progress)
    publisher = FakePublisher(error=publish_error)
    operations = TargetOperations(
        configs=FakeConfigs(dict(CONFIGS)),
        ecs=ecs,
        publisher=publisher,
        ledger=ledger,
        allowed_clusters=allowed_clusters,
        clock=lambda: NOW,
    )
    return World(ledger, ecs, publisher, operations)


def rollback_request(*, dry_run: bool = False, target: str = "prod") -> RollbackRequest:
    return RollbackRequest("api", target, REQUEST_ID, dry_run)


V1 = deploy_item("v1.4.1", 2, "COMPLETED", minutes=0)
V2 = deploy_item("v1.4.2", 3, "COMPLETED", minutes=10)
V2_DEPLOYING = replace(V2, status="DEPLOYING")


# --- where a rollback goes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "current", "expected"),
    [
        pytest.param([V2, V1], revision(3), revision(2), id="the-completed-deploy-before-the-running-one"),
        pytest.param([V2_DEPLOYING, V1], revision(3), revision(2), id="running-one-still-deploying"),
        pytest.param(
            [V2, deploy_item("v1.4.2-rc", 4, "FAILED", minutes=5), V1],
            revision(3),
            revision(2),
            id="failed-deploys-are-skipped",
        ),
        pytest.param(
            [V2, deploy_item("v1.4.2-rc", 4, "ROLLED_BACK", minutes=5), V1],
            revision(3),
            revision(2),
            id="rolled-back-deploys-are-skipped",
        ),
        pytest.param(
            [V2, replace(V1, task_definition_arn=revision(3))],
            revision(3),
            None,
            id="an-earlier-deploy-of-the-same-revision-is-no-destination",
        ),
        pytest.param([V2, V1], revision(9), revision(3), id="running-revision-unknown-newest-completed"),
        pytest.param([V1], revision(2), None, id="only-the-running-deploy"),
        pytest.param([], revision(2), None, id="no-history"),
    ],
)
def test_rollback_destination_is_the_last_completed_deploy_before_the_running_one(
    history: list[HistoryItem], current: str, expected: str | None
) -> None:
    # Given a target's history, newest first, and the revision its service runs
    # When the rollback destination is chosen
    destination = rollback_destination(history, current)

    # Then it is the newest COMPLETED deploy older than the running one, on another revision (or none)
    assert (destination.task_definition_arn if destination else None) == expected


def test_a_second_rollback_does_not_go_back_to_the_revision_rolled_back_from() -> None:
    # Given prod was rolled back from v1.4.2 (revision 3) to v1.4.1 (revision 2), and the rollback completed
    rolled_back_to_v1 = replace(
        deploy_item("v1.4.1", 2, "COMPLETED", minutes=20, trigger="rollback"),
        previous_task_definition_arn=revision(3),
    )
    history = [rolled_back_to_v1, V2, V1]

    # When the destination of another rollback is chosen
    destination = rollback_destination(history, revision(2))

    # Then it is not v1.4.2's revision, which was rolled back from
    assert destination is None or destination.task_definition_arn != revision(3)


# --- rollback ----------------------------------------------------------------------------------------------


def test_rollback_updates_the_service_to_the_last_completed_revision_and_registers_nothing() -> None:
    # Given prod runs v1.4.2 (revision 3) after v1.4.1 (revision 2), both COMPLETED
    given = world(V1, V2)

    # When prod is rolled back
    result = given.operations.rollback(rollback_request())

    # Then the service is updated to revision 2, nothing else is changed in ECS
    assert given.ecs.calls == [("update", "prod", "api", revision(2), False)]
    assert result["status"] == "DEPLOYING"
    assert (result["taskDefinitionArn"], result["previousTaskDefinitionArn"]) == (revision(2), revision(3))
    assert result["deploymentId"] == "ecs-svc/9000000000000000001"
    assert result["rollback"] == {
        "from": revision(3),
        "to": revision(2),
        "fromTag": "v1.4.2",
        "toTag": "v1.4.1",
        "stopsDeploymentInProgress": False,
    }


def test_rollback_notification_says_it_is_a_rollback_from_what_to_what() -> None:
    # Given prod runs v1.4.2 after v1.4.1
    given = world(V1, V2)

    # When prod is rolled back
    given.operations.rollback(rollback_request())

    # Then one DEPLOYING notification, trigger rollback, names both revisions and tags
    [notification] = given.publisher.published
    message = notification.message
    assert notification.subject == "pushdeploy DEPLOYING (rollback): api:v1.4.1 to prod (prod/api)"
    assert (message["status"], message["trigger"]) == ("DEPLOYING", "rollback")
    assert message["reason"] == "rollback of prod from api-prod:3 (v1.4.2) to api-prod:2 (v1.4.1)"
    assert (message["tag"], message["digest"]) == ("v1.4.1", V1.digest)
    assert message["image"] == V1.image
    assert message["rollback"]["from"] == revision(3)
    assert message["rollback"]["to"] == revision(2)
    assert message["eventId"] == REQUEST_ID
    assert notification.attributes["trigger"] == "rollback"


def test_rollback_is_recorded_as_a_deploy_of_the_image_it_puts_back() -> None:
    # Given prod runs v1.4.2 after v1.4.1
    given = world(V1, V2)

    # When prod is rolled back
    given.operations.rollback(rollback_request())

    # Then the ledger says prod runs v1.4.1's image on revision 2, as of the rollback, with no claim left
    state = given.ledger.read_state("api", "prod")
    assert state.deployed is not None
    assert state.deployed.push == PushRecord(V1.digest, "v1.4.1", NOW, REQUEST_ID)
    assert state.deployed.task_definition_arn == revision(2)
    assert state.claim is None
    # And the history's newest item is the rollback, DEPLOYING, with the deployment it started
    newest = given.ledger.history_of("api", "prod")[0]
    assert (newest.trigger, newest.status, newest.tag) == ("rollback", "DEPLOYING", "v1.4.1")
    assert (newest.task_definition_arn, newest.previous_task_definition_arn) == (revision(2), revision(3))
    assert newest.deployment_id == "ecs-svc/9000000000000000001"
    assert newest.as_result()["time"] == describe_time(NOW)
    # And the tracker can find that deployment
    assert given.ledger.find_deployment("ecs-svc/9000000000000000001") is not None


def test_rollback_while_our_deployment_is_in_progress_stops_it_instead_of_updating() -> None:
    # Given v1.4.2 is still rolling out (ECS says so, and its deploy has no outcome yet) after v1.4.1 completed
    given = world(V1, V2_DEPLOYING, rollout_in_progress=True)

    # When prod is rolled back
    result = given.operations.rollback(rollback_request())

    # Then the deployment in progress is stopped with rollback, and the service is not updated
    assert given.ecs.calls == [("stop", "prod", "api")]
    assert result["stopped"] == SERVICE_DEPLOYMENT_ARN
    assert result["rollback"]["stopsDeploymentInProgress"] is True
    assert result["status"] == "ROLLING_BACK"
    # And the notification says what was stopped, and where ECS goes back to
    [notification] = given.publisher.published
    assert notification.message["stopped"] == SERVICE_DEPLOYMENT_ARN
    assert notification.message["rollback"]["to"] == revision(2)
    assert given.ledger.read_state("api", "prod").claim is None


def test_rollback_of_a_first_deploy_in_progress_stops_it_and_says_so() -> None:
    # Given pushdeploy's first deploy of prod (v1.4.2) is rolling out: there is nothing completed before it
    given = world(V2_DEPLOYING, rollout_in_progress=True)

    # When prod is rolled back
    result = given.operations.rollback(rollback_request())

    # Then the deployment is stopped with rollback (ECS puts back what ran before) and the result says so
    assert given.ecs.calls == [("stop", "prod", "api")]
    assert (result["status"], result["stopped"]) == ("ROLLING_BACK", SERVICE_DEPLOYMENT_ARN)
    assert result["rollback"] == {
        "from": revision(3),
        "to": None,
        "fromTag": "v1.4.2",
        "toTag": None,
        "stopsDeploymentInProgress": True,
    }
    # And the team is told what was stopped; the claim is given back and nothing new is recorded
    [notification] = given.publisher.published
    assert notification.message["stopped"] == SERVICE_DEPLOYMENT_ARN
    assert "stopped the deployment of v1.4.2 in progress" in notification.message["reason"]
    assert given.ledger.read_state("api", "prod").claim is None
    assert len(given.ledger.history_of("api", "prod")) == 1


def test_rollback_while_someone_elses_deployment_rolls_out_updates_the_service() -> None:
    # Given ECS rolls out a deployment, but pushdeploy's latest deploy already completed (not ours)
    given = world(V1, V2, rollout_in_progress=True)

    # When prod is rolled back
    given.operations.rollback(rollback_request())

    # Then nothing is stopped: the service is updated to the destination
    assert given.ecs.calls == [("update", "prod", "api", revision(2), False)]


def test_rollback_when_the_deployment_finished_before_it_could_be_stopped_updates_the_service() -> None:
    # Given v1.4.2 looked in progress, but ListServiceDeployments finds nothing to stop any more
    given = world(V1, V2_DEPLOYING, rollout_in_progress=True, in_progress=None)

    # When prod is rolled back
    result = given.operations.rollback(rollback_request())

    # Then the service is updated to the destination instead
    assert given.ecs.calls == [("stop", "prod", "api"), ("update", "prod", "api", revision(2), False)]
    assert result["status"] == "DEPLOYING"
    assert "stopped" not in result


def test_rollback_that_finds_nothing_to_stop_and_nowhere_to_go_does_not_claim_to_roll_back() -> None:
    # Given pushdeploy's first deploy looked in progress, but it finished before it could be stopped
    given = world(V2_DEPLOYING, rollout_in_progress=True, in_progress=None)

    # When prod is rolled back
    try:
        result = given.operations.rollback(rollback_request())
    except NothingToRollBackError:
        return

    # Then the result does not say a rollback is under way
    assert result["status"] != "ROLLING_BACK", result


@pytest.mark.parametrize(
    ("history", "running"),
    [
        pytest.param((), 1, id="never-deployed"),
        pytest.param((V1,), 2, id="only-the-running-deploy"),
        pytest.param((deploy_item("v1.4.1", 2, "FAILED", minutes=0), V2), 3, id="only-a-failed-deploy-before"),
    ],
)
def test_rollback_with_nothing_completed_before_is_refused(history: tuple[HistoryItem, ...], running: int) -> None:
    # Given prod has no COMPLETED deploy before the one it runs
    given = world(*history, running=running)

    # When prod is rolled back
    with pytest.raises(NothingToRollBackError) as caught:
        given.operations.rollback(rollback_request())

    # Then it is refused naming the running revision; nothing is changed, claimed or announced
    assert str(caught.value) == (
        f"target prod has no COMPLETED deploy before the one running (api-prod:{running}) to roll back to"
    )
    assert caught.value.retryable is False
    assert given.ecs.calls == []
    assert given.publisher.published == []
    assert given.ledger.read_state("api", "prod") == TargetState()


@pytest.mark.parametrize(
    ("rollout_in_progress", "history", "stops"),
    [pytest.param(False, (V1, V2), False, id="completed"), pytest.param(True, (V1, V2_DEPLOYING), True, id="rolling")],
)
def test_rollback_dry_run_returns_the_plan_and_changes_nothing(
    rollout_in_progress: bool, history: tuple[HistoryItem, ...], stops: bool
) -> None:
    # Given prod runs v1.4.2 after v1.4.1
    given = world(*history, rollout_in_progress=rollout_in_progress)

    # When a dry run of the rollback is asked for
    result = given.operations.rollback(rollback_request(dry_run=True))

    # Then the plan comes back; nothing is stopped, updated, claimed, recorded or announced
    assert result == {
        "status": "PLANNED",
        "dryRun": True,
        "target": "prod",
        "rollback": {
            "from": revision(3),
            "to": revision(2),
            "fromTag": "v1.4.2",
            "toTag": "v1.4.1",
            "stopsDeploymentInProgress": stops,
        },
    }
    assert given.ecs.calls == []
    assert given.publisher.published == []
    assert given.ledger.read_state("api", "prod") == TargetState()
    assert len(given.ledger.history_of("api", "prod")) == 2


def test_rollback_while_a_deploy_holds_the_target_is_refused() -> None:
    # Given a deploy of prod is in flight (it holds the target's claim)
    given = world(V1, V2)
    push = PushRecord(digest("9"), "v1.4.3", NOW - 10, "another-event")
    given.ledger.claim("api", "prod", Claim("deploy-token", push, NOW + 300), NOW - 10)

    # When prod is rolled back
    with pytest.raises(DeployError) as caught:
        given.operations.rollback(rollback_request())

    # Then it is refused, saying to retry after the deploy; ECS is untouched and the deploy keeps its claim
    assert str(caught.value) == "target prod is being deployed right now; retry the rollback after it"
    assert given.ecs.calls == []
    claim = given.ledger.read_state("api", "prod").claim
    assert claim is not None
    assert claim.token == "deploy-token"


def test_a_failed_service_update_gives_the_claim_back_and_announces_nothing() -> None:
    # Given ECS throttles UpdateService
    given = world(V1, V2)
    given.ecs.fail_next("update_service", AwsCallError("ecs:UpdateService", "ThrottlingException", "Rate exceeded"))

    # When prod is rolled back
    with pytest.raises(AwsCallError):
        given.operations.rollback(rollback_request())

    # Then the claim is given back (a retry can run), nothing is recorded or announced
    assert given.ledger.read_state("api", "prod") == TargetState()
    assert given.publisher.published == []
    assert len(given.ledger.history_of("api", "prod")) == 2


def test_a_lost_rollback_notification_still_records_the_rollback_and_frees_the_target() -> None:
    # Given SNS fails
    given = world(V1, V2, publish_error=AwsCallError("sns:Publish", "InternalError", "try again"))

    # When prod is rolled back
    with contextlib.suppress(DeployError):
        given.operations.rollback(rollback_request())

    # Then the service was updated, and the ledger knows it: the rollback is recorded and the target is free
    assert given.ecs.calls == [("update", "prod", "api", revision(2), False)]
    state = given.ledger.read_state("api", "prod")
    assert state.claim is None
    assert given.ledger.history_of("api", "prod")[0].trigger == "rollback"


def test_rollback_of_an_unknown_target_lists_the_targets() -> None:
    # Given the repository has targets prod and staging
    given = world(V1, V2)

    # When a rollback names qa
    with pytest.raises(InvalidEventError) as caught:
        given.operations.rollback(rollback_request(target="qa"))

    # Then it is refused listing them
    assert str(caught.value) == "repository api has no target named qa (its targets: prod, staging)"


def test_rollback_on_a_cluster_out_of_scope_is_refused() -> None:
    # Given this installation may deploy to staging-* clusters only
    given = world(V1, V2, allowed_clusters=("staging*",))

    # When prod is rolled back
    # Then it is refused, and ECS is untouched
    with pytest.raises(OutOfScopeError, match="cluster prod is outside what this pushdeploy may deploy to"):
        given.operations.rollback(rollback_request())
    assert given.ecs.calls == []


def test_rollback_of_an_inactive_service_is_refused() -> None:
    # Given prod's service was deleted
    given = world(V1, V2, status="INACTIVE")

    # When prod is rolled back
    # Then it is refused saying the service is not ACTIVE
    with pytest.raises(ServiceNotDeployableError, match="is INACTIVE, not ACTIVE"):
        given.operations.rollback(rollback_request())
    assert given.ecs.calls == []
    assert given.ledger.read_state("api", "prod") == TargetState()


# --- history ---------------------------------------------------------------------------------------------


def test_history_returns_the_newest_deploys_first_without_their_notification() -> None:
    # Given three deploys of prod
    v3 = deploy_item("v1.4.3", 4, "DEPLOYING", minutes=20)
    given = world(V1, V2, v3)

    # When two are asked for
    result = given.operations.history(HistoryRequest("api", "prod", 2))

    # Then the two newest come back, newest first, without the stored notification
    assert result["repository"] == "api"
    assert result["target"] == "prod"
    assert [deploy["tag"] for deploy in result["deploys"]] == ["v1.4.3", "v1.4.2"]
    assert all("notification" not in deploy for deploy in result["deploys"])
    assert given.ledger.history_limits == [2]


def test_history_of_an_unknown_target_lists_the_targets() -> None:
    # Given the repository has targets prod and staging
    given = world()

    # When the history of qa is asked for
    # Then it is refused listing them, without reading the ledger
    with pytest.raises(InvalidEventError, match=r"no target named qa \(its targets: prod, staging\)"):
        given.operations.history(HistoryRequest("api", "qa"))
    assert given.ledger.history_limits == []


# --- the ECS adapter's stop of a deployment in progress -------------------------------------------------


@pytest.fixture
def ecs_client() -> Any:
    return boto3.client("ecs", region_name="us-east-1")


def test_stop_finds_the_deployment_in_progress_and_stops_it_with_rollback(ecs_client: Any) -> None:
    # Given ECS lists one deployment in progress for the service
    with Stubber(ecs_client) as stubber:
        stubber.add_response(
            "list_service_deployments",
            {"serviceDeployments": [{"serviceDeploymentArn": SERVICE_DEPLOYMENT_ARN, "status": "IN_PROGRESS"}]},
            {"cluster": "prod", "service": "api", "status": ["IN_PROGRESS", "PENDING"]},
        )
        stubber.add_response(
            "stop_service_deployment",
            {"serviceDeploymentArn": SERVICE_DEPLOYMENT_ARN},
            {"serviceDeploymentArn": SERVICE_DEPLOYMENT_ARN, "stopType": "ROLLBACK"},
        )

        # When the adapter stops the deployment in progress
        stopped = EcsServices(ecs_client).stop_deployment_in_progress("prod", "api")

        # Then it stopped that one, with ROLLBACK, and says which
        stubber.assert_no_pending_responses()
    assert stopped == SERVICE_DEPLOYMENT_ARN


def test_stop_with_no_deployment_in_progress_stops_nothing(ecs_client: Any) -> None:
    # Given ECS lists no deployment in progress
    with Stubber(ecs_client) as stubber:
        stubber.add_response(
            "list_service_deployments",
            {"serviceDeployments": []},
            {"cluster": "prod", "service": "api", "status": ["IN_PROGRESS", "PENDING"]},
        )

        # When the adapter stops the deployment in progress
        stopped = EcsServices(ecs_client).stop_deployment_in_progress("prod", "api")

        # Then StopServiceDeployment is not called (the Stubber would refuse it) and nothing is returned
        stubber.assert_no_pending_responses()
    assert stopped is None


def test_a_refused_stop_is_an_aws_call_error(ecs_client: Any) -> None:
    # Given ECS refuses to stop the deployment
    with Stubber(ecs_client) as stubber:
        stubber.add_response(
            "list_service_deployments",
            {"serviceDeployments": [{"serviceDeploymentArn": SERVICE_DEPLOYMENT_ARN}]},
        )
        stubber.add_client_error(
            "stop_service_deployment", "ConflictException", "The service deployment is already stopping"
        )

        # When the adapter stops the deployment in progress
        # Then the error names the operation and ECS's code
        with pytest.raises(AwsCallError) as caught:
            EcsServices(ecs_client).stop_deployment_in_progress("prod", "api")
    assert str(caught.value).startswith("ecs:StopServiceDeployment failed: ConflictException")


# --- the create block (create-if-missing) ---------------------------------------------------------------

CREATE_PARAMETER = "/pushdeploy/api/preview"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0abc"], "securityGroups": ["sg-0abc"]}}


def config_with(create: Any) -> str:
    return json.dumps({"cluster": "staging", "service": "api-preview", "tags": ["staging-*"], "create": create})


def test_create_block_defaults_to_one_task_with_the_circuit_breaker_on() -> None:
    # Given a create block naming only the family
    # When the config is parsed
    config = parse_target_config(CREATE_PARAMETER, config_with({"taskDefinition": "api-staging"}))

    # Then it creates one task with the circuit breaker on
    assert config.create == CreateService(family="api-staging", desired_count=1, circuit_breaker=True)


def test_create_service_request_follows_the_block() -> None:
    # Given a full create block
    block = {
        "taskDefinition": "api-staging",
        "desiredCount": 2,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": NETWORK,
        "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "api", "containerPort": 8080}],
    }
    config = parse_target_config(CREATE_PARAMETER, config_with(block))

    # When the CreateService request is built on a registered revision
    request = create_service_request(config, revision(2, "api-staging"))

    # Then it creates the target's service on it, ECS-controlled, with the circuit breaker and rollback on
    assert request == {
        "cluster": "staging",
        "serviceName": "api-preview",
        "taskDefinition": revision(2, "api-staging"),
        "desiredCount": 2,
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        "propagateTags": "TASK_DEFINITION",
        "enableECSManagedTags": True,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": NETWORK,
        "loadBalancers": block["loadBalancers"],
    }


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        pytest.param("api-staging", "field 'create' must be an object, got a string", id="not-an-object"),
        pytest.param({}, "field 'create.taskDefinition' must name the task-definition family", id="no-family"),
        pytest.param(
            {"taskDefinition": "api:staging"},
            "field 'create.taskDefinition' must name the task-definition family",
            id="family-with-revision",
        ),
        pytest.param(
            {"taskDefinition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/api-staging:1"},
            "field 'create.taskDefinition' must name the task-definition family",
            id="family-as-arn",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "desiredCount": -1},
            "field 'create.desiredCount' must be a whole number 0-5000, got -1",
            id="negative-count",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "desiredCount": True},
            "field 'create.desiredCount' must be a whole number 0-5000, got true",
            id="boolean-count",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "desiredCount": 1.5},
            "field 'create.desiredCount' must be a whole number 0-5000, got 1.5",
            id="fractional-count",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "launchType": "LAMBDA"},
            "field 'create.launchType' must be one of FARGATE, EC2, EXTERNAL",
            id="bad-launch-type",
        ),
        pytest.param(
            {
                "taskDefinition": "api-staging",
                "launchType": "FARGATE",
                "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            },
            "'create' takes launchType or capacityProviderStrategy, not both",
            id="launch-type-and-capacity-providers",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "networkConfiguration": {"subnets": ["subnet-0abc"]}},
            "field 'create.networkConfiguration' must be {\"awsvpcConfiguration\"",
            id="network-without-awsvpc",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "networkConfiguration": {"awsvpcConfiguration": {"subnets": []}}},
            "field 'create.networkConfiguration.awsvpcConfiguration.subnets' is required",
            id="network-without-subnets",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "networkConfiguration": {"awsvpcConfiguration": {"subnets": "subnet-0"}}},
            "field 'create.networkConfiguration.awsvpcConfiguration.subnets' must be a list of ids",
            id="subnets-not-a-list",
        ),
        pytest.param(
            {
                "taskDefinition": "api-staging",
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0"], "assignPublicIp": "YES"}},
            },
            "field 'create...assignPublicIp' must be ENABLED or DISABLED",
            id="bad-public-ip",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "loadBalancers": [{"targetGroupArn": "arn:tg"}]},
            "field 'create.loadBalancers[0]' needs containerName and containerPort",
            id="load-balancer-without-container",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "circuitBreaker": "yes"},
            "field 'create.circuitBreaker' must be true or false",
            id="circuit-breaker-not-a-boolean",
        ),
        pytest.param(
            {"taskDefinition": "api-staging", "desiredcount": 2},
            "unknown field 'create.desiredcount' (did you mean 'desiredCount'?)",
            id="misspelt-field",
        ),
    ],
)
def test_a_bad_create_block_is_a_config_error_naming_the_field(block: Any, problem: str) -> None:
    # Given a target config whose create block breaks a rule
    # When it is parsed
    with pytest.raises(ConfigError) as caught:
        parse_target_config(CREATE_PARAMETER, config_with(block))

    # Then the error names the parameter and the field
    assert caught.value.parameter == CREATE_PARAMETER
    assert caught.value.problem.startswith(problem), caught.value.problem
