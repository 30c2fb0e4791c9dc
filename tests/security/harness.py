"""What the security tests share: a local AWS that records every AWS call each function of the stack makes
(and the calls Lambda makes with a function's role for its on-failure destination), the main scenarios
run through it once per session, and the IAM view of the template's roles and of the recorded calls."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.helpers import Inbox, Received, load_event
from tests.slack_requests import function_url_event, serving_slack_responses, slack_request
from tools.iam_policy import (
    AccountRegion,
    Decision,
    Request,
    StackValues,
    Statement,
    created,
    evaluate,
    function_role,
    parameter_values,
    requests_for_call,
    role_statements,
)
from tools.localaws import PSEUDO_PARAMETERS, Delivery, Invocation, LocalAws, LocalStack, StackFunction
from tools.sample_world import (
    CONFIG_PREFIX,
    PROD_CONFIG,
    SECRET_VALUE,
    STAGING_CONFIG,
    World,
    put_target_config,
    seed_world,
)
from tools.template import code_directories, load_template, sam_transform

WHERE = AccountRegion(
    partition=PSEUDO_PARAMETERS["AWS::Partition"],
    region=PSEUDO_PARAMETERS["AWS::Region"],
    account=PSEUDO_PARAMETERS["AWS::AccountId"],
)
FUNCTION = "DeployFunction"
# What tests/conftest.py gives each test; module-scoped fixtures need it before that fixture runs.
TEST_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "pushdeploy",
    "POWERTOOLS_METRICS_NAMESPACE": "pushdeploy",
    "POWERTOOLS_DEV": "false",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
# Clients whose signing name is not their IAM service prefix (CloudWatch signs as "monitoring").
IAM_PREFIXES = {"monitoring": "cloudwatch"}
# Loggers whose DEBUG records carry request and response bodies, and powertools' own (idempotency records).
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "aws_lambda_powertools")


# -- recording ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call, as the client was asked to make it."""

    function: str  # logical id of the function whose role the call is made with
    by_lambda: bool  # made by Lambda itself for the function (its on-failure destination), not by its code
    service: str  # the IAM service prefix (ecs, ssm, ecr, dynamodb...: the client's signing name, but for a few)
    operation: str
    params: Mapping[str, Any]
    response: Mapping[str, Any] | None
    error: str | None
    client_service: str  # botocore's name of the service (the IAM prefix above differs for a few)

    def requests(self, topic_keys: Mapping[str, str]) -> list[Request]:
        """The IAM requests this call is authorized as."""
        return requests_for_call(
            self.service, self.operation, self.params, self.response, where=WHERE, topic_keys=topic_keys
        )


Answer = Callable[[Mapping[str, Any]], dict[str, Any]]
Rewrite = Callable[[Mapping[str, Any], dict[str, Any]], dict[str, Any]]


