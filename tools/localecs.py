"""A local ECS that observes like ECS: a layer in front of moto's server that adds what a deployer looks at.

moto keeps clusters, task definitions, services and tasks; this layer answers, in botocore's shapes, what
moto lacks or gets wrong, and forwards every other request unchanged:

- ``deploymentConfiguration`` (percents, circuit breaker, alarms, ``strategy`` ROLLING | BLUE_GREEN | LINEAR |
  CANARY, bake times, linear/canary settings, lifecycle hooks) and ``deploymentController`` of CreateService
  and UpdateService are checked (InvalidParameterException, AWS's wording) and kept, and DescribeServices
  returns them with AWS's defaults filled in.
- A CreateService, or an UpdateService that changes the task definition, the network configuration or the
  platform version (or forces a new deployment), starts a service deployment: ``deployments`` PRIMARY/ACTIVE
  with ``rolloutState``, ``currentServiceDeployment``, a service revision with ``containerImages`` (digests),
  ListServiceDeployments / DescribeServiceDeployments / DescribeServiceRevisions, StopServiceDeployment
  (ROLLBACK, ABORT; ConflictException when it is already stopping) and ContinueServiceDeployment (a PAUSE
  hook awaiting action). UpdateService of a service that is not ACTIVE raises ServiceNotActiveException.
- Time is a clock the caller drives: a deployment goes through its strategy's lifecycle stages
  (PRE_SCALE_UP, SCALE_UP, ... BAKE_TIME, CLEAN_UP) only when the clock moves (``advance``, ``settle``); a
  PAUSE hook holds it at its stage until continued or timed out; ``settle(outcome="failed")`` runs the
  circuit breaker's (or the alarms') sequence: FAILED, then a rollback deployment IN_PROGRESS ("rolling back
  to deploymentId ..."), then its COMPLETED.
- Every transition emits what ECS emits: ``ECS Deployment State Change``, ``ECS Hook State Change``
  (HOOK_AWAITING_ACTION) and, for tasks started with RunTask, ``ECS Task State Change`` (PROVISIONING,
  RUNNING, STOPPED with the containers' exit codes and ``stoppedReason``). Events are queued; whoever runs
  the stack's rules takes them with ``take_events`` (tools.localaws.LocalAws delivers them to the handlers).

Not a scheduler: no placement, no containers; an AWS_LAMBDA hook succeeds without being invoked. State is
per account and Region as moto's; the layer reads moto back with the caller's access key id.

Python API (the benchmark and the tests use it through tools.localaws)::

    with LocalAws() as local:            # moto's server with this layer in front: local.endpoint is the layer
        stack = local.deploy()
        ...                              # a push: the deploy handler's UpdateService starts a deployment
        local.settle("staging", "api")   # finish it (continuing paused hooks); events reach the tracker
        local.settle("prod", "api", outcome="failed")     # circuit breaker: FAILED, rollback, COMPLETED
        local.stop_task("staging", task_arn, exit_code=0)  # end a task started with RunTask
        local.advance(60)                # move the clock one minute: stages and hook timeouts that fall due
        local.ecs.emitted                # every event emitted so far, in order

    with LocalEcs("http://127.0.0.1:PORT") as ecs:     # alone, in front of any moto server
        ecs.settle("staging", "api"); events = ecs.take_events()

Control requests (``python -m tools.localaws ecs settle|stop-task|advance`` sends them): POST
``/_localecs/settle`` ``{"cluster", "service", "outcome"}``, ``/_localecs/stop-task`` ``{"cluster", "task",
"exitCode", "reason"}``, ``/_localecs/advance`` ``{"seconds"}``; GET ``/_localecs/events``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import random
import re
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import boto3

from tools.faultproxy import ForwardingProxy, ProxyRequest, ProxyResponse, identify
from tools.localecr import ECR_TARGET, LocalEcrSignals

ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
CONTROL_PATH = "/_localecs/"
STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
CONTROLLERS = ("ECS", "CODE_DEPLOY", "EXTERNAL")
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# Seconds of the local clock a stage takes; bake stages take the configured minutes.
SCALE_SECONDS = 30.0
SHIFT_SECONDS = 5.0
CLEAN_UP_SECONDS = 10.0
TASK_START_SECONDS = 10.0
DEFAULT_HOOK_TIMEOUT_MINUTES = 60
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: task failed to start."
IN_PROGRESS_STATUSES = frozenset(
    {"PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED"}
)
STOPPING_STATUSES = frozenset({"STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})

Outcome = Literal["completed", "failed"]


def _tolerate_containers_without_memory() -> None:
    """moto 5.2.x's RunTask adds up its containers' memory and crashes on a container that sets none (valid:
    a Fargate task sets its memory at task level, as the sample world's do): such a container counts as 0.
    Applied once, to moto in this process (the local AWS runs moto's server in-process)."""
    from moto.ecs.models import EC2ContainerServiceBackend  # noqa: PLC0415 - moto's internals, only here

    calculate = EC2ContainerServiceBackend._calculate_task_resource_requirements
    if getattr(calculate, "tolerant", False):
        return

    def tolerant(task_definition: Any) -> dict[str, Any]:
        containers = task_definition.container_definitions
        missing = [c for c in containers if not any(c.get(k) for k in ("memory", "memoryReservation", "Memory"))]
        for container in missing:
            container["memoryReservation"] = 0
        try:
            return calculate(task_definition)
        finally:
            for container in missing:
                del container["memoryReservation"]

    tolerant.tolerant = True  # type: ignore[attr-defined]
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(tolerant)  # type: ignore[method-assign]


class EcsError(Exception):
    """An error ECS answers with: its ``__type`` code and message (HTTP 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _invalid(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


class Clock:
    """Wall time plus an offset the caller moves: event times stay comparable with events stamped now."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.offset = 0.0

    def now(self) -> float:
        return self._wall() + self.offset

    def advance_to(self, moment: float) -> None:
        """Move the clock forward to ``moment`` (never back)."""
        self.offset += max(0.0, moment - self.now())


def iso_time(epoch: float, *, millis: bool = True) -> str:
    """``2026-11-20T10:19:12.512Z`` (``detail.updatedAt``) or, without millis, ``2026-11-20T10:19:12Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if not millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _start_primary(
    service: Service, revision: ServiceRevision, deployment_id: str, now: float, *, reason: str
) -> Deployment:
    """A new PRIMARY deployment of ``revision`` (the one before becomes ACTIVE), as ECS starts one for an
    update or a rollback."""
    for old in service.deployments:
        if old.status == "PRIMARY":
            old.status = "ACTIVE"
    deployment = Deployment(
        id=deployment_id,
        task_definition=revision.task_definition,
        desired_count=service.desired_count,
        launch_type=service.launch_type,
        network_configuration=service.network_configuration,
        created_at=now,
        updated_at=now,
        revision_arn=revision.arn,
        rollout_state_reason=reason,
    )
    service.deployments.append(deployment)
    service.revision_arn = revision.arn
    return deployment


def _deployment_number() -> str:
    return str(random.randint(10**18, 10**19 - 1))  # noqa: S311 - an id, not a secret


def _service_deployment_suffix() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choices(alphabet, k=8)) + "-" + "".join(random.choices(alphabet + "_", k=12))  # noqa: S311


# -- state ------------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One stage of a deployment's plan: what it reports, the hook stage it runs, how long it takes."""

    stage: str
    hook_stage: str | None
    seconds: float
    production_weight: float | None = None


@dataclass
class HookRun:
    """One run of a lifecycle hook at one stage."""

    hook_id: str
    hook: dict[str, Any]
    stage: str
    status: str
    expires_at: float | None

    def detail(self) -> dict[str, Any]:
        timeout = self.hook.get("timeoutConfiguration") or {}
        described: dict[str, Any] = {
            "hookId": self.hook_id,
            "targetType": self.hook.get("targetType", "AWS_LAMBDA"),
            "status": self.status,
            "timeoutAction": timeout.get("action", "ROLLBACK"),
        }
        if self.hook.get("hookTargetArn"):
            described["targetArn"] = self.hook["hookTargetArn"]
        if self.expires_at is not None:
            described["expiresAt"] = self.expires_at
        return described


@dataclass
class Deployment:
    """An entry of DescribeServices' ``deployments``: one ``ecs-svc/<19 digits>`` id."""

    id: str
    task_definition: str
    desired_count: int
    launch_type: str | None
    network_configuration: dict[str, Any] | None
    created_at: float
    updated_at: float
    revision_arn: str
    status: str = "PRIMARY"  # PRIMARY | ACTIVE | INACTIVE
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    failed_tasks: int = 0

    def describe(self) -> dict[str, Any]:
        running = self.desired_count if self.rollout_state == "COMPLETED" else 0
        described: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired_count,
            "pendingCount": self.desired_count - running if self.rollout_state == "IN_PROGRESS" else 0,
            "runningCount": running,
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
        }
        if self.launch_type:
            described["launchType"] = self.launch_type
        if self.network_configuration:
            described["networkConfiguration"] = self.network_configuration
        return described


@dataclass
class ServiceDeployment:
    """A service deployment (ListServiceDeployments): the forward deployment, and its rollback if any."""

    arn: str
    service_arn: str
    cluster_arn: str
    created_at: float
    configuration: dict[str, Any]
    deployment: Deployment
    source_revisions: list[str]
    steps: list[Step]
    status: str = "IN_PROGRESS"
    status_reason: str = ""
    updated_at: float = 0.0
    finished_at: float | None = None
    stopped_at: float | None = None
    step_index: int = 0
    step_ends_at: float | None = None
    hooks: list[HookRun] = field(default_factory=list)
    paused: HookRun | None = None
    outcome: Outcome = "completed"
    rollback_deployment: Deployment | None = None
    rollback: dict[str, Any] | None = None
    failure_count: int = 0
    # The stage the forward deployment had reached when it failed or was rolled back: lifecycleStage keeps
    # reporting it while the rollback runs (this layer's reading of the API reference, which does not say).
    stage_reached: str | None = None

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS_STATUSES

    @property
    def active(self) -> Deployment:
        """The legacy deployment now moving: the rollback's once there is one."""
        return self.rollback_deployment or self.deployment

    def stage(self) -> str:
        if self.stage_reached is not None:
            return self.stage_reached
        if not self.in_progress:
            return "CLEAN_UP" if self.steps else "SCALE_UP"
        return self.steps[min(self.step_index, len(self.steps) - 1)].stage

    def describe(self, revisions: dict[str, ServiceRevision]) -> dict[str, Any]:
        configuration = self.configuration
        breaker = configuration.get("deploymentCircuitBreaker", {})
        alarms = configuration.get("alarms", {})
        described: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.created_at,
            "updatedAt": self.updated_at or self.created_at,
            "sourceServiceRevisions": [self._revision_summary(arn, source=True) for arn in self.source_revisions],
            "targetServiceRevision": self._revision_summary(self.deployment.revision_arn, source=False),
            "status": self.status,
            "lifecycleStage": self.stage(),
            "lifecycleHookDetails": [hook.detail() for hook in self.hooks],
            "deploymentConfiguration": copy.deepcopy(configuration),
            "deploymentCircuitBreaker": {
                "status": _monitor_status(bool(breaker.get("enable")), self, triggered=self.failure_count > 0),
                "failureCount": self.failure_count,
                "threshold": circuit_breaker_threshold(breaker, self.deployment.desired_count),
            },
            "alarms": {
                "status": _monitor_status(bool(alarms.get("enable")), self, triggered=False),
                "alarmNames": list(alarms.get("alarmNames", [])),
                "triggeredAlarmNames": [],
            },
        }
        if self.status_reason:
            described["statusReason"] = self.status_reason
        if self.finished_at is not None:
            described["finishedAt"] = self.finished_at
        if self.stopped_at is not None:
            described["stoppedAt"] = self.stopped_at
        if self.rollback is not None:
            described["rollback"] = dict(self.rollback)
        del revisions  # the summaries need only the counts kept here
        return described

    def brief(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "startedAt": self.created_at,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.deployment.revision_arn,
            "status": self.status,
        }
        if self.finished_at is not None:
            described["finishedAt"] = self.finished_at
        if self.status_reason:
            described["statusReason"] = self.status_reason
        return described

    def _revision_summary(self, arn: str, *, source: bool) -> dict[str, Any]:
        desired = self.deployment.desired_count
        done = not self.in_progress
        rolled_back = self.status.startswith("ROLLBACK")
        if source:
            requested = desired if (not done or rolled_back) else 0
            running = requested
        else:
            requested = desired if not rolled_back else 0
            running = desired if done and not rolled_back and self.status == "SUCCESSFUL" else 0
        summary: dict[str, Any] = {
            "arn": arn,
            "requestedTaskCount": requested,
            "runningTaskCount": running,
            "pendingTaskCount": max(0, requested - running),
        }
        weight = self._production_weight()
        if weight is not None:
            summary["requestedProductionTrafficWeight"] = (100.0 - weight) if source else weight
            summary["requestedTestTrafficWeight"] = 0.0 if source else 100.0
        return summary

    def _production_weight(self) -> float | None:
        if self.configuration.get("strategy", "ROLLING") == "ROLLING":
            return None
        if self.status == "SUCCESSFUL":
            return 100.0
        if not self.in_progress or self.status.startswith("ROLLBACK"):
            return 0.0
        weight = 0.0
        for step in self.steps[: self.step_index]:
            if step.production_weight is not None:
                weight = step.production_weight
        return weight


