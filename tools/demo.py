"""The whole pushdeploy flow on a local AWS, told step by step: `make demo`.

Starts moto's server on loopback with the local ECS in front, deploys template.yaml into it, seeds a sample
world, delivers sample ECR and console events as EventBridge would, and prints what happened: rules matched,
the task-definition diff, the new revision, the service, and each notification as the team's inbox received
it. The deployments' outcomes (COMPLETED, the circuit breaker's rollback) come from the local ECS, whose
events reach the tracker through the stack's rule; every event delivered is stamped on the local ECS's clock.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from pushdeploy import wiring
from pushdeploy.domain.channels import describe_changes, render_email, revision
from pushdeploy.domain.times import describe_time
from tests.helpers import EVENTS, Inbox, Received
from tools.localaws import Delivery, LocalAws, LocalStack
from tools.localecs import Clock, Outcome
from tools.sample_accounts import (
    REGISTRY,
    STACK_PARAMETERS,
    WORKLOAD,
    WORKLOAD_CLUSTER,
    WORKLOAD_CONFIG,
    put_config,
    seed_accounts,
    session_in,
)
from tools.sample_world import (
    CONFIG_PREFIX,
    PROD_CANARY_CONFIG,
    PROD_CONFIG,
    SECRET_VALUE,
    STAGING_CONFIG,
    World,
    put_target_config,
    seed_world,
)

WIDTH = 100


def main() -> int:
    """Run the demo; exit 0 when every scenario ended as expected."""
    started = time.monotonic()
    with LocalAws() as local:
        _heading(f"Local AWS: moto server at {local.endpoint}")
        stack = local.deploy(STACK_PARAMETERS)  # it also serves a registry and a workload account
        _show_stack(stack)
        session = local.session()
        world = seed_world(session, topic_arn=stack.outputs["DeployTopicArn"])
        local.settle_all()  # the sample services run steady on their first revision
        inbox = Inbox(session, world.topic_arn)
        _show_world(session, world)
        assert local.ecs is not None
        stamps = EventStamps(local.ecs.clock)
        # The functions judge event times by the local ECS's clock, which settles and bakes move on: AWS's
        # events and the functions share one clock, however many deployments the demo settles.
        wiring.reset(wiring.Seams(clock=local.ecs.clock.now))

        deployments: dict[str, str] = {}  # target to the deployment id its last deploy started
        outcomes = []
        for number, scenario in enumerate(SCENARIOS, start=1):
            _set_up(scenario.setup, local, session)
            seen = _run_scenario(
                local, stack, session, inbox, number=number, scenario=scenario, deployments=deployments, stamps=stamps
            )
            outcomes.append((scenario.title, (scenario.status, scenario.registers, scenario.notifies), seen))

        _heading("Summary")
        all_as_expected = True
        for title, expected, seen in outcomes:
            ok = seen == expected
            all_as_expected &= ok
            status, registered, notified = seen
            print(f"  {'ok ' if ok else 'BAD'} {status:<10} {registered} registered, {notified} notified  {title}")
        _show_tracked(local)
        leaked = any(SECRET_VALUE in text for text in _everything_printed)
        print(f"  {'ok ' if not leaked else 'BAD'} no secret value in any result, notification or function log")
        wiring.reset()
        print(f"\nlocal AWS stopped; demo took {time.monotonic() - started:.1f} s")
        return 0 if all_as_expected and not leaked else 1


def _set_up(setup: str | None, local: LocalAws, session: boto3.Session) -> None:
    """Change the world as the scenario's ``setup`` says, before its events."""
    if setup == "break-prod":
        broken = {key: value for key, value in PROD_CONFIG.items() if key != "service"}
        put_target_config(session, "api", "prod", broken)
        _print(f"(prod's config now lacks 'service': {json.dumps(broken)})")
    elif setup == "fix-prod":
        put_target_config(session, "api", "prod", PROD_CONFIG)
    elif setup == "accounts":
        seed_accounts()
        put_config(session, f"{REGISTRY}/api/{WORKLOAD_CLUSTER}", WORKLOAD_CONFIG)
        _print(
            f"(registry account {REGISTRY} holds api; workload account {WORKLOAD} runs {WORKLOAD_CLUSTER}/api; "
            f"its target config is {CONFIG_PREFIX}/{REGISTRY}/api/{WORKLOAD_CLUSTER}: "
            f"{json.dumps(WORKLOAD_CONFIG)})"
        )
    elif setup == "migrate-staging":
        put_target_config(session, "api", "staging", STAGING_MIGRATE_CONFIG)
        _print(f"(staging's config now migrates first: {json.dumps(STAGING_MIGRATE_CONFIG['beforeDeploy'])})")
    elif setup == "canary-prod":
        put_target_config(session, "api", "prod", PROD_CANARY_CONFIG)
        _print(f"(prod's config now deploys a canary, paused for approval: {json.dumps(PROD_CANARY_CONFIG)})")
    elif setup == "semver-prod":
        put_target_config(session, "api", "prod", PROD_SEMVER_CONFIG)
        tags, exclude = PROD_SEMVER_CONFIG["tags"], PROD_SEMVER_CONFIG["exclude"]
        _print(f"(prod's config now follows a version range: tags {tags}, exclude {exclude})")
    elif setup == "gate-staging-promote-prod":
        _gate_staging_promote_prod(local, session)


