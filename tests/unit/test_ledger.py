"""The deploy ledger's pure rules: judge_push (proceed, duplicate, refresh, stale, busy, renotify), fingerprint
and reusable_revision, and models proving that whatever the arrival order, a target ends on its newest push."""

from __future__ import annotations

import copy
import itertools
import random
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pushdeploy.domain.ledger import (
    CLAIM_LEASE_SECONDS,
    Claim,
    ClaimResult,
    DeployedRecord,
    Judgement,
    PendingRevision,
    PushRecord,
    TargetState,
    Verdict,
    judge_push,
    reusable_revision,
)
from pushdeploy.domain.names import short_digest
from pushdeploy.domain.plan import ClaimAction, decide_claim
from pushdeploy.domain.taskdef import fingerprint
from pushdeploy.domain.times import describe_time, parse_time

NOW = parse_time("2026-11-20T12:00:00Z")
T_OLD = parse_time("2026-11-20T10:00:00Z")
T_NEW = parse_time("2026-11-20T11:00:00Z")
DIGEST_A = "sha256:" + "a1" * 32
DIGEST_B = "sha256:" + "b2" * 32
ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:7"


def push(digest: str = DIGEST_A, tag: str = "staging-42", at: float = T_NEW, event: str = "event-1") -> PushRecord:
    return PushRecord(digest=digest, tag=tag, pushed_at=at, event_id=event)


def deployed(record: PushRecord, *, notified: bool = True, at: float = NOW - 60) -> DeployedRecord:
    return DeployedRecord(push=record, task_definition_arn=ARN, deployed_at=at, notified=notified)


def claimed(record: PushRecord, *, expires_at: float = NOW + CLAIM_LEASE_SECONDS, token: str = "t0") -> Claim:
    return Claim(token=token, push=record, expires_at=expires_at)


def judge(state: TargetState, record: PushRecord, *, manual: bool = False, now: float = NOW) -> Judgement:
    return judge_push(state, record, manual=manual, now=now)


# --- PROCEED -------------------------------------------------------------------------------------------


def test_a_new_target_proceeds() -> None:
    # Given a target the ledger knows nothing about
    # When a push is judged
    judgement = judge(TargetState(), push())

    # Then it may deploy, with nothing to explain
    assert judgement == Judgement(Verdict.PROCEED, "")


def test_a_newer_push_than_the_deployed_one_proceeds() -> None:
    # Given the target runs an older push of another digest
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-41", T_OLD, "old")))

    # When a newer push is judged
    # Then it deploys
    assert judge(state, push(DIGEST_B, "staging-42", T_NEW, "new")).verdict is Verdict.PROCEED


def test_a_push_as_old_as_the_deployed_one_proceeds_the_later_arrival_wins() -> None:
    # Given the target runs a push of another digest made in the same second
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-41", T_NEW, "first")))

    # When the other push of that second is judged
    # Then it is not stale: on a tie, the later arrival wins
    assert judge(state, push(DIGEST_B, "staging-42", T_NEW, "second")).verdict is Verdict.PROCEED


def test_a_pending_revision_does_not_change_the_verdict() -> None:
    # Given a revision was registered for a failed update, and nothing runs from pushdeploy yet
    state = TargetState(pending=PendingRevision(DIGEST_A, "f" * 64, ARN))

    # When the retry is judged
    # Then it proceeds (and may reuse the revision, see reusable_revision)
    assert judge(state, push()).verdict is Verdict.PROCEED


# --- DUPLICATE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [T_OLD, T_OLD - 1], ids=["same-time", "older"])
def test_the_deployed_digest_is_a_duplicate_naming_its_tag_and_time(at: float) -> None:
    # Given staging-42 was deployed (and notified)
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD, "first"), at=T_NEW))

    # When another event of the same digest (its tag build-42), no newer, is judged
    judgement = judge(state, push(DIGEST_A, "build-42", at, "second"))

    # Then it is a duplicate; the reason names the digest, the tag it was deployed under and when
    assert judgement.verdict is Verdict.DUPLICATE
    assert judgement.reason == f"{DIGEST_A[:19]} is already deployed (tag staging-42, 2026-11-20T11:00:00Z)"


