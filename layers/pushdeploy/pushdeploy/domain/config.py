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
KNOWN_FIELDS = frozenset({*REQUIRED_FIELDS, "containers", "secrets", "secretsPath", "environment"})


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
    )


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
