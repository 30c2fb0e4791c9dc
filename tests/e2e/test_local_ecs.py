"""The local ECS in front of moto: deployment settings kept, deployments that roll on a driven clock,
service deployments and revisions, stop and continue, task events, and every transition's event delivered
through the stack's rules to the tracker, as ECS would send it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.readback import service
from tests.helpers import ROOT, Inbox, load_event
from tools.demo import EventStamps
from tools.localaws import Delivery, LocalAws, LocalStack
from tools.sample_world import World

pytestmark = pytest.mark.e2e


def said(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    """(eventName, deploymentId) of each ECS deployment event delivered."""
    return [
        (d.event["detail"]["eventName"], d.event["detail"]["deploymentId"])
        for d in deliveries
        if d.event["detail-type"] == "ECS Deployment State Change"
    ]


def tracker_statuses(deliveries: list[Delivery]) -> list[str]:
    return [str(i.result["status"]) for d in deliveries for i in d.invocations if i.function == "TrackFunction"]


def push_staging(local: LocalAws, stack: LocalStack, event: dict[str, Any] | None = None) -> dict[str, Any]:
    delivery = local.deliver(stack, event or load_event("ecr-push.json"))
    [invocation] = delivery.invocations
    assert invocation.error is None, invocation.error
    [report] = [r for r in invocation.result["targets"] if r["target"] == "staging"]
    return dict(report)


def new_service(session: boto3.Session, world: World, name: str, **settings: Any) -> dict[str, Any]:
    """A service in the staging cluster on staging's first revision, created with ``settings``."""
    created = session.client("ecs").create_service(
        cluster="staging",
        serviceName=name,
        taskDefinition=world.task_definitions["staging"],
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [world.subnet_id], "securityGroups": [world.security_group_id]}
        },
        **settings,
    )
    return dict(created["service"])


