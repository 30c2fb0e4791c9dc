"""Target configuration: one JSON parameter per deploy target, parsed and checked here."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pushdeploy.domain.accounts import ACCOUNT_FIELDS, TargetAccount, parse_account_fields
from pushdeploy.domain.errors import ConfigError, json_type, quote, quote_list, quote_name, shorten
from pushdeploy.domain.names import (
    ECS_ARN,
    ECS_NAME,
    ENV_NAME,
    FAMILY,
    PARAMETER_NAME,
    SECRETS_MANAGER_ARN,
    SSM_ARN,
    WEBHOOK_NAME,
    parse_arn,
    resource_name,
    service_cluster,
    target_name,
)
from pushdeploy.domain.policy import tag_policy
from pushdeploy.domain.strategy import (
    ApprovalSettings,
    DeploymentSettings,
    parse_approval_block,
    parse_deployment_block,
)
from pushdeploy.domain.tasks import OneOffTask, TaskPhase, parse_task_list

if TYPE_CHECKING:
    from pushdeploy.domain.gates import GateSettings
    from pushdeploy.domain.promotion import PromotionSettings

# target_name moved to domain.names; kept importable from here.
__all__ = [
    "CREATE_FIELDS",
    "KNOWN_FIELDS",
    "MAX_CONTAINERS",
    "REQUIRED_FIELDS",
    "CreateService",
    "TargetConfig",
    "create_service_request",
    "is_secret_reference",
    "parse_target_config",
    "target_config_from_document",
    "target_name",
]

MAX_CONTAINERS = 10
_SUGGESTABLE_LENGTH = 64  # a longer name is no typo of a known field: not worth comparing

REQUIRED_FIELDS = ("cluster", "service", "tags")
KNOWN_FIELDS = frozenset(
    {
        *REQUIRED_FIELDS,
        "containers",
        "secrets",
        "secretsPath",
        "environment",
        "create",
        "slackWebhook",
        "deployment",
        "approval",
        "exclude",
        *ACCOUNT_FIELDS,
        "beforeDeploy",
        "afterDeploy",
        "gates",
        "promote",
    }
)
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
    deployment: DeploymentSettings | None = None  # how the service deploys (None: its own settings, untouched)
    approval: ApprovalSettings | None = None  # a PAUSE hook a person answers
    exclude: tuple[str, ...] = ()  # tag patterns that never deploy, whatever ``tags`` says (domain.policy)
    account: TargetAccount = field(default_factory=TargetAccount)  # workload account and Region (default: own)
    before_deploy: tuple[OneOffTask, ...] = ()  # one-off tasks of the new revision before the update (domain.tasks)
    after_deploy: tuple[OneOffTask, ...] = ()  # one-off tasks once the deployment COMPLETED
    gates: GateSettings | None = None  # what the image must pass before anything is registered
    promote: PromotionSettings | None = None  # deploy what another target completed, after a soak


@lru_cache(maxsize=1024)
def parse_target_config(parameter: str, raw: str) -> TargetConfig:
    """Parse and check the JSON ``raw`` stored in ``parameter``; ConfigError names the parameter and field.

    A config is parsed once per value (the result is immutable): a push reads every target config of its
    repository, and its own time must not grow with the ones that do not match."""
    try:
        document = json.loads(raw, object_pairs_hook=_object_without_duplicate_keys)
    except _DuplicateKeysError as exc:
        raise ConfigError(
            parameter,
            f"key(s) {quote_list(exc.keys, render=quote_name)} appear more than once in one JSON object "
            "(only the last would count); keep one of each",
        ) from None
    except json.JSONDecodeError as exc:
        hint = " (is it a SecureString? store target configs as String)" if raw.startswith("AQ") else ""
        problem = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}"
        raise ConfigError(parameter, problem) from exc
    except (ValueError, RecursionError) as exc:  # e.g. a number too long to convert, nesting too deep
        raise ConfigError(parameter, f"not usable JSON: {shorten(str(exc), 200)}") from exc
    return target_config_from_document(parameter, document)


class _DuplicateKeysError(ValueError):
    """A JSON object names the same key twice (json keeps the last and drops the others silently)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' object hook, called for every object at every level: refuse a key given twice."""
    document: dict[str, Any] = {}
    duplicates: list[str] = []
    for key, value in pairs:
        if key in document and key not in duplicates:
            duplicates.append(key)
        document[key] = value
    if duplicates:
        raise _DuplicateKeysError(duplicates)
    return document