class CallRecorder:
    """Records every call made through botocore in the recording thread while ``recording`` is active.

    botocore's retries happen below ``BaseClient._make_api_call``, so each record is one call the code made.
    Each record is made before the call is sent, then, where the test asks for it: ``failures`` fails an
    operation with a ClientError of that code; ``answers`` answers an operation moto does not implement
    (ListServiceDeployments...) without sending it; ``rewrites`` changes a response (a rollout in progress,
    which moto never shows).
    """

    def __init__(self) -> None:
        self.calls: list[AwsCall] = []
        self.failures: dict[str, str] = {}
        self.answers: dict[str, Answer] = {}
        self.rewrites: dict[str, Rewrite] = {}
        self._callers: list[tuple[str, bool]] = []
        self._thread: int | None = None

    @contextlib.contextmanager
    def recording(self, function: str, *, by_lambda: bool = False) -> Iterator[None]:
        """Record the calls made inside the block as ``function``'s (the innermost block says whose)."""
        self._callers.append((function, by_lambda))
        if len(self._callers) > 1:
            try:
                yield
            finally:
                self._callers.pop()
            return
        original: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]  # private API

        def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if threading.get_ident() != self._thread or not self._callers:
                return original(client, operation, params)  # moto's server threads
            function, by_lambda = self._callers[-1]
            signing_name = client.meta.service_model.signing_name
            service = IAM_PREFIXES.get(signing_name, signing_name)
            client_service = client.meta.service_model.service_name
            snapshot = copy.deepcopy(params)

            def keep(response: Mapping[str, Any] | None, error: str | None) -> None:
                self.calls.append(
                    AwsCall(function, by_lambda, service, operation, snapshot, response, error, client_service)
                )

            if operation in self.failures:
                keep(None, self.failures[operation])
                error = {"Error": {"Code": self.failures[operation], "Message": "forced by the test"}}
                raise ClientError(error, operation)  # type: ignore[arg-type]
            try:
                if operation in self.answers:
                    response = self.answers[operation](params)
                else:
                    response = original(client, operation, params)
            except ClientError as exc:
                keep(None, str(exc.response.get("Error", {}).get("Code", "ClientError")))
                raise
            if operation in self.rewrites:
                response = self.rewrites[operation](params, response)
            keep(copy.deepcopy(response), None)
            return response

        self._thread = threading.get_ident()
        setattr(BaseClient, "_make_api_call", record)  # noqa: B010 - a private attribute the stubs omit
        try:
            yield
        finally:
            setattr(BaseClient, "_make_api_call", original)  # noqa: B010
            self._callers.pop()
            self._thread = None


@contextlib.contextmanager
def sdk_debug_logging(into: io.StringIO | None) -> Iterator[None]:
    """DEBUG records of the SDK loggers (they hold request and response bodies) of this thread into ``into``."""
    if into is None:
        yield
        return
    thread = threading.get_ident()
    handler = logging.StreamHandler(into)
    handler.setLevel(logging.DEBUG)
    handler.addFilter(lambda record: record.thread == thread)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in SDK_LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # kept here only: pytest's log capture would format every record again
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


class RecordingLocalAws(LocalAws):
    """The local AWS of tools.localaws, recording what each function calls while its handler runs.

    Calls Lambda itself makes with a function's role (its on-failure destination) are recorded with
    ``by_lambda``; with ``debug_log`` the SDK's DEBUG logs of each run are kept there too.
    """

    def __init__(self, debug_log: io.StringIO | None = None) -> None:
        super().__init__()
        self.recorder = CallRecorder()
        self.debug_log = debug_log

    def __enter__(self) -> RecordingLocalAws:
        super().__enter__()
        return self

    def invoke_async(self, function: StackFunction, event: dict[str, Any]) -> Invocation:
        with self.recorder.recording(function.logical_id, by_lambda=True):
            return super().invoke_async(function, event)

    def invoke(self, function: StackFunction, event: dict[str, Any], record: Invocation | None = None) -> Any:
        with self.recorder.recording(function.logical_id), sdk_debug_logging(self.debug_log):
            return super().invoke(function, event, record)

    def deploy_quietly(self, parameters: Mapping[str, str] | None = None) -> LocalStack:
        """A cleared server with template.yaml deployed (moto's warnings of what it cannot create muted)."""
        self.reset()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
            return self.deploy(parameters)


# -- the scenarios ------------------------------------------------------------------------------------------


@dataclass
class ScenarioRun:
    """One scenario: its deliveries and the calls recorded while it ran."""

    name: str
    deliveries: list[Delivery]
    calls: list[AwsCall]

    @property
    def invocations(self) -> list[Invocation]:
        return [invocation for delivery in self.deliveries for invocation in delivery.invocations]

    @property
    def result(self) -> dict[str, Any]:
        """The result of the scenario's only invocation."""
        [invocation] = self.invocations
        assert isinstance(invocation.result, dict), invocation.error
        return invocation.result

    @property
    def deploy_results(self) -> list[dict[str, Any]]:
        """What the deploy function answered to a task's end or timer (results that name a task)."""
        return [
            invocation.result
            for invocation in self.invocations
            if invocation.function == FUNCTION and isinstance(invocation.result, dict) and "task" in invocation.result
        ]

    def report(self, target: str) -> dict[str, Any]:
        """One target's report in the scenario's result."""
        [found] = [report for report in self.result["targets"] if report["target"] == target]
        return dict(found)


