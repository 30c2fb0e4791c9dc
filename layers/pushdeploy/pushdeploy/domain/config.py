"""Target configuration: one JSON parameter per deploy target, parsed and checked here."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pushdeploy.domain.errors import ConfigError

MAX_CONTAINERS = 10
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A cluster or service is named (1-255 letters, digits, hyphens, underscores) or given by its ARN.
_ECS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ECS_ARN = re.compile(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:(cluster|service)/[A-Za-z0-9_/-]{1,512}$")
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,2048}$")
_SSM_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_.\-/]+$")
_SECRETS_MANAGER_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")

REQUIRED_FIELDS = ("cluster", "service", "tags")
KNOWN_FIELDS = frozenset(
    {*REQUIRED_FIELDS, "containers", "secrets", "secretsPath", "environment", "create", "slackWebhook"}
)
_WEBHOOK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
CREATE_FIELDS = frozenset(
    {
        "taskDefinition",
        "desiredCount",
        "launchType",
        "platformVersion",
        "networkConfiguration",
        "loadBalancers",
        "capacityProviderStrategy",
        "circuitBreaker",
    }
)
_LAUNCH_TYPES = ("FARGATE", "EC2", "EXTERNAL")
_FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass(frozen=True)
class CreateService:
    """How to create the target's service when it does not exist (or was deleted)."""

    family: str
    desired_count: int = 1
    launch_type: str | None = None
    platform_version: str | None = None
    network_configuration: Mapping[str, Any] | None = None
    load_balancers: tuple[Mapping[str, Any], ...] = ()
    capacity_provider_strategy: tuple[Mapping[str, Any], ...] = ()
    circuit_breaker: bool = True


@dataclass(frozen=True)
class TargetConfig:
    """One deploy target of a repository, as stored at ``<prefix>/<repository>/<target>``."""

    name: str
    parameter: str
    cluster: str
    service: str
    tags: tuple[str, ...]
    containers: tuple[str, ...] | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    secrets_path: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    create: CreateService | None = None
    slack_webhook: str | None = None  # a parameter name under the stack's SlackWebhookPath


def target_name(parameter: str) -> str:
    """The target's name: the last segment of its parameter name."""
    return parameter.rstrip("/").rsplit("/", 1)[-1]


def parse_target_config(parameter: str, raw: str) -> TargetConfig:
    """Parse and check the JSON ``raw`` stored in ``parameter``; ConfigError names the parameter and field."""
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        hint = " (is it a SecureString? store target configs as String)" if raw.startswith("AQ") else ""
        problem = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}"
        raise ConfigError(parameter, problem) from exc
    except (ValueError, RecursionError) as exc:  # e.g. a number too long to convert, nesting too deep
        raise ConfigError(parameter, f"not usable JSON: {str(exc)[:200]}") from exc
    return target_config_from_document(parameter, document)


