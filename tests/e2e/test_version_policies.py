"""Version policies through the local AWS: a target following ``semver:^1.4`` deploys v1.5.0, skips v1.4.9
pushed later as stale (version order, judged against what the ledger recorded), and the deploy function
ignores a signature pushed beside the image."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from pushdeploy import wiring
from tests.e2e.readback import revisions, service, target_report
from tests.helpers import Inbox, load_event
from tools.localaws import LocalAws, LocalStack
from tools.sample_world import PROD_CONFIG, World, put_target_config

pytestmark = pytest.mark.e2e

SEMVER_PROD: dict[str, Any] = {**PROD_CONFIG, "tags": ["semver:^1.4"], "exclude": ["semver:1.4.3"]}


def test_an_older_version_pushed_later_is_skipped_as_stale(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given prod follows semver:^1.4 and runs its first revision
    put_target_config(session, "api", "prod", SEMVER_PROD)
    newer, older = load_event("ecr-push-semver.json"), load_event("ecr-push-semver-older.json")
    assert older["time"] > newer["time"]  # v1.4.9 is pushed after v1.5.0

    # When v1.5.0 is pushed, goes through the stack's rule, and its deployment completes
    first = local.deliver(stack, newer)
    local.settle("prod", "api")

    # Then prod deploys it
    assert first.matched_rules == ["DeployFunctionEcrPush"]
    deployed = target_report(first.invocations[0].result, "prod")
    assert deployed["status"] == "DEPLOYING"
    running = service(session, "prod")["taskDefinition"]
    assert running == deployed["taskDefinitionArn"]
    assert [message.message["status"] for message in inbox.receive()] == ["DEPLOYING", "COMPLETED"]
    before = revisions(session, "api-prod")

    # When v1.4.9 is pushed later (a fresh composition root: only the ledger remembers v1.5.0)
    wiring.reset()
    second = local.deliver(stack, older)

    # Then it is skipped as stale by version, naming both, and nothing is registered, updated or announced
    invocation = second.invocations[0]
    assert (invocation.attempts, invocation.error) == (1, None)
    skipped = target_report(invocation.result, "prod")
    assert (skipped["status"], skipped["code"]) == ("SKIPPED", "stale")
    assert skipped["reason"] == (
        "stale: version 1.4.9 (tag v1.4.9) is lower than version 1.5.0 (tag v1.5.0), which is deployed"
    )
    assert service(session, "prod")["taskDefinition"] == running
    assert revisions(session, "api-prod") == before
    assert inbox.receive() == []


def test_a_signature_pushed_beside_the_image_is_ignored(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given prod follows every tag (a glob that a signature's tag also matches)
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "tags": ["*"]})
    before = revisions(session)

    # When cosign's signature of an image is pushed (sha256-<digest>.sig), through the stack's rule
    delivery = local.deliver(stack, load_event("ecr-push-signature.json"))

    # Then the function ran once and ignored it, saying why; nothing is registered or announced
    assert delivery.matched_rules == ["DeployFunctionEcrPush"]
    invocation = delivery.invocations[0]
    assert (invocation.attempts, invocation.error) == (1, None)
    assert invocation.result["status"] == "IGNORED"
    assert "is a signature stored beside an image: never deployed" in invocation.result["reason"]
    assert revisions(session) == before
    assert inbox.receive() == []
