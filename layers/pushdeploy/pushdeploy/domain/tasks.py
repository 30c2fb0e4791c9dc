"""One-off tasks around a deploy: a target's ``beforeDeploy`` and ``afterDeploy`` lists (a schema migration, a
smoke test), checked, rendered into a RunTask request from the service's own settings, and judged by the
``ECS Task State Change`` event that ends them. Pure: no AWS library.

A beforeDeploy task runs the *new* revision (its code matches the image being deployed) after it is
registered and before the service is updated; the update happens only once every task stopped with exit code
0 in its container. A task's end arrives as an event; its timeout is a timer (``domain.timers``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote

from pushdeploy.domain.errors import ConfigError, json_type, quote, shorten

if TYPE_CHECKING:
    from pushdeploy.domain.ledger import Claim, TargetState
    from pushdeploy.domain.push import ImagePush

MAX_TASKS = 5  # per list: each one is a wait of up to its timeout before the traffic moves
MIN_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES = 1, 720
DEFAULT_TIMEOUT_MINUTES = 15
MAX_COMMAND_PARTS = 64
MAX_COMMAND_CHARACTERS = 8192  # all parts together: ECS's overrides are bounded (8 KiB of JSON)
# The claim a running task holds lasts this much past the task's timeout: the timer ends the task first; a
# lost timer (and a lost STOPPED event) still cannot keep the target claimed for ever.
TASK_LEASE_MARGIN_SECONDS = 600
STARTED_BY_PREFIX = "pushdeploy/"  # the stack's task-state rule matches this prefix only
STARTED_BY_LENGTH = 128  # RunTask: up to 128 letters, digits, hyphens, slashes, underscores
TASK_TIMEOUT_ACTION = "task-timeout"  # the timer event's action: {"action": ..., "repository", "target", "taskArn"}
TAG_PHASE = "pushdeploy:phase"
TAG_TARGET = "pushdeploy:target"
TAG_REPOSITORY = "pushdeploy:repository"
TAG_EVENT = "pushdeploy:event-id"
_CONTAINER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_STARTED_BY_UNSAFE = re.compile(r"[^A-Za-z0-9_/-]+")
_TASK_FIELDS = {"container", "command", "timeoutMinutes"}
_AFTER_FIELDS = {*_TASK_FIELDS, "rollbackOnFailure"}


class TaskPhase(StrEnum):
    """When a one-off task runs."""

    BEFORE = "beforeDeploy"  # after the new revision is registered, before the service update
    AFTER = "afterDeploy"  # once the deployment COMPLETED
    MANUAL = "run-task"  # asked for by hand, on the target's current revision


@dataclass(frozen=True)
class OneOffTask:
    """One task of a target's list: the command run in ``container`` of the revision, bounded in time."""

    container: str
    command: tuple[str, ...]
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    rollback_on_failure: bool = False  # afterDeploy only: a failure rolls the service back

    def describe(self) -> str:
        """``python manage.py migrate`` (bounded, for messages and plan steps)."""
        return shorten(" ".join(self.command), 200)


def parse_task_list(parameter: str, field: str, value: Any) -> tuple[OneOffTask, ...]:
    """The target config's ``beforeDeploy`` or ``afterDeploy`` list; ConfigError names the field."""
    if not isinstance(value, list):
        raise ConfigError(parameter, f"field '{field}' must be a list of tasks, got {json_type(value)}")
    if len(value) > MAX_TASKS:
        raise ConfigError(parameter, f"field '{field}' lists {len(value)} tasks; at most {MAX_TASKS}")
    allowed = _AFTER_FIELDS if field == TaskPhase.AFTER.value else _TASK_FIELDS
    return tuple(_parse_task(parameter, f"{field}[{index}]", item, allowed) for index, item in enumerate(value))


