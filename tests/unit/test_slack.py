"""The Slack notifier's pure parts: the Block Kit message of every status, the record and webhook checks, and
the use case's routing and failure handling with in-memory fakes (no network, no AWS)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from pushdeploy.adapters.slack import RetryPolicy, SlackWebhookClient
from pushdeploy.domain.channels import STATUS_MARKERS, console_links, describe_changes
from pushdeploy.domain.errors import AwsCallError, DeployError
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.outcome import Outcome, render_outcome
from pushdeploy.domain.push import Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.slack import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_FALLBACK_TEXT,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    Delivery,
    InvalidNotificationError,
    SlackRejectedError,
    SlackUnavailableError,
    WebhookNotFoundError,
    WebhookUrlError,
    check_webhook_url,
    describe_duration,
    parse_notification,
    redact,
    render_slack,
)
from pushdeploy.domain.taskdef import Change
from pushdeploy.settings import SettingsError, SlackSettings
from pushdeploy.usecases.notify_slack import SlackNotifier, SlackNotifyError
from tests.helpers import notification_schema
from tests.unit.builders import ACCOUNT, REGION, deploying_report, image_push, skipped_report
from tools.sample_world import SECRET_VALUE

LAYER = Path(__file__).resolve().parents[2] / "layers" / "pushdeploy"
PUBLISHED = "2026-11-20T10:15:31+00:00"
FINISHED = "2026-11-20T10:17:36+00:00"
SECRET_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/api/staging/DATABASE_URL"
ROTATED_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/api/staging/DATABASE_URL_V2"
WEBHOOK = "https://hooks.slack.com/services/T0PUSHDPL/B0DEFAULT/Xy9TokenThatIsSecret"
TEAM_A_WEBHOOK = "https://hooks.slack.com/services/T0PUSHDPL/B0TEAMAAA/TeamATokenThatIsSecret"
PATH = "/pushdeploy-slack"
CIRCUIT_BREAKER = "ECS deployment circuit breaker: task failed to start."


# --- Records for every status, built by the same domain code that publishes them ----------------------------


def deploying_record(trigger: Trigger = Trigger.PUSH, requested_by: str | None = None) -> dict[str, Any]:
    """A DEPLOYING record with an image, an environment and a secret change, and a warning."""
    push = replace(image_push(trigger=trigger), requested_by=requested_by)
    report = replace(
        deploying_report(push),
        changes=(
            *deploying_report(push).changes,
            Change("app", "secret", "DATABASE_URL", SECRET_ARN, ROTATED_ARN),
            Change("app", "secret", "STRIPE_KEY", None, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/api/STRIPE_KEY"),
        ),
        warnings=("secretsPath /api/staging/env holds no parameters",),
    )
    return render_notification(report, time=PUBLISHED).message


def records() -> dict[str, dict[str, Any]]:
    """One record of each status, as the deploy and track functions publish them."""
    started = deploying_record()
    return {
        "DEPLOYING": started,
        "COMPLETED": render_outcome(
            started, Outcome.COMPLETED, reason=None, duration_seconds=125.3, time=FINISHED
        ).message,
        "FAILED": render_outcome(
            started, Outcome.FAILED, reason=CIRCUIT_BREAKER, duration_seconds=310.0, time=FINISHED
        ).message,
        "ROLLED_BACK": render_outcome(
            started,
            Outcome.ROLLED_BACK,
            reason=f"ECS rolled the deployment back (deployment ecs-svc/99): {CIRCUIT_BREAKER}",
            duration_seconds=3725.0,
            time=FINISHED,
        ).message,
        "SKIPPED": render_notification(
            skipped_report(replace(image_push(trigger=Trigger.MANUAL), requested_by="alice@example.com")),
            time=PUBLISHED,
        ).message,
    }


@pytest.fixture(params=sorted(STATUS_MARKERS))
def record(request: pytest.FixtureRequest) -> dict[str, Any]:
    built = records()[str(request.param)]
    # Every record these tests render is one the published schema accepts.
    notification_schema().validate(built)
    return built


def texts(payload: Mapping[str, Any]) -> list[str]:
    """Every text of a payload a person reads: the fallback, headers, sections, fields, context, buttons."""
    found = [str(payload["text"])]
    for block in payload["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [item["text"] for item in block.get("fields", [])]
        for element in block.get("elements", []):
            found.append(element["text"]["text"] if element["type"] == "button" else element["text"])
    return found


def mrkdwn_texts(payload: Mapping[str, Any]) -> list[str]:
    """The texts Slack parses for links and mentions: the fallback and every mrkdwn object."""
    found = [str(payload["text"])]
    for block in payload["blocks"]:
        objects = [block.get("text") or {}, *block.get("fields", []), *block.get("elements", [])]
        found += [obj["text"] for obj in objects if obj.get("type") == "mrkdwn"]
    return found


def everything(payload: Mapping[str, Any]) -> str:
    return "\n".join(texts(payload))


def blocks_of(payload: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block for block in payload["blocks"] if block["type"] == kind]


def assert_within_slack_limits(payload: Mapping[str, Any]) -> None:
    assert len(payload["blocks"]) <= MAX_BLOCKS
    assert len(payload["text"]) <= MAX_FALLBACK_TEXT
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER_TEXT
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
            assert len(block.get("fields", [])) <= MAX_FIELDS
            assert all(len(item["text"]) <= MAX_FIELD_TEXT for item in block.get("fields", []))
        for element in block.get("elements", []):
            if element["type"] == "button":
                assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT


# --- render_slack ------------------------------------------------------------------------------------------


def test_every_status_shows_marker_image_target_revision_trigger_and_links(record: dict[str, Any]) -> None:
    # Given a record of any status
    status = record["status"]

    # When it is rendered for Slack
    payload = render_slack(record)

    # Then the header and the fallback lead with the status's marker
    header = blocks_of(payload, "header")[0]["text"]["text"]
    assert header.startswith(STATUS_MARKERS[status])
    assert payload["text"].startswith(STATUS_MARKERS[status])
    fields = "\n".join(item["text"] for item in blocks_of(payload, "section")[0]["fields"])
    # And the facts: status, repository:tag and short digest, target/cluster/service, revision before → after
    assert f"*Status*\n{STATUS_MARKERS[status]} {status}" in fields
    assert f"{record['repository']}:{record['tag']}" in fields
    assert "`sha256:4f4f4f4f4f4f`" in fields
    assert "sha256:" + "4f" * 32 not in everything(payload)  # the short digest only
    assert f"*Target*\n{record['target']}\nmain / {record['service']}" in fields
    assert "*Revision*\n" in fields
    # And the trigger, with who asked where the record says
    expected_trigger = "manual deploy by alice@example.com" if record["trigger"] == "manual" else "docker push"
    assert f"*Triggered by*\n{expected_trigger}" in fields
    # And a plain-text fallback that says the same in one line
    assert "\n" not in payload["text"]
    assert f"{record['repository']}:{record['tag']}" in payload["text"]
    assert_within_slack_limits(payload)


@pytest.mark.parametrize(
    ("status", "revisions"),
    [
        ("DEPLOYING", "api:7 → api:8"),
        ("COMPLETED", "api:7 → api:8"),
        ("FAILED", "api:7 → api:8"),
        ("ROLLED_BACK", "api:7 → api:8"),
        ("SKIPPED", "- → -"),
    ],
)
def test_revision_before_and_after(status: str, revisions: str) -> None:
    # Given a record of ``status``
    # When it is rendered
    payload = render_slack(records()[status])

    # Then the revision field reads before → after ("-" where none is known)
    assert f"*Revision*\n{revisions}" in everything(payload)
    assert revisions in payload["text"]


@pytest.mark.parametrize("status", ["DEPLOYING", "COMPLETED", "FAILED", "ROLLED_BACK"])
def test_changed_fields_name_secrets_and_never_their_values(status: str) -> None:
    # Given a record whose revision changed an image, a variable and two secrets
    record = records()[status]

    # When it is rendered
    payload = render_slack(record)
    text = everything(payload)

    # Then every change has a line, as describe_changes words it (escaped for mrkdwn)
    section = next(block["text"]["text"] for block in blocks_of(payload, "section") if "*Changes*" in str(block))
    assert section.startswith("*Changes* (4)")
    for line in describe_changes(record):
        assert line.replace(">", "&gt;") in section
    # And secrets appear by name and the parameter they come from, never by value
    assert "secret DATABASE_URL changed (from /api/staging/DATABASE_URL_V2)" in section
    assert "secret STRIPE_KEY added (from /api/STRIPE_KEY)" in section
    assert SECRET_VALUE not in json.dumps(payload)
    assert SECRET_VALUE not in text


def test_skipped_has_no_changes_block() -> None:
    # Given a skipped target (nothing registered)
    # When it is rendered
    payload = render_slack(records()["SKIPPED"])

    # Then there is no changes section
    assert "*Changes*" not in everything(payload)


@pytest.mark.parametrize(
    ("status", "duration"),
    [("COMPLETED", "2 min 05 s"), ("FAILED", "5 min 10 s"), ("ROLLED_BACK", "1 h 02 min")],
)
def test_duration_shown_when_known(status: str, duration: str) -> None:
    # Given an outcome with the time from push to outcome
    # When it is rendered
    payload = render_slack(records()[status])

    # Then the duration is a field
    assert f"*Duration*\n{duration}" in everything(payload)


@pytest.mark.parametrize("status", ["DEPLOYING", "SKIPPED"])
def test_no_duration_field_when_unknown(status: str) -> None:
    # Given a record without durationSeconds
    # When it is rendered
    # Then no duration field is shown
    assert "*Duration*" not in everything(render_slack(records()[status]))


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.4, "0.4 s"), (45, "45 s"), (59.6, "1 min 00 s"), (125.3, "2 min 05 s"), (3725, "1 h 02 min")],
)
def test_duration_words(seconds: float, words: str) -> None:
    # Given a duration in seconds
    # When it is described
    # Then it reads as people say it
    assert describe_duration(seconds) == words


@pytest.mark.parametrize("status", ["FAILED", "ROLLED_BACK", "SKIPPED"])
def test_reason_shown_for_failures_rollbacks_and_skips(status: str) -> None:
    # Given a record that carries a reason
    record = records()[status]

    # When it is rendered
    payload = render_slack(record)

    # Then a Reason section says it, and so does the fallback
    assert f"*Reason*\n{record['reason']}" in everything(payload)
    assert payload["text"].endswith(f": {record['reason']}")


@pytest.mark.parametrize("status", ["DEPLOYING", "COMPLETED"])
def test_no_reason_section_for_success(status: str) -> None:
    # Given a record without a reason
    # When it is rendered
    # Then no Reason section is shown
    assert "*Reason*" not in everything(render_slack(records()[status]))


def test_warnings_are_listed() -> None:
    # Given a DEPLOYING record with a warning
    # When it is rendered
    payload = render_slack(records()["DEPLOYING"])

    # Then it has a Warnings section with the warning
    assert ":warning: *Warnings* (1)\n• secretsPath /api/staging/env holds no parameters" in everything(payload)


@pytest.mark.parametrize("status", ["DEPLOYING", "COMPLETED", "FAILED", "ROLLED_BACK"])
def test_console_links_are_buttons(status: str) -> None:
    # Given a record that names a service and a task definition
    record = records()[status]

    # When it is rendered
    payload = render_slack(record)

    # Then buttons open the service and the task definition in the AWS console
    buttons = {element["text"]["text"]: element["url"] for element in blocks_of(payload, "actions")[0]["elements"]}
    links = console_links(record)
    assert buttons == {
        "Open the service": links["service"],
        "Open the task definition": links["taskDefinition"],
    }
    assert all(url.startswith("https://us-east-1.console.aws.amazon.com/ecs/v2/") for url in buttons.values())


def test_skipped_without_a_revision_has_no_buttons() -> None:
    # Given a skipped target (no task definition ARN: the console link's region comes from it)
    # When it is rendered
    payload = render_slack(records()["SKIPPED"])

    # Then there are no buttons, and the rest is there
    assert blocks_of(payload, "actions") == []
    assert "*Target*\nprod\nmain / api-prod" in everything(payload)


def test_no_buttons_without_a_task_definition() -> None:
    # Given a FAILED record for a target whose config did not parse (nothing known)
    record = render_notification(
        TargetReport(push=image_push(), target="staging", status=DeployStatus.FAILED, reason="config: not JSON"),
        time=PUBLISHED,
    ).message
    notification_schema().validate(record)

    # When it is rendered
    payload = render_slack(record)

    # Then there is no actions block, and the target says its cluster and service are unknown
    assert blocks_of(payload, "actions") == []
    assert "cluster and service unknown" in everything(payload)
    assert_within_slack_limits(payload)


def test_manual_rollback_names_who_asked_and_the_tags() -> None:
    # Given the DEPLOYING record of a manual rollback, as the rollback use case publishes it
    push = replace(image_push(tag="v1.4.1", trigger=Trigger.ROLLBACK), requested_by="bob")
    current = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api-prod:5"
    previous = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api-prod:4"
    plan = {
        "from": current,
        "to": previous,
        "fromTag": "v1.4.2",
        "toTag": "v1.4.1",
        "stopsDeploymentInProgress": False,
    }
    report = TargetReport(
        push,
        "prod",
        DeployStatus.DEPLOYING,
        cluster="prod",
        service="api",
        task_definition_arn=previous,
        previous_task_definition_arn=current,
        reason="rollback of prod from api-prod:5 (v1.4.2) to api-prod:4 (v1.4.1)",
        extra={"rollback": plan},
    )
    record = render_notification(report, time=PUBLISHED).message
    notification_schema().validate(record)

    # When it is rendered
    text = everything(render_slack(record))

    # Then it says it is a rollback, by whom, and from which tag to which
    assert "rollback of api:v1.4.1 is deploying to prod" in text
    assert "*Triggered by*\nrollback by bob" in text
    assert "*Rollback*\nv1.4.2 (api-prod:5) → v1.4.1 (api-prod:4)" in text


def test_many_changes_are_cut_with_a_count() -> None:
    # Given a revision that changes 300 variables, each with a long value
    push = image_push()
    report = replace(
        deploying_report(push),
        changes=tuple(Change("app", "environment", f"VAR_{index:03d}", None, "v" * 400) for index in range(300)),
    )
    record = render_notification(report, time=PUBLISHED).message
    notification_schema().validate(record)

    # When it is rendered
    payload = render_slack(record)

    # Then the changes section fits Slack and ends with how many were left out
    section = next(block["text"]["text"] for block in blocks_of(payload, "section") if "*Changes*" in str(block))
    assert section.startswith("*Changes* (300)")
    listed = section.count("\n• ")
    assert 0 < listed < 300
    assert section.endswith(f"\n… and {300 - listed} more changes")
    assert_within_slack_limits(payload)


def test_few_long_changes_still_fit() -> None:
    # Given five changes whose values are longer than a section
    report = replace(
        deploying_report(),
        changes=tuple(Change("app", "environment", f"VAR_{index}", None, "<&>" * 2000) for index in range(5)),
    )
    record = render_notification(report, time=PUBLISHED).message

    # When it is rendered
    payload = render_slack(record)

    # Then each line is cut, escaped entities are never split, and the section fits
    assert_within_slack_limits(payload)
    section = next(block["text"]["text"] for block in blocks_of(payload, "section") if "*Changes*" in str(block))
    assert "&am…" not in section
    assert "&l…" not in section


def test_long_reason_and_many_warnings_fit() -> None:
    # Given a failure with a very long reason and 200 warnings
    record = {
        **records()["FAILED"],
        "reason": "x" * 10_000,
        "warnings": [f"warning {index} " + "w" * 100 for index in range(200)],
    }
    notification_schema().validate(record)

    # When it is rendered
    payload = render_slack(record)

    # Then every text fits and the warnings end with a count
    assert_within_slack_limits(payload)
    assert "… and " in everything(payload)
    assert "more warnings" in everything(payload)


def test_text_from_the_record_cannot_mention_or_link() -> None:
    # Given a reason and a warning that try to ping the channel and hide a link
    record = {
        **records()["FAILED"],
        "reason": "<!channel> see <https://evil.example|the fix> & more",
        "warnings": ["<@U123> look"],
    }

    # When it is rendered
    payload = render_slack(record)

    # Then the mrkdwn is escaped: no mention, no link
    text = everything(payload)
    assert "<!channel>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt; see &lt;https://evil.example|the fix&gt; &amp; more" in text
    assert "<" not in "".join(mrkdwn_texts(payload))


@settings(max_examples=60, deadline=None)
@given(
    status=st.sampled_from(sorted(STATUS_MARKERS)),
    repository=st.text(min_size=1, max_size=300),
    tag=st.text(max_size=200),
    target=st.text(min_size=1, max_size=200),
    reason=st.text(min_size=1, max_size=5000),
    names=st.lists(st.text(max_size=300), max_size=60),
    warnings=st.lists(st.text(max_size=600), max_size=40),
    duration=st.none() | st.floats(min_value=0, max_value=1e7),
)
def test_any_record_fits_slack_limits(
    status: str,
    repository: str,
    tag: str,
    target: str,
    reason: str,
    names: list[str],
    warnings: list[str],
    duration: float | None,
) -> None:
    # Given any record text, any number of changes and warnings
    record: dict[str, Any] = {
        **records()["DEPLOYING"],
        "status": status,
        "repository": repository,
        "tag": tag,
        "target": target,
        "reason": reason,
        "changes": [
            {"container": "app", "field": "environment", "name": name, "before": None, "after": name} for name in names
        ],
        "warnings": warnings,
    }
    if duration is not None:
        record["durationSeconds"] = duration

    # When it is rendered
    payload = render_slack(record)

    # Then it always fits Slack's limits, and nothing from the record opens a link or mention
    assert_within_slack_limits(payload)
    assert "\n" not in payload["text"]
    assert "\n" not in payload["blocks"][0]["text"]["text"]
    assert "<" not in "".join(mrkdwn_texts(payload))
    json.dumps(payload)


def test_slack_module_is_pure() -> None:
    # Given a fresh interpreter
    code = (
        "import sys\nimport pushdeploy.domain.slack\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'boto3', 'botocore', 'urllib3', 'http'}"
        " or m == 'urllib.request'))\n"
    )

    # When the Slack domain module is imported
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(LAYER)}, capture_output=True, text=True, check=True
    )

    # Then no AWS SDK or HTTP module was loaded
    assert result.stdout.strip() == "[]"


# --- parse_notification ------------------------------------------------------------------------------------


def test_every_published_record_parses(record: dict[str, Any]) -> None:
    # Given a published record as the SNS message
    # When it is parsed
    # Then it comes back unchanged
    assert parse_notification(json.dumps(record)) == record


def test_unknown_keys_are_kept_not_refused() -> None:
    # Given a record from a newer publisher with an additive field (the schema keeps its version for those)
    record = {**records()["COMPLETED"], "costCenter": "payments"}

    # When it is parsed
    # Then it is accepted as it is
    assert parse_notification(json.dumps(record))["costCenter"] == "payments"


def _without(key: str) -> dict[str, Any]:
    record = dict(records()["FAILED"])
    del record[key]
    return record


INVALID_RECORDS: list[tuple[str, Any, str]] = [
    ("empty object", {}, "missing key(s) schemaVersion, status, repository, tag, digest, image, target, trigger"),
    ("no status", _without("status"), "missing key(s) status"),
    ("no target", _without("target"), "missing key(s) target"),
    ("failure without reason", _without("reason"), "missing key(s) reason"),
    ("unknown status", {**records()["FAILED"], "status": "EXPLODED"}, 'got "EXPLODED"'),
    ("unknown trigger", {**records()["FAILED"], "trigger": "cron"}, "trigger must be one of push, manual, rollback"),
    (
        "future version",
        {**records()["FAILED"], "schemaVersion": 2},
        "schemaVersion is 2; this notifier reads version 1",
    ),
    ("numeric tag", {**records()["FAILED"], "tag": 42}, "tag must be a string"),
    ("empty repository", {**records()["FAILED"], "repository": ""}, "repository must be a non-empty string"),
    ("bad digest", {**records()["FAILED"], "digest": "md5:abc"}, "digest must be sha256:<64 hex>"),
    ("bad changes", {**records()["FAILED"], "changes": [{"container": "app"}]}, "changes[0] lacks field, before"),
    ("negative duration", {**records()["FAILED"], "durationSeconds": -1}, "durationSeconds must be a number"),
    ("warnings not a list", {**records()["FAILED"], "warnings": "careful"}, "warnings must be a list of strings"),
]


@pytest.mark.parametrize(("case", "record", "problem"), INVALID_RECORDS, ids=[case for case, _, _ in INVALID_RECORDS])
def test_invalid_records_are_refused_as_the_schema_refuses_them(case: str, record: Any, problem: str) -> None:
    # Given a record the published schema refuses
    assert not notification_schema().is_valid(record), case

    # When the notifier parses it
    # Then it refuses it too, naming the problem
    with pytest.raises(InvalidNotificationError, match="is not a pushdeploy notification") as raised:
        parse_notification(json.dumps(record))
    assert problem in str(raised.value)


def test_a_webhook_name_that_leaves_the_path_is_refused() -> None:
    # Given a record whose slackWebhook would climb out of the webhook path (the schema refuses it too)
    record = {**records()["FAILED"], "slackWebhook": "../prod/default"}
    assert not notification_schema().is_valid(record)

    # When it is parsed
    # Then the notifier refuses it: it names a parameter under the path, as config.py requires of targets
    with pytest.raises(InvalidNotificationError, match="slackWebhook must be a parameter name"):
        parse_notification(json.dumps(record))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "the SNS message is not JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        (None, "must be a JSON string, got NoneType"),
    ],
)
def test_messages_that_are_not_records_are_refused(body: str | None, problem: str) -> None:
    # Given an SNS message that is not a JSON object
    # When it is parsed
    # Then the error says what it is
    with pytest.raises(InvalidNotificationError, match=problem):
        parse_notification(body)


# --- check_webhook_url and redact ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        WEBHOOK,
        "https://hooks.slack.com:443/services/T0/B0/x",
        "https://hooks.slack.com/triggers/T0/123/abc",
    ],
)
def test_slack_webhook_urls_pass(url: str) -> None:
    # Given a Slack incoming-webhook URL
    # When it is checked
    # Then it passes unchanged
    assert check_webhook_url(url, parameter=f"{PATH}/default") == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "it is empty"),
        ("http://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret", 'got scheme "http" and host "hooks.slack.com"'),
        ("https://hooks.slack.com.evil.example/services/Xy9TokenThatIsSecret", 'host "hooks.slack.com.evil.example"'),
        ("https://user:Xy9TokenThatIsSecret@hooks.slack.com/services/T0", "user name or password"),
        ("https://hooks.slack.com:8443/services/T0/B0/Xy9TokenThatIsSecret", "port 8443"),
        ("https://hooks.slack.com/", "no webhook path"),
        ("https://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret\n", "whitespace or control characters"),
        ("hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret", "host null"),
        ("http://127.0.0.1:8080/services/T0/B0/Xy9TokenThatIsSecret", 'scheme "http" and host "127.0.0.1" port 8080'),
    ],
)
def test_other_urls_are_refused_without_quoting_them(url: str, problem: str) -> None:
    # Given a parameter that holds something other than a Slack webhook URL (loopback not allowed)
    # When it is checked
    with pytest.raises(WebhookUrlError) as raised:
        check_webhook_url(url, parameter=f"{PATH}/default")

    # Then the error names the parameter and the problem, never the URL or its token
    message = str(raised.value)
    assert message.startswith(f"Slack webhook parameter {PATH}/default is not usable: ")
    assert problem in message
    assert "Xy9TokenThatIsSecret" not in message
    assert "/services/" not in message


def test_loopback_passes_only_when_allowed() -> None:
    # Given a loopback URL, as the tests' webhook server has
    url = "http://127.0.0.1:8080/services/T0/B0/token"

    # When it is checked with loopback allowed
    # Then it passes; localhost names and other addresses still do not
    assert check_webhook_url(url, allow_loopback=True) == url
    for other in ("http://localhost:8080/services/x", "http://10.0.0.1/services/x", "ftp://127.0.0.1/services/x"):
        with pytest.raises(WebhookUrlError):
            check_webhook_url(other, allow_loopback=True)


def test_redact_removes_the_url_and_its_token_in_any_form() -> None:
    # Given texts that quote a webhook URL, its path or its token
    path = "/services/T0PUSHDPL/B0DEFAULT/Xy9TokenThatIsSecret"
    text = f"failed {WEBHOOK} and {WEBHOOK!r} path {path} token Xy9TokenThatIsSecret"

    # When they are redacted
    redacted = redact(text, WEBHOOK)

    # Then nothing of the URL's path remains
    assert "Xy9TokenThatIsSecret" not in redacted
    assert "B0DEFAULT" not in redacted
    assert "/services/" not in redacted
    assert redacted.startswith("failed <redacted>")


# --- Errors -------------------------------------------------------------------------------------------------


def test_rejected_error_names_status_body_and_what_to_do() -> None:
    # Given Slack's answer to a removed webhook
    error = SlackRejectedError(404, "no_service")

    # Then the error is permanent and says the status, Slack's word and a hint
    assert not error.retryable
    assert str(error) == (
        "Slack refused the message: HTTP 404 'no_service' (the webhook was removed or its URL is wrong; "
        "store the current URL in the parameter)"
    )


def test_unavailable_error_is_retryable() -> None:
    # Given Slack kept answering 500
    error = SlackUnavailableError(4, 2.5, "HTTP 500 'oops'")

    # Then the error is retryable and says how hard it tried
    assert error.retryable
    assert "after 4 attempt(s) in 2.5 s (last: HTTP 500 'oops')" in str(error)


# --- The webhook client, without a network -----------------------------------------------------------------


class FakeClock:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Answer(io.BytesIO):
    """A urllib response: a status and a body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body.encode())
        self.status = status


