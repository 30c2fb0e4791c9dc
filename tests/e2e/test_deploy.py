"""Deploys through the local AWS: events delivered through the stack's rule (or invoked by hand) run the
deploy function's real handler; ECS, the topic's inbox and the queues are then read back from the server."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.e2e.readback import (
    container,
    drain,
    revisions,
    service,
    ssm_arn,
    target_report,
    task_definition,
)
from tests.helpers import Inbox, load_event
from tools.localaws import LocalAws, LocalStack, StackFunction
from tools.sample_world import DB_IMAGE, World

pytestmark = pytest.mark.e2e

# The EventBridge samples the push rule must drop: an untagged push, a failed push, a delete (a scan result goes
# to the gates' rule: tests/e2e/test_gates.py).
NOT_OURS = ["ecr-push-untagged.json", "ecr-push-failure.json", "ecr-delete.json"]


def test_a_push_through_the_rule_deploys_staging(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given the staging service on revision 1 and prod on its own revision 1
    event = load_event("ecr-push.json")
    digest = event["detail"]["image-digest"]
    old, _ = task_definition(session, world.task_definitions["staging"])
    prod_before = task_definition(session, world.task_definitions["prod"])

    # When ECR's event for the push of staging-42 goes through EventBridge
    delivery = local.deliver(stack, event)

    # Then the stack's rule matched and the function ran once, first time
    assert delivery.matched_rules == ["DeployFunctionEcrPush"]
    assert len(delivery.invocations) == 1
    invocation = delivery.invocations[0]
    assert (invocation.function, invocation.attempts, invocation.error) == ("DeployFunction", 1, None)
    assert not invocation.sent_to_on_failure
    assert invocation.result["status"] == "DEPLOYING"
    # And the staging service runs a new revision
    staging = service(session, "staging")
    assert staging["taskDefinition"] != world.task_definitions["staging"]
    assert revisions(session, "api-staging") == [world.task_definitions["staging"], staging["taskDefinition"]]
    new, tags = task_definition(session, staging["taskDefinition"])
    assert new["revision"] == old["revision"] + 1
    # ...whose api container is pinned to the event's digest
    api = container(new, "api")
    assert api["image"] == f"{world.registry}/api@{digest}"
    # ...whose db container is exactly what it was
    assert container(new, "db") == container(old, "db")
    assert container(new, "db")["image"] == DB_IMAGE
    # ...whose secrets are Parameter Store ARNs (the existing one kept, the config's added)
    assert {item["name"]: item["valueFrom"] for item in api["secrets"]} == {
        "OLD_TOKEN": ssm_arn("/api/staging/legacy/OLD_TOKEN"),
        "DATABASE_URL": ssm_arn("/api/staging/DATABASE_URL"),
        "STRIPE_KEY": ssm_arn("/api/staging/env/STRIPE_KEY"),
        "SESSION_SECRET": ssm_arn("/api/staging/env/SESSION_SECRET"),
    }
    assert {item["name"]: item["value"] for item in api["environment"]} == {"LOG_LEVEL": "info", "PORT": "8080"}
    # ...and whose tags keep the team's and record the image
    assert tags == {"team": "payments", "pushdeploy:image-tag": "staging-42", "pushdeploy:image-digest": digest}
    # And exactly one notification reached the inbox: staging DEPLOYING
    received = inbox.receive()
    assert len(received) == 1
    message = received[0].message
    assert message["status"] == "DEPLOYING"
    assert (message["repository"], message["tag"], message["digest"]) == ("api", "staging-42", digest)
    assert message["image"] == api["image"]
    assert (message["target"], message["cluster"], message["service"]) == ("staging", "staging", "api")
    assert message["taskDefinitionArn"] == staging["taskDefinition"]
    assert message["previousTaskDefinitionArn"] == world.task_definitions["staging"]
    assert message["deploymentId"].startswith("ecs-svc/")
    assert (message["trigger"], message["eventId"]) == ("push", event["id"])
    assert message["configParameter"] == "/pushdeploy/api/staging"
    assert message["changes"] == target_report(invocation.result, "staging")["changes"]
    assert received[0].subject == "pushdeploy DEPLOYING: api:staging-42 to staging (staging/api)"
    assert received[0].attributes == {
        "status": "DEPLOYING",
        "repository": "api",
        "target": "staging",
        "cluster": "staging",
        "service": "api",
        "trigger": "push",
    }
    # And prod is untouched: same revision, no new one
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
    assert revisions(session, "api-prod") == [world.task_definitions["prod"]]
    assert task_definition(session, world.task_definitions["prod"]) == prod_before
    # And nothing failed over to the on-failure queue
    assert drain(session, str(stack.functions["DeployFunction"].on_failure_queue)) == []


def test_events_that_are_not_ours_are_filtered_by_the_rule(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given the sample world's revisions
    before = revisions(session)

    for name in NOT_OURS:
        # When an ECR event that is not a successful tagged push goes through EventBridge
        delivery = local.deliver(stack, load_event(name))

        # Then the rule's pattern drops it: no rule matched, the function never ran
        assert delivery.matched_rules == [], name
        assert delivery.invocations == [], name

    # And nothing was registered, deployed or announced
    assert revisions(session) == before
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]
    assert inbox.receive() == []


def test_a_tag_no_target_wants_is_skipped_quietly(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given targets that take staging-*, build-* (staging) and v* (prod)
    before = revisions(session)

    # When feature-login is pushed
    delivery = local.deliver(stack, load_event("ecr-push-no-match.json"))

    # Then the function ran, once, and skipped every target
    assert delivery.matched_rules == ["DeployFunctionEcrPush"]
    assert [(i.attempts, i.error) for i in delivery.invocations] == [(1, None)]
    result: dict[str, Any] = delivery.invocations[0].result
    assert result["status"] == "SKIPPED"
    assert {report["target"]: report["status"] for report in result["targets"]} == {
        "prod": "SKIPPED",
        "staging": "SKIPPED",
    }
    # And nobody is told, and nothing is registered
    assert inbox.receive() == []
    assert revisions(session) == before


def test_a_manual_invoke_deploys_the_digest_ecr_holds(
    local: LocalAws, session: boto3.Session, deploy_function: StackFunction, world: World, inbox: Inbox
) -> None:
    # Given v1.4.2 in ECR under its own digest, and a console invoke naming the prod target
    digest = world.image_digests["v1.4.2"]
    assert digest not in {other for tag, other in world.image_digests.items() if tag != "v1.4.2"}
    event = load_event("manual-deploy-targets.json")

    # When the function is invoked directly with it
    result = local.invoke(deploy_function, event)

    # Then prod runs a new revision pinned to ECR's digest for the tag
    assert result["status"] == "DEPLOYING"
    assert result["digest"] == digest
    assert [report["target"] for report in result["targets"]] == ["prod"]
    prod = service(session, "prod")
    assert prod["taskDefinition"] != world.task_definitions["prod"]
    new, tags = task_definition(session, prod["taskDefinition"])
    assert container(new, "api")["image"] == f"{world.registry}/api@{digest}"
    assert tags["pushdeploy:image-digest"] == digest
    # And staging is not part of it
    assert service(session, "staging")["taskDefinition"] == world.task_definitions["staging"]
    # And the notification says a person asked for it
    received = inbox.receive()
    assert len(received) == 1
    message = received[0].message
    assert (message["status"], message["target"], message["trigger"]) == ("DEPLOYING", "prod", "manual")
    assert (message["tag"], message["digest"]) == ("v1.4.2", digest)
    assert received[0].attributes["trigger"] == "manual"


def test_one_push_deploys_every_matching_target(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox, staging_eu: str
) -> None:
    # Given a third target, staging-eu, that also takes staging-* tags
    event = load_event("ecr-push.json")
    image = f"{world.registry}/api@{event['detail']['image-digest']}"

    # When staging-42 is pushed
    delivery = local.deliver(stack, event)

    # Then both staging services run a new revision with the pushed image, and prod does not
    result: dict[str, Any] = delivery.invocations[0].result
    assert {report["target"]: report["status"] for report in result["targets"]} == {
        "prod": "SKIPPED",
        "staging": "DEPLOYING",
        "staging-eu": "DEPLOYING",
    }
    for cluster, before in (("staging", world.task_definitions["staging"]), ("staging-eu", staging_eu)):
        now = service(session, cluster)["taskDefinition"]
        assert now != before
        assert container(task_definition(session, now)[0], "api")["image"] == image
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
    # And each deploy has its own notification
    received = inbox.receive()
    assert sorted((r.message["target"], r.message["status"]) for r in received) == [
        ("staging", "DEPLOYING"),
        ("staging-eu", "DEPLOYING"),
    ]
