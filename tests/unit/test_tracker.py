"""The tracker and outcomes that come before pushdeploy knows their deployment: kept (parked), then applied
when the deploy's commit hands them back, or at once when the deploy was recorded meanwhile. Over the
in-memory ledger of tests/fakes.py."""

from __future__ import annotations

import json

import pytest

from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.ledger import Claim, DeployedRecord
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.outcome import COMPLETED, FAILED, IN_PROGRESS, DeploymentEvent, PullFailure
from pushdeploy.domain.records import HistoryItem, history_item
from pushdeploy.domain.times import parse_time
from pushdeploy.events import parse_deployment_event
from pushdeploy.usecases.track import Tracker
from tests.fakes import FakePublisher, InMemoryLedger
from tests.helpers import load_event
from tests.unit.builders import SERVICE_ARN, deploying_report

NOW = parse_time("2026-11-20T10:30:00Z")
RECORDED_AT = parse_time("2026-11-20T10:15:35Z")
DEPLOYMENT = deploying_report().deployment_id or ""
ROLLBACK_DEPLOYMENT = "ecs-svc/8274619302846192375"
ROLLING_BACK = f"ECS deployment circuit breaker: rolling back to deploymentId {DEPLOYMENT}."
CIRCUIT_BREAKER = "ECS deployment circuit breaker: task failed to start."


def event(name: str, deployment_id: str = DEPLOYMENT, reason: str = "") -> DeploymentEvent:
    return DeploymentEvent(name, deployment_id, SERVICE_ARN, reason, parse_time("2026-11-20T10:19:12Z"))


def first_deploy() -> HistoryItem:
    """The history item of staging's first deploy by pushdeploy, as the Deployer builds it."""
    report = deploying_report()
    message = render_notification(report, time="2026-11-20T10:15:35Z").message
    return history_item(report, recorded_at=RECORDED_AT, service_arn=SERVICE_ARN, notification=json.dumps(message))


def commit(ledger: InMemoryLedger, item: HistoryItem) -> DeploymentEvent | None:
    """The deploy's commit, as the Deployer makes it once the service was updated."""
    push = deploying_report().push.record
    assert ledger.claim(item.repository, item.target, Claim("deploy-token", push, NOW + 300), NOW).acquired
    deployed = DeployedRecord(push, item.task_definition_arn or "", item.recorded_at)
    return ledger.commit(item.repository, item.target, "deploy-token", deployed, item)


class Stages:
    """What ECS reports of the service's deployment: its lifecycle stage, or a failure to answer."""

    def __init__(self, stage: str | None = None, error: AwsCallError | None = None) -> None:
        self.stage, self.error, self.asked = stage, error, 0

    def stage_reached(self, service_arn: str) -> str | None:
        self.asked += 1
        if self.error is not None:
            raise self.error
        return self.stage


def tracker(stages: Stages | None = None) -> tuple[Tracker, InMemoryLedger, FakePublisher]:
    ledger = InMemoryLedger()
    publisher = FakePublisher()
    return Tracker(ledger=ledger, publisher=publisher, clock=lambda: NOW, stages=stages), ledger, publisher


