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
    registry: str | None = None  # the registry account holding the repository, when not the stack's own
    override_gates: str | None = None  # why the target's gates are passed unasked (needs requested_by)


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


@dataclass(frozen=True)
class ApprovalRequest:
    """Answer the pause awaiting approval on a target's deployment: ``decision`` approve or reject.

    From the console ``requested_by`` is the name the request gives; from Slack it is the user, whose id
    (``slack_user``) must be one of the target's approvers, and ``hook_id`` the pause the button was for.
    """

    repository: str
    target: str
    decision: str  # "approve" | "reject"
    requested_by: str
    hook_id: str | None = None
    slack_user: str | None = None

    @property
    def action(self) -> str:
        """ContinueServiceDeployment's action."""
        return "CONTINUE" if self.decision == "approve" else "ROLLBACK"

    @property
    def decided(self) -> str:
        return "approved" if self.decision == "approve" else "rejected"


@dataclass(frozen=True)
class ScanReadyEvent:
    """ECR's ``ECR Image Scan`` or Inspector's ``Inspector2 Scan`` event: a digest's findings are ready, so the
    pushes waiting for them resume."""

    repository: str
    digest: str
    event_id: str
    source: str  # the detail-type, for the log and the result


@dataclass(frozen=True)
class GateTimeoutRequest:
    """A gate wait's timer: the push waiting for ``digest`` on ``target`` fails unless its gates now answer."""

    repository: str
    target: str
    digest: str
    event_id: str


@dataclass(frozen=True)
class PromoteRequest:
    """A soak timer: ``target`` deploys ``digest`` if ``source`` still runs it, completed
    (``domain.promotion.decide_promotion``)."""

    repository: str
    target: str
    source: str
    digest: str
    source_deployment_id: str
    event_id: str
    dry_run: bool = False
