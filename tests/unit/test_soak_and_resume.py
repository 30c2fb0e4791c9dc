"""The use cases that wait, without AWS: the tracker sets the soak timers when a deploy completes, the soak
timer's promotion trusts the ledger, and a waiting push resumes (or not) from the ledger. Over tests/fakes.py."""

from __future__ import annotations

import json
from dataclasses import replace

from pushdeploy.domain.gates import WaitingPush
from pushdeploy.domain.outcome import COMPLETED, FAILED, DeploymentEvent
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.report import DeployOutcome, DeployStatus, TargetReport
from pushdeploy.domain.requests import GateTimeoutRequest, PromoteRequest, ScanReadyEvent
from pushdeploy.domain.times import parse_time
from pushdeploy.usecases.gating import GateResumer, gate_timer_name
from pushdeploy.usecases.promotion import Promotions, SoakTimers, soak_timer_name
from pushdeploy.usecases.track import Tracker
from tests.fakes import FakeConfigs, FakePublisher, FakeTimers, InMemoryLedger, InMemoryWaitLedger
from tests.unit.builders import SERVICE_ARN
from tests.unit.test_tracker import DEPLOYMENT, NOW, commit, first_deploy

UPDATED_AT = parse_time("2026-11-20T10:19:12Z")
PREFIX = "pushdeploy-12345678-"
PROD = {"cluster": "prod", "service": "api", "tags": ["v*"], "promote": {"from": "staging", "soakMinutes": 30}}
STAGING = {"cluster": "staging", "service": "api", "tags": ["staging-*"]}


def soaking_tracker(
    configs: dict[str, object],
) -> tuple[Tracker, InMemoryLedger, InMemoryWaitLedger, FakeTimers]:
    ledger, waits, timers = InMemoryLedger(), InMemoryWaitLedger(), FakeTimers()
    configs = {"staging": STAGING, **configs}
    soak = SoakTimers(
        configs=FakeConfigs({f"/pushdeploy/api/{name}": json.dumps(config) for name, config in configs.items()}),
        ledger=waits,
        timers=timers,
        timer_prefix=PREFIX,
        clock=lambda: NOW,
    )
    tracker = Tracker(ledger=ledger, publisher=FakePublisher(), clock=lambda: NOW, on_completed=soak.source_completed)
    return tracker, ledger, waits, timers


def outcome(name: str) -> DeploymentEvent:
    return DeploymentEvent(name, DEPLOYMENT, SERVICE_ARN, "", UPDATED_AT)


def test_a_completed_deploy_sets_the_soak_timer_of_each_target_promoting_from_it() -> None:
    # Given prod promoting from staging, and staging's deploy recorded
    tracker, ledger, waits, timers = soaking_tracker(
        {"prod": PROD, "dr": {**PROD, "promote": {"from": "prod", "soakMinutes": 5}}}
    )
    deploy = first_deploy()
    commit(ledger, deploy)

    # When ECS reports staging's deployment COMPLETED
    assert tracker.track(outcome(COMPLETED))["status"] == "COMPLETED"

    # Then prod (and only prod: dr promotes from prod) has a pending promotion and a timer 30 min after it
    pending = waits.pending_promotion("api", "prod")
    assert pending is not None and (pending.digest, pending.source_deployment_id) == (deploy.digest, DEPLOYMENT)
    assert waits.pending_promotion("api", "dr") is None
    [timer] = timers.timers.values()
    assert timer.name == soak_timer_name(PREFIX, "api", "prod", deploy.digest)
    assert timer.due == UPDATED_AT + 1800
    assert timer.event == pending.timer_event()

    # And a duplicate COMPLETED sets nothing more
    tracker.track(outcome(COMPLETED))
    assert len(timers.timers) == 1


def test_a_failed_deploy_or_a_completed_rollback_is_promoted_nowhere() -> None:
    # Given prod promoting from staging
    for trigger, name in (("push", FAILED), ("rollback", COMPLETED)):
        tracker, ledger, waits, timers = soaking_tracker({"prod": PROD})
        commit(ledger, replace(first_deploy(), trigger=trigger))

        # When staging's deployment fails, or staging's rollback completes
        tracker.track(outcome(name))

        # Then no soak is set
        assert (timers.timers, waits.promotions) == ({}, {}), trigger


def test_a_promotion_in_a_cycle_is_timed_at_once_for_the_deploy_function_to_refuse() -> None:
    # Given prod promoting from staging, and staging from prod (a cycle)
    tracker, ledger, _, timers = soaking_tracker(
        {"staging": {**STAGING, "promote": {"from": "prod", "soakMinutes": 5}}, "prod": PROD}
    )
    commit(ledger, first_deploy())

    # When staging's deployment completes
    tracker.track(outcome(COMPLETED))

    # Then prod's timer is due at the earliest (a minute), not after its soak: the deploy fails it, naming the field
    [timer] = timers.timers.values()
    assert timer.due == NOW + 60


def promoted_deploys(waits: InMemoryWaitLedger, ledger: InMemoryLedger) -> tuple[Promotions, list[ImagePush]]:
    pushes: list[ImagePush] = []

    def deploy(push: ImagePush) -> DeployOutcome:
        pushes.append(push)
        return DeployOutcome(push, [TargetReport(push, "prod", DeployStatus.DEPLOYING)])

    return Promotions(ledger=waits, history=ledger, deploy=deploy), pushes