class ScriptedOpener(urllib.request.OpenerDirector):
    """Answers each request with the next scripted response or exception; records the requests."""

    def __init__(self, *script: Answer | BaseException) -> None:
        super().__init__()
        self.script = list(script)
        self.requests: list[tuple[urllib.request.Request, float | None]] = []

    def open(self, fullurl: Any, data: Any = None, timeout: float | None = None) -> Any:
        assert isinstance(fullurl, urllib.request.Request)
        self.requests.append((fullurl, timeout))
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def http_error(status: int, body: str, retry_after: str | None = None) -> urllib.error.HTTPError:
    headers = Message()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return urllib.error.HTTPError(WEBHOOK, status, "error", headers, io.BytesIO(body.encode()))


def client(opener: ScriptedOpener, clock: FakeClock, **policy: Any) -> SlackWebhookClient:
    return SlackWebhookClient(RetryPolicy(**policy), clock=clock, sleep=clock.sleep, jitter=lambda: 0.5, opener=opener)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    # Given the production policy (1 s base, 8 s cap)
    policy = RetryPolicy()

    # When the waits after attempts 1..6 are computed with the lowest and the highest jitter
    lowest = [policy.backoff(attempt, 0.0) for attempt in range(1, 7)]
    highest = [policy.backoff(attempt, 0.999999) for attempt in range(1, 7)]

    # Then each is between half and all of 1, 2, 4, 8, 8, 8 seconds
    assert lowest == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert highest == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0, 8.0], rel=1e-5)