_everything_printed: list[str] = []


def _print(text: str = "") -> None:
    _everything_printed.append(text)
    print(text)


def _heading(text: str) -> None:
    _print("\n" + f"== {text} ".ljust(WIDTH, "="))


def _show_stack(stack: LocalStack) -> None:
    _print(f"stack {stack.name}: template.yaml, SAM-transformed locally, created by the server's CloudFormation")
    by_type: dict[str, list[str]] = {}
    for logical_id, (resource_type, _) in sorted(stack.resources.items()):
        by_type.setdefault(resource_type, []).append(logical_id)
    for resource_type, ids in sorted(by_type.items()):
        _print(f"  created      {resource_type:<28} {', '.join(ids)}")
    for logical_id, resource_type in sorted(stack.not_created.items()):
        how = {
            "AWS::Lambda::EventInvokeConfig": "the harness applies its retries and on-failure queue itself",
            "AWS::SQS::QueuePolicy": "no effect locally: moto does not enforce queue policies",
            "AWS::SNS::TopicPolicy": "no effect locally: moto does not enforce topic policies",
            "AWS::CloudWatch::Alarm": "moto's CloudFormation has no alarms; tests check them in the template",
        }.get(resource_type, "not emulated by moto")
        _print(f"  NOT created  {resource_type:<28} {logical_id}  ({how})")
    for rule in stack.rules:
        _print(f"  rule {rule.name}: {rule.pattern}")
    function = stack.functions["DeployFunction"]
    _print(f"  function {function.name}: {function.handler}, environment {json.dumps(function.environment)}")


def _show_world(session: boto3.Session, world: World) -> None:
    _heading("Sample world")
    ssm = session.client("ssm")
    _print(f"ECR repository {world.repository_uri} with tags {', '.join(world.image_digests)}")
    for cluster, arn in world.task_definitions.items():
        _print(f"cluster {cluster}: service api on {revision(arn)} (containers api from ECR, db from postgres)")
    for target in ("staging", "prod"):
        value = ssm.get_parameter(Name=f"/pushdeploy/api/{target}")["Parameter"]["Value"]
        _print(f"target config /pushdeploy/api/{target}: {json.dumps(json.loads(value))}")
    _print("secret parameters (SecureString): /api/staging/DATABASE_URL, /api/staging/env/*, /api/prod/DATABASE_URL")
    _print("team inbox: an SQS queue subscribed to the deploy topic")


@dataclass(frozen=True)
class Scenario:
    """Events delivered one after another, and what they must end in."""

    title: str
    events: tuple[str, ...]  # files under events/ (ECR pushes and console requests)
    status: str
    registers: int
    notifies: int
    setup: str | None = None
    target: str | None = None  # with `settle`: the target whose deployment the local ECS finishes
    settle: Outcome | None = None
    answer: str | None = None  # a console request (under events/) answering the pause the local ECS reaches
    account: str | None = None  # the workload account the target's service is in (None: the stack's own)
    task_exit: int | None = None  # the one-off task the events started ends with this exit code (local ECS)
    scan: str | None = None  # a digest whose scan completes (ECR's scan event) before anything else
    soak: bool = False  # after `settle`: the soak timers fire (prod follows staging), and prod settles


STAGING_MIGRATE_CONFIG = {
    **STAGING_CONFIG,
    "beforeDeploy": [{"container": "api", "command": ["python", "manage.py", "migrate"], "timeoutMinutes": 15}],
}


