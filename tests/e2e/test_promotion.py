"""Promotion on the local AWS: staging completes a digest, the tracker sets prod's soak timer, the timer deploys
that very digest to prod; a rollback or a newer digest of staging during the soak stops the older promotion."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from tests.e2e.readback import service, target_report, task_definition
from tests.helpers import Inbox, load_event
from tools.localaws import LocalAws, LocalStack
from tools.sample_world import PROD_CONFIG, STAGING_CONFIG, World, put_target_config

pytestmark = pytest.mark.e2e


def push_event(world: World, tag: str, time: str, event_id: str) -> dict[str, Any]:
    """ECR's push event of one of the sample world's images."""
    event = copy.deepcopy(load_event("ecr-push.json"))
    event.update(id=event_id, time=time)
    event["detail"].update({"image-tag": tag, "image-digest": world.image_digests[tag]})
    return event


def deploy_and_complete_staging(local: LocalAws, stack: LocalStack, event: dict[str, Any]) -> None:
    [invocation] = local.deliver(stack, event).invocations
    assert target_report(invocation.result, "staging")["status"] == "DEPLOYING", invocation.result
    local.settle("staging", "api")


@pytest.fixture
def prod_promotes(session: boto3.Session, world: World) -> None:
    """prod deploys what staging completed, 30 minutes after it did (its own tags, v*, still apply)."""
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "promote": {"from": "staging", "soakMinutes": 30}})


def test_staging_completes_and_prod_follows_after_its_soak(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox, prod_promotes: None
) -> None:
    # Given staging deploying staging-42
    event = push_event(world, "staging-42", "2026-11-20T10:15:30Z", "5c1f9d2e-8d0c-4a35-9f6c-2c8e0a1b7d11")
    digest = world.image_digests["staging-42"]

    # When its deployment completes
    deploy_and_complete_staging(local, stack, event)

    # Then the tracker set prod's soak timer: due 30 minutes after the completion, naming the digest
    [timer] = local.pending_timers()
    assert timer["event"]["action"] == "promote"
    assert {key: timer["event"][key] for key in ("repository", "target", "from", "digest")} == {
        "repository": "api",
        "target": "prod",
        "from": "staging",
        "digest": digest,
    }
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]

    # When the soak ends
    [fired] = local.fire_timers()

    # Then prod deploys that very digest (its tag matches none of prod's v* patterns: no tag is matched again)
    assert fired.error is None, fired.error
    report = target_report(fired.result, "prod")
    assert report["status"] == "DEPLOYING"
    definition, _ = task_definition(session, service(session, "prod")["taskDefinition"])
    api = next(c for c in definition["containerDefinitions"] if c["name"] == "api")
    assert api["image"] == f"{world.registry}/api@{digest}"
    # And the notification and the history show the chain
    messages = [received.message for received in inbox.receive()]
    assert [(m["target"], m["status"]) for m in messages] == [
        ("staging", "DEPLOYING"),
        ("staging", "COMPLETED"),
        ("prod", "DEPLOYING"),
    ]
    promoted = messages[-1]
    assert promoted["trigger"] == "promote"
    assert promoted["promotion"]["from"] == "staging" and promoted["promotion"]["soakMinutes"] == 30
    assert promoted["promotion"]["summary"].startswith("promoted from staging (COMPLETED ")
    assert promoted["promotion"]["summary"].endswith(", soaked 30 min)")
    history = local.run_event(stack, {"action": "history", "repository": "api", "target": "prod"})
    [latest, *_] = history.invocations[0].result["deploys"]
    assert latest["trigger"] == "promote" and latest["promotedFrom"] == promoted["promotion"]["summary"]
    # And prod's own outcome is tracked as any deploy's
    local.settle("prod", "api")
    assert [m.message["status"] for m in inbox.receive()] == ["COMPLETED"]


def test_a_newer_digest_completed_during_the_soak_is_the_one_promoted(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox, prod_promotes: None
) -> None:
    # Given staging completed staging-41, then, during its soak, staging-42
    deploy_and_complete_staging(local, stack, push_event(world, "staging-41", "2026-11-20T10:10:00Z", "push-41"))
    deploy_and_complete_staging(local, stack, push_event(world, "staging-42", "2026-11-20T10:15:30Z", "push-42"))
    assert [timer["event"]["digest"] for timer in local.pending_timers()] == [
        world.image_digests["staging-41"],
        world.image_digests["staging-42"],
    ]

    # When both soaks end
    older, newer = local.fire_timers()

    # Then the older one is skipped (no longer pending), and the newer one is promoted
    assert older.result["status"] == "SKIPPED" and "no longer pending" in older.result["reason"]
    assert target_report(newer.result, "prod")["status"] == "DEPLOYING"
    definition, _ = task_definition(session, service(session, "prod")["taskDefinition"])
    assert world.image_digests["staging-42"] in next(
        c["image"] for c in definition["containerDefinitions"] if c["name"] == "api"
    )


def test_a_rollback_of_staging_during_the_soak_stops_the_promotion(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox, prod_promotes: None
) -> None:
    # Given staging completed staging-41 and then staging-42, whose soak is running
    deploy_and_complete_staging(local, stack, push_event(world, "staging-41", "2026-11-20T10:10:00Z", "push-41"))
    deploy_and_complete_staging(local, stack, push_event(world, "staging-42", "2026-11-20T10:15:30Z", "push-42"))

    # When staging is rolled back (to staging-41) before the soak ends
    rollback = local.run_event(stack, {"action": "rollback", "repository": "api", "target": "staging"})
    assert rollback.invocations[0].error is None, rollback.invocations[0].error
    local.settle("staging", "api")
    results = [invocation.result for invocation in local.fire_timers()]

    # Then nothing is promoted: staging-41's promotion is no longer pending, staging-42 no longer what staging runs
    assert [result["status"] for result in results] == ["SKIPPED", "SKIPPED"]
    assert "rolled back" in results[1]["reason"]
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
    # And no timer is left behind (a completed rollback promotes nowhere)
    assert local.pending_timers() == []


def test_a_dry_run_of_the_soak_timer_shows_the_promotion_it_would_make(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox, prod_promotes: None
) -> None:
    # Given staging completed staging-42, prod's soak timer pending
    deploy_and_complete_staging(local, stack, push_event(world, "staging-42", "2026-11-20T10:15:30Z", "push-42"))
    [timer] = local.pending_timers()
    inbox.receive()

    # When the timer's event is run as a dry run
    delivery = local.run_event(stack, {**timer["event"], "dryRun": True})

    # Then it shows prod's plan, the chain it comes from, and changes nothing
    report = target_report(delivery.invocations[0].result, "prod")
    assert report["status"] == "PLANNED" and report["dryRun"] is True
    assert report["promotion"]["from"] == "staging" and report["promotion"]["soakMinutes"] == 30
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
    assert [t["name"] for t in local.pending_timers()] == [timer["name"]]
    assert inbox.receive() == []


def test_a_cycle_of_promotions_fails_the_target_naming_the_field(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given staging promoting from prod, and prod from staging
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "promote": {"from": "staging", "soakMinutes": 5}})
    put_target_config(session, "api", "staging", {**STAGING_CONFIG, "promote": {"from": "prod", "soakMinutes": 5}})

    # When staging-42 is pushed
    [invocation] = local.deliver(stack, load_event("ecr-push.json")).invocations

    # Then staging fails before anything is registered, naming the field and the cycle, and is announced so
    report = target_report(invocation.result, "staging")
    assert report["status"] == "FAILED" and report["code"] == "config"
    assert "field 'promote.from' makes a cycle of promotions: staging -> prod -> staging" in report["reason"]
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]
    assert [m.message["status"] for m in inbox.receive()] == ["FAILED"]


def test_a_promotion_waits_for_the_targets_own_gates_and_keeps_its_chain(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given prod gated on its scan and promoting from staging, and the digest's scan still in progress for prod
    gated = {
        **PROD_CONFIG,
        "promote": {"from": "staging", "soakMinutes": 30},
        "gates": {"scan": {"maxSeverity": "HIGH"}},
    }
    put_target_config(session, "api", "prod", gated)
    digest = world.image_digests["staging-42"]
    local.set_scan("api", digest, "IN_PROGRESS")
    deploy_and_complete_staging(local, stack, push_event(world, "staging-42", "2026-11-20T10:15:30Z", "push-42"))

    # When the soak ends, prod's gates wait; then the scan completes
    [fired] = local.fire_timers()
    assert target_report(fired.result, "prod")["status"] == "WAITING"
    [resumed] = local.complete_scan("api", digest, {"LOW": 1}).invocations

    # Then prod deploys the promoted digest, still a promotion, its chain in the notification
    assert target_report(resumed.result, "prod")["status"] == "DEPLOYING"
    messages = [m.message for m in inbox.receive() if m.message["target"] == "prod"]
    assert [(m["status"], m["trigger"]) for m in messages] == [("WAITING", "promote"), ("DEPLOYING", "promote")]
    assert messages[-1]["promotion"]["summary"].startswith("promoted from staging (COMPLETED ")
