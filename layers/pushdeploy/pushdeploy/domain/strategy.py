"""How a target's service deploys: its ``deployment`` block (strategy, percents, failure detection, bake times)
and its ``approval`` block (a PAUSE lifecycle hook), checked with the ECS API's rules, and the
``deploymentConfiguration`` they make when merged over the service's own. Pure: no AWS library.

The rules are botocore's ECS model (``DeploymentConfiguration``, ``LinearConfiguration``,
``CanaryConfiguration``, ``DeploymentLifecycleHook``) and the ECS guide's pause-hook page: PAUSE hooks never
at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT. Lifecycle hooks belong to the BLUE_GREEN, LINEAR and CANARY
strategies (the guide describes their stages as the green revision's and the traffic shifts'; neither the
guide nor the model says a ROLLING deployment runs a hook), so an approval on a ROLLING service is refused.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pushdeploy.domain.errors import ConfigError, DeployError, json_type, quote, quote_list, shorten

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
HOOKED_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
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
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
TIMEOUT_ACTIONS = ("ROLLBACK", "CONTINUE")
MAX_BAKE_MINUTES = 1440
MAX_HOOK_TIMEOUT_MINUTES = 20160
MAX_ALARMS = 10
# ECS's defaults (botocore's model) for what a strategy's block leaves out.
DEFAULT_STEP_PERCENT, DEFAULT_STEP_BAKE = 10.0, 6
DEFAULT_CANARY_PERCENT, DEFAULT_CANARY_BAKE = 5.0, 10
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
ALARM_NAME = re.compile(r"[^\x00-\x1f]{1,255}")
# What a load balancer of a BLUE_GREEN, LINEAR or CANARY service needs in its advancedConfiguration.
ADVANCED_FIELDS = ("alternateTargetGroupArn", "productionListenerRule", "roleArn")

DEPLOYMENT_FIELDS = frozenset(
    {
        "minimumHealthyPercent",
        "maximumPercent",
        "circuitBreaker",
        "alarms",
        "strategy",
        "bakeTimeMinutes",
        "canary",
        "linear",
    }
)
APPROVAL_FIELDS = frozenset({"stage", "timeoutMinutes", "onTimeout", "approvers"})


@dataclass(frozen=True)
class CircuitBreaker:
    enable: bool | None = None
    rollback: bool | None = None


@dataclass(frozen=True)
class Alarms:
    names: tuple[str, ...]
    rollback: bool | None = None
    enable: bool = True


@dataclass(frozen=True)
class DeploymentSettings:
    """A target's ``deployment`` block: every field optional; what is left out keeps the service's value."""

    minimum_healthy_percent: int | None = None
    maximum_percent: int | None = None
    circuit_breaker: CircuitBreaker | None = None
    alarms: Alarms | None = None
    strategy: str | None = None
    bake_time_minutes: int | None = None
    canary_percent: float | None = None
    canary_bake_minutes: int | None = None
    linear_step_percent: float | None = None
    linear_step_bake_minutes: int | None = None
    named: frozenset[str] = field(default_factory=frozenset)  # the block's fields as given


@dataclass(frozen=True)
class ApprovalSettings:
    """A target's ``approval`` block: a PAUSE hook at ``stage`` that a person answers."""

    stage: str
    timeout_minutes: int = DEFAULT_HOOK_TIMEOUT_MINUTES
    on_timeout: str = "ROLLBACK"
    approvers: tuple[str, ...] = ()  # Slack user ids allowed to answer from Slack


class ApprovalError(DeployError):
    """An approval or rejection that cannot be acted on: nothing awaits one, or the hook was answered."""

    code = "approval"


# -- parsing the blocks -----------------------------------------------------------------------------------