def test_a_push_rolls_a_deployment_that_settle_completes(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging steady on revision 1
    ecs = session.client("ecs")
    before = service(session, "staging")
    assert [(d["status"], d["rolloutState"]) for d in before["deployments"]] == [("PRIMARY", "COMPLETED")]
    event = load_event("ecr-push.json")

    # When staging-42 is pushed
    report = push_staging(local, stack, event)

    # Then the deployer's deployment id is the new PRIMARY, rolling out beside the old one (ACTIVE)
    rolling = service(session, "staging")
    assert [(d["status"], d["rolloutState"]) for d in rolling["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"),
        ("ACTIVE", "COMPLETED"),
    ]
    assert rolling["deployments"][0]["id"] == report["deploymentId"]
    assert rolling["deployments"][0]["taskDefinition"] == report["taskDefinitionArn"]
    # And it is a service deployment in progress whose target revision runs the pushed digest
    [listed] = ecs.list_service_deployments(cluster="staging", service="api", status=["IN_PROGRESS"])[
        "serviceDeployments"
    ]
    assert listed["serviceDeploymentArn"] == rolling["currentServiceDeployment"]
    [described] = ecs.describe_service_deployments(serviceDeploymentArns=[listed["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert (described["status"], described["lifecycleStage"]) == ("IN_PROGRESS", "SCALE_UP")
    [revision] = ecs.describe_service_revisions(serviceRevisionArns=[described["targetServiceRevision"]["arn"]])[
        "serviceRevisions"
    ]
    images = {image["containerName"]: image["imageDigest"] for image in revision["containerImages"]}
    assert images["api"] == event["detail"]["image-digest"]
    assert revision["taskDefinition"] == report["taskDefinitionArn"]
    inbox.receive()

    # When the local ECS settles the deployment
    deliveries = local.settle("staging", "api")

    # Then the tracker received IN_PROGRESS then COMPLETED of that deployment, and announced COMPLETED
    assert said(deliveries) == [
        ("SERVICE_DEPLOYMENT_IN_PROGRESS", report["deploymentId"]),
        ("SERVICE_DEPLOYMENT_COMPLETED", report["deploymentId"]),
    ]
    assert tracker_statuses(deliveries) == ["IGNORED", "COMPLETED"]
    assert all(d.event["resources"] == [rolling["serviceArn"]] for d in deliveries)
    [received] = inbox.receive()
    assert received.message["status"] == "COMPLETED"
    # And the service is steady on the new revision, its service deployment SUCCESSFUL
    steady = service(session, "staging")
    assert [(d["id"], d["rolloutState"]) for d in steady["deployments"]] == [(report["deploymentId"], "COMPLETED")]
    [done] = ecs.describe_service_deployments(serviceDeploymentArns=[listed["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert (done["status"], done["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")


def test_a_failed_deployment_is_rolled_back_by_the_circuit_breaker(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging (circuit breaker with rollback) rolling out staging-42
    first = service(session, "staging")["deployments"][0]["id"]
    report = push_staging(local, stack)
    inbox.receive()

    # When its tasks fail to start
    deliveries = local.settle("staging", "api", outcome="failed")

    # Then ECS's sequence: FAILED, a rollback deployment IN_PROGRESS going back to the first, its COMPLETED
    events = said(deliveries)
    assert [name for name, _ in events] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    rollback_id = events[2][1]
    assert [deployment_id for _, deployment_id in events] == [report["deploymentId"]] * 2 + [rollback_id] * 2
    reasons = [d.event["detail"]["reason"] for d in deliveries]
    assert reasons[1] == "ECS deployment circuit breaker: task failed to start."
    assert reasons[2] == f"ECS deployment circuit breaker: rolling back to deploymentId {first}."
    assert deliveries[1].event["detail"]["eventType"] == "ERROR"
    # And the tracker announced FAILED, then ROLLED_BACK
    assert tracker_statuses(deliveries) == ["IGNORED", "FAILED", "ROLLING_BACK", "ROLLED_BACK"]
    assert [r.message["status"] for r in inbox.receive()] == ["FAILED", "ROLLED_BACK"]
    # And the service runs its first revision again; the service deployment says it was rolled back
    back = service(session, "staging")
    assert back["taskDefinition"] == world.task_definitions["staging"]
    assert back["deployments"][0]["id"] == rollback_id
    [described] = session.client("ecs").describe_service_deployments(
        serviceDeploymentArns=[back["currentServiceDeployment"]]
    )["serviceDeployments"]
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert described["rollback"]["serviceRevisionArn"] == described["sourceServiceRevisions"][0]["arn"]
    assert described["deploymentCircuitBreaker"]["status"] == "TRIGGERED"


def test_deployment_settings_are_kept_and_invalid_ones_refused(session: boto3.Session, world: World) -> None:
    # Given a blue/green configuration with a bake time and a PAUSE hook
    configuration = {
        "strategy": "BLUE_GREEN",
        "bakeTimeInMinutes": 15,
        "lifecycleHooks": [
            {
                "targetType": "PAUSE",
                "lifecycleStages": ["POST_SCALE_UP"],
                "timeoutConfiguration": {"timeoutInMinutes": 30},
            }
        ],
    }

    # When a service is created with it
    created = new_service(session, world, "web", deploymentConfiguration=configuration)

    # Then DescribeServices returns it as given, with AWS's defaults for the rest
    kept = service(session, "staging", "web")
    assert kept["deploymentConfiguration"] == {
        **configuration,
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "alarms": {"alarmNames": [], "rollback": False, "enable": False},
    }
    assert kept["deploymentController"] == {"type": "ECS"}
    assert created["deploymentConfiguration"] == kept["deploymentConfiguration"]
    # And a linear configuration gets its defaults
    session.client("ecs").update_service(
        cluster="staging", service="web", deploymentConfiguration={"strategy": "LINEAR", "lifecycleHooks": []}
    )
    linear = service(session, "staging", "web")["deploymentConfiguration"]
    assert linear["linearConfiguration"] == {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}

    # When invalid settings are sent, Then ECS's InvalidParameterException names what is wrong
    refused = {
        "BLUE_GREEN without bakeTimeInMinutes": {"strategy": "BLUE_GREEN"},
        "an unknown strategy": {"strategy": "SIDEWAYS"},
        "a circuit breaker on BLUE_GREEN": {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 5,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
        "canary settings on LINEAR": {"strategy": "LINEAR", "canaryConfiguration": {"canaryPercent": 5.0}},
        "a step of 2 percent": {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}},
        "a PAUSE hook at PRODUCTION_TRAFFIC_SHIFT": {
            "strategy": "CANARY",
            "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}],
        },
    }
    messages = {}
    for case, invalid in refused.items():
        with pytest.raises(ClientError) as caught:
            new_service(session, world, "bad", deploymentConfiguration=invalid)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException", case
        messages[case] = caught.value.response["Error"]["Message"]
    assert "bakeTimeInMinutes is required" in messages["BLUE_GREEN without bakeTimeInMinutes"]
    assert "SIDEWAYS" in messages["an unknown strategy"]
    assert "stepPercent must be between 3 and 100" in messages["a step of 2 percent"]
    # And none of them was created
    assert session.client("ecs").describe_services(cluster="staging", services=["bad"])["failures"][0]["reason"] == (
        "MISSING"
    )


def test_an_update_of_an_inactive_service_raises_service_not_active(session: boto3.Session, world: World) -> None:
    # Given the staging service deleted
    ecs = session.client("ecs")
    ecs.delete_service(cluster="staging", service="api", force=True)

    # When it is updated, Then ECS's ServiceNotActiveException
    with pytest.raises(ClientError) as caught:
        ecs.update_service(cluster="staging", service="api", forceNewDeployment=True)
    assert caught.value.response["Error"] == {"Code": "ServiceNotActiveException", "Message": "Service was not ACTIVE."}


def test_a_pause_hook_holds_the_deployment_until_continued(
    local: LocalAws, session: boto3.Session, world: World
) -> None:
    # Given a blue/green service whose deployments pause after scale-up, its first deployment done
    ecs = session.client("ecs")
    hook = {
        "targetType": "PAUSE",
        "lifecycleStages": ["POST_SCALE_UP"],
        "timeoutConfiguration": {"timeoutInMinutes": 30},
    }
    new_service(
        session,
        world,
        "web",
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10, "lifecycleHooks": [hook]},
    )
    deliveries = local.advance(60)
    [hook_event] = [d.event for d in deliveries if d.event["detail-type"] == "ECS Hook State Change"]
    arn = service(session, "staging", "web")["currentServiceDeployment"]
    paused = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]

    # Then the deployment waits at POST_SCALE_UP, its hook AWAITING_ACTION, and ECS said so
    assert paused["status"] == "IN_PROGRESS"
    assert paused["lifecycleStage"] == "POST_SCALE_UP"
    [detail] = paused["lifecycleHookDetails"]
    assert (detail["status"], detail["targetType"], detail["timeoutAction"]) == ("AWAITING_ACTION", "PAUSE", "ROLLBACK")
    assert hook_event["detail"]["eventName"] == "HOOK_AWAITING_ACTION"
    assert hook_event["detail"]["hookId"] == detail["hookId"]
    # And moving the clock on (short of the timeout) does not move it
    local.advance(600)
    assert (
        ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["lifecycleStage"]
        == "POST_SCALE_UP"
    )

    # When the hook is continued and the bake time passes
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"], action="CONTINUE")
    deliveries = local.advance(11 * 60)

    # Then the deployment went through traffic shift and bake, and completed
    assert [name for name, _ in said(deliveries)] == ["SERVICE_DEPLOYMENT_COMPLETED"]
    done = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert done["status"] == "SUCCESSFUL"
    assert done["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    # And a hook that is not waiting cannot be continued
    with pytest.raises(ClientError) as caught:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


def test_stop_service_deployment_rolls_back_once(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World
) -> None:
    # Given staging rolling out staging-42
    ecs = session.client("ecs")
    push_staging(local, stack)
    arn = service(session, "staging")["currentServiceDeployment"]

    # When the deployment is stopped with rollback, twice
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    with pytest.raises(ClientError) as caught:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")

    # Then the second is a ConflictException (already stopping), and the rollback runs its course
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    assert ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"] == (
        "ROLLBACK_REQUESTED"
    )
    deliveries = local.settle("staging", "api")
    assert [name for name, _ in said(deliveries)][-2:] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert "rolling back to deploymentId" in deliveries[-2].event["detail"]["reason"]
    assert ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"] == (
        "ROLLBACK_SUCCESSFUL"
    )
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]


def test_the_console_rollback_stops_prods_deployment_in_progress(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given prod deployed v1.4.1 (COMPLETED), then v1.4.2 rolling out
    deploy_function = stack.functions["DeployFunction"]
    first = local.invoke(deploy_function, {**load_event("manual-deploy-targets.json"), "tag": "v1.4.1"})
    assert first["status"] == "DEPLOYING", first
    local.settle("prod", "api")
    second = local.invoke(deploy_function, load_event("manual-deploy-targets.json"))
    assert second["status"] == "DEPLOYING", second
    rolling = service(session, "prod")["currentServiceDeployment"]
    inbox.receive()

    # When prod is rolled back from the console (ListServiceDeployments, StopServiceDeployment on the local ECS)
    result = local.invoke(deploy_function, load_event("manual-rollback.json"))

    # Then the deployment in progress was stopped with rollback
    assert result["status"] == "ROLLING_BACK", result
    assert result["stopped"] == rolling
    stopped = session.client("ecs").describe_service_deployments(serviceDeploymentArns=[rolling])
    assert stopped["serviceDeployments"][0]["status"] == "ROLLBACK_REQUESTED"
    # And once ECS has rolled it back, the tracker announces ROLLED_BACK
    deliveries = local.settle("prod", "api")
    assert tracker_statuses(deliveries)[-1] == "ROLLED_BACK"
    assert service(session, "prod")["taskDefinition"] == first["targets"][0]["taskDefinitionArn"]


def test_a_task_started_with_run_task_reports_its_states(local: LocalAws, session: boto3.Session, world: World) -> None:
    # Given a one-off migration task started with RunTask
    ecs = session.client("ecs")
    migrate = ecs.register_task_definition(
        family="api-migrate",
        containerDefinitions=[
            {"name": "migrate", "image": f"{world.repository_uri}:staging-42", "memory": 256, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    [task] = ecs.run_task(cluster="staging", taskDefinition=migrate, launchType="FARGATE")["tasks"]
    assert task["lastStatus"] == "PROVISIONING"

    # When it ends with exit code 3
    deliveries = local.deliver_ecs_events() + local.stop_task("staging", task["taskArn"], exit_code=3)

    # Then ECS Task State Change said PROVISIONING, RUNNING, STOPPED, with the exit code and the reason
    events = [d.event for d in deliveries if d.event["detail-type"] == "ECS Task State Change"]
    assert [e["detail"]["lastStatus"] for e in events] == ["PROVISIONING", "RUNNING", "STOPPED"]
    assert [e["detail"]["version"] for e in events] == [1, 2, 3]
    stopped = events[-1]["detail"]
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert {c["name"]: c["exitCode"] for c in stopped["containers"]} == {"migrate": 3}
    assert stopped["containers"][0]["imageDigest"] == world.image_digests["staging-42"]
    assert events[-1]["resources"] == [task["taskArn"]]
    # And DescribeTasks agrees
    [described] = ecs.describe_tasks(cluster="staging", tasks=[task["taskArn"]])["tasks"]
    assert (described["lastStatus"], described["stoppedReason"]) == ("STOPPED", "Essential container in task exited")


def test_the_settle_command_finishes_a_deployment_of_a_running_local_aws(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging rolling out staging-42 in this session's local AWS
    report = push_staging(local, stack)
    inbox.receive()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([".", "layers/pushdeploy"])}

    # When a person runs the settle command against it
    command = [sys.executable, "-m", "tools.localaws", "ecs", "settle", "--endpoint", local.endpoint]
    completed = subprocess.run(
        [*command, "--cluster", "staging", "--service", "api"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it printed the events as the tracker received them, and the team heard COMPLETED
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert f"SERVICE_DEPLOYMENT_COMPLETED {report['deploymentId']}" in completed.stdout
    assert '"status": "COMPLETED"' in completed.stdout
    assert [r.message["status"] for r in inbox.receive()] == ["COMPLETED"]
    # And settling again says there is nothing in progress
    again = subprocess.run(
        [*command, "--cluster", "staging", "--service", "api"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 2
    assert "has no deployment in progress" in again.stderr


def test_the_demos_events_are_stamped_on_one_clock(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given the demo's stamping of its sample events (the push's sample time is days old)
    assert local.ecs is not None
    stamps = EventStamps(local.ecs.clock)
    event = stamps.event("ecr-push.json")

    # When the push is delivered and the local ECS completes its deployment
    push_staging(local, stack, event)
    deliveries = local.settle("staging", "api")

    # Then the push and the outcome are stamped within a minute or two of each other
    pushed = datetime.fromisoformat(event["time"]).timestamp()
    completed = datetime.fromisoformat(deliveries[-1].event["detail"]["updatedAt"]).timestamp()
    assert 0 <= completed - pushed < 120
    # And the announced duration is that, not days
    outcome = [r.message for r in inbox.receive() if r.message["status"] == "COMPLETED"]
    assert len(outcome) == 1
    assert 0 <= outcome[0]["durationSeconds"] < 120
    # And a second delivery of the same file keeps its stamp (a duplicate is a duplicate)
    assert stamps.event("ecr-push.json")["time"] == event["time"]