def test_posts_json_and_takes_2xx_as_delivered() -> None:
    # Given Slack answers 200 ok
    opener, clock = ScriptedOpener(Answer(200, "ok")), FakeClock()

    # When a payload is posted
    delivery = client(opener, clock).post(WEBHOOK, {"text": "héllo"}, deadline=clock.now + 30)

    # Then one JSON POST was made, with the per-attempt timeout
    (request, timeout), *_ = opener.requests
    assert request.get_method() == "POST"
    assert request.get_header("Content-type") == "application/json; charset=utf-8"
    assert json.loads(request.data) == {"text": "héllo"}  # type: ignore[arg-type]
    assert timeout == 5.0
    assert delivery == Delivery(attempts=1, seconds=0.0)


def test_retry_after_is_honoured_exactly() -> None:
    # Given Slack rate-limits once with Retry-After: 3
    opener, clock = ScriptedOpener(http_error(429, "rate_limited", "3"), Answer(200, "ok")), FakeClock()

    # When a payload is posted
    delivery = client(opener, clock).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 30)

    # Then the client waited exactly 3 s, then delivered
    assert clock.sleeps == [3.0]
    assert delivery.attempts == 2


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    # Given Slack asks to come back in two minutes, and ten seconds are left
    opener, clock = ScriptedOpener(http_error(429, "rate_limited", "120")), FakeClock()

    # When a payload is posted
    with pytest.raises(SlackUnavailableError, match=r"the next attempt, in 120\.0 s, would miss the deadline"):
        client(opener, clock).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 10)

    # Then it did not wait: the invocation fails now and Lambda retries later
    assert clock.sleeps == []


