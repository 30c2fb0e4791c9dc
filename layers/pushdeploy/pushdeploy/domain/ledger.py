"""The deploy ledger's rules: what each target runs, from which push, and whether a push may deploy now.

Each target has one state: the push it last deployed, an in-flight claim (a lease that serializes deploys of
the target) and, after a failure between registering and updating, the revision registered (so a retry
reuses it instead of registering another).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pushdeploy.domain.names import short_digest
from pushdeploy.domain.order import describe_push, order_pushes, stale_reason
from pushdeploy.domain.times import describe_time

if TYPE_CHECKING:
    from pushdeploy.domain.push import ImagePush
    from pushdeploy.domain.tasks import TaskRun

CLAIM_LEASE_SECONDS = 300  # longer than the function's timeout: a crashed deploy's claim lapses by itself
# Event results a target keeps, for redeliveries: EventBridge and Lambda redeliver within hours, not days.
EVENTS_KEPT = 20
EVENT_RESULT_SECONDS = 6 * 3600


@dataclass(frozen=True)
class PushRecord:
    """The parts of a push the ledger orders and deduplicates by."""

    digest: str
    tag: str
    pushed_at: float  # epoch seconds: the push event's time, or the moment a manual deploy was asked for
    event_id: str
    version: str | None = None  # the tag's semantic version, when the target orders by version (domain.policy)


@dataclass(frozen=True)
class DeployedRecord:
    """What a target runs, as pushdeploy last deployed it."""

    push: PushRecord
    task_definition_arn: str
    deployed_at: float
    notified: bool = True
    notification: str | None = None  # the JSON published (or to publish again, when notified is False)
    outcome: str | None = None  # FAILED, ROLLED_BACK...: the image did not end up running (ECS's word)


@dataclass(frozen=True)
class Claim:
    """A deploy in flight: whoever holds an unexpired claim is the only one deploying the target.

    ``attempt`` is the invocation's request id, which Lambda keeps across its retries of an invocation: a retry
    takes its own claim over, while another delivery of the same event (another invocation) finds it in
    progress."""

    token: str
    push: PushRecord
    expires_at: float
    attempt: str = ""


@dataclass(frozen=True)
class EventResult:
    """What an event's deploy of a target ended with (the target's part of the invocation's result): a
    redelivery of the event returns it and does nothing again."""

    event_id: str
    result: dict[str, Any]
    recorded_at: float


@dataclass(frozen=True)
class PendingRevision:
    """A revision registered for a push whose service update then failed, or whose result is unknown, or
    whose deploy could not be recorded. ``deployment_id`` and ``announced`` say what an attempt that updated
    the service learnt and published, so that the retry records it without announcing it twice."""

    digest: str
    fingerprint: str
    task_definition_arn: str
    deployment_id: str | None = None
    announced: bool = False
    previous_task_definition_arn: str | None = None  # what the service ran before that attempt's update
    message: str | None = None  # the DEPLOYING message that attempt published (JSON), if it did


@dataclass(frozen=True)
class TargetState:
    """A target's ledger entry (every part optional: a new target has none)."""

    deployed: DeployedRecord | None = None
    claim: Claim | None = None
    pending: PendingRevision | None = None
    events: Mapping[str, EventResult] = field(default_factory=dict)  # by event id, the recent ones
    history_refs: tuple[str, ...] = ()  # the ledger's own references to the target's history items, oldest first
    task: TaskRun | None = None  # the one-off task the claim waits for (domain.tasks), or the last one that ended
    queued: ImagePush | None = None  # the newest push that arrived while a task held the claim: it runs next


@dataclass(frozen=True)
class ClaimResult:
    """Whether a claim was taken, and the target's state just before (or as it blocked the claim)."""

    acquired: bool
    state: TargetState


