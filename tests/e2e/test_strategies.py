"""Deployment strategies and approvals end to end, on the local AWS with the stack deployed: each strategy's
deploymentConfiguration as the local ECS received it, validation errors announced before anything is
registered, and a canary that pauses at its PAUSE hook and is approved from the console, rejected from Slack
(a request signed with the app's signing secret, its updated message posted to the response_url), or left
until the hook times out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pushdeploy.domain.slack_actions import slack_signature
from pushdeploy.domain.strategy import ApprovalError
from tests.e2e.readback import service
from tests.helpers import Inbox, Received, load_event
from tests.slack_requests import SlackResponses, function_url_event, serving_slack_responses
from tests.slack_requests import slack_request as signed_slack_request
from tools.localaws import Delivery, LocalAws, LocalStack
from tools.sample_world import PROD_CONFIG, World, put_target_config, seed_world

pytestmark = pytest.mark.e2e

SIGNING_SECRET_PARAMETER = "/pushdeploy-slack/signing-secret"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVER = "U0123ABCD"
APPROVAL_STAGE = "POST_TEST_TRAFFIC_SHIFT"
# The functions refuse events stamped more than 5 minutes ahead of their clock (the wall clock, while the local
# ECS's runs ahead by what a test advances): bakes and timeouts are kept to minutes here.
CANARY_PROD: dict[str, Any] = {
    **PROD_CONFIG,
    "deployment": {
        "strategy": "CANARY",
        "circuitBreaker": {"enable": False},  # the sample prod service has it on: ROLLING only
        "canary": {"percent": 10, "bakeTimeMinutes": 1},
        "bakeTimeMinutes": 1,
    },
    "approval": {"stage": APPROVAL_STAGE, "timeoutMinutes": 2, "onTimeout": "ROLLBACK", "approvers": [APPROVER]},
}


@pytest.fixture
def stack(local: LocalAws) -> LocalStack:
    """template.yaml with the Slack approval endpoint (a signing-secret parameter named), in a cleared server."""
    local.reset()
    return local.deploy({"SlackSigningSecretParameter": SIGNING_SECRET_PARAMETER})


@pytest.fixture
def world(local: LocalAws, session: boto3.Session, stack: LocalStack) -> World:
    seeded = seed_world(session, topic_arn=stack.outputs["DeployTopicArn"])
    session.client("ssm").put_parameter(Name=SIGNING_SECRET_PARAMETER, Value=SIGNING_SECRET, Type="SecureString")
    local.settle_all()
    return seeded


@pytest.fixture
def inbox(session: boto3.Session, world: World) -> Inbox:
    return Inbox(session, world.topic_arn)


@pytest.fixture
def slack_responses(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackResponses]:
    """Slack's side of the response_url, on loopback (which the approval function accepts only in tests)."""
    monkeypatch.setenv("SLACK_ALLOW_LOOPBACK", "true")
    with serving_slack_responses() as responses:
        yield responses


# -- helpers ------------------------------------------------------------------------------------------------


def deploy_prod(local: LocalAws, stack: LocalStack, config: dict[str, Any]) -> dict[str, Any]:
    """Store prod's config, deploy v1.4.2 to it from the console; prod's report."""
    put_target_config(local.session(), "api", "prod", config)
    result = local.invoke(stack.functions["DeployFunction"], load_event("manual-deploy-targets.json"))
    [report] = [r for r in result["targets"] if r["target"] == "prod"]
    return dict(report)


def tracked(deliveries: list[Delivery]) -> list[str]:
    """The tracker's answer to each ECS event delivered (IGNORED, AWAITING_APPROVAL, COMPLETED...)."""
    answers = [i for d in deliveries for i in d.invocations if i.function == "TrackFunction"]
    assert [i.error for i in answers if i.error] == []
    return [str(i.result["status"]) for i in answers]


def statuses(received: list[Received]) -> list[str]:
    return [str(r.message["status"]) for r in received]


def pause_canary(local: LocalAws, stack: LocalStack, inbox: Inbox) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deploy the canary to prod and move the clock until ECS pauses it: prod's report, AWAITING_APPROVAL."""
    report = deploy_prod(local, stack, CANARY_PROD)
    assert report["status"] == "DEPLOYING", report
    assert statuses(inbox.receive()) == ["DEPLOYING"]
    deliveries = local.advance(60)  # scale-up (30 s) and the test traffic shift (5 s): then the pause
    assert "AWAITING_APPROVAL" in tracked(deliveries)
    [awaiting] = inbox.receive()
    return report, awaiting.message


