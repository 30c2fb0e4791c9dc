"""The function's environment, read once into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pushdeploy.domain.errors import DeployError


class SettingsError(DeployError):
    """The function's environment is incomplete or wrong (a deployment problem, not an event problem)."""


@dataclass(frozen=True)
class Settings:
    """What the deploy function needs from its environment."""

    region: str
    topic_arn: str
    config_prefix: str = "/pushdeploy"
    config_cache_seconds: int = 30

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check the environment (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        topic_arn = env.get("TOPIC_ARN")
        missing = [name for name, value in (("AWS_REGION", region), ("TOPIC_ARN", topic_arn)) if not value]
        if missing:
            raise SettingsError(f"environment variable(s) {', '.join(missing)} not set")
        prefix = env.get("CONFIG_PREFIX", "/pushdeploy").rstrip("/")
        if not prefix.startswith("/"):
            raise SettingsError(f"CONFIG_PREFIX must start with '/', got {prefix!r}")
        try:
            cache_seconds = int(env.get("CONFIG_CACHE_SECONDS", "30"))
        except ValueError as exc:
            raise SettingsError("CONFIG_CACHE_SECONDS must be a whole number of seconds") from exc
        return cls(
            region=str(region),
            topic_arn=str(topic_arn),
            config_prefix=prefix,
            config_cache_seconds=cache_seconds,
        )