def parse_deployment_block(parameter: str, block: Any) -> DeploymentSettings:
    """Check a ``deployment`` block field by field; ConfigError names the field and the allowed range."""
    if not isinstance(block, dict):
        raise ConfigError(parameter, f"field 'deployment' must be an object, got {json_type(block)}")
    _known(parameter, "deployment", block, DEPLOYMENT_FIELDS)
    strategy = block.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise ConfigError(
            parameter, f"field 'deployment.strategy' must be one of {', '.join(STRATEGIES)}, got {quote(strategy)}"
        )
    minimum = _whole(parameter, "deployment.minimumHealthyPercent", block.get("minimumHealthyPercent"), 0, 100)
    maximum_high = 2000 if strategy in (None, "ROLLING") else 200
    maximum = _whole(parameter, "deployment.maximumPercent", block.get("maximumPercent"), 100, maximum_high)
    breaker = None
    if "circuitBreaker" in block:
        value = block["circuitBreaker"]
        if not isinstance(value, dict):
            raise ConfigError(parameter, f"field 'deployment.circuitBreaker' must be an object, got {json_type(value)}")
        _known(parameter, "deployment.circuitBreaker", value, frozenset({"enable", "rollback"}))
        breaker = CircuitBreaker(
            _flag(parameter, "deployment.circuitBreaker.enable", value.get("enable")),
            _flag(parameter, "deployment.circuitBreaker.rollback", value.get("rollback")),
        )
        if breaker.enable and strategy not in (None, "ROLLING"):
            raise ConfigError(
                parameter,
                f"field 'deployment.circuitBreaker' applies to the ROLLING strategy only, not {strategy}; "
                "drop it (or set enable to false) and detect failures with 'deployment.alarms'",
            )
    alarms = _alarms(parameter, block["alarms"]) if "alarms" in block else None
    bake = _whole(parameter, "deployment.bakeTimeMinutes", block.get("bakeTimeMinutes"), 0, MAX_BAKE_MINUTES)
    if strategy == "BLUE_GREEN" and bake is None:
        raise ConfigError(
            parameter, "field 'deployment.bakeTimeMinutes' is required for the BLUE_GREEN strategy (0-1440)"
        )
    canary_percent = canary_bake = step_percent = step_bake = None
    if "canary" in block:
        if strategy not in (None, "CANARY"):
            raise ConfigError(
                parameter, f"field 'deployment.canary' applies to the CANARY strategy only, not {strategy}"
            )
        canary = _object(parameter, "deployment.canary", block["canary"], frozenset({"percent", "bakeTimeMinutes"}))
        canary_percent = _tenths(parameter, "deployment.canary.percent", canary.get("percent"), 0.1, 100.0)
        canary_bake = _whole(parameter, "deployment.canary.bakeTimeMinutes", canary.get("bakeTimeMinutes"), 0, 1440)
    if "linear" in block:
        if strategy not in (None, "LINEAR"):
            raise ConfigError(
                parameter, f"field 'deployment.linear' applies to the LINEAR strategy only, not {strategy}"
            )
        linear = _object(
            parameter, "deployment.linear", block["linear"], frozenset({"stepPercent", "stepBakeTimeMinutes"})
        )
        step_percent = _tenths(parameter, "deployment.linear.stepPercent", linear.get("stepPercent"), 3.0, 100.0)
        step_bake = _whole(
            parameter, "deployment.linear.stepBakeTimeMinutes", linear.get("stepBakeTimeMinutes"), 0, 1440
        )
    return DeploymentSettings(
        minimum_healthy_percent=minimum,
        maximum_percent=maximum,
        circuit_breaker=breaker,
        alarms=alarms,
        strategy=strategy,
        bake_time_minutes=bake,
        canary_percent=canary_percent,
        canary_bake_minutes=canary_bake,
        linear_step_percent=step_percent,
        linear_step_bake_minutes=step_bake,
        named=frozenset(block),
    )


def parse_approval_block(parameter: str, block: Any, deployment: DeploymentSettings | None) -> ApprovalSettings:
    """Check an ``approval`` block; a stage ECS runs no PAUSE hook at, or a ROLLING strategy, is refused."""
    if not isinstance(block, dict):
        raise ConfigError(parameter, f"field 'approval' must be an object, got {json_type(block)}")
    _known(parameter, "approval", block, APPROVAL_FIELDS)
    stage = block.get("stage")
    if stage not in HOOK_STAGES:
        raise ConfigError(
            parameter, f"field 'approval.stage' must be one of {', '.join(HOOK_STAGES)}, got {quote(stage)}"
        )
    if stage in NO_PAUSE_STAGES:
        raise ConfigError(
            parameter,
            f"field 'approval.stage': ECS runs no PAUSE hook at {stage} (only Lambda hooks run there); "
            "pause before it (PRE_PRODUCTION_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT) or after it",
        )
    strategy = deployment.strategy if deployment else None
    if strategy == "ROLLING":
        raise ConfigError(parameter, no_hooks_message("ROLLING"))
    timeout = _whole(parameter, "approval.timeoutMinutes", block.get("timeoutMinutes"), 1, MAX_HOOK_TIMEOUT_MINUTES)
    on_timeout = block.get("onTimeout", "ROLLBACK")
    if on_timeout not in TIMEOUT_ACTIONS:
        raise ConfigError(
            parameter, f"field 'approval.onTimeout' must be ROLLBACK or CONTINUE, got {quote(on_timeout)}"
        )
    approvers = block.get("approvers", [])
    if not isinstance(approvers, list):
        raise ConfigError(parameter, f"field 'approval.approvers' must be an array, got {json_type(approvers)}")
    for index, approver in enumerate(approvers):
        if not isinstance(approver, str) or not SLACK_USER_ID.fullmatch(approver):
            raise ConfigError(
                parameter,
                f"field 'approval.approvers[{index}]' must be a Slack user id such as \"U0123ABCD\", "
                f"got {quote(approver)}",
            )
    return ApprovalSettings(
        stage=stage,
        timeout_minutes=timeout if timeout is not None else DEFAULT_HOOK_TIMEOUT_MINUTES,
        on_timeout=on_timeout,
        approvers=tuple(approvers),
    )


