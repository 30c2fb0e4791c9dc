"""The Deployer end to end over the in-memory ports of tests/fakes.py: a push deployed, a dry run, the retry
of a deploy whose ledger commit failed or whose service update's answer was lost, an ECS outcome that came
before the deploy was recorded, and waiting for a target another push holds. No AWS, no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.ledger import Claim, DeployedRecord, PendingRevision, PushRecord
from pushdeploy.domain.outcome import COMPLETED, DeploymentEvent
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.report import DeployOutcome, DeployStatus, TargetReport
from pushdeploy.domain.service import ServiceState
from pushdeploy.domain.taskdef import TAG_IMAGE_DIGEST, TAG_IMAGE_TAG, fingerprint
from pushdeploy.domain.times import parse_time
from pushdeploy.usecases.deploy import Deployer
from pushdeploy.usecases.track import Tracker
from tests.fakes import FakeConfigs, FakeEcs, FakeImages, FakeParameters, FakePublisher, InMemoryLedger
from tests.unit.builders import (
    ACCOUNT,
    DIGEST,
    IMAGE_URI,
    PARAMETER,
    REGION,
    SERVICE_ARN,
    container,
    described_task_definition,
    image_push,
)

NOW = parse_time("2026-11-20T10:15:35Z")
PUSHED_AT = parse_time("2026-11-20T10:15:30Z")
CURRENT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:7"
NEXT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:8"
FIRST_DEPLOYMENT = "ecs-svc/9000000000000000001"
CONFIG = '{"cluster": "main", "service": "api", "tags": ["staging-*"]}'
OTHER_DIGEST = "sha256:" + "b2" * 32


@dataclass
class Clock:
    """The deployer's clock and sleep: sleeping moves the clock, and is recorded."""

    now: float = NOW
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[int], object] | None = None  # called with the number of sleeps so far

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


@dataclass
class World:
    ledger: InMemoryLedger
    ecs: FakeEcs
    publisher: FakePublisher
    clock: Clock
    deployer: Deployer
    tracker: Tracker


def world(*, busy_wait_seconds: float = 45.0, jitter: float = 0.25, config: str = CONFIG) -> World:
    """A Deployer of repository api's target staging (cluster main, service api on api:7), with a Tracker
    over the same ledger and publisher applying the outcomes that come before their deploy is recorded."""
    ledger = InMemoryLedger()
    publisher = FakePublisher()
    clock = Clock()
    service = ServiceState(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/main",
        status="ACTIVE",
        task_definition_arn=CURRENT,
        circuit_breaker=True,
        primary_deployment_id="ecs-svc/7000000000000000007",
    )
    ecs = FakeEcs(service)
    ecs.add_task_definition(*described_task_definition())
    tracker = Tracker(ledger=ledger, publisher=publisher, clock=clock)
    deployer = Deployer(
        configs=FakeConfigs({PARAMETER: config}),
        ecs=ecs,
        parameters=FakeParameters(),
        images=FakeImages(),
        publisher=publisher,
        ledger=ledger,
        region=REGION,
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: jitter,
        busy_wait_seconds=busy_wait_seconds,
        apply_early_outcome=tracker.track,
    )
    return World(ledger, ecs, publisher, clock, deployer, tracker)


def pushed(*, dry_run: bool = False) -> ImagePush:
    return replace(image_push(), pushed_at=PUSHED_AT, dry_run=dry_run)


def only_report(outcome: DeployOutcome) -> TargetReport:
    [report] = outcome.reports
    return report


def completed(deployment_id: str) -> DeploymentEvent:
    return DeploymentEvent(COMPLETED, deployment_id, SERVICE_ARN, "", parse_time("2026-11-20T10:19:12Z"))


# --- a push ----------------------------------------------------------------------------------------------


