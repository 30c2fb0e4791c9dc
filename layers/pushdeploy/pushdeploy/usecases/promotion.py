"""Promotion: the tracker sets a soak timer when a source target completes a digest (``SoakTimers``); the timer
wakes the deploy function, which promotes the digest if the ledger says it still may (``Promotions``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import parse_target_config, target_name
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.ports import DeployLedger, PromotionLedger, TargetConfigSource, Timers
from pushdeploy.domain.promotion import (
    PendingPromotion,
    PromotionAction,
    PromotionSettings,
    decide_promotion,
    promoting_from,
    promotion_problem,
)
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.report import DeployOutcome
from pushdeploy.domain.requests import PromoteRequest
from pushdeploy.domain.timers import Timer, earliest_due, timer_name
from pushdeploy.domain.times import describe_time

logger = Logger(service="pushdeploy", child=True)


def soak_timer_name(prefix: str, repository: str, target: str, digest: str) -> str:
    """The soak timer of ``digest`` for ``target`` (one per digest: a newer completion sets its own)."""
    return timer_name(prefix, "promote", repository, target, digest)


class SoakTimers:
    """The tracker's part: when a deploy ends COMPLETED, each target promoting from its target gets a pending
    promotion in the ledger and a soak timer."""

    def __init__(
        self,
        *,
        configs: TargetConfigSource,
        ledger: PromotionLedger,
        timers: Timers,
        timer_prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configs = configs
        self._ledger = ledger
        self._timers = timers
        self._prefix = timer_prefix
        self._clock = clock

    def source_completed(self, deploy: HistoryItem, deployment_id: str, completed_at: float) -> list[dict[str, Any]]:
        """Set the soak of every target promoting from ``deploy.target``; returns what was set (or refused)."""
        promotions, sources = self._promotions(deploy.repository)
        set_up: list[dict[str, Any]] = []
        for target, settings in promoting_from(deploy.target, promotions):
            # A promotion in a cycle is still timed, at once rather than after its soak: the deploy function's
            # check (the one place it is decided) fails the target, naming the field, and announces it.
            problem = promotion_problem(target, sources)
            pending = PendingPromotion(
                repository=deploy.repository,
                target=target,
                source=deploy.target,
                digest=deploy.digest,
                tag=deploy.tag,
                pushed_at=deploy.pushed_at,
                source_deployment_id=deployment_id,
                completed_at=completed_at,
                soak_minutes=settings.soak_minutes,
                registry=deploy.image.split("/", 1)[0],
            )
            self._ledger.record_pending_promotion(pending)
            now = self._clock()
            due = earliest_due(pending.due if problem is None else now, now)
            name = soak_timer_name(self._prefix, deploy.repository, target, deploy.digest)
            self._timers.set_timer(Timer(name, due, pending.timer_event()))
            logger.info("Soak timer set", extra={"target": target, "due": describe_time(due)})
            status = "SOAKING" if problem is None else "REFUSED"
            set_up.append({"target": target, "status": status, "due": describe_time(due), "timer": name})
        return set_up

    def _promotions(self, repository: str) -> tuple[dict[str, PromotionSettings], dict[str, str | None]]:
        promotions: dict[str, PromotionSettings] = {}
        sources: dict[str, str | None] = {}
        for parameter, raw in self._configs.target_parameters(repository).items():
            name = target_name(parameter)
            try:
                promote = parse_target_config(parameter, raw).promote
            except ConfigError as exc:  # the deploy function announces a bad config on the target's next deploy
                logger.warning("Target config not usable for promotion", extra={"target": name, "error": str(exc)})
                promote = None
            sources[name] = promote.source if promote is not None else None
            if promote is not None:
                promotions[name] = promote
        return promotions, sources


class Promotions:
    """The deploy function's part: a soak timer fired; promote if the ledger says the digest still may be."""

    def __init__(
        self,
        *,
        ledger: PromotionLedger,
        history: DeployLedger,
        deploy: Callable[[ImagePush], DeployOutcome],
    ) -> None:
        self._ledger = ledger
        self._history = history
        self._deploy = deploy

    def promote(self, request: PromoteRequest) -> dict[str, Any]:
        """Deploy ``request.digest`` to ``request.target``, or say why it is no longer promotable."""
        pending = self._ledger.pending_promotion(request.repository, request.target)
        latest = self._history.history(request.repository, request.source, 1)
        decision = decide_promotion(
            pending,
            digest=request.digest,
            source_deployment_id=request.source_deployment_id,
            source_latest=latest[0] if latest else None,
        )
        if decision.action is PromotionAction.SKIP or pending is None:
            logger.info("Promotion skipped", extra={"target": request.target, "reason": decision.reason})
            dry = " (dry run)" if request.dry_run else ""
            return {
                "status": "SKIPPED",
                "repository": request.repository,
                "target": request.target,
                "digest": request.digest,
                "code": "not-promotable",
                "reason": f"promotion from {request.source} skipped: {decision.reason}{dry}",
            }
        push = ImagePush(
            repository=request.repository,
            tag=pending.tag,
            digest=pending.digest,
            registry=pending.registry,
            trigger=Trigger.PROMOTE,
            event_id=request.event_id,
            pushed_at=pending.pushed_at,
            targets=(request.target,),
            dry_run=request.dry_run,
            promotion=pending.notification_fields()["promotion"],
        )
        outcome = self._deploy(push)
        outcome.raise_if_retryable()
        return outcome.as_result()