def no_hooks_message(strategy: str) -> str:
    return (
        f"field 'approval': the service deploys with the {strategy} strategy, and ECS runs lifecycle hooks "
        f"(a PAUSE hook included) for {', '.join(HOOKED_STRATEGIES)} deployments only; set 'deployment.strategy' "
        "to one of those, or drop the approval"
    )


# -- the configuration sent to ECS ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentChange:
    """The ``deploymentConfiguration`` a deploy sends (merged over the service's), and what it means."""

    configuration: dict[str, Any]
    strategy: str
    bake_minutes: int  # the bake times added up: the earliest a deployment can complete, past its rollout
    approval: ApprovalSettings | None = None
    alarm_names: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the plan's step and the notification: the strategy, its bakes, the approval."""
        configuration = self.configuration
        if self.strategy == "CANARY":
            canary = configuration.get("canaryConfiguration", {})
            how = f"CANARY: {canary.get('canaryPercent'):g}% for {canary.get('canaryBakeTimeInMinutes')} min, then 100%"
        elif self.strategy == "LINEAR":
            linear = configuration.get("linearConfiguration", {})
            how = f"LINEAR: {linear.get('stepPercent'):g}% steps, {linear.get('stepBakeTimeInMinutes')} min apart"
        else:
            how = self.strategy
        if self.strategy != "ROLLING":
            how += f"; bake {configuration.get('bakeTimeInMinutes', 0)} min"
        if self.approval is not None:
            how += f"; paused for approval at {self.approval.stage}"
        return how

    def notification_fields(self) -> dict[str, Any]:
        """What the DEPLOYING notification says of the deployment (the channels render it)."""
        fields: dict[str, Any] = {"strategy": self.strategy, "earliestCompletionMinutes": self.bake_minutes}
        if self.approval is not None:
            fields["approval"] = {
                "stage": self.approval.stage,
                "timeoutMinutes": self.approval.timeout_minutes,
                "onTimeout": self.approval.on_timeout,
                "approvers": list(self.approval.approvers),
            }
        return fields


def deployment_change(
    parameter: str,
    settings: DeploymentSettings | None,
    approval: ApprovalSettings | None,
    current: Mapping[str, Any],
    *,
    load_balancers: Sequence[Mapping[str, Any]] = (),
) -> DeploymentChange | None:
    """The configuration to send, merged over ``current`` (the service's, as DescribeServices returns it):
    None when the target names neither block (the service's settings stay untouched). ConfigError names
    what ECS would refuse: a rule of the strategy, or the load balancers' missing advancedConfiguration."""
    if settings is None and approval is None:
        return None
    merged: dict[str, Any] = copy.deepcopy(dict(current))
    settings = settings or DeploymentSettings()
    strategy = settings.strategy or str(merged.get("strategy") or "ROLLING")
    if merged.get("strategy", "ROLLING") != strategy:
        # Another strategy's settings would be refused: they go with the strategy they belong to.
        merged.pop("linearConfiguration", None)
        merged.pop("canaryConfiguration", None)
    merged["strategy"] = strategy
    _merge_failure_detection(merged, settings)
    _merge_strategy_settings(merged, strategy, settings)
    if approval is not None:
        merged["lifecycleHooks"] = with_pause_hook(merged.get("lifecycleHooks") or [], approval)
    _check_merged(
        parameter,
        merged=merged,
        strategy=strategy,
        settings=settings,
        approval=approval,
        load_balancers=load_balancers,
    )
    alarm_names = tuple(str(name) for name in (merged.get("alarms") or {}).get("alarmNames") or ())
    return DeploymentChange(
        configuration=merged,
        strategy=strategy,
        bake_minutes=earliest_completion_minutes(merged),
        approval=approval,
        alarm_names=alarm_names if settings.alarms is not None else (),
    )