def target_config_from_document(parameter: str, document: Any) -> TargetConfig:
    """Check an already-decoded config document; see ``parse_target_config``."""
    if not isinstance(document, dict):
        raise ConfigError(parameter, f"must be a JSON object, got {_json_type(document)}")
    for name in REQUIRED_FIELDS:
        if name not in document:
            typo = difflib.get_close_matches(name, [key for key in document if key not in KNOWN_FIELDS], n=1)
            hint = f" (found '{typo[0]}': a typo?)" if typo else ""
            raise ConfigError(parameter, f"missing required field '{name}'{hint}")
    for name in document:
        if name not in KNOWN_FIELDS:
            raise ConfigError(parameter, f"unknown field '{name}'{_suggestion(name, KNOWN_FIELDS)}")

    cluster = _ecs_identifier(parameter, "cluster", document["cluster"])
    service = _ecs_identifier(parameter, "service", document["service"])
    tags = _string_list(parameter, "tags", document["tags"])
    if not tags:
        raise ConfigError(parameter, "field 'tags' must list at least one tag pattern, e.g. [\"staging-*\"]")

    containers: tuple[str, ...] | None = None
    if document.get("containers") is not None:
        containers = _string_list(parameter, "containers", document["containers"])
        if not containers:
            raise ConfigError(
                parameter,
                "field 'containers' is empty: omit it to update every container "
                "whose image comes from the pushed repository",
            )
        if len(containers) > MAX_CONTAINERS:
            raise ConfigError(
                parameter,
                f"field 'containers' lists {len(containers)}; a task definition holds at most {MAX_CONTAINERS}",
            )

    secrets = _string_map(parameter, "secrets", document.get("secrets", {}))
    for env_name, reference in secrets.items():
        if not is_secret_reference(reference):
            raise ConfigError(
                parameter,
                f"field 'secrets.{env_name}': '{reference}' is neither a Parameter "
                "Store name (/path/NAME) nor an SSM parameter or Secrets Manager ARN",
            )
    environment = _string_map(parameter, "environment", document.get("environment", {}))
    clash = sorted(set(secrets) & set(environment))
    if clash:
        raise ConfigError(parameter, f"{', '.join(clash)} set in both 'secrets' and 'environment'; keep one")

    secrets_path = document.get("secretsPath")
    if secrets_path is not None:
        if (
            not isinstance(secrets_path, str)
            or not secrets_path.startswith("/")
            or not _PARAMETER_NAME.fullmatch(secrets_path)
        ):
            raise ConfigError(
                parameter,
                "field 'secretsPath' must be a Parameter Store path such as "
                f'"/api/staging/env", got {json.dumps(secrets_path)}',
            )
        secrets_path = secrets_path.rstrip("/") or "/"

    create = _create_block(parameter, document["create"]) if document.get("create") is not None else None
    slack_webhook = document.get("slackWebhook")
    if slack_webhook is not None and (not isinstance(slack_webhook, str) or not _WEBHOOK_NAME.fullmatch(slack_webhook)):
        raise ConfigError(
            parameter,
            "field 'slackWebhook' must name a webhook parameter under the stack's "
            f"SlackWebhookPath (letters, digits, . _ -), got {json.dumps(slack_webhook)}",
        )

    return TargetConfig(
        name=target_name(parameter),
        parameter=parameter,
        cluster=cluster,
        service=service,
        tags=tags,
        containers=containers,
        secrets=secrets,
        secrets_path=secrets_path,
        environment=environment,
        create=create,
        slack_webhook=slack_webhook,
    )