def test_a_newer_event_of_the_deployed_digest_refreshes_the_ledger_naming_both_tags() -> None:
    # Given staging-42 (10:00) was deployed
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD, "first"), at=T_NEW))

    # When the same digest's tag build-42 (11:00) is judged
    judgement = judge(state, push(DIGEST_A, "build-42", T_NEW, "second"))

    # Then nothing is deployed again, but its time is to be recorded: a push older than it is stale from now on
    assert judgement.verdict is Verdict.REFRESH
    assert judgement.reason == (
        f"{DIGEST_A[:19]} is already deployed (tag staging-42); tag build-42 (pushed 2026-11-20T11:00:00Z) is "
        "recorded as its newest push"
    )


def test_a_redelivered_event_of_the_deployed_push_is_a_duplicate() -> None:
    # Given the push was deployed
    record = push()
    state = TargetState(deployed=deployed(record))

    # When the very same event is judged again
    # Then it is a duplicate
    assert judge(state, record).verdict is Verdict.DUPLICATE


@pytest.mark.parametrize("at", [T_NEW, T_OLD], ids=["same-time", "older"])
def test_the_digest_another_event_is_deploying_is_a_duplicate_naming_that_tag(at: float) -> None:
    # Given another event of the digest (tag staging-42, 11:00) holds the claim
    state = TargetState(claim=claimed(push(DIGEST_A, "staging-42", T_NEW, "first")))

    # When its second tag's event, no newer, is judged
    judgement = judge(state, push(DIGEST_A, "build-42", at, "second"))

    # Then it is a duplicate of the deploy in flight
    assert judgement == Judgement(Verdict.DUPLICATE, f"{DIGEST_A[:19]} is being deployed (tag staging-42)")


def test_a_newer_event_of_the_digest_being_deployed_waits_for_it() -> None:
    # Given another event of the digest (tag staging-42, 10:00) holds the claim
    state = TargetState(claim=claimed(push(DIGEST_A, "staging-42", T_OLD, "first")))

    # When its tag build-42 (11:00) is judged
    judgement = judge(state, push(DIGEST_A, "build-42", T_NEW, "second"))

    # Then it waits (to record its time once the deploy is committed), naming the deploy in flight
    assert judgement == Judgement(Verdict.BUSY, "tag staging-42 is being deployed; waiting for it to finish")


def test_a_duplicate_of_the_deployed_digest_wins_over_a_claim_in_flight() -> None:
    # Given the digest is deployed and a newer push is being deployed
    state = TargetState(
        deployed=deployed(push(DIGEST_A, "staging-41", T_OLD, "first")),
        claim=claimed(push(DIGEST_B, "staging-42", T_NEW, "other")),
    )

    # When another event of the deployed digest is judged: no newer, then newer
    # Then it is a duplicate, or a refresh (not busy: the deployed record decides)
    assert judge(state, push(DIGEST_A, "build-41", T_OLD, "second")).verdict is Verdict.DUPLICATE
    assert judge(state, push(DIGEST_A, "build-41", T_OLD + 1, "second")).verdict is Verdict.REFRESH


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (None, Verdict.DUPLICATE),
        ("COMPLETED", Verdict.DUPLICATE),
        ("FAILED", Verdict.PROCEED),
        ("ROLLED_BACK", Verdict.PROCEED),
    ],
)
def test_a_digest_whose_deployment_failed_or_was_rolled_back_may_be_deployed_again(
    outcome: str | None, verdict: Verdict
) -> None:
    # Given staging-42 was deployed, and ECS reported how its deployment ended (or not yet)
    record = push(DIGEST_A, "staging-42", T_OLD, "first")
    state = TargetState(deployed=replace(deployed(record), outcome=outcome))

    # When another event of the digest, of the same time, is judged
    judgement = judge(state, push(DIGEST_A, "build-42", T_OLD, "second"))

    # Then it is a duplicate only of a deployment that did not fail: a failed image may be retried
    assert judgement.verdict is verdict


def test_an_older_push_of_a_digest_whose_deployment_failed_is_still_stale() -> None:
    # Given staging-42 (11:00) was deployed and its deployment failed
    state = TargetState(deployed=replace(deployed(push(DIGEST_A, "staging-42", T_NEW, "first")), outcome="FAILED"))

    # When an older event of the same digest is judged
    # Then it is stale: newest wins still
    assert judge(state, push(DIGEST_A, "build-42", T_OLD, "second")).verdict is Verdict.STALE


