"""Promotion: a target deploys the very digest another target (its ``promote.from``) completed, after a soak.

When the source's deploy of a digest ends COMPLETED, each target promoting from it gets a pending promotion
and a soak timer. When the timer fires, ``decide_promotion`` (the one place that says "still promotable")
checks the pending promotion and the source's latest deploy in the ledger: the source must still run that
deploy, completed, and the pending promotion must still be this one (a newer completion replaces it, and is
promoted when its own soak ends).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pushdeploy.domain.errors import ConfigError, json_type, quote, shorten
from pushdeploy.domain.names import TARGET, short_digest
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.times import describe_time

SOAK_MINUTES_RANGE = (0, 10080)  # 0: promote at the earliest timer (a minute); at most a week
PROMOTE_FIELDS = frozenset({"from", "soakMinutes"})
PROMOTE_ACTION = "promote"


@dataclass(frozen=True)
class PromotionSettings:
    """A target's ``promote`` block."""

    source: str  # the target whose completed digests this one deploys
    soak_minutes: int


def parse_promote_block(parameter: str, target: str, block: Any) -> PromotionSettings:
    """Check a target's ``promote`` block on its own (``promotion_problem`` checks it against its siblings)."""
    if not isinstance(block, dict):
        raise ConfigError(parameter, f"field 'promote' must be an object, got {json_type(block)}")
    for key in block:
        if key not in PROMOTE_FIELDS:
            raise ConfigError(
                parameter, f"unknown field 'promote.{shorten(key)}'; known: {', '.join(sorted(PROMOTE_FIELDS))}"
            )
    source = block.get("from")
    if not isinstance(source, str) or not TARGET.fullmatch(source):
        raise ConfigError(parameter, f"field 'promote.from' must name a target of this repository, got {quote(source)}")
    if source == target:
        raise ConfigError(parameter, f"field 'promote.from' names the target itself ({shorten(target)})")
    soak = block.get("soakMinutes")
    low, high = SOAK_MINUTES_RANGE
    if isinstance(soak, bool) or not isinstance(soak, int) or not low <= soak <= high:
        raise ConfigError(
            parameter, f"field 'promote.soakMinutes' must be a whole number of minutes {low}-{high}, got {quote(soak)}"
        )
    return PromotionSettings(source, soak)


def promotion_problem(target: str, sources: Mapping[str, str | None]) -> str | None:
    """What is wrong with ``target``'s ``promote.from`` among its repository's targets (``sources``: each
    target's ``promote.from``, None when it promotes from none), or None: a missing source, or a cycle."""
    source = sources.get(target)
    if source is None:
        return None
    if source not in sources:
        return (
            f"field 'promote.from' names target {shorten(source)}, which this repository does not have "
            f"(its targets: {', '.join(sorted(sources)[:10])})"
        )
    chain = [target]
    while source is not None and source in sources:
        if source in chain:
            loop = " -> ".join([*chain[chain.index(source) :], source])
            return f"field 'promote.from' makes a cycle of promotions: {loop}"
        chain.append(source)
        source = sources.get(source)
    return None


def promoting_from(source: str, promotions: Mapping[str, PromotionSettings]) -> list[tuple[str, PromotionSettings]]:
    """The targets that promote what ``source`` completes, by name."""
    return sorted((target, settings) for target, settings in promotions.items() if settings.source == source)


@dataclass(frozen=True)
class PendingPromotion:
    """A digest the source completed, to be deployed to ``target`` when its soak ends (the ledger keeps one per
    target: the latest completion)."""

    repository: str
    target: str
    source: str
    digest: str
    tag: str
    pushed_at: float  # the source deploy's push: "newest wins" orders the promotion by it
    source_deployment_id: str
    completed_at: float
    soak_minutes: int
    registry: str = ""

    @property
    def due(self) -> float:
        return self.completed_at + self.soak_minutes * 60

    def describe(self) -> str:
        """The chain in words: ``promoted from staging (COMPLETED 10:02, soaked 30 min)``."""
        return (
            f"promoted from {self.source} (COMPLETED {describe_time(self.completed_at)[11:16]}, "
            f"soaked {self.soak_minutes} min)"
        )

    def timer_event(self) -> dict[str, Any]:
        """The event the soak timer invokes the deploy function with (``events/promote-timer.json``)."""
        return {
            "action": PROMOTE_ACTION,
            "repository": self.repository,
            "target": self.target,
            "from": self.source,
            "digest": self.digest,
            "sourceDeploymentId": self.source_deployment_id,
        }

    def notification_fields(self) -> dict[str, Any]:
        return {
            "promotion": {
                "from": self.source,
                "sourceDeploymentId": self.source_deployment_id,
                "completedAt": describe_time(self.completed_at),
                "soakMinutes": self.soak_minutes,
                "summary": self.describe(),
            }
        }


class PromotionAction(StrEnum):
    PROMOTE = "PROMOTE"
    SKIP = "SKIP"


@dataclass(frozen=True)
class PromotionDecision:
    action: PromotionAction
    reason: str


def decide_promotion(
    pending: PendingPromotion | None,
    *,
    digest: str,
    source_deployment_id: str,
    source_latest: HistoryItem | None,
) -> PromotionDecision:
    """Whether the soak timer of ``digest`` (completed by ``source_deployment_id``) promotes now: the pending
    promotion must still be this one, and the source's latest deploy must be that deployment, COMPLETED (not
    rolled back, failed, or followed by another deploy)."""
    if pending is None or pending.digest != digest or pending.source_deployment_id != source_deployment_id:
        newer = f" ({short_digest(pending.digest)} is pending instead)" if pending is not None else ""
        return PromotionDecision(PromotionAction.SKIP, f"this promotion is no longer pending{newer}")
    source = pending.source
    if source_latest is None:
        return PromotionDecision(PromotionAction.SKIP, f"{source} has no deploy recorded")
    if source_latest.deployment_id != source_deployment_id:
        what = "rolled back" if source_latest.trigger == "rollback" else "deployed"
        return PromotionDecision(
            PromotionAction.SKIP,
            f"{source} {what} {source_latest.tag} ({short_digest(source_latest.digest)}) during the soak, "
            f"{source_latest.status}: {short_digest(digest)} is no longer what it runs",
        )
    if source_latest.status != "COMPLETED":
        return PromotionDecision(
            PromotionAction.SKIP, f"{source}'s deploy of {short_digest(digest)} is {source_latest.status} now"
        )
    return PromotionDecision(PromotionAction.PROMOTE, pending.describe())