def test_a_push_registers_the_next_revision_updates_the_service_announces_and_records_it() -> None:
    # Given staging's service runs api:7
    given = world()

    # When api:staging-42 is pushed
    outcome = given.deployer.deploy(pushed())

    # Then api:8 is registered with the pushed image and tags, and the service updated to it
    report = only_report(outcome)
    assert (outcome.status, report.status) == ("DEPLOYING", DeployStatus.DEPLOYING)
    assert given.ecs.call_names == ["register", "update"]
    assert given.ecs.calls[1] == ("update", "main", "api", NEXT, False)
    registered, tags = given.ecs.describe_task_definition(NEXT)
    assert container(registered, "app")["image"] == IMAGE_URI
    assert {"key": TAG_IMAGE_TAG, "value": "staging-42"} in tags
    assert {"key": TAG_IMAGE_DIGEST, "value": DIGEST} in tags
    # And DEPLOYING is announced, naming both revisions and the deployment
    assert given.publisher.statuses == ["DEPLOYING"]
    message = given.publisher.published[0].message
    assert (message["taskDefinitionArn"], message["previousTaskDefinitionArn"]) == (NEXT, CURRENT)
    assert message["deploymentId"] == FIRST_DEPLOYMENT
    # And the ledger records what staging runs, its history item and the deployment's record; the claim is gone
    state = given.ledger.read_state("api", "staging")
    assert state.deployed is not None
    assert (state.deployed.push, state.deployed.task_definition_arn) == (pushed().record, NEXT)
    assert (state.claim, state.pending) == (None, None)
    [item] = given.ledger.history_of("api", "staging")
    assert (item.status, item.tag, item.deployment_id) == ("DEPLOYING", "staging-42", FIRST_DEPLOYMENT)
    assert (item.task_definition_arn, item.previous_task_definition_arn) == (NEXT, CURRENT)
    record = given.ledger.find_deployment(FIRST_DEPLOYMENT)
    assert record is not None
    assert record.deploy == item
    assert given.ledger.latest_deployment_of(SERVICE_ARN) == FIRST_DEPLOYMENT


def test_a_dry_run_shows_the_steps_and_changes_nothing() -> None:
    # Given staging's service runs api:7
    given = world()

    # When a dry run of the push is asked for
    report = only_report(given.deployer.deploy(pushed(dry_run=True)))

    # Then the plan's steps come back, with the request it would register
    assert report.status is DeployStatus.PLANNED
    assert report.extra["steps"] == [
        {"step": "register", "description": "register the next revision of api"},
        {"step": "update-service", "description": "update service api to it"},
    ]
    assert report.extra["taskDefinition"]["family"] == "api"
    # And nothing is registered, updated, claimed, recorded or published
    assert given.ecs.calls == []
    assert given.publisher.published == []
    assert given.ledger.states == {}
    assert given.ledger.commits == []


# --- a retry after a commit that failed ------------------------------------------------------------------


def test_a_deploy_whose_commit_failed_is_recorded_by_the_retry_without_deploying_or_announcing_again() -> None:
    # Given the ledger's commit fails once, after the service was updated
    given = world()
    given.ledger.fail_next(
        "commit", AwsCallError("dynamodb:TransactWriteItems", "ProvisionedThroughputExceededException", "slow down")
    )

    # When the push is deployed: the update went through and was announced, but was not recorded
    first = given.deployer.deploy(pushed())
    report = only_report(first)
    assert report.status is DeployStatus.DEPLOYING
    assert report.retryable is True
    assert first.retry_problems
    assert given.ledger.history_of("api", "staging") == []
    pending = given.ledger.read_state("api", "staging").pending
    assert pending is not None
    assert (pending.task_definition_arn, pending.deployment_id, pending.announced) == (NEXT, FIRST_DEPLOYMENT, True)

    # And the same push is retried
    retried = only_report(given.deployer.deploy(pushed()))

    # Then the retry records that deploy: its history item and deployment record, with the first deployment
    assert (retried.status, retried.code) == (DeployStatus.DEPLOYING, "reconciled")
    assert retried.deployment_id == FIRST_DEPLOYMENT
    [item] = given.ledger.history_of("api", "staging")
    assert (item.status, item.task_definition_arn, item.deployment_id) == ("DEPLOYING", NEXT, FIRST_DEPLOYMENT)
    assert given.ledger.find_deployment(FIRST_DEPLOYMENT) is not None
    state = given.ledger.read_state("api", "staging")
    assert state.deployed is not None
    assert (state.deployed.task_definition_arn, state.pending, state.claim) == (NEXT, None, None)
    # And there is no second registration, UpdateService or DEPLOYING
    assert given.ecs.call_names == ["register", "update"]
    assert given.publisher.statuses == ["DEPLOYING"]
    # And nothing is left for another retry
    assert not given.deployer.deploy(pushed()).retry_problems


