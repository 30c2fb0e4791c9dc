"""A local AWS: moto's standalone server on loopback, with template.yaml deployed into it unchanged.

The SAM transform runs offline (aws-sam-translator); the CloudFormation it produces is created in the
server. Events are delivered as EventBridge would: matched against the rules the stack created, then handed
to the rule's target function, run in-process with the environment the stack gave it, with Lambda's async
retries and on-failure destination taken from the template (moto creates no EventInvokeConfig).

    python -m tools.localaws invoke events/ecr-push.json   # a fresh local AWS with the sample world
    python -m tools.localaws serve                         # keep one running (Ctrl-C stops it)
    python -m tools.localaws invoke --endpoint http://127.0.0.1:PORT events/manual-deploy.json
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
import time
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

    def function_by_arn(self, arn: str) -> StackFunction | None:
        return next((function for function in self.functions.values() if function.arn == arn), None)


@dataclass
class Invocation:
    """One run of a function on one event, with Lambda's retries counted."""

    function: str
    attempts: int
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
    """moto's server on 127.0.0.1 (a free port), reached by every boto3 client through AWS_ENDPOINT_URL."""

    def __init__(self, endpoint: str | None = None) -> None:
        self._server: ThreadedMotoServer | None = None
        self.endpoint = endpoint or ""
        self._environ: contextlib.ExitStack | None = None

    def __enter__(self) -> LocalAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
        # moto names what its CloudFormation cannot create; LocalStack.not_created reports the same.
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        if not self.endpoint:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint = f"http://{host}:{port}"
        self._environ = contextlib.ExitStack()
        self._environ.enter_context(
            patched_environ({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}, remove=_REAL_AWS_VARIABLES)
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._environ is not None:
            self._environ.close()
        if self._server is not None:
            self._server.stop()

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=REGION)

    def reset(self) -> None:
        """Clear every resource in the server."""
        import urllib.request  # noqa: PLC0415

        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
            pass

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
            TemplateBody=json.dumps(cloudformation_template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = self._wait_for_stack(cfn, stack_name)
        return self._describe_stack(session, stack_name, stack, template, cloudformation_template)

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
        return self._describe_stack(session, stack_name, described, template, cloudformation_template)

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
                return getattr(module, handler_name)(event, _Context(function))
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

    wiring.entry_point.cache_clear()
    return module


# -- command line -----------------------------------------------------------------------------------------


def _read_event(path: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(Path(path).read_text())
    return event


def main(argv: list[str] | None = None) -> int:
    """``serve`` keeps a local AWS with the stack and sample world running; ``invoke`` runs event files."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.localaws", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start moto's server with the stack and the sample world")
    serve.add_argument("--port", type=int, default=0)
    invoke = commands.add_parser("invoke", help="run event files against the local stack")
    invoke.add_argument("events", nargs="+", help="event files, e.g. events/ecr-push.json")
    invoke.add_argument("--endpoint", help="a running local AWS (from `serve`); default: start a fresh one")
    args = parser.parse_args(argv)

    from tools.sample_world import seed_world  # noqa: PLC0415

    if args.command == "serve":
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        with LocalAws(f"http://{host}:{port}") as local:
            stack = local.deploy()
            seed_world(local.session(), topic_arn=stack.outputs["DeployTopicArn"])
            print(f"local AWS at http://{host}:{port} with stack {stack.name} and the sample world; Ctrl-C stops it")
            print(f"  python -m tools.localaws invoke --endpoint http://{host}:{port} events/ecr-push.json")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
            finally:
                server.stop()
        return 0

    with LocalAws(args.endpoint) as local:
        if args.endpoint:
            stack = local.existing_stack()
        else:
            stack = local.deploy()
            seed_world(local.session(), topic_arn=stack.outputs["DeployTopicArn"])
        failed = False
        for path in args.events:
            delivery = local.run_event(stack, _read_event(path))
            print(f"== {path}: rules matched: {', '.join(delivery.matched_rules) or 'none'}")
            for invocation in delivery.invocations:
                failed |= invocation.error is not None
                shown = invocation.error or json.dumps(invocation.result, indent=2)
                print(f"-- {invocation.function} ({invocation.attempts} attempt(s)):\n{shown}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