def test_the_soak_timer_promotes_the_pending_digest_with_its_chain() -> None:
    # Given staging's deploy completed and prod's soak set
    tracker, ledger, waits, timers = soaking_tracker({"prod": PROD})
    deploy = first_deploy()
    commit(ledger, deploy)
    tracker.track(outcome(COMPLETED))
    [timer] = timers.timers.values()
    promotions, pushes = promoted_deploys(waits, ledger)

    # When the timer fires
    request = PromoteRequest("api", "prod", "staging", deploy.digest, DEPLOYMENT, "timer-request-1")
    result = promotions.promote(request)

    # Then prod deploys that digest as a promotion, keeping the source push's tag and time, with the chain
    assert result["status"] == "DEPLOYING"
    [push] = pushes
    assert (push.trigger, push.digest, push.tag, push.pushed_at, push.targets) == (
        Trigger.PROMOTE,
        deploy.digest,
        deploy.tag,
        deploy.pushed_at,
        ("prod",),
    )
    assert (
        push.promotion is not None
        and push.promotion["summary"] == "promoted from staging (COMPLETED 10:19, soaked 30 min)"
    )
    assert timer.event["sourceDeploymentId"] == DEPLOYMENT


def test_a_soak_timer_whose_source_moved_on_promotes_nothing() -> None:
    # Given staging's deploy completed, prod's soak set, then staging's deploy failed late (a later deploy's record)
    tracker, ledger, waits, _ = soaking_tracker({"prod": PROD})
    deploy = first_deploy()
    commit(ledger, deploy)
    tracker.track(outcome(COMPLETED))
    promotions, pushes = promoted_deploys(waits, ledger)

    # When a timer of another deployment of staging fires (not the one the ledger says completed it)
    result = promotions.promote(PromoteRequest("api", "prod", "staging", deploy.digest, "ecs-svc/42", "r"))

    # Then nothing is deployed, and the result says why
    assert result["status"] == "SKIPPED" and "no longer pending" in result["reason"]
    assert pushes == []


def waiting_push(target: str = "staging") -> WaitingPush:
    return WaitingPush(
        "api", target, "sha256:" + "4f" * 32, "staging-42", "registry", "push", "push-1", 100.0, NOW, NOW + 1800
    )


def resumer(status: DeployStatus) -> tuple[GateResumer, InMemoryWaitLedger, FakeTimers, list[ImagePush]]:
    waits, timers, pushes = InMemoryWaitLedger(), FakeTimers(), []

    def deploy(push: ImagePush) -> list[TargetReport]:
        pushes.append(push)
        return [TargetReport(push, target, status) for target in push.targets or ()]

    return GateResumer(deploy=deploy, ledger=waits, timers=timers, timer_prefix=PREFIX), waits, timers, pushes


def test_a_scan_event_resumes_each_waiting_target_as_its_push_and_ends_their_waits() -> None:
    # Given staging and staging-eu waiting for the digest's findings
    resume, waits, timers, pushes = resumer(DeployStatus.DEPLOYING)
    for target in ("staging", "staging-eu"):
        waits.record_waiting(waiting_push(target))

    # When the digest's scan event comes
    result = resume.scan_ready(ScanReadyEvent("api", "sha256:" + "4f" * 32, "scan-1", "ECR Image Scan"))

    # Then each is deployed as its push (the scan event's id, the push's time), and no longer waits
    assert result["status"] == "RESUMED"
    assert [(p.targets, p.event_id, p.pushed_at, p.gate_wait_over) for p in pushes] == [
        (("staging",), "scan-1", 100.0, False),
        (("staging-eu",), "scan-1", 100.0, False),
    ]
    assert waits.waiting == {}
    assert timers.cancelled == [
        gate_timer_name(PREFIX, "api", t, "sha256:" + "4f" * 32) for t in ("staging", "staging-eu")
    ]


def test_a_push_still_waiting_keeps_waiting_and_a_timer_after_the_wait_changes_nothing() -> None:
    # Given staging waiting, and its gates still waiting when the scan event comes (a signature in progress)
    resume, waits, _, pushes = resumer(DeployStatus.WAITING)
    waits.record_waiting(waiting_push())
    resume.scan_ready(ScanReadyEvent("api", "sha256:" + "4f" * 32, "scan-1", "ECR Image Scan"))

    # Then it still waits
    assert len(waits.waiting) == 1

    # When its wait ends, the push is judged once more with its wait over
    resume.timeout(GateTimeoutRequest("api", "staging", "sha256:" + "4f" * 32, "timer-1"))
    assert pushes[-1].gate_wait_over is True

    # And once nothing waits, a timer (or a scan event) changes nothing
    waits.end_waiting("api", "sha256:" + "4f" * 32, "staging")
    count = len(pushes)
    assert resume.timeout(GateTimeoutRequest("api", "staging", "sha256:" + "4f" * 32, "timer-2"))["status"] == "IGNORED"
    assert len(pushes) == count
