"""The function's environment, read once into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pushdeploy.domain.errors import DeployError, shorten
from pushdeploy.domain.names import ACCOUNT_ID, account_of


class SettingsError(DeployError):
    """The function's environment is incomplete or wrong (a deployment problem, not an event problem)."""


@dataclass(frozen=True)
class Settings:
    """What the deploy function needs from its environment (set by template.yaml)."""

    region: str
    topic_arn: str
    table_name: str
    config_prefix: str = "/pushdeploy"
    config_cache_seconds: int = 30
    allowed_clusters: tuple[str, ...] = ("*",)
    allowed_families: tuple[str, ...] = ("*",)
    notify_skipped: bool = False
    account_id: str | None = None  # the stack's own account (ACCOUNT_ID), when the template sets it
    timers: TimerSettings | None = None  # how the function sets timers that wake it (TIMER_ROLE_ARN set)
    # Several accounts (domain.accounts): where targets may be, whose registries' pushes are deployed, and
    # how the workload accounts' deploy role is assumed.
    allowed_accounts: tuple[str, ...] = ()
    trusted_accounts: tuple[str, ...] = ()
    organization_id: str | None = None
    workload_role_name: str | None = None  # None: pushdeploy-workload
    workload_external_id: str | None = None
    function_role_arn: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check the environment (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        region, topic_arn, table_name = _required(env)
        prefix = env.get("CONFIG_PREFIX", "/pushdeploy").rstrip("/")
        if not prefix.startswith("/"):
            raise SettingsError(f"CONFIG_PREFIX must start with '/', got {prefix!r}")
        return cls(
            region=region,
            topic_arn=topic_arn,
            table_name=table_name,
            config_prefix=prefix,
            config_cache_seconds=_seconds(env, "CONFIG_CACHE_SECONDS", 30),
            allowed_clusters=_patterns(env, "ALLOWED_CLUSTERS"),
            allowed_families=_patterns(env, "ALLOWED_FAMILIES"),
            notify_skipped=env.get("NOTIFY_SKIPPED", "false").lower() == "true",
            account_id=_account_id(env),
            allowed_accounts=_accounts(env, "ALLOWED_ACCOUNTS"),
            trusted_accounts=_accounts(env, "TRUSTED_ACCOUNTS"),
            organization_id=env.get("ORGANIZATION_ID") or None,
            workload_role_name=env.get("WORKLOAD_ROLE_NAME") or None,
            workload_external_id=env.get("WORKLOAD_EXTERNAL_ID") or None,
            function_role_arn=env.get("FUNCTION_ROLE_ARN") or None,
            timers=TimerSettings.from_environment(env, region, topic_arn),
        )


# The schedules' name prefix when the environment sets no TIMER_PREFIX; also what the use cases are given when the
# stack sets no timers at all (they then set none, so it names nothing).
DEFAULT_TIMER_PREFIX = "pushdeploy-"


@dataclass(frozen=True)
class TimerSettings:
    """Where the deploy function's timers go: one-time schedules that invoke the function itself."""

    function_arn: str  # the schedules' target: this function
    role_arn: str  # the role Scheduler invokes it with
    name_prefix: str  # every schedule of the stack is named <prefix>...
    dead_letter_arn: str | None = None  # where an invocation Scheduler could not make goes

    @classmethod
    def from_environment(cls, env: Mapping[str, str], region: str, topic_arn: str) -> TimerSettings | None:
        """The timer settings, or None when the template sets no TIMER_ROLE_ARN."""
        role_arn = env.get("TIMER_ROLE_ARN", "")
        if not role_arn:
            return None
        function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        account = _account_id(env)
        if not function_name or account is None:
            raise SettingsError("timers need AWS_LAMBDA_FUNCTION_NAME and ACCOUNT_ID (TIMER_ROLE_ARN is set)")
        partition = topic_arn.split(":")[1] if topic_arn.count(":") >= 5 else "aws"
        return cls(
            function_arn=f"arn:{partition}:lambda:{region}:{account}:function:{function_name}",
            role_arn=role_arn,
            name_prefix=env.get("TIMER_PREFIX", DEFAULT_TIMER_PREFIX),
            dead_letter_arn=env.get("TIMER_DEAD_LETTER_ARN") or None,
        )


@dataclass(frozen=True)
class RegistryTrust:
    """Whose registries' pushes the deploy function takes besides the stack's own account's: TrustedAccounts,
    or every account of the OrganizationId."""

    accounts: tuple[str, ...] = ()
    organization: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RegistryTrust:
        """Read TRUSTED_ACCOUNTS and ORGANIZATION_ID (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        return cls(_accounts(env, "TRUSTED_ACCOUNTS"), bool(env.get("ORGANIZATION_ID")))


def _accounts(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of 12-digit account ids (empty: none)."""
    accounts = tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())
    wrong = [account for account in accounts if not ACCOUNT_ID.fullmatch(account)]
    if wrong:
        raise SettingsError(f"{name} must list 12-digit account ids, got '{shorten(wrong[0])}'")
    return accounts


