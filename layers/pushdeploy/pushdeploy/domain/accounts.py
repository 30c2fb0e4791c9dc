"""Where a target lives and where its image comes from, across the accounts of an organization.

One central pushdeploy serves a registry account (or several) and many workload accounts. This module decides,
without AWS calls, which account and Region a target is deployed in, whether the stack may act there
(AllowedAccounts), the configuration path and ledger key of a repository in a foreign registry, and the
session name of the role pushdeploy assumes in a workload account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pushdeploy.domain.errors import ClusterNotFoundError, ConfigError, DeployError, quote, quote_list, shorten
from pushdeploy.domain.names import ACCOUNT_ID, REGION

ACCOUNT_FIELDS = ("account", "region", "accountAlias")
ACCOUNT_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+=@-]{0,62}")
# STS AssumeRole's RoleSessionName (botocore's model): 2-64 characters of [\w+=,.@-].
SESSION_NAME_CHARACTERS = re.compile(r"[^\w+=,.@-]", re.ASCII)
SESSION_NAME_MAX = 64
# The role in each workload account (accounts/workload.yaml creates it under this name).
WORKLOAD_ROLE_NAME = "pushdeploy-workload"


class AccountNotAllowedError(DeployError):
    """A target names an account the stack's AllowedAccounts parameter does not list."""

    code = "account-not-allowed"


class RoleNotAssumableError(DeployError):
    """The workload account's deploy role could not be assumed."""

    code = "assume-role"
    retryable = False


@dataclass(frozen=True)
class TargetAccount:
    """The account fields of a target config: ``account`` (12 digits), ``region``, ``accountAlias``."""

    account: str | None = None
    region: str | None = None
    alias: str | None = None


def parse_account_fields(parameter: str, document: Mapping[str, Any]) -> TargetAccount:
    """Check a target config's ``account``, ``region`` and ``accountAlias``; ConfigError names the field."""
    account, region, alias = (document.get(name) for name in ACCOUNT_FIELDS)
    if account is not None and (not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account)):
        raise ConfigError(
            parameter, f"field 'account' must be a 12-digit AWS account id (a string), got {quote(account)}"
        )
    if region is not None and (not isinstance(region, str) or not REGION.fullmatch(region)):
        raise ConfigError(parameter, f"field 'region' must be a Region name such as \"eu-west-1\", got {quote(region)}")
    if alias is not None and (not isinstance(alias, str) or not ACCOUNT_ALIAS.fullmatch(alias)):
        raise ConfigError(
            parameter,
            "field 'accountAlias' must be a short name for notifications (1-63 letters, digits, space, "
            f"_ . + = @ -), got {quote(alias)}",
        )
    return TargetAccount(account, region, alias)


@dataclass(frozen=True)
class TargetLocation:
    """The account and Region a target is deployed in; ``remote`` when it is not the stack's own (pushdeploy
    then acts through the workload account's role, in that Region)."""

    account: str | None  # None: the stack's own account, as it does not know its id (tests)
    region: str
    alias: str | None = None
    other_account: bool = False  # not the stack's own account
    other_region: bool = False
    named: bool = False  # the target config names its account, Region or alias: notifications say them

    @property
    def remote(self) -> bool:
        """pushdeploy acts here through the workload account's role (or the stack's, in another Region)."""
        return self.other_account or self.other_region

    @property
    def key(self) -> tuple[str, str]:
        """What the per-target clients are cached by."""
        return (self.account or "", self.region)

    @property
    def ledger_account(self) -> str | None:
        """The account that qualifies the ledger keys of this target's ECS deployments (None: the stack's)."""
        return self.account if self.other_account else None

    def describe(self) -> str:
        """``account 222222222222 (prod), Region eu-west-1``, for messages."""
        alias = f" ({self.alias})" if self.alias else ""
        return f"account {self.account or 'of this stack'}{alias}, Region {self.region}"


def target_location(target: TargetAccount, *, own_account: str | None, own_region: str) -> TargetLocation:
    """Where a target with these account fields is deployed: its ``account`` and ``region``, else the
    stack's. A target naming the stack's own account and Region is local: no role is assumed for it."""
    account = target.account or own_account
    region = target.region or own_region
    other_account = target.account is not None and target.account != own_account
    named = target != TargetAccount()
    return TargetLocation(account, region, target.alias, other_account, region != own_region, named)


