"""The deploy decided once, without AWS: the claim decision (``decide_claim``, ``preview_claim``), where the
next revision comes from (``revision_source``), the target's plan (``plan_target``) and what a dry run
reports of it (``planned_report``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain.config import TargetConfig, parse_target_config
from pushdeploy.domain.errors import AwsCallError, ConfigError, DeployError, ServiceNotDeployableError
from pushdeploy.domain.ledger import (
    CLAIM_LEASE_SECONDS,
    EVENT_RESULT_SECONDS,
    EVENTS_KEPT,
    Claim,
    ClaimResult,
    DeployedRecord,
    EventResult,
    PendingRevision,
    PushRecord,
    TargetState,
    events_to_forget,
)
from pushdeploy.domain.plan import (
    ClaimAction,
    ClaimDecision,
    EarlierUpdate,
    RevisionSource,
    StepKind,
    TargetPlan,
    decide_claim,
    failed_report,
    plan_target,
    planned_report,
    preview_claim,
    revision_source,
)
from pushdeploy.domain.push import Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.taskdef import (
    TAG_IMAGE_DIGEST,
    TAG_IMAGE_TAG,
    RenderedTaskDefinition,
    fingerprint,
    render_task_definition,
)
from pushdeploy.domain.times import parse_time
from tests.unit.builders import (
    ACCOUNT,
    DIGEST,
    IMAGE_URI,
    PARAMETER,
    REGION,
    REPOSITORY_URI,
    SERVICE_ARN,
    container,
    described_task_definition,
    image_push,
)

NOW = parse_time("2026-11-20T12:00:00Z")
T_OLD = parse_time("2026-11-20T10:00:00Z")
T_NEW = parse_time("2026-11-20T11:00:00Z")
OTHER_DIGEST = "sha256:" + "b2" * 32
TAG = "staging-42"
CURRENT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:7"
RECORDED = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:6"
PRIMARY_DEPLOYMENT = "ecs-svc/7000000000000000007"


def push(digest: str = DIGEST, tag: str = TAG, at: float = T_NEW, event: str = "event-1") -> PushRecord:
    return PushRecord(digest=digest, tag=tag, pushed_at=at, event_id=event)


def deployed(record: PushRecord, *, notified: bool = True, arn: str = RECORDED) -> DeployedRecord:
    return DeployedRecord(push=record, task_definition_arn=arn, deployed_at=NOW - 60, notified=notified)


def claimed(record: PushRecord) -> Claim:
    return Claim(token="other-token", push=record, expires_at=NOW + CLAIM_LEASE_SECONDS)


def decide(acquired: bool, state: TargetState, record: PushRecord | None = None) -> ClaimDecision:
    return decide_claim(ClaimResult(acquired, state), record or push(), manual=False, now=NOW)


# --- the claim -----------------------------------------------------------------------------------------


def test_a_claimed_new_target_is_deployed() -> None:
    # Given the ledger knows nothing of the target, and the claim was taken
    # When the claim is decided
    decision = decide(True, TargetState())

    # Then the push deploys, with nothing to release
    assert decision == ClaimDecision(ClaimAction.DEPLOY)


def test_a_claim_taken_over_from_a_lapsed_holder_is_deployed() -> None:
    # Given the ledger gave the claim although another push's claim looks unexpired (it lapsed by the
    # ledger's clock)
    state = TargetState(claim=claimed(push(OTHER_DIGEST, "staging-41", T_OLD, "older")))

    # When the claim is decided
    # Then the push deploys rather than waiting for a holder that is gone
    assert decide(True, state).action is ClaimAction.DEPLOY


@pytest.mark.parametrize("acquired", [True, False], ids=["claimed", "not-claimed"])
def test_a_duplicate_is_skipped_and_a_claim_taken_for_it_released(acquired: bool) -> None:
    # Given the target runs this digest already (pushed no later than this event)
    state = TargetState(deployed=deployed(push(DIGEST, "build-42", T_NEW, "first")))

    # When another event of the digest is decided
    decision = decide(acquired, state, push(DIGEST, TAG, T_NEW, "second"))

    # Then it is skipped as a duplicate, and the claim is given back only if it was taken
    assert (decision.action, decision.code, decision.release) == (ClaimAction.SKIP, "duplicate", acquired)
    assert decision.reason.startswith(f"{DIGEST[:19]} is already deployed (tag build-42")


def test_a_duplicate_of_the_digest_in_flight_is_skipped_without_a_release() -> None:
    # Given another event of the same digest holds the claim
    state = TargetState(claim=claimed(push(DIGEST, "build-42", T_NEW, "first")))

    # When this event, refused the claim, is decided
    decision = decide(False, state, push(DIGEST, TAG, T_NEW, "second"))

    # Then it is a duplicate; there is nothing of ours to release
    assert decision == ClaimDecision(
        ClaimAction.SKIP, f"{DIGEST[:19]} is being deployed (tag build-42)", "duplicate", release=False
    )


def test_a_stale_push_is_skipped_and_its_claim_released() -> None:
    # Given the target runs a newer push of another digest
    state = TargetState(deployed=deployed(push(OTHER_DIGEST, "staging-43", T_NEW, "newer")))

    # When an older push, which took the claim, is decided
    decision = decide(True, state, push(DIGEST, TAG, T_OLD, "older"))

    # Then it is skipped as stale, naming both tags, and the claim is given back
    assert (decision.action, decision.code, decision.release) == (ClaimAction.SKIP, "stale", True)
    assert "tag staging-42" in decision.reason
    assert "tag staging-43" in decision.reason


def test_a_deploy_whose_notification_was_lost_is_renotified_while_holding_the_claim() -> None:
    # Given this digest was deployed but its DEPLOYING notification never went out
    state = TargetState(deployed=deployed(push(DIGEST, TAG, T_NEW, "event-1"), notified=False))

    # When the retry, holding the claim, is decided
    decision = decide(True, state)

    # Then the notification is published again; nothing is deployed or released
    assert decision == ClaimDecision(ClaimAction.RENOTIFY, "deployed, but its notification was not published")


def test_a_newer_push_of_the_running_digest_refreshes_the_ledger() -> None:
    # Given the target runs this digest, pushed earlier under another tag
    state = TargetState(deployed=deployed(push(DIGEST, "build-42", T_OLD, "first")))

    # When a newer push of it, holding the claim, is decided
    decision = decide(True, state, push(DIGEST, TAG, T_NEW, "second"))

    # Then it is recorded as the digest's newest push, as a duplicate deploy; the claim is committed, not released
    assert (decision.action, decision.code, decision.release) == (ClaimAction.REFRESH, "duplicate", False)
    assert "is recorded as its newest push" in decision.reason


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(TargetState(claim=claimed(push(OTHER_DIGEST, "staging-41", T_OLD, "older"))), id="busy"),
        pytest.param(
            TargetState(deployed=deployed(push(DIGEST, TAG, T_NEW, "event-0"), notified=False)),
            id="renotify-without-the-claim",
        ),
    ],
)
def test_a_push_that_may_not_act_without_the_claim_waits(state: TargetState) -> None:
    # Given an older push holds the claim, or a renotification that needs the claim did not get it
    # When a push refused the claim is decided
    decision = decide(False, state)

    # Then it waits (asks again shortly), with a reason, and releases nothing
    assert decision.action is ClaimAction.WAIT
    assert decision.reason
    assert decision.release is False


def test_a_dry_run_previews_a_refresh_as_a_duplicate_skip() -> None:
    # Given the target runs this digest, pushed earlier under another tag
    state = TargetState(deployed=deployed(push(DIGEST, "build-42", T_OLD, "first")))

    # When a dry run of a newer push of it is previewed (a dry run never claims)
    decision = preview_claim(state, push(DIGEST, TAG, T_NEW, "second"), manual=False, now=NOW)

    # Then it says the push would be skipped as a duplicate
    assert (decision.action, decision.code) == (ClaimAction.SKIP, "duplicate")


# --- where the next revision comes from ----------------------------------------------------------------


def config(**fields: Any) -> TargetConfig:
    return parse_target_config(
        PARAMETER, json.dumps({"cluster": "main", "service": "api", "tags": ["staging-*"], **fields})
    )


def service(
    *, status: str = "ACTIVE", task_definition_arn: str = CURRENT, primary: str | None = PRIMARY_DEPLOYMENT
) -> ServiceState:
    return ServiceState(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/main",
        status=status,
        task_definition_arn=task_definition_arn if status != "MISSING" else "",
        primary_deployment_id=primary,
    )


def test_an_active_service_is_deployed_from_the_revision_it_runs() -> None:
    # Given an ACTIVE service
    # When the revision source is chosen
    # Then it is the service's task definition, not a creation
    assert revision_source(service(), config()) == RevisionSource(CURRENT, creating=False)


def test_a_missing_service_with_a_create_block_is_created_from_the_family() -> None:
    # Given the service does not exist, and the target says how to create it
    # When the revision source is chosen
    # Then it is the family's latest revision, to create the service on
    source = revision_source(service(status="MISSING"), config(create={"taskDefinition": "api-staging"}))
    assert source == RevisionSource("api-staging", creating=True)


def test_a_missing_service_without_a_create_block_cannot_be_deployed() -> None:
    # Given the service does not exist, and the target has no create block
    # When the revision source is chosen
    # Then it is refused, saying how to fix it
    with pytest.raises(ServiceNotDeployableError, match="service api not found in cluster main"):
        revision_source(service(status="MISSING"), config())


# --- the plan --------------------------------------------------------------------------------------------


def rendered(*, running_image: str | None = None, tag: str = TAG) -> RenderedTaskDefinition:
    """The next revision of api:7 for ``IMAGE_URI``; ``running_image`` is what api:7's app container runs."""
    described, tags = described_task_definition()
    if running_image is not None:
        container(described, "app")["image"] = running_image
    return render_task_definition(
        described,
        tags,
        repository_uri=REPOSITORY_URI,
        image_uri=IMAGE_URI,
        containers=None,
        environment={},
        secrets={},
        record_tags={TAG_IMAGE_TAG: tag, TAG_IMAGE_DIGEST: DIGEST},
    )