def service_deployment(session: boto3.Session, cluster: str = "prod") -> dict[str, Any]:
    """The service's current service deployment, as DescribeServiceDeployments returns it."""
    arn = service(session, cluster)["currentServiceDeployment"]
    [described] = session.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    return dict(described)


def slack_request(message: dict[str, Any], action_id: str, user: str, response_url: str) -> tuple[str, dict[str, str]]:
    """The signed interactivity request of a click on the AWAITING_APPROVAL message (this stack's secret)."""
    return signed_slack_request(message, action_id, user, response_url, SIGNING_SECRET)


# -- the configuration each strategy sends -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        (
            {"strategy": "ROLLING", "minimumHealthyPercent": 50, "maximumPercent": 150},
            {
                "strategy": "ROLLING",
                "minimumHealthyPercent": 50,
                "maximumPercent": 150,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
        ),
        (
            {"strategy": "BLUE_GREEN", "bakeTimeMinutes": 15, "circuitBreaker": {"enable": False}},
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 15,
                "deploymentCircuitBreaker": {"enable": False, "rollback": True},
            },
        ),
        (
            {"strategy": "LINEAR", "linear": {"stepPercent": 25}, "circuitBreaker": {"enable": False}},
            {
                "strategy": "LINEAR",
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 6},
                "bakeTimeInMinutes": 0,
                "deploymentCircuitBreaker": {"enable": False, "rollback": True},
            },
        ),
        (
            CANARY_PROD["deployment"],
            {
                "strategy": "CANARY",
                "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
                "bakeTimeInMinutes": 1,
                "deploymentCircuitBreaker": {"enable": False, "rollback": True},
            },
        ),
    ],
    ids=["rolling", "blue-green", "linear", "canary"],
)
def test_each_strategy_reaches_ecs_as_its_deployment_configuration(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    world: World,
    inbox: Inbox,
    deployment: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    # Given prod's config with a deployment block
    config = {**PROD_CONFIG, "deployment": deployment}

    # When v1.4.2 is deployed to prod
    report = deploy_prod(local, stack, config)

    # Then the service's deploymentConfiguration, as DescribeServices returns it, is the block's, merged over
    # the service's own (the circuit breaker's rollback kept) with ECS's defaults for the rest
    assert report["status"] == "DEPLOYING", report
    described = service(session, "prod")
    kept = {key: described["deploymentConfiguration"][key] for key in expected}
    assert kept == expected
    assert described["deploymentController"] == {"type": "ECS"}
    # And the deployment ECS started is the deploy's, on the new revision
    assert described["deployments"][0]["id"] == report["deploymentId"]
    assert described["taskDefinition"] == report["taskDefinitionArn"]
    # And the DEPLOYING notification names the strategy
    [deploying] = inbox.receive()
    assert deploying.message["strategy"] == expected["strategy"]


def test_an_approval_sends_its_pause_hook_and_a_canary_completes_after_its_bakes(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given prod's canary config with an approval, When v1.4.2 is deployed
    report = deploy_prod(local, stack, CANARY_PROD)

    # Then ECS received the PAUSE hook at the approval's stage, with its timeout and action
    assert report["status"] == "DEPLOYING", report
    configuration = service(session, "prod")["deploymentConfiguration"]
    assert configuration["lifecycleHooks"] == [
        {
            "targetType": "PAUSE",
            "lifecycleStages": [APPROVAL_STAGE],
            "timeoutConfiguration": {"timeoutInMinutes": 2, "action": "ROLLBACK"},
        }
    ]
    # And the DEPLOYING notification says what the deployment will do, and how long it takes at least
    [deploying] = inbox.receive()
    assert deploying.message["strategy"] == "CANARY"
    assert deploying.message["earliestCompletionMinutes"] == 2  # the canary's bake and the final one
    assert deploying.message["approval"]["stage"] == APPROVAL_STAGE


# -- validation errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "named"),
    [
        ({"deployment": {"strategy": "SIDEWAYS"}}, "field 'deployment.strategy' must be one of"),
        ({"deployment": {"strategy": "BLUE_GREEN"}}, "field 'deployment.bakeTimeMinutes' is required"),
        (
            {"deployment": {"strategy": "LINEAR", "linear": {"stepPercent": 2}}},
            "field 'deployment.linear.stepPercent' must be from 3.0 to 100.0",
        ),
        (
            {"deployment": {"strategy": "CANARY", "canary": {"percent": 0.05}}},
            "field 'deployment.canary.percent' must be from 0.1 to 100.0",
        ),
        (
            {"deployment": {"strategy": "CANARY", "linear": {"stepPercent": 10}}},
            "field 'deployment.linear' applies to the LINEAR strategy only",
        ),
        (
            {"deployment": {"strategy": "CANARY"}},
            "the service has the deployment circuit breaker on, which applies to the ROLLING strategy only",
        ),
        (
            {"deployment": {"strategy": "ROLLING"}, "approval": {"stage": "POST_SCALE_UP"}},
            "field 'approval': the service deploys with the ROLLING strategy",
        ),
        (
            {"deployment": CANARY_PROD["deployment"], "approval": {"stage": "PRODUCTION_TRAFFIC_SHIFT"}},
            "field 'approval.stage': ECS runs no PAUSE hook at PRODUCTION_TRAFFIC_SHIFT",
        ),
        (
            {"deployment": CANARY_PROD["deployment"], "approval": {"stage": APPROVAL_STAGE, "timeoutMinutes": 0}},
            "field 'approval.timeoutMinutes' must be from 1 to 20160",
        ),
        (
            {"deployment": CANARY_PROD["deployment"], "approval": {"stage": APPROVAL_STAGE, "approvers": ["bob"]}},
            "field 'approval.approvers[0]' must be a Slack user id",
        ),
        (
            {"deployment": {**CANARY_PROD["deployment"], "alarms": {"names": ["api-prod-5xx"], "rollback": True}}},
            "field 'deployment.alarms.names': no CloudWatch alarm named \"api-prod-5xx\"",
        ),
    ],
    ids=[
        "unknown-strategy",
        "blue-green-without-bake",
        "linear-step-too-small",
        "canary-percent-too-small",
        "linear-block-on-canary",
        "inherited-circuit-breaker",
        "approval-on-rolling",
        "pause-at-a-shift",
        "hook-timeout-zero",
        "approver-not-a-user-id",
        "missing-alarm",
    ],
)
def test_a_bad_deployment_or_approval_block_fails_the_target_before_anything_is_registered(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    world: World,
    inbox: Inbox,
    blocks: dict[str, Any],
    named: str,
) -> None:
    # Given prod's config with a block ECS would refuse (or that names an alarm that does not exist)
    ecs = session.client("ecs")
    revisions = ecs.list_task_definitions(familyPrefix="api-prod")["taskDefinitionArns"]
    before = service(session, "prod")

    # When v1.4.2 is deployed to prod
    report = deploy_prod(local, stack, {**PROD_CONFIG, **blocks})

    # Then the target FAILED, naming the field, and the team was told so
    assert report["status"] == "FAILED", report
    assert named in report["reason"]
    [failed] = inbox.receive()
    assert failed.message["status"] == "FAILED"
    assert named in failed.message["reason"]
    # And nothing was registered, and the service was not touched
    assert ecs.list_task_definitions(familyPrefix="api-prod")["taskDefinitionArns"] == revisions
    after = service(session, "prod")
    assert after["taskDefinition"] == before["taskDefinition"]
    assert after["deploymentConfiguration"] == before["deploymentConfiguration"]
    assert [d["id"] for d in after["deployments"]] == [d["id"] for d in before["deployments"]]


# -- approvals -----------------------------------------------------------------------------------------------


def test_a_canary_paused_for_approval_is_approved_from_the_console_and_completes(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given the canary to prod rolling out
    report, awaiting = pause_canary(local, stack, inbox)

    # Then ECS holds it at the approval's stage, and AWAITING_APPROVAL named the stage, the deadline and the hook
    paused = service_deployment(session)
    assert (paused["status"], paused["lifecycleStage"]) == ("IN_PROGRESS", APPROVAL_STAGE)
    [hook] = paused["lifecycleHookDetails"]
    assert hook["status"] == "AWAITING_ACTION"
    assert awaiting["status"] == "AWAITING_APPROVAL"
    assert awaiting["deploymentId"] == report["deploymentId"]
    approval = awaiting["approval"]
    assert (approval["stage"], approval["hookId"], approval["onTimeout"]) == (
        APPROVAL_STAGE,
        hook["hookId"],
        "ROLLBACK",
    )
    assert approval["deadline"].endswith("Z")
    assert approval["approve"] == {**load_event("manual-approve.json"), "requestedBy": "<your name>"}
    # And waiting (short of the deadline) moves nothing
    local.advance(60)
    assert service_deployment(session)["lifecycleStage"] == APPROVAL_STAGE

    # When alice approves it from the Lambda console (events/manual-approve.json, through the deploy function)
    answer = local.invoke(stack.functions["DeployFunction"], load_event("manual-approve.json"))

    # Then ECS was told to continue, and the answer says who approved it
    assert answer["status"] == "APPROVED", answer
    assert (answer["deploymentId"], answer["decidedBy"], answer["stage"]) == (
        report["deploymentId"],
        "alice",
        APPROVAL_STAGE,
    )
    assert service_deployment(session)["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    # And when ECS shifts the traffic and bakes, the deployment completes: COMPLETED says alice approved it
    deliveries = local.settle("prod", "api")
    assert tracked(deliveries)[-1] == "COMPLETED"
    [completed] = inbox.receive()
    assert completed.message["status"] == "COMPLETED"
    assert completed.message["reason"].startswith(f"approved by alice at {answer['decidedAt']} (at {APPROVAL_STAGE})")
    assert completed.message["approval"]["decision"] == "approved"
    assert service(session, "prod")["taskDefinition"] == report["taskDefinitionArn"]
    assert service_deployment(session)["status"] == "SUCCESSFUL"
    # And a second approval finds nothing awaiting
    with pytest.raises(ApprovalError, match=r"nothing awaits approval on api/prod: its latest deploy .* is COMPLETED"):
        local.invoke(stack.functions["DeployFunction"], load_event("manual-approve.json"))


def test_a_canary_rejected_from_slack_is_rolled_back(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    world: World,
    inbox: Inbox,
    slack_responses: SlackResponses,
) -> None:
    # Given the canary to prod paused for approval, and the stack's Slack approval endpoint
    report, awaiting = pause_canary(local, stack, inbox)
    assert stack.resources["SlackApprovalFunction"][0] == "AWS::Lambda::Function"
    function = stack.functions["SlackApprovalFunction"]

    # When an approver clicks Reject on the AWAITING_APPROVAL message (a request signed by Slack)
    body, headers = slack_request(awaiting, "pushdeploy-reject", APPROVER, slack_responses.url)
    answer = local.invoke(function, function_url_event(body, headers))

    # Then the function answers 200, and ECS was told to roll the deployment back
    assert answer["statusCode"] == 200, answer
    rolling_back = service_deployment(session)
    assert rolling_back["status"] == "ROLLBACK_IN_PROGRESS"
    assert rolling_back["lifecycleHookDetails"][0]["status"] == "FAILED"
    # And the message, its buttons gone, saying who rejected it, was posted to the request's response_url
    [posted] = slack_responses.posted
    assert posted["replace_original"] is True
    assert f"rejected by slack:bob ({APPROVER})" in posted["text"]
    assert "pushdeploy-approve" not in json.dumps(posted["blocks"])
    # And once ECS has rolled back, ROLLED_BACK says who rejected it
    deliveries = local.settle("prod", "api")
    assert tracked(deliveries)[-1] == "ROLLED_BACK"
    [rolled_back] = inbox.receive()
    assert rolled_back.message["status"] == "ROLLED_BACK"
    assert f"rejected by slack:bob ({APPROVER}) at" in rolled_back.message["reason"]
    assert rolled_back.message["approval"]["decision"] == "rejected"
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
    assert report["deploymentId"] == rolled_back.message["deploymentId"]


def test_a_replayed_slack_request_is_refused_and_changes_nothing(
    local: LocalAws,
    session: boto3.Session,
    stack: LocalStack,
    world: World,
    inbox: Inbox,
    slack_responses: SlackResponses,
) -> None:
    # Given the canary to prod paused, and a request whose signature is right but is not an approver's
    _, awaiting = pause_canary(local, stack, inbox)
    function = stack.functions["SlackApprovalFunction"]
    body, headers = slack_request(awaiting, "pushdeploy-approve", "U9999ZZZZ", slack_responses.url)
    assert local.invoke(function, function_url_event(body, headers))["statusCode"] == 403
    # And an approver's Approve, answered
    body, headers = slack_request(awaiting, "pushdeploy-approve", APPROVER, slack_responses.url)
    assert local.invoke(function, function_url_event(body, headers))["statusCode"] == 200
    posted = len(slack_responses.posted)
    # ... after which a later pause would be answered by that request again, if it were accepted
    state = service_deployment(session)

    # When the same signed request arrives again (within Slack's five minutes)
    replayed = local.invoke(function, function_url_event(body, headers))

    # Then it is refused as a replay (401), nothing is posted, and ECS's deployment is as it was
    assert replayed["statusCode"] == 401
    assert json.loads(replayed["body"]) == {"error": "this request was received before (a replay)"}
    assert len(slack_responses.posted) == posted
    assert service_deployment(session) == state
    # And a request signed with another secret is refused too, before anything is read
    forged = {
        **headers,
        "x-slack-signature": slack_signature(b"not-the-secret", headers["x-slack-request-timestamp"], body),
    }
    assert local.invoke(function, function_url_event(body, forged))["statusCode"] == 401
    # And no notification came from any of them
    assert inbox.receive() == []


def test_a_pause_nobody_answers_times_out_and_is_rolled_back(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given the canary to prod paused for approval (2 minutes, then ROLLBACK)
    report, awaiting = pause_canary(local, stack, inbox)

    # When the local ECS's clock moves past the hook's timeout (and ECS's rollback)
    deliveries = local.advance(150)

    # Then ECS timed the hook out and rolled the deployment back
    assert tracked(deliveries) == ["ROLLING_BACK", "ROLLED_BACK"]
    state = service_deployment(session)
    assert state["status"] == "ROLLBACK_SUCCESSFUL"
    assert state["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    # And ROLLED_BACK says the approval timed out at its deadline, and that ECS rolled it back
    [rolled_back] = inbox.receive()
    assert rolled_back.message["status"] == "ROLLED_BACK"
    deadline = awaiting["approval"]["deadline"]
    assert (
        f"the approval at {APPROVAL_STAGE} timed out at {deadline}: ECS rolled it back"
        in (rolled_back.message["reason"])
    )
    assert rolled_back.message["approval"]["stage"] == APPROVAL_STAGE
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
    # And approving it now finds nothing awaiting
    with pytest.raises(
        ApprovalError, match=r"nothing awaits approval on api/prod: its latest deploy .* is ROLLED_BACK"
    ):
        local.invoke(stack.functions["DeployFunction"], load_event("manual-approve.json"))
    assert report["deploymentId"] == rolled_back.message["deploymentId"]


# -- a rollback at any stage ---------------------------------------------------------------------------------


def test_a_canary_rolled_back_by_its_alarms_during_its_bake_is_reported_with_the_stage_it_reached(
    local: LocalAws, session: boto3.Session, stack: LocalStack, world: World, inbox: Inbox
) -> None:
    # Given prod's canary watching a rollback alarm, no approval, deployed and past its first traffic shift
    session.client("cloudwatch").put_metric_alarm(
        AlarmName="api-prod-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    config = {key: value for key, value in CANARY_PROD.items() if key != "approval"}
    config["deployment"] = {**CANARY_PROD["deployment"], "alarms": {"names": ["api-prod-5xx"], "rollback": True}}
    report = deploy_prod(local, stack, config)
    assert report["status"] == "DEPLOYING", report
    inbox.receive()
    local.advance(45)  # scale-up (30 s), test traffic, the canary's production shift: its bake
    reached = service_deployment(session)["lifecycleStage"]
    assert reached not in {"SCALE_UP", "CLEAN_UP"}, reached

    # When its alarm goes into ALARM there
    deliveries = local.trip_alarms("prod", "api") + local.settle("prod", "api")

    # Then the tracker announced FAILED, then ROLLED_BACK, both naming the stage the deployment had reached
    assert [s for s in tracked(deliveries) if s != "IGNORED"] == ["FAILED", "ROLLING_BACK", "ROLLED_BACK"]
    failed, rolled_back = inbox.receive()
    assert failed.message["status"] == "FAILED" and f"(at {reached})" in failed.message["reason"]
    assert rolled_back.message["status"] == "ROLLED_BACK"
    assert (
        f"after it failed (ECS deployment alarms: api-prod-5xx in ALARM state. (at {reached}))"
        in (rolled_back.message["reason"])
    )
    assert service(session, "prod")["taskDefinition"] == world.task_definitions["prod"]
