"""The interfaces the use cases need from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pushdeploy.domain.ledger import Claim, ClaimResult, DeployedRecord, EventResult, PendingRevision, TargetState
from pushdeploy.domain.messages import Notification
from pushdeploy.domain.outcome import ApprovalState, DeploymentEvent
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.records import DeploymentRecord, HistoryItem, OutcomeUpdate
from pushdeploy.domain.service import ServiceDeploymentState, ServiceState
from pushdeploy.domain.tasks import TaskRun
from pushdeploy.domain.timers import Timer

if TYPE_CHECKING:  # the gates' and promotions' modules are imported where a target uses them
    from pushdeploy.domain.gates import ScanFindings, SigningStatus, WaitingPush
    from pushdeploy.domain.promotion import PendingPromotion


class TargetConfigSource(Protocol):
    def target_parameters(self, repository: str) -> Mapping[str, str]:
        """The raw config of every target of ``repository``: full parameter name to value."""
        ...


class ParameterCatalog(Protocol):
    def names_under(self, path: str) -> list[str]:
        """Names of the parameters directly under ``path`` (no values)."""
        ...

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that do not exist (no values are read)."""
        ...


class ImageCatalog(Protocol):
    def find_image(self, repository: str, tag: str, registry: str | None = None) -> tuple[str, str]:
        """The digest and registry id of ``repository:tag`` (in ``registry``, an account id; default the
        stack's own)."""
        ...