# --- STALE ---------------------------------------------------------------------------------------------


def test_a_push_older_than_the_deployed_one_is_stale_naming_both_tags_and_times() -> None:
    # Given the target runs staging-42, pushed at 11:00
    state = TargetState(deployed=deployed(push(DIGEST_B, "staging-42", T_NEW, "new")))

    # When staging-41, pushed at 10:00, arrives late
    judgement = judge(state, push(DIGEST_A, "staging-41", T_OLD, "old"))

    # Then it is stale, and the reason names both tags and both push times
    assert judgement.verdict is Verdict.STALE
    assert judgement.reason == (
        "stale: tag staging-41 (pushed 2026-11-20T10:00:00Z) is older than tag staging-42 "
        "(pushed 2026-11-20T11:00:00Z), which is deployed"
    )


def test_a_push_older_than_the_one_being_deployed_is_stale_naming_both_tags_and_times() -> None:
    # Given staging-42 (11:00) is being deployed by another event
    state = TargetState(claim=claimed(push(DIGEST_B, "staging-42", T_NEW, "new")))

    # When staging-41 (10:00) is judged
    judgement = judge(state, push(DIGEST_A, "staging-41", T_OLD, "old"))

    # Then it is stale against the deploy in flight
    assert judgement.verdict is Verdict.STALE
    assert judgement.reason == (
        "stale: tag staging-41 (pushed 2026-11-20T10:00:00Z) is older than tag staging-42 "
        "(pushed 2026-11-20T11:00:00Z), which is being deployed"
    )


def test_staleness_against_the_deployed_push_is_judged_before_the_claim() -> None:
    # Given a newer push is deployed and an even newer one holds the claim
    state = TargetState(
        deployed=deployed(push(DIGEST_B, "staging-42", T_NEW, "new")),
        claim=claimed(push("sha256:" + "c3" * 32, "staging-43", NOW, "newest")),
    )

    # When an old push is judged
    judgement = judge(state, push(DIGEST_A, "staging-41", T_OLD, "old"))

    # Then the reason is the deployed push
    assert judgement.verdict is Verdict.STALE
    assert judgement.reason.endswith("which is deployed")
    assert "staging-42" in judgement.reason


# --- BUSY and claims -----------------------------------------------------------------------------------


def test_an_older_push_holding_the_claim_makes_a_newer_one_wait() -> None:
    # Given staging-41 (10:00) is being deployed
    state = TargetState(claim=claimed(push(DIGEST_A, "staging-41", T_OLD, "old")))

    # When staging-42 (11:00) is judged
    judgement = judge(state, push(DIGEST_B, "staging-42", T_NEW, "new"))

    # Then it waits for the deploy in flight, naming it
    assert judgement == Judgement(Verdict.BUSY, "tag staging-41 is being deployed; waiting for it to finish")


def test_a_claim_of_the_same_time_makes_the_other_push_wait() -> None:
    # Given a push of another digest, made in the same second, holds the claim
    state = TargetState(claim=claimed(push(DIGEST_A, "staging-41", T_NEW, "first")))

    # When the other push is judged
    # Then it is not stale (a tie), it waits
    assert judge(state, push(DIGEST_B, "staging-42", T_NEW, "second")).verdict is Verdict.BUSY


@pytest.mark.parametrize("expires_at", [NOW - 1, NOW], ids=["lapsed", "lapsing-now"])
def test_an_expired_claim_is_ignored(expires_at: float) -> None:
    # Given a newer push's claim whose lease has run out (its deploy crashed)
    state = TargetState(claim=claimed(push(DIGEST_B, "staging-42", T_NEW, "crashed"), expires_at=expires_at))

    # When an older push is judged
    # Then the claim counts for nothing: the push proceeds
    assert judge(state, push(DIGEST_A, "staging-41", T_OLD, "old")).verdict is Verdict.PROCEED


