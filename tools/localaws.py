"""A local AWS: moto's standalone server on loopback, with template.yaml deployed into it unchanged.

The SAM transform runs offline (aws-sam-translator); the CloudFormation it produces is created in the
server. Events are delivered as EventBridge would: matched against the rules the stack created, then handed
to the rule's target function, run in-process with the environment the stack gave it, with Lambda's async
retries and on-failure destination taken from the template (moto creates no EventInvokeConfig).

In front of moto sits the local ECS (tools/localecs.py): deployments that roll on a clock the caller
drives, service deployments and revisions, and the events ECS emits, delivered through the stack's rules
(``LocalAws.settle``, ``stop_task``, ``advance``; from a shell, the ``ecs`` commands below).

    python -m tools.localaws invoke events/ecr-push.json   # a fresh local AWS with the sample world
    python -m tools.localaws serve                         # keep one running (Ctrl-C stops it)
    python -m tools.localaws invoke --endpoint http://127.0.0.1:PORT events/manual-deploy.json
    python -m tools.localaws ecs settle --endpoint URL --cluster staging --service api [--outcome failed]
    python -m tools.localaws ecs stop-task --endpoint URL --cluster staging --task ARN --exit-code 0
    python -m tools.localaws ecs advance --endpoint URL --seconds 60
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import boto3
from moto.events.models import EventPattern
from moto.server import ThreadedMotoServer

from tools.localecr import scan_event
from tools.localecs import LocalEcs, Outcome
from tools.template import (
    code_directories,
    condition_values,
    load_template,
    resolve_pseudo_parameters,
    sam_transform,
)

STACK_NAME = "pushdeploy-local"
ARTIFACT_BUCKET = "pushdeploy-local-artifacts"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# Variables that could point a client at a real account; never inherited by the local AWS.
_REAL_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str], remove: tuple[str, ...] = ()) -> Iterator[None]:
    """Set ``values`` (and drop ``remove``) in os.environ for the duration; restore it after."""
    saved = dict(os.environ)
    try:
        for name in remove:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class StackFunction:
    """A function of the stack: where its code is and how Lambda would run it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    max_retries: int = 2  # Lambda's async default; the template's EventInvokeConfig overrides it
    on_failure_queue: str | None = None  # URL of the on-failure destination


@dataclass
class StackRule:
    """An EventBridge rule of the stack and the functions it targets."""

    name: str
    pattern: str
    target_arns: list[str]


@dataclass
class LocalStack:
    """The template as deployed in the local AWS."""

    name: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id to (type, physical id)
    not_created: dict[str, str]  # logical id to type: what moto's CloudFormation does not create
    functions: dict[str, StackFunction]
    rules: list[StackRule]
    stack_id: str = ""  # the stack's ARN, as CloudFormation's AWS::StackId

    def function_by_arn(self, arn: str) -> StackFunction | None:
        return next((function for function in self.functions.values() if function.arn == arn), None)


@dataclass
class Invocation:
    """One run of a function on one event, with Lambda's retries counted."""

    function: str
    attempts: int
    # Lambda keeps an invocation's request id across its retries of it (the function's context says so).
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    result: Any = None
    error: str | None = None
    output: str = ""  # what the function printed (its structured logs and metrics), as CloudWatch would hold
    sent_to_on_failure: bool = False


@dataclass
class Delivery:
    """What happened to one event: the rules it matched and each target's invocation."""

    event: dict[str, Any]
    matched_rules: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)


