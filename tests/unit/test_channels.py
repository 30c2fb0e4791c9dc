"""The per-protocol bodies of one notification: JSON record, e-mail text, the chat service's format."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pushdeploy.domain.channels import console_links, protocol_bodies, render_chatbot, render_email, thread_id
from pushdeploy.domain.messages import Notification, render_notification
from pushdeploy.domain.outcome import Outcome, render_outcome
from pushdeploy.domain.push import Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from tests.helpers import notification_schema, schema_validator
from tests.unit.builders import ACCOUNT, REGION, deploying_report, failed_report, image_push

SECRET_ARN_FRAGMENT = ":parameter/"


def deploying() -> Notification:
    return render_notification(deploying_report(), time="2026-11-20T10:15:31Z")


def outcomes() -> list[Notification]:
    started = deploying().message
    return [
        render_outcome(started, Outcome.COMPLETED, reason=None, duration_seconds=212.4, time="2026-11-20T10:19:00Z"),
        render_outcome(
            started,
            Outcome.FAILED,
            reason="ECS deployment circuit breaker: task failed to start.",
            duration_seconds=300.0,
            time="2026-11-20T10:20:00Z",
        ),
        render_outcome(
            started,
            Outcome.ROLLED_BACK,
            reason="ECS rolled the deployment back",
            duration_seconds=420.0,
            time="2026-11-20T10:22:00Z",
        ),
    ]


def every_status() -> list[Notification]:
    skipped = replace(deploying_report(), status=DeployStatus.SKIPPED, reason="already deployed", code="duplicate")
    return [
        deploying(),
        render_notification(
            failed_report(target="qa", reason="target config x: missing field"), time="2026-11-20T10:15:31Z"
        ),
        render_notification(skipped, time="2026-11-20T10:15:31Z"),
        *outcomes(),
    ]


@pytest.mark.parametrize("notification", every_status(), ids=lambda n: n.message["status"])
def test_every_body_of_every_status_matches_its_format(notification: Notification) -> None:
    # Given a notification of each status
    # When its per-protocol bodies are rendered
    bodies = protocol_bodies(notification)

    # Then programs get the schema's JSON record, the chat service its custom format, e-mail plain text
    for protocol in ("default", "sqs", "lambda", "email-json"):
        notification_schema().validate(json.loads(bodies[protocol]))
    for protocol in ("https", "http"):
        schema_validator("chatbot-custom-notification.schema.json").validate(json.loads(bodies[protocol]))
    assert not bodies["email"].lstrip().startswith("{")
    # And the whole structure fits in one SNS message (256 KB)
    assert len(json.dumps(bodies).encode()) < 256 * 1024


def test_the_email_body_reads_as_a_report() -> None:
    # Given a DEPLOYING notification with image, environment and secret changes
    message = deploying().message

    # When it is rendered for e-mail
    text = render_email(message)

    # Then it says what happened in words, with the revision, the changes by name and console links
    first_line = text.splitlines()[0]
    assert first_line == f"{message['repository']}:{message['tag']} is deploying to {message['target']}."
    assert "Revision:" in text and "->" in text
    assert "Changes:" in text
    assert "https://us-east-1.console.aws.amazon.com/ecs/v2/" in text


def test_the_chat_format_keeps_one_deploy_in_one_thread() -> None:
    # Given DEPLOYING and each outcome of one deploy
    started = deploying().message
    threads = {render_chatbot(n.message)["metadata"]["threadId"] for n in [deploying(), *outcomes()]}

    # Then all of them share one thread, named after the target and the image
    assert threads == {thread_id(started)}
    assert started["target"] in thread_id(started)


def test_a_failure_says_why_in_every_form() -> None:
    # Given a FAILED notification
    notification = render_notification(
        failed_report(target="qa", reason="secret parameter(s) not found in Parameter Store: /api/NOPE"),
        time="2026-11-20T10:15:31Z",
    )

    # Then the reason is in the e-mail and in the chat message
    assert "Reason:" in render_email(notification.message)
    assert "/api/NOPE" in render_chatbot(notification.message)["content"]["description"]


def test_console_links_point_at_the_service_and_the_revision() -> None:
    # Given a message naming a task-definition revision, a cluster and a service
    message: dict[str, Any] = deploying().message

    # When links are made
    links = console_links(message)

    # Then they open the service's health page and the revision, in the message's Region
    assert set(links) == {"service", "taskDefinition"}
    assert "/clusters/main/services/api/" in links["service"]
    assert links["taskDefinition"].endswith("/task-definitions/api/8/containers?region=us-east-1")


def test_a_message_without_a_revision_has_no_links() -> None:
    # Given a failure before anything was registered
    message = render_notification(failed_report(target="qa", reason="bad"), time="t").message
    message["taskDefinitionArn"] = message["previousTaskDefinitionArn"] = None

    # Then no link is invented
    assert console_links(message) == {}


def test_a_manual_deploy_names_who_asked_for_it() -> None:
    # Given a manual deploy requested by someone
    push = replace(image_push(), trigger=Trigger.MANUAL, requested_by="alice@example.com")
    message = render_notification(replace(deploying_report(), push=push), time="t").message

    # Then every form says who
    assert message["requestedBy"] == "alice@example.com"
    assert "by alice@example.com" in render_email(message)
    assert "by alice@example.com" in render_chatbot(message)["content"]["description"]


def _failed_before_a_task_definition_was_read(region: str | None) -> dict[str, Any]:
    """A FAILED record for an existing service whose secret was missing: no task-definition ARN known."""
    report = TargetReport(
        push=image_push(),
        target="staging",
        status=DeployStatus.FAILED,
        cluster="main",
        service="api",
        reason="secret parameter(s) not found in Parameter Store: /api/NOPE",
    )
    message = render_notification(report, time="2026-11-20T10:15:31Z", region=region).message
    notification_schema().validate(message)
    return message


SERVICE_LINK = f"https://{REGION}.console.aws.amazon.com/ecs/v2/clusters/main/services/api/health?region={REGION}"


def test_a_failure_before_a_task_definition_was_read_links_to_the_service_in_every_form() -> None:
    # Given a FAILED record for an existing service, carrying the Region of its cluster, and no revision
    message = _failed_before_a_task_definition_was_read(REGION)
    assert message["region"] == REGION

    # When its forms are rendered
    links = console_links(message)
    email = render_email(message)
    chat = render_chatbot(message)

    # Then each links to the service in the console of that Region (and to no task definition)
    assert links == {"service": SERVICE_LINK}
    assert f"service: {SERVICE_LINK}" in email
    assert chat["content"]["nextSteps"] == [f"<{SERVICE_LINK}|Open the service>"]
    schema_validator("chatbot-custom-notification.schema.json").validate(chat)


def test_a_record_without_a_region_links_to_the_service_in_the_publishers_region() -> None:
    # Given a FAILED record from a publisher that did not say the Region
    notification = Notification("pushdeploy FAILED", _failed_before_a_task_definition_was_read(None), {})

    # When its bodies are made by a publisher that knows its Region (the topic's)
    bodies = protocol_bodies(notification, region=REGION)

    # Then the e-mail and the chat message link to the service there; the JSON record stays as published
    assert SERVICE_LINK in bodies["email"]
    assert SERVICE_LINK in json.loads(bodies["https"])["content"]["nextSteps"][0]
    assert "region" not in json.loads(bodies["sqs"])


@pytest.mark.parametrize("status", [Outcome.COMPLETED, Outcome.FAILED, Outcome.ROLLED_BACK])
def test_every_status_links_to_the_service(status: Outcome) -> None:
    # Given a deploy whose record carries the Region, and each outcome that follows it
    started = render_notification(deploying_report(), time="2026-11-20T10:15:31Z", region=REGION).message
    outcome = render_outcome(started, status, reason="r", duration_seconds=1.0, time="2026-11-20T10:19:00Z").message

    # Then every one of them links to the service
    for message in (started, outcome):
        assert console_links(message)["service"] == SERVICE_LINK


def test_a_service_named_by_arn_links_by_its_name_and_region() -> None:
    # Given a failure whose target names its cluster and service by ARN (the config allows names or ARNs)
    message = _failed_before_a_task_definition_was_read(None)
    message["cluster"] = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/main"
    message["service"] = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/main/api"

    # Then the link uses the names, in the Region the ARNs name
    assert console_links(message, region=REGION) == {
        "service": "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/main/services/api/health?region=eu-west-1"
    }
