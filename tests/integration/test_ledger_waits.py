"""The ledger's records of what waits, in DynamoDB (in-process moto): waiting pushes by digest, pending
promotions by target; and ECR's gate answers read by the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from pushdeploy.adapters.ecr import EcrImageSignals
from pushdeploy.adapters.ledger_waits import DynamoDbWaitLedger
from pushdeploy.domain.gates import WaitingPush
from pushdeploy.domain.promotion import PendingPromotion
from tools.sample_world import create_deploy_table, push_image

DIGEST = "sha256:" + "4f" * 32


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def ledger(session: boto3.Session) -> DynamoDbWaitLedger:
    return DynamoDbWaitLedger(session.client("dynamodb"), create_deploy_table(session), clock=lambda: 1_000.0)


def waiting(target: str, since: float, deadline: float) -> WaitingPush:
    return WaitingPush(
        repository="api",
        target=target,
        digest=DIGEST,
        tag="staging-42",
        registry="123456789012.dkr.ecr.us-east-1.amazonaws.com",
        trigger="push",
        event_id="e-1",
        pushed_at=900.0,
        since=since,
        deadline=deadline,
        requested_by=None,
        gates=("scan",),
    )


def test_a_push_waits_once_per_target_and_keeps_its_first_deadline(ledger: DynamoDbWaitLedger) -> None:
    # Given staging and staging-eu waiting for the digest's findings
    first = ledger.record_waiting(waiting("staging", 1_000.0, 2_800.0))
    ledger.record_waiting(waiting("staging-eu", 1_000.0, 2_800.0))

    # When staging waits again (its resumption found the signature still in progress)
    again = ledger.record_waiting(waiting("staging", 1_500.0, 3_300.0))

    # Then it keeps the deadline of its first wait, and the digest's waiting targets are both found
    assert (again.since, again.deadline) == (first.since, first.deadline) == (1_000.0, 2_800.0)
    assert [w.target for w in ledger.waiting_for("api", DIGEST)] == ["staging", "staging-eu"]
    assert ledger.waiting_for("api", "sha256:" + "00" * 32) == []


def test_a_waiting_promotion_keeps_its_chain(ledger: DynamoDbWaitLedger) -> None:
    # Given a promotion of staging's digest to prod waiting for prod's gates
    chain = {"from": "staging", "completedAt": "2026-11-20T10:02:00Z", "soakMinutes": 30, "summary": "promoted"}
    ledger.record_waiting(replace(waiting("prod", 1_000.0, 2_800.0), trigger="promote", promotion=chain))

    # Then the waiting push read back is a promotion with its chain
    [held] = ledger.waiting_for("api", DIGEST)
    assert (held.trigger, held.promotion) == ("promote", chain)


def test_an_ended_wait_is_over_once_and_a_new_wait_starts_anew(ledger: DynamoDbWaitLedger) -> None:
    # Given staging waiting
    ledger.record_waiting(waiting("staging", 1_000.0, 2_800.0))

    # When its wait ends (twice: a duplicate event)
    ended, again = ledger.end_waiting("api", DIGEST, "staging"), ledger.end_waiting("api", DIGEST, "staging")

    # Then only the first ended it, and nothing waits any more
    assert (ended, again) == (True, False)
    assert ledger.waiting_for("api", DIGEST) == []
    # And a later wait of the same digest gets a deadline of its own
    assert ledger.record_waiting(waiting("staging", 5_000.0, 6_800.0)).deadline == 6_800.0


def test_a_target_keeps_the_latest_completion_of_its_source_whatever_the_order(ledger: DynamoDbWaitLedger) -> None:
    # Given two completions of staging, the later one recorded first (events come in any order)
    older = PendingPromotion("api", "prod", "staging", DIGEST, "staging-42", 900.0, "ecs-svc/1", 1_000.0, 30)
    newer = PendingPromotion(
        "api", "prod", "staging", "sha256:" + "5e" * 32, "staging-43", 950.0, "ecs-svc/2", 1_100.0, 30
    )
    ledger.record_pending_promotion(newer)
    ledger.record_pending_promotion(older)

    # Then prod's pending promotion is the later completion; another target has none
    assert ledger.pending_promotion("api", "prod") == newer
    assert ledger.pending_promotion("api", "dr") is None


def test_ecr_answers_no_scan_yet_and_not_signed_for_a_fresh_image(session: boto3.Session) -> None:
    # Given an image just pushed, never scanned nor signed
    session.client("ecr").create_repository(repositoryName="api")
    digest = push_image(session, "api", "staging-42", "2")
    signals = EcrImageSignals(session.client("ecr"))

    # Then its scan is NOT_FOUND (ScanNotFoundException: the gate waits) and it has no signature
    assert signals.scan_findings("api", digest).status == "NOT_FOUND"
    # moto's ECR has no DescribeImageSigningStatus: the local AWS answers it (tools/localecr.py)
    # When ECR scans it (moto answers its fixed HIGH finding)
    session.client("ecr").start_image_scan(repositoryName="api", imageId={"imageDigest": digest})
    findings = signals.scan_findings("api", digest)
    assert (findings.status, dict(findings.counts)) == ("COMPLETE", {"HIGH": 1})
