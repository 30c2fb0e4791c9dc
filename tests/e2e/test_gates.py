"""Supply-chain gates on the local AWS: a push waits for its scan findings (WAITING), resumes on ECR's scan
event, fails when its wait's timer fires; findings above the gate fail it; the signature gate; an override."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.e2e.readback import revisions, service, target_report
from tests.helpers import Inbox, load_event
from tools.localaws import LocalAws, LocalStack
from tools.sample_world import PROD_CONFIG, STAGING_CONFIG, World, put_target_config

pytestmark = pytest.mark.e2e

PUSH = load_event("ecr-push.json")
DIGEST = PUSH["detail"]["image-digest"]
PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases"


def gate_staging(session: boto3.Session, gates: dict[str, Any]) -> None:
    put_target_config(session, "api", "staging", {**STAGING_CONFIG, "gates": gates})


def only_invocation(delivery: Any) -> Any:
    assert len(delivery.invocations) == 1, delivery
    invocation = delivery.invocations[0]
    assert invocation.error is None, invocation.error
    return invocation


def test_a_push_waits_for_its_findings_and_deploys_when_the_scan_event_comes(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging gated on its scan (nothing above HIGH, wait up to 30 min) and the digest's scan in progress
    gate_staging(session, {"scan": {"maxSeverity": "HIGH", "waitMinutes": 30}})
    local.set_scan("api", DIGEST, "IN_PROGRESS")

    # When the push arrives
    pushed = only_invocation(local.deliver(stack, PUSH))

    # Then staging WAITS: nothing registered, announced WAITING with what it waits for and until when
    report = target_report(pushed.result, "staging")
    assert (report["status"], report["code"]) == ("WAITING", "gate-wait")
    assert revisions(session, "api-staging") == [world.task_definitions["staging"]]
    [waiting] = inbox.receive()
    assert waiting.message["status"] == "WAITING"
    gates = waiting.message["gates"]
    assert gates["decision"] == "WAIT" and gates["waitingFor"] == f"the scan findings of {DIGEST[:19]}"
    assert "deadline" in gates and "findingsUrl" in gates
    # ...and a timer is set for the end of its wait
    [timer] = local.pending_timers()
    assert timer["event"] == {"action": "gate-timeout", "repository": "api", "target": "staging", "digest": DIGEST}

    # When the scan completes with findings at or below HIGH, and ECR emits its scan event
    scanned = local.complete_scan("api", DIGEST, {"HIGH": 1, "MEDIUM": 4})

    # Then the gates' rule routes it to the deploy function, which resumes the push: staging deploys
    assert scanned.matched_rules == ["DeployFunctionImageScanFindingsReady"]
    resumed = only_invocation(scanned)
    assert resumed.result["status"] == "RESUMED"
    assert target_report(resumed.result, "staging")["status"] == "DEPLOYING"
    assert service(session, "staging")["taskDefinition"] != world.task_definitions["staging"]
    [deploying] = inbox.receive()
    assert deploying.message["status"] == "DEPLOYING"
    assert deploying.message["gates"]["decision"] == "PASS"
    # And the wait's timer is cancelled; a second scan event of the digest resumes nothing
    assert local.pending_timers() == []
    again = only_invocation(local.complete_scan("api", DIGEST, {"HIGH": 1}))
    assert again.result["status"] == "IGNORED"


def test_the_wait_fails_when_its_timer_fires_before_the_findings(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging gated on its scan and no scan of the digest at all (ScanNotFoundException)
    gate_staging(session, {"scan": {"maxSeverity": "HIGH", "waitMinutes": 15}})
    local.set_scan("api", DIGEST, "NOT_FOUND")
    assert target_report(only_invocation(local.deliver(stack, PUSH)).result, "staging")["status"] == "WAITING"
    assert [m.message["status"] for m in inbox.receive()] == ["WAITING"]

    # When the wait's timer fires (the findings never came)
    [fired] = local.fire_timers()

    # Then staging FAILED, naming what did not come, and nothing was registered
    assert fired.error is None, fired.error
    report = target_report(fired.result, "staging")
    assert report["status"] == "FAILED" and report["code"] == "gate"
    assert "did not come within 15 min" in report["reason"]
    assert revisions(session, "api-staging") == [world.task_definitions["staging"]]
    [failed] = inbox.receive()
    assert failed.message["status"] == "FAILED" and failed.message["gates"]["decision"] == "FAIL"
    # And a scan event that comes later changes nothing (the wait is over)
    late = only_invocation(local.complete_scan("api", DIGEST, {}))
    assert late.result["status"] == "IGNORED"
    assert revisions(session, "api-staging") == [world.task_definitions["staging"]]


def test_findings_above_the_gate_fail_the_deploy_naming_the_counts_and_the_console(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging allowing nothing above MEDIUM, and the digest's completed scan with CRITICAL and HIGH ones
    gate_staging(session, {"scan": {"maxSeverity": "MEDIUM"}})
    local.set_scan("api", DIGEST, "COMPLETE", {"CRITICAL": 1, "HIGH": 2, "LOW": 7})

    # When the push arrives
    report = target_report(only_invocation(local.deliver(stack, PUSH)).result, "staging")

    # Then it failed before anything was registered, with the counts and the link to the findings
    assert report["status"] == "FAILED" and report["code"] == "gate"
    assert "1 CRITICAL, 2 HIGH above maxSeverity MEDIUM" in report["reason"]
    assert "console.aws.amazon.com/ecr/repositories/private/123456789012/api/_/image/" in report["reason"]
    assert revisions(session, "api-staging") == [world.task_definitions["staging"]]
    [failed] = inbox.receive()
    assert failed.message["status"] == "FAILED"
    assert local.pending_timers() == []


@pytest.mark.parametrize(
    ("signing", "status", "reason"),
    [
        ("COMPLETE", "DEPLOYING", None),
        ("FAILED", "FAILED", "signing by " + PROFILE + " FAILED: key revoked"),
        (None, "FAILED", "not signed by " + PROFILE),
    ],
)
def test_the_signature_gate_passes_only_an_image_signed_by_the_profile(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    world: World,
    inbox: Inbox,
    signing: str | None,
    status: str,
    reason: str | None,
) -> None:
    # Given staging gated on a signature by the releases profile, and the digest signed (or not)
    gate_staging(session, {"signature": {"signingProfileArn": PROFILE}})
    if signing is not None:
        local.set_signing("api", DIGEST, PROFILE, signing, "key revoked" if signing == "FAILED" else "")

    # When the push arrives
    report = target_report(only_invocation(local.deliver(stack, PUSH)).result, "staging")

    # Then only a COMPLETE signature by that profile deploys
    assert report["status"] == status
    if reason is not None:
        assert reason in report["reason"]
        assert revisions(session, "api-staging") == [world.task_definitions["staging"]]


def test_a_signature_in_progress_waits_and_the_deadline_deploys_it_once_signed(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging gated on a signature that is in progress when the push arrives
    gate_staging(session, {"signature": {"signingProfileArn": PROFILE, "waitMinutes": 5}})
    local.set_signing("api", DIGEST, PROFILE, "IN_PROGRESS")
    assert target_report(only_invocation(local.deliver(stack, PUSH)).result, "staging")["status"] == "WAITING"

    # When signing completes and the wait's timer fires (ECR emits no signing event: the timer judges again)
    local.set_signing("api", DIGEST, PROFILE, "COMPLETE")
    [fired] = local.fire_timers()

    # Then staging deploys
    assert target_report(fired.result, "staging")["status"] == "DEPLOYING"
    assert [m.message["status"] for m in inbox.receive()] == ["WAITING", "DEPLOYING"]


def test_a_manual_deploy_may_override_the_gates_and_everyone_is_told(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging gated on its scan, and the image's scan with a CRITICAL finding
    gate_staging(session, {"scan": {"maxSeverity": "HIGH"}})
    event = load_event("manual-deploy-override-gates.json")
    digest = session.client("ecr").describe_images(repositoryName="api", imageIds=[{"imageTag": event["tag"]}])[
        "imageDetails"
    ][0]["imageDigest"]
    local.set_scan("api", digest, "COMPLETE", {"CRITICAL": 1})

    # When alice deploys it from the console, overriding the gates with a reason
    delivery = local.run_event(stack, event)

    # Then it deploys, and the override (who, why) is in the notification...
    report = target_report(only_invocation(delivery).result, "staging")
    assert report["status"] == "DEPLOYING"
    [deploying] = inbox.receive()
    assert deploying.message["gates"] == {
        "decision": "OVERRIDDEN",
        "override": {"requestedBy": "alice", "reason": event["overrideGates"]},
    }
    # ...and in the history, and in the outcome's notification too
    local.settle("staging", "api")
    [completed] = inbox.receive()
    assert completed.message["status"] == "COMPLETED"
    assert completed.message["gates"]["override"]["requestedBy"] == "alice"
    history = local.run_event(stack, {"action": "history", "repository": "api", "target": "staging"})
    latest = only_invocation(history).result["deploys"][0]
    assert latest["gateOverride"] == f"gates overridden by alice: {event['overrideGates']}"


def test_a_dry_run_shows_the_gate_that_decides_and_what_it_waits_for(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging gated on its scan, the findings not ready, and prod promoting from staging
    gate_staging(session, {"scan": {"maxSeverity": "HIGH", "waitMinutes": 30}})
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "promote": {"from": "staging", "soakMinutes": 30}})
    local.set_scan("api", DIGEST, "IN_PROGRESS")

    # When the push is run as a dry run
    result = only_invocation(local.run_event(stack, load_event("ecr-push-dry-run.json"))).result

    # Then staging's report says it would wait, for what, and why; prod says where its deploys come from
    staging = target_report(result, "staging")
    assert staging["status"] == "WAITING" and staging["reason"].endswith("(dry run)")
    assert staging["gates"]["decision"] == "WAIT"
    assert staging["gates"]["waitingFor"] == f"the scan findings of {DIGEST[:19]}"
    assert "deploys what staging completes, after a 30 min soak" in target_report(result, "prod")["reason"]
    # And nothing was recorded, set or announced
    assert local.pending_timers() == []
    assert inbox.receive() == []
    assert revisions(session, "api-staging") == [world.task_definitions["staging"]]

    # When the findings are ready and clean, the dry run shows the plan with the gates' verdict
    local.set_scan("api", DIGEST, "COMPLETE", {"LOW": 2})
    planned = target_report(
        only_invocation(local.run_event(stack, load_event("ecr-push-dry-run.json"))).result, "staging"
    )
    assert planned["status"] == "PLANNED" and planned["gates"]["decision"] == "PASS"
    assert [step["step"] for step in planned["steps"]] == ["register", "update-service"]
