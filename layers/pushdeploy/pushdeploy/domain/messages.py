"""The notification published for a target's deploy: its JSON record, Subject and attributes.

The record itself, its reader and its Subject rules are ``pushdeploy.domain.notification``; this module
renders a report into one.
"""

from __future__ import annotations

from typing import Any

from pushdeploy.domain.notification import (
    MAX_SUBJECT,
    SCHEMA_VERSION,
    Notification,
    attributes_for,
    subject_for,
)
from pushdeploy.domain.report import TargetReport

__all__ = ["MAX_SUBJECT", "SCHEMA_VERSION", "Notification", "attributes_for", "render_notification", "subject_for"]


def render_notification(report: TargetReport, *, time: str, region: str | None = None) -> Notification:
    """Render the notification of ``report``; ``time`` is when it is published (ISO 8601, UTC).

    ``region`` is the Region of the target's cluster: every form of the notification links to the service in
    its console, even when no task-definition ARN (which names a Region too) is known.
    """
    push = report.push
    message: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "status": report.status.value,
        "repository": push.repository,
        "tag": push.tag,
        "digest": push.digest,
        "image": push.image_uri,
        "target": report.target,
        "cluster": report.cluster,
        "service": report.service,
        "taskDefinitionArn": report.task_definition_arn,
        "previousTaskDefinitionArn": report.previous_task_definition_arn,
        "deploymentId": report.deployment_id,
        "changes": [change.as_dict() for change in report.changes],
        "trigger": push.trigger.value,
        "eventId": push.event_id,
        "time": time,
    }
    if region:
        message["region"] = region
    if push.registry_account:
        message["registryAccount"] = push.registry_account  # the repository's config path: its account first
    location = report.location
    if location is not None and location.named:
        message["region"] = location.region
        if location.account:
            message["account"] = location.account
        if location.alias:
            message["accountAlias"] = location.alias
    if report.reason is not None:
        message["reason"] = report.reason
    if report.code is not None:
        message["code"] = report.code
    if push.requested_by:
        message["requestedBy"] = push.requested_by
    if report.slack_webhook:
        message["slackWebhook"] = report.slack_webhook
    if report.parameter is not None:
        message["configParameter"] = report.parameter
    if report.warnings:
        message["warnings"] = list(report.warnings)
    if report.extra:
        message.update(report.extra)
    return Notification(subject=subject_for(message), message=message, attributes=attributes_for(message))