def _monitor_status(enabled: bool, deployment: ServiceDeployment, *, triggered: bool) -> str:
    if not enabled:
        return "DISABLED"
    if triggered:
        return "TRIGGERED"
    return "MONITORING" if deployment.in_progress else "MONITORING_COMPLETE"


@dataclass
class ServiceRevision:
    """A service revision (DescribeServiceRevisions)."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    launch_type: str | None
    platform_version: str | None
    network_configuration: dict[str, Any] | None
    container_images: list[dict[str, str]]
    created_at: float

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "loadBalancers": [],
            "serviceRegistries": [],
            "containerImages": [dict(image) for image in self.container_images],
            "guardDutyEnabled": False,
            "createdAt": self.created_at,
        }
        if self.launch_type:
            described["launchType"] = self.launch_type
        if self.platform_version:
            described["platformVersion"] = self.platform_version
        if self.network_configuration:
            described["networkConfiguration"] = self.network_configuration
        return described


@dataclass
class Service:
    """What the layer keeps of one service, beside moto's."""

    arn: str
    cluster_arn: str
    name: str
    configuration: dict[str, Any]
    controller: dict[str, Any]
    desired_count: int
    launch_type: str | None
    platform_version: str | None
    network_configuration: dict[str, Any] | None
    deployments: list[Deployment] = field(default_factory=list)  # newest last; INACTIVE ones dropped
    service_deployments: list[ServiceDeployment] = field(default_factory=list)  # newest last
    revision_arn: str = ""  # the service revision the service is on (or moving to)

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in reversed(self.deployments) if d.status == "PRIMARY"), None)

    @property
    def current(self) -> ServiceDeployment | None:
        return self.service_deployments[-1] if self.service_deployments else None


@dataclass
class Task:
    """A task started with RunTask, as far as its events go."""

    arn: str
    cluster_arn: str
    task_definition: str
    group: str
    launch_type: str
    containers: list[dict[str, Any]]
    created_at: float
    running_at: float
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    version: int = 1
    started_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str = ""
    stop_code: str = ""
    started_by: str = ""


# -- validation -------------------------------------------------------------------------------------------


