"""What this installation may deploy to, as the template's AllowedClusters/AllowedFamilies say, in its own
account and Region."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from pushdeploy.domain.errors import DeployError, quote_list, shorten
from pushdeploy.domain.names import family_of, parse_arn, resource_name

# family_of and resource_name moved to domain.names; kept importable from here.
__all__ = [
    "OutOfScopeError",
    "check_cluster",
    "check_family",
    "check_location",
    "check_service",
    "family_of",
    "resource_name",
]


class OutOfScopeError(DeployError):
    """A target points at a cluster, service or task-definition family this installation may not touch."""

    code = "out-of-scope"


def check_cluster(
    cluster: str, allowed: Sequence[str], *, account: str | None = None, region: str | None = None
) -> None:
    """Raise unless the cluster's name matches one of the ``allowed`` patterns and, given as an ARN, it is in
    ``account`` and ``region`` (the stack's own, when given)."""
    check_location("cluster", cluster, account=account, region=region)
    name = resource_name(cluster)
    if not any(fnmatchcase(name, pattern) for pattern in allowed):
        raise OutOfScopeError(
            f"cluster {shorten(name)} is outside what this pushdeploy may deploy to (AllowedClusters: "
            f"{quote_list(allowed, render=shorten)}); change the target or the stack's AllowedClusters parameter"
        )


def check_service(service: str, *, account: str | None = None, region: str | None = None) -> None:
    """Raise when the service, given as an ARN, is in another account or Region than ``account`` and
    ``region`` (the stack's own, when given); a service name is always in scope here."""
    check_location("service", service, account=account, region=region)


def check_location(kind: str, name_or_arn: str, *, account: str | None = None, region: str | None = None) -> None:
    """Raise OutOfScopeError when ``name_or_arn`` is an ARN of an account other than ``account`` or of a
    Region other than ``region`` (the target's: its own fields, else the stack's); a plain name is in the
    target's account and Region."""
    arn = parse_arn(name_or_arn)
    if arn is None:
        return
    if account is not None and arn.account != account:
        raise OutOfScopeError(
            f"{kind} {shorten(name_or_arn)} is in account {shorten(arn.account)}, not the target's account "
            f"{account}; give the {kind} of that account, or name the other account in the target's 'account' "
            "field (within the stack's AllowedAccounts)"
        )
    if region is not None and arn.region != region:
        raise OutOfScopeError(
            f"{kind} {shorten(name_or_arn)} is in Region {shorten(arn.region)}, not the target's Region "
            f"{region}; give the {kind} of that Region, or name the other Region in the target's 'region' field"
        )


def check_family(family: str, allowed: Sequence[str]) -> None:
    """Raise unless the task-definition family matches one of the ``allowed`` patterns."""
    if not any(fnmatchcase(family, pattern) for pattern in allowed):
        raise OutOfScopeError(
            f"task-definition family {shorten(family)} is outside what this pushdeploy may register "
            f"(AllowedFamilies: {quote_list(allowed, render=shorten)}); change the service or the stack's "
            "AllowedFamilies parameter"
        )