def test_an_expired_claim_of_the_same_digest_is_no_duplicate() -> None:
    # Given the digest's deploy crashed and its lease ran out
    state = TargetState(claim=claimed(push(DIGEST_A, "staging-42", T_OLD, "crashed"), expires_at=NOW - 1))

    # When its second tag arrives
    # Then it deploys: the crashed deploy may never have finished
    assert judge(state, push(DIGEST_A, "build-42", T_NEW, "second")).verdict is Verdict.PROCEED


@pytest.mark.parametrize("claim_digest", [DIGEST_A, DIGEST_B])
def test_the_claim_of_the_same_event_is_taken_over(claim_digest: str) -> None:
    # Given an unexpired claim of this very event (an earlier attempt that crashed or timed out)
    record = push(DIGEST_A, "staging-42", T_OLD, "event-1")
    state = TargetState(claim=claimed(replace(record, digest=claim_digest, pushed_at=T_NEW)))

    # When the retry is judged
    # Then it is neither a duplicate nor stale nor busy: it takes over
    assert judge(state, record).verdict is Verdict.PROCEED


def test_the_claim_of_the_same_event_is_taken_over_but_the_deployed_push_still_counts() -> None:
    # Given a newer push is deployed, and this event's own crashed attempt holds the claim
    record = push(DIGEST_A, "staging-41", T_OLD, "event-1")
    state = TargetState(deployed=deployed(push(DIGEST_B, "staging-42", T_NEW, "new")), claim=claimed(record))

    # When the retry is judged
    # Then it is stale against the deployed push
    assert judge(state, record).verdict is Verdict.STALE


# --- RENOTIFY ------------------------------------------------------------------------------------------


def test_the_deployed_digest_whose_notification_was_lost_is_renotified() -> None:
    # Given the digest was deployed but its notification never published
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD, "first"), notified=False))

    # When an event of that digest (the retry, or another tag) is judged
    judgement = judge(state, push(DIGEST_A, "staging-42", T_OLD, "first"))

    # Then the notification is to be published now
    assert judgement == Judgement(Verdict.RENOTIFY, "deployed, but its notification was not published")


def test_a_lost_notification_is_published_before_a_newer_event_of_the_digest_is_recorded() -> None:
    # Given the digest was deployed but its notification never published
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD, "first"), notified=False))

    # When a newer event of that digest is judged
    # Then the notification comes first
    assert judge(state, push(DIGEST_A, "build-42", T_NEW, "second")).verdict is Verdict.RENOTIFY


def test_a_push_of_another_digest_is_not_a_renotification() -> None:
    # Given an older digest was deployed without its notification
    state = TargetState(deployed=deployed(push(DIGEST_A, "staging-41", T_OLD, "first"), notified=False))

    # When a newer digest is judged
    # Then it simply deploys
    assert judge(state, push(DIGEST_B, "staging-42", T_NEW, "new")).verdict is Verdict.PROCEED


# --- manual deploys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD, "first"))),
        TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD - 1, "first"))),
        TargetState(deployed=deployed(push(DIGEST_A, "staging-42", T_OLD, "first"), notified=False)),
        TargetState(deployed=deployed(push(DIGEST_B, "staging-43", NOW + 3600, "newer"))),
        TargetState(claim=claimed(push(DIGEST_B, "staging-43", NOW, "other"), expires_at=NOW - 1)),
        TargetState(claim=claimed(push(DIGEST_A, "staging-42", NOW, "manual-1"))),
    ],
    ids=["deployed-digest", "older-deployed-digest", "not-notified", "newer-deployed", "expired-claim", "own-claim"],
)
def test_a_manual_deploy_is_never_a_duplicate_or_stale(state: TargetState) -> None:
    # Given a state in which a push of the digest would be skipped
    # When a manual deploy of it is judged
    judgement = judge(state, push(DIGEST_A, "staging-42", T_OLD, "manual-1"), manual=True)

    # Then it proceeds (no refresh, no renotification either): asking by hand is deliberate
    assert judgement.verdict is Verdict.PROCEED


@pytest.mark.parametrize(
    "claim_push",
    [push(DIGEST_A, "staging-42", T_OLD, "other"), push(DIGEST_B, "staging-43", NOW + 3600, "newer")],
    ids=["same-digest", "newer-push"],
)
def test_a_manual_deploy_still_waits_for_a_deploy_in_flight(claim_push: PushRecord) -> None:
    # Given another event holds an unexpired claim (same digest, or a newer push)
    state = TargetState(claim=claimed(claim_push))

    # When a manual deploy is judged
    judgement = judge(state, push(DIGEST_A, "staging-42", NOW, "manual-1"), manual=True)

    # Then it waits, naming what is being deployed
    assert judgement.verdict is Verdict.BUSY
    assert claim_push.tag in judgement.reason


