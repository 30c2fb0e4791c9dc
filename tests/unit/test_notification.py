"""The notification record's reader: every published record parses, what the schema refuses is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain import notification
from pushdeploy.domain.channels import STATUS_MARKERS
from pushdeploy.domain.notification import InvalidNotificationError, parse_notification
from tests.helpers import SCHEMAS, notification_schema
from tests.unit.notification_records import published_record, records

SCHEMA: dict[str, Any] = json.loads((SCHEMAS / "notification.schema.json").read_text())


@pytest.fixture(params=sorted(notification.STATUSES))
def record(request: pytest.FixtureRequest) -> dict[str, Any]:
    return published_record(str(request.param))


# --- One source of truth: the reader's rules are the published schema's -----------------------------------


def _conditional_requirements() -> dict[frozenset[str], list[str]]:
    """The schema's ``if status in ... then required ...`` rules, as {statuses: required fields}."""
    return {frozenset(rule["if"]["properties"]["status"]["enum"]): rule["then"]["required"] for rule in SCHEMA["allOf"]}


def test_the_reader_requires_what_the_schema_requires() -> None:
    # Given the published schema (version 1)
    properties = SCHEMA["properties"]

    # Then the reader's version, required fields and conditional requirements are the schema's
    assert properties["schemaVersion"] == {"const": notification.SCHEMA_VERSION}
    assert list(notification.REQUIRED) == SCHEMA["required"]
    assert _conditional_requirements() == {
        notification.NEEDS_REASON: ["reason"],
        notification.NEEDS_SERVICE: list(notification.SERVICE_FIELDS),
        notification.NEEDS_APPROVAL: list(notification.APPROVAL_FIELDS),
        notification.NEEDS_TASK: list(notification.TASK_FIELDS),
        notification.NEEDS_GATES: ["gates"],
    }


def test_the_reader_knows_the_statuses_triggers_and_change_fields_of_the_schema() -> None:
    # Given the published schema's enumerations
    properties = SCHEMA["properties"]

    # Then the reader accepts exactly those, and every status has its marker in every channel's form
    assert list(notification.STATUSES) == properties["status"]["enum"]
    assert list(notification.TRIGGERS) == properties["trigger"]["enum"]
    assert list(notification.CHANGE_FIELDS) == properties["changes"]["items"]["properties"]["field"]["enum"]
    assert set(STATUS_MARKERS) == set(notification.STATUSES)


def test_the_reader_types_the_fields_as_the_schema_does() -> None:
    # Given the schema's string fields: required, optional, nullable
    properties = SCHEMA["properties"]

    def typed(name: str) -> Any:
        return properties[name].get("type")

    # Then the reader checks each one with the schema's type
    for name in (*notification.STRINGS, *notification.NON_EMPTY_STRINGS, *notification.OPTIONAL_STRINGS):
        assert typed(name) == "string", name
    for name in notification.NON_EMPTY_STRINGS:
        assert properties[name]["minLength"] == 1, name
    for name in notification.NULLABLE_STRINGS:
        assert typed(name) == ["string", "null"], name
    # And every string field of the schema is one the reader checks
    checked = {
        *notification.STRINGS,
        *notification.NON_EMPTY_STRINGS,
        *notification.OPTIONAL_STRINGS,
        *notification.NULLABLE_STRINGS,
        "digest",
        "reason",
        "slackWebhook",
    }
    strings = {name for name, spec in properties.items() if spec.get("type") in ("string", ["string", "null"])}
    assert strings == checked
    assert notification.WEBHOOK_NAME.pattern == properties["slackWebhook"]["pattern"].strip("^$")
    assert notification.REGION.pattern == properties["region"]["pattern"].strip("^$")


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