def plan(
    *,
    state: TargetState | None = None,
    running: ServiceState | None = None,
    source: RevisionSource | None = None,
    next_revision: RenderedTaskDefinition | None = None,
    current_tags: dict[str, str] | None = None,
    target: TargetConfig | None = None,
    trigger: Trigger = Trigger.PUSH,
) -> TargetPlan:
    running = running or service()
    return plan_target(
        service=running,
        source=source or RevisionSource(running.task_definition_arn, creating=False),
        rendered=next_revision or rendered(),
        current_tags=current_tags if current_tags is not None else {TAG_IMAGE_TAG: "staging-41"},
        config=target or config(),
        state=state or TargetState(),
        push=image_push(tag=TAG, trigger=trigger),
    )


def kinds(target_plan: TargetPlan) -> list[StepKind]:
    return [step.kind for step in target_plan.steps]


def test_a_missing_service_is_planned_as_register_then_create() -> None:
    # Given the service is missing and the target's create block names family api-staging
    target = config(create={"taskDefinition": "api-staging"})

    # When the deploy is planned
    created = plan(
        running=service(status="MISSING"), source=RevisionSource("api-staging", creating=True), target=target
    )

    # Then it registers the next revision of the family, then creates the service on it; nothing ran before
    assert kinds(created) == [StepKind.REGISTER, StepKind.CREATE_SERVICE]
    assert created.creating is True
    assert created.previous_task_definition_arn is None
    assert created.steps[1].description == "create service api in cluster main"
    assert created.reason == "create service api from task definition api-staging"