def test_5xx_and_network_errors_back_off_until_the_attempts_run_out() -> None:
    # Given Slack fails in every way a retry may cure
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    opener = ScriptedOpener(http_error(500, "oops"), refused, TimeoutError("timed out"), http_error(503, "down"))
    clock = FakeClock()

    # When a payload is posted with four attempts allowed
    with pytest.raises(SlackUnavailableError) as raised:
        client(opener, clock, max_attempts=4).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 60)

    # Then it waited 0.75 x 1, 2, 4 s between them and reports the last failure
    assert clock.sleeps == [0.75, 1.5, 3.0]
    assert raised.value.retryable
    assert "after 4 attempt(s) in 5.2 s (last: HTTP 503 'down')" in str(raised.value)


def test_a_network_error_is_described_without_urllib_text() -> None:
    # Given a connection error whose text quotes the URL, then a refused connection
    quoting = urllib.error.URLError(OSError(f"cannot reach {WEBHOOK}"))
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    opener, clock = ScriptedOpener(quoting, refused), FakeClock()

    # When a payload is posted with two attempts allowed
    with pytest.raises(SlackUnavailableError) as raised:
        client(opener, clock, max_attempts=2).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 60)

    # Then the error says what happened in words of its own
    assert "last: ConnectionRefusedError: Connection refused" in str(raised.value)
    assert "Xy9TokenThatIsSecret" not in str(raised.value)
    # And carries no urllib exception along (their attributes hold the URL)
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