@pytest.mark.parametrize(("name", "outcome"), [(COMPLETED, "COMPLETED"), (FAILED, "FAILED")])
def test_the_first_deploys_early_outcome_is_kept_and_applied_when_the_commit_hands_it_back(
    name: str, outcome: str
) -> None:
    # Given pushdeploy has never deployed the service (no latest deployment of it is known)
    tracking, ledger, publisher = tracker()
    assert ledger.latest_deployment_of(SERVICE_ARN) is None

    # When ECS's outcome of the first deploy arrives before that deploy is recorded
    early = tracking.track(event(name, reason=CIRCUIT_BREAKER if name == FAILED else ""))

    # Then it is kept, not lost: nothing is announced yet, and the result says it is kept
    assert early["status"] == "IGNORED"
    assert "kept" in early["reason"]
    assert publisher.published == []
    record = ledger.find_deployment(DEPLOYMENT)
    assert record is not None
    assert record.parked == event(name, reason=CIRCUIT_BREAKER if name == FAILED else "")

    # When the deploy's commit records it and hands the kept event back, which is then applied
    handed_back = commit(ledger, first_deploy())
    assert handed_back == record.parked
    applied = tracking.track(handed_back)

    # Then the outcome is announced once and recorded; the kept event is gone from the record
    assert (applied["status"], applied["deploymentId"]) == (outcome, DEPLOYMENT)
    assert publisher.statuses == [outcome]
    [item] = ledger.history_of("api", "staging")
    assert (item.status, item.finished_at) == (outcome, "2026-11-20T10:19:12Z")
    record = ledger.find_deployment(DEPLOYMENT)
    assert record is not None
    assert record.parked is None
    # And a redelivery of the event changes nothing
    assert tracking.track(event(name))["status"] == "IGNORED"
    assert publisher.statuses == [outcome]


def test_a_park_that_finds_the_deploy_recorded_meanwhile_applies_it_at_once() -> None:
    # Given the deploy is recorded just after the tracker looked for it, before it parks the event
    tracking, ledger, publisher = tracker()
    handed_back: list[DeploymentEvent | None] = []
    ledger.before_next("park_event", lambda: handed_back.append(commit(ledger, first_deploy())))

    # When ECS's COMPLETED arrives
    result = tracking.track(event(COMPLETED))

    # Then parking it found the deploy, and the tracker applied it at once: announced and recorded
    assert result == {"status": "COMPLETED", "deploymentId": DEPLOYMENT, "reason": None}
    assert publisher.statuses == ["COMPLETED"]
    assert ledger.history_of("api", "staging")[0].status == "COMPLETED"
    # And the commit had nothing to hand back (the event came after it), so nothing is applied twice
    assert handed_back == [None]


def test_a_rollbacks_outcome_before_its_start_is_kept_and_applied_when_the_rollback_is_recognised() -> None:
    # Given staging's deploy is recorded and failed, and ECS's rollback deployment completes before the
    # tracker sees the IN_PROGRESS that says it rolls ours back
    tracking, ledger, publisher = tracker()
    commit(ledger, first_deploy())
    tracking.track(event(FAILED, reason=CIRCUIT_BREAKER))
    kept = tracking.track(event(COMPLETED, ROLLBACK_DEPLOYMENT))

    # When the IN_PROGRESS of the rollback arrives
    result = tracking.track(event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, reason=ROLLING_BACK))

    # Then the kept COMPLETED is applied then: ROLLED_BACK, never COMPLETED
    assert kept["status"] == "IGNORED"
    assert (result["status"], result["deploymentId"]) == ("ROLLED_BACK", DEPLOYMENT)
    assert publisher.statuses == ["FAILED", "ROLLED_BACK"]
    assert ledger.history_of("api", "staging")[0].status == "ROLLED_BACK"
    state = ledger.read_state("api", "staging")
    assert state.deployed is not None
    assert state.deployed.outcome == "ROLLED_BACK"


def test_a_failure_names_the_stage_ecs_reports_and_the_rollback_does_not_ask_again() -> None:
    # Given staging's deploy is recorded, and ECS reports its deployment at the canary's bake
    stages = Stages("BAKE_TIME")
    tracking, ledger, publisher = tracker(stages)
    commit(ledger, first_deploy())

    # When the circuit breaker fails it and ECS rolls it back
    tracking.track(event(FAILED, reason=CIRCUIT_BREAKER))
    tracking.track(event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, reason=ROLLING_BACK))
    tracking.track(event(COMPLETED, ROLLBACK_DEPLOYMENT))

    # Then FAILED names the stage it had reached, and ROLLED_BACK repeats the failure with it
    failed, rolled_back = (n.message for n in publisher.published)
    assert failed["reason"] == f"{CIRCUIT_BREAKER} (at BAKE_TIME)"
    assert rolled_back["status"] == "ROLLED_BACK"
    assert f"after it failed ({CIRCUIT_BREAKER} (at BAKE_TIME))" in rolled_back["reason"]