def test_a_new_image_is_planned_as_register_then_update() -> None:
    # Given the service runs api:7 with an older image
    # When a push of a new image is planned
    changed = plan()

    # Then it registers the next revision of api and updates the service to it, from api:7
    assert kinds(changed) == [StepKind.REGISTER, StepKind.UPDATE_SERVICE]
    assert changed.previous_task_definition_arn == CURRENT
    assert changed.code is None
    assert changed.earlier is None
    assert not changed.nothing_to_do


def test_a_push_of_what_already_runs_has_nothing_to_do() -> None:
    # Given the service runs the pushed image already, with the target's configuration
    # When the push is planned
    unchanged = plan(next_revision=rendered(running_image=IMAGE_URI))

    # Then there is nothing to do, saying why
    assert unchanged.nothing_to_do
    assert unchanged.code == "unchanged"
    assert unchanged.reason == f"service already runs {IMAGE_URI} with this configuration"
    assert unchanged.previous_task_definition_arn == CURRENT


def test_a_manual_deploy_of_what_already_runs_forces_a_new_deployment() -> None:
    # Given the service runs the requested image already
    # When a manual deploy of it is planned
    forced = plan(next_revision=rendered(running_image=IMAGE_URI), trigger=Trigger.MANUAL)

    # Then it restarts the tasks on the current revision, registering nothing
    assert kinds(forced) == [StepKind.FORCE_NEW_DEPLOYMENT]
    assert forced.previous_task_definition_arn == CURRENT