@pytest.mark.parametrize(("status", "body"), [(400, "invalid_payload"), (403, "invalid_token"), (404, "no_service")])
def test_other_4xx_are_refused_at_once(status: int, body: str) -> None:
    # Given Slack refuses the request
    opener, clock = ScriptedOpener(http_error(status, body)), FakeClock()

    # When a payload is posted
    with pytest.raises(SlackRejectedError) as raised:
        client(opener, clock).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 60)

    # Then there was one attempt, and the error names the status and Slack's body, not the URL
    assert len(opener.requests) == 1
    assert (raised.value.status, raised.value.body) == (status, body)
    assert "Xy9TokenThatIsSecret" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "htps://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret",
        "https://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret\r\nX-Injected: 1",
        "https://hooks.slack.com/services/T0/B0/Xy9TökenThatIsSecret",
    ],
)
def test_a_url_urllib_cannot_use_is_refused_without_quoting_it(url: str) -> None:
    # Given a URL urllib refuses before connecting (its own message would quote the URL)
    # When a payload is posted with the real opener (the unit tests' network block would stop any connection)
    with pytest.raises(WebhookUrlError) as raised:
        SlackWebhookClient().post(url, {"text": "x"}, deadline=1e12)

    # Then the error names the kind of problem, never the URL
    assert "urllib cannot use it" in str(raised.value)
    assert "Xy9T" not in str(raised.value)
    assert raised.value.__suppress_context__