# --- fingerprint and reusable_revision -----------------------------------------------------------------

REQUEST: dict[str, Any] = {
    "family": "api-staging",
    "cpu": "512",
    "containerDefinitions": [
        {"name": "api", "image": f"r/api@{DIGEST_A}", "environment": [{"name": "A", "value": "1"}]},
        {"name": "db", "image": "postgres:16.4"},
    ],
    "tags": [{"key": "pushdeploy:image-tag", "value": "staging-42"}],
}


def reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order (lists keep theirs: order matters)."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def test_fingerprint_is_stable_under_key_order() -> None:
    # Given the same request with every object's keys in another order
    shuffled = reordered(REQUEST)
    assert list(shuffled) != list(REQUEST)

    # When both are fingerprinted
    # Then the fingerprints are equal, a sha256 in hex
    assert fingerprint(shuffled) == fingerprint(REQUEST)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(REQUEST))


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(cpu="1024"),
        lambda r: r["containerDefinitions"][0].update(image=f"r/api@{DIGEST_B}"),
        lambda r: r["containerDefinitions"].reverse(),
        lambda r: r["containerDefinitions"][0]["environment"].append({"name": "B", "value": "2"}),
        lambda r: r.pop("tags"),
    ],
    ids=["value", "image", "list-order", "added", "removed"],
)
def test_fingerprint_changes_with_the_request(change: Any) -> None:
    # Given a request changed in one place
    changed = copy.deepcopy(REQUEST)
    change(changed)

    # When both are fingerprinted
    # Then the fingerprints differ
    assert fingerprint(changed) != fingerprint(REQUEST)


def test_fingerprint_takes_values_json_cannot_encode() -> None:
    # Given a request holding a datetime-like value (as boto3 returns some fields)
    request = {**REQUEST, "registeredAt": parse_time("2026-11-20T10:00:00Z")}

    # When it is fingerprinted twice
    # Then it is stable
    assert fingerprint(request) == fingerprint(dict(request))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


request_tags = st.lists(
    st.fixed_dictionaries({"key": st.text(max_size=8), "value": st.text(max_size=8)}),
    max_size=4,
    unique_by=lambda t: t["key"],
)
requests = st.builds(
    lambda fields, tags: {**fields, "tags": tags} if tags is not None else fields,
    st.dictionaries(st.text(max_size=8).filter(lambda key: key != "tags"), json_values, max_size=6),
    st.none() | request_tags,
)


@given(requests, st.randoms())
def test_fingerprint_is_stable_under_any_key_order(request: dict[str, Any], rnd: random.Random) -> None:
    # Given any request (its tags as RegisterTaskDefinition takes them) and a copy whose objects list their keys
    # in a random order
    def shuffle(value: Any) -> Any:
        if isinstance(value, dict):
            keys = list(value)
            rnd.shuffle(keys)
            return {key: shuffle(value[key]) for key in keys}
        if isinstance(value, list):
            return [shuffle(item) for item in value]
        return value

    # When both are fingerprinted
    # Then they are equal
    assert fingerprint(shuffle(request)) == fingerprint(request)


def test_fingerprint_is_stable_under_tag_order() -> None:
    # Given the same request with its tags listed in another order
    tags = [{"key": "team", "value": "payments"}, {"key": "pushdeploy:image-tag", "value": "staging-42"}]
    request = {**REQUEST, "tags": tags}

    # When both are fingerprinted
    # Then they are equal: the tags are a set, whatever order DescribeTaskDefinition returned them in
    assert fingerprint({**request, "tags": list(reversed(tags))}) == fingerprint(request)


PENDING = PendingRevision(DIGEST_A, fingerprint(REQUEST), ARN)