class EcsGateway(Protocol):
    def describe_service(self, cluster: str, service: str) -> ServiceState: ...

    def describe_task_definition(self, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The task definition and its tags."""
        ...

    def register_task_definition(self, request: Mapping[str, Any]) -> str:
        """Register a revision; returns its ARN."""
        ...

    def create_service(self, request: Mapping[str, Any]) -> tuple[str, str | None]:
        """Create a service; returns its ARN and the id of its first deployment."""
        ...

    def stop_deployment_in_progress(self, cluster: str, service: str) -> str | None:
        """Stop the service's in-progress deployment with rollback; returns its ARN, or None if none runs."""
        ...

    def update_service(
        self, cluster: str, service: str, task_definition_arn: str, *, force_new_deployment: bool = False
    ) -> str | None:
        """Point the service at a revision; returns the id of the deployment this started."""
        ...


class DeploymentControl(Protocol):
    """What strategies and approvals need of ECS beyond ``EcsGateway``."""

    def update_service_configured(
        self, cluster: str, service: str, task_definition_arn: str, deployment_configuration: Mapping[str, Any]
    ) -> str | None:
        """Point the service at a revision with this ``deploymentConfiguration``; returns the id of the
        deployment this started."""
        ...

    def describe_service_deployment(self, service_deployment_arn: str) -> ServiceDeploymentState | None:
        """The service deployment's status, stage and paused hooks; None when ECS does not know it."""
        ...

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> None:
        """Answer a PAUSE hook: CONTINUE or ROLLBACK."""
        ...


class AlarmCatalog(Protocol):
    def missing_alarms(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are no CloudWatch alarm of this account and Region."""
        ...


class DeployLedger(Protocol):
    """What deploys and manual operations need of the ledger."""

    def claim(self, repository: str, target: str, claim: Claim, now: float) -> ClaimResult:
        """Take the target's claim unless another event holds an unexpired one; returns the prior state."""
        ...

    def release(
        self,
        repository: str,
        target: str,
        token: str,
        pending: PendingRevision | None = None,
        *,
        result: EventResult | None = None,
        forget: Sequence[str] = (),
    ) -> None:
        """Give the claim back, recording a revision registered for an update that failed or whose result is
        unknown (``pending``) and the event's final result (``result``); ``forget`` drops old event results."""
        ...

    def record_result(
        self, repository: str, target: str, result: EventResult, forget: Sequence[str] = ()
    ) -> EventResult | None:
        """Record an event's final result for a target it did not claim; returns the one recorded before
        instead (and writes nothing) when the event was handled already."""
        ...

    def read_state(self, repository: str, target: str) -> TargetState:
        """The target's state, without claiming it."""
        ...

    def commit(
        self,
        repository: str,
        target: str,
        token: str,
        deployed: DeployedRecord,
        history: HistoryItem | None,
        *,
        result: EventResult | None = None,
        forget: Sequence[str] = (),
        history_refs: Sequence[str] | None = None,
    ) -> DeploymentEvent | None:
        """Record what the target now runs, add the history item (if given) and its deployment's record,
        release the claim. Returns the outcome event of that deployment if one arrived before it was recorded
        (it is then the caller's to apply)."""
        ...

    def history(self, repository: str, target: str, limit: int) -> list[HistoryItem]:
        """The target's deploys, newest first."""
        ...


class TrackerLedger(Protocol):
    """What the tracker needs of the ledger."""

    def find_deployment(self, deployment_id: str) -> DeploymentRecord | None:
        """What pushdeploy recorded of an ECS deployment, or None when it knows nothing of it."""
        ...

    def latest_deployment_of(self, service_arn: str) -> str | None:
        """The last deployment pushdeploy started on the service."""
        ...

    def link_rollback(
        self, rollback_deployment_id: str, rolled_back_id: str, expires_at: float, stage_reached: str | None = None
    ) -> DeploymentRecord:
        """Remember that an ECS deployment rolls back one of pushdeploy's; returns what is known of it."""
        ...

    def note_pull_error(self, deployment_id: str, reason: str, expires_at: float) -> None:
        """Keep on the deployment's record that a task of it could not pull its image (``reason``)."""
        ...

    def park_event(self, event: DeploymentEvent, expires_at: float) -> DeploymentRecord:
        """Keep an outcome event of a deployment not (yet) known to be ours; returns what is known of it."""
        ...

    def mark_outcome_notified(self, deployment_id: str) -> None:
        """Note that a deployment's outcome was published."""
        ...

    def mark_deployed_outcome(self, repository: str, target: str, task_definition_arn: str, outcome: str) -> None:
        """Note that the revision a target deployed failed or was rolled back."""
        ...

    def record_outcome(
        self, deploy: HistoryItem, deployment_id: str, update: OutcomeUpdate, allowed_before: frozenset[str]
    ) -> bool:
        """Move a deployment (and its history item) to ``update.status`` if it is in one of
        ``allowed_before``; False when it is not (a duplicate or late event)."""
        ...


class ApprovalLedger(Protocol):
    """What approvals need of the ledger: each pause of a deployment of ours, and the answer to it."""

    def record_pause(self, deploy: HistoryItem, deployment_id: str, approval: ApprovalState) -> bool:
        """Note that the deployment awaits an answer at ``approval.hook_id`` (on the deployment's record and
        its history item); False when that pause was noted already (a duplicate event)."""
        ...

    def record_decision(self, deploy: HistoryItem, deployment_id: str, approval: ApprovalState) -> bool:
        """Note the answer (``decision``, ``decided_by``, ``decided_at``) to the pause ``approval.hook_id``;
        False when that pause was answered already."""
        ...

    def claim_request(self, key: str, expires_at: float) -> bool:
        """Take a one-time key (a signed request's signature); False when it was taken before (a replay)."""
        ...


class NotificationPublisher(Protocol):
    def publish(self, notification: Notification) -> str:
        """Publish; returns the message id."""
        ...


class Timers(Protocol):
    """One-time wake-ups of the deploy function (domain.timers)."""

    def set_timer(self, timer: Timer) -> None:
        """Set ``timer``; setting one of the same name again is the same timer."""
        ...

    def cancel_timer(self, name: str) -> None:
        """Cancel the timer ``name``; one that already fired or was never set is nothing to cancel."""
        ...


class DeploymentStages(Protocol):
    """Where a service's deployment is in its strategy's lifecycle (DescribeServiceDeployments)."""

    def stage_reached(self, service_arn: str) -> str | None:
        """The lifecycle stage ECS reports for the service's current service deployment (None: unknown)."""
        ...


class TaskGateway(Protocol):
    """One-off ECS tasks (domain.tasks)."""

    def run_task(self, request: Mapping[str, Any]) -> str:
        """Start a task (RunTask); returns its ARN. Raises DeployError when ECS starts none."""
        ...

    def stop_task(self, cluster: str, task_arn: str, reason: str) -> None:
        """Stop a task (StopTask); one already stopped is nothing to stop."""
        ...


class TaskLedger(Protocol):
    """What one-off tasks need of the ledger: the task a target's claim waits for, and the push queued
    behind it."""

    def start_task(self, repository: str, target: str, run: TaskRun, lease_until: float) -> bool:
        """Record ``run`` as the task the claim ``run.claim_token`` waits for, and hold the claim until
        ``lease_until``; False when that claim is no longer held."""
        ...

    def find_task(self, task_arn: str) -> tuple[str, str] | None:
        """The (repository, target) a task was started for, or None when pushdeploy knows nothing of it."""
        ...

    def end_task(self, repository: str, target: str, task_arn: str, *, succeeded: bool) -> TaskRun | None:
        """Note that the running task ``task_arn`` ended (counting it done when it ``succeeded``); returns the
        run as it was, or None when it is not the running one (a duplicate or late event, a timer after the
        event): then nothing changes."""
        ...

    def queue_push(self, repository: str, target: str, push: ImagePush, holder: str) -> tuple[bool, ImagePush | None]:
        """Queue ``push`` behind the running task of the claim ``holder``, unless a push as new is queued.
        Returns (queued, other): queued and the older push it displaced; or not queued and the newer (or same)
        push queued already; or (False, None) when no task holds the claim any more."""
        ...

    def take_queued(self, repository: str, target: str) -> ImagePush | None:
        """Remove and return the push queued behind a task, if any."""
        ...


class ImageSignals(Protocol):
    """What the gates ask ECR of a digest."""

    def scan_findings(self, repository: str, digest: str) -> ScanFindings:
        """The digest's scan status and severity counts (``NOT_FOUND``: no scan of it yet)."""
        ...

    def signing_status(self, repository: str, digest: str) -> SigningStatus:
        """The digest's signing status per signing profile."""
        ...


class GateLedger(Protocol):
    """Pushes that wait for their gates, by repository and digest (a scan event names those)."""

    def record_waiting(self, waiting: WaitingPush) -> WaitingPush:
        """Note that ``waiting`` waits; one already waiting keeps its ``since`` and ``deadline`` (returned)."""
        ...

    def waiting_for(self, repository: str, digest: str) -> list[WaitingPush]:
        """The targets' deploys of ``digest`` that wait, by target."""
        ...

    def end_waiting(self, repository: str, digest: str, target: str) -> bool:
        """The wait is over (resumed, failed, timed out); False when it was over already."""
        ...


class PromotionLedger(Protocol):
    """The one pending promotion of each target (the latest completion of its source)."""

    def record_pending_promotion(self, pending: PendingPromotion) -> None:
        """Keep ``pending`` as the target's pending promotion (replacing an older one)."""
        ...

    def pending_promotion(self, repository: str, target: str) -> PendingPromotion | None:
        """The target's pending promotion, or None."""
        ...