GATED_DIGEST = "sha256:" + "5e" * 32  # events/ecr-push-staging-43.json's

SCENARIOS = (
    Scenario("docker push api:staging-42 (deploys staging)", ("ecr-push.json",), "DEPLOYING", 1, 1),
    Scenario(
        "ECS finishes staging's deployment (the tracker announces the outcome)",
        (),
        "COMPLETED",
        0,
        1,
        target="staging",
        settle="completed",
    ),
    Scenario("docker push api:feature-login (matches no target)", ("ecr-push-no-match.json",), "SKIPPED", 0, 0),
    Scenario(
        "EventBridge delivers the staging-42 event again (its first result; nothing redone)",
        ("ecr-push.json",),
        "DEPLOYING",
        0,
        0,
    ),
    Scenario(
        "docker push api:build-42, the same image under a second tag (a duplicate)",
        ("ecr-push-second-tag.json",),
        "SKIPPED",
        0,
        0,
    ),
    Scenario(
        "Dry run from the console: what would deploying v1.4.2 to prod do?",
        ("manual-deploy-dry-run.json",),
        "PLANNED",
        0,
        0,
    ),
    Scenario(
        "docker push api:v1.4.2 with a broken prod config (no 'service')",
        ("ecr-push-prod.json",),
        "FAILED",
        0,
        1,
        setup="break-prod",
    ),
    Scenario(
        "Config fixed; redeploy v1.4.2 to prod from the Lambda console",
        ("manual-deploy-targets.json",),
        "DEPLOYING",
        1,
        1,
        setup="fix-prod",
    ),
    Scenario(
        "prod's new tasks fail: ECS's circuit breaker fails the deployment and rolls it back",
        (),
        "ROLLED_BACK",
        0,
        2,
        target="prod",
        settle="failed",
    ),
    Scenario("History of prod, from the Lambda console", ("manual-history.json",), "HISTORY", 0, 0),
    Scenario(
        f"docker push api:v2.0.0 in registry account {REGISTRY}: deploys and completes in workload account {WORKLOAD}",
        ("ecr-push-foreign-registry.json",),
        "COMPLETED",
        1,
        2,
        setup="accounts",
        target=WORKLOAD_CLUSTER,
        settle="completed",
        account=WORKLOAD,
    ),
    Scenario(
        "canary to prod, paused for approval, approved, completed",
        ("manual-deploy-targets.json",),
        "COMPLETED",
        1,
        3,
        setup="canary-prod",
        target="prod",
        settle="completed",
        answer="manual-approve.json",
    ),
    Scenario(
        "migrate, then deploy: staging-43's migration runs the new revision first; exit 0; the service updated",
        ("ecr-push-migrate.json",),
        "DEPLOYING",
        1,
        2,
        setup="migrate-staging",
        target="staging",
        task_exit=0,
    ),
    Scenario(
        "staging gated on its scan: docker push api:staging-43 waits for the findings",
        ("ecr-push-staging-43.json",),
        "WAITING",
        0,
        1,
        setup="gate-staging-promote-prod",
    ),
    Scenario(
        "the scan completes: staging deploys and completes; prod follows after its soak (its canary pauses)",
        (),
        "COMPLETED",
        2,
        5,
        target="staging",
        settle="completed",
        scan=GATED_DIGEST,
        soak=True,
    ),
    Scenario("An image delete (not a push: no rule matches)", ("ecr-delete.json",), "IGNORED", 0, 0),
    Scenario(
        "prod follows semver:^1.4 (never 1.4.3); docker push api:v1.5.0 deploys it",
        ("ecr-push-semver.json",),
        "DEPLOYING",
        1,
        1,
        setup="semver-prod",
    ),
    Scenario(
        "docker push api:v1.4.9 after v1.5.0: a lower version, whatever its push time, is skipped as stale",
        ("ecr-push-semver-older.json",),
        "SKIPPED",
        0,
        0,
    ),
    Scenario(
        "cosign pushes v1.5.0's signature (sha256-<digest>.sig): never deployed, nobody told",
        ("ecr-push-signature.json",),
        "IGNORED",
        0,
        0,
    ),
)
# Version policies: prod takes the 1.x releases from 1.4 on, never the known-bad 1.4.3.
PROD_SEMVER_CONFIG = {**PROD_CONFIG, "tags": ["semver:^1.4"], "exclude": ["semver:1.4.3"]}
STAGING_GATED_CONFIG: dict[str, Any] = {**STAGING_CONFIG, "gates": {"scan": {"maxSeverity": "HIGH", "waitMinutes": 30}}}
# prod keeps its canary and approval: a promotion deploys as any deploy of prod does.
PROD_PROMOTED_CONFIG: dict[str, Any] = {**PROD_CANARY_CONFIG, "promote": {"from": "staging", "soakMinutes": 30}}