@dataclass(frozen=True)
class TrackerSettings:
    """What the tracker function needs from its environment."""

    region: str
    topic_arn: str
    table_name: str
    account_id: str | None = None  # the stack's own: workload accounts' deployments are keyed by account
    # Promotion: the soak timers it sets when a deploy completes (they wake the deploy function, named by
    # DEPLOY_FUNCTION_NAME), from the target configs under CONFIG_PREFIX. None: it sets none.
    config_prefix: str | None = None
    timers: TimerSettings | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TrackerSettings:
        """Read and check the environment (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        region, topic_arn, table_name = _required(env)
        account_id = _account_id(env)
        deploy_function = env.get("DEPLOY_FUNCTION_NAME", "")
        prefix = env.get("CONFIG_PREFIX", "").rstrip("/") or None
        if not deploy_function or prefix is None:
            return cls(region=region, topic_arn=topic_arn, table_name=table_name, account_id=account_id)
        timers = TimerSettings.from_environment({**env, "AWS_LAMBDA_FUNCTION_NAME": deploy_function}, region, topic_arn)
        return cls(
            region=region,
            topic_arn=topic_arn,
            table_name=table_name,
            account_id=account_id,
            config_prefix=prefix,
            timers=timers,
        )


def _required(env: Mapping[str, str]) -> tuple[str, str, str]:
    """The Region, topic ARN and table name every function of the stack is given; SettingsError names
    those missing."""
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    required = {"AWS_REGION": region, "TOPIC_ARN": env.get("TOPIC_ARN", ""), "TABLE_NAME": env.get("TABLE_NAME", "")}
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise SettingsError(f"environment variable(s) {', '.join(missing)} not set")
    return region, required["TOPIC_ARN"], required["TABLE_NAME"]


def _account_id(env: Mapping[str, str]) -> str | None:
    value = env.get("ACCOUNT_ID", "")
    if not value:
        return None
    if not ACCOUNT_ID.fullmatch(value):
        raise SettingsError(f"ACCOUNT_ID must be a 12-digit account id, got '{shorten(value)}'")
    return value


def function_account(invoked_function_arn: str) -> str:
    """The function's own account, read from its Lambda context's ``invoked_function_arn``."""
    account = account_of(invoked_function_arn)
    if account is None:
        raise SettingsError(
            f"the Lambda context's invoked_function_arn '{shorten(invoked_function_arn)}' names no account"
        )
    return account


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name, str(default)))
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number of seconds") from exc
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


def _patterns(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    patterns = tuple(item.strip() for item in env.get(name, "*").split(",") if item.strip())
    if not patterns:
        raise SettingsError(f"{name} must name at least one pattern ('*' allows all)")
    return patterns


@dataclass(frozen=True)
class SlackSettings:
    """What the Slack notifier function needs from its environment."""

    region: str
    webhook_path: str  # Parameter Store path of the webhook URLs: <path>/default, <path>/<target's webhook>
    webhook_cache_seconds: int = 300
    allow_loopback: bool = False  # tests only: accept http://127.0.0.1 webhooks

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SlackSettings:
        """Read and check the environment (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        required = {"AWS_REGION": region, "SLACK_WEBHOOK_PATH": env.get("SLACK_WEBHOOK_PATH")}
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise SettingsError(f"environment variable(s) {', '.join(missing)} not set")
        path = str(required["SLACK_WEBHOOK_PATH"]).rstrip("/")
        if not path.startswith("/"):
            raise SettingsError(f"SLACK_WEBHOOK_PATH must start with '/', got {path!r}")
        return cls(
            region=str(region),
            webhook_path=path,
            webhook_cache_seconds=_seconds(env, "WEBHOOK_CACHE_SECONDS", 300),
            allow_loopback=env.get("SLACK_ALLOW_LOOPBACK", "false").lower() == "true",
        )


@dataclass(frozen=True)
class SlackApprovalSettings:
    """Set by template.yaml for the Slack interactivity function."""

    region: str
    table_name: str
    config_prefix: str
    signing_secret_parameter: str  # a SecureString parameter's name
    config_cache_seconds: int = 30
    allow_loopback: bool = False  # tests only: accept http://127.0.0.1 response URLs

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
            allow_loopback=env.get("SLACK_ALLOW_LOOPBACK", "false").lower() == "true",
        )
