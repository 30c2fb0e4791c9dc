"""Secret values never leave Parameter Store: a push run through the local AWS leaves them out of the
handler's result, the notifications, the function's output and everything written to stdout, stderr and
the log records."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pytest

from tests.e2e.readback import target_report
from tests.helpers import Inbox, load_event
from tools.localaws import Invocation, LocalAws, LocalStack, StackFunction
from tools.sample_world import SECRET_VALUE, World

pytestmark = pytest.mark.e2e


def test_secret_values_appear_in_no_output_of_a_push(
    local: LocalAws,
    stack: LocalStack,
    world: World,
    inbox: Inbox,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given every secret parameter holding SECRET_VALUE, and logging at DEBUG (botocore logs bodies there)
    event = load_event("ecr-push.json")
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()

    # When staging-42 is pushed through the rule
    delivery = local.deliver(stack, event)
    captured = capfd.readouterr()
    received = inbox.receive()

    # Then the push was deployed, with its secrets injected by reference only
    invocation = delivery.invocations[0]
    assert (invocation.attempts, invocation.error) == (1, None)
    secrets = [c for c in target_report(invocation.result, "staging")["changes"] if c["field"] == "secret"]
    assert len(secrets) == 3
    assert all(change["after"].startswith("arn:aws:ssm:") for change in secrets)
    # And the value is in neither the result, the notification, the function's output (its logs and
    # metrics), stdout, stderr, nor the log records
    assert SECRET_VALUE not in json.dumps(invocation.result)
    assert len(received) == 1
    assert SECRET_VALUE not in json.dumps([(r.subject, r.message, r.attributes) for r in received])
    assert SECRET_VALUE not in invocation.output
    assert SECRET_VALUE not in captured.out
    assert SECRET_VALUE not in captured.err
    assert SECRET_VALUE not in caplog.text
    # And those outputs did record the run (the checks above looked at something)
    assert "Deploy finished" in invocation.output
    assert event["detail"]["image-digest"] in invocation.output
    assert "RegisterTaskDefinition" in caplog.text


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_direct_invoke_without_a_record_logs_to_stdout(local: LocalAws, deploy_function: StackFunction) -> None:
    # Given the function already run once with a record, as deliver() runs it
    local.invoke(deploy_function, load_event("ecr-delete.json"), Invocation(deploy_function.logical_id, attempts=1))

    # When it is invoked directly, without a record, while stdout goes to a buffer
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        result = local.invoke(deploy_function, load_event("ecr-delete.json"))

    # Then its log line is on that stdout
    assert result["status"] == "IGNORED"
    assert "Event ignored" in stdout.getvalue()