def _gate_staging_promote_prod(local: LocalAws, session: boto3.Session) -> None:
    """staging waits for clean scan findings; prod deploys what staging completed, 30 minutes later."""
    put_target_config(session, "api", "staging", STAGING_GATED_CONFIG)
    put_target_config(session, "api", "prod", PROD_PROMOTED_CONFIG)
    local.set_scan("api", GATED_DIGEST, "IN_PROGRESS")
    _print(f"(staging's config now has gates: {json.dumps(STAGING_GATED_CONFIG['gates'])})")
    _print(
        f"(prod's config now promotes: {json.dumps(PROD_PROMOTED_CONFIG['promote'])}; its tags {PROD_CONFIG['tags']})"
    )
    _print("(ECR's scan of staging-43 is IN_PROGRESS)")


def _scan_completes(local: LocalAws, ecs: Any, digest: str, deployments: dict[str, str]) -> str:
    _print(f"ecr     the scan of {digest[:19]} completes (1 MEDIUM): ECR emits its ECR Image Scan event")
    delivery = local.complete_scan("api", digest, {"MEDIUM": 1})
    status = "IGNORED"
    for invocation in delivery.invocations:
        _everything_printed.append(invocation.output)
        _print(f"rules   {', '.join(delivery.matched_rules)} -> {invocation.function}: {invocation.result['status']}")
        for target in invocation.result.get("targets", []):
            _show_target(ecs, target)
            if target.get("deploymentId"):
                deployments[target["target"]] = target["deploymentId"]
            status = str(target["status"])
    return status


def _soak_ends(local: LocalAws, ecs: Any, deployments: dict[str, str]) -> str:
    status = "IGNORED"
    for timer in local.pending_timers():
        _print(f"timer   {timer['name']} due {describe_time(timer['due'])}: {json.dumps(timer['event'])}")
    _print("timer   the soak ends: EventBridge Scheduler invokes the deploy function (LocalAws.fire_timers())")
    for invocation in local.fire_timers():
        _everything_printed.append(invocation.output)
        result = invocation.result or {"status": invocation.error}
        _print(f"rules   (EventBridge Scheduler) -> {invocation.function}: {result.get('status')}")
        for target in result.get("targets", []):
            _show_target(ecs, target)
            if target.get("deploymentId"):
                deployments[target["target"]] = target["deploymentId"]
    _print("ecs     local ECS settles prod/api (completed; its PAUSE hook continued as an approval would)")
    for delivery in local.settle("prod", "api"):
        status = _show_ecs_delivery(delivery, deployments.get("prod")) or status
    return status


