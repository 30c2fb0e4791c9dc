"""One-off tasks (domain.tasks): the target config's lists, the RunTask request rendered from the service, the
log stream link, how a task's end is judged, and the claim a running task holds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain.config import parse_target_config
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.ledger import CLAIM_LEASE_SECONDS, Claim, ClaimResult, PushRecord, TargetState
from pushdeploy.domain.plan import ClaimAction, decide_claim
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.tasks import (
    OneOffTask,
    RunSettings,
    TaskPhase,
    TaskRun,
    TaskStopped,
    check_tasks,
    end_reason,
    log_stream_link,
    run_task_request,
    started_by,
)

PARAMETER = "/pushdeploy/api/prod"
T0 = 1_795_000_000.0
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c4b5a6978"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}}
TASK_DEFINITION: dict[str, Any] = {
    "family": "api-prod",
    "networkMode": "awsvpc",
    "containerDefinitions": [
        {
            "name": "api",
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "a" * 64,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/api-prod",
                    "awslogs-region": "eu-west-1",
                    "awslogs-stream-prefix": "web",
                },
            },
        },
        {"name": "sidecar", "image": "envoy"},
    ],
}


def config(**fields: Any) -> str:
    return json.dumps({"cluster": "prod", "service": "api", "tags": ["v*"], **fields})


def push(tag: str = "v1.4.2", event_id: str = "event-1", pushed_at: float = T0) -> ImagePush:
    return ImagePush(
        "api",
        tag,
        "sha256:" + "a" * 64,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        Trigger.PUSH,
        event_id,
        pushed_at,
    )


# -- the config ------------------------------------------------------------------------------------------------


def test_the_task_lists_parse_into_tasks() -> None:
    # Given a target with a migration before and a smoke test after
    raw = config(
        beforeDeploy=[{"container": "api", "command": ["python", "manage.py", "migrate"], "timeoutMinutes": 15}],
        afterDeploy=[{"container": "api", "command": ["python", "manage.py", "smoke"], "rollbackOnFailure": True}],
    )

    # When it is parsed
    parsed = parse_target_config(PARAMETER, raw)

    # Then each list holds its task, with the default timeout where none is given
    assert parsed.before_deploy == (OneOffTask("api", ("python", "manage.py", "migrate"), 15),)
    assert parsed.after_deploy == (OneOffTask("api", ("python", "manage.py", "smoke"), 15, rollback_on_failure=True),)


@pytest.mark.parametrize(
    ("task", "named"),
    [
        ({"container": "api", "command": []}, "'beforeDeploy[0].command' must be a non-empty list"),
        ({"container": "api", "command": "migrate"}, "'beforeDeploy[0].command' must be a non-empty list"),
        ({"container": "api", "command": ["x"], "timeoutMinutes": 0}, "'beforeDeploy[0].timeoutMinutes' must be"),
        ({"container": "api", "command": ["x"], "timeoutMinutes": 721}, "from 1 to 720"),
        ({"container": "api", "command": ["x"], "timeoutMinutes": True}, "'beforeDeploy[0].timeoutMinutes'"),
        ({"command": ["x"]}, "'beforeDeploy[0].container' must name a container"),
        ({"container": "api", "command": ["x"], "rollbackOnFailure": True}, "unknown field 'beforeDeploy[0].rollback"),
    ],
)
def test_a_bad_task_is_refused_naming_the_field(task: dict[str, Any], named: str) -> None:
    # Given a beforeDeploy task that breaks a rule
    # When the config is parsed
    # Then it is refused, naming the field
    with pytest.raises(ConfigError, match=None) as raised:
        parse_target_config(PARAMETER, config(beforeDeploy=[task]))
    assert named in str(raised.value)


def test_a_task_the_revision_or_the_service_cannot_run_is_refused() -> None:
    # Given a task in a container the revision lacks, and a service without a network configuration
    missing = (OneOffTask("worker", ("x",)),)
    fine = (OneOffTask("api", ("x",)),)

    # When each is checked against the revision and the service
    # Then the container is named, and the network configuration the task cannot reuse
    with pytest.raises(ConfigError, match=r"'beforeDeploy\[0\].container'.*\"worker\".*api, sidecar"):
        check_tasks(
            PARAMETER,
            TaskPhase.BEFORE,
            tasks=missing,
            task_definition=TASK_DEFINITION,
            run=RunSettings(network_configuration=NETWORK),
            service_name="api",
        )
    with pytest.raises(ConfigError, match="no awsvpc network configuration"):
        check_tasks(
            PARAMETER,
            TaskPhase.BEFORE,
            tasks=fine,
            task_definition=TASK_DEFINITION,
            run=RunSettings(),
            service_name="api",
        )


# -- the request -----------------------------------------------------------------------------------------------


def test_the_run_task_request_reuses_the_services_launch_settings() -> None:
    # Given a Fargate service with a network configuration and a platform version
    run = RunSettings.from_service(
        {"launchType": "FARGATE", "networkConfiguration": NETWORK, "platformVersion": "1.4.0"}
    )

    # When the migration's request is rendered
    request = run_task_request(
        cluster="prod",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/api-prod:8",
        task=OneOffTask("api", ("python", "manage.py", "migrate")),
        run=run,
        network_mode="awsvpc",
        push=push(),
        target="prod",
        phase=TaskPhase.BEFORE,
        token="t" * 64,
    )

    # Then it runs the new revision with the command in its container, launched as the service is
    assert request["taskDefinition"].endswith("api-prod:8")
    assert request["overrides"] == {
        "containerOverrides": [{"name": "api", "command": ["python", "manage.py", "migrate"]}]
    }
    assert (request["launchType"], request["networkConfiguration"], request["platformVersion"]) == (
        "FARGATE",
        NETWORK,
        "1.4.0",
    )
    # ...started by pushdeploy (the rule's prefix), tagged with the push
    assert request["startedBy"] == "pushdeploy/prod/v1-4-2"
    assert {tag["key"]: tag["value"] for tag in request["tags"]}["pushdeploy:phase"] == "beforeDeploy"


def test_a_capacity_provider_strategy_is_sent_instead_of_a_launch_type() -> None:
    # Given a service on a capacity provider strategy
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    run = RunSettings.from_service({"capacityProviderStrategy": strategy, "networkConfiguration": NETWORK})

    # When a task's request is rendered
    request = run_task_request(
        cluster="prod",
        task_definition_arn="td",
        task=OneOffTask("api", ("x",)),
        run=run,
        network_mode="awsvpc",
        push=push(),
        target="prod",
        phase=TaskPhase.MANUAL,
        token="t",
    )

    # Then it carries the strategy and no launch type
    assert request["capacityProviderStrategy"] == strategy and "launchType" not in request


def test_started_by_stays_within_what_ecs_accepts() -> None:
    # Given a long target and tag with characters startedBy does not allow
    # When startedBy is made
    value = started_by("t" * 100, "release.2026.11" + "x" * 100)

    # Then it keeps the prefix, allowed characters only, at most 128
    assert value.startswith("pushdeploy/") and len(value) == 128 and "." not in value


def test_the_log_link_points_at_the_containers_stream() -> None:
    # Given the api container logging with awslogs under the prefix "web"
    # When its link is made for a task
    link = log_stream_link(TASK_DEFINITION, "api", TASK_ARN, "us-east-1")

    # Then it is the console's page of <prefix>/<container>/<task id> in the log's Region
    assert link == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Fecs$252Fapi-prod/log-events/web$252Fapi$252F0f1e2d3c4b5a6978"
    )
    # ...and a container without awslogs has none
    assert log_stream_link(TASK_DEFINITION, "sidecar", TASK_ARN, "us-east-1") is None


# -- the end of a task, and the claim it holds ----------------------------------------------------------------


def running(claim_token: str = "token", *, task_arn: str | None = TASK_ARN) -> TaskRun:
    return TaskRun(
        phase=TaskPhase.BEFORE,
        index=0,
        done=0,
        task_arn=task_arn,
        cluster="prod",
        container="api",
        command=("python", "manage.py", "migrate"),
        task_definition_arn="td:8",
        claim_token=claim_token,
        started_at=T0,
        timeout_at=T0 + 900,
        timer="timer",
        push=push(),
        timeout_minutes=15,
    )


def test_a_task_succeeds_only_with_exit_code_0_in_its_container() -> None:
    # Given a migration in the api container
    run = running()

    # When it stops: 0 in api (another container's code does not count), 1, or no exit code at all
    def end(api: int | None) -> tuple[bool, str]:
        return end_reason(
            run,
            TaskStopped(
                TASK_ARN,
                "prod",
                (("api", api), ("sidecar", 137)),
                "Essential container in task exited",
                "EssentialContainerExited",
            ),
        )

    # Then only 0 is a success; the others say why
    assert end(0)[0] is True
    assert end(1) == (
        False,
        "beforeDeploy[0] (python manage.py migrate) exited with code 1: Essential container in task exited, "
        "stop code EssentialContainerExited",
    )
    assert end(None)[0] is False and "without an exit code" in end(None)[1]


def test_a_push_arriving_while_a_task_holds_the_claim_is_queued_past_the_usual_lease() -> None:
    # Given a migration that holds the target's claim, its lease extended past its timeout
    holder = Claim("token", PushRecord("sha256:" + "a" * 64, "v1.4.2", T0, "event-1"), T0 + 900 + 600)
    state = TargetState(claim=holder, task=running())
    newer = PushRecord("sha256:" + "b" * 64, "v1.4.3", T0 + 60, "event-2")

    # When a newer push asks for the claim well after the usual lease would have lapsed
    decision = decide_claim(ClaimResult(False, state), newer, manual=False, now=T0 + CLAIM_LEASE_SECONDS + 300)

    # Then it is queued behind the task, not waited for, not taking the claim over
    assert decision.action is ClaimAction.QUEUE and decision.code == "queued"
    # ...and once the task has ended (no task ARN), it waits for the claim like any other push
    ended = TargetState(claim=holder, task=running(task_arn=None))
    assert decide_claim(ClaimResult(False, ended), newer, manual=False, now=T0 + 10).action is ClaimAction.WAIT


def test_one_off_tasks_are_refused_for_a_target_in_another_account() -> None:
    # Given a target in a workload account with a beforeDeploy migration
    document = {
        "cluster": "prod",
        "service": "api",
        "tags": ["v*"],
        "account": "222222222222",
        "beforeDeploy": [{"container": "api", "command": ["python", "manage.py", "migrate"]}],
    }

    # When its config is parsed
    with pytest.raises(ConfigError) as raised:
        parse_target_config("/pushdeploy/api/prod", json.dumps(document))

    # Then it fails naming the field and why: the tasks would run in the stack's own account
    assert "field 'beforeDeploy': one-off tasks run in the stack's own account and Region only" in str(raised.value)