@dataclass
class Recorded:
    """A stack, the scenarios run against it, and what the team's inbox received."""

    stack: LocalStack
    world: World
    parameters: dict[str, str]
    runs: dict[str, ScenarioRun]
    received: list[Received] = field(default_factory=list)
    role_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # function to its policies in moto
    topic_attributes: dict[str, str] = field(default_factory=dict)

    @property
    def calls(self) -> list[AwsCall]:
        return [call for run in self.runs.values() for call in run.calls]

    @property
    def topic_keys(self) -> dict[str, str]:
        """The deploy topic's ARN to the ARN of the KMS key that encrypts it."""
        key = self.topic_attributes.get("KmsMasterKeyId", "")
        if key and not key.startswith("arn:"):
            key = WHERE.arn("kms", f"key/{key}")
        return {self.stack.outputs["DeployTopicArn"]: key} if key else {}


@dataclass
class ScenarioContext:
    """What a scenario acts on, and what the scenarios before it did."""

    local: RecordingLocalAws
    stack: LocalStack
    session: boto3.Session
    world: World
    runs: dict[str, ScenarioRun]


Scenario = Callable[[ScenarioContext], list[Delivery]]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_last_push = [0.0]


def _push_time() -> str:
    """Now, to the second as ECR stamps events, and at least a second after the last push: the scenarios run
    faster than that, and a push no newer than the target's last deploy is skipped as stale."""
    _last_push[0] = max(datetime.now(UTC).timestamp(), _last_push[0] + 1)
    return datetime.fromtimestamp(_last_push[0], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def push_event(tag: str, digest_seed: str, event_id: str) -> dict[str, Any]:
    """events/ecr-push.json for another tag and digest, with its own event id, pushed now (a push older
    than the target's last deploy would be skipped as stale)."""
    event = load_event("ecr-push.json")
    event["id"] = event_id
    event["time"] = _push_time()
    event["detail"]["image-tag"] = tag
    event["detail"]["image-digest"] = "sha256:" + digest_seed * 64
    return event


def deployment_event(sample: str, event_id: str, deployment_id: str, service_arn: str) -> dict[str, Any]:
    """An events/ecs-deployment-*.json sample about another deployment and service, happening now."""
    event = load_event(sample)
    event |= {"id": event_id, "time": now_iso(), "resources": [service_arn]}
    event["detail"] |= {"deploymentId": deployment_id, "updatedAt": now_iso()}
    return event


def event_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def _push(context: ScenarioContext) -> list[Delivery]:
    return [context.local.deliver(context.stack, load_event("ecr-push.json"))]


def _second_tag(context: ScenarioContext) -> list[Delivery]:
    return [context.local.deliver(context.stack, load_event("ecr-push-second-tag.json"))]


def _dry_run(context: ScenarioContext) -> list[Delivery]:
    return [context.local.run_event(context.stack, load_event("ecr-push-dry-run.json"))]


def _manual_deploy(context: ScenarioContext) -> list[Delivery]:
    return [context.local.run_event(context.stack, load_event("manual-deploy-targets.json"))]


def _deployment_completed(context: ScenarioContext) -> list[Delivery]:
    prod = context.runs["manual deploy"].report("prod")
    service_arn = WHERE.arn("ecs", "service/prod/api")
    event = deployment_event("ecs-deployment-completed.json", event_id(201), prod["deploymentId"], service_arn)
    return [context.local.deliver(context.stack, event)]


def _rollback_started_by_ecs(context: ScenarioContext) -> list[Delivery]:
    service_arn = WHERE.arn("ecs", "service/prod/api")
    event = deployment_event("ecs-deployment-rollback-in-progress.json", event_id(202), "ecs-svc/999", service_arn)
    return [context.local.deliver(context.stack, event)]


def _tracker_fails(context: ScenarioContext) -> list[Delivery]:
    service_arn = WHERE.arn("ecs", "service/prod/api")
    event = deployment_event("ecs-deployment-completed.json", event_id(203), "ecs-svc/998", service_arn)
    context.local.recorder.failures["GetItem"] = "ProvisionedThroughputExceededException"
    try:
        return [context.local.deliver(context.stack, event)]
    finally:
        context.local.recorder.failures.clear()


def _history(context: ScenarioContext) -> list[Delivery]:
    return [context.local.run_event(context.stack, load_event("manual-history.json"))]


def _rollback_stops_a_rollout(context: ScenarioContext) -> list[Delivery]:
    # moto implements neither ListServiceDeployments nor StopServiceDeployment, and never shows a rollout in
    # progress: the recorder answers for it (the calls are recorded as made).
    deployment_arn = WHERE.arn("ecs", "service-deployment/prod/api/r0llback1d")

    def rolling_out(params: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        for service in response.get("services", []):
            for deployment in service.get("deployments", []):
                if deployment.get("status") == "PRIMARY":
                    deployment["rolloutState"] = "IN_PROGRESS"
        return response

    recorder = context.local.recorder
    recorder.rewrites["DescribeServices"] = rolling_out
    recorder.answers["ListServiceDeployments"] = lambda params: {
        "serviceDeployments": [{"serviceDeploymentArn": deployment_arn, "status": "IN_PROGRESS"}]
    }
    recorder.answers["StopServiceDeployment"] = lambda params: {"serviceDeploymentArn": deployment_arn}
    try:
        return [context.local.run_event(context.stack, load_event("manual-rollback.json"))]
    finally:
        recorder.rewrites.clear()
        recorder.answers.clear()


def _create_service(context: ScenarioContext) -> list[Delivery]:
    network = {
        "awsvpcConfiguration": {
            "subnets": [context.world.subnet_id],
            "securityGroups": [context.world.security_group_id],
        }
    }
    config = {
        "cluster": "staging",
        "service": "api-canary",
        "tags": ["staging-*"],
        "create": {"taskDefinition": "api-staging", "launchType": "FARGATE", "networkConfiguration": network},
    }
    name = put_target_config(context.session, "api", "canary", config)
    try:
        return [context.local.deliver(context.stack, push_event("staging-45", "d", event_id(45)))]
    finally:
        context.session.client("ssm").delete_parameter(Name=name)


def _broken_config(context: ScenarioContext) -> list[Delivery]:
    name = put_target_config(context.session, "api", "broken", '{"cluster": "staging", "service": "api",')
    try:
        return [context.local.deliver(context.stack, push_event("staging-43", "a", event_id(43)))]
    finally:
        context.session.client("ssm").delete_parameter(Name=name)


def _missing_secret(context: ScenarioContext) -> list[Delivery]:
    ssm = context.session.client("ssm")
    ssm.delete_parameter(Name="/api/prod/DATABASE_URL")
    try:
        return [context.local.deliver(context.stack, push_event("v1.4.3", "b", event_id(143)))]
    finally:
        ssm.put_parameter(Name="/api/prod/DATABASE_URL", Value=SECRET_VALUE, Type="SecureString")


def _update_fails(context: ScenarioContext) -> list[Delivery]:
    context.local.recorder.failures["UpdateService"] = "ThrottlingException"
    try:
        return [context.local.deliver(context.stack, push_event("staging-44", "c", event_id(44)))]
    finally:
        context.local.recorder.failures.clear()


CANARY_ALARM = "api-prod-5xx"


def _canary_with_alarms(context: ScenarioContext) -> list[Delivery]:
    """prod as a canary watched by a CloudWatch alarm (DescribeAlarms checks it exists), paused for approval."""
    context.session.client("cloudwatch").put_metric_alarm(
        AlarmName=CANARY_ALARM,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    config = {
        **PROD_CONFIG,
        "deployment": {
            "strategy": "CANARY",
            "circuitBreaker": {"enable": False},
            "alarms": {"names": [CANARY_ALARM], "rollback": True},
            "canary": {"percent": 10, "bakeTimeMinutes": 1},
        },
        "approval": {"stage": "POST_TEST_TRAFFIC_SHIFT", "timeoutMinutes": 5},
    }
    put_target_config(context.session, "api", "prod", config)
    return [context.local.deliver(context.stack, push_event("v1.4.5", "e", event_id(145)))]


def _canary_paused(context: ScenarioContext) -> list[Delivery]:
    """The local ECS reaches the canary's PAUSE hook: the tracker announces AWAITING_APPROVAL."""
    return context.local.advance(60)


def _console_approve(context: ScenarioContext) -> list[Delivery]:
    """alice approves the paused canary from the console (DescribeServiceDeployments, ContinueServiceDeployment)."""
    return [context.local.run_event(context.stack, load_event("manual-approve.json"))]


SLACK_APPROVER = "U0123ABCD"
SLACK_SECRET_PARAMETER = "/pushdeploy-slack/signing-secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _slack_reject(context: ScenarioContext) -> list[Delivery]:
    """prod's next canary pauses; an approver rejects it from Slack, through the stack's approval endpoint (its
    signing secret read and decrypted, the approvers read, the pause answered ROLLBACK, the request noted)."""
    context.session.client("ssm").put_parameter(Name=SLACK_SECRET_PARAMETER, Value=SLACK_SECRET, Type="SecureString")
    inbox = Inbox(context.session, context.stack.outputs["DeployTopicArn"], name="slack-reject-inbox")
    config = json.loads(
        context.session.client("ssm").get_parameter(Name=f"{CONFIG_PREFIX}/api/prod")["Parameter"]["Value"]
    )
    config["approval"] = {**config["approval"], "approvers": [SLACK_APPROVER]}
    put_target_config(context.session, "api", "prod", config)
    deliveries = [context.local.deliver(context.stack, push_event("v1.4.6", "f", event_id(146)))]
    deliveries += context.local.advance(60)
    awaiting = next(
        r.message
        for r in inbox.receive()
        if r.message["status"] == "AWAITING_APPROVAL" and r.message["tag"] == "v1.4.6"
    )
    function = context.stack.functions["SlackApprovalFunction"]
    with serving_slack_responses() as responses:
        body, headers = slack_request(awaiting, "pushdeploy-reject", SLACK_APPROVER, responses.url, SLACK_SECRET)
        answer = context.local.invoke_async(function, function_url_event(body, headers))
    return [Delivery({"slack": "reject"}, invocations=[answer]), *deliveries]


MIGRATION_CONFIG = {
    **STAGING_CONFIG,
    "beforeDeploy": [{"container": "api", "command": ["python", "manage.py", "migrate"], "timeoutMinutes": 15}],
}


def _migration(context: ScenarioContext) -> list[Delivery]:
    """staging with a beforeDeploy migration: RunTask of the new revision (tagged), its timeout timer set."""
    put_target_config(context.session, "api", "staging", MIGRATION_CONFIG)
    return [context.local.deliver(context.stack, push_event("staging-46", "f", event_id(46)))]


def _migration_succeeds(context: ScenarioContext) -> list[Delivery]:
    """Its STOPPED event (exit code 0) through the task rule: the timer cancelled, the service updated."""
    task_arn = context.runs["migration"].report("staging")["task"]["taskArn"]
    return context.local.stop_task("staging", task_arn, exit_code=0)


def _migration_times_out(context: ScenarioContext) -> list[Delivery]:
    """Another push's migration never ends: its timer fires, the task is stopped (StopTask), FAILED."""
    delivered = context.local.deliver(context.stack, push_event("staging-47", "9", event_id(47)))
    put_target_config(context.session, "api", "staging", STAGING_CONFIG)
    fired = context.local.fire_timers()
    return [delivered, Delivery({"timer": True}, ["(timer)"], fired)]


def _run_task(context: ScenarioContext) -> list[Delivery]:
    """A manual run-task on staging's current revision (events/manual-run-task.json)."""
    return [context.local.run_event(context.stack, load_event("manual-run-task.json"))]


GATED_DIGEST = "sha256:" + "7" * 64
SIGNING_PROFILE = WHERE.arn("signer", "/signing-profiles/releases")


def _gated_push_waits(context: ScenarioContext) -> list[Delivery]:
    """staging gated on its scan and signature; the scan in progress: the push WAITS (a timer for its end)."""
    config = {
        **STAGING_CONFIG,
        "gates": {"scan": {"maxSeverity": "HIGH"}, "signature": {"signingProfileArn": SIGNING_PROFILE}},
    }
    put_target_config(context.session, "api", "staging", config)
    context.local.set_scan("api", GATED_DIGEST, "IN_PROGRESS")
    context.local.set_signing("api", GATED_DIGEST, SIGNING_PROFILE, "COMPLETE")
    return [context.local.deliver(context.stack, push_event("staging-77", "7", event_id(177)))]


def _scan_completes(context: ScenarioContext) -> list[Delivery]:
    """ECR's scan event: the waiting push resumes and deploys (its wait's timer cancelled)."""
    return [context.local.complete_scan("api", GATED_DIGEST, {"MEDIUM": 2})]


def _promotion_soaks(context: ScenarioContext) -> list[Delivery]:
    """prod promotes from staging: staging's deployment completes, the tracker sets prod's soak timer."""
    put_target_config(context.session, "api", "prod", {**PROD_CONFIG, "promote": {"from": "staging", "soakMinutes": 1}})
    return context.local.settle("staging", "api")


def _soak_ends(context: ScenarioContext) -> list[Delivery]:
    """The soak timer fires into the deploy function: prod deploys staging's digest."""
    return [Delivery(invocation.result or {}, ["(timer)"], [invocation]) for invocation in context.local.fire_timers()]


# In order: each starts from the state the ones before it left.
MAIN_SCENARIOS: dict[str, Scenario] = {
    "push": _push,  # staging-42: staging deploys (secrets, secretsPath), prod does not match
    "redelivery": _push,  # the same event again: the idempotency record answers
    "second tag": _second_tag,  # build-42, the same digest: a duplicate for staging
    "dry run": _dry_run,  # the push again as a dry run: the ledger is read, nothing changes
    "manual deploy": _manual_deploy,  # v1.4.2 to prod, its digest looked up in ECR
    "history": _history,  # prod's deploys, read from the ledger
    "rollback": _rollback_stops_a_rollout,  # prod rolled back while its deploy rolls out: the rollout is stopped
    "deployment completed": _deployment_completed,  # the tracker records prod's deployment COMPLETED
    "rollback started by ECS": _rollback_started_by_ecs,  # the tracker links ECS's rollback to prod's deploy
    "tracker fails": _tracker_fails,  # the ledger throttled on every attempt: retried, then on-failure queue
    "create service": _create_service,  # a target whose service does not exist yet, with a create block
    "broken config": _broken_config,  # a target whose parameter is not JSON: FAILED, notified
    "missing secret": _missing_secret,  # prod's DATABASE_URL deleted: FAILED before registering
    "update fails": _update_fails,  # UpdateService throttled on every attempt: retried, then on-failure queue
    "canary with alarms": _canary_with_alarms,  # prod as a canary with an alarm and an approval: DEPLOYING
    "canary paused": _canary_paused,  # its PAUSE hook awaits action: the tracker announces AWAITING_APPROVAL
    "console approve": _console_approve,  # approved from the console: ECS continues the deployment
    "slack reject": _slack_reject,  # the next canary rejected from Slack: ECS rolls it back
    "migration": _migration,  # staging's beforeDeploy migration started (RunTask, a timer): PREPARING
    "migration succeeds": _migration_succeeds,  # its STOPPED event: the timer cancelled, the service updated
    "migration times out": _migration_times_out,  # another migration past its timeout: StopTask, FAILED
    "gated push waits": _gated_push_waits,  # scan findings not ready: WAITING, a timer set for the wait's end
    "scan completes": _scan_completes,  # ECR's scan event resumes it: staging deploys, the timer cancelled
    "promotion soaks": _promotion_soaks,  # staging completes: the tracker sets prod's soak timer
    "soak ends": _soak_ends,  # the soak timer fires: prod deploys staging's digest
    "run task": _run_task,  # a one-off task on staging's current revision: PREPARING (last: it holds the claim)
}


def run_scenarios(
    local: RecordingLocalAws,
    stack: LocalStack,
    scenarios: Mapping[str, Scenario],
    parameters: Mapping[str, str] | None = None,
) -> Recorded:
    """Seed the sample world into ``stack``, subscribe an inbox, run ``scenarios`` and collect everything."""
    session = local.session()
    world = seed_world(session, topic_arn=stack.outputs["DeployTopicArn"])
    inbox = Inbox(session, stack.outputs["DeployTopicArn"])
    context = ScenarioContext(local, stack, session, world, {})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
        for name, scenario in scenarios.items():
            start = len(local.recorder.calls)
            deliveries = scenario(context)
            context.runs[name] = ScenarioRun(name, deliveries, local.recorder.calls[start:])
    iam = session.client("iam")
    role_policies: dict[str, dict[str, Any]] = {}
    for function in stack.functions:
        role = stack.resources[f"{function}Role"][1]
        role_policies[function] = {
            name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        }
    return Recorded(
        stack=stack,
        world=world,
        parameters=dict(parameters or {}),
        runs=context.runs,
        received=inbox.receive(),
        role_policies=role_policies,
        topic_attributes=dict(
            session.client("sns").get_topic_attributes(TopicArn=stack.outputs["DeployTopicArn"])["Attributes"]
        ),
    )


@functools.cache
def main_recording() -> tuple[Recorded, str]:
    """The main scenarios, run once per test session on a fresh local AWS (stopped afterwards) with the stack's
    functions logging at DEBUG; returns what was recorded and the SDK's DEBUG log of every run."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        debug_log = io.StringIO()
        with RecordingLocalAws(debug_log) as local:
            patch.setenv("SLACK_ALLOW_LOOPBACK", "true")  # the approval function posts to a loopback response_url
            parameters = {"LogLevel": "DEBUG", "SlackSigningSecretParameter": SLACK_SECRET_PARAMETER}
            recorded = run_scenarios(local, local.deploy_quietly(parameters), MAIN_SCENARIOS, parameters)
        return recorded, debug_log.getvalue()


# -- the template's view ------------------------------------------------------------------------------------


def transformed_template() -> dict[str, Any]:
    """template.yaml as CloudFormation (the SAM transform, offline), intrinsics not yet resolved. The code
    locations are placeholders: the SAM transform wants S3 URIs, and no policy depends on them."""
    template = load_template()
    locations = {logical_id: f"s3://artifacts/{logical_id}.zip" for logical_id in code_directories(template)}
    return sam_transform(template, locations)


EXAMPLE_STACK_ID = (
    f"arn:aws:cloudformation:{WHERE.region}:{WHERE.account}:stack/pushdeploy/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
)


def stack_values(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    physical_ids: Mapping[str, str],
    stack_id: str = EXAMPLE_STACK_ID,
) -> StackValues:
    """Ref and GetAtt values of the template's resources from their physical ids (as CloudFormation
    reports them), for the resource types the role's policies refer to; AWS::StackId is ``stack_id``."""
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        physical = physical_ids.get(logical_id)
        if physical is None:
            continue
        refs[logical_id] = physical
        last = physical.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        match resource["Type"]:
            case "AWS::SNS::Topic":
                attributes |= {f"{logical_id}.TopicName": last, f"{logical_id}.TopicArn": physical}
            case "AWS::DynamoDB::Table":
                attributes[f"{logical_id}.Arn"] = WHERE.arn("dynamodb", f"table/{physical}")
            case "AWS::KMS::Key":
                attributes |= {
                    f"{logical_id}.Arn": WHERE.arn("kms", f"key/{physical}"),
                    f"{logical_id}.KeyId": physical,
                }
            case "AWS::SQS::Queue":
                attributes |= {f"{logical_id}.Arn": WHERE.arn("sqs", last), f"{logical_id}.QueueName": last}
            case "AWS::Events::Rule":
                attributes[f"{logical_id}.Arn"] = WHERE.arn("events", f"rule/{physical}")
            case "AWS::IAM::Role":
                attributes[f"{logical_id}.Arn"] = f"arn:{WHERE.partition}:iam::{WHERE.account}:role/{last}"
            case "AWS::Lambda::Function":
                attributes[f"{logical_id}.Arn"] = WHERE.arn("lambda", f"function:{last}")
    return StackValues(
        pseudo={**PSEUDO_PARAMETERS, "AWS::StackId": stack_id},
        parameters=parameter_values(template, parameters),
        refs=refs,
        attributes=attributes,
        conditions=template.get("Conditions", {}),
    )


def example_physical_ids(template: Mapping[str, Any]) -> dict[str, str]:
    """Physical ids shaped as CloudFormation would name the resources of a stack called ``pushdeploy``."""
    shapes: dict[str, Callable[[str], str]] = {
        "AWS::SNS::Topic": lambda logical_id: WHERE.arn("sns", f"pushdeploy-{logical_id}-EXAMPLE"),
        "AWS::DynamoDB::Table": lambda logical_id: f"pushdeploy-{logical_id}-EXAMPLE",
        "AWS::KMS::Key": lambda logical_id: "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        "AWS::SQS::Queue": lambda logical_id: (
            f"https://sqs.{WHERE.region}.amazonaws.com/{WHERE.account}/pushdeploy-{logical_id}-EXAMPLE"
        ),
        "AWS::Events::Rule": lambda logical_id: f"pushdeploy-{logical_id}-EXAMPLE",
        "AWS::IAM::Role": lambda logical_id: f"pushdeploy-{logical_id}-EXAMPLE",
        "AWS::Lambda::Function": lambda logical_id: f"pushdeploy-{logical_id}-EXAMPLE",
    }
    return {
        logical_id: shapes[resource["Type"]](logical_id)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in shapes
    }


def functions(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """Logical ids of the Lambda functions a stack of the template creates with ``parameters``."""
    values = stack_values(template, parameters, example_physical_ids(template))
    return sorted(
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and created(template, logical_id, values)
    )


def function_statements(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    physical_ids: Mapping[str, str] | None = None,
    function: str = FUNCTION,
    stack_id: str = EXAMPLE_STACK_ID,
) -> list[Statement]:
    """A function's role's inline statements (SAM policy templates expanded), intrinsics resolved with
    ``parameters``, ``physical_ids`` (example ids when not given) and ``stack_id``."""
    values = stack_values(template, parameters, physical_ids or example_physical_ids(template), stack_id)
    return role_statements(template, function_role(template, function), values)


def decisions(statements: list[Statement], calls: list[AwsCall], topic_keys: Mapping[str, str]) -> list[Decision]:
    """Every IAM request of ``calls``, evaluated against ``statements``."""
    return [evaluate(statements, request) for call in calls for request in call.requests(topic_keys)]