def _number(value: Any, name: str, low: float, high: float, *, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise _invalid(f"{name} must be {'an integer' if integer else 'a number'}.")
    if not low <= value <= high:
        raise _invalid(f"{name} must be between {low:g} and {high:g}; got {value:g}.")
    return float(value)


def _tenths(value: float, name: str) -> None:
    if abs(value * 10 - round(value * 10)) > 1e-9:
        raise _invalid(f"{name} must be a multiple of 0.1; got {value:g}.")


def check_deployment_controller(controller: Any) -> dict[str, Any]:
    """The controller as given, or InvalidParameterException."""
    if not isinstance(controller, dict) or controller.get("type") not in CONTROLLERS:
        shown = controller.get("type") if isinstance(controller, dict) else controller
        raise _invalid(
            f"Invalid deploymentController type {str(shown)[:40]!r}. Valid values are {', '.join(CONTROLLERS)}."
        )
    return {"type": controller["type"]}


def check_deployment_configuration(configuration: Any, controller: str = "ECS") -> None:
    """Refuse what ECS refuses in a ``deploymentConfiguration``, with an InvalidParameterException."""
    if not isinstance(configuration, dict):
        raise _invalid("deploymentConfiguration must be an object.")
    strategy = configuration.get("strategy", "ROLLING")
    if strategy not in STRATEGIES:
        raise _invalid(f"Invalid deployment strategy {str(strategy)[:40]!r}. Valid values are {', '.join(STRATEGIES)}.")
    if strategy != "ROLLING" and controller != "ECS":
        raise _invalid(f"The {strategy} deployment strategy requires the ECS deployment controller.")
    if "maximumPercent" in configuration:
        _number(
            configuration["maximumPercent"], "maximumPercent", 100, 200 if strategy != "ROLLING" else 2000, integer=True
        )
    if "minimumHealthyPercent" in configuration:
        _number(configuration["minimumHealthyPercent"], "minimumHealthyPercent", 0, 100, integer=True)
    breaker = configuration.get("deploymentCircuitBreaker")
    if breaker is not None:
        if not isinstance(breaker, dict) or not all(isinstance(breaker.get(k), bool) for k in ("enable", "rollback")):
            raise _invalid("deploymentCircuitBreaker requires enable and rollback, both booleans.")
        if breaker["enable"] and strategy != "ROLLING":
            raise _invalid(
                "The deployment circuit breaker can only be used for services using the rolling update (ROLLING) "
                "deployment strategy."
            )
        threshold = breaker.get("thresholdConfiguration")
        if threshold is not None:
            if not isinstance(threshold, dict) or threshold.get("type") not in (
                "COUNT",
                "BOUNDED_PERCENT",
                "UNBOUNDED_PERCENT",
            ):
                raise _invalid("thresholdConfiguration type must be COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT.")
            high = 100 if threshold["type"] == "BOUNDED_PERCENT" else 10_000
            _number(threshold.get("value"), "thresholdConfiguration value", 1, high, integer=True)
    alarms = configuration.get("alarms")
    if alarms is not None:
        if not isinstance(alarms, dict) or not isinstance(alarms.get("alarmNames"), list):
            raise _invalid("alarms requires alarmNames (an array), enable and rollback.")
        if alarms.get("enable") and not alarms["alarmNames"]:
            raise _invalid("alarms.alarmNames must name at least one alarm when alarms are enabled.")
    _check_strategy_settings(configuration, strategy)
    hooks = configuration.get("lifecycleHooks", [])
    if not isinstance(hooks, list):
        raise _invalid("lifecycleHooks must be an array.")
    for number, hook in enumerate(hooks):
        _check_hook(hook, number)


def _check_strategy_settings(configuration: dict[str, Any], strategy: str) -> None:
    if "bakeTimeInMinutes" in configuration:
        _number(configuration["bakeTimeInMinutes"], "bakeTimeInMinutes", 0, 1440, integer=True)
    elif strategy == "BLUE_GREEN":
        raise _invalid("bakeTimeInMinutes is required for the BLUE_GREEN deployment strategy.")
    linear, canary = configuration.get("linearConfiguration"), configuration.get("canaryConfiguration")
    if linear is not None:
        if strategy != "LINEAR":
            raise _invalid("linearConfiguration is only valid when the deployment strategy is LINEAR.")
        if not isinstance(linear, dict):
            raise _invalid("linearConfiguration must be an object.")
        if "stepPercent" in linear:
            _tenths(_number(linear["stepPercent"], "stepPercent", 3.0, 100.0, integer=False), "stepPercent")
        if "stepBakeTimeInMinutes" in linear:
            _number(linear["stepBakeTimeInMinutes"], "stepBakeTimeInMinutes", 0, 1440, integer=True)
    if canary is not None:
        if strategy != "CANARY":
            raise _invalid("canaryConfiguration is only valid when the deployment strategy is CANARY.")
        if not isinstance(canary, dict):
            raise _invalid("canaryConfiguration must be an object.")
        if "canaryPercent" in canary:
            _tenths(_number(canary["canaryPercent"], "canaryPercent", 0.1, 100.0, integer=False), "canaryPercent")
        if "canaryBakeTimeInMinutes" in canary:
            _number(canary["canaryBakeTimeInMinutes"], "canaryBakeTimeInMinutes", 0, 1440, integer=True)


def _check_hook(hook: Any, number: int) -> None:
    where = f"lifecycleHooks[{number}]"
    if not isinstance(hook, dict):
        raise _invalid(f"{where} must be an object.")
    target_type = hook.get("targetType", "AWS_LAMBDA")
    if target_type not in ("AWS_LAMBDA", "PAUSE"):
        raise _invalid(f"{where}.targetType must be AWS_LAMBDA or PAUSE; got {str(target_type)[:40]!r}.")
    stages = hook.get("lifecycleStages")
    if not isinstance(stages, list) or not stages:
        raise _invalid(f"{where}.lifecycleStages must name at least one lifecycle stage.")
    for stage in stages:
        if stage not in HOOK_STAGES:
            raise _invalid(
                f"{where}: invalid lifecycle stage {str(stage)[:40]!r}. Valid values are {', '.join(HOOK_STAGES)}."
            )
        if target_type == "PAUSE" and stage in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
            raise _invalid(f"{where}: a PAUSE hook cannot be used at the {stage} lifecycle stage.")
    if target_type == "AWS_LAMBDA" and not (hook.get("hookTargetArn") and hook.get("roleArn")):
        raise _invalid(f"{where}: an AWS_LAMBDA hook requires hookTargetArn and roleArn.")
    timeout = hook.get("timeoutConfiguration")
    if timeout is not None:
        if not isinstance(timeout, dict):
            raise _invalid(f"{where}.timeoutConfiguration must be an object.")
        if "timeoutInMinutes" in timeout:
            _number(
                timeout["timeoutInMinutes"], f"{where}.timeoutConfiguration.timeoutInMinutes", 1, 20160, integer=True
            )
        if timeout.get("action", "ROLLBACK") not in ("ROLLBACK", "CONTINUE"):
            raise _invalid(f"{where}.timeoutConfiguration.action must be ROLLBACK or CONTINUE.")


def with_defaults(configuration: dict[str, Any]) -> dict[str, Any]:
    """The configuration as DescribeServices returns it: what was given, AWS's defaults for the rest."""
    filled = copy.deepcopy(configuration)
    filled.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    filled.setdefault("maximumPercent", 200)
    filled.setdefault("minimumHealthyPercent", 100)
    filled.setdefault("alarms", {"alarmNames": [], "rollback": False, "enable": False})
    strategy = filled.setdefault("strategy", "ROLLING")
    if strategy == "LINEAR":
        linear = filled.setdefault("linearConfiguration", {})
        linear.setdefault("stepPercent", 10.0)
        linear.setdefault("stepBakeTimeInMinutes", 6)
    if strategy == "CANARY":
        canary = filled.setdefault("canaryConfiguration", {})
        canary.setdefault("canaryPercent", 5.0)
        canary.setdefault("canaryBakeTimeInMinutes", 10)
    if strategy in ("LINEAR", "CANARY"):
        filled.setdefault("bakeTimeInMinutes", 0)
    return filled


def circuit_breaker_threshold(breaker: dict[str, Any], desired: int) -> int:
    """Failed tasks that trip the breaker: 0.5 x desired, at least 3, at most 200 (or the configured one)."""
    threshold = breaker.get("thresholdConfiguration")
    if isinstance(threshold, dict) and isinstance(threshold.get("value"), int):
        value = int(threshold["value"])
        if threshold.get("type") == "COUNT":
            return value
        return max(1, math.ceil(desired * value / 100))
    return min(200, max(3, math.ceil(desired * 0.5)))


def deployment_plan(configuration: dict[str, Any]) -> list[Step]:
    """The lifecycle stages a deployment of this configuration goes through, in order."""
    strategy = configuration.get("strategy", "ROLLING")
    steps = [Step("PRE_SCALE_UP", "PRE_SCALE_UP", 0.0), Step("SCALE_UP", None, SCALE_SECONDS)]
    steps.append(Step("POST_SCALE_UP", "POST_SCALE_UP", 0.0))
    if strategy != "ROLLING":
        steps += [
            Step("TEST_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT", SHIFT_SECONDS),
            Step("POST_TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", 0.0),
        ]
        weights: list[tuple[float, float]]  # (production weight after the step, bake minutes after it)
        if strategy == "LINEAR":
            linear = configuration.get("linearConfiguration", {})
            step_percent, bake = float(linear.get("stepPercent", 10.0)), float(linear.get("stepBakeTimeInMinutes", 6))
            count = math.ceil(100.0 / step_percent - 1e-9)
            weights = [
                (min(100.0, round(step_percent * (n + 1), 1)), bake if n < count - 1 else 0.0) for n in range(count)
            ]
        elif strategy == "CANARY":
            canary = configuration.get("canaryConfiguration", {})
            weights = [
                (float(canary.get("canaryPercent", 5.0)), float(canary.get("canaryBakeTimeInMinutes", 10))),
                (100.0, 0.0),
            ]
        else:
            weights = [(100.0, 0.0)]
        for weight, bake in weights:
            # PRE_PRODUCTION_TRAFFIC_SHIFT runs before every shift; ECS reports it as the shift stage.
            steps.append(Step("PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", 0.0))
            steps.append(Step("PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", SHIFT_SECONDS, weight))
            if bake:
                steps.append(Step("BAKE_TIME", None, bake * 60))
        steps.append(Step("POST_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", 0.0))
        steps.append(Step("BAKE_TIME", None, float(configuration.get("bakeTimeInMinutes", 0)) * 60))
    steps.append(Step("CLEAN_UP", None, CLEAN_UP_SECONDS))
    return steps


# -- the layer --------------------------------------------------------------------------------------------


class LocalEcs(ForwardingProxy):
    """The layer: an HTTP proxy in front of moto's server that answers the ECS calls it owns."""

    def __init__(self, upstream_url: str, clock: Clock | None = None, port: int = 0) -> None:
        super().__init__(upstream_url, name="local-ecs", port=port)
        _tolerate_containers_without_memory()
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        self._services: dict[str, Service] = {}
        self._service_deployments: dict[str, ServiceDeployment] = {}
        self._revisions: dict[str, ServiceRevision] = {}
        self._tasks: dict[str, Task] = {}
        self._pending: list[dict[str, Any]] = []
        self._clients: dict[tuple[str, str, str], Any] = {}
        self.emitted: list[dict[str, Any]] = []
        self.events_waiting = threading.Event()  # set when an event is queued
        # Called after a control request acted (the CLI's settle): delivers the queued events, returns summaries.
        self.deliverer: Callable[[], list[dict[str, Any]]] | None = None
        self.ecr = LocalEcrSignals()  # scan findings and signing statuses the caller sets (the gates' calls)

    # -- events ---------------------------------------------------------------------------------------

    def take_events(self) -> list[dict[str, Any]]:
        """The events emitted since the last call, oldest first (the caller delivers them)."""
        with self._lock:
            taken, self._pending = self._pending, []
            self.events_waiting.clear()
            return taken

    def _emit(self, detail_type: str, resources: list[str], detail: dict[str, Any], account: str, region: str) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.ecs",
            "account": account,
            "time": iso_time(self.clock.now(), millis=False),
            "region": region,
            "resources": resources,
            "detail": detail,
        }
        self._pending.append(event)
        self.emitted.append(event)
        self.events_waiting.set()

    def _deployment_event(self, service: ServiceDeployment, deployment: Deployment, name: str, reason: str) -> None:
        account, region = _arn_account_region(service.service_arn)
        self._emit(
            "ECS Deployment State Change",
            [service.service_arn],
            {
                "eventType": "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
                "eventName": name,
                "deploymentId": deployment.id,
                "updatedAt": iso_time(self.clock.now()),
                "reason": reason,
            },
            account,
            region,
        )

    # -- the clock ------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on; every stage, task start and hook timeout that falls due happens."""
        with self._lock:
            self._run_until(self.clock.now() + max(0.0, seconds))

    def settle(self, cluster: str, service: str, outcome: Outcome = "completed") -> ServiceDeployment:
        """Finish the service's deployment in progress (continuing paused hooks) with ``outcome``.

        "failed" trips the circuit breaker (or the alarms) at SCALE_UP: FAILED, then the rollback if the
        configuration asks for one. Raises ValueError when nothing is in progress or the service cannot fail.
        """
        with self._lock:
            record = self._find_service(cluster, service)
            current = record.current if record else None
            if record is None or current is None or not current.in_progress:
                raise ValueError(f"service {service} of cluster {cluster} has no deployment in progress")
            if outcome == "failed" and not current.status.startswith(("ROLLBACK", "STOP")):
                configuration = current.configuration
                breaker, alarms = configuration.get("deploymentCircuitBreaker", {}), configuration.get("alarms", {})
                if not breaker.get("enable") and not alarms.get("enable"):
                    raise ValueError(
                        f"service {service} of cluster {cluster} has neither the circuit breaker nor alarms on: ECS "
                        "would keep replacing the failing tasks and the deployment would stay IN_PROGRESS"
                    )
                current.outcome = "failed"
            for _ in range(10_000):
                if not current.in_progress:
                    return current
                if current.paused is not None:
                    self._continue_hook(current, current.paused, "CONTINUE")
                    continue
                due = current.step_ends_at if current.step_ends_at is not None else self.clock.now()
                self._run_until(max(due, self.clock.now()))
            raise AssertionError("a deployment never settled")

    def trip_alarms(self, cluster: str, service: str) -> ServiceDeployment:
        """The rollback alarms of the service's deployment in progress go into ALARM now, at whatever stage it
        has reached (a canary's bake, say): FAILED, then the rollback. ValueError when nothing is in progress
        or the deployment watches no alarm with rollback."""
        with self._lock:
            record = self._find_service(cluster, service)
            current = record.current if record else None
            if record is None or current is None or not current.in_progress or current.status.startswith("ROLLBACK"):
                raise ValueError(f"service {service} of cluster {cluster} has no deployment in progress")
            alarms = current.configuration.get("alarms", {})
            if not (alarms.get("enable") and alarms.get("rollback") and alarms.get("alarmNames")):
                raise ValueError(f"the deployment of service {service} watches no alarm with rollback")
            self._fail(current, alarms_tripped=True)
            return current

    def settle_all(self) -> list[ServiceDeployment]:
        """Settle every deployment in progress (e.g. a seeded world's first ones), each COMPLETED."""
        with self._lock:
            pending = [(r.cluster_arn, r.service_arn) for r in self._service_deployments.values() if r.in_progress]
            return [self.settle(cluster, service) for cluster, service in pending]

    def stop_task(self, cluster: str, task: str, exit_code: int, reason: str | None = None) -> Task:
        """End a task started with RunTask: RUNNING (if it was not yet), then STOPPED with ``exit_code``."""
        with self._lock:
            found = self._tasks.get(task) or next(
                (t for t in self._tasks.values() if t.arn.endswith("/" + task) and _name_of(t.cluster_arn) == cluster),
                None,
            )
            if found is None or _name_of(found.cluster_arn) != cluster:
                raise ValueError(f"task {task[:200]} was not started with RunTask in cluster {cluster}")
            if found.last_status == "STOPPED":
                raise ValueError(f"task {task[:200]} is already STOPPED")
            self._run_until(max(self.clock.now(), found.running_at))
            for container in found.containers:
                container["exitCode"] = exit_code
                container["lastStatus"] = "STOPPED"
            found.stopped_reason = reason or "Essential container in task exited"
            found.stop_code = "EssentialContainerExited"
            found.stopped_at = self.clock.now()
            self._task_transition(found, "STOPPED")
            return found

    def _run_until(self, moment: float) -> None:
        """Apply every transition due at or before ``moment`` in time order, then set the clock there."""
        for _ in range(100_000):
            due = self._next_due()
            if due is None or due[0] > moment:
                break
            self.clock.advance_to(due[0])
            due[1]()
        self.clock.advance_to(moment)

    def _next_due(self) -> tuple[float, Callable[[], None]] | None:
        candidates: list[tuple[float, Callable[[], None]]] = []
        for deployment in self._service_deployments.values():
            if not deployment.in_progress:
                continue
            if deployment.paused is not None:
                hook = deployment.paused
                if hook.expires_at is not None:
                    candidates.append((hook.expires_at, functools.partial(self._hook_timed_out, deployment, hook)))
            elif deployment.step_ends_at is not None:
                candidates.append((deployment.step_ends_at, functools.partial(self._finish_step, deployment)))
        for task in self._tasks.values():
            if task.last_status == "PROVISIONING":
                candidates.append((task.running_at, functools.partial(self._task_running, task)))
        return min(candidates, key=lambda item: item[0]) if candidates else None

    # -- deployments ----------------------------------------------------------------------------------

    def _start_deployment(self, service: Service, revision: ServiceRevision, deployment_id: str) -> ServiceDeployment:
        now = self.clock.now()
        previous = service.current
        if previous is not None and previous.in_progress:
            previous.status, previous.status_reason = "STOPPED", "Superseded by a new service deployment."
            previous.stopped_at = previous.updated_at = now
            previous.paused = None
        sources = sorted({d.revision_arn for d in service.deployments if d.status in ("PRIMARY", "ACTIVE")})
        deployment = _start_primary(
            service, revision, deployment_id, now, reason=f"ECS deployment {deployment_id} in progress."
        )
        configuration = with_defaults(service.configuration)
        record = ServiceDeployment(
            arn=_service_deployment_arn(service.arn),
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            created_at=now,
            updated_at=now,
            configuration=configuration,
            deployment=deployment,
            source_revisions=sources,
            steps=deployment_plan(configuration),
        )
        service.service_deployments.append(record)
        self._service_deployments[record.arn] = record
        self._deployment_event(record, deployment, "SERVICE_DEPLOYMENT_IN_PROGRESS", deployment.rollout_state_reason)
        self._enter_step(record)
        return record

    def _enter_step(self, record: ServiceDeployment) -> None:
        """Start the step at ``record.step_index``: run its hooks (a PAUSE hook holds it), time its end."""
        now = self.clock.now()
        record.updated_at = now
        step = record.steps[record.step_index]
        rolling_back = record.status.startswith("ROLLBACK")
        if step.hook_stage and not rolling_back:
            for number, hook in enumerate(record.configuration.get("lifecycleHooks", [])):
                if step.hook_stage not in hook.get("lifecycleStages", []):
                    continue
                hook_id = f"{step.hook_stage.lower()}-{number}-{record.step_index}"
                if any(run.hook_id == hook_id for run in record.hooks):
                    continue  # already resolved at this step
                if hook.get("targetType", "AWS_LAMBDA") == "PAUSE":
                    minutes = (hook.get("timeoutConfiguration") or {}).get(
                        "timeoutInMinutes", DEFAULT_HOOK_TIMEOUT_MINUTES
                    )
                    run = HookRun(hook_id, hook, step.hook_stage, "AWAITING_ACTION", now + float(minutes) * 60)
                    record.hooks.append(run)
                    record.paused = run
                    record.step_ends_at = None
                    self._hook_event(record, run)
                    return
                record.hooks.append(HookRun(hook_id, hook, step.hook_stage, "SUCCEEDED", None))
        record.step_ends_at = now + step.seconds
        if step.seconds == 0:  # a stage that only runs hooks passes at once
            self._finish_step(record)

    def _hook_event(self, record: ServiceDeployment, run: HookRun) -> None:
        account, region = _arn_account_region(record.service_arn)
        self._emit(
            "ECS Hook State Change",
            [record.service_arn],
            {
                "eventType": "INFO",
                "eventName": "HOOK_AWAITING_ACTION",
                "clusterArn": record.cluster_arn,
                "serviceArn": record.service_arn,
                "serviceDeploymentArn": record.arn,
                "deploymentId": record.deployment.id,
                "hookId": run.hook_id,
                "lifecycleStage": run.stage,
                "expiresAt": iso_time(run.expires_at or self.clock.now()),
                "updatedAt": iso_time(self.clock.now()),
                "reason": f"Lifecycle hook {run.hook_id} at {run.stage} is awaiting action.",
            },
            account,
            region,
        )

    def _finish_step(self, record: ServiceDeployment) -> None:
        step = record.steps[record.step_index]
        if (
            step.stage == "SCALE_UP"
            and record.outcome == "failed"
            and not record.status.startswith(("ROLLBACK", "STOP"))
        ):
            self._fail(record)
            return
        if record.status == "STOP_REQUESTED":
            self._stopped(record, "Service deployment stopped by request.")
            return
        if record.status == "ROLLBACK_REQUESTED":
            self._start_rollback(record, record.status_reason or "Service deployment rolled back by request.")
            return
        if record.step_index + 1 < len(record.steps):
            record.step_index += 1
            self._enter_step(record)
            return
        self._complete(record)

    def _complete(self, record: ServiceDeployment) -> None:
        now = self.clock.now()
        service = self._services[record.service_arn]
        moving = record.active
        moving.rollout_state = "COMPLETED"
        moving.rollout_state_reason = f"ECS deployment {moving.id} completed."
        moving.updated_at = now
        for other in service.deployments:
            if other is not moving:
                other.status = "INACTIVE"
        service.deployments = [moving]
        record.finished_at = record.updated_at = now
        record.step_ends_at = None
        if record.rollback_deployment is not None:
            record.status = "ROLLBACK_SUCCESSFUL"
        else:
            record.status = "SUCCESSFUL"
        self._deployment_event(record, moving, "SERVICE_DEPLOYMENT_COMPLETED", moving.rollout_state_reason)

    def _fail(self, record: ServiceDeployment, *, alarms_tripped: bool = False) -> None:
        now = self.clock.now()
        configuration = record.configuration
        breaker, alarms = configuration.get("deploymentCircuitBreaker", {}), configuration.get("alarms", {})
        by_breaker = bool(breaker.get("enable")) and not alarms_tripped
        reason = (
            CIRCUIT_BREAKER_REASON
            if by_breaker
            else f"ECS deployment alarms: {', '.join(alarms.get('alarmNames', []))[:200]} in ALARM state."
        )
        record.failure_count = circuit_breaker_threshold(breaker, record.deployment.desired_count) if by_breaker else 0
        record.stage_reached = record.stage()
        failed = record.deployment
        failed.rollout_state, failed.rollout_state_reason, failed.updated_at = "FAILED", reason, now
        failed.failed_tasks = record.failure_count
        self._deployment_event(record, failed, "SERVICE_DEPLOYMENT_FAILED", reason)
        if (breaker if by_breaker else alarms).get("rollback"):
            label = "circuit breaker" if by_breaker else "alarm"
            self._start_rollback(record, reason, label=label)
        else:
            self._stopped(record, reason)

    def _stopped(self, record: ServiceDeployment, reason: str) -> None:
        now = self.clock.now()
        record.status, record.status_reason = "STOPPED", reason
        record.stopped_at = record.finished_at = record.updated_at = now
        record.step_ends_at = None
        record.paused = None

    def _start_rollback(self, record: ServiceDeployment, reason: str, label: str = "rollback") -> None:
        """A new deployment that goes back to the source revision: IN_PROGRESS "rolling back to ..."."""
        now = self.clock.now()
        service = self._services[record.service_arn]
        back_to = next(
            (
                d
                for d in reversed(service.deployments)
                if d is not record.deployment and d.revision_arn in record.source_revisions
            ),
            None,
        )
        if back_to is None:  # a first deployment has nothing to go back to
            self._stopped(record, reason)
            return
        revision = self._revisions[back_to.revision_arn]
        record.stage_reached = record.stage()
        rollback = _start_primary(
            service,
            revision,
            f"ecs-svc/{_deployment_number()}",
            now,
            reason=f"ECS deployment {label}: rolling back to deploymentId {back_to.id}.",
        )
        record.rollback_deployment = rollback
        record.rollback = {"reason": reason, "startedAt": now, "serviceRevisionArn": revision.arn}
        record.status, record.status_reason = "ROLLBACK_IN_PROGRESS", reason
        record.paused = None
        record.steps = [Step("SCALE_UP", None, SCALE_SECONDS), Step("CLEAN_UP", None, CLEAN_UP_SECONDS)]
        record.step_index = 0
        record.step_ends_at = now + SCALE_SECONDS
        record.updated_at = now
        self._deployment_event(record, rollback, "SERVICE_DEPLOYMENT_IN_PROGRESS", rollback.rollout_state_reason)

    def _continue_hook(self, record: ServiceDeployment, run: HookRun, action: str) -> None:
        record.paused = None
        if action == "ROLLBACK":
            run.status = "FAILED"
            self._start_rollback(record, f"Lifecycle hook {run.hook_id} asked for a rollback.")
            return
        run.status = "SUCCEEDED"
        record.step_ends_at = self.clock.now() + record.steps[record.step_index].seconds

    def _hook_timed_out(self, record: ServiceDeployment, run: HookRun) -> None:
        run.status = "TIMED_OUT"
        action = (run.hook.get("timeoutConfiguration") or {}).get("action", "ROLLBACK")
        record.paused = None
        if action == "ROLLBACK":
            self._start_rollback(record, f"Lifecycle hook {run.hook_id} timed out.")
        else:
            record.step_ends_at = self.clock.now() + record.steps[record.step_index].seconds

    # -- tasks ----------------------------------------------------------------------------------------

    def _task_running(self, task: Task) -> None:
        task.started_at = self.clock.now()
        for container in task.containers:
            container["lastStatus"] = "RUNNING"
        self._task_transition(task, "RUNNING")

    def _task_transition(self, task: Task, status: str) -> None:
        task.last_status = status
        task.desired_status = "STOPPED" if status == "STOPPED" else "RUNNING"
        task.version += 1 if status != "PROVISIONING" else 0
        account, region = _arn_account_region(task.arn)
        detail: dict[str, Any] = {
            "clusterArn": task.cluster_arn,
            "taskArn": task.arn,
            "taskDefinitionArn": task.task_definition,
            "group": task.group,
            "launchType": task.launch_type,
            "lastStatus": status,
            "desiredStatus": task.desired_status,
            "containers": [dict(container) for container in task.containers],
            "createdAt": iso_time(task.created_at),
            "updatedAt": iso_time(self.clock.now()),
            "version": task.version,
        }
        if task.started_by:
            detail["startedBy"] = task.started_by
        if task.started_at is not None:
            detail["startedAt"] = iso_time(task.started_at)
        if status == "STOPPED":
            detail["stoppedAt"] = iso_time(task.stopped_at or self.clock.now())
            detail["stoppedReason"] = task.stopped_reason
            detail["stopCode"] = task.stop_code
        self._emit("ECS Task State Change", [task.arn], detail, account, region)

    # -- reading moto ---------------------------------------------------------------------------------

    def _moto(self, request: ProxyRequest, service: str = "ecs") -> Any:
        """A boto3 client of moto's server acting as the caller (same access key id: same moto account)."""
        scope = re.search(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/", request.header("authorization"))
        key, region = (scope.group(1), scope.group(2)) if scope else ("testing", "us-east-1")
        cache_key = (service, key, region)
        client = self._clients.get(cache_key)
        if client is None:
            client = boto3.session.Session().client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.upstream_url,
                region_name=region,
                aws_access_key_id=key,
                aws_secret_access_key="testing",  # noqa: S106 - moto's server checks no signature
                aws_session_token=request.header("x-amz-security-token") or None,
            )
            self._clients[cache_key] = client
        return client

    def _container_images(self, request: ProxyRequest, task_definition: str) -> list[dict[str, str]]:
        definition = self._moto(request).describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        images = []
        for container in definition.get("containerDefinitions", []):
            image = str(container.get("image", ""))
            images.append(
                {"containerName": container["name"], "imageDigest": self._digest(request, image), "image": image}
            )
        return images

    def _digest(self, request: ProxyRequest, image: str) -> str:
        """The digest ECS would resolve: the pinned one, ECR's for a tag in this registry, else a stable fake."""
        if "@sha256:" in image:
            return "sha256:" + image.split("@sha256:", 1)[1]
        match = re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/([^:@]+)(?::([^@]+))?", image)
        if match:
            try:
                found = self._moto(request, "ecr").describe_images(
                    repositoryName=match.group(1), imageIds=[{"imageTag": match.group(2) or "latest"}]
                )["imageDetails"]
                if found:
                    return str(found[0]["imageDigest"])
            except Exception:  # noqa: S110 - an image ECR does not hold resolves like any other
                pass
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest()

    def _find_service(self, cluster: str, name: str) -> Service | None:
        wanted = name if name.startswith("arn:") else None
        for service in self._services.values():
            if wanted and service.arn == wanted:
                return service
            if service.name == name and _name_of(service.cluster_arn) == _name_of(cluster):
                return service
        return None

    def _adopt(self, request: ProxyRequest, described: dict[str, Any]) -> Service:
        """The record of a service moto knows (created before the layer saw it, or just now)."""
        service = self._services.get(described["serviceArn"])
        if service is not None:
            return service
        service = Service(
            arn=described["serviceArn"],
            cluster_arn=described["clusterArn"],
            name=described["serviceName"],
            configuration=_known_configuration(described.get("deploymentConfiguration") or {}),
            controller=dict(described.get("deploymentController") or {"type": "ECS"}),
            desired_count=int(described.get("desiredCount", 0)),
            launch_type=described.get("launchType"),
            platform_version=described.get("platformVersion"),
            network_configuration=described.get("networkConfiguration") or None,
        )
        self._services[service.arn] = service
        if described.get("taskDefinition"):  # an existing service is taken as steady on its task definition
            revision = self._new_revision(request, service, described["taskDefinition"], _deployment_number())
            now = self.clock.now()
            deployment = Deployment(
                id=next((d["id"] for d in described.get("deployments", []) if d.get("status") == "PRIMARY"), "")
                or f"ecs-svc/{_deployment_number()}",
                task_definition=described["taskDefinition"],
                desired_count=service.desired_count,
                launch_type=service.launch_type,
                network_configuration=service.network_configuration,
                created_at=now,
                updated_at=now,
                revision_arn=revision.arn,
                rollout_state="COMPLETED",
            )
            deployment.rollout_state_reason = f"ECS deployment {deployment.id} completed."
            service.deployments.append(deployment)
            service.revision_arn = revision.arn
        return service

    def _new_revision(
        self, request: ProxyRequest, service: Service, task_definition: str, number: str
    ) -> ServiceRevision:
        revision = ServiceRevision(
            arn=f"{_arn_base(service.arn)}:service-revision/{_name_of(service.cluster_arn)}/{service.name}/{number}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            task_definition=task_definition,
            launch_type=service.launch_type,
            platform_version=service.platform_version,
            network_configuration=service.network_configuration,
            container_images=self._container_images(request, task_definition),
            created_at=self.clock.now(),
        )
        self._revisions[revision.arn] = revision
        return revision

    def _overlay(self, request: ProxyRequest, described: dict[str, Any]) -> dict[str, Any]:
        """moto's description of a service with what the layer keeps: configuration, deployments, revisions."""
        service = self._adopt(request, described)
        described = dict(described)
        described["deploymentConfiguration"] = with_defaults(service.configuration)
        described["deploymentController"] = dict(service.controller)
        if service.deployments:
            described["deployments"] = [d.describe() for d in reversed(service.deployments)]
            primary = service.primary
            if primary is not None:
                described["taskDefinition"] = primary.task_definition
            described["runningCount"] = sum(d["runningCount"] for d in described["deployments"])
            described["pendingCount"] = sum(d["pendingCount"] for d in described["deployments"])
        current = service.current
        if current is not None:
            described["currentServiceDeployment"] = current.arn
        if service.revision_arn:
            described["currentServiceRevisions"] = [
                {
                    "arn": d.revision_arn,
                    "requestedTaskCount": d.desired_count,
                    "runningTaskCount": d.desired_count if d.rollout_state == "COMPLETED" else 0,
                    "pendingTaskCount": 0 if d.rollout_state == "COMPLETED" else d.desired_count,
                }
                for d in service.deployments
            ]
        return described

    # -- the requests it answers ----------------------------------------------------------------------

    def answer(self, request: ProxyRequest) -> ProxyResponse | None:
        path = request.path.split("?", 1)[0]
        if path.startswith(CONTROL_PATH):
            return self._control(request, path[len(CONTROL_PATH) :])
        if path == "/moto-api/reset":
            self.reset()
            return None
        target = request.header("x-amz-target")
        if target.startswith(ECR_TARGET):
            params = json.loads(request.body or b"{}")
            answered = self.ecr.answer(
                target[len(ECR_TARGET) :], params, str(params.get("registryId") or "123456789012")
            )
            if answered is None:
                return None
            status, body = answered
            return _json(body) if status == 200 else _json_error(str(body["__type"]), str(body["message"]))
        if not target.startswith(ECS_TARGET):
            return None
        operation = target[len(ECS_TARGET) :]
        handler = getattr(self, f"_op_{_snake(operation)}", None)
        if handler is None:
            return None
        try:
            params = json.loads(request.body or b"{}")
            with self._lock:
                result = handler(request, params)
        except EcsError as exc:
            return _json_error(exc.code, exc.message)
        return result if isinstance(result, ProxyResponse) else _json(result)

    def reset(self) -> None:
        """Forget every service, deployment, revision, task and queued event (moto's reset does the rest)."""
        with self._lock:
            self._services.clear()
            self._service_deployments.clear()
            self._revisions.clear()
            self._tasks.clear()
            self._pending.clear()
            self.emitted.clear()
            self.clock.offset = 0.0
            self.ecr.reset()

    def _forward_json(self, request: ProxyRequest) -> tuple[ProxyResponse, dict[str, Any] | None]:
        response = self.forward(request)
        if response.status != 200:
            return response, None
        return response, json.loads(response.body or b"{}")

    def _op_create_service(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        controller = check_deployment_controller(params.get("deploymentController") or {"type": "ECS"})
        configuration = params.get("deploymentConfiguration") or {}
        check_deployment_configuration(configuration, controller["type"])
        response, body = self._forward_json(request)
        if body is None:
            return response
        described = body["service"]
        service = Service(
            arn=described["serviceArn"],
            cluster_arn=described["clusterArn"],
            name=described["serviceName"],
            configuration=copy.deepcopy(configuration),
            controller=controller,
            desired_count=int(described.get("desiredCount", 0)),
            launch_type=described.get("launchType"),
            platform_version=params.get("platformVersion") or described.get("platformVersion"),
            network_configuration=described.get("networkConfiguration") or None,
        )
        self._services[service.arn] = service
        number = _deployment_number()
        revision = self._new_revision(request, service, described["taskDefinition"], number)
        self._start_deployment(service, revision, f"ecs-svc/{number}")
        return {**body, "service": self._overlay(request, described)}

    def _op_update_service(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        cluster, name = params.get("cluster", "default"), params.get("service", "")
        described = self._describe_one(request, cluster, name)
        if described.get("status") != "ACTIVE":
            raise EcsError("ServiceNotActiveException", "Service was not ACTIVE.")
        service = self._adopt(request, described)
        controller = service.controller.get("type", "ECS")
        if "taskDefinition" in params and controller != "ECS":
            raise _invalid(_controller_message(controller))
        configuration = service.configuration
        if "deploymentConfiguration" in params:
            given = params["deploymentConfiguration"]
            check_deployment_configuration(given, controller)
            configuration = {**service.configuration, **copy.deepcopy(given)}
            check_deployment_configuration(configuration, controller)
        response, body = self._forward_json(request)
        if body is None:
            return response
        updated = body["service"]
        service.configuration = configuration
        service.desired_count = int(params.get("desiredCount", service.desired_count))
        for deployment in service.deployments:
            deployment.desired_count = service.desired_count
        changed = (
            updated.get("taskDefinition") != (service.primary.task_definition if service.primary else None)
            or bool(params.get("forceNewDeployment"))
            or ("networkConfiguration" in params and params["networkConfiguration"] != service.network_configuration)
            or ("platformVersion" in params and params["platformVersion"] != service.platform_version)
        )
        if "networkConfiguration" in params:
            service.network_configuration = params["networkConfiguration"]
        if "platformVersion" in params:
            service.platform_version = params["platformVersion"]
        if changed:
            number = _deployment_number()
            revision = self._new_revision(request, service, updated["taskDefinition"], number)
            self._start_deployment(service, revision, f"ecs-svc/{number}")
        return {**body, "service": self._overlay(request, updated)}

    def _op_describe_services(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        response, body = self._forward_json(request)
        if body is None:
            return response
        body["services"] = [self._overlay(request, described) for described in body.get("services", [])]
        return body

    def _op_delete_service(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        response, body = self._forward_json(request)
        if body is None:
            return response
        described = body["service"]
        service = self._services.get(described["serviceArn"])
        if service is not None and service.current is not None and service.current.in_progress:
            self._stopped(service.current, "The service was deleted.")
        return {**body, "service": self._overlay(request, described)}

    def _describe_one(self, request: ProxyRequest, cluster: str, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            described = self._moto(request).describe_services(cluster=cluster, services=[name])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise EcsError(str(error.get("Code")), str(error.get("Message", ""))) from exc
        if not described.get("services"):
            raise EcsError("ServiceNotFoundException", "Service not found.")
        return dict(described["services"][0])

    def _op_list_service_deployments(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        if not isinstance(params.get("service"), str) or not params["service"]:
            raise _invalid("service must be a service name or ARN.")
        described = self._describe_one(request, params.get("cluster", "default"), params["service"])
        service = self._adopt(request, described)
        statuses = params.get("status") or []
        created = params.get("createdAt") or {}
        found = [
            sd
            for sd in reversed(service.service_deployments)
            if (not statuses or sd.status in statuses)
            and ("before" not in created or sd.created_at < float(created["before"]))
            and ("after" not in created or sd.created_at > float(created["after"]))
        ]
        limit = int(params.get("maxResults") or 20)
        if not 1 <= limit <= 100:
            raise _invalid("maxResults must be between 1 and 100.")
        start = int(params.get("nextToken") or 0)
        page = found[start : start + limit]
        answer: dict[str, Any] = {"serviceDeployments": [sd.brief() for sd in page]}
        if start + limit < len(found):
            answer["nextToken"] = str(start + limit)
        return answer

    def _op_describe_service_deployments(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        arns = _arn_list(params.get("serviceDeploymentArns"), "serviceDeploymentArns")
        found, failures = [], []
        for arn in arns:
            record = self._service_deployments.get(arn)
            if record is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(record.describe(self._revisions))
        return {"serviceDeployments": found, "failures": failures}

    def _op_describe_service_revisions(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        arns = _arn_list(params.get("serviceRevisionArns"), "serviceRevisionArns")
        found, failures = [], []
        for arn in arns:
            revision = self._revisions.get(arn)
            if revision is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(revision.describe())
        return {"serviceRevisions": found, "failures": failures}

    def _service_deployment(self, params: dict[str, Any]) -> ServiceDeployment:
        arn = params.get("serviceDeploymentArn")
        record = self._service_deployments.get(arn) if isinstance(arn, str) else None
        if record is None:
            raise EcsError("ServiceDeploymentNotFoundException", "The service deployment does not exist.")
        return record

    def _op_stop_service_deployment(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        record = self._service_deployment(params)
        stop_type = params.get("stopType", "ROLLBACK")
        if stop_type not in ("ROLLBACK", "ABORT"):
            raise _invalid(f"Invalid stopType {str(stop_type)[:40]!r}. Valid values are ABORT, ROLLBACK.")
        if record.status in STOPPING_STATUSES:
            raise EcsError("ConflictException", f"The service deployment is already stopping (status {record.status}).")
        if not record.in_progress:
            raise EcsError("ConflictException", f"The service deployment is not in progress (status {record.status}).")
        record.status = "ROLLBACK_REQUESTED" if stop_type == "ROLLBACK" else "STOP_REQUESTED"
        record.status_reason = f"Service deployment stop requested ({stop_type})."
        record.updated_at = self.clock.now()
        if record.paused is not None:
            record.paused.status = "FAILED"
            record.paused = None
        record.step_ends_at = self.clock.now()  # acted on at the next move of the clock
        return {"serviceDeploymentArn": record.arn}

    def _op_continue_service_deployment(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        record = self._service_deployment(params)
        hook_id, action = params.get("hookId"), params.get("action", "CONTINUE")
        if action not in ("CONTINUE", "ROLLBACK"):
            raise _invalid(f"Invalid action {str(action)[:40]!r}. Valid values are CONTINUE, ROLLBACK.")
        if record.paused is None or record.paused.hook_id != hook_id:
            raise _invalid(f"The lifecycle hook {str(hook_id)[:100]} is not awaiting action.")
        self._continue_hook(record, record.paused, action)
        return {"serviceDeploymentArn": record.arn}

    def _op_run_task(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        response, body = self._forward_json(request)
        if body is None:
            return response
        now = self.clock.now()
        for described in body.get("tasks", []):
            images = {i["containerName"]: i for i in self._container_images(request, described["taskDefinitionArn"])}
            task = Task(
                arn=described["taskArn"],
                cluster_arn=described["clusterArn"],
                task_definition=described["taskDefinitionArn"],
                group=described.get("group", ""),
                launch_type=described.get("launchType", params.get("launchType", "FARGATE")),
                containers=[
                    {
                        "containerArn": container.get("containerArn", ""),
                        "name": container["name"],
                        "image": images.get(container["name"], {}).get("image", container.get("image", "")),
                        "imageDigest": images.get(container["name"], {}).get("imageDigest", ""),
                        "lastStatus": "PENDING",
                        "taskArn": described["taskArn"],
                    }
                    for container in described.get("containers", [])
                ],
                created_at=now,
                running_at=now + TASK_START_SECONDS,
                started_by=params.get("startedBy", ""),
            )
            self._tasks[task.arn] = task
            self._task_transition(task, "PROVISIONING")
        body["tasks"] = [self._task_overlay(t) for t in body.get("tasks", [])]
        return body

    def _op_describe_tasks(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        response, body = self._forward_json(request)
        if body is None:
            return response
        body["tasks"] = [self._task_overlay(t) for t in body.get("tasks", [])]
        return body

    def _op_stop_task(self, request: ProxyRequest, params: dict[str, Any]) -> Any:
        response, body = self._forward_json(request)
        if body is None:
            return response
        task = self._tasks.get(body.get("task", {}).get("taskArn", ""))
        if task is not None and task.last_status != "STOPPED":
            for container in task.containers:
                container["lastStatus"] = "STOPPED"
            task.stopped_reason = str(params.get("reason") or "Task stopped by user")
            task.stop_code = "UserInitiated"
            task.stopped_at = self.clock.now()
            self._task_transition(task, "STOPPED")
        body["task"] = self._task_overlay(body.get("task", {}))
        return body

    def _task_overlay(self, described: dict[str, Any]) -> dict[str, Any]:
        task = self._tasks.get(described.get("taskArn", ""))
        if task is None:
            return described
        described = dict(described)
        described["lastStatus"], described["desiredStatus"] = task.last_status, task.desired_status
        described["version"] = task.version
        described["createdAt"] = task.created_at
        by_name = {c["name"]: c for c in task.containers}
        containers = []
        for container in described.get("containers", []):
            kept = by_name.get(container.get("name", ""), {})
            merged = {**container, "lastStatus": kept.get("lastStatus", container.get("lastStatus"))}
            if "exitCode" in kept:
                merged["exitCode"] = kept["exitCode"]
            else:
                merged.pop("exitCode", None)
            if kept.get("imageDigest"):
                merged["imageDigest"] = kept["imageDigest"]
            containers.append(merged)
        described["containers"] = containers
        if task.started_at is not None:
            described["startedAt"] = task.started_at
        if task.last_status == "STOPPED":
            described["stoppedAt"] = task.stopped_at
            described["stoppedReason"] = task.stopped_reason
            described["stopCode"] = task.stop_code
        else:
            described.pop("stoppedReason", None)
        return described

    # -- control requests -----------------------------------------------------------------------------

    def _control(self, request: ProxyRequest, action: str) -> ProxyResponse:
        try:
            params = json.loads(request.body or b"{}") if request.method == "POST" else {}
            if not isinstance(params, dict):
                raise ValueError("the request body must be a JSON object")
            if action == "events" and request.method == "GET":
                with self._lock:
                    return _json({"events": list(self.emitted)})
            if action == "settle":
                outcome = params.get("outcome", "completed")
                if outcome not in ("completed", "failed"):
                    raise ValueError(f"outcome must be completed or failed, got {str(outcome)[:40]!r}")
                self.settle(_text(params, "cluster"), _text(params, "service"), outcome)
            elif action == "stop-task":
                exit_code = params.get("exitCode")
                if isinstance(exit_code, bool) or not isinstance(exit_code, int):
                    raise ValueError("exitCode must be a number (an integer)")
                self.stop_task(_text(params, "cluster"), _text(params, "task"), exit_code, params.get("reason"))
            elif action == "advance":
                seconds = params.get("seconds")
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                    raise ValueError("seconds must be a number, 0 or more")
                self.advance(float(seconds))
            else:
                return _json({"error": f"no control action {action[:40]!r}"}, status=404)
        except ValueError as exc:
            return _json({"error": str(exc)}, status=400)
        events = self.take_events() if self.deliverer is None else []
        deliveries = self.deliverer() if self.deliverer is not None else []
        return _json({"events": events, "deliveries": deliveries, "time": iso_time(self.clock.now())})


# -- helpers ----------------------------------------------------------------------------------------------


def _controller_message(controller: str) -> str:
    if controller == "CODE_DEPLOY":
        return (
            "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
            "Use AWS CodeDeploy to trigger a new deployment."
        )
    return "Unable to update task definition on services with an EXTERNAL deployment controller. Use task sets."


def _known_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in configuration.items()
        if k
        in {
            "deploymentCircuitBreaker",
            "maximumPercent",
            "minimumHealthyPercent",
            "alarms",
            "strategy",
            "bakeTimeInMinutes",
            "lifecycleHooks",
            "linearConfiguration",
            "canaryConfiguration",
        }
    }


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _arn_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(f"{name} must be an array of strings.")
    if not 1 <= len(value) <= 20:
        raise _invalid(f"{name} must hold between 1 and 20 ARNs; got {len(value)}.")
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _name_of(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def _arn_base(arn: str) -> str:
    """``arn:aws:ecs:<region>:<account>`` of an ECS ARN."""
    return ":".join(arn.split(":")[:5])


def _arn_account_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]


def _service_deployment_arn(service_arn: str) -> str:
    cluster, service = service_arn.split(":service/", 1)[1].split("/", 1)
    return f"{_arn_base(service_arn)}:service-deployment/{cluster}/{service}/{_service_deployment_suffix()}"


def _json(body: dict[str, Any], status: int = 200) -> ProxyResponse:
    payload = json.dumps(body).encode()
    request_id = str(uuid.uuid4())
    return ProxyResponse(
        status, "", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)], payload
    )


def _json_error(code: str, message: str) -> ProxyResponse:
    payload = json.dumps({"__type": code, "message": message}).encode()
    request_id = str(uuid.uuid4())
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", code),
    ]
    return ProxyResponse(400, "", headers, payload)


def deployment_events(events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The ``ECS Deployment State Change`` events among ``events``."""
    return (event for event in events if event.get("detail-type") == "ECS Deployment State Change")


__all__ = [
    "Clock",
    "EcsError",
    "LocalEcs",
    "ServiceDeployment",
    "Task",
    "check_deployment_configuration",
    "deployment_events",
    "deployment_plan",
    "identify",
    "iso_time",
    "with_defaults",
]