@pytest.mark.parametrize(
    ("deployment_id", "announced", "expected_id"),
    [
        pytest.param("ecs-svc/1111111111111111111", True, "ecs-svc/1111111111111111111", id="announced"),
        pytest.param(None, False, PRIMARY_DEPLOYMENT, id="update-result-unknown"),
    ],
)
def test_a_pending_revision_the_service_now_runs_is_recorded_not_deployed_again(
    deployment_id: str | None, announced: bool, expected_id: str
) -> None:
    # Given an earlier attempt registered api:7 for this digest and left it pending (its commit failed, or its
    # UpdateService answer was lost), and the service runs api:7 now; the ledger records api:6
    pending = PendingRevision(DIGEST, fingerprint({"family": "api"}), CURRENT, deployment_id, announced)
    state = TargetState(deployed=deployed(push(OTHER_DIGEST, "staging-41", T_OLD, "older")), pending=pending)

    # When the retry is planned
    reconciled = plan(state=state, next_revision=rendered(running_image=IMAGE_URI))

    # Then its one step records the earlier update (the deployment that attempt learnt, else the service's
    # PRIMARY one), announcing it only if that attempt did not
    assert kinds(reconciled) == [StepKind.RECORD_EARLIER_UPDATE]
    assert reconciled.code == "reconciled"
    assert reconciled.earlier == EarlierUpdate(
        CURRENT,
        expected_id,
        announced,
        f"an earlier attempt updated the service to {CURRENT} but could not record it; recorded now",
    )
    assert reconciled.previous_task_definition_arn == RECORDED
    assert reconciled.reason == reconciled.earlier.reason


@pytest.mark.parametrize("trigger", [Trigger.PUSH, Trigger.MANUAL])
def test_a_push_finding_the_service_on_a_revision_registered_for_it_records_that_update(trigger: Trigger) -> None:
    # Given the service runs api:7, tagged with this push's tag and digest, the ledger records api:6, and an
    # earlier attempt of this very event still holds the claim (it updated the service and could not even
    # release the claim)
    state = TargetState(
        deployed=deployed(push(OTHER_DIGEST, "staging-41", T_OLD, "older")), claim=claimed(image_push().record)
    )
    tags = {TAG_IMAGE_TAG: TAG, TAG_IMAGE_DIGEST: DIGEST, "team": "payments"}

    # When the push is planned
    reconciled = plan(state=state, next_revision=rendered(running_image=IMAGE_URI), current_tags=tags, trigger=trigger)

    # Then it records that update (not announced yet) with the service's PRIMARY deployment
    assert kinds(reconciled) == [StepKind.RECORD_EARLIER_UPDATE]
    assert reconciled.earlier is not None
    assert (reconciled.earlier.task_definition_arn, reconciled.earlier.deployment_id) == (CURRENT, PRIMARY_DEPLOYMENT)
    assert reconciled.earlier.announced is False
    assert reconciled.previous_task_definition_arn == RECORDED


OWN_TAGS = {TAG_IMAGE_TAG: TAG, TAG_IMAGE_DIGEST: DIGEST}


