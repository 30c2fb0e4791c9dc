"""The DynamoDB ledger's bookkeeping that keeps costs flat: each target keeps its last HISTORY_KEPT deploys
(older ones are expired in the commit that pushes them out) and its recent events' results (a redelivery's
first result, at no call of its own). On moto, in-process."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from pushdeploy.adapters.ledger import HISTORY_KEPT, DynamoDbLedger
from pushdeploy.domain.ledger import EVENTS_KEPT, Claim, DeployedRecord, EventResult, PushRecord, events_to_forget
from pushdeploy.domain.records import HistoryItem
from tools.sample_world import create_deploy_table

T0 = 1_795_000_000.0
REPOSITORY, TARGET = "api", "staging"


@pytest.fixture
def ledger() -> Iterator[DynamoDbLedger]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield DynamoDbLedger(session.client("dynamodb"), create_deploy_table(session))


def item(number: int, at: float) -> HistoryItem:
    return HistoryItem(
        repository=REPOSITORY,
        target=TARGET,
        tag=f"staging-{number}",
        digest="sha256:" + f"{number:064x}",
        image=f"api@sha256:{number:064x}",
        trigger="push",
        status="DEPLOYING",
        cluster="staging",
        service="api",
        task_definition_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:{number}",
        previous_task_definition_arn=None,
        deployment_id=None,
        event_id=f"event-{number}",
        pushed_at=at,
        recorded_at=at,
    )


def deploy(ledger: DynamoDbLedger, number: int, at: float, *, result: bool = False) -> None:
    """One push of the target, from its claim to its commit, as the Deployer does it."""
    push = PushRecord("sha256:" + f"{number:064x}", f"staging-{number}", at, f"event-{number}")
    claimed = ledger.claim(REPOSITORY, TARGET, Claim(f"token-{number}", push, at + 300, "request"), at)
    assert claimed.acquired
    state = claimed.state
    outcome = EventResult(push.event_id, {"target": TARGET, "status": "DEPLOYING"}, at) if result else None
    ledger.commit(
        REPOSITORY,
        TARGET,
        f"token-{number}",
        DeployedRecord(push, item(number, at).task_definition_arn or "", at),
        item(number, at),
        result=outcome,
        forget=events_to_forget(state.events, at) if result else (),
        history_refs=state.history_refs,
    )


def test_the_history_keeps_the_last_hundred_deploys_and_expires_the_older_ones(ledger: DynamoDbLedger) -> None:
    # Given HISTORY_KEPT + 5 deploys of one target, a minute apart
    for number in range(HISTORY_KEPT + 5):
        deploy(ledger, number, T0 + 60 * number)

    # When its history is read in full
    history = ledger.history(REPOSITORY, TARGET, 1000)

    # Then it holds the newest HISTORY_KEPT, newest first, and the state refers to exactly those
    assert len(history) == HISTORY_KEPT
    assert [entry.tag for entry in history[:2]] == [f"staging-{HISTORY_KEPT + 4}", f"staging-{HISTORY_KEPT + 3}"]
    assert history[-1].tag == "staging-5"
    assert len(ledger.read_state(REPOSITORY, TARGET).history_refs) == HISTORY_KEPT


def test_a_target_keeps_only_its_recent_event_results(ledger: DynamoDbLedger) -> None:
    # Given more pushes than a target keeps results of
    for number in range(EVENTS_KEPT + 3):
        deploy(ledger, number, T0 + 60 * number, result=True)

    # When its state is read
    events = ledger.read_state(REPOSITORY, TARGET).events

    # Then the newest EVENTS_KEPT results are kept, and a redelivery of one of them is refused its claim
    assert sorted(events) == sorted(f"event-{n}" for n in range(3, EVENTS_KEPT + 3))
    newest = PushRecord("sha256:" + f"{EVENTS_KEPT + 2:064x}", "x", T0, f"event-{EVENTS_KEPT + 2}")
    again = ledger.claim(REPOSITORY, TARGET, Claim("again", newest, T0 + 10_000, "another request"), T0 + 9_000)
    assert not again.acquired
    assert again.state.events[newest.event_id].result == {"target": TARGET, "status": "DEPLOYING"}