# --- The use case, with in-memory fakes ---------------------------------------------------------------------


@dataclass
class FakeWebhooks:
    """Webhook parameters in memory; ``rotated`` is what a re-read returns."""

    urls: dict[str, str]
    rotated: dict[str, str] = field(default_factory=dict)
    reads: list[tuple[str, bool]] = field(default_factory=list)

    def parameter_for(self, name: str) -> str:
        return f"{PATH}/{name}"

    def url_for(self, name: str, *, refresh: bool = False) -> str:
        self.reads.append((name, refresh))
        if refresh and name in self.rotated:
            return self.rotated[name]
        if name not in self.urls:
            raise WebhookNotFoundError(self.parameter_for(name))
        return self.urls[name]


@dataclass
class FakePoster:
    """Records posts; ``answers`` maps a URL to the error it raises."""

    answers: dict[str, DeployError] = field(default_factory=dict)
    posts: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    def post(self, url: str, payload: Mapping[str, Any], *, deadline: float) -> Delivery:
        self.posts.append((url, dict(payload), deadline))
        if url in self.answers:
            raise self.answers[url]
        return Delivery(attempts=1, seconds=0.01)


def sns_event(*bodies: str) -> SNSEvent:
    """The Lambda event of an SNS subscription carrying ``bodies``."""
    return SNSEvent(
        {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:pushdeploy:sub",
                    "Sns": {"Type": "Notification", "MessageId": f"msg-{index}", "Message": body},
                }
                for index, body in enumerate(bodies)
            ]
        }
    )