@pytest.mark.parametrize(
    ("recorded", "tags", "claim"),
    [
        pytest.param(CURRENT, OWN_TAGS, claimed(image_push().record), id="the-recorded-revision-runs"),
        pytest.param(
            RECORDED,
            {TAG_IMAGE_TAG: "build-42", TAG_IMAGE_DIGEST: DIGEST},
            claimed(image_push().record),
            id="registered-for-another-tag",
        ),
        pytest.param(RECORDED, OWN_TAGS, None, id="no-claim-of-this-event-left"),
        pytest.param(
            RECORDED, OWN_TAGS, claimed(push(DIGEST, "build-42", T_OLD, "another-event")), id="another-events-claim"
        ),
    ],
)
def test_no_earlier_update_is_recorded_unless_one_is_known(
    recorded: str, tags: dict[str, str], claim: Claim | None
) -> None:
    # Given the service runs the pushed image on a revision tagged with this digest, and either the ledger
    # records that very revision, or the revision was registered for another tag, or no earlier attempt of
    # this event holds the claim
    state = TargetState(deployed=deployed(push(OTHER_DIGEST, "staging-41", T_OLD, "older"), arn=recorded), claim=claim)

    # When the push is planned
    planned = plan(state=state, next_revision=rendered(running_image=IMAGE_URI), current_tags=tags)

    # Then nothing is reconciled: the plan is the ordinary one (nothing to do)
    assert planned.earlier is None
    assert planned.code == "unchanged"
    assert kinds(planned) == []


def test_a_pending_revision_of_another_digest_is_not_an_earlier_update() -> None:
    # Given a revision pending for another digest, which the service runs
    pending = PendingRevision(OTHER_DIGEST, "f" * 64, CURRENT)

    # When a push of this digest is planned
    planned = plan(state=TargetState(pending=pending))

    # Then it deploys as usual
    assert kinds(planned) == [StepKind.REGISTER, StepKind.UPDATE_SERVICE]
    assert planned.earlier is None


# --- what a dry run reports ----------------------------------------------------------------------------


def base_report() -> TargetReport:
    return TargetReport(image_push(), "staging", DeployStatus.SKIPPED, cluster="main", service="api")


def test_a_dry_run_reports_the_plan_steps_diff_and_request() -> None:
    # Given the plan of a new image
    changed = plan()

    # When a dry run reports it
    report = planned_report(base_report(), changed, ("a warning",))

    # Then it is PLANNED, with each step, the diff and the RegisterTaskDefinition request
    assert report.status is DeployStatus.PLANNED
    assert report.extra["dryRun"] is True
    assert report.extra["steps"] == [
        {"step": "register", "description": "register the next revision of api"},
        {"step": "update-service", "description": "update service api to it"},
    ]
    assert report.extra["taskDefinition"] == changed.rendered.request
    assert report.changes == changed.rendered.changes
    assert report.warnings == ("a warning",)
    assert report.previous_task_definition_arn == CURRENT
    assert report.reason == "dry run: would register the revision below and update the service to it"


def test_a_dry_run_of_nothing_to_do_says_why() -> None:
    # Given the plan of an image that already runs
    unchanged = plan(next_revision=rendered(running_image=IMAGE_URI))

    # When a dry run reports it
    report = planned_report(base_report(), unchanged, ())

    # Then it stays skipped, with the plan's code and reason
    assert (report.status, report.code) == (DeployStatus.SKIPPED, "unchanged")
    assert report.reason == f"service already runs {IMAGE_URI} with this configuration (dry run)"
    assert "steps" not in report.extra


@pytest.mark.parametrize(
    ("registered", "aws_call", "expected"),
    [
        pytest.param(
            CURRENT,
            True,
            f"boom; revision {CURRENT} was registered but the service was not updated to it",
            id="registered",
        ),
        pytest.param(None, True, "boom; nothing was registered", id="aws-call"),
        pytest.param(None, False, "boom", id="not-an-aws-call"),
    ],
)
def test_a_failure_says_what_it_left_behind(registered: str | None, aws_call: bool, expected: str) -> None:
    # Given a deploy that failed after registering a revision, or before, in an AWS call or not
    error: DeployError = AwsCallError("ecs:UpdateService", "Throttling", "x") if aws_call else ConfigError("/p", "x")
    error.message = "boom"  # the words of the failure itself are not the subject here
    base = TargetReport(image_push(), "staging", DeployStatus.SKIPPED)

    # When its failure is reported
    report = failed_report(base, error, registered=registered, previous=None)

    # Then it is FAILED with the error's code, saying whether a revision was left registered
    assert (report.status, report.code, report.task_definition_arn) == (DeployStatus.FAILED, error.code, registered)
    assert report.reason == expected


