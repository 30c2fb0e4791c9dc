"""Slack's renderer: the Block Kit message of every status, within Slack's limits (no network, no AWS)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushdeploy.domain.channels import STATUS_MARKERS, console_links, describe_changes
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.notification import STATUSES
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
    describe_duration,
    render_slack,
)
from pushdeploy.domain.taskdef import Change
from tests.helpers import notification_schema
from tests.unit.builders import ACCOUNT, REGION, deploying_report, image_push
from tests.unit.notification_records import (
    LAYER,
    PUBLISHED,
    published_record,
    records,
)
from tools.sample_world import SECRET_VALUE

CONSOLE = f"https://{REGION}.console.aws.amazon.com/ecs/v2"


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


@pytest.fixture(params=sorted(STATUSES))
def record(request: pytest.FixtureRequest) -> dict[str, Any]:
    return published_record(str(request.param))


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


def test_a_service_is_linked_without_a_revision_when_the_region_is_known() -> None:
    # Given a skipped target (no task definition ARN), rendered where the notifier's Region is known
    # When it is rendered, with the Region and without
    with_region = render_slack(records()["SKIPPED"], region=REGION)
    without = render_slack(records()["SKIPPED"])

    # Then the service has its button when a Region is known; no link is invented without one
    buttons = blocks_of(with_region, "actions")[0]["elements"]
    assert [button["text"]["text"] for button in buttons] == ["Open the service"]
    assert buttons[0]["url"] == f"{CONSOLE}/clusters/main/services/api-prod/health?region={REGION}"
    assert blocks_of(without, "actions") == []
    assert "*Target*\nprod\nmain / api-prod" in everything(without)


@pytest.mark.parametrize("where", ["record", "notifier"])
def test_a_failure_before_a_task_definition_was_read_links_to_the_service(where: str) -> None:
    # Given a FAILED record for an existing service whose secret was missing (no task definition read), the
    # Region carried by the record or known only to the notifier
    report = TargetReport(
        push=image_push(),
        target="staging",
        status=DeployStatus.FAILED,
        cluster="main",
        service="api",
        reason="secret parameter(s) not found in Parameter Store: /api/NOPE",
    )
    record = render_notification(report, time=PUBLISHED, region=REGION if where == "record" else None).message
    notification_schema().validate(record)

    # When it is rendered
    payload = render_slack(record, region=None if where == "record" else REGION)

    # Then it has a button to the service in the console of that Region, and none to a task definition
    buttons = {element["text"]["text"]: element["url"] for element in blocks_of(payload, "actions")[0]["elements"]}
    assert buttons == {"Open the service": f"{CONSOLE}/clusters/main/services/api/health?region={REGION}"}
    assert_within_slack_limits(payload)


def test_no_buttons_when_cluster_and_service_are_unknown() -> None:
    # Given a FAILED record for a target whose config did not parse (no cluster, service or revision known)
    record = render_notification(
        TargetReport(push=image_push(), target="staging", status=DeployStatus.FAILED, reason="config: not JSON"),
        time=PUBLISHED,
    ).message
    notification_schema().validate(record)

    # When it is rendered, even with a Region
    payload = render_slack(record, region=REGION)

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