def notifier(webhooks: FakeWebhooks, poster: FakePoster, **options: Any) -> SlackNotifier:
    return SlackNotifier(webhooks=webhooks, poster=poster, clock=lambda: 1000.0, **options)


@pytest.fixture
def webhooks() -> FakeWebhooks:
    return FakeWebhooks({"default": WEBHOOK, "team-a": TEAM_A_WEBHOOK})


def test_routes_each_record_to_its_webhook(webhooks: FakeWebhooks) -> None:
    # Given two records, one for a target with its own webhook
    poster = FakePoster()
    team_a = {**records()["COMPLETED"], "slackWebhook": "team-a"}
    notification_schema().validate(team_a)
    event = sns_event(json.dumps(records()["DEPLOYING"]), json.dumps(team_a))

    # When they are notified
    result = notifier(webhooks, poster).notify(event, remaining_ms=60_000)

    # Then each went to its channel, with its rendered payload
    assert [(url, payload) for url, payload, _ in poster.posts] == [
        (WEBHOOK, render_slack(records()["DEPLOYING"])),
        (TEAM_A_WEBHOOK, render_slack(team_a)),
    ]
    # And the result names the parameters, never the URLs
    assert [post["webhook"] for post in result["posted"]] == [f"{PATH}/default", f"{PATH}/team-a"]
    assert "hooks.slack.com" not in json.dumps(result)


def test_deadline_leaves_a_margin(webhooks: FakeWebhooks) -> None:
    # Given a minute left, and then only four seconds left
    poster = FakePoster()
    body = json.dumps(records()["DEPLOYING"])

    # When notified
    notifier(webhooks, poster, margin_seconds=5).notify(sns_event(body), remaining_ms=60_000)
    notifier(webhooks, poster, margin_seconds=5).notify(sns_event(body), remaining_ms=4_000)

    # Then retries end five seconds before the function would time out, or half-way when that is too little
    assert [deadline for _, _, deadline in poster.posts] == [1055.0, 1002.0]


def test_one_failure_does_not_stop_the_others_and_raises_after_all(webhooks: FakeWebhooks) -> None:
    # Given three records: one for an unknown webhook, one that is not a record, one fine
    poster = FakePoster()
    unknown = {**records()["FAILED"], "slackWebhook": "team-z"}
    event = sns_event(json.dumps(unknown), '{"hello": "world"}', json.dumps(records()["COMPLETED"]))

    # When they are notified
    with pytest.raises(SlackNotifyError) as raised:
        notifier(webhooks, poster).notify(event, remaining_ms=60_000)

    # Then the good one was posted
    assert [url for url, _, _ in poster.posts] == [WEBHOOK]
    # And the error names both failures: the missing parameter and the problem with the record
    error = raised.value
    assert "2 of 3 Slack notification(s) not posted" in str(error)
    assert f"Slack webhook parameter {PATH}/team-z not found in Parameter Store" in str(error)
    assert "FAILED of api:staging-42 to staging" in str(error)
    assert "record 2 (SNS message msg-1): the SNS message is not a pushdeploy notification" in str(error)
    assert "missing key(s) schemaVersion" in str(error)
    # And neither failure may pass by retrying
    assert not error.retryable


def test_a_retryable_failure_makes_the_error_retryable(webhooks: FakeWebhooks) -> None:
    # Given Slack unavailable for the default channel, and a permanent refusal for team-a
    poster = FakePoster(
        {WEBHOOK: SlackUnavailableError(3, 50.0, "HTTP 503 'down'"), TEAM_A_WEBHOOK: SlackRejectedError(400, "bad")}
    )
    team_a = {**records()["COMPLETED"], "slackWebhook": "team-a"}
    event = sns_event(json.dumps(records()["DEPLOYING"]), json.dumps(team_a))

    # When notified
    with pytest.raises(SlackNotifyError) as raised:
        notifier(webhooks, poster).notify(event, remaining_ms=60_000)

    # Then both were tried, and the error is retryable (a later attempt may deliver the first)
    assert len(poster.posts) == 2
    assert raised.value.retryable
    assert isinstance(raised.value.__cause__, SlackUnavailableError)


