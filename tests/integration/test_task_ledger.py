"""The ledger's records of one-off tasks (adapters.task_ledger), on in-process moto's DynamoDB: the claim a
running task holds outlives the usual lease, a task ends once, and the queue behind it keeps the newest push."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from pushdeploy.adapters.ledger import DynamoDbLedger
from pushdeploy.domain.ledger import CLAIM_LEASE_SECONDS, Claim
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.tasks import TASK_LEASE_MARGIN_SECONDS, TaskPhase, TaskRun
from tools.sample_world import create_deploy_table

T0 = 1_795_000_000.0
REPOSITORY, TARGET = "api", "staging"
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/staging/0f1e2d3c4b5a6978"


@pytest.fixture
def ledger() -> Iterator[DynamoDbLedger]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield DynamoDbLedger(session.client("dynamodb"), create_deploy_table(session))


def push(tag: str, pushed_at: float, event_id: str | None = None) -> ImagePush:
    digest = "sha256:" + (tag.encode().hex() * 64)[:64]
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    return ImagePush(REPOSITORY, tag, digest, registry, Trigger.PUSH, event_id or f"event-{tag}", pushed_at)


def started(ledger: DynamoDbLedger, first: ImagePush) -> TaskRun:
    """``first`` claimed the target and started its migration (15 min at most)."""
    claim = Claim("token-1", first.record, T0 + CLAIM_LEASE_SECONDS)
    assert ledger.claim(REPOSITORY, TARGET, claim, T0).acquired
    run = TaskRun(
        phase=TaskPhase.BEFORE,
        index=0,
        done=0,
        task_arn=TASK_ARN,
        cluster="staging",
        container="api",
        command=("python", "manage.py", "migrate"),
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:2",
        claim_token=claim.token,
        started_at=T0,
        timeout_at=T0 + 900,
        timer="pushdeploy-abc-task-staging",
        push=first,
        timeout_minutes=15,
    )
    assert ledger.start_task(REPOSITORY, TARGET, run, run.timeout_at + TASK_LEASE_MARGIN_SECONDS)
    return run


def test_a_running_tasks_claim_does_not_lapse_under_it(ledger: DynamoDbLedger) -> None:
    # Given a migration started under a push's claim
    run = started(ledger, push("staging-42", T0))

    # When another push asks for the claim after the usual lease has passed
    later = Claim("token-2", push("staging-43", T0 + 60).record, T0 + 2 * CLAIM_LEASE_SECONDS)
    result = ledger.claim(REPOSITORY, TARGET, later, T0 + CLAIM_LEASE_SECONDS + 60)

    # Then the claim is still the task's, held until past the task's timeout; the task and its pointer are recorded
    assert not result.acquired
    assert (
        result.state.claim is not None and result.state.claim.expires_at == run.timeout_at + TASK_LEASE_MARGIN_SECONDS
    )
    assert result.state.task == run
    assert ledger.find_task(TASK_ARN) == (REPOSITORY, TARGET)
    # ...but past the extended lease (a lost event and a lost timer), the target is free again
    assert ledger.claim(REPOSITORY, TARGET, later, run.timeout_at + TASK_LEASE_MARGIN_SECONDS + 1).acquired


def test_a_task_ends_once(ledger: DynamoDbLedger) -> None:
    # Given a running migration
    run = started(ledger, push("staging-42", T0))

    # When its end is noted twice (a duplicate event, or the event and the timer)
    first = ledger.end_task(REPOSITORY, TARGET, TASK_ARN, succeeded=True)
    second = ledger.end_task(REPOSITORY, TARGET, TASK_ARN, succeeded=False)

    # Then only the first changes anything: the task is done, no longer running
    assert first == run
    assert second is None
    task = ledger.read_state(REPOSITORY, TARGET).task
    assert task is not None and (task.task_arn, task.done) == (None, 1)


def test_the_queue_behind_a_task_keeps_the_newest_push(ledger: DynamoDbLedger) -> None:
    # Given a running migration
    started(ledger, push("staging-42", T0))
    b, c, old = push("staging-43", T0 + 60), push("staging-44", T0 + 120), push("staging-41", T0 - 60)

    # When newer pushes queue behind it, and an older one last
    # Then each newer one displaces the one queued before it; the older one is told the newer one waits
    assert ledger.queue_push(REPOSITORY, TARGET, b, "token-1") == (True, None)
    assert ledger.queue_push(REPOSITORY, TARGET, c, "token-1") == (True, b)
    assert ledger.queue_push(REPOSITORY, TARGET, old, "token-1") == (False, c)
    # ...and a redelivery of the queued one finds itself there
    assert ledger.queue_push(REPOSITORY, TARGET, c, "token-1") == (False, c)

    # When the task's deploy gives the claim back
    ledger.release(REPOSITORY, TARGET, "token-1")

    # Then nothing more queues behind it (no task holds the claim), and the queued push is taken once
    assert ledger.queue_push(REPOSITORY, TARGET, replace(c, pushed_at=T0 + 500), "token-1") == (False, None)
    assert ledger.read_state(REPOSITORY, TARGET).task is None
    assert ledger.take_queued(REPOSITORY, TARGET) == c
    assert ledger.take_queued(REPOSITORY, TARGET) is None