def test_a_rollback_without_a_failure_before_it_names_the_stage_read_when_it_began() -> None:
    # Given staging's deploy is recorded, and its alarms roll it back during PRODUCTION_TRAFFIC_SHIFT (no FAILED)
    stages = Stages("PRODUCTION_TRAFFIC_SHIFT")
    tracking, ledger, publisher = tracker(stages)
    commit(ledger, first_deploy())

    # When the rollback starts, then completes
    tracking.track(event(IN_PROGRESS, ROLLBACK_DEPLOYMENT, reason=ROLLING_BACK))
    stages.stage = "CLEAN_UP"  # where the rollback itself has got to by then: never asked
    result = tracking.track(event(COMPLETED, ROLLBACK_DEPLOYMENT))

    # Then ROLLED_BACK names the stage read when the rollback began, asked once
    assert result["status"] == "ROLLED_BACK"
    [rolled_back] = [n.message for n in publisher.published]
    assert rolled_back["reason"].startswith("ECS rolled the deployment back at PRODUCTION_TRAFFIC_SHIFT:")
    assert stages.asked == 1


def test_a_stage_ecs_cannot_tell_leaves_the_outcome_announced_without_it() -> None:
    # Given ECS throttles the read of the stage
    stages = Stages(error=AwsCallError("ecs:DescribeServices", "ThrottlingException", "Rate exceeded"))
    tracking, ledger, publisher = tracker(stages)
    commit(ledger, first_deploy())

    # When the deployment fails
    result = tracking.track(event(FAILED, reason=CIRCUIT_BREAKER))

    # Then FAILED is announced all the same, with ECS's reason and no stage
    assert result["status"] == "FAILED"
    assert publisher.published[0].message["reason"] == CIRCUIT_BREAKER


def test_a_task_that_could_not_pull_its_image_makes_the_failure_say_what_to_fix() -> None:
    # Given staging's deploy is recorded, and ECS reports one of its tasks stopped: CannotPullContainerError
    tracking, ledger, publisher = tracker()
    commit(ledger, first_deploy())
    stopped = load_event("ecs-task-cannot-pull.json")
    stopped["detail"] |= {"startedBy": DEPLOYMENT, "clusterArn": SERVICE_ARN.replace(":service/", ":cluster/")[:-4]}
    pull = parse_deployment_event(stopped, now=NOW)
    assert isinstance(pull, PullFailure) and pull.service_arn == SERVICE_ARN

    # When the tracker receives it, twice (events come at least once), then the circuit breaker's FAILED
    noted = tracking.track(pull)
    tracking.track(pull)
    failed = tracking.track(event(FAILED, reason=CIRCUIT_BREAKER))

    # Then nothing is announced for the task, and FAILED says the execution role cannot pull, and what it needs
    assert noted["status"] == "PULL_FAILED"
    assert failed["status"] == "FAILED" and publisher.statuses == ["FAILED"]
    reason = publisher.published[0].message["reason"]
    assert reason.startswith(CIRCUIT_BREAKER)
    assert "cannot pull the image" in reason and "ecr:BatchGetImage" in reason


def test_a_pull_failure_of_a_deployment_pushdeploy_did_not_start_is_ignored() -> None:
    # Given no deploy of pushdeploy's is recorded
    tracking, ledger, publisher = tracker()

    # When a service task of someone else's deployment could not pull its image
    result = tracking.track(parse_pull(load_event("ecs-task-cannot-pull.json")))

    # Then it is ignored: nothing recorded, nothing announced
    assert result["status"] == "IGNORED"
    assert ledger.deployments == {} and publisher.published == []


def parse_pull(event: dict[str, object]) -> PullFailure:
    parsed = parse_deployment_event(event, now=NOW)
    assert isinstance(parsed, PullFailure)
    return parsed
