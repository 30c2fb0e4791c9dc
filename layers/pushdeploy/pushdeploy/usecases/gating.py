"""The gates step of a deploy, and the resumption of a push that waited for them.

Before anything is registered, a target with ``gates`` asks ECR about the digest (``GateKeeper``); the domain
(``domain.gates``) judges. A push that must wait is recorded in the ledger, a timer is set for the end of its
wait, and it is announced ``WAITING``; the ``ECR Image Scan`` / ``Inspector2 Scan`` event of the digest, or the
timer, runs it again (``GateResumer``) as a deploy of the same push, with the event's id. Nothing sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import TargetConfig
from pushdeploy.domain.gates import (
    GateOutcome,
    GateOverride,
    GateVerdict,
    WaitingPush,
    expire_wait,
    findings_console_url,
    judge_gates,
)
from pushdeploy.domain.ports import GateLedger, ImageSignals, Timers
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.report import DeployIncompleteError, DeployStatus, TargetReport
from pushdeploy.domain.requests import GateTimeoutRequest, ScanReadyEvent
from pushdeploy.domain.timers import Timer, earliest_due, timer_name
from pushdeploy.domain.times import describe_time

logger = Logger(service="pushdeploy", child=True)
GATE_TIMEOUT_ACTION = "gate-timeout"


@dataclass(frozen=True)
class Gated:
    """The gates' verdict, and the report it leads to: the deploy goes on from ``report`` (``stop`` False),
    or ends with it (WAITING or FAILED)."""

    verdict: GateVerdict
    report: TargetReport
    stop: bool


def gate_timer_name(prefix: str, repository: str, target: str, digest: str) -> str:
    """The timer that ends a target's wait for the gates of ``digest``."""
    return timer_name(prefix, "gate", repository, target, digest)