class EventStamps:
    """Stamps each sample event with the local ECS's clock when first delivered, so that a push and the
    outcomes ECS reports of it are minutes apart as they would be, not days; the same file delivered again
    (a duplicate delivery) keeps its first stamp."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._stamps: dict[str, str] = {}

    def event(self, file: str) -> dict[str, Any]:
        """The sample event ``file`` (under events/), its ``time`` now (or when it was first delivered)."""
        event: dict[str, Any] = json.loads((EVENTS / file).read_text())
        if "time" in event:
            event["time"] = self._stamps.setdefault(file, describe_time(self._clock.now()))
        return event


def _run_scenario(
    local: LocalAws,
    stack: LocalStack,
    session: boto3.Session,
    inbox: Inbox,
    *,
    number: int,
    scenario: Scenario,
    deployments: dict[str, str],
    stamps: EventStamps,
) -> tuple[str, int, int]:
    _heading(f"{number}. {scenario.title}")
    # A workload account's service is read with a session there (moto: an assumed role of that account).
    ecs = session_in(scenario.account).client("ecs") if scenario.account else session.client("ecs")
    revisions_before = len(ecs.list_task_definitions()["taskDefinitionArns"])
    status = "IGNORED"
    for file in scenario.events:
        status = _deliver(local, stack, ecs, stamps.event(file), event_file=file, deployments=deployments)
    if scenario.task_exit is not None and scenario.target and local.ecs is not None:
        started = [e for e in local.ecs.emitted if e["detail-type"] == "ECS Task State Change"][-1]["detail"]
        task_arn = started["taskArn"]
        _print(
            f"ecs     the migration task ends with exit code {scenario.task_exit}: python -m tools.localaws ecs "
            f"stop-task --endpoint {local.endpoint} --cluster {scenario.target} --task {task_arn.rsplit('/', 1)[-1]} "
            f"--exit-code {scenario.task_exit}"
        )
        for delivery in local.stop_task(scenario.target, task_arn, exit_code=scenario.task_exit):
            status = _show_ecs_delivery(delivery, deployments.get(scenario.target)) or status
            for invocation in delivery.invocations:
                report = (invocation.result or {}).get("task") if invocation.function == "DeployFunction" else None
                if isinstance(report, dict) and report.get("deploymentId"):
                    deployments[scenario.target] = str(report["deploymentId"])
    if scenario.answer and scenario.target:
        _print(
            f"ecs     the local ECS rolls {scenario.target}/api on to its PAUSE hook: python -m tools.localaws ecs "
            f"advance --endpoint {local.endpoint} --seconds 40"
        )
        for delivery in local.advance(40):  # scale-up and the test traffic shift: the PAUSE hook follows
            status = _show_ecs_delivery(delivery, deployments.get(scenario.target)) or status
        status = _deliver(local, stack, ecs, stamps.event(scenario.answer), event_file=scenario.answer, deployments={})
    if scenario.scan:
        status = _scan_completes(local, ecs, scenario.scan, deployments)
    if scenario.settle and scenario.target:
        _print(
            f"ecs     local ECS settles {scenario.target}/api ({scenario.settle}): "
            f"python -m tools.localaws ecs settle --endpoint {local.endpoint} --cluster {scenario.target} "
            f"--service api" + (" --outcome failed" if scenario.settle == "failed" else "")
        )
        for delivery in local.settle(scenario.target, "api", outcome=scenario.settle):
            status = _show_ecs_delivery(delivery, deployments.get(scenario.target)) or status
    if scenario.soak:
        status = _soak_ends(local, ecs, deployments)
    revisions_after = len(ecs.list_task_definitions()["taskDefinitionArns"])
    _print(f"revisions registered: {revisions_after - revisions_before}")
    received = inbox.receive()
    _show_inbox(received, email=number == 1)
    return status, revisions_after - revisions_before, len(received)


def _deliver(
    local: LocalAws, stack: LocalStack, ecs: Any, event: dict[str, Any], *, event_file: str, deployments: dict[str, str]
) -> str:
    if event.get("source") == "aws.ecr":
        detail = event.get("detail", {})
        _print(
            f"event   events/{event_file}: {event['detail-type']}, {detail.get('action-type')} "
            f"{detail.get('result')}, {detail.get('repository-name')}:{detail.get('image-tag') or '(untagged)'}"
        )
    elif event.get("source") == "aws.ecs":
        detail = event["detail"]
        _print(f"event   events/{event_file}: {detail['eventName']} of {detail['deploymentId']}: {detail['reason']}")
    else:
        _print(f"event   events/{event_file} (invoked directly, as from the Lambda console): {json.dumps(event)}")
    delivery = local.run_event(stack, event)
    if not delivery.matched_rules:
        _print("rules   none matched: no function was invoked")
        return "IGNORED"
    status = "IGNORED"
    for invocation in delivery.invocations:
        _everything_printed.append(invocation.output)  # the function's logs: checked for secrets, not shown
        _print(f"rules   {', '.join(delivery.matched_rules)} -> {invocation.function} ({invocation.attempts} attempt)")
        if invocation.error:
            _print(f"ERROR   {invocation.error}")
            status = "ERROR"
            continue
        result = invocation.result
        _everything_printed.append(json.dumps(result))
        if "deploys" in result:
            status = "HISTORY"
            for deploy in result["deploys"]:
                _print(
                    f"        {deploy['time']}  {deploy['tag']:<12} {deploy['trigger']:<8} {deploy['status']:<11} "
                    f"{revision(deploy.get('taskDefinitionArn'))}"
                )
            continue
        status = result.get("status", "?")
        for target in result.get("targets", []):
            _show_target(ecs, target)
            if target.get("deploymentId"):
                deployments[target["target"]] = target["deploymentId"]
        if not result.get("targets"):
            _print(f"result  {status}: {result.get('reason') or ''}")
    return str(status)


def _show_ecs_delivery(delivery: Delivery, ours: str | None) -> str | None:
    """One event of the local ECS as the tracker received it; the status the tracker answered."""
    detail = delivery.event["detail"]
    whose = "(ours)" if detail.get("deploymentId") == ours else ""
    if delivery.event["detail-type"] == "ECS Task State Change":
        codes = ", ".join(f"{c.get('name')} exit {c.get('exitCode')}" for c in detail.get("containers", []))
        _print(
            f"event   {delivery.event['time']} ECS Task State Change: {detail.get('lastStatus')} of "
            f"{str(detail.get('taskArn')).rsplit('/', 1)[-1]} ({detail.get('startedBy')})"
            + (f": {codes}" if detail.get("lastStatus") == "STOPPED" else "")
        )
    else:
        _print(
            f"event   {delivery.event['time']} {delivery.event['detail-type']}: {detail.get('eventName')} of "
            f"{detail.get('deploymentId')} {whose}: {detail.get('reason')}"
        )
    status = None
    for invocation in delivery.invocations:
        _everything_printed.append(invocation.output)
        if invocation.error:
            _print(f"ERROR   {invocation.function}: {invocation.error}")
            return "ERROR"
        result = invocation.result or {}
        _everything_printed.append(json.dumps(result))
        said = result.get("status") or (result.get("task") or {}).get("status")
        _print(f"rules   {', '.join(delivery.matched_rules)} -> {invocation.function}: {said}")
        if isinstance(result.get("task"), dict) and result["task"].get("reason"):
            _print(f"        {result['task']['reason']}")
        if said != "IGNORED":
            status = str(said)
    return status


def _show_tracked(local: LocalAws) -> None:
    """Every ECS event the tracker received, in order: the local ECS's side of the story."""
    _heading("ECS events the tracker received (from the local ECS)")
    for delivery in local.ecs_deliveries:
        if not any(i.function == "TrackFunction" for i in delivery.invocations):
            continue
        detail = delivery.event["detail"]
        [result] = [i.result or {"status": i.error} for i in delivery.invocations if i.function == "TrackFunction"]
        _print(
            f"  {delivery.event['time']}  {detail.get('eventName'):<31} {detail.get('deploymentId')}  "
            f"-> {result.get('status')}  ({detail.get('reason')})"
        )


