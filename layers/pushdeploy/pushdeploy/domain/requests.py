"""What a person asks of the deploy function from the Lambda console."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ManualDeployRequest:
    """Deploy a tag of a repository (optionally to named targets only); ``dry_run`` only plans it."""

    repository: str
    tag: str
    event_id: str
    targets: tuple[str, ...] | None = None
    dry_run: bool = False
    requested_by: str | None = None


@dataclass(frozen=True)
class RollbackRequest:
    """Put a target back on the revision of its last completed deploy before the current one."""

    repository: str
    target: str
    event_id: str
    dry_run: bool = False
    requested_by: str | None = None


@dataclass(frozen=True)
class HistoryRequest:
    """The most recent deploys of a target, newest first."""

    repository: str
    target: str
    limit: int = 20