def _parse_task(parameter: str, field: str, item: Any, allowed: set[str]) -> OneOffTask:
    if not isinstance(item, dict):
        raise ConfigError(parameter, f"field '{field}' must be an object, got {json_type(item)}")
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ConfigError(
            parameter, f"unknown field '{field}.{shorten(unknown[0])}'; a task takes {', '.join(sorted(allowed))}"
        )
    container = item.get("container")
    if not isinstance(container, str) or not _CONTAINER_NAME.fullmatch(container):
        raise ConfigError(
            parameter, f"field '{field}.container' must name a container of the task definition, got {quote(container)}"
        )
    problem = check_command(item.get("command"))
    if problem is not None:
        raise ConfigError(parameter, f"field '{field}.command' {problem}")
    timeout = item.get("timeoutMinutes", DEFAULT_TIMEOUT_MINUTES)
    if (
        not isinstance(timeout, int)
        or isinstance(timeout, bool)
        or not MIN_TIMEOUT_MINUTES <= timeout <= MAX_TIMEOUT_MINUTES
    ):
        raise ConfigError(
            parameter,
            f"field '{field}.timeoutMinutes' must be a whole number of minutes from {MIN_TIMEOUT_MINUTES} to "
            f"{MAX_TIMEOUT_MINUTES}, got {quote(timeout)}",
        )
    rollback = item.get("rollbackOnFailure", False)
    if not isinstance(rollback, bool):
        raise ConfigError(parameter, f"field '{field}.rollbackOnFailure' must be true or false, got {quote(rollback)}")
    return OneOffTask(container, tuple(item["command"]), timeout, rollback)


def check_command(command: Any) -> str | None:
    """What is wrong with a task's command (None: nothing): a non-empty list of strings, bounded."""
    if not isinstance(command, list) or not command:
        got = "an empty list" if command == [] else json_type(command)
        return f'must be a non-empty list of strings such as ["python", "manage.py", "migrate"], got {got}'
    if len(command) > MAX_COMMAND_PARTS:
        return f"has {len(command)} parts; at most {MAX_COMMAND_PARTS}"
    if not all(isinstance(part, str) for part in command) or not command[0]:
        return "must hold strings only, the first one (the program) not empty"
    if sum(len(part) for part in command) > MAX_COMMAND_CHARACTERS:
        return f"is longer than {MAX_COMMAND_CHARACTERS} characters"
    return None


# -- checking the tasks against the revision and the service ----------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """How the service runs its tasks, which a one-off task reuses: launch type or capacity provider
    strategy, network configuration, platform version (as DescribeServices returns them)."""

    launch_type: str | None = None
    capacity_provider_strategy: tuple[Mapping[str, Any], ...] = ()
    network_configuration: Mapping[str, Any] | None = None
    platform_version: str | None = None

    @classmethod
    def from_service(cls, described: Mapping[str, Any]) -> RunSettings:
        """From a DescribeServices service."""
        return cls(
            launch_type=described.get("launchType") or None,
            capacity_provider_strategy=tuple(dict(item) for item in described.get("capacityProviderStrategy") or ()),
            network_configuration=dict(described["networkConfiguration"])
            if described.get("networkConfiguration")
            else None,
            platform_version=described.get("platformVersion") or None,
        )


def check_tasks(
    parameter: str,
    phase: TaskPhase,
    *,
    tasks: Sequence[OneOffTask],
    task_definition: Mapping[str, Any],
    run: RunSettings,
    service_name: str,
) -> None:
    """Raise ConfigError (naming the field) unless each task's container is in ``task_definition`` (a register
    request or a described revision) and the service's network configuration can be reused for it."""
    names = [str(container.get("name")) for container in task_definition.get("containerDefinitions", [])]
    for index, task in enumerate(tasks):
        if task.container not in names:
            raise ConfigError(
                parameter,
                f"field '{phase.value}[{index}].container': the task definition has no container "
                f"{quote(task.container)} (its containers: {', '.join(names) or 'none'})",
            )
    if tasks and task_definition.get("networkMode") == "awsvpc":
        awsvpc = (run.network_configuration or {}).get("awsvpcConfiguration") or {}
        if not awsvpc.get("subnets"):
            raise ConfigError(
                parameter,
                f"field '{phase.value}': service {service_name} has no awsvpc network configuration (subnets) that a "
                "task of its awsvpc task definition could reuse; give the service one or drop the tasks",
            )