@pytest.mark.parametrize(
    ("state", "digest", "request_fingerprint", "expected"),
    [
        (TargetState(pending=PENDING), DIGEST_A, fingerprint(REQUEST), ARN),
        (TargetState(pending=PENDING), DIGEST_B, fingerprint(REQUEST), None),
        (TargetState(pending=PENDING), DIGEST_A, fingerprint({**REQUEST, "cpu": "1024"}), None),
        (TargetState(pending=PENDING), DIGEST_A, "", None),
        (TargetState(), DIGEST_A, fingerprint(REQUEST), None),
        (TargetState(deployed=deployed(push(DIGEST_A))), DIGEST_A, fingerprint(REQUEST), None),
    ],
    ids=["same", "other-digest", "other-request", "no-fingerprint", "no-pending", "deployed-only"],
)
def test_a_revision_is_reused_only_for_the_same_digest_and_request(
    state: TargetState, digest: str, request_fingerprint: str, expected: str | None
) -> None:
    # Given a target with or without a revision registered for a failed update
    # When a retry asks whether it may reuse it
    # Then only the same digest and the same rendered request reuse it
    assert reusable_revision(state, digest, request_fingerprint) == expected


# --- times and digests as people read them -------------------------------------------------------------


def test_times_and_digests_as_reasons_show_them() -> None:
    # Given an EventBridge time and a digest
    # When they are parsed and shortened
    # Then they read back as given, the digest to 12 hex digits
    assert describe_time(parse_time("2026-11-20T10:15:30Z")) == "2026-11-20T10:15:30Z"
    assert describe_time(parse_time("2026-11-20T11:15:30+01:00")) == "2026-11-20T10:15:30Z"
    assert short_digest(DIGEST_A) == "sha256:" + "a1" * 6


# --- newest wins, in any arrival order (sequential) ----------------------------------------------------

DIGESTS = [f"sha256:{index:064x}" for index in range(6)]


@st.composite
def push_sequences(draw: st.DrawFn) -> list[PushRecord]:
    """Arrivals of push events in any order: digests repeat (another tag of a push, a later re-tag of an old
    image), times tie, and an event may be delivered twice."""
    events = [
        PushRecord(
            digest=draw(st.sampled_from(DIGESTS)),
            tag=f"staging-{index}",
            pushed_at=T_OLD + draw(st.integers(0, 8)),
            event_id=f"event-{index}",
        )
        for index in range(draw(st.integers(1, 10)))
    ]
    redelivered = draw(st.lists(st.sampled_from(events), max_size=3))
    return draw(st.permutations(events + redelivered))


def deploy_one_by_one(arrivals: list[PushRecord]) -> tuple[TargetState, list[Judgement]]:
    """Judge each arrival against the ledger, then do what Deployer does with the verdict: deploy and commit
    (PROCEED), record the newer push of the deployed digest (REFRESH), or skip."""
    state = TargetState()
    judgements = []
    for record in arrivals:
        judgement = judge(state, record)
        if judgement.verdict is Verdict.PROCEED:
            state = TargetState(deployed=deployed(record, at=NOW))
        elif judgement.verdict is Verdict.REFRESH:
            assert state.deployed is not None
            state = TargetState(deployed=replace(state.deployed, push=record))
        judgements.append(judgement)
    return state, judgements


@settings(max_examples=300)
@given(push_sequences())
def test_applied_one_by_one_the_target_always_runs_the_newest_push_seen(arrivals: list[PushRecord]) -> None:
    # Given a target and push events arriving one after another, in any order
    for count in range(1, len(arrivals) + 1):
        # When each is judged and acted on
        state, judgements = deploy_one_by_one(arrivals[:count])
        record, judgement = arrivals[count - 1], judgements[-1]

        # Then nothing waits, a digest is never deployed twice in a row, and the target runs (and the ledger
        # records) the newest push seen so far: by time; on a tie, the first event of the digest that won
        assert judgement.verdict in {Verdict.PROCEED, Verdict.DUPLICATE, Verdict.REFRESH, Verdict.STALE}
        deploys = [r.digest for r, j in zip(arrivals, judgements, strict=False) if j.verdict is Verdict.PROCEED]
        assert all(a != b for a, b in itertools.pairwise(deploys))
        newest = max(enumerate(arrivals[:count]), key=lambda item: (item[1].pushed_at, item[0]))[1]
        assert state.deployed is not None
        assert (state.deployed.push.digest, state.deployed.push.pushed_at) == (newest.digest, newest.pushed_at)
        if judgement.verdict is Verdict.STALE:
            # And a stale push is told apart by both tags
            assert f"tag {record.tag} " in judgement.reason
            assert f"tag {state.deployed.push.tag} " in judgement.reason