def _create_block(parameter: str, block: Any) -> CreateService:
    if not isinstance(block, dict):
        raise ConfigError(parameter, f"field 'create' must be an object, got {_json_type(block)}")
    for name in block:
        if name not in CREATE_FIELDS:
            raise ConfigError(parameter, f"unknown field 'create.{name}'{_suggestion(name, CREATE_FIELDS)}")
    family = block.get("taskDefinition")
    if not isinstance(family, str) or not _FAMILY.fullmatch(family):
        raise ConfigError(
            parameter,
            "field 'create.taskDefinition' must name the task-definition family to start "
            f"from, got {json.dumps(family)}",
        )
    count = block.get("desiredCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 5000:
        raise ConfigError(
            parameter, f"field 'create.desiredCount' must be a whole number 0-5000, got {json.dumps(count)}"
        )
    launch_type = block.get("launchType")
    if launch_type is not None and launch_type not in _LAUNCH_TYPES:
        raise ConfigError(parameter, f"field 'create.launchType' must be one of {', '.join(_LAUNCH_TYPES)}")
    if launch_type is not None and block.get("capacityProviderStrategy"):
        raise ConfigError(parameter, "'create' takes launchType or capacityProviderStrategy, not both")
    platform = block.get("platformVersion")
    if platform is not None and not isinstance(platform, str):
        raise ConfigError(parameter, "field 'create.platformVersion' must be a string such as \"LATEST\"")
    network = block.get("networkConfiguration")
    if network is not None:
        _check_network(parameter, network)
    balancers = _object_list(parameter, "create.loadBalancers", block.get("loadBalancers", []))
    for index, balancer in enumerate(balancers):
        if not isinstance(balancer.get("containerName"), str) or not isinstance(balancer.get("containerPort"), int):
            raise ConfigError(
                parameter,
                f"field 'create.loadBalancers[{index}]' needs containerName and "
                "containerPort (and targetGroupArn or loadBalancerName)",
            )
    strategy = _object_list(parameter, "create.capacityProviderStrategy", block.get("capacityProviderStrategy", []))
    breaker = block.get("circuitBreaker", True)
    if not isinstance(breaker, bool):
        raise ConfigError(parameter, "field 'create.circuitBreaker' must be true or false")
    return CreateService(
        family=family,
        desired_count=count,
        launch_type=launch_type,
        platform_version=platform,
        network_configuration=network,
        load_balancers=tuple(balancers),
        capacity_provider_strategy=tuple(strategy),
        circuit_breaker=breaker,
    )


def _check_network(parameter: str, network: Any) -> None:
    vpc = network.get("awsvpcConfiguration") if isinstance(network, dict) else None
    if not isinstance(vpc, dict) or set(network) != {"awsvpcConfiguration"}:
        raise ConfigError(
            parameter,
            "field 'create.networkConfiguration' must be "
            '{"awsvpcConfiguration": {"subnets": [...], "securityGroups": [...]}}',
        )
    for name in ("subnets", "securityGroups"):
        values = vpc.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise ConfigError(
                parameter, f"field 'create.networkConfiguration.awsvpcConfiguration.{name}' must be a list of ids"
            )
    if not vpc.get("subnets"):
        raise ConfigError(parameter, "field 'create.networkConfiguration.awsvpcConfiguration.subnets' is required")
    if not isinstance(vpc.get("assignPublicIp", "DISABLED"), str) or vpc.get("assignPublicIp", "DISABLED") not in {
        "ENABLED",
        "DISABLED",
    }:
        raise ConfigError(parameter, "field 'create...assignPublicIp' must be ENABLED or DISABLED")
    unknown = set(vpc) - {"subnets", "securityGroups", "assignPublicIp"}
    if unknown:
        raise ConfigError(parameter, f"unknown field(s) in awsvpcConfiguration: {', '.join(sorted(unknown))}")


def _object_list(parameter: str, name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(parameter, f"field '{name}' must be a list of objects")
    return list(value)


def create_service_request(config: TargetConfig, task_definition_arn: str) -> dict[str, Any]:
    """The CreateService request for a target's ``create`` block, on ``task_definition_arn``."""
    create = config.create
    assert create is not None
    request: dict[str, Any] = {
        "cluster": config.cluster,
        "serviceName": config.service,
        "taskDefinition": task_definition_arn,
        "desiredCount": create.desired_count,
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": create.circuit_breaker, "rollback": create.circuit_breaker},
        },
        "propagateTags": "TASK_DEFINITION",
        "enableECSManagedTags": True,
    }
    for key, value in (
        ("launchType", create.launch_type),
        ("platformVersion", create.platform_version),
        ("networkConfiguration", create.network_configuration),
    ):
        if value is not None:
            request[key] = value
    if create.load_balancers:
        request["loadBalancers"] = list(create.load_balancers)
    if create.capacity_provider_strategy:
        request["capacityProviderStrategy"] = list(create.capacity_provider_strategy)
    return request


def is_secret_reference(reference: str) -> bool:
    """True for a Parameter Store name or ARN, or a Secrets Manager ARN."""
    return bool(
        _SSM_ARN.fullmatch(reference)
        or _SECRETS_MANAGER_ARN.fullmatch(reference)
        or _PARAMETER_NAME.fullmatch(reference)
    )


def _ecs_identifier(parameter: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not (_ECS_NAME.fullmatch(value) or _ECS_ARN.fullmatch(value)):
        raise ConfigError(parameter, f"field '{name}' must be an ECS {name} name or ARN, got {json.dumps(value)}")
    return value


def _string_list(parameter: str, name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(parameter, f"field '{name}' must be a list of strings, got {_json_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ConfigError(parameter, f"field '{name}[{index}]' must be a non-empty string, got {json.dumps(item)}")
    if len(set(value)) != len(value):
        raise ConfigError(parameter, f"field '{name}' lists the same value twice")
    return tuple(value)


def _string_map(parameter: str, name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(parameter, f"field '{name}' must be an object of NAME: value, got {_json_type(value)}")
    for key, item in value.items():
        if not _ENV_NAME.fullmatch(key):
            raise ConfigError(parameter, f"field '{name}': '{key}' is not a valid environment variable name")
        if not isinstance(item, str):
            raise ConfigError(
                parameter,
                f"field '{name}.{key}' must be a string, got {_json_type(item)} (write {json.dumps(json.dumps(item))})",
            )
    return dict(value)


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case _:
            return "an object"


def _suggestion(name: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f"; known fields: {', '.join(sorted(known))}"
