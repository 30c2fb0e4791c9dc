"""What the Slack approval function needs from its environment, read once into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pushdeploy.settings import SettingsError


@dataclass(frozen=True)
class SlackApprovalSettings:
    """Set by template.yaml for the Slack interactivity function."""

    region: str
    table_name: str
    config_prefix: str
    signing_secret_parameter: str  # a SecureString parameter's name
    config_cache_seconds: int = 30

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SlackApprovalSettings:
        """Read and check the environment (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        required = {
            "AWS_REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
            "TABLE_NAME": env.get("TABLE_NAME", ""),
            "SLACK_SIGNING_SECRET_PARAMETER": env.get("SLACK_SIGNING_SECRET_PARAMETER", ""),
        }
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise SettingsError(f"environment variable(s) {', '.join(missing)} not set")
        prefix = env.get("CONFIG_PREFIX", "/pushdeploy").rstrip("/")
        if not prefix.startswith("/"):
            raise SettingsError(f"CONFIG_PREFIX must start with '/', got {prefix!r}")
        try:
            cache = int(env.get("CONFIG_CACHE_SECONDS", "30"))
        except ValueError as exc:
            raise SettingsError("CONFIG_CACHE_SECONDS must be a whole number of seconds") from exc
        return cls(
            region=required["AWS_REGION"],
            table_name=required["TABLE_NAME"],
            config_prefix=prefix,
            signing_secret_parameter=required["SLACK_SIGNING_SECRET_PARAMETER"],
            config_cache_seconds=cache,
        )
