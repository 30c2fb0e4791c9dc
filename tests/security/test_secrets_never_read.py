"""The deployer never reads a secret's value: it names secrets by parameter name and ARN only, and the value
appears nowhere it writes or sends.

The main scenarios (tests/security/__init__.py) run on a stack deployed with LogLevel=DEBUG, while every AWS
call is recorded and the SDK's DEBUG logs (request and response bodies) are kept. Every secret parameter of
the sample world holds SECRET_VALUE. A positive control shows that both checks catch a read when one happens.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import boto3
import pytest

from tests.security.harness import (
    TEST_ENVIRONMENT,
    AwsCall,
    CallRecorder,
    Recorded,
    RecordingLocalAws,
    main_recording,
    sdk_debug_logging,
)
from tools.sample_world import CONFIG_PREFIX, SECRET_PARAMETERS, SECRET_VALUE

pytestmark = pytest.mark.e2e

# Calls that return a parameter's or a secret's value.
VALUE_READS = {
    ("ssm", "GetParameter"),
    ("ssm", "GetParameters"),
    ("ssm", "GetParameterHistory"),
    ("ssm", "GetParametersByPath"),
    ("secretsmanager", "GetSecretValue"),
    ("secretsmanager", "BatchGetSecretValue"),
    ("kms", "Decrypt"),
}


def decrypting(params: Any) -> bool:
    """True if any WithDecryption in ``params`` (at any depth) is true."""
    if isinstance(params, Mapping):
        return bool(params.get("WithDecryption")) or any(decrypting(value) for value in params.values())
    if isinstance(params, list):
        return any(decrypting(item) for item in params)
    return False


def secret_reads(calls: Iterable[AwsCall], config_prefix: str = CONFIG_PREFIX) -> list[str]:
    """Every recorded call that read (or could have read) a secret value: a value read of anything but the
    target configs under ``config_prefix``, a secret parameter named in a value read, or WithDecryption."""
    found: list[str] = []
    for call in calls:
        label = f"{call.function} {call.service}:{call.operation} {json.dumps(call.params, default=str)[:200]}"
        if decrypting(call.params):
            found.append(f"WithDecryption: {label}")
        if (call.service, call.operation) not in VALUE_READS:
            continue
        names = [call.params.get("Name"), *call.params.get("Names", []), call.params.get("SecretId")]
        if any(name in SECRET_PARAMETERS for name in names if name):
            found.append(f"a secret read by name: {label}")
        path = str(call.params.get("Path", ""))
        if call.operation != "GetParametersByPath" or not (
            path == config_prefix or path.startswith(f"{config_prefix}/")
        ):
            found.append(f"a value read outside {config_prefix}: {label}")
    return found


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    """The main scenarios, on a stack whose functions log at DEBUG (run once per session, shared with
    test_least_privilege.py)."""
    return main_recording()[0]


@pytest.fixture(scope="module")
def debug_log() -> str:
    """The SDK's (and powertools') DEBUG log of every run of the main scenarios."""
    return main_recording()[1]


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingLocalAws]:
    """A bare local AWS, holding one secret parameter."""
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with RecordingLocalAws() as running:
        running.reset()  # moto's state is the process's: a new server still holds the scenarios' resources
        session = running.session()
        session.client("ssm").put_parameter(Name=SECRET_PARAMETERS[0], Value=SECRET_VALUE, Type="SecureString")
        yield running


def test_no_call_reads_a_secret_value(recorded: Recorded) -> None:
    # Given every call the functions made in the main scenarios
    calls = recorded.calls
    assert calls

    # Then none read a value but the target configs, none named a secret parameter in a read, none decrypted,
    # but the Slack approval endpoint reading the stack's own signing secret (it verifies Slack's signatures)
    signing_secret = recorded.parameters["SlackSigningSecretParameter"]
    own_secret = [
        call
        for call in calls
        if (call.function, call.operation, call.params.get("Name"))
        == ("SlackApprovalFunction", "GetParameter", signing_secret)
    ]
    assert len(own_secret) == 1  # read once, then cached
    assert secret_reads(call for call in calls if call not in own_secret) == []
    assert {call.function for call in calls if decrypting(call.params)} == {"SlackApprovalFunction"}
    # And the secrets were checked by name only (DescribeParameters: metadata), so the check had work to do
    described = json.dumps([call.params for call in calls if call.operation == "DescribeParameters"])
    assert "/api/staging/DATABASE_URL" in described
    assert "/api/staging/env" in described
    # And no response the functions received holds a secret's value
    assert [call.operation for call in calls if SECRET_VALUE in json.dumps(call.response, default=str)] == []


def test_the_secret_value_appears_in_nothing_the_functions_write_or_send(recorded: Recorded, debug_log: str) -> None:
    # Given what the main scenarios produced: each invocation's output (its DEBUG logs and EMF metrics) and
    # result, every notification the team's inbox received, every published message, and the SDK's DEBUG log
    invocations = [invocation for run in recorded.runs.values() for invocation in run.invocations]
    outputs = "\n".join(invocation.output for invocation in invocations)
    results = json.dumps([[invocation.result, invocation.error] for invocation in invocations], default=str)
    notifications = json.dumps([[r.subject, r.message, r.attributes] for r in recorded.received])
    published = json.dumps([call.params for call in recorded.calls if call.operation == "Publish"])

    # Then the secret value is in none of them
    for name, text in {
        "outputs": outputs,
        "results": results,
        "notifications": notifications,
        "published": published,
        "sdk debug log": debug_log,
    }.items():
        assert SECRET_VALUE not in text, name
    # And each was searched with something in it: the run's own logs, the secrets' ARNs, the bodies
    assert "Deploy finished" in outputs
    assert {f.environment["POWERTOOLS_LOG_LEVEL"] for f in recorded.stack.functions.values()} == {"DEBUG"}
    assert "arn:aws:ssm:us-east-1:123456789012:parameter/api/staging/DATABASE_URL" in results
    assert "parameter/api/staging/DATABASE_URL" in notifications
    assert "Response body" in debug_log
    assert "DescribeParameters" in debug_log
    assert "/api/staging/DATABASE_URL" in debug_log
    assert "TransactWriteItems" in debug_log  # the ledger's commit, which carries the event's result


def test_positive_control_a_decrypting_read_would_be_caught(local: RecordingLocalAws) -> None:
    # Given the recorder and the SDK debug log, as the scenarios ran under them, and a secret parameter
    recorder, buffer = CallRecorder(), io.StringIO()
    secret = SECRET_PARAMETERS[0]

    # When code reads a secret parameter's value
    with recorder.recording("DeployFunction"), sdk_debug_logging(buffer):
        value = boto3.Session(region_name="us-east-1").client("ssm").get_parameter(Name=secret, WithDecryption=True)

    # Then the value is in the debug log the scenarios were searched in, and the call is flagged
    assert value["Parameter"]["Value"] == SECRET_VALUE
    assert SECRET_VALUE in buffer.getvalue()
    assert [finding.split(":")[0] for finding in secret_reads(recorder.calls)] == [
        "WithDecryption",
        "a secret read by name",
        "a value read outside /pushdeploy",
    ]
    # And reading the target configs, as the deployer does, is not
    with recorder.recording("DeployFunction"):
        boto3.Session(region_name="us-east-1").client("ssm").get_parameters_by_path(Path="/pushdeploy/api")
    assert len(secret_reads(recorder.calls)) == 3