def check_account_allowed(location: TargetLocation, allowed: Sequence[str], *, own_account: str | None) -> None:
    """Raise AccountNotAllowedError unless the stack may act in the target's account: its own, or one the
    AllowedAccounts parameter lists."""
    if location.account is None or location.account == own_account or location.account in allowed:
        return
    listed = quote_list(allowed, render=shorten) if allowed else "none: only the stack's own account"
    raise AccountNotAllowedError(
        f"account {location.account} is not one pushdeploy may deploy to (AllowedAccounts: {listed}); add it "
        "to the stack's AllowedAccounts parameter, or correct the target's 'account'"
    )


def workload_role_arn(account: str, partition: str = "aws") -> str:
    """The deploy role accounts/workload.yaml creates in ``account``."""
    return f"arn:{partition}:iam::{account}:role/{WORKLOAD_ROLE_NAME}"


def role_session_name(repository: str, target: str, event_id: str) -> str:
    """A RoleSessionName naming the push (CloudTrail in the workload account shows it): ``pushdeploy@<target>
    .<repository>.<event id>``, characters outside [\\w+=,.@-] replaced by ``-``, at most 64 of them."""
    raw = f"pushdeploy@{target}.{repository}.{event_id}"
    return SESSION_NAME_CHARACTERS.sub("-", raw)[:SESSION_NAME_MAX]


def registry_account_of(repository: str, event_account: str, own_account: str | None) -> str | None:
    """The registry account that qualifies a repository's config path and ledger key, or None.

    A foreign registry's repositories are qualified by its account. So is an own repository whose first path
    segment is twelve digits (``123456789012/api``): unqualified, its path would be that of repository ``api``
    in registry 123456789012; qualified by the stack's own account it cannot be (a foreign registry is never
    the stack's own account)."""
    if event_account != own_account:
        return event_account
    first = repository.split("/", 1)[0]
    return event_account if "/" in repository and ACCOUNT_ID.fullmatch(first) else None


def repository_key(repository: str, registry_account: str | None) -> str:
    """The repository's config path below ConfigPrefix, and its key in the ledger: ``<registry account>/
    <repository>`` for a qualified registry, ``<repository>`` for the stack's own."""
    return f"{registry_account}/{repository}" if registry_account else repository


def scoped_deployment_id(deployment_id: str | None, account: str | None) -> str | None:
    """The ledger's key of an ECS deployment: ``<account>:<id>`` in a workload account, the id alone in the
    stack's own (``account`` None). ECS deployment ids are unique per account only."""
    if deployment_id is None or account is None or deployment_id.startswith(f"{account}:"):
        return deployment_id
    return f"{account}:{deployment_id}"


def ecs_deployment_id(deployment_id: str | None) -> str | None:
    """The ECS deployment id of a ledger key (``scoped_deployment_id`` undone), as people and ECS know it."""
    if deployment_id is None:
        return None
    account, separator, rest = deployment_id.partition(":")
    return rest if separator and ACCOUNT_ID.fullmatch(account) else deployment_id


def trusted_registry(account: str, *, own_account: str, trusted: Sequence[str], organization: bool) -> bool:
    """Whether a push from ``account``'s registry is one this stack deploys: its own, one of TrustedAccounts,
    or, with an OrganizationId, any account the event bus admitted (its policy is the organization's)."""
    return account == own_account or account in trusted or organization


def located(error: DeployError, location: TargetLocation | None) -> DeployError:
    """``error`` saying where it happened, for a target in another account or Region: "cluster prod does not
    exist in account 222222222222 (prod), Region eu-west-1" rather than "in this account and Region"."""
    if location is None or not location.remote or not isinstance(error, ClusterNotFoundError):
        return error
    message = error.message.replace("in this account and Region", f"in {location.describe()}")
    if message == error.message:
        message = f"{message} ({location.describe()})"
    return ClusterNotFoundError(message)


CANNOT_PULL = "CannotPullContainerError"


def pull_hint(reason: str | None, image: str | None, account: str | None) -> str | None:
    """What to do when ECS could not pull the image: the task execution role in the workload account needs
    the registry's repository policy to grant that account pull access. None when ``reason`` is no pull error."""
    if not reason or CANNOT_PULL not in reason:
        return None
    registry = image.split(".", 1)[0] if image and ACCOUNT_ID.fullmatch(image.split(".", 1)[0]) else None
    who = f"account {account}" if account else "the service's account"
    source = f"registry {registry}" if registry else "the registry"
    return (
        f"the task execution role in {who} cannot pull the image from {source}: the repository policy must "
        f"grant {who} ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and ecr:BatchCheckLayerAvailability, and "
        "the execution role ecr:GetAuthorizationToken and those three actions on the repository"
    )