X_FIRST_TAG = push(DIGEST_A, "staging-42", T_OLD, "x-staging-42")
X_SECOND_TAG = push(DIGEST_A, "build-42", T_OLD + 2, "x-build-42")
Y_BETWEEN = push(DIGEST_B, "staging-43", T_OLD + 1, "y-staging-43")


def test_the_target_ends_on_the_same_push_whatever_the_order_when_a_digest_is_tagged_again() -> None:
    # Given image X tagged staging-42 (10:00:00) and build-42 (10:00:02), and image Y pushed as staging-43 in
    # between (10:00:01)
    # When the three events arrive in two different orders
    in_order, _ = deploy_one_by_one([X_FIRST_TAG, X_SECOND_TAG, Y_BETWEEN])
    y_first, _ = deploy_one_by_one([Y_BETWEEN, X_FIRST_TAG, X_SECOND_TAG])

    # Then the target ends on X, the image of the newest event (build-42), either way
    assert in_order.deployed is not None and y_first.deployed is not None
    assert in_order.deployed.push == y_first.deployed.push == X_SECOND_TAG


def test_a_push_waiting_for_the_claim_is_stale_when_the_digest_in_flight_was_tagged_again_later() -> None:
    # Given X (staging-42, 10:00:00) is being deployed, and its second tag (build-42, 10:00:02) waits for it
    state = TargetState(claim=claimed(X_FIRST_TAG))
    assert judge(state, X_SECOND_TAG).verdict is Verdict.BUSY

    # When X commits, its second tag is recorded, and then Y (10:00:01), which waited too, is judged
    state = TargetState(deployed=deployed(X_FIRST_TAG))
    assert judge(state, X_SECOND_TAG).verdict is Verdict.REFRESH
    state = TargetState(deployed=replace(deployed(X_FIRST_TAG), push=X_SECOND_TAG))
    judgement = judge(state, Y_BETWEEN)

    # Then Y is stale against X's newest push
    assert judgement.verdict is Verdict.STALE
    assert "tag staging-43 " in judgement.reason and "tag build-42 " in judgement.reason


# --- newest wins, with concurrent deploys, crashes and lapsed leases (a model of Deployer._claim) -----------


@dataclass
class Worker:
    """One invocation deploying one push: arriving (or waiting), then holding the claim, then done."""

    push: PushRecord
    phase: str = "claiming"  # claiming -> deploying -> updated -> done
    token: str = ""


@dataclass
class Model:
    """The ledger item and the service, as DynamoDB and ECS would hold them."""

    state: TargetState = field(default_factory=TargetState)
    service_digest: str | None = None
    now: float = NOW
    tokens: itertools.count[int] = field(default_factory=itertools.count)
    commits: list[PushRecord] = field(default_factory=list)

    def claim(self, worker: Worker) -> None:
        """DynamoDbLedger.claim (conditional write, prior state returned) then Deployer._claim's decision."""
        prior = self.state
        held = prior.claim
        acquired = held is None or held.expires_at < self.now or held.push.event_id == worker.push.event_id
        token = f"token-{next(self.tokens)}"
        if acquired:
            self.state = replace(prior, claim=Claim(token, worker.push, self.now + CLAIM_LEASE_SECONDS))
        decision = decide_claim(ClaimResult(acquired, prior), worker.push, manual=False, now=self.now)
        if decision.release:
            self.release(token)
        if decision.action is ClaimAction.DEPLOY:
            worker.phase, worker.token = "deploying", token
        elif decision.action is ClaimAction.SKIP:
            worker.phase = "done"
        elif decision.action is ClaimAction.REFRESH:
            assert prior.deployed is not None
            self.state = TargetState(deployed=replace(prior.deployed, push=worker.push))  # commit, claim released
            self.commits.append(worker.push)
            worker.phase = "done"
        # else WAIT (or RENOTIFY, which these pushes never need): wait and retry

    def release(self, token: str) -> None:
        if self.state.claim is not None and self.state.claim.token == token:
            self.state = replace(self.state, claim=None)

    def advance(self, worker: Worker) -> None:
        """One step of a worker: claim, update the service (unless it runs the digest), commit."""
        if worker.phase == "claiming":
            self.claim(worker)
        elif worker.phase == "deploying":
            self.service_digest = worker.push.digest
            worker.phase = "updated"
        elif worker.phase == "updated":
            held = self.state.claim
            if held is None or held.token == worker.token:  # the commit's condition
                self.state = TargetState(deployed=deployed(worker.push, at=self.now))
                self.commits.append(worker.push)
            worker.phase = "done"


