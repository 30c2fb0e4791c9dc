"""Newest wins by version: the claim rules (``judge_push`` through ``decide_claim``) order two versioned pushes
of a target by version, whatever their push times, and any other pair by push time; the ledger keeps the
version, so the order survives a cold start."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from pushdeploy.adapters.ledger import DynamoDbLedger
from pushdeploy.domain.ledger import (
    CLAIM_LEASE_SECONDS,
    Claim,
    ClaimResult,
    DeployedRecord,
    PushRecord,
    TargetState,
)
from pushdeploy.domain.order import Order, order_pushes
from pushdeploy.domain.plan import ClaimAction, ClaimDecision, admit_target, decide_claim, preview_claim
from pushdeploy.domain.times import parse_time
from pushdeploy.domain.versions import compare_versions
from tests.unit.builders import image_push
from tools.sample_world import create_deploy_table

NOW = parse_time("2026-11-20T12:00:00Z")
T_EARLY = parse_time("2026-11-20T10:00:00Z")
T_LATE = parse_time("2026-11-20T11:00:00Z")
ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-prod:7"


def digest(seed: str) -> str:
    return "sha256:" + (seed * 64)[:64]


def versioned(tag: str, at: float, version: str | None, seed: str = "a", event: str | None = None) -> PushRecord:
    return PushRecord(digest(seed), tag, at, event or f"event-{tag}", version)


def deployed(record: PushRecord, outcome: str | None = None) -> DeployedRecord:
    return DeployedRecord(push=record, task_definition_arn=ARN, deployed_at=NOW - 60, outcome=outcome)


def decide(state: TargetState, record: PushRecord, *, acquired: bool = True, manual: bool = False) -> ClaimDecision:
    return decide_claim(ClaimResult(acquired, state), record, manual=manual, now=NOW)


# --- against what is deployed ----------------------------------------------------------------------------


def test_an_older_version_pushed_later_is_skipped_as_stale_naming_both() -> None:
    # Given the target runs v1.5.0, pushed early
    state = TargetState(deployed=deployed(versioned("v1.5.0", T_EARLY, "1.5.0", "b")))

    # When v1.4.2 is pushed later
    decision = decide(state, versioned("v1.4.2", T_LATE, "1.4.2", "c"))

    # Then it is skipped as stale: version order, not push time, and the reason names both versions and tags
    assert decision == ClaimDecision(
        ClaimAction.SKIP,
        "stale: version 1.4.2 (tag v1.4.2) is lower than version 1.5.0 (tag v1.5.0), which is deployed",
        "stale",
        release=True,
    )


def test_a_higher_version_pushed_earlier_deploys() -> None:
    # Given the target runs 1.4.2, pushed late (its event arrived first)
    state = TargetState(deployed=deployed(versioned("1.4.2", T_LATE, "1.4.2", "b")))

    # When 1.5.0, pushed earlier, arrives
    # Then it deploys
    assert decide(state, versioned("v1.5.0", T_EARLY, "1.5.0", "c")).action is ClaimAction.DEPLOY


def test_an_equal_version_of_another_digest_is_a_duplicate() -> None:
    # Given the target runs 1.4.2 (tag v1.4.2)
    state = TargetState(deployed=deployed(versioned("v1.4.2", T_EARLY, "1.4.2", "b")))

    # When another digest is pushed later as 1.4.2 (no v)
    decision = decide(state, versioned("1.4.2", T_LATE, "1.4.2", "c"))

    # Then it is skipped as a duplicate: the same version runs
    assert (decision.action, decision.code, decision.release) == (ClaimAction.SKIP, "duplicate", True)
    assert decision.reason.startswith("version 1.4.2 is already deployed (tag v1.4.2")


def test_an_equal_version_may_retry_a_version_that_failed() -> None:
    # Given the target's 1.4.2 was rolled back (it does not run)
    state = TargetState(deployed=deployed(versioned("v1.4.2", T_EARLY, "1.4.2", "b"), outcome="ROLLED_BACK"))

    # When a rebuilt 1.4.2 is pushed
    # Then it deploys
    assert decide(state, versioned("v1.4.2", T_LATE, "1.4.2", "c")).action is ClaimAction.DEPLOY


def test_the_same_digest_under_a_higher_version_is_recorded_as_the_newest_push() -> None:
    # Given the target runs digest b as 1.4.2
    state = TargetState(deployed=deployed(versioned("v1.4.2", T_LATE, "1.4.2", "b")))

    # When the same digest is re-tagged 1.5.0 (its event dated earlier)
    decision = decide(state, versioned("v1.5.0", T_EARLY, "1.5.0", "b"))

    # Then nothing deploys, and the push is recorded as its newest (by version)
    assert (decision.action, decision.code) == (ClaimAction.REFRESH, "duplicate")
    assert "version 1.5.0 (tag v1.5.0) is recorded as its newest push" in decision.reason


def test_the_same_digest_under_a_lower_version_is_a_duplicate() -> None:
    # Given the target runs digest b as 1.5.0
    state = TargetState(deployed=deployed(versioned("v1.5.0", T_EARLY, "1.5.0", "b")))

    # When the same digest is re-tagged 1.4.9 later
    # Then it is a duplicate: nothing recorded, nothing deployed
    assert decide(state, versioned("v1.4.9", T_LATE, "1.4.9", "b")).code == "duplicate"


def test_without_a_version_on_both_sides_push_time_decides() -> None:
    # Given the target runs a version pushed late (recorded before the target had a semver pattern: no version)
    state = TargetState(deployed=deployed(versioned("v1.5.0", T_LATE, None, "b")))

    # When 1.9.0 (with its version) is pushed earlier
    decision = decide(state, versioned("v1.9.0", T_EARLY, "1.9.0", "c"))

    # Then push time decides, as before version policies: stale, naming both push times
    assert decision.code == "stale"
    assert decision.reason.startswith("stale: tag v1.9.0 (pushed 2026-11-20T10:00:00Z) is older than tag v1.5.0")


def test_a_manual_deploy_of_a_lower_version_is_never_stale() -> None:
    # Given the target runs 1.5.0
    state = TargetState(deployed=deployed(versioned("v1.5.0", T_EARLY, "1.5.0", "b")))

    # When someone asks for 1.4.2 by hand
    # Then it deploys: a manual deploy is deliberate
    assert decide(state, versioned("v1.4.2", T_LATE, "1.4.2", "c"), manual=True).action is ClaimAction.DEPLOY


# --- against what is in flight ---------------------------------------------------------------------------


def in_flight(record: PushRecord) -> TargetState:
    return TargetState(claim=Claim("held", record, NOW + CLAIM_LEASE_SECONDS, "other-request"))


def test_an_older_version_than_the_one_in_flight_is_stale() -> None:
    # Given 1.5.0 is being deployed
    state = in_flight(versioned("v1.5.0", T_EARLY, "1.5.0", "b"))

    # When 1.4.2, pushed later, asks for the target
    decision = decide(state, versioned("v1.4.2", T_LATE, "1.4.2", "c"), acquired=False)

    # Then it is stale, naming the version in flight (nothing to release: the claim was not taken)
    assert decision == ClaimDecision(
        ClaimAction.SKIP,
        "stale: version 1.4.2 (tag v1.4.2) is lower than version 1.5.0 (tag v1.5.0), which is being deployed",
        "stale",
    )


def test_the_same_version_in_flight_is_a_duplicate() -> None:
    # Given 1.5.0 (tag v1.5.0) is being deployed
    state = in_flight(versioned("v1.5.0", T_EARLY, "1.5.0", "b"))

    # When another digest tagged 1.5.0 asks for the target
    decision = decide(state, versioned("1.5.0", T_LATE, "1.5.0", "c"), acquired=False)

    # Then it is a duplicate rather than a wait
    assert (decision.action, decision.code) == (ClaimAction.SKIP, "duplicate")
    assert decision.reason == "version 1.5.0 is being deployed (tag v1.5.0): the same version"


def test_a_higher_version_waits_for_the_one_in_flight() -> None:
    # Given 1.4.2 is being deployed, pushed later than 1.5.0
    state = in_flight(versioned("v1.4.2", T_LATE, "1.4.2", "b"))

    # When 1.5.0 asks for the target
    # Then it waits for the claim (and deploys after it)
    assert decide(state, versioned("v1.5.0", T_EARLY, "1.5.0", "c"), acquired=False).action is ClaimAction.WAIT


def test_the_dry_run_previews_the_same_staleness() -> None:
    # Given the target runs 1.5.0
    state = TargetState(deployed=deployed(versioned("v1.5.0", T_EARLY, "1.5.0", "b")))

    # When a dry run looks at 1.4.2 pushed later
    decision = preview_claim(state, versioned("v1.4.2", T_LATE, "1.4.2", "c"), manual=False, now=NOW)

    # Then it reports the skip the real run would make
    assert (decision.action, decision.code) == (ClaimAction.SKIP, "stale")


# --- out of order: the target ends on the highest version ------------------------------------------------

TAGS = ["v1.4.0", "v1.4.2", "1.5.0-rc.1", "v1.5.0", "v1.10.0"]


@pytest.mark.parametrize("arrival", [*itertools.permutations(TAGS[:4]), tuple(reversed(TAGS))])
def test_whatever_the_arrival_order_the_target_ends_on_the_highest_version(arrival: tuple[str, ...]) -> None:
    # Given versioned pushes, each pushed later than the one before in arrival order
    state = TargetState()
    for index, tag in enumerate(arrival):
        version = tag.removeprefix("v")
        record = versioned(tag, T_EARLY + index, version, seed=str(TAGS.index(tag)))
        # When each is judged against what runs, and deployed when the rules let it
        decision = decide(state, record)
        if decision.action is ClaimAction.DEPLOY:
            state = TargetState(deployed=deployed(record))
        else:
            assert decision.code == "stale"

    # Then the target runs the highest of them
    assert state.deployed is not None
    highest = max(arrival, key=TAGS.index)
    assert state.deployed.push.tag == highest


@given(a=st.sampled_from(TAGS), b=st.sampled_from(TAGS), at_a=st.floats(0, 1e9), at_b=st.floats(0, 1e9))
def test_versioned_pushes_are_ordered_by_version_alone(a: str, b: str, at_a: float, at_b: float) -> None:
    # Given two versioned pushes at any times
    left = versioned(a, at_a, a.removeprefix("v"))
    right = versioned(b, at_b, b.removeprefix("v"))

    # When they are ordered
    order = order_pushes(left, right)

    # Then the versions decide, as the library compares them
    expected = {1: Order.NEWER, 0: Order.SAME, -1: Order.OLDER}[
        compare_versions(left.version or "", right.version or "")
    ]
    assert (order.order, order.by_version) == (expected, True)


# --- admission and the ledger ----------------------------------------------------------------------------

CONFIG = '{"cluster": "prod", "service": "api", "tags": ["semver:^1.4"], "exclude": ["semver:1.4.3"]}'


def test_admission_gives_the_push_its_version_for_the_target() -> None:
    # Given a target taking ^1.4
    # When v1.4.2 is admitted
    admission = admit_target(
        image_push(tag="v1.4.2"), "/pushdeploy/api/prod", CONFIG, allowed_clusters=["*"], account=None, region=None
    )

    # Then the push the target deploys carries version 1.4.2, into the claim's record
    assert admission.config is not None
    assert admission.push.version == "1.4.2"
    assert admission.push.record.version == "1.4.2"


def test_admission_skips_an_excluded_version_naming_the_exclusion() -> None:
    # Given a target taking ^1.4 but excluding 1.4.3
    # When v1.4.3 is admitted
    admission = admit_target(
        image_push(tag="v1.4.3"), "/pushdeploy/api/prod", CONFIG, allowed_clusters=["*"], account=None, region=None
    )

    # Then it is skipped quietly, and the reason names the exclusion
    assert admission.config is None
    assert (admission.report.status.value, admission.report.code) == ("SKIPPED", "no-match")
    assert admission.report.reason == "tag v1.4.3 matches semver:^1.4 but is excluded by semver:1.4.3"


@pytest.fixture
def ledger() -> Iterator[DynamoDbLedger]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield DynamoDbLedger(session.client("dynamodb"), create_deploy_table(session))


def test_the_ledger_keeps_the_version_across_a_cold_start(ledger: DynamoDbLedger) -> None:
    # Given 1.5.0 claimed and committed for a target
    record = versioned("v1.5.0", T_EARLY, "1.5.0", "b")
    claim = Claim("token-1", record, NOW + CLAIM_LEASE_SECONDS, "request-1")
    assert ledger.claim("api", "prod", claim, NOW).acquired
    ledger.commit("api", "prod", "token-1", deployed(record), None)

    # When a later invocation (a cold start: nothing in memory) reads the target's state
    state = ledger.read_state("api", "prod")

    # Then the deployed push still carries its version, and 1.4.2 pushed later is judged stale against it
    assert state.deployed is not None
    assert state.deployed.push == record
    assert decide(state, versioned("v1.4.2", T_LATE, "1.4.2", "c")).code == "stale"


def test_the_ledger_reads_a_push_recorded_before_versions(ledger: DynamoDbLedger) -> None:
    # Given a push recorded without a version (as every push was before version policies)
    record = versioned("staging-41", T_EARLY, None)
    assert ledger.claim("api", "staging", Claim("token-1", record, NOW + CLAIM_LEASE_SECONDS), NOW).acquired

    # When the state is read back
    state = ledger.read_state("api", "staging")

    # Then the claim's push has no version
    assert state.claim is not None
    assert state.claim.push.version is None


def test_a_recorded_version_that_does_not_parse_falls_back_to_push_time() -> None:
    # Given the ledger holds a version that is not one (written by hand, say)
    state = TargetState(deployed=deployed(versioned("v1.5.0", T_EARLY, "not-a-version", "b")))

    # When a versioned push arrives later
    decision = decide(state, versioned("v1.4.2", T_LATE, "1.4.2", "c"))

    # Then push time decides: the later push deploys, rather than the deploy failing
    assert decision.action is ClaimAction.DEPLOY


RELEASES = st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 3),) * 3)


@given(
    pushes=st.lists(st.tuples(RELEASES, st.floats(0, 1e6), st.booleans()), min_size=1, max_size=8),
)
def test_any_arrival_order_and_push_times_end_on_the_highest_version(
    pushes: list[tuple[str, float, bool]],
) -> None:
    # Given versioned pushes (some tagged with a v) arriving in any order, at any push times
    state = TargetState()
    for index, (version, at, with_v) in enumerate(pushes):
        record = versioned(("v" if with_v else "") + version, at, version, seed=f"{index:x}", event=f"e{index}")
        # When each is judged against what runs, and deployed when the rules let it
        decision = decide(state, record)
        if decision.action is ClaimAction.DEPLOY:
            state = TargetState(deployed=deployed(record))
        else:
            # Then a push that does not deploy is a lower version (stale) or the same one (duplicate)
            assert state.deployed is not None
            sign = compare_versions(version, state.deployed.push.version or "")
            assert (decision.code, sign <= 0) in {("stale", True), ("duplicate", True)}
            assert (decision.code == "stale") == (sign < 0)

    # Then the target runs the highest version pushed, and the first push of it
    assert state.deployed is not None
    highest = max((version for version, _, _ in pushes), key=lambda v: tuple(int(part) for part in v.split(".")))
    assert state.deployed.push.version == highest
    first = next(index for index, (version, _, _) in enumerate(pushes) if version == highest)
    assert state.deployed.push.event_id == f"e{first}"
