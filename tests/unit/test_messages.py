"""The notification of a target's deploy: the JSON record, its Subject and its attributes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushdeploy.domain.messages import MAX_SUBJECT, SCHEMA_VERSION, render_notification
from pushdeploy.domain.push import Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from tests.unit.builders import (
    DIGEST,
    IMAGE_URI,
    PARAMETER,
    deploying_report,
    failed_report,
    image_push,
)

TIME = "2026-11-20T10:15:31+00:00"
REQUIRED_KEYS = {
    "schemaVersion",
    "status",
    "repository",
    "tag",
    "digest",
    "target",
    "cluster",
    "service",
    "taskDefinitionArn",
    "previousTaskDefinitionArn",
    "changes",
    "trigger",
}


def assert_subject_is_valid_for_sns(subject: str) -> None:
    assert subject.isascii()
    assert len(subject) < 100
    assert len(subject) <= MAX_SUBJECT
    assert "\n" not in subject
    assert "\r" not in subject
    assert all(32 <= ord(ch) < 127 for ch in subject)


def test_deploying_notification_carries_every_field() -> None:
    # Given a target whose service update was accepted
    report = deploying_report()

    # When its notification is rendered
    notification = render_notification(report, time=TIME)

    # Then the record holds every required key with the report's values, and no reason
    message = notification.message
    assert set(message) >= REQUIRED_KEYS
    assert message == {
        "schemaVersion": SCHEMA_VERSION,
        "status": "DEPLOYING",
        "repository": "api",
        "tag": "staging-42",
        "digest": DIGEST,
        "image": IMAGE_URI,
        "target": "staging",
        "cluster": "main",
        "service": "api",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:8",
        "previousTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
        "deploymentId": "ecs-svc/1234567890123456789",
        "changes": [change.as_dict() for change in report.changes],
        "trigger": "push",
        "eventId": "5c1f9d2e-8d0c-4a35-9f6c-2c8e0a1b7d11",
        "time": TIME,
        "configParameter": PARAMETER,
    }
    assert message["schemaVersion"] == 1
    # And it is plain JSON
    assert json.loads(json.dumps(message)) == message


def test_failed_notification_carries_the_reason() -> None:
    # Given a target whose deploy failed
    report = failed_report(reason="secret parameter(s) not found in Parameter Store: /api/KEY")

    # When its notification is rendered
    message = render_notification(report, time=TIME).message

    # Then every required key is there, plus the reason
    assert REQUIRED_KEYS | {"reason"} <= set(message)
    assert message["status"] == "FAILED"
    assert message["reason"] == "secret parameter(s) not found in Parameter Store: /api/KEY"
    assert message["taskDefinitionArn"] is None
    assert message["changes"] == []


def test_failed_config_notification_keeps_unknown_cluster_and_service_as_null() -> None:
    # Given a target whose config did not parse (no cluster or service known)
    report = failed_report(reason="target config ...: not valid JSON", cluster=None, service=None)

    # When its notification is rendered
    message = render_notification(report, time=TIME).message

    # Then the keys are still there, as null
    assert REQUIRED_KEYS | {"reason"} <= set(message)
    assert message["cluster"] is None
    assert message["service"] is None
    assert message["configParameter"] == PARAMETER


def test_attributes_carry_the_filterable_fields() -> None:
    # Given a manual deploy
    report = deploying_report(image_push(trigger=Trigger.MANUAL))

    # When its notification is rendered
    attributes = render_notification(report, time=TIME).attributes

    # Then the attributes carry status, repository, target, cluster, service and trigger
    assert attributes == {
        "status": "DEPLOYING",
        "repository": "api",
        "target": "staging",
        "cluster": "main",
        "service": "api",
        "trigger": "manual",
    }


def test_attributes_never_hold_an_empty_value() -> None:
    # Given a failed report with no cluster or service (SNS refuses empty attribute values)
    report = failed_report(cluster=None, service=None)

    # When its notification is rendered
    attributes = render_notification(report, time=TIME).attributes

    # Then those attributes are left out rather than sent empty
    assert attributes == {"status": "FAILED", "repository": "api", "target": "staging", "trigger": "push"}
    assert all(attributes.values())


def test_subject_says_what_went_where() -> None:
    # Given a deploying report
    # When its subject is rendered
    subject = render_notification(deploying_report(), time=TIME).subject

    # Then it names the status, the image, the target and the service
    assert subject == "pushdeploy DEPLOYING: api:staging-42 to staging (main/api)"


def test_subject_without_a_service_leaves_out_the_parenthesis() -> None:
    # Given a failed report with no service known
    # When its subject is rendered
    subject = render_notification(failed_report(cluster=None, service=None), time=TIME).subject

    # Then it stops after the target
    assert subject == "pushdeploy FAILED: api:staging-42 to staging"


def test_long_subject_is_cut_to_sns_limits() -> None:
    # Given the longest repository name and tag ECR allows
    push = image_push(repository="team/" + "a" * 251, tag="t" * 128)

    # When the subject is rendered
    subject = render_notification(deploying_report(push), time=TIME).subject

    # Then it fits SNS and shows it was cut
    assert_subject_is_valid_for_sns(subject)
    assert len(subject) == MAX_SUBJECT
    assert subject.endswith("...")
    assert subject.startswith("pushdeploy DEPLOYING: team/aaa")


def test_non_ascii_and_line_breaks_are_replaced_in_the_subject() -> None:
    # Given a target and service with non-ASCII letters and a line break
    report = TargetReport(
        push=image_push(),
        target="préprod\nbis",
        status=DeployStatus.FAILED,
        cluster="集群",
        service="api\r\n",
        reason="x",
    )

    # When the subject is rendered
    subject = render_notification(report, time=TIME).subject

    # Then each such character becomes "?"
    assert_subject_is_valid_for_sns(subject)
    assert subject == "pushdeploy FAILED: api:staging-42 to pr?prod?bis (??/api??)"


@pytest.mark.parametrize("status", [DeployStatus.DEPLOYING, DeployStatus.FAILED])
@given(repository=st.text(max_size=300), tag=st.text(max_size=200), target=st.text(max_size=100))
def test_subject_is_always_valid_for_sns(status: DeployStatus, repository: str, tag: str, target: str) -> None:
    # Given any repository, tag and target text
    report = TargetReport(
        push=image_push(repository=repository, tag=tag),
        target=target,
        status=status,
        cluster="main",
        service="api",
        reason="x",
    )

    # When the notification is rendered
    notification = render_notification(report, time=TIME)

    # Then the subject is ASCII, one line, under 100 characters, and no attribute is empty
    assert_subject_is_valid_for_sns(notification.subject)
    assert all(notification.attributes.values())


# --- the report ----------------------------------------------------------------------------------------


def test_report_result_leaves_out_unknown_fields() -> None:
    # Given a failure with no registered revision
    report = failed_report(reason="boom")

    # When it is summarised
    result = report.as_result()

    # Then only the known fields are there
    assert result == {
        "target": "staging",
        "status": "FAILED",
        "cluster": "main",
        "service": "api",
        "previousTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
        "reason": "boom",
    }


def test_report_result_lists_changes() -> None:
    # Given a deploy with changes
    report = deploying_report()

    # When it is summarised
    result = report.as_result()

    # Then its changes are listed as published
    assert result["changes"] == [change.as_dict() for change in report.changes]
    assert result["deploymentId"] == "ecs-svc/1234567890123456789"