def test_the_retry_records_what_the_first_attempt_announced() -> None:
    # Given a first deploy of staging whose commit failed after the update was announced
    given = world()
    given.ledger.fail_next("commit", AwsCallError("dynamodb:TransactWriteItems", "InternalServerError", "oops"))
    given.deployer.deploy(pushed())
    announced = given.publisher.published[0].message

    # When the retry records it
    given.deployer.deploy(pushed())

    # Then the history item says what ran before, as the announcement did
    [item] = given.ledger.history_of("api", "staging")
    assert item.previous_task_definition_arn == announced["previousTaskDefinitionArn"] == CURRENT


# --- an UpdateService whose answer was lost -------------------------------------------------------------


def update_timed_out() -> AwsCallError:
    return AwsCallError("ecs:UpdateService", "ReadTimeoutError", 'Read timeout on endpoint URL: "https://ecs"')


def test_an_update_whose_result_is_unknown_is_announced_as_retrying_never_failed() -> None:
    # Given UpdateService times out after ECS acted on it
    given = world()
    given.ecs.fail_next("update_service", update_timed_out(), applied=True)

    # When the push is deployed
    outcome = given.deployer.deploy(pushed())

    # Then the target is RETRYING (the invocation fails, so Lambda retries it), announced so, never FAILED
    report = only_report(outcome)
    assert (report.status, report.code, report.retryable) == (DeployStatus.RETRYING, "unknown", True)
    assert outcome.status == "FAILED"
    assert outcome.retry_problems
    assert given.publisher.statuses == ["RETRYING"]
    # And the revision it registered is left pending, the claim given back, nothing recorded
    state = given.ledger.read_state("api", "staging")
    assert state.pending is not None
    assert (state.pending.digest, state.pending.task_definition_arn) == (DIGEST, NEXT)
    assert (state.pending.deployment_id, state.pending.announced) == (None, False)
    assert (state.claim, state.deployed) == (None, None)


def test_the_retry_finding_the_service_on_the_revision_announces_and_records_it() -> None:
    # Given UpdateService timed out after ECS acted on it (the service is on api:8)
    given = world()
    given.ecs.fail_next("update_service", update_timed_out(), applied=True)
    given.deployer.deploy(pushed())

    # When Lambda retries the push
    retried = only_report(given.deployer.deploy(pushed()))

    # Then the retry finds the service on api:8 and records that update, with the service's deployment
    assert (retried.status, retried.code) == (DeployStatus.DEPLOYING, "reconciled")
    assert retried.deployment_id == FIRST_DEPLOYMENT
    [item] = given.ledger.history_of("api", "staging")
    assert (item.task_definition_arn, item.deployment_id) == (NEXT, FIRST_DEPLOYMENT)
    # And announces DEPLOYING (the first attempt could not), without updating the service again
    assert given.publisher.statuses == ["RETRYING", "DEPLOYING"]
    assert given.ecs.call_names == ["register", "update"]