def test_parameter_store_failure_is_retryable(webhooks: FakeWebhooks) -> None:
    # Given Parameter Store throttles
    class Throttled(FakeWebhooks):
        def url_for(self, name: str, *, refresh: bool = False) -> str:
            raise AwsCallError("ssm:GetParameter", "ThrottlingException", "Rate exceeded")

    # When notified
    with pytest.raises(SlackNotifyError) as raised:
        notifier(Throttled({}), FakePoster()).notify(sns_event(json.dumps(records()["FAILED"])), remaining_ms=60_000)

    # Then the error is retryable and says what failed
    assert raised.value.retryable
    assert "ssm:GetParameter failed: ThrottlingException" in str(raised.value)


def test_a_replaced_webhook_is_read_again_once(webhooks: FakeWebhooks) -> None:
    # Given the cached URL was revoked (404) and the parameter now holds a new one
    new_url = "https://hooks.slack.com/services/T0PUSHDPL/B0DEFAULT/NewTokenAfterRotation"
    webhooks.rotated["default"] = new_url
    poster = FakePoster({WEBHOOK: SlackRejectedError(404, "no_service")})

    # When notified
    notifier(webhooks, poster).notify(sns_event(json.dumps(records()["DEPLOYING"])), remaining_ms=60_000)

    # Then the parameter was re-read and the message posted to the new URL
    assert webhooks.reads == [("default", False), ("default", True)]
    assert [url for url, _, _ in poster.posts] == [WEBHOOK, new_url]


def test_a_revoked_webhook_that_was_not_replaced_fails_for_good(webhooks: FakeWebhooks) -> None:
    # Given the URL was revoked and the parameter still holds it
    poster = FakePoster({WEBHOOK: SlackRejectedError(403, "invalid_token")})

    # When notified
    with pytest.raises(SlackNotifyError) as raised:
        notifier(webhooks, poster).notify(sns_event(json.dumps(records()["DEPLOYING"])), remaining_ms=60_000)

    # Then it was posted once, and the error is permanent and says what to do
    assert len(poster.posts) == 1
    assert not raised.value.retryable
    assert "HTTP 403 'invalid_token' (the webhook's token was revoked" in str(raised.value)


def test_a_parameter_holding_another_url_is_refused_before_posting(webhooks: FakeWebhooks) -> None:
    # Given the default parameter holds a URL that is not Slack's
    webhooks.urls["default"] = "https://example.com/collect/Xy9TokenThatIsSecret"
    poster = FakePoster()

    # When notified
    with pytest.raises(SlackNotifyError) as raised:
        notifier(webhooks, poster).notify(sns_event(json.dumps(records()["DEPLOYING"])), remaining_ms=60_000)

    # Then nothing was posted, and the error names the parameter and not the URL
    assert poster.posts == []
    assert f"Slack webhook parameter {PATH}/default is not usable" in str(raised.value)
    assert "Xy9TokenThatIsSecret" not in str(raised.value)


def test_an_event_without_records_is_ignored(webhooks: FakeWebhooks) -> None:
    # Given an event that is not from SNS
    poster = FakePoster()

    # When notified
    result = notifier(webhooks, poster).notify(SNSEvent({"source": "aws.events"}), remaining_ms=60_000)

    # Then nothing happens and the result says why
    assert result == {"status": "IGNORED", "reason": "not an SNS event (no Records)"}
    assert poster.posts == []


def test_a_record_without_its_sns_part_is_an_error(webhooks: FakeWebhooks) -> None:
    # Given an SNS event whose record lost its Sns part
    event = SNSEvent({"Records": [{"EventSource": "aws:sns"}]})

    # When notified
    with pytest.raises(SlackNotifyError, match=r"record 1: the SNS record is malformed \(KeyError"):
        notifier(webhooks, FakePoster()).notify(event, remaining_ms=60_000)


# --- SlackSettings -----------------------------------------------------------------------------------------


def test_slack_settings_from_the_environment() -> None:
    # Given the environment template.yaml sets
    env = {"AWS_REGION": "eu-west-1", "SLACK_WEBHOOK_PATH": "/pushdeploy-slack/", "WEBHOOK_CACHE_SECONDS": "300"}

    # When it is read
    settings = SlackSettings.from_environment(env)

    # Then the path loses its trailing slash, and loopback stays refused
    assert settings == SlackSettings(region="eu-west-1", webhook_path="/pushdeploy-slack", webhook_cache_seconds=300)
    assert not settings.allow_loopback
    assert SlackSettings.from_environment({**env, "SLACK_ALLOW_LOOPBACK": "true"}).allow_loopback


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"AWS_REGION": "eu-west-1"}, "SLACK_WEBHOOK_PATH not set"),
        ({"AWS_REGION": "eu-west-1", "SLACK_WEBHOOK_PATH": "slack"}, "must start with '/'"),
        (
            {"AWS_REGION": "eu-west-1", "SLACK_WEBHOOK_PATH": "/s", "WEBHOOK_CACHE_SECONDS": "5m"},
            "WEBHOOK_CACHE_SECONDS must be a whole number",
        ),
    ],
)
def test_slack_settings_refuse_a_wrong_environment(env: dict[str, str], problem: str) -> None:
    # Given an incomplete or wrong environment
    # When it is read
    # Then the error says which variable is wrong
    with pytest.raises(SettingsError, match=problem):
        SlackSettings.from_environment(env)