def test_an_unchanged_plan_keeps_its_rendering() -> None:
    # Given the plan of an image that already runs
    unchanged = plan(next_revision=rendered(running_image=IMAGE_URI))

    # Then its rendering is the same revision again, with the push's tags, and no changes
    assert unchanged.rendered.changes == ()
    assert {"key": TAG_IMAGE_DIGEST, "value": DIGEST} in unchanged.rendered.request["tags"]
    assert not unchanged.has(StepKind.REGISTER)


def test_a_refused_claim_of_an_event_already_handled_replays_its_first_result() -> None:
    # Given the target recorded this event's result
    record = PushRecord(DIGEST, TAG, T_NEW, "event-1")
    state = TargetState(events={"event-1": EventResult("event-1", {"target": "staging", "status": "DEPLOYING"}, NOW)})

    # When the same event asks for the claim (refused by the ledger)
    decision = decide_claim(ClaimResult(False, state), record, manual=False, now=NOW)

    # Then it replays
    assert decision.action is ClaimAction.REPLAY


def test_a_refused_claim_held_by_the_same_event_is_in_progress_elsewhere() -> None:
    # Given another invocation of the event holds an unexpired claim
    record = PushRecord(DIGEST, TAG, T_NEW, "event-1")
    state = TargetState(claim=Claim("t", record, NOW + 60, "request-1"))

    # When this one asks (refused)
    decision = decide_claim(ClaimResult(False, state), record, manual=False, now=NOW)

    # Then it leaves the target to that invocation
    assert decision.action is ClaimAction.IN_PROGRESS
    assert decision.reason == "the same event is being handled by another invocation"


def test_only_the_newest_event_results_are_kept() -> None:
    # Given a target holding as many event results as it keeps, one of them older than the keeping time
    events = {f"event-{index}": EventResult(f"event-{index}", {}, NOW - index) for index in range(EVENTS_KEPT)}
    events["ancient"] = EventResult("ancient", {}, NOW - EVENT_RESULT_SECONDS - 1)

    # When one more is recorded
    forgotten = events_to_forget(events, NOW)

    # Then the oldest go, so that with the new one at most EVENTS_KEPT remain, the ancient one included
    assert "ancient" in forgotten
    assert len(events) - len(forgotten) == EVENTS_KEPT - 1
    assert "event-0" not in forgotten


def test_a_newer_push_of_the_deployed_image_deploys_when_a_claim_was_left_behind() -> None:
    # Given the ledger says the digest runs (deployed at T_OLD), but a claim of another push was left behind by
    # an invocation that died, maybe after moving the service to its own image without recording it
    deployed_push = PushRecord(DIGEST, "staging-41", T_OLD, "event-0")
    other = PushRecord("sha256:" + "0c" * 32, "staging-x", T_OLD + 1, "event-x")
    state = TargetState(deployed=deployed(deployed_push), claim=Claim("dead", other, NOW - 1, "request-x"))

    # When a newer push of the deployed digest takes the claim over
    decision = decide_claim(ClaimResult(True, state), push(DIGEST, TAG, T_NEW, "event-1"), manual=False, now=NOW)

    # Then it deploys (the plan looks at what runs) instead of only recording itself as the newest push
    assert decision.action is ClaimAction.DEPLOY


def test_a_newer_push_of_the_deployed_image_only_refreshes_when_no_claim_was_left() -> None:
    # Given the digest deployed, and no claim left
    state = TargetState(deployed=deployed(PushRecord(DIGEST, "staging-41", T_OLD, "event-0")))

    # When a newer push of it takes the claim
    decision = decide_claim(ClaimResult(True, state), push(DIGEST, TAG, T_NEW, "event-1"), manual=False, now=NOW)

    # Then it records itself as the digest's newest push, deploying nothing
    assert decision.action is ClaimAction.REFRESH
