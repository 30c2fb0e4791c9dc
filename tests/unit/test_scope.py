"""Scope: the clusters and families this installation may touch, in its own account and Region only."""

from __future__ import annotations

import pytest

from pushdeploy.domain.scope import OutOfScopeError, check_cluster, check_family, check_location, check_service

ACCOUNT, REGION = "123456789012", "us-east-1"
STAGING_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/staging"


def test_a_cluster_name_is_checked_against_the_allowed_patterns_as_before() -> None:
    # Given AllowedClusters staging, prod-*
    allowed = ("staging", "prod-*")

    # When clusters are checked with the two-argument call
    check_cluster("staging", allowed)
    check_cluster("prod-eu", allowed)
    check_cluster(STAGING_ARN, allowed)

    # Then an allowed name passes and another is refused, naming it and the patterns
    with pytest.raises(OutOfScopeError) as caught:
        check_cluster("dev", allowed)
    assert str(caught.value) == (
        "cluster dev is outside what this pushdeploy may deploy to (AllowedClusters: staging, prod-*); "
        "change the target or the stack's AllowedClusters parameter"
    )
    assert caught.value.code == "out-of-scope"


def test_a_cluster_arn_of_another_account_is_refused_naming_the_account() -> None:
    # Given a cluster ARN named like an allowed cluster, in account 999999999999
    cluster = f"arn:aws:ecs:{REGION}:999999999999:cluster/staging"

    # When it is checked for the stack of account 123456789012
    with pytest.raises(OutOfScopeError) as caught:
        check_cluster(cluster, ("*",), account=ACCOUNT, region=REGION)

    # Then it is refused before any call, naming both accounts
    assert str(caught.value) == (
        f"cluster {cluster} is in account 999999999999, not the target's account 123456789012; give the cluster "
        "of that account, or name the other account in the target's 'account' field (within the stack's "
        "AllowedAccounts)"
    )


def test_a_cluster_arn_of_another_region_is_refused_naming_the_region() -> None:
    # Given a cluster ARN of this account in eu-west-1
    cluster = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/staging"

    # When it is checked for the stack in us-east-1
    with pytest.raises(OutOfScopeError) as caught:
        check_cluster(cluster, ("staging",), account=ACCOUNT, region=REGION)

    # Then it is refused, naming both Regions
    assert str(caught.value).startswith(f"cluster {cluster} is in Region eu-west-1, not the target's Region us-east-1")


def test_a_cluster_of_this_account_and_region_passes() -> None:
    # Given a cluster name, and a cluster ARN of the stack's own account and Region
    # When they are checked
    # Then both pass
    check_cluster("staging", ("staging",), account=ACCOUNT, region=REGION)
    check_cluster(STAGING_ARN, ("staging",), account=ACCOUNT, region=REGION)


@pytest.mark.parametrize(
    ("service", "problem"),
    [
        (f"arn:aws:ecs:{REGION}:999999999999:service/staging/api", "is in account 999999999999"),
        (f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/staging/api", "is in Region eu-west-1"),
    ],
)
def test_a_service_arn_of_another_account_or_region_is_refused(service: str, problem: str) -> None:
    # Given a service ARN outside the stack's account or Region
    # When it is checked
    with pytest.raises(OutOfScopeError) as caught:
        check_service(service, account=ACCOUNT, region=REGION)

    # Then it is refused, naming what is other
    assert str(caught.value).startswith(f"service {service} {problem}")


def test_a_service_name_or_own_arn_passes() -> None:
    # Given a service name and a service ARN of the stack's account and Region
    # When they are checked
    # Then both pass
    check_service("api", account=ACCOUNT, region=REGION)
    check_service(f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/staging/api", account=ACCOUNT, region=REGION)


def test_without_account_and_region_only_the_name_is_checked() -> None:
    # Given a cluster ARN of another account, and no account or Region given (the existing call)
    # When it is checked
    # Then only its name is judged
    check_cluster("arn:aws:ecs:eu-west-1:999999999999:cluster/staging", ("staging",))
    check_location("cluster", "arn:aws:ecs:eu-west-1:999999999999:cluster/staging")


def test_a_family_outside_allowed_families_is_refused() -> None:
    # Given AllowedFamilies api-*
    # When families are checked
    check_family("api-staging", ("api-*",))
    with pytest.raises(OutOfScopeError) as caught:
        check_family("billing", ("api-*",))

    # Then another is refused, naming it and the patterns
    assert str(caught.value).startswith("task-definition family billing is outside what this pushdeploy may register")


def test_scope_messages_are_bounded() -> None:
    # Given a 200,000-character cluster name and 1,000 allowed patterns
    allowed = tuple(f"team-{index}-*" for index in range(1_000))

    # When it is checked
    with pytest.raises(OutOfScopeError) as caught:
        check_cluster("c" * 200_000, allowed)

    # Then the message shows the start of each and says how many more
    assert len(str(caught.value)) < 1_000
    assert "(and 199,880 more characters)" in str(caught.value)
    assert "… and 990 more" in str(caught.value)
