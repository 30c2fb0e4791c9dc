"""template.yaml: the EcrPush rule's pattern against the sample events (EventBridge in moto), and the
function's runtime, IAM statements and failure handling as written in the template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from tools.template import load_template

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
EVENTS_DIR = ROOT / "events"

# The samples the rule must deliver: successful pushes with a non-empty tag. Every other EventBridge
# sample (untagged, failed, delete, scan) must be filtered out by the pattern.
DELIVERED_SAMPLES = frozenset(
    {
        "ecr-push.json",
        "ecr-push-prod.json",
        "ecr-push-no-match.json",
        "ecr-push-second-tag.json",
        # version policies: a semver tag, an older one pushed later, a signature (the function ignores it)
        "ecr-push-semver.json",
        "ecr-push-semver-older.json",
        "ecr-push-signature.json",
        "ecr-push-foreign-registry.json",
        "ecr-push-migrate.json",
        "ecr-push-staging-43.json",
    }
)


def _load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# Manual deploy requests are direct invocations, not EventBridge events: they have no "source".
# Those with "dryRun" are EventBridge events copied from the logs for a direct (console) invoke.
EVENTBRIDGE_SAMPLES = sorted(
    path for path in EVENTS_DIR.glob("*.json") if "source" in _load_json(path) and "dryRun" not in _load_json(path)
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture
def function(template: dict[str, Any]) -> dict[str, Any]:
    """DeployFunction's properties with the template's Globals.Function applied (shallow, as SAM does)."""
    globals_: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    properties: dict[str, Any] = template["Resources"]["DeployFunction"]["Properties"]
    return {**globals_, **properties}


@pytest.fixture
def ecr_push_event(template: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = template["Resources"]["DeployFunction"]["Properties"]["Events"]["EcrPush"]
    return event


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no endpoint override: nothing can reach a real AWS endpoint."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTS", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


def _put_events_entry(sample: dict[str, Any]) -> PutEventsRequestEntryTypeDef:
    """A sample event file (as EventBridge delivers it) turned back into what its source would put."""
    return {
        "Source": sample["source"],
        "DetailType": sample["detail-type"],
        "Detail": json.dumps(sample["detail"]),
        "Resources": sample.get("resources", []),
        "Time": datetime.fromisoformat(sample["time"]),
    }


def _allow_statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline statements of the function's Policies (SAM policy templates and managed policies aside)."""
    statements: list[dict[str, Any]] = []
    for policy in function.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            statement = policy["Statement"]
            statements.extend(statement if isinstance(statement, list) else [statement])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def test_every_sample_the_test_expects_to_be_delivered_exists() -> None:
    # Given the sample EventBridge events
    names = {path.name for path in EVENTBRIDGE_SAMPLES}

    # Then the samples this module expects to be delivered are among them (a rename fails loudly)
    assert names >= DELIVERED_SAMPLES
    assert names - DELIVERED_SAMPLES, "no sample exercises the filtering side of the pattern"


@pytest.mark.parametrize("sample_path", EVENTBRIDGE_SAMPLES, ids=lambda path: path.name)
def test_ecr_push_pattern_delivers_only_successful_tagged_pushes(
    aws: None, ecr_push_event: dict[str, Any], sample_path: Path
) -> None:
    # Given an EventBridge rule with the template's EcrPush pattern, targeting an SQS queue
    pattern = ecr_push_event["Properties"]["Pattern"]
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    queue_url = sqs.create_queue(QueueName="ecr-push-matches")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="ecr-push", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="ecr-push", Targets=[{"Id": "matches", "Arn": queue_arn}])
    sample = _load_json(sample_path)

    # When the sample is put on the default event bus
    response = events.put_events(Entries=[_put_events_entry(sample)])

    # Then only successful pushes with a non-empty tag reach the queue, with their detail intact
    assert response["FailedEntryCount"] == 0
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    delivered = [json.loads(message["Body"]) for message in messages]
    if sample_path.name in DELIVERED_SAMPLES:
        assert len(delivered) == 1
        assert delivered[0]["source"] == sample["source"]
        assert delivered[0]["detail-type"] == sample["detail-type"]
        assert delivered[0]["detail"] == sample["detail"]
    else:
        assert delivered == []


def test_deploy_function_runs_app_handler_on_python313_arm64(function: dict[str, Any]) -> None:
    # Given the deploy function with the template's globals applied
    # Then it runs app.handler on python3.13, arm64, with the pushdeploy layer
    assert function["Handler"] == "app.handler"
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["CodeUri"] == "functions/deploy"
    assert {"Ref": "PushdeployLayer"} in function["Layers"]


