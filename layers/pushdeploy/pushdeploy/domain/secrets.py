"""Secrets as a task definition takes them: ``valueFrom`` ARNs, never values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pushdeploy.domain.config import TargetConfig
from pushdeploy.domain.errors import ConfigError, shorten
from pushdeploy.domain.names import ENV_NAME, parse_arn
from pushdeploy.domain.push import AwsLocation


@dataclass(frozen=True)
class SecretReference:
    """A secret's ``valueFrom`` and, for a parameter in this Region and account, its name (checkable)."""

    value_from: str
    local_parameter: str | None


def resolve_secret(reference: str, location: AwsLocation) -> SecretReference:
    """Turn a config's secret reference (a parameter name or an ARN) into a ``valueFrom`` ARN."""
    if not reference.startswith("arn:"):
        name = f"/{reference}" if "/" in reference and not reference.startswith("/") else reference
        return SecretReference(location.parameter_arn(name), name)
    arn = parse_arn(reference)
    in_this_location = arn is not None and (arn.region, arn.account) == (location.region, location.account)
    if arn is not None and in_this_location and arn.service == "ssm" and arn.resource.startswith("parameter/"):
        name = arn.resource.removeprefix("parameter")
        # A hierarchical name keeps its leading slash; a flat one has none.
        return SecretReference(reference, name if name.count("/") > 1 else name.lstrip("/"))
    return SecretReference(reference, None)


def target_secrets(
    config: TargetConfig, names_under_path: Iterable[str], location: AwsLocation
) -> dict[str, SecretReference]:
    """Every secret a target injects: the parameters directly under ``secretsPath`` (named by their last
    path segment), then ``secrets``, which wins on a clash."""
    references: dict[str, str] = {}
    for parameter in sorted(names_under_path):
        env_name = parameter.rsplit("/", 1)[-1]
        if not ENV_NAME.fullmatch(env_name):
            raise ConfigError(
                config.parameter,
                f"parameter {shorten(parameter, 300)} under secretsPath {config.secrets_path} is not named like an "
                "environment variable (letters, digits, underscores); rename it or list it in 'secrets'",
            )
        if env_name in config.environment:
            raise ConfigError(
                config.parameter,
                f"parameter {shorten(parameter, 300)} under secretsPath {config.secrets_path} and 'environment' "
                f"both set {shorten(env_name)}; keep one",
            )
        references[env_name] = parameter
    references.update(config.secrets)
    return {name: resolve_secret(reference, location) for name, reference in references.items()}
