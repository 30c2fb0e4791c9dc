"""Typed views of the one-off task events the deploy function accepts (``domain.tasks``): the end of a task
pushdeploy started (``ECS Task State Change``, ``lastStatus: STOPPED``), its timeout timer, and a manual
``run-task`` request."""

from __future__ import annotations

import re
from typing import Any

from pushdeploy.domain.errors import InvalidEventError, json_type, quote, quote_list, shorten
from pushdeploy.domain.names import REPOSITORY, TARGET
from pushdeploy.domain.tasks import (
    DEFAULT_TIMEOUT_MINUTES,
    MAX_TIMEOUT_MINUTES,
    MIN_TIMEOUT_MINUTES,
    STARTED_BY_PREFIX,
    TASK_TIMEOUT_ACTION,
    RunTaskRequest,
    TaskStopped,
    TaskTimeout,
    check_command,
)

ECS_TASK_STATE_CHANGE = "ECS Task State Change"
RUN_TASK_ACTION = "run-task"
TASK_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task/[A-Za-z0-9_-]{1,255}/[A-Za-z0-9-]{1,64}")
CONTAINER = re.compile(r"[A-Za-z0-9_-]{1,255}")
_RUN_TASK_FIELDS = {"action", "repository", "target", "command", "container", "timeoutMinutes", "requestedBy"}


def parse_task_request(
    event: dict[str, Any], request_id: str, *, dry_run: bool
) -> TaskStopped | TaskTimeout | RunTaskRequest | str | None:
    """What ``event`` asks of one-off tasks; a string is why a task event is ignored; None: not a task event."""
    if event.get("source") == "aws.ecs" and event.get("detail-type") == ECS_TASK_STATE_CHANGE:
        return _task_stopped(event)
    action = event.get("action")
    if action == TASK_TIMEOUT_ACTION:
        unknown = sorted(set(event) - {"action", "repository", "target", "taskArn", "dryRun"})
        if unknown:
            raise InvalidEventError(f"{TASK_TIMEOUT_ACTION}: unknown field(s) {quote_list(unknown, render=shorten)}")
        return TaskTimeout(
            _check(event.get("repository"), REPOSITORY, "repository", "an ECR repository name"),
            _check(event.get("target"), TARGET, "target", "a target name"),
            _check(event.get("taskArn"), TASK_ARN, "taskArn", "an ECS task ARN"),
        )
    if action == RUN_TASK_ACTION:
        return _run_task(event, request_id, dry_run)
    return None


def _task_stopped(event: dict[str, Any]) -> TaskStopped | str:
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEventError("ECS Task State Change event has no 'detail' object")
    status = detail.get("lastStatus")
    started_by = detail.get("startedBy") or ""
    if not isinstance(started_by, str) or not started_by.startswith(STARTED_BY_PREFIX):
        return "a task pushdeploy did not start"
    if status != "STOPPED":
        return f"task status {shorten(str(status))} is not the end of the task"
    task_arn = _check(detail.get("taskArn"), TASK_ARN, "detail.taskArn", "an ECS task ARN")
    containers = detail.get("containers")
    if not isinstance(containers, list):
        raise InvalidEventError(f"field 'detail.containers' must be a list, got {json_type(containers)}")
    ended: list[tuple[str, int | None]] = []
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not isinstance(container.get("name"), str):
            raise InvalidEventError(f"field 'detail.containers[{index}]' must be an object with a 'name'")
        code = container.get("exitCode")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            raise InvalidEventError(f"field 'detail.containers[{index}].exitCode' must be a number, got {quote(code)}")
        ended.append((container["name"], code))
    return TaskStopped(
        task_arn=task_arn,
        cluster_arn=str(detail.get("clusterArn") or ""),
        containers=tuple(ended),
        stopped_reason=shorten(str(detail.get("stoppedReason") or ""), 500),
        stop_code=shorten(str(detail.get("stopCode") or ""), 100),
        started_by=started_by,
    )


def _run_task(event: dict[str, Any], request_id: str, dry_run: bool) -> RunTaskRequest:
    unknown = sorted(set(event) - _RUN_TASK_FIELDS - {"dryRun"})
    if unknown:
        raise InvalidEventError(
            f"manual run-task: unknown field(s) {quote_list(unknown, render=shorten)}; it takes repository, target, "
            "command and optional container, timeoutMinutes, requestedBy"
        )
    repository = _check(event.get("repository"), REPOSITORY, "repository", "an ECR repository name")
    target = _check(event.get("target"), TARGET, "target", "a target name")
    problem = check_command(event.get("command"))
    if problem is not None:
        raise InvalidEventError(f"manual run-task: 'command' {problem}")
    container = event.get("container")
    if container is not None:
        _check(container, CONTAINER, "container", "a container name of the target's task definition")
    timeout = event.get("timeoutMinutes", DEFAULT_TIMEOUT_MINUTES)
    if (
        not isinstance(timeout, int)
        or isinstance(timeout, bool)
        or not MIN_TIMEOUT_MINUTES <= timeout <= MAX_TIMEOUT_MINUTES
    ):
        raise InvalidEventError(
            f"manual run-task: 'timeoutMinutes' must be a whole number from {MIN_TIMEOUT_MINUTES} to "
            f"{MAX_TIMEOUT_MINUTES}, got {quote(timeout)}"
        )
    requested_by = event.get("requestedBy")
    if requested_by is not None and (not isinstance(requested_by, str) or not 0 < len(requested_by) <= 128):
        raise InvalidEventError("manual run-task: 'requestedBy' must be a name of at most 128 characters")
    return RunTaskRequest(
        repository=repository,
        target=target,
        command=tuple(event["command"]),
        event_id=request_id,
        container=container,
        timeout_minutes=timeout,
        requested_by=requested_by,
        dry_run=dry_run,
    )


def _check(value: Any, pattern: re.Pattern[str], field: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        got = "missing" if value is None or value == "" else quote(value)
        raise InvalidEventError(f"field '{field}' must be {expected}, got {got}")
    return value