class ConcurrentDeploys(RuleBasedStateMachine):
    """Pushes to one target arrive while others are being deployed; invocations crash and are retried;
    leases lapse. Once every invocation has finished, the target and the ledger hold the newest push."""

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.workers: list[Worker] = []
        self.times: dict[int, str] = {}

    @initialize()
    def start(self) -> None:
        self.model = Model()

    @rule(digest=st.sampled_from(DIGESTS), offset=st.integers(0, 10_000))
    def push_arrives(self, digest: str, offset: int) -> None:
        # A push event; a digest may come again (another tag, a re-tag), at any time. Two digests never share
        # a second (ties are the sequential model's subject). An event id is never handled twice at once:
        # powertools Idempotency refuses an event whose first invocation is still in progress.
        if self.times.setdefault(offset, digest) != digest:
            return
        index = len(self.workers)
        self.workers.append(Worker(PushRecord(digest, f"staging-{index}", T_OLD + offset, f"event-{index}")))

    @precondition(lambda self: any(worker.phase != "done" for worker in self.workers))
    @rule(data=st.data())
    def a_worker_steps(self, data: st.DataObject) -> None:
        active = [worker for worker in self.workers if worker.phase != "done"]
        self.model.advance(data.draw(st.sampled_from(active)))

    @precondition(lambda self: any(worker.phase in {"deploying", "updated"} for worker in self.workers))
    @rule(data=st.data())
    def a_worker_crashes_and_is_retried(self, data: st.DataObject) -> None:
        # The invocation dies holding the claim (before or after updating the service); Lambda retries the
        # same event, which takes its own claim over
        holders = [worker for worker in self.workers if worker.phase in {"deploying", "updated"}]
        worker = data.draw(st.sampled_from(holders))
        worker.phase, worker.token = "claiming", ""

    @rule()
    def a_lease_lapses(self) -> None:
        # A lease outlives the function's timeout (300 s > 120 s): when it lapses, its holder is dead. Lambda
        # retries it later, like any other waiting invocation.
        self.model.now += CLAIM_LEASE_SECONDS + 1
        for worker in self.workers:
            if worker.phase in {"deploying", "updated"}:
                worker.phase, worker.token = "claiming", ""

    @invariant()
    def one_deploy_at_a_time_and_never_backwards(self) -> None:
        holders = [worker for worker in self.workers if worker.phase in {"deploying", "updated"}]
        assert len(holders) <= 1, "two invocations deploy the target at once"
        times = [record.pushed_at for record in self.model.commits]
        assert times == sorted(set(times)), "the ledger went back to an older push, or recorded one twice"

    def teardown(self) -> None:
        # When every invocation runs to its end (the waiting ones retrying)
        for _ in range(10 * len(self.workers) + 10):
            active = [worker for worker in self.workers if worker.phase != "done"]
            if not active:
                break
            for worker in active:
                self.model.advance(worker)
        # Then nothing is left in flight, the service runs the newest push's digest and the ledger records
        # that push (or, on a tie of one digest's events, one of them)
        assert all(worker.phase == "done" for worker in self.workers), "a deploy never finished"
        if self.workers:
            newest = max(self.workers, key=lambda worker: worker.push.pushed_at).push
            assert self.model.service_digest == newest.digest
            assert self.model.state.deployed is not None
            recorded = self.model.state.deployed.push
            assert (recorded.digest, recorded.pushed_at) == (newest.digest, newest.pushed_at)
            assert self.model.state.claim is None


TestConcurrentDeploys = ConcurrentDeploys.TestCase
TestConcurrentDeploys.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