# -- the RunTask request ----------------------------------------------------------------------------------


def started_by(target: str, tag: str) -> str:
    """RunTask's ``startedBy``: ``pushdeploy/<target>/<tag>`` in the characters ECS allows, at most 128."""
    return (STARTED_BY_PREFIX + _STARTED_BY_UNSAFE.sub("-", f"{target}/{tag}"))[:STARTED_BY_LENGTH]


def client_token(*parts: str) -> str:
    """RunTask's idempotency token: a retried invocation starting the same task gets the same task."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:64]


def run_task_request(
    *,
    cluster: str,
    task_definition_arn: str,
    task: OneOffTask,
    run: RunSettings,
    network_mode: str | None,
    push: ImagePush,
    target: str,
    phase: TaskPhase,
    token: str,
) -> dict[str, Any]:
    """The RunTask request of ``task`` on ``task_definition_arn``, launched as the service launches its tasks."""
    request: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": task_definition_arn,
        "count": 1,
        "overrides": {"containerOverrides": [{"name": task.container, "command": list(task.command)}]},
        "startedBy": started_by(target, push.tag),
        "tags": [
            {"key": TAG_REPOSITORY, "value": push.repository},
            {"key": TAG_TARGET, "value": target},
            {"key": "pushdeploy:image-tag", "value": push.tag[:256]},
            {"key": TAG_EVENT, "value": push.event_id[:256]},
            {"key": TAG_PHASE, "value": phase.value},
        ],
        "clientToken": token,
    }
    if run.capacity_provider_strategy:
        request["capacityProviderStrategy"] = [dict(item) for item in run.capacity_provider_strategy]
    elif run.launch_type:
        request["launchType"] = run.launch_type
    if network_mode == "awsvpc" and run.network_configuration:
        request["networkConfiguration"] = dict(run.network_configuration)
    if run.platform_version and (run.capacity_provider_strategy or run.launch_type == "FARGATE"):
        request["platformVersion"] = run.platform_version
    return request


def log_stream_link(task_definition: Mapping[str, Any], container: str, task_arn: str, region: str) -> str | None:
    """The CloudWatch Logs console link of the container's log stream (``<awslogs-stream-prefix>/<container>/
    <task id>``) when it logs with ``awslogs`` and a stream prefix; None otherwise."""
    definition = next((c for c in task_definition.get("containerDefinitions", []) if c.get("name") == container), None)
    logging = (definition or {}).get("logConfiguration") or {}
    options = logging.get("options") or {}
    group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
    if logging.get("logDriver") != "awslogs" or not group or not prefix:
        return None
    where = options.get("awslogs-region") or region
    stream = f"{prefix}/{container}/{task_arn.rsplit('/', 1)[-1]}"

    def console(text: str) -> str:  # the console's own encoding of a path part: '%' written as '$25'
        return url_quote(str(text), safe="").replace("%", "$25")

    return (
        f"https://{where}.console.aws.amazon.com/cloudwatch/home?region={where}#logsV2:log-groups/log-group/"
        f"{console(group)}/log-events/{console(stream)}"
    )


# -- a task in flight, as the ledger keeps it -------------------------------------------------------------


@dataclass(frozen=True)
class TaskRun:
    """The one-off task a target's claim is waiting for (or, between two tasks, the last one that ended)."""

    phase: TaskPhase
    index: int  # the task's place in its phase's list (0 for a manual one)
    done: int  # tasks of the phase that ended with exit code 0 (a resumed deploy skips them)
    task_arn: str | None  # None once it ended
    cluster: str
    container: str
    command: tuple[str, ...]
    task_definition_arn: str
    claim_token: str
    started_at: float
    timeout_at: float
    timer: str
    push: ImagePush
    timeout_minutes: int
    previous_task_definition_arn: str | None = None
    log_url: str | None = None
    deployment_id: str | None = None  # afterDeploy: the deployment that COMPLETED
    rollback_on_failure: bool = False
    ended_task_arn: str | None = None  # the task that ended last (a retry of its event finishes its deploy)

    def holds(self, claim: Claim | None, now: float) -> bool:
        """Whether the target's claim is this task's, unexpired, with the task still running."""
        return (
            self.task_arn is not None
            and claim is not None
            and claim.token == self.claim_token
            and claim.expires_at > now
        )

    def holds_ended(self, claim: Claim | None) -> bool:
        """Whether the target's claim is still this run's after its task ended (its deploy did not go on)."""
        return self.task_arn is None and claim is not None and claim.token == self.claim_token

    def task_fields(self) -> dict[str, Any]:
        """The ``task`` object of the notification."""
        fields: dict[str, Any] = {
            "phase": self.phase.value,
            "taskArn": self.task_arn or self.ended_task_arn,
            "container": self.container,
            "command": list(self.command),
            "timeoutMinutes": self.timeout_minutes,
        }
        if self.phase is not TaskPhase.MANUAL:
            fields["index"] = self.index
        if self.log_url:
            fields["logs"] = self.log_url
        return fields

    @property
    def label(self) -> str:
        """``beforeDeploy[0] (python manage.py migrate)``."""
        where = self.phase.value if self.phase is TaskPhase.MANUAL else f"{self.phase.value}[{self.index}]"
        return f"{where} ({shorten(' '.join(self.command), 120)})"