def _merge_failure_detection(merged: dict[str, Any], settings: DeploymentSettings) -> None:
    """The percents, the circuit breaker and the alarms, each field named over the service's own."""
    if settings.minimum_healthy_percent is not None:
        merged["minimumHealthyPercent"] = settings.minimum_healthy_percent
    if settings.maximum_percent is not None:
        merged["maximumPercent"] = settings.maximum_percent
    if settings.circuit_breaker is not None:
        breaker = dict(merged.get("deploymentCircuitBreaker") or {"enable": False, "rollback": False})
        if settings.circuit_breaker.enable is not None:
            breaker["enable"] = settings.circuit_breaker.enable
        if settings.circuit_breaker.rollback is not None:
            breaker["rollback"] = settings.circuit_breaker.rollback
        breaker.setdefault("enable", False)
        breaker.setdefault("rollback", False)
        merged["deploymentCircuitBreaker"] = breaker
    if settings.alarms is not None:
        alarms = dict(merged.get("alarms") or {})
        alarms["alarmNames"] = list(settings.alarms.names)
        alarms["enable"] = settings.alarms.enable
        if settings.alarms.rollback is not None:
            alarms["rollback"] = settings.alarms.rollback
        alarms.setdefault("rollback", False)
        merged["alarms"] = alarms