def test_layer_is_built_for_the_function_runtime_and_architecture(template: dict[str, Any]) -> None:
    # Given the pushdeploy layer
    layer = template["Resources"]["PushdeployLayer"]

    # Then sam build installs it for the function's runtime and architecture
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/pushdeploy"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_pass_role_is_only_granted_towards_ecs_tasks(function: dict[str, Any]) -> None:
    # Given the function's inline IAM statements
    statements = _allow_statements(function)

    # When picking those that grant iam:PassRole
    pass_role = [statement for statement in statements if "iam:PassRole" in _actions(statement)]

    # Then there is one, and every one is limited to passing roles to ECS tasks (or the stack's own timer role
    # to EventBridge Scheduler)
    assert pass_role, "the deployer must be able to pass the task and execution roles"
    for statement in pass_role:
        condition = statement.get("Condition", {}).get("StringEquals", {})
        timer_role = statement.get("Resource") == {"Fn::GetAtt": ["TimerRole", "Arn"]}
        wanted = "scheduler.amazonaws.com" if timer_role else "ecs-tasks.amazonaws.com"
        assert condition.get("iam:PassedToService") == wanted, statement


def test_no_statement_grants_a_whole_service_or_everything(function: dict[str, Any]) -> None:
    # Given the function's inline IAM statements
    statements = _allow_statements(function)
    assert statements

    # When listing their actions
    actions = [action for statement in statements for action in _actions(statement)]

    # Then none is "*", "ecs:*", "ssm:*" or any other whole-service wildcard, and none uses NotAction
    assert not [action for action in actions if action == "*" or action.endswith(":*")]
    assert not [statement for statement in statements if "NotAction" in statement]


def test_function_failures_go_to_an_on_failure_queue(template: dict[str, Any], function: dict[str, Any]) -> None:
    # Given the function's asynchronous invocation settings
    invoke_config = function["EventInvokeConfig"]

    # Then a failed event is retried by Lambda, then sent to the DeployFailureQueue
    on_failure = invoke_config["DestinationConfig"]["OnFailure"]
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert on_failure["Type"] == "SQS"
    assert on_failure["Destination"] == {"Fn::GetAtt": ["DeployFailureQueue", "Arn"]}
    assert template["Resources"]["DeployFailureQueue"]["Type"] == "AWS::SQS::Queue"


def test_ecr_push_rule_retries_then_dead_letters(template: dict[str, Any], ecr_push_event: dict[str, Any]) -> None:
    # Given the EcrPush EventBridge rule
    properties = ecr_push_event["Properties"]
    assert ecr_push_event["Type"] == "EventBridgeRule"

    # Then it has a retry policy and a dead-letter queue
    assert properties["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert properties["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 60
    dead_letter = properties["DeadLetterConfig"]
    assert dead_letter.get("Type") == "SQS" or "Arn" in dead_letter

    # And a queue named by Arn lets EventBridge send to it (SAM writes that policy only for Type: SQS)
    if "Arn" in dead_letter:
        queue_id = dead_letter["Arn"]["Fn::GetAtt"][0]
        policies = [
            resource["Properties"]
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in resource["Properties"]["Queues"]
        ]
        principals = [
            statement["Principal"]
            for policy in policies
            for statement in policy["PolicyDocument"]["Statement"]
            if "sqs:SendMessage" in _actions(statement)
        ]
        assert {"Service": "events.amazonaws.com"} in principals


@pytest.mark.parametrize("sample", ["ecs-task-cannot-pull.json", "ecs-task-stopped.json"])
def test_the_pull_failure_rule_delivers_only_service_tasks_that_could_not_pull(
    aws: None, template: dict[str, Any], sample: str
) -> None:
    # Given an EventBridge rule with the tracker's pull-failure pattern, targeting an SQS queue
    pattern = template["Resources"]["TrackFunction"]["Properties"]["Events"]["EcsTaskCannotPullImage"]["Properties"][
        "Pattern"
    ]
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    queue_url = sqs.create_queue(QueueName="pull-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="pull-failures", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="pull-failures", Targets=[{"Id": "matches", "Arn": queue_arn}])

    # When a stopped task's event is put on the default bus
    events.put_events(Entries=[_put_events_entry(_load_json(EVENTS_DIR / sample))])

    # Then only the service task that could not pull its image reaches the tracker (not a one-off task's end)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == (1 if sample == "ecs-task-cannot-pull.json" else 0)