def _show_target(ecs: Any, target: dict[str, Any]) -> None:
    where = f"cluster {target.get('cluster')} / service {target.get('service')}" if target.get("cluster") else ""
    _print(f"target  {target['target']:<8} {target['status']:<10} {where}")
    if target.get("reason"):
        _print(f"        reason: {target['reason']}")
    if target["status"] not in {"DEPLOYING", "PLANNED"}:
        return
    if target["status"] == "PLANNED":
        _print(f"        would register the next revision of {revision(target['previousTaskDefinitionArn'])}:")
        for change in describe_changes(target):
            _print("        " + change)
        _print("        (nothing registered, updated, recorded or published)")
        return
    _print(
        f"        {revision(target['previousTaskDefinitionArn'])} -> {revision(target['taskDefinitionArn'])}, "
        f"deployment {target.get('deploymentId')}"
    )
    for change in describe_changes(target):
        _print("        " + change)
    service = ecs.describe_services(cluster=target["cluster"], services=[target["service"]])["services"][0]
    _print(f"        service {service['serviceName']} now on {revision(service['taskDefinition'])}")


def _show_inbox(received: list[Received], *, email: bool = False) -> None:
    if not received:
        _print("inbox   no notification")
        return
    if email:
        _print("e-mail  as an e-mail subscriber of the topic reads it:")
        for line in render_email(received[0].message).splitlines():
            _print("        | " + line)
    for message in received:
        _print(f"inbox   Subject: {message.subject}")
        _print("        attributes: " + " ".join(f"{k}={v}" for k, v in sorted(message.attributes.items())))
        shown = {k: v for k, v in message.message.items() if k not in {"changes"}}
        shown["changes"] = f"[{len(message.message.get('changes', []))} change(s), as above]"
        for line in json.dumps(shown, indent=2).splitlines():
            _print("        " + line)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