def _merge_strategy_settings(merged: dict[str, Any], strategy: str, settings: DeploymentSettings) -> None:
    """Bake times and the linear or canary settings, ECS's defaults for what neither side names."""
    if settings.bake_time_minutes is not None:
        merged["bakeTimeInMinutes"] = settings.bake_time_minutes
    if strategy == "CANARY":
        canary = dict(merged.get("canaryConfiguration") or {})
        if settings.canary_percent is not None:
            canary["canaryPercent"] = settings.canary_percent
        if settings.canary_bake_minutes is not None:
            canary["canaryBakeTimeInMinutes"] = settings.canary_bake_minutes
        canary.setdefault("canaryPercent", DEFAULT_CANARY_PERCENT)
        canary.setdefault("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE)
        merged["canaryConfiguration"] = canary
    if strategy == "LINEAR":
        linear = dict(merged.get("linearConfiguration") or {})
        if settings.linear_step_percent is not None:
            linear["stepPercent"] = settings.linear_step_percent
        if settings.linear_step_bake_minutes is not None:
            linear["stepBakeTimeInMinutes"] = settings.linear_step_bake_minutes
        linear.setdefault("stepPercent", DEFAULT_STEP_PERCENT)
        linear.setdefault("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE)
        merged["linearConfiguration"] = linear
    if strategy in ("LINEAR", "CANARY"):
        merged.setdefault("bakeTimeInMinutes", 0)


def with_pause_hook(hooks: Sequence[Mapping[str, Any]], approval: ApprovalSettings) -> list[dict[str, Any]]:
    """The service's hooks with the approval's PAUSE hook: a PAUSE hook already at that stage is replaced
    (a deploy before this one added it); every other hook is kept as it is."""
    kept = [
        dict(hook)
        for hook in hooks
        if not (hook.get("targetType") == "PAUSE" and list(hook.get("lifecycleStages") or []) == [approval.stage])
    ]
    kept.append(
        {
            "targetType": "PAUSE",
            "lifecycleStages": [approval.stage],
            "timeoutConfiguration": {"timeoutInMinutes": approval.timeout_minutes, "action": approval.on_timeout},
        }
    )
    return kept


def earliest_completion_minutes(configuration: Mapping[str, Any]) -> int:
    """The bake times a deployment of ``configuration`` waits out, added up (no approval counted)."""
    strategy = configuration.get("strategy", "ROLLING")
    bake = int(configuration.get("bakeTimeInMinutes") or 0) if strategy != "ROLLING" else 0
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        bake += int(canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE))
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        steps = math.ceil(100.0 / float(linear.get("stepPercent", DEFAULT_STEP_PERCENT)) - 1e-9)
        bake += (steps - 1) * int(linear.get("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE))
    return bake


def _check_merged(
    parameter: str,
    *,
    merged: Mapping[str, Any],
    strategy: str,
    settings: DeploymentSettings,
    approval: ApprovalSettings | None,
    load_balancers: Sequence[Mapping[str, Any]],
) -> None:
    """What only the merged configuration shows: a rule of the strategy broken by a setting the service has."""
    breaker = merged.get("deploymentCircuitBreaker") or {}
    if strategy != "ROLLING" and breaker.get("enable"):
        raise ConfigError(
            parameter,
            f"the service has the deployment circuit breaker on, which applies to the ROLLING strategy only, "
            f'not {strategy}: add "circuitBreaker": {{"enable": false}} to \'deployment\' (and use '
            "'deployment.alarms' to detect failures)",
        )
    if strategy == "BLUE_GREEN" and merged.get("bakeTimeInMinutes") is None:
        raise ConfigError(
            parameter, "field 'deployment.bakeTimeMinutes' is required for the BLUE_GREEN strategy (0-1440)"
        )
    maximum = merged.get("maximumPercent")
    if strategy != "ROLLING" and isinstance(maximum, int) and maximum > 200:
        named = (
            "field 'deployment.maximumPercent'"
            if "maximumPercent" in settings.named
            else "the service's maximumPercent"
        )
        raise ConfigError(parameter, f"{named} is {maximum}; with the {strategy} strategy it must be 100-200")
    if approval is not None and strategy == "ROLLING":
        raise ConfigError(parameter, no_hooks_message("ROLLING"))
    if strategy in HOOKED_STRATEGIES:
        for index, balancer in enumerate(load_balancers):
            if not balancer.get("targetGroupArn"):
                continue  # a Classic Load Balancer: ECS refuses it for these strategies by its own message
            advanced = balancer.get("advancedConfiguration") or {}
            missing = [name for name in ADVANCED_FIELDS if not advanced.get(name)]
            if missing:
                raise ConfigError(
                    parameter,
                    f"the {strategy} strategy shifts traffic between target groups: the service's loadBalancers"
                    f"[{index}] ({shorten(str(balancer.get('targetGroupArn')), 80)}) lacks advancedConfiguration "
                    f"{quote_list(missing)}; add them to the service (UpdateService loadBalancers) first",
                )


# -- field helpers ----------------------------------------------------------------------------------------


def _known(parameter: str, where: str, block: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(block) - known)
    if unknown:
        raise ConfigError(
            parameter,
            f"unknown field {quote(f'{where}.{unknown[0]}')}; '{where}' takes {', '.join(sorted(known))}",
        )


def _object(parameter: str, name: str, value: Any, known: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(parameter, f"field '{name}' must be an object, got {json_type(value)}")
    _known(parameter, name, value, known)
    return value


def _whole(parameter: str, name: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(parameter, f"field '{name}' must be a whole number from {low} to {high}, got {quote(value)}")
    if not low <= value <= high:
        raise ConfigError(parameter, f"field '{name}' must be from {low} to {high}, got {quote(value)}")
    return int(value)


def _tenths(parameter: str, name: str, value: Any, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            parameter, f"field '{name}' must be a number from {low:.1f} to {high:.1f}, got {json_type(value)}"
        )
    if not low <= value <= high:
        raise ConfigError(parameter, f"field '{name}' must be from {low:.1f} to {high:.1f}, got {quote(value)}")
    if abs(value * 10 - round(value * 10)) > 1e-9:
        raise ConfigError(
            parameter, f"field '{name}' must be a multiple of 0.1 ({low:.1f}-{high:.1f}), got {quote(value)}"
        )
    return round(float(value), 1)


def _flag(parameter: str, name: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(parameter, f"field '{name}' must be true or false, got {json_type(value)}")
    return value


def _alarms(parameter: str, value: Any) -> Alarms:
    block = _object(parameter, "deployment.alarms", value, frozenset({"names", "rollback", "enable"}))
    names = block.get("names")
    if not isinstance(names, list) or not names:
        raise ConfigError(parameter, "field 'deployment.alarms.names' must list at least one CloudWatch alarm name")
    if len(names) > MAX_ALARMS:
        raise ConfigError(parameter, f"field 'deployment.alarms.names' lists {len(names)}; at most {MAX_ALARMS}")
    for index, name in enumerate(names):
        if not isinstance(name, str) or not ALARM_NAME.fullmatch(name):
            raise ConfigError(
                parameter, f"field 'deployment.alarms.names[{index}]' must be an alarm name (1-255 characters)"
            )
    if len(set(names)) != len(names):
        raise ConfigError(parameter, "field 'deployment.alarms.names' lists the same alarm twice")
    enable = _flag(parameter, "deployment.alarms.enable", block.get("enable"))
    return Alarms(
        tuple(names),
        _flag(parameter, "deployment.alarms.rollback", block.get("rollback")),
        True if enable is None else enable,
    )


def missing_alarms_message(missing: Sequence[str]) -> str:
    """The problem of ``deployment.alarms.names`` naming alarms that do not exist."""
    return (
        f"field 'deployment.alarms.names': no CloudWatch alarm named {quote_list(list(missing))} in this account "
        "and Region (DescribeAlarms); create it or fix the name"
    )