class LocalAws:
    """moto's server on 127.0.0.1 (a free port), reached by every boto3 client through AWS_ENDPOINT_URL.

    With ``ecs`` (the default) the local ECS layer is in front of it and ``endpoint`` is the layer's;
    ``moto_endpoint`` is moto's own. Given an ``endpoint``, it attaches to a running local AWS instead.
    """

    def __init__(self, endpoint: str | None = None, *, ecs: bool = True, port: int = 0) -> None:
        self._server: ThreadedMotoServer | None = None
        self.endpoint = endpoint or ""
        self.moto_endpoint = self.endpoint
        self._with_ecs = ecs
        self._port = port
        self.ecs: LocalEcs | None = None
        self.stack: LocalStack | None = None  # the stack ECS events are delivered to (the last deployed)
        self.ecs_deliveries: list[Delivery] = []  # every ECS event delivered, in order
        self._delivering = threading.RLock()  # one delivery at a time: handlers share os.environ
        self._dispatcher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._environ: contextlib.ExitStack | None = None

    def __enter__(self) -> LocalAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
        # moto names what its CloudFormation cannot create; LocalStack.not_created reports the same.
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        if not self.endpoint:
            self._server = ThreadedMotoServer(
                ip_address="127.0.0.1", port=0 if self._with_ecs else self._port, verbose=False
            )
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint = self.moto_endpoint = f"http://{host}:{port}"
            if self._with_ecs:
                self.ecs = LocalEcs(self.moto_endpoint, port=self._port).__enter__()
                self.ecs.deliverer = self._deliver_for_control
                self.endpoint = self.ecs.endpoint
        self._environ = contextlib.ExitStack()
        self._environ.enter_context(
            patched_environ({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}, remove=_REAL_AWS_VARIABLES)
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=10)
        if self._environ is not None:
            self._environ.close()
        if self.ecs is not None:
            self.ecs.__exit__(None, None, None)
        if self._server is not None:
            self._server.stop()

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=REGION)

    def reset(self) -> None:
        """Clear every resource in the server (and the local ECS's deployments, tasks and events)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
            pass
        self.stack = None
        self.ecs_deliveries.clear()

    # -- the local ECS: a clock the caller drives, events through the stack's rules ----------------------

    def _local_ecs(self) -> LocalEcs:
        if self.ecs is None:
            raise RuntimeError("this local AWS runs without the local ECS layer (LocalAws(ecs=True) starts it)")
        return self.ecs

    def settle(self, cluster: str, service: str, outcome: Outcome = "completed") -> list[Delivery]:
        """Finish the service's deployment in progress (see LocalEcs.settle); deliver the events it caused."""
        self._local_ecs().settle(cluster, service, outcome)
        return self.deliver_ecs_events()

    def trip_alarms(self, cluster: str, service: str) -> list[Delivery]:
        """The rollback alarms of the service's deployment go into ALARM at the stage it has reached (see
        LocalEcs.trip_alarms); deliver the events it caused."""
        self._local_ecs().trip_alarms(cluster, service)
        return self.deliver_ecs_events()

    def settle_all(self) -> list[Delivery]:
        """Complete every deployment in progress (a freshly seeded world's first ones); deliver the events."""
        self._local_ecs().settle_all()
        return self.deliver_ecs_events()

    def stop_task(self, cluster: str, task: str, exit_code: int, reason: str | None = None) -> list[Delivery]:
        """End a task started with RunTask (see LocalEcs.stop_task); deliver the events it caused."""
        self._local_ecs().stop_task(cluster, task, exit_code, reason)
        return self.deliver_ecs_events()

    def advance(self, seconds: float) -> list[Delivery]:
        """Move the local ECS's clock on; deliver the events of what fell due."""
        self._local_ecs().advance(seconds)
        return self.deliver_ecs_events()

    def deliver_ecs_events(self) -> list[Delivery]:
        """Deliver the events the local ECS emitted since the last delivery, oldest first, through the rules
        of ``self.stack`` (kept queued while no stack is deployed). Also recorded in ``ecs_deliveries``."""
        deliveries: list[Delivery] = []
        with self._delivering:
            while self.ecs is not None and self.stack is not None:
                events = self.ecs.take_events()
                if not events:
                    break
                for event in events:
                    delivery = self.deliver(self.stack, event)
                    self.ecs_deliveries.append(delivery)
                    deliveries.append(delivery)
        return deliveries

    # -- ECR's signals for the gates: scan findings, signatures, the scan event ---------------------------------

    def set_scan(
        self, repository: str, digest: str, status: str, counts: dict[str, int] | None = None, description: str = ""
    ) -> None:
        """What ECR answers DescribeImageScanFindings for the digest (see tools.localecr)."""
        self._local_ecs().ecr.set_scan(repository, digest, status, counts, description)

    def set_signing(self, repository: str, digest: str, profile_arn: str, status: str, reason: str = "") -> None:
        """A signing profile's status of the digest, as DescribeImageSigningStatus answers it."""
        self._local_ecs().ecr.set_signing(repository, digest, profile_arn, status, reason)

    def complete_scan(self, repository: str, digest: str, counts: dict[str, int]) -> Delivery:
        """The scan of the digest ends with ``counts``: its findings become COMPLETE and ECR's ``ECR Image Scan``
        event is delivered through the stack's rules."""
        if self.stack is None:
            raise RuntimeError("no stack deployed: deploy() the template before scanning")
        self.set_scan(repository, digest, "COMPLETE", counts)
        return self.deliver(self.stack, scan_event(repository, digest, counts, account=ACCOUNT, region=REGION))

    # -- timers: EventBridge Scheduler's one-time schedules, fired when the caller says time has come ----------

    def pending_timers(self) -> list[dict[str, Any]]:
        """The one-time schedules set in the server (moto keeps them; it never fires them): name, due time
        (epoch seconds), target ARN and input event."""
        scheduler = self.session().client("scheduler")
        timers = []
        for summary in scheduler.list_schedules().get("Schedules", []):
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
            expression = str(schedule["ScheduleExpression"])
            if not expression.startswith("at("):
                continue
            due = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
            timers.append(
                {
                    "name": schedule["Name"],
                    "group": schedule.get("GroupName", "default"),
                    "due": due,
                    "target": schedule["Target"]["Arn"],
                    "event": json.loads(schedule["Target"].get("Input") or "{}"),
                }
            )
        return sorted(timers, key=lambda timer: (timer["due"], timer["name"]))

    def fire_timers(self, until: float | None = None) -> list[Invocation]:
        """Fire the timers due by ``until`` (epoch seconds; all of them when None), earliest first, as
        Scheduler does: invoke the target function of ``self.stack`` with the schedule's input, then delete
        the schedule (ActionAfterCompletion DELETE). Timers a fired step sets are left for the next call."""
        if self.stack is None:
            raise RuntimeError("no stack deployed: deploy() the template before firing its timers")
        scheduler = self.session().client("scheduler")
        invocations = []
        for timer in self.pending_timers():
            if until is not None and timer["due"] > until:
                break
            function = self.stack.function_by_arn(timer["target"])
            if function is None:
                raise RuntimeError(f"timer {timer['name']} targets {timer['target']}, not a function of the stack")
            scheduler.delete_schedule(Name=timer["name"], GroupName=timer["group"])
            invocations.append(self.invoke_async(function, timer["event"]))
        return invocations

    def _deliver_for_control(self) -> list[dict[str, Any]]:
        """What a control request (the ``ecs`` commands) answers with: each event and what it ran."""
        return [delivery_summary(delivery) for delivery in self.deliver_ecs_events()]

    def start_event_delivery(self) -> None:
        """Deliver ECS events as they are emitted, from a thread of their own (``serve`` does this)."""

        def run() -> None:
            ecs = self._local_ecs()
            while not self._stopping.is_set():
                if ecs.events_waiting.wait(timeout=0.5):
                    with patched_environ({"AWS_ENDPOINT_URL": self.endpoint}):
                        self.deliver_ecs_events()

        self._dispatcher = threading.Thread(target=run, name="ecs-events", daemon=True)
        self._dispatcher.start()

    # -- deploying the template -------------------------------------------------------------------------

    def deploy(self, parameters: Mapping[str, str] | None = None, stack_name: str = STACK_NAME) -> LocalStack:
        """Transform template.yaml and create it as a CloudFormation stack in the server."""
        session = self.session()
        template = load_template()
        code_locations = self._upload_code(session, code_directories(template))
        assert code_locations == _code_locations(template)
        cloudformation_template = resolve_pseudo_parameters(sam_transform(template, code_locations), PSEUDO_PARAMETERS)
        cfn = session.client("cloudformation")
        cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(_without_unresolvable_outputs(cloudformation_template)),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = self._wait_for_stack(cfn, stack_name)
        self.stack = self._describe_stack(session, stack_name, stack, template, cloudformation_template)
        return self.stack

    def _upload_code(self, session: boto3.Session, directories: dict[str, Path]) -> dict[str, str]:
        s3 = session.client("s3")
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        locations: dict[str, str] = {}
        for logical_id, directory in directories.items():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(directory.rglob("*")):
                    if path.is_file() and "__pycache__" not in path.parts:
                        archive.write(path, path.relative_to(directory))
            key = f"{logical_id}.zip"
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=buffer.getvalue())
            locations[logical_id] = f"s3://{ARTIFACT_BUCKET}/{key}"
        return locations

    @staticmethod
    def _wait_for_stack(cfn: Any, stack_name: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            stack: dict[str, Any] = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
            if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
        return stack

    def _describe_stack(
        self,
        session: boto3.Session,
        stack_name: str,
        stack: dict[str, Any],
        sam_template: dict[str, Any],
        cloudformation_template: dict[str, Any],
    ) -> LocalStack:
        cfn = session.client("cloudformation")
        summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        resources = {
            item["LogicalResourceId"]: (item["ResourceType"], item.get("PhysicalResourceId", ""))
            for item in summaries
            if item.get("LogicalResourceId")
        }
        conditions = condition_values(
            cloudformation_template,
            {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        )
        not_created = {
            logical_id: resource["Type"]
            for logical_id, resource in cloudformation_template["Resources"].items()
            if logical_id not in resources and conditions.get(resource.get("Condition", ""), True)
        }
        functions = self._functions(session, sam_template, resources, not_created, cloudformation_template)
        events = session.client("events")
        rules = []
        for logical_id, (resource_type, physical_id) in resources.items():
            if resource_type != "AWS::Events::Rule":
                continue
            rule = events.describe_rule(Name=physical_id)
            targets = events.list_targets_by_rule(Rule=physical_id)["Targets"]
            rules.append(StackRule(logical_id, rule.get("EventPattern", "{}"), [t["Arn"] for t in targets]))
        return LocalStack(
            name=stack_name,
            parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
            outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            resources=resources,
            not_created=not_created,
            functions=functions,
            rules=rules,
            stack_id=str(stack.get("StackId", "")),
        )

    @staticmethod
    def _functions(
        session: boto3.Session,
        sam_template: dict[str, Any],
        resources: dict[str, tuple[str, str]],
        not_created: dict[str, str],
        cloudformation_template: dict[str, Any],
    ) -> dict[str, StackFunction]:
        lambda_client = session.client("lambda")
        sqs = session.client("sqs")
        directories = code_directories(sam_template)
        functions: dict[str, StackFunction] = {}
        for logical_id, (resource_type, physical_id) in resources.items():
            if resource_type != "AWS::Lambda::Function":
                continue
            configuration = lambda_client.get_function_configuration(FunctionName=physical_id)
            variables = configuration.get("Environment", {}).get("Variables", {})
            function = StackFunction(
                logical_id=logical_id,
                name=physical_id,
                arn=configuration["FunctionArn"],
                code_dir=directories[logical_id],
                handler=configuration["Handler"],
                environment={key: str(value) for key, value in variables.items()},
            )
            # moto does not create AWS::Lambda::EventInvokeConfig: read it from the template instead.
            for config_id, config_type in not_created.items():
                properties = cloudformation_template["Resources"][config_id].get("Properties", {})
                if config_type != "AWS::Lambda::EventInvokeConfig" or properties.get("FunctionName") != {
                    "Ref": logical_id
                }:
                    continue
                function.max_retries = int(properties.get("MaximumRetryAttempts", 2))
                destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                queue_logical_id = destination.get("Fn::GetAtt", [None])[0] if isinstance(destination, dict) else None
                if queue_logical_id in resources:
                    queue_name = resources[queue_logical_id][1].rsplit("/", 1)[-1]
                    function.on_failure_queue = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            functions[logical_id] = function
        return functions

    def existing_stack(self, stack_name: str = STACK_NAME) -> LocalStack:
        """The stack a running local AWS (``serve``) already holds."""
        session = self.session()
        described: dict[str, Any] = dict(
            session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        )
        template = load_template()
        cloudformation_template = resolve_pseudo_parameters(
            sam_transform(template, _code_locations(template)), PSEUDO_PARAMETERS
        )
        self.stack = self._describe_stack(session, stack_name, described, template, cloudformation_template)
        return self.stack

    # -- delivering events ------------------------------------------------------------------------------

    def deliver(self, stack: LocalStack, event: dict[str, Any]) -> Delivery:
        """Deliver an EventBridge event: every rule of the stack it matches invokes its target functions."""
        delivery = Delivery(event)
        for rule in stack.rules:
            if not EventPattern.load(rule.pattern).matches_event(event):  # type: ignore[arg-type]
                continue
            delivery.matched_rules.append(rule.name)
            for arn in rule.target_arns:
                function = stack.function_by_arn(arn)
                if function is not None:
                    delivery.invocations.append(self.invoke_async(function, event))
        return delivery

    def run_event(self, stack: LocalStack, event: dict[str, Any], function_id: str = "DeployFunction") -> Delivery:
        """An EventBridge event goes through the rules; anything else is a direct (console) invoke."""
        if "source" in event and "detail-type" in event:
            return self.deliver(stack, event)
        delivery = Delivery(event, matched_rules=["(direct invoke)"])
        invocation = Invocation(function_id, attempts=1)
        try:
            invocation.result = self.invoke(stack.functions[function_id], event, invocation)
        except Exception as exc:
            invocation.error = f"{type(exc).__name__}: {exc}"
        delivery.invocations.append(invocation)
        return delivery

    def invoke_async(self, function: StackFunction, event: dict[str, Any]) -> Invocation:
        """Invoke as Lambda does for EventBridge: retry on error, then send to the on-failure destination."""
        invocation = Invocation(function.logical_id, attempts=0)
        for _ in range(1 + function.max_retries):
            invocation.attempts += 1
            try:
                invocation.result = self.invoke(function, event, invocation)
            except Exception as exc:
                invocation.error = f"{type(exc).__name__}: {exc}"
                continue
            invocation.error = None
            return invocation
        if function.on_failure_queue:
            self._send_on_failure(function, event, invocation)
            invocation.sent_to_on_failure = True
        return invocation

    def invoke(self, function: StackFunction, event: dict[str, Any], record: Invocation | None = None) -> Any:
        """Run the function's handler in this process, with the environment the stack gave it.

        What the function prints goes to ``record.output`` when a record is given (to stdout otherwise).
        """
        from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

        environment = {
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            # No X-Ray daemon runs locally.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        output = io.StringIO()
        with patched_environ(environment):
            module = _load_handler_module(function)
        with patched_environ(environment), _captured_stdout(output if record is not None else None):
            parameters.clear_caches()  # type: ignore[no-untyped-call]
            handler_name = function.handler.rsplit(".", 1)[1]
            try:
                context = _Context(function, record.request_id) if record is not None else _Context(function)
                return getattr(module, handler_name)(event, context)
            finally:
                if record is not None:
                    record.output += output.getvalue()

    @staticmethod
    def _send_on_failure(function: StackFunction, event: dict[str, Any], invocation: Invocation) -> None:
        error_type, _, message = (invocation.error or "").partition(": ")
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": invocation.attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": message, "errorType": error_type},
        }
        boto3.client("sqs").send_message(QueueUrl=str(function.on_failure_queue), MessageBody=json.dumps(record))


# Resource types moto's CloudFormation does not create, whose attributes an output may name: moto refuses the
# whole stack for such an output, so it is left out locally (LocalStack.not_created lists the resource).
_ATTRIBUTES_MOTO_LACKS = frozenset({"AWS::Lambda::Url"})


def _without_unresolvable_outputs(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` without the outputs that get an attribute of a resource moto cannot create."""
    resources = template.get("Resources", {})

    def unresolvable(output: Any) -> bool:
        value = output.get("Value") if isinstance(output, dict) else None
        target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        logical_id = target[0] if isinstance(target, list) and target else None
        return resources.get(logical_id, {}).get("Type") in _ATTRIBUTES_MOTO_LACKS

    outputs = {name: output for name, output in template.get("Outputs", {}).items() if not unresolvable(output)}
    return {**template, "Outputs": outputs}


def delivery_summary(delivery: Delivery) -> dict[str, Any]:
    """One delivered event in a line's worth of JSON: what it said, the rules it matched, what each ran."""
    detail = delivery.event.get("detail") or {}
    said = detail.get("eventName") or detail.get("lastStatus") or detail.get("action-type") or ""
    return {
        "detailType": delivery.event.get("detail-type"),
        "event": said,
        "deploymentId": detail.get("deploymentId"),
        "reason": detail.get("reason") or detail.get("stoppedReason"),
        "time": delivery.event.get("time"),
        "matchedRules": delivery.matched_rules,
        "invocations": [
            {"function": i.function, "attempts": i.attempts, "result": i.result, "error": i.error}
            for i in delivery.invocations
        ],
    }


@dataclass
class _Context:
    """The Lambda context the handler sees."""

    function: StackFunction
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512

    @property
    def function_name(self) -> str:
        return self.function.name

    @property
    def invoked_function_arn(self) -> str:
        return self.function.arn

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


class _CurrentStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is now: lets a logger that bound a stream at import follow redirection."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


_FOLLOW_STDOUT = _CurrentStdout()


@contextlib.contextmanager
def _captured_stdout(into: io.StringIO | None) -> Iterator[None]:
    """Send what the handler prints to ``into``, if given (else it goes to stdout as usual)."""
    if into is None:
        yield
        return
    with contextlib.redirect_stdout(into):
        yield


def _code_locations(template: dict[str, Any]) -> dict[str, str]:
    """Where the stack's functions and layers are uploaded, as `sam package` would name them."""
    return {logical_id: f"s3://{ARTIFACT_BUCKET}/{logical_id}.zip" for logical_id in code_directories(template)}


_MODULES: dict[Path, ModuleType] = {}


def _load_handler_module(function: StackFunction) -> ModuleType:
    """Import the function's handler module once, as a warm Lambda keeps it."""
    path = function.code_dir / (function.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    module = _MODULES.get(path)
    if module is None:
        spec = importlib.util.spec_from_file_location(f"local_{function.logical_id}", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[path] = module
        # powertools' Logger binds the sys.stdout of import time; make it follow redirection instead.
        for handler in logging.getLogger("pushdeploy").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(_FOLLOW_STDOUT)
    # A warm environment keeps its clients; a new stack (new server) needs new ones.
    from pushdeploy import wiring  # noqa: PLC0415

    wiring.forget_built()
    return module


# -- command line -----------------------------------------------------------------------------------------


def _read_event(path: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(Path(path).read_text())
    return event


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.localaws", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="start moto's server and the local ECS with the stack and the sample world"
    )
    serve.add_argument("--port", type=int, default=0)
    invoke = commands.add_parser("invoke", help="run event files against the local stack")
    invoke.add_argument("events", nargs="+", help="event files, e.g. events/ecr-push.json")
    invoke.add_argument("--endpoint", help="a running local AWS (from `serve`); default: start a fresh one")
    ecs = commands.add_parser("ecs", help="drive the local ECS of a running local AWS (from `serve`)")
    actions = ecs.add_subparsers(dest="action", required=True)
    settle = actions.add_parser("settle", help="finish the service's deployment in progress, continuing paused hooks")
    stop_task = actions.add_parser("stop-task", help="end a task started with RunTask")
    advance = actions.add_parser("advance", help="move the local ECS's clock on")
    for action in (settle, stop_task, advance):
        action.add_argument("--endpoint", required=True, help="the local AWS, as `serve` printed it")
    for action in (settle, stop_task):
        action.add_argument("--cluster", required=True)
    settle.add_argument("--service", required=True)
    settle.add_argument("--outcome", choices=("completed", "failed"), default="completed")
    stop_task.add_argument("--task", required=True, help="the task's ARN (or its id)")
    stop_task.add_argument("--exit-code", type=int, required=True)
    stop_task.add_argument("--reason", help="stoppedReason (default: Essential container in task exited)")
    advance.add_argument("--seconds", type=float, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``serve`` keeps a local AWS with the stack and sample world running; ``invoke`` runs event files;
    ``ecs`` drives the local ECS of a running one."""
    args = _parser().parse_args(argv)

    if args.command == "ecs":
        return _ecs_command(args)

    from tools.sample_world import seed_world  # noqa: PLC0415

    if args.command == "serve":
        with LocalAws(port=args.port) as local:
            stack = local.deploy()
            seed_world(local.session(), topic_arn=stack.outputs["DeployTopicArn"])
            local.settle_all()  # the seeded services run steady on their first revision
            local.start_event_delivery()
            print(f"local AWS at {local.endpoint} with stack {stack.name} and the sample world; Ctrl-C stops it")
            print(f"  python -m tools.localaws invoke --endpoint {local.endpoint} events/ecr-push.json")
            print(f"  python -m tools.localaws ecs settle --endpoint {local.endpoint} --cluster staging --service api")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0

    with LocalAws(args.endpoint) as local:
        if args.endpoint:
            stack = local.existing_stack()
        else:
            stack = local.deploy()
            seed_world(local.session(), topic_arn=stack.outputs["DeployTopicArn"])
            local.settle_all()
        failed = False
        for path in args.events:
            delivery = local.run_event(stack, _read_event(path))
            print(f"== {path}: rules matched: {', '.join(delivery.matched_rules) or 'none'}")
            for invocation in delivery.invocations:
                failed |= invocation.error is not None
                shown = invocation.error or json.dumps(invocation.result, indent=2)
                print(f"-- {invocation.function} ({invocation.attempts} attempt(s)):\n{shown}")
        return 1 if failed else 0


def _ecs_command(args: argparse.Namespace) -> int:
    """Send one control request to a running local ECS and print the events it delivered."""
    body: dict[str, Any]
    if args.action == "settle":
        body = {"cluster": args.cluster, "service": args.service, "outcome": args.outcome}
    elif args.action == "stop-task":
        body = {"cluster": args.cluster, "task": args.task, "exitCode": args.exit_code}
        if args.reason:
            body["reason"] = args.reason
    else:
        body = {"seconds": args.seconds}
    answer = control(args.endpoint, args.action, body)
    if "error" in answer:
        print(f"error: {answer['error']}", file=sys.stderr)
        return 2
    for delivered in answer.get("deliveries") or [_undelivered(event) for event in answer.get("events", [])]:
        print(
            f"{delivered['time']}  {delivered['detailType']}: {delivered['event']} "
            f"{delivered.get('deploymentId') or ''} {delivered.get('reason') or ''}".rstrip()
        )
        for invocation in delivered["invocations"]:
            outcome = invocation["error"] or json.dumps(invocation["result"])
            print(f"    -> {invocation['function']}: {outcome[:500]}")
    print(f"local ECS clock now {answer.get('time')}")
    return 0


def _undelivered(event: dict[str, Any]) -> dict[str, Any]:
    """An event no stack received, in the form of delivery_summary."""
    return delivery_summary(Delivery(event))


def control(endpoint: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a control request (settle, stop-task, advance) to the local ECS at ``endpoint``; its JSON answer."""
    if not endpoint.startswith("http://127.0.0.1:") and not endpoint.startswith("http://localhost:"):
        raise SystemExit(f"--endpoint must be a loopback http:// URL of a local AWS, got {endpoint[:100]!r}")
    request = urllib.request.Request(  # noqa: S310 - loopback only, checked above
        f"{endpoint.rstrip('/')}/_localecs/{action}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    return answer


if __name__ == "__main__":
    sys.exit(main())