class GateKeeper:
    """Asks ECR what the gates need, has the domain judge, and records a wait."""

    def __init__(
        self,
        *,
        signals: ImageSignals,
        ledger: GateLedger,
        timers: Timers | None,
        timer_prefix: str,
        region: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signals = signals
        self._ledger = ledger
        self._timers = timers
        self._prefix = timer_prefix
        self._region = region
        self._clock = clock

    def verdict(self, push: ImagePush, config: TargetConfig) -> GateVerdict:
        """The gates' verdict on ``push`` for the target (the dry run's too): ECR asked only for the gates
        the target has, and not at all when a manual deploy overrides them."""
        gates = config.gates
        assert gates is not None
        if push.override_gates:
            override = GateOverride(push.override_gates, push.requested_by or "(unnamed)")
            return judge_gates(gates, digest=push.digest, scan=None, signing=None, override=override)
        scan = self._signals.scan_findings(push.repository, push.digest) if gates.scan else None
        signing = self._signals.signing_status(push.repository, push.digest) if gates.signature else None
        account = push.registry.split(".", 1)[0]
        url = findings_console_url(self._region, account, push.repository, push.digest)
        verdict = judge_gates(gates, digest=push.digest, scan=scan, signing=signing, findings_url=url)
        return expire_wait(verdict, gates.wait_minutes) if push.gate_wait_over else verdict

    def gate(self, push: ImagePush, config: TargetConfig, base: TargetReport) -> Gated:
        """Judge the gates; a push that must wait is recorded (unless a dry run) with a timer for its end."""
        verdict = self.verdict(push, config)
        fields = verdict.notification_fields()
        if verdict.outcome is GateOutcome.PASS:
            return Gated(verdict, replace(base, extra={**base.extra, **fields}), stop=False)
        if verdict.outcome is GateOutcome.FAIL:
            url = (
                f" (findings: {verdict.findings_url})"
                if verdict.findings_url and config.gates and config.gates.scan
                else ""
            )
            failed = replace(
                base,
                status=DeployStatus.FAILED,
                reason=f"{verdict.reason}{url}; nothing was registered",
                code="gate",
                extra={**base.extra, **fields},
            )
            return Gated(verdict, failed, stop=True)
        gates = config.gates
        assert gates is not None
        now = self._clock()
        deadline = now + gates.wait_minutes * 60
        if not push.dry_run:
            waiting = self._ledger.record_waiting(
                WaitingPush(
                    repository=push.repository,
                    target=config.name,
                    digest=push.digest,
                    tag=push.tag,
                    registry=push.registry,
                    trigger=push.trigger.value,
                    event_id=push.event_id,
                    pushed_at=push.pushed_at,
                    since=now,
                    deadline=deadline,
                    requested_by=push.requested_by,
                    gates=tuple(check.gate for check in verdict.checks if check.outcome is GateOutcome.WAIT),
                    promotion=push.promotion,
                )
            )
            deadline = waiting.deadline
            self._set_timeout(push, config.name, deadline, now)
        until = describe_time(deadline)
        waiting_report = replace(
            base,
            status=DeployStatus.WAITING,
            reason=f"waiting for {verdict.waiting_for} until {until} (then it fails): {verdict.reason}",
            code="gate-wait",
            extra={**base.extra, **verdict.notification_fields(deadline=until)},
        )
        return Gated(verdict, waiting_report, stop=True)

    def _set_timeout(self, push: ImagePush, target: str, deadline: float, now: float) -> None:
        if self._timers is None:
            logger.warning("No timers: this wait ends only with the scan event", extra={"target": target})
            return
        name = gate_timer_name(self._prefix, push.repository, target, push.digest)
        event = {"action": GATE_TIMEOUT_ACTION, "repository": push.repository, "target": target, "digest": push.digest}
        self._timers.set_timer(Timer(name, earliest_due(deadline, now), event))


class GateResumer:
    """Runs a waiting push again when its digest's findings are ready, or when its wait ends."""

    def __init__(
        self,
        *,
        deploy: Callable[[ImagePush], list[TargetReport]],
        ledger: GateLedger,
        timers: Timers | None,
        timer_prefix: str,
    ) -> None:
        self._deploy = deploy  # the deploy use case, for one target of one push
        self._ledger = ledger
        self._timers = timers
        self._prefix = timer_prefix

    def scan_ready(self, event: ScanReadyEvent) -> dict[str, Any]:
        """Resume every target's deploy that waits for ``event``'s digest."""
        waiting = self._ledger.waiting_for(event.repository, event.digest)
        if not waiting:
            return {
                "status": "IGNORED",
                "reason": f"{event.source}: no deploy waits for the findings of {event.digest[:19]} in "
                f"{event.repository}",
            }
        reports = [report for held in waiting for report in self._resume(held, event.event_id, wait_over=False)]
        return _result(event.repository, event.digest, reports)

    def timeout(self, request: GateTimeoutRequest) -> dict[str, Any]:
        """The end of a wait: the push fails unless its gates answer now; a wait already over changes nothing."""
        waiting = [
            w for w in self._ledger.waiting_for(request.repository, request.digest) if w.target == request.target
        ]
        if not waiting:
            return {"status": "IGNORED", "reason": f"{request.target} no longer waits for {request.digest[:19]}"}
        reports = self._resume(waiting[0], request.event_id, wait_over=True)
        return _result(request.repository, request.digest, reports)

    def _resume(self, waiting: WaitingPush, event_id: str, *, wait_over: bool) -> list[TargetReport]:
        push = ImagePush(
            repository=waiting.repository,
            tag=waiting.tag,
            digest=waiting.digest,
            registry=waiting.registry,
            trigger=Trigger(waiting.trigger),
            event_id=event_id,
            pushed_at=waiting.pushed_at,
            targets=(waiting.target,),
            requested_by=waiting.requested_by,
            gate_wait_over=wait_over,
            promotion=waiting.promotion,
        )
        reports = self._deploy(push)
        for report in reports:
            if report.status is DeployStatus.WAITING or (report.status is DeployStatus.FAILED and report.retryable):
                continue  # still waiting, or to be retried with this very event
            self._ledger.end_waiting(waiting.repository, waiting.digest, waiting.target)
            if self._timers is not None and not wait_over:
                self._timers.cancel_timer(
                    gate_timer_name(self._prefix, waiting.repository, waiting.target, waiting.digest)
                )
        return reports


def _result(repository: str, digest: str, reports: list[TargetReport]) -> dict[str, Any]:
    """The invocation's result; raises (so Lambda retries the event) when a target failed for a passing reason."""
    problems = [
        f"{report.target}: {report.reason}"
        for report in reports
        if report.retryable and report.status in {DeployStatus.FAILED, DeployStatus.RETRYING}
    ]
    if problems:
        raise DeployIncompleteError("resumed deploy incomplete, to be retried: " + "; ".join(problems))
    return {
        "status": "RESUMED",
        "repository": repository,
        "digest": digest,
        "targets": [report.as_result() for report in reports],
    }