class Verdict(StrEnum):
    """What to do with a push, given the target's state."""

    PROCEED = "PROCEED"
    DUPLICATE = "DUPLICATE"  # this digest is deployed, or being deployed by another event
    STALE = "STALE"  # a newer push is deployed or being deployed
    BUSY = "BUSY"  # an older push is being deployed: wait for it
    RENOTIFY = "RENOTIFY"  # this digest is deployed but its notification was never published
    REFRESH = "REFRESH"  # this digest is deployed, and this is a newer push of it: record its time, deploy nothing


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


def judge_push(state: TargetState, push: PushRecord, *, manual: bool, now: float) -> Judgement:
    """Decide whether ``push`` may deploy the target now. A manual deploy is never a duplicate or stale
    (it is a deliberate act), but it waits for a deploy in flight like any other."""
    claim = state.claim if state.claim and state.claim.expires_at > now else None
    if claim is not None and claim.push.event_id == push.event_id:
        claim = None  # our own earlier attempt, which crashed or timed out: take over
    deployed = state.deployed
    if not manual and deployed is not None:
        # Newer or older by version when both pushes carry one, else by push time (domain.order).
        order = order_pushes(push, deployed.push)
        running = deployed.outcome in {None, "COMPLETED"}
        # An image whose deployment failed or was rolled back is not "deployed": a later push of it may retry.
        if deployed.push.digest == push.digest and running:
            if not deployed.notified:
                return Judgement(Verdict.RENOTIFY, "deployed, but its notification was not published")
            if order.newer:
                # The newest push is what counts for "newest wins", even when its image already runs.
                return Judgement(
                    Verdict.REFRESH,
                    f"{short_digest(push.digest)} is already deployed (tag {deployed.push.tag}); "
                    f"{describe_push(push, by_version=order.by_version)} is recorded as its newest push",
                )
            return Judgement(
                Verdict.DUPLICATE,
                f"{short_digest(push.digest)} is already deployed (tag {deployed.push.tag}, "
                f"{describe_time(deployed.deployed_at)})",
            )
        if order.older:
            return Judgement(Verdict.STALE, stale_reason(push, deployed.push, order, "is deployed"))
        if order.same_version and running:
            return Judgement(
                Verdict.DUPLICATE,
                f"version {push.version} is already deployed (tag {deployed.push.tag}, "
                f"{short_digest(deployed.push.digest)}); tag {push.tag} ({short_digest(push.digest)}) is the same "
                "version",
            )
    if claim is not None:
        order = order_pushes(push, claim.push)
        # A newer push of the digest in flight waits for it (then refreshes), so that its time is not lost.
        if not manual and claim.push.digest == push.digest and not order.newer:
            return Judgement(Verdict.DUPLICATE, f"{short_digest(push.digest)} is being deployed (tag {claim.push.tag})")
        if not manual and order.older:
            return Judgement(Verdict.STALE, stale_reason(push, claim.push, order, "is being deployed"))
        if not manual and order.same_version:
            return Judgement(
                Verdict.DUPLICATE, f"version {push.version} is being deployed (tag {claim.push.tag}): the same version"
            )
        return Judgement(Verdict.BUSY, f"tag {claim.push.tag} is being deployed; waiting for it to finish")
    return Judgement(Verdict.PROCEED)


def reusable_revision(state: TargetState, digest: str, request_fingerprint: str) -> str | None:
    """The revision registered earlier for exactly this request, if its service update failed."""
    pending = state.pending
    if pending and pending.digest == digest and pending.fingerprint == request_fingerprint:
        return pending.task_definition_arn
    return None


def events_to_forget(events: Mapping[str, EventResult], now: float) -> list[str]:
    """The event results to drop when one more is recorded: older than EVENT_RESULT_SECONDS, or beyond the
    EVENTS_KEPT - 1 newest (so that at most EVENTS_KEPT remain)."""
    newest_first = sorted(events.values(), key=lambda kept: kept.recorded_at, reverse=True)
    return [
        kept.event_id
        for index, kept in enumerate(newest_first)
        if index >= EVENTS_KEPT - 1 or kept.recorded_at < now - EVENT_RESULT_SECONDS
    ]