def test_the_retry_of_an_update_that_never_reached_ecs_reuses_the_revision_and_updates() -> None:
    # Given UpdateService timed out before ECS acted on it (the service is still on api:7)
    given = world()
    given.ecs.fail_next("update_service", update_timed_out())
    given.deployer.deploy(pushed())

    # When Lambda retries the push
    retried = only_report(given.deployer.deploy(pushed()))

    # Then the revision registered before is reused (no second registration) and the service updated to it
    assert retried.status is DeployStatus.DEPLOYING
    assert retried.deployment_id == FIRST_DEPLOYMENT  # the timed-out update started none
    assert given.ecs.call_names == ["register", "update", "update"]
    assert given.ecs.calls[2] == ("update", "main", "api", NEXT, False)
    assert given.publisher.statuses == ["RETRYING", "DEPLOYING"]
    assert given.ledger.read_state("api", "staging").pending is None


# --- an outcome before the deploy was recorded ----------------------------------------------------------


def test_an_outcome_that_came_before_the_commit_is_applied_once_the_deploy_is_recorded() -> None:
    # Given ECS completes the deployment so fast that its COMPLETED reaches the tracker between UpdateService
    # and the deploy's commit
    given = world()
    early: list[dict[str, object]] = []
    given.ecs.after_next(
        "update_service", lambda deployment_id: early.append(given.tracker.track(completed(deployment_id)))
    )

    # When the push is deployed
    only_report(given.deployer.deploy(pushed()))

    # Then the tracker kept the early outcome (it could not know the deployment yet)
    assert [result["status"] for result in early] == ["IGNORED"]
    # And once the deploy was recorded, the outcome was applied: COMPLETED announced after DEPLOYING
    assert given.publisher.statuses == ["DEPLOYING", "COMPLETED"]
    assert given.publisher.published[1].message["deploymentId"] == FIRST_DEPLOYMENT
    [item] = given.ledger.history_of("api", "staging")
    assert (item.status, item.finished_at) == ("COMPLETED", "2026-11-20T10:19:12Z")
    record = given.ledger.find_deployment(FIRST_DEPLOYMENT)
    assert record is not None
    assert record.parked is None
    assert record.deploy is not None
    assert record.deploy.notified is True


# --- a target another push holds --------------------------------------------------------------------------


def hold_the_target(given: World) -> PushRecord:
    """An older push of another digest holds staging's claim."""
    holder = PushRecord(OTHER_DIGEST, "staging-41", PUSHED_AT - 60, "holder-event")
    assert given.ledger.claim("api", "staging", Claim("holder-token", holder, NOW + 300), NOW).acquired
    return holder


def test_a_busy_target_is_waited_for_with_the_injected_sleep_and_jitter() -> None:
    # Given an older push holds the target, and finishes while ours waits for it (after our second sleep)
    given = world(jitter=0.25)
    holder = hold_the_target(given)

    def holder_finishes(sleeps: int) -> None:
        if sleeps == 2:  # the holder's deploy (unchanged: api:7 kept) is recorded, and its claim given back
            given.ledger.commit("api", "staging", "holder-token", DeployedRecord(holder, CURRENT, given.clock()), None)

    given.clock.on_sleep = holder_finishes

    # When the push is deployed
    report = only_report(given.deployer.deploy(pushed()))

    # Then it waited twice, half a second plus the jitter each time, then deployed over the holder's push
    assert given.clock.sleeps == [0.75, 0.75]
    assert report.status is DeployStatus.DEPLOYING
    state = given.ledger.read_state("api", "staging")
    assert state.deployed is not None
    assert state.deployed.push == pushed().record
    assert given.ecs.call_names == ["register", "update"]


def test_a_target_busy_for_longer_than_the_wait_fails_retryably_and_keeps_the_holder() -> None:
    # Given an older push holds the target for longer than the deployer waits (2 s)
    given = world(busy_wait_seconds=2.0, jitter=0.25)
    hold_the_target(given)

    # When the push is deployed
    report = only_report(given.deployer.deploy(pushed()))

    # Then it waited until the time was up, then failed retryably, saying the target is busy
    assert given.clock.sleeps == [0.75, 0.75, 0.75]
    assert (report.status, report.code, report.retryable) == (DeployStatus.FAILED, "ledger", True)
    assert report.reason is not None
    assert "TargetBusy" in report.reason
    assert given.publisher.statuses == ["FAILED"]
    # And ECS is untouched; the holder keeps its claim
    assert given.ecs.calls == []
    claim = given.ledger.read_state("api", "staging").claim
    assert claim is not None
    assert claim.token == "holder-token"