def target_config_from_document(parameter: str, document: Any) -> TargetConfig:
    """Check an already-decoded config document; see ``parse_target_config``."""
    if not isinstance(document, dict):
        raise ConfigError(parameter, f"must be a JSON object, got {json_type(document)}")
    unknown = [name for name in document if name not in KNOWN_FIELDS]
    for name in REQUIRED_FIELDS:
        if name == "tags" and "tags" not in document and "promote" in document:
            continue  # a target that only promotes matches no tag
        if name not in document:
            candidates = [key for key in unknown if len(key) <= _SUGGESTABLE_LENGTH]
            typo = difflib.get_close_matches(name, candidates, n=1)
            hint = f" (found {quote_name(typo[0])}: a typo?)" if typo else ""
            raise ConfigError(parameter, f"missing required field '{name}'{hint}")
    if unknown:
        more = f"; {len(unknown) - 1:,} more unknown field(s)" if len(unknown) > 1 else ""
        raise ConfigError(
            parameter, f"unknown field {quote_name(unknown[0])}{_suggestion(unknown[0], KNOWN_FIELDS)}{more}"
        )

    cluster = _ecs_identifier(parameter, "cluster", document["cluster"])
    service = _ecs_identifier(parameter, "service", document["service"])
    _check_service_cluster(parameter, cluster, service)
    tags = _string_list(parameter, "tags", document["tags"]) if "tags" in document else ()
    if not tags and "promote" not in document:
        raise ConfigError(parameter, "field 'tags' must list at least one tag pattern, e.g. [\"staging-*\"]")
    exclude = _string_list(parameter, "exclude", document["exclude"]) if "exclude" in document else ()
    tag_policy(parameter, tags, exclude)  # every pattern checked (and compiled once) now: ConfigError names it

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
                f"field 'secrets.{shorten(env_name)}': '{shorten(reference)}' is neither a Parameter "
                "Store name (/path/NAME) nor an SSM parameter or Secrets Manager ARN",
            )
    environment = _string_map(parameter, "environment", document.get("environment", {}))
    clash = sorted(set(secrets) & set(environment))
    if clash:
        raise ConfigError(
            parameter, f"{quote_list(clash, render=shorten)} set in both 'secrets' and 'environment'; keep one"
        )

    secrets_path = document.get("secretsPath")
    if secrets_path is not None:
        if (
            not isinstance(secrets_path, str)
            or not secrets_path.startswith("/")
            or not PARAMETER_NAME.fullmatch(secrets_path)
        ):
            raise ConfigError(
                parameter,
                "field 'secretsPath' must be a Parameter Store path such as "
                f'"/api/staging/env", got {quote(secrets_path)}',
            )
        secrets_path = secrets_path.rstrip("/") or "/"

    create = _create_block(parameter, document["create"]) if document.get("create") is not None else None
    slack_webhook = document.get("slackWebhook")
    if slack_webhook is not None and (not isinstance(slack_webhook, str) or not WEBHOOK_NAME.fullmatch(slack_webhook)):
        raise ConfigError(
            parameter,
            "field 'slackWebhook' must name a webhook parameter under the stack's "
            f"SlackWebhookPath (letters, digits, . _ -), got {quote(slack_webhook)}",
        )

    deployment = parse_deployment_block(parameter, document["deployment"]) if "deployment" in document else None
    approval = parse_approval_block(parameter, document["approval"], deployment) if "approval" in document else None
    account = _account_without_tasks(parameter, document)
    gates = _gates(parameter, document["gates"]) if "gates" in document else None
    promote = _promote(parameter, document["promote"]) if "promote" in document else None

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
        deployment=deployment,
        approval=approval,
        exclude=exclude,
        account=account,
        before_deploy=parse_task_list(parameter, TaskPhase.BEFORE.value, document["beforeDeploy"])
        if document.get("beforeDeploy") is not None
        else (),
        after_deploy=parse_task_list(parameter, TaskPhase.AFTER.value, document["afterDeploy"])
        if document.get("afterDeploy") is not None
        else (),
        gates=gates,
        promote=promote,
    )


def _gates(parameter: str, block: Any) -> GateSettings:
    # Imported here: a push to a target without gates never loads their module (cold start).
    from pushdeploy.domain.gates import parse_gates_block  # noqa: PLC0415

    return parse_gates_block(parameter, block)


def _promote(parameter: str, block: Any) -> PromotionSettings:
    from pushdeploy.domain.promotion import parse_promote_block  # noqa: PLC0415 - as _gates

    return parse_promote_block(parameter, target_name(parameter), block)