# -- how a task ended -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskStopped:
    """An ``ECS Task State Change`` with ``lastStatus: STOPPED`` of a task pushdeploy started."""

    task_arn: str
    cluster_arn: str
    containers: tuple[tuple[str, int | None], ...]  # (name, exitCode)
    stopped_reason: str
    stop_code: str
    started_by: str = ""

    def exit_code(self, container: str) -> int | None:
        """The exit code of ``container`` (None: it never ran to an exit, e.g. its image could not be pulled)."""
        return next((code for name, code in self.containers if name == container), None)


@dataclass(frozen=True)
class TaskTimeout:
    """The timer of a running task: past its timeout, it is stopped and reported FAILED."""

    repository: str
    target: str
    task_arn: str


@dataclass(frozen=True)
class RunTaskRequest:
    """A manual one-off task on the target's current revision (a migration or a data fix without a deploy)."""

    repository: str
    target: str
    command: tuple[str, ...]
    event_id: str
    container: str | None = None
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    requested_by: str | None = None
    dry_run: bool = False


def end_reason(run: TaskRun, stopped: TaskStopped) -> tuple[bool, str]:
    """Whether the task succeeded (exit code 0 in its container), and the words of its end."""
    code = stopped.exit_code(run.container)
    why = shorten(stopped.stopped_reason or "no reason given", 300)
    stop = f", stop code {stopped.stop_code}" if stopped.stop_code else ""
    if code == 0:
        return True, f"{run.label} exited with code 0"
    if code is None:
        return False, f"{run.label} ended without an exit code in container {run.container}: {why}{stop}"
    return False, f"{run.label} exited with code {code}: {why}{stop}"


def default_container(task_definition: Mapping[str, Any], repository_uri: str | None) -> str | None:
    """A manual task's container when the request names none: the first whose image comes from the
    repository, else the first essential one."""
    containers = list(task_definition.get("containerDefinitions", []))
    if repository_uri:
        for container in containers:
            image = str(container.get("image", ""))
            if image.startswith(repository_uri + ":") or image.startswith(repository_uri + "@"):
                return str(container.get("name"))
    essential = [c for c in containers if c.get("essential", True)]
    return str(essential[0]["name"]) if essential else None


@dataclass(frozen=True)
class DeploymentCompleted:
    """A deployment's COMPLETED event, as the deploy function reads it: a deploy of ours whose target has
    afterDeploy tasks runs them now."""

    deployment_id: str
    service_arn: str


def tasks_done(state: TargetState, push: ImagePush, claim_token: str) -> int:
    """How many of the target's beforeDeploy tasks ``push``'s deploy (holding ``claim_token``) ran already."""
    run = state.task
    if run is None or run.phase is not TaskPhase.BEFORE or run.claim_token != claim_token:
        return 0
    return run.done if run.push.event_id == push.event_id and run.push.digest == push.digest else 0