def test_the_pending_revision_fingerprint_is_the_rendered_requests() -> None:
    # Given UpdateService failed outright (throttled) after api:8 was registered
    given = world()
    given.ecs.fail_next("update_service", AwsCallError("ecs:UpdateService", "ThrottlingException", "Rate exceeded"))

    # When the push is deployed
    report = only_report(given.deployer.deploy(pushed()))

    # Then it failed, naming the revision left registered, which is pending with the request's fingerprint
    assert report.status is DeployStatus.FAILED
    assert report.reason is not None
    assert f"revision {NEXT} was registered but the service was not updated to it" in report.reason
    registered, tags = given.ecs.describe_task_definition(NEXT)
    request = {
        key: value for key, value in registered.items() if key not in {"taskDefinitionArn", "revision", "status"}
    }
    expected = PendingRevision(
        DIGEST, fingerprint({**request, "tags": tags}), NEXT, previous_task_definition_arn=CURRENT
    )
    assert given.ledger.read_state("api", "staging").pending == expected


# --- the same event again: its first result, from the ledger -------------------------------------------


def test_a_redelivered_push_returns_its_first_result_and_does_nothing_again() -> None:
    # Given a push deployed to staging
    given = world()
    first = given.deployer.deploy(pushed(), attempt="request-1")
    calls_before, published_before = len(given.ecs.calls), len(given.publisher.published)

    # When EventBridge delivers the same event again (another invocation)
    again = given.deployer.deploy(pushed(), attempt="request-2")

    # Then it returns the first result, replayed: nothing registered, updated or announced
    assert again.as_result() == first.as_result()
    assert only_report(again).replayed
    assert len(given.ecs.calls) == calls_before
    assert len(given.publisher.published) == published_before


def test_a_redelivered_config_failure_is_not_announced_twice() -> None:
    # Given a push whose target config is broken: FAILED, announced once
    given = world(config='{"cluster": "main", "tags": ["staging-*"]}')
    first = given.deployer.deploy(pushed(), attempt="request-1")
    assert only_report(first).status is DeployStatus.FAILED
    assert len(given.publisher.published) == 1

    # When the same event comes again
    again = given.deployer.deploy(pushed(), attempt="request-2")

    # Then the first result is returned, and nothing is announced again
    assert again.as_result() == first.as_result()
    assert len(given.publisher.published) == 1


def test_a_twin_delivery_while_the_first_is_deploying_is_ignored() -> None:
    # Given another invocation of the same event holds staging's claim
    given = world()
    twin = Claim("twin-token", pushed().record, NOW + 300, "request-1")
    given.ledger.states[("api", "staging")] = replace(given.ledger.read_state("api", "staging"), claim=twin)

    # When the second delivery runs
    outcome = given.deployer.deploy(pushed(), attempt="request-2")

    # Then it is ignored, naming why, and touches nothing (the twin deploys and reports)
    assert outcome.as_result()["status"] == "IGNORED"
    assert outcome.as_result()["reason"] == "the same event is being handled by another invocation"
    assert given.ecs.calls == [] and given.publisher.published == []
    assert given.ledger.read_state("api", "staging").claim == twin


def test_lambdas_retry_of_the_same_invocation_takes_its_own_claim_over() -> None:
    # Given an invocation that died holding staging's claim (its lease not yet lapsed)
    given = world()
    crashed = Claim("crashed-token", pushed().record, NOW + 300, "request-1")
    given.ledger.states[("api", "staging")] = replace(given.ledger.read_state("api", "staging"), claim=crashed)

    # When Lambda retries it (the same request id)
    outcome = given.deployer.deploy(pushed(), attempt="request-1")

    # Then the retry deploys
    assert only_report(outcome).status is DeployStatus.DEPLOYING