def _account_without_tasks(parameter: str, document: Mapping[str, Any]) -> TargetAccount:
    """The target's account fields; a target in another account or Region has no one-off tasks (they would
    run in the stack's own)."""
    account = parse_account_fields(parameter, document)
    tasks = [name for name in ("beforeDeploy", "afterDeploy") if document.get(name)]
    if tasks and (account.account is not None or account.region is not None):
        raise ConfigError(
            parameter,
            f"field '{tasks[0]}': one-off tasks run in the stack's own account and Region only, and this target "
            "names an 'account' or 'region'; run the migration from a pushdeploy in that account, or drop the field",
        )
    return account


def _create_block(parameter: str, block: Any) -> CreateService:
    if not isinstance(block, dict):
        raise ConfigError(parameter, f"field 'create' must be an object, got {json_type(block)}")
    for name in block:
        if name not in CREATE_FIELDS:
            raise ConfigError(parameter, f"unknown field 'create.{shorten(name)}'{_suggestion(name, CREATE_FIELDS)}")
    family = block.get("taskDefinition")
    if not isinstance(family, str) or not FAMILY.fullmatch(family):
        raise ConfigError(
            parameter,
            f"field 'create.taskDefinition' must name the task-definition family to start from, got {quote(family)}",
        )
    count = block.get("desiredCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 5000:
        raise ConfigError(parameter, f"field 'create.desiredCount' must be a whole number 0-5000, got {quote(count)}")
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
        raise ConfigError(
            parameter, f"unknown field(s) in awsvpcConfiguration: {quote_list(sorted(unknown), render=quote_name)}"
        )


def _object_list(parameter: str, name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(parameter, f"field '{name}' must be a list of objects")
    return list(value)


def create_service_request(
    config: TargetConfig, task_definition_arn: str, deployment_configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The CreateService request for a target's ``create`` block, on ``task_definition_arn``;
    ``deployment_configuration`` (the target's ``deployment`` and ``approval``, as ``domain.strategy`` merged
    them over the create block's circuit breaker) replaces the default one."""
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
    if deployment_configuration is not None:
        request["deploymentConfiguration"] = dict(deployment_configuration)
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
        SSM_ARN.fullmatch(reference) or SECRETS_MANAGER_ARN.fullmatch(reference) or PARAMETER_NAME.fullmatch(reference)
    )


def _ecs_identifier(parameter: str, name: str, value: Any) -> str:
    """A cluster or service name, or an ARN of that kind of resource (not a service ARN for a cluster)."""
    arn = parse_arn(value) if isinstance(value, str) else None
    if not isinstance(value, str) or not (
        ECS_NAME.fullmatch(value)
        or (ECS_ARN.fullmatch(value) and arn is not None and arn.resource.startswith(f"{name}/"))
    ):
        raise ConfigError(parameter, f"field '{name}' must be an ECS {name} name or ARN, got {quote(value)}")
    return value


def _check_service_cluster(parameter: str, cluster: str, service: str) -> None:
    """A service ARN names its cluster: it must be the target's cluster, which the stack's scope is checked on."""
    named = service_cluster(service)
    if named is not None and named != resource_name(cluster):
        raise ConfigError(
            parameter,
            f"field 'service' is a service of cluster {shorten(named)}, but field 'cluster' is "
            f"{shorten(resource_name(cluster))}; name the service's own cluster",
        )
    cluster_arn, service_arn = parse_arn(cluster), parse_arn(service)
    if (
        cluster_arn is not None
        and service_arn is not None
        and (cluster_arn.account, cluster_arn.region)
        != (
            service_arn.account,
            service_arn.region,
        )
    ):
        raise ConfigError(parameter, "fields 'cluster' and 'service' are ARNs of different accounts or Regions")


def _string_list(parameter: str, name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(parameter, f"field '{name}' must be a list of strings, got {json_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ConfigError(parameter, f"field '{name}[{index}]' must be a non-empty string, got {quote(item)}")
    if len(set(value)) != len(value):
        raise ConfigError(parameter, f"field '{name}' lists the same value twice")
    return tuple(value)


def _string_map(parameter: str, name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(parameter, f"field '{name}' must be an object of NAME: value, got {json_type(value)}")
    for key, item in value.items():
        if not ENV_NAME.fullmatch(key):
            raise ConfigError(parameter, f"field '{name}': {quote_name(key)} is not a valid environment variable name")
        if not isinstance(item, str):
            raise ConfigError(
                parameter,
                f"field '{name}.{shorten(key)}' must be a string, got {json_type(item)} "
                f"(write {quote(json.dumps(item))})",
            )
    return dict(value)


def _suggestion(name: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1) if len(name) <= _SUGGESTABLE_LENGTH else []
    return f" (did you mean '{close[0]}'?)" if close else f"; known fields: {', '.join(sorted(known))}"
