"""The one-off task events the deploy function accepts (task_events): a task's STOPPED, its timeout timer, a
manual run-task, and a deployment's COMPLETED (afterDeploy); the samples are the files in events/."""

from __future__ import annotations

from typing import Any

import pytest

from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.tasks import DeploymentCompleted, RunTaskRequest, TaskStopped, TaskTimeout
from pushdeploy.domain.times import parse_time
from pushdeploy.events import IgnoredEvent, parse_deploy_event
from tests.helpers import load_event

ACCOUNT = "123456789012"
NOW = parse_time("2026-11-20T10:20:00Z")
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/staging/b99d40b3-5176-4f71-9a52-9dbd6f1cebef"


def parse(event: Any) -> Any:
    return parse_deploy_event(event, "request-1", trusted_account=ACCOUNT, now=NOW)


def test_a_stopped_task_of_pushdeploys_is_read_with_each_containers_exit_code() -> None:
    # Given the sample STOPPED event of a migration (api exited 1, the db sidecar was killed)
    # When it is parsed
    stopped = parse(load_event("ecs-task-stopped.json"))

    # Then it names the task, each container's exit code, the reason and the stop code
    assert isinstance(stopped, TaskStopped)
    assert stopped.task_arn == TASK_ARN
    assert (stopped.exit_code("api"), stopped.exit_code("db"), stopped.exit_code("other")) == (1, 137, None)
    assert (stopped.stopped_reason, stopped.stop_code) == (
        "Essential container in task exited",
        "EssentialContainerExited",
    )


@pytest.mark.parametrize(
    ("change", "why"), [({"startedBy": "ecs-svc/123"}, "did not start"), ({"lastStatus": "RUNNING"}, "not the end")]
)
def test_a_task_event_that_is_not_the_end_of_one_of_ours_is_ignored(change: dict[str, Any], why: str) -> None:
    # Given the sample with another starter, or an earlier status
    event = load_event("ecs-task-stopped.json")
    event["detail"] |= change

    # When it is parsed
    # Then it is ignored, saying why
    ignored = parse(event)
    assert isinstance(ignored, IgnoredEvent) and why in ignored.reason


def test_a_malformed_exit_code_is_refused_naming_the_field() -> None:
    # Given a STOPPED event whose exit code is a string
    event = load_event("ecs-task-stopped.json")
    event["detail"]["containers"][0]["exitCode"] = "1"

    # When it is parsed
    # Then it is refused, naming the field
    with pytest.raises(InvalidEventError, match=r"detail.containers\[0\].exitCode"):
        parse(event)


def test_the_timer_and_the_manual_run_task_are_read() -> None:
    # Given the samples of the timeout timer's event and a manual run-task
    # When they are parsed
    timeout = parse(load_event("task-timeout.json"))
    manual = parse(load_event("manual-run-task.json"))

    # Then each is its request
    assert timeout == TaskTimeout("api", "staging", TASK_ARN)
    assert manual == RunTaskRequest(
        "api", "staging", ("python", "manage.py", "seed_db"), "request-1", "api", 10, "alice@example.com"
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"command": []}, "'command' must be a non-empty list"),
        ({"command": "seed_db"}, "'command' must be a non-empty list"),
        ({"timeoutMinutes": 721}, "'timeoutMinutes' must be a whole number from 1 to 720"),
        ({"container": "a b"}, "field 'container'"),
        ({"tag": "v1"}, "unknown field(s) tag"),
    ],
)
def test_a_bad_run_task_is_refused_naming_the_field(change: dict[str, Any], named: str) -> None:
    # Given a manual run-task with a bad field
    # When it is parsed
    # Then it is refused, naming the field
    with pytest.raises(InvalidEventError) as raised:
        parse({**load_event("manual-run-task.json"), **change})
    assert named in str(raised.value)


def test_a_deployments_completed_reaches_the_deploy_function_for_after_deploy() -> None:
    # Given the sample COMPLETED event, and an IN_PROGRESS one
    completed = load_event("ecs-deployment-completed.json")
    in_progress = load_event("ecs-deployment-in-progress.json")
    for event in (completed, in_progress):
        event["time"] = event["detail"]["updatedAt"] = "2026-11-20T10:19:00Z"

    # When the deploy function parses them
    # Then COMPLETED asks for the target's afterDeploy tasks; anything else is not the deploy function's
    assert isinstance(parse(completed), DeploymentCompleted)
    assert isinstance(parse(in_progress), IgnoredEvent)
