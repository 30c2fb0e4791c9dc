"""In-memory fakes of the ports in ``pushdeploy.domain.ports``, shared by the unit tests.

Each fake implements its port exactly (mypy checks them against the Protocols at the bottom of this module)
and follows the rules of the adapter it stands for: ``InMemoryLedger`` those of ``DynamoDbLedger``,
``FakeEcs`` those of ``EcsServices`` as far as a deploy sees them. Tests make a call fail, or make something
happen just before or after one, through ``fail_next``, ``before_next`` and ``after_next``: seams, not patches.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pushdeploy.domain.errors import AwsCallError, DeployError, ImageNotFoundError, TaskDefinitionError
from pushdeploy.domain.gates import WaitingPush
from pushdeploy.domain.ledger import Claim, ClaimResult, DeployedRecord, EventResult, PendingRevision, TargetState
from pushdeploy.domain.messages import Notification
from pushdeploy.domain.outcome import DeploymentEvent
from pushdeploy.domain.ports import (
    DeployLedger,
    EcsGateway,
    ImageCatalog,
    NotificationPublisher,
    ParameterCatalog,
    TargetConfigSource,
    TrackerLedger,
)
from pushdeploy.domain.promotion import PendingPromotion
from pushdeploy.domain.records import DeploymentRecord, HistoryItem, OutcomeUpdate
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.timers import Timer

ACCOUNT = "123456789012"
REGION = "us-east-1"
FIRST_DEPLOYMENT_NUMBER = 9_000_000_000_000_000_001  # the fake ECS's first deployment is ecs-svc/9000000000000000001


# --- the ledger ----------------------------------------------------------------------------------------


def _sort_key(item: HistoryItem) -> str:
    """Where DynamoDbLedger sorts a history item: its recorded time (milliseconds, UTC), then its event id."""
    recorded = datetime.fromtimestamp(item.recorded_at, UTC).isoformat(timespec="milliseconds")
    return f"{recorded.replace('+00:00', 'Z')}#{item.event_id}"


class InMemoryLedger:
    """DeployLedger and TrackerLedger in memory, with DynamoDbLedger's rules.

    - ``claim`` succeeds when no claim is held, the held one has expired, or it is the same event's; either
      way it returns the state as it was.
    - ``release`` and ``commit`` act only for the claim's holder (``commit`` also when no claim is left);
      ``release`` records ``pending`` when given and keeps the one recorded otherwise; ``commit`` drops both.
    - ``commit`` with a history item also writes one deployment record per deployment id (replacing what was
      there) and the service's latest deployment; an outcome event parked for that id is returned.
    - ``history`` lists newest first by recorded time (then event id), as the table's sort key does.
    - ``record_outcome`` moves the deployment record and the history item together, and only from
      ``allowed_before``; ``mark_outcome_notified`` marks the deployment record alone.
    Expiry times are accepted and ignored (DynamoDB's TTL deletes items at its own pace).
    """

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], TargetState] = {}
        self.items: dict[tuple[str, str], dict[str, HistoryItem]] = {}  # target to sort key to history item
        self.deployments: dict[str, DeploymentRecord] = {}
        self.latest: dict[str, str] = {}  # service ARN to the last deployment id of ours
        self.history_limits: list[int] = []  # the limit of every history read
        self.commits: list[tuple[str, str, DeployedRecord, HistoryItem | None]] = []  # every commit that took
        self._failures: dict[str, list[DeployError]] = {}
        self._before: dict[str, list[Callable[[], object]]] = {}

    # -- seams ------------------------------------------------------------------------------------------

    def fail_next(self, method: str, error: DeployError, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error``, changing nothing."""
        self._check_method(method)
        self._failures.setdefault(method, []).extend([error] * times)

    def before_next(self, method: str, action: Callable[[], object]) -> None:
        """Run ``action`` at the start of the next call of ``method`` (something that happens meanwhile)."""
        self._check_method(method)
        self._before.setdefault(method, []).append(action)

    def _check_method(self, method: str) -> None:
        if method not in _LEDGER_METHODS:
            raise ValueError(f"the ledger has no method {method!r} (it has: {', '.join(sorted(_LEDGER_METHODS))})")

    def _enter(self, method: str) -> None:
        actions = self._before.pop(method, [])
        for action in actions:
            action()
        failures = self._failures.get(method)
        if failures:
            raise failures.pop(0)

    # -- DeployLedger -----------------------------------------------------------------------------------

    def claim(self, repository: str, target: str, claim: Claim, now: float) -> ClaimResult:
        self._enter("claim")
        state = self._state(repository, target)
        held = state.claim
        takes_over = (
            held is None
            or held.expires_at < now
            or (held.push.event_id == claim.push.event_id and held.attempt == claim.attempt)
        )
        if not takes_over or claim.push.event_id in state.events:
            return ClaimResult(False, state)
        self.states[(repository, target)] = replace(state, claim=claim)
        return ClaimResult(True, state)

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
        self._enter("release")
        state = self._state(repository, target)
        if state.claim is None or state.claim.token != token:
            return  # the lease lapsed and another deploy took over: nothing of ours to release
        events = _recorded(state.events, result, forget)
        self.states[(repository, target)] = replace(state, claim=None, pending=pending or state.pending, events=events)

    def record_result(
        self, repository: str, target: str, result: EventResult, forget: Sequence[str] = ()
    ) -> EventResult | None:
        self._enter("record_result")
        state = self._state(repository, target)
        if result.event_id in state.events:
            return state.events[result.event_id]
        self.states[(repository, target)] = replace(state, events=_recorded(state.events, result, forget))
        return None

    def read_state(self, repository: str, target: str) -> TargetState:
        self._enter("read_state")
        return self._state(repository, target)

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
        self._enter("commit")
        state = self._state(repository, target)
        if state.claim is not None and state.claim.token != token:
            if history is None:
                raise AwsCallError("dynamodb:UpdateItem", "ConditionalCheckFailedException", "not the claim's holder")
            raise AwsCallError("dynamodb:TransactWriteItems", "TransactionCanceledException", "not the claim's holder")
        self.states[(repository, target)] = TargetState(
            deployed=deployed, events=_recorded(state.events, result, forget)
        )
        self.commits.append((repository, target, deployed, history))
        return self.add_history(history) if history is not None else None

    def history(self, repository: str, target: str, limit: int) -> list[HistoryItem]:
        self._enter("history")
        self.history_limits.append(limit)
        return self._history(repository, target)[:limit]

    # -- TrackerLedger ----------------------------------------------------------------------------------

    def find_deployment(self, deployment_id: str) -> DeploymentRecord | None:
        self._enter("find_deployment")
        return self.deployments.get(deployment_id)

    def latest_deployment_of(self, service_arn: str) -> str | None:
        self._enter("latest_deployment_of")
        return self.latest.get(service_arn)

    def link_rollback(
        self, rollback_deployment_id: str, rolled_back_id: str, expires_at: float, stage_reached: str | None = None
    ) -> DeploymentRecord:
        self._enter("link_rollback")
        known = self.deployments.get(rollback_deployment_id, DeploymentRecord(rollback_deployment_id))
        self.deployments[rollback_deployment_id] = replace(
            known, rollback_of=rolled_back_id, stage_reached=stage_reached or known.stage_reached
        )
        return self.deployments[rollback_deployment_id]

    def note_pull_error(self, deployment_id: str, reason: str, expires_at: float) -> None:
        self._enter("note_pull_error")
        known = self.deployments.get(deployment_id, DeploymentRecord(deployment_id))
        self.deployments[deployment_id] = replace(known, pull_error=reason)

    def park_event(self, event: DeploymentEvent, expires_at: float) -> DeploymentRecord:
        self._enter("park_event")
        known = self.deployments.get(event.deployment_id, DeploymentRecord(event.deployment_id))
        self.deployments[event.deployment_id] = replace(known, parked=event)
        return self.deployments[event.deployment_id]

    def mark_outcome_notified(self, deployment_id: str) -> None:
        self._enter("mark_outcome_notified")
        known = self.deployments.get(deployment_id, DeploymentRecord(deployment_id))
        deploy = replace(known.deploy, notified=True) if known.deploy is not None else None
        self.deployments[deployment_id] = replace(known, deploy=deploy)

    def mark_deployed_outcome(self, repository: str, target: str, task_definition_arn: str, outcome: str) -> None:
        self._enter("mark_deployed_outcome")
        state = self._state(repository, target)
        if state.deployed is not None and state.deployed.task_definition_arn == task_definition_arn:
            self.states[(repository, target)] = replace(state, deployed=replace(state.deployed, outcome=outcome))

    def record_outcome(
        self, deploy: HistoryItem, deployment_id: str, update: OutcomeUpdate, allowed_before: frozenset[str]
    ) -> bool:
        self._enter("record_outcome")
        record = self.deployments.get(deployment_id)
        items = self.items.get((deploy.repository, deploy.target), {})
        item = items.get(_sort_key(deploy))
        if record is None or record.deploy is None or item is None:
            return False
        if record.deploy.status not in allowed_before or item.status not in allowed_before:
            return False

        def moved(history: HistoryItem) -> HistoryItem:
            return replace(
                history,
                status=update.status,
                finished_at=update.finished_at,
                notified=False,
                reason=update.reason or history.reason,
                duration_seconds=(
                    update.duration_seconds if update.duration_seconds is not None else history.duration_seconds
                ),
            )

        self.deployments[deployment_id] = replace(record, deploy=moved(record.deploy))
        items[_sort_key(deploy)] = moved(item)
        return True

    # -- for the tests ----------------------------------------------------------------------------------

    def add_history(self, item: HistoryItem) -> DeploymentEvent | None:
        """Write a history item, its deployment's record and the service's latest deployment as ``commit``
        does (the target's state is left alone); returns the outcome event parked for that deployment."""
        self.items.setdefault((item.repository, item.target), {})[_sort_key(item)] = item
        if not item.deployment_id:
            return None
        known = self.deployments.get(item.deployment_id)
        self.deployments[item.deployment_id] = DeploymentRecord(item.deployment_id, deploy=item)
        if item.service_arn:
            self.latest[item.service_arn] = item.deployment_id
        return known.parked if known is not None else None

    def history_of(self, repository: str, target: str) -> list[HistoryItem]:
        """The whole history, newest first, without counting as a read."""
        return self._history(repository, target)

    def _state(self, repository: str, target: str) -> TargetState:
        return self.states.get((repository, target), TargetState())

    def _history(self, repository: str, target: str) -> list[HistoryItem]:
        items = self.items.get((repository, target), {})
        return [items[key] for key in sorted(items, reverse=True)]


_LEDGER_METHODS = frozenset(
    {
        "claim",
        "release",
        "record_result",
        "read_state",
        "commit",
        "history",
        "find_deployment",
        "latest_deployment_of",
        "link_rollback",
        "park_event",
        "mark_outcome_notified",
        "mark_deployed_outcome",
        "record_outcome",
    }
)


# --- ECS -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    error: DeployError
    applied: bool  # the call took effect before the error (a lost response)


_ECS_CALLS = frozenset(
    {
        "describe_service",
        "describe_task_definition",
        "register_task_definition",
        "create_service",
        "stop_deployment_in_progress",
        "update_service",
    }
)


@dataclass
class FakeEcs:
    """The EcsGateway port: one service, the task definitions by ARN (and so by family), and ``calls``, every
    call that changes something, in order (failed ones included):
    ``("register", request)``, ``("update", cluster, service, arn, force)``, ``("create", request)``,
    ``("stop", cluster, service)``.

    Registering gives the family's next revision; updating or creating starts a deployment
    (``ecs-svc/9000000000000000001``, then ``...002``) that becomes the service's PRIMARY one. Rollouts are
    not modelled: ``rollout_in_progress`` stays as the service says.
    """

    service: ServiceState
    task_definitions: dict[str, tuple[dict[str, Any], list[dict[str, str]]]] = field(default_factory=dict)
    in_progress: str | None = None  # what ListServiceDeployments would find to stop
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    deployments_started: int = 0
    region: str = REGION
    account: str = ACCOUNT
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _after: dict[str, list[Callable[[Any], object]]] = field(default_factory=dict)

    # -- seams ------------------------------------------------------------------------------------------

    def fail_next(self, call: str, error: DeployError, *, applied: bool = False) -> None:
        """Make the next ``call`` raise ``error``; with ``applied`` it takes effect first (its response was
        lost: a timeout after ECS acted)."""
        self._check_call(call)
        self._failures.setdefault(call, []).append(_Failure(error, applied))

    def after_next(self, call: str, action: Callable[[Any], object]) -> None:
        """Run ``action`` with the result of the next successful ``call``, before it returns."""
        self._check_call(call)
        self._after.setdefault(call, []).append(action)

    @property
    def call_names(self) -> list[str]:
        """The first element of each call: ``["register", "update"]``."""
        return [str(call[0]) for call in self.calls]

    def add_task_definition(self, described: Mapping[str, Any], tags: Iterable[Mapping[str, str]] = ()) -> str:
        """Store a described task definition (it must carry its ``taskDefinitionArn``); returns its ARN."""
        arn = str(described["taskDefinitionArn"])
        self.task_definitions[arn] = (copy.deepcopy(dict(described)), [dict(tag) for tag in tags])
        return arn

    def _check_call(self, call: str) -> None:
        if call not in _ECS_CALLS:
            raise ValueError(f"ECS has no call {call!r} here (it has: {', '.join(sorted(_ECS_CALLS))})")

    def _failure(self, call: str) -> _Failure | None:
        failures = self._failures.get(call)
        return failures.pop(0) if failures else None

    def _done[T](self, call: str, result: T) -> T:
        for action in self._after.pop(call, []):
            action(result)
        return result

    def _start_deployment(self) -> str:
        self.deployments_started += 1
        return f"ecs-svc/{FIRST_DEPLOYMENT_NUMBER + self.deployments_started - 1}"

    # -- EcsGateway -------------------------------------------------------------------------------------

    def describe_service(self, cluster: str, service: str) -> ServiceState:
        failure = self._failure("describe_service")
        if failure is not None:
            raise failure.error
        return self._done("describe_service", self.service)

    def describe_task_definition(self, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        failure = self._failure("describe_task_definition")
        if failure is not None:
            raise failure.error
        found = self._find_task_definition(arn)
        if found is None:
            raise TaskDefinitionError(
                f"task definition {arn} of the service cannot be read: Unable to describe task definition."
            )
        described, tags = found
        return self._done("describe_task_definition", (copy.deepcopy(described), [dict(tag) for tag in tags]))

    def register_task_definition(self, request: Mapping[str, Any]) -> str:
        self.calls.append(("register", copy.deepcopy(dict(request))))
        failure = self._failure("register_task_definition")
        if failure is not None and not failure.applied:
            raise failure.error
        family = str(request["family"])
        revision = 1 + max((int(d.get("revision", 0)) for d, _ in self._revisions(family)), default=0)
        arn = f"arn:aws:ecs:{self.region}:{self.account}:task-definition/{family}:{revision}"
        described = {key: copy.deepcopy(value) for key, value in request.items() if key != "tags"}
        described.update(taskDefinitionArn=arn, revision=revision, status="ACTIVE")
        self.task_definitions[arn] = (described, [dict(tag) for tag in request.get("tags", [])])
        if failure is not None:
            raise failure.error
        return self._done("register_task_definition", arn)

    def create_service(self, request: Mapping[str, Any]) -> tuple[str, str | None]:
        self.calls.append(("create", copy.deepcopy(dict(request))))
        failure = self._failure("create_service")
        if failure is not None and not failure.applied:
            raise failure.error
        cluster, name = str(request["cluster"]), str(request["serviceName"])
        deployment_id = self._start_deployment()
        breaker = request.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
        self.service = ServiceState(
            arn=f"arn:aws:ecs:{self.region}:{self.account}:service/{cluster}/{name}",
            name=name,
            cluster_arn=f"arn:aws:ecs:{self.region}:{self.account}:cluster/{cluster}",
            status="ACTIVE",
            task_definition_arn=str(request["taskDefinition"]),
            circuit_breaker=bool(breaker.get("enable")),
            primary_deployment_id=deployment_id,
        )
        if failure is not None:
            raise failure.error
        return self._done("create_service", (self.service.arn, deployment_id))

    def stop_deployment_in_progress(self, cluster: str, service: str) -> str | None:
        self.calls.append(("stop", cluster, service))
        failure = self._failure("stop_deployment_in_progress")
        if failure is not None:
            raise failure.error
        return self._done("stop_deployment_in_progress", self.in_progress)

    def update_service(
        self, cluster: str, service: str, task_definition_arn: str, *, force_new_deployment: bool = False
    ) -> str | None:
        self.calls.append(("update", cluster, service, task_definition_arn, force_new_deployment))
        failure = self._failure("update_service")
        if failure is not None and not failure.applied:
            raise failure.error
        deployment_id = self._start_deployment()
        self.service = replace(
            self.service, task_definition_arn=task_definition_arn, primary_deployment_id=deployment_id
        )
        if failure is not None:
            raise failure.error
        return self._done("update_service", deployment_id)

    # -- lookups ----------------------------------------------------------------------------------------

    def _revisions(self, family: str) -> list[tuple[dict[str, Any], list[dict[str, str]]]]:
        return [entry for entry in self.task_definitions.values() if entry[0].get("family") == family]

    def _find_task_definition(self, name: str) -> tuple[dict[str, Any], list[dict[str, str]]] | None:
        """By ARN, ``family:revision`` or ``family`` (its latest ACTIVE revision), as ECS resolves them."""
        if name in self.task_definitions:
            return self.task_definitions[name]
        family, _, revision = name.rsplit("/", 1)[-1].partition(":")
        candidates = self._revisions(family)
        if revision:
            return next((entry for entry in candidates if str(entry[0].get("revision")) == revision), None)
        active = [entry for entry in candidates if entry[0].get("status", "ACTIVE") == "ACTIVE"]
        return max(active, key=lambda entry: int(entry[0].get("revision", 0)), default=None)


# --- notifications, configs, parameters, images -------------------------------------------------------


@dataclass
class FakePublisher:
    """The NotificationPublisher port: keeps what it was given, or raises ``error`` while it is set."""

    error: DeployError | None = None
    published: list[Notification] = field(default_factory=list)

    def publish(self, notification: Notification) -> str:
        if self.error is not None:
            raise self.error
        self.published.append(notification)
        return f"message-{len(self.published)}"

    @property
    def statuses(self) -> list[str]:
        """The status of each published message, in order."""
        return [str(notification.message["status"]) for notification in self.published]


@dataclass
class FakeConfigs:
    """The TargetConfigSource port over a dict of parameters (full name to raw value)."""

    parameters: dict[str, str] = field(default_factory=dict)
    prefix: str = "/pushdeploy"

    def target_parameters(self, repository: str) -> Mapping[str, str]:
        path = f"{self.prefix}/{repository}/"
        return {
            name: value
            for name, value in self.parameters.items()
            if name.startswith(path) and "/" not in name.removeprefix(path)
        }


@dataclass
class FakeParameters:
    """The ParameterCatalog port over a set of parameter names (no values: none are ever read)."""

    names: set[str] = field(default_factory=set)

    def names_under(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(name for name in self.names if name.startswith(prefix) and "/" not in name.removeprefix(prefix))

    def missing(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if name not in self.names]


@dataclass
class FakeImages:
    """The ImageCatalog port: ``(repository, tag)`` to ``(digest, registry id)``."""

    images: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def find_image(self, repository: str, tag: str, registry: str | None = None) -> tuple[str, str]:
        found = self.images.get((f"{registry}/{repository}" if registry else repository, tag))
        if found is None:
            raise ImageNotFoundError(f"tag {tag} not found in repository {repository}")
        return found


# mypy checks that every fake implements its port.
_ledger_is_a_deploy_ledger: DeployLedger = InMemoryLedger()
_ledger_is_a_tracker_ledger: TrackerLedger = InMemoryLedger()
_ecs_is_an_ecs_gateway: EcsGateway = FakeEcs(ServiceState("", "", "", "MISSING", ""))
_publisher_is_a_notification_publisher: NotificationPublisher = FakePublisher()
_configs_are_a_target_config_source: TargetConfigSource = FakeConfigs()
_parameters_are_a_parameter_catalog: ParameterCatalog = FakeParameters()
_images_are_an_image_catalog: ImageCatalog = FakeImages()


def _recorded(
    events: Mapping[str, EventResult], result: EventResult | None, forget: Sequence[str]
) -> dict[str, EventResult]:
    """The event results after recording ``result`` and dropping ``forget``, as the DynamoDB ledger does."""
    kept = {event_id: kept for event_id, kept in events.items() if event_id not in forget}
    if result is not None:
        kept[result.event_id] = result
    return kept


@dataclass
class FakeTimers:
    """The Timers port: the timers set, by name (setting one again is the same timer), and those cancelled."""

    timers: dict[str, Timer] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def set_timer(self, timer: Timer) -> None:
        self.timers.setdefault(timer.name, timer)

    def cancel_timer(self, name: str) -> None:
        self.cancelled.append(name)
        self.timers.pop(name, None)


@dataclass
class InMemoryWaitLedger:
    """The GateLedger and PromotionLedger ports in memory, with the DynamoDB adapter's rules."""

    waiting: dict[tuple[str, str, str], WaitingPush] = field(default_factory=dict)
    promotions: dict[tuple[str, str], PendingPromotion] = field(default_factory=dict)

    def record_waiting(self, waiting: WaitingPush) -> WaitingPush:
        key = (waiting.repository, waiting.digest, waiting.target)
        kept = self.waiting.get(key)
        self.waiting[key] = replace(waiting, since=kept.since, deadline=kept.deadline) if kept else waiting
        return self.waiting[key]

    def waiting_for(self, repository: str, digest: str) -> list[WaitingPush]:
        return sorted(
            (w for (r, d, _), w in self.waiting.items() if (r, d) == (repository, digest)), key=lambda w: w.target
        )

    def end_waiting(self, repository: str, digest: str, target: str) -> bool:
        return self.waiting.pop((repository, digest, target), None) is not None

    def record_pending_promotion(self, pending: PendingPromotion) -> None:
        kept = self.promotions.get((pending.repository, pending.target))
        if kept is None or kept.completed_at <= pending.completed_at:
            self.promotions[(pending.repository, pending.target)] = pending

    def pending_promotion(self, repository: str, target: str) -> PendingPromotion | None:
        return self.promotions.get((repository, target))
