"""What this installation may deploy to, as the template's AllowedClusters/AllowedFamilies say."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from pushdeploy.domain.errors import DeployError


class OutOfScopeError(DeployError):
    """A target points at a cluster or task-definition family this installation may not touch."""


def resource_name(name_or_arn: str) -> str:
    """``staging`` for ``staging`` and for ``arn:aws:ecs:...:cluster/staging``."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def check_cluster(cluster: str, allowed: Sequence[str]) -> None:
    """Raise unless the cluster's name matches one of the ``allowed`` patterns."""
    name = resource_name(cluster)
    if not any(fnmatchcase(name, pattern) for pattern in allowed):
        raise OutOfScopeError(
            f"cluster {name} is outside what this pushdeploy may deploy to (AllowedClusters: "
            f"{', '.join(allowed)}); change the target or the stack's AllowedClusters parameter"
        )


def check_family(family: str, allowed: Sequence[str]) -> None:
    """Raise unless the task-definition family matches one of the ``allowed`` patterns."""
    if not any(fnmatchcase(family, pattern) for pattern in allowed):
        raise OutOfScopeError(
            f"task-definition family {family} is outside what this pushdeploy may register (AllowedFamilies: "
            f"{', '.join(allowed)}); change the service or the stack's AllowedFamilies parameter"
        )


def family_of(task_definition_arn: str) -> str:
    """``api-staging`` for ``arn:aws:ecs:...:task-definition/api-staging:7``."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
