"""SNS: publishing deploy notifications."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pushdeploy.adapters.errors import aws_call
from pushdeploy.domain.channels import protocol_bodies
from pushdeploy.domain.messages import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsPublisher:
    """Publishes notifications to one topic, with message attributes for subscription filters."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn
        # The topic's Region (arn:aws:sns:<region>:...) is the stack's, so the deployed services' too: the
        # console links of a record that names no Region point there.
        parts = topic_arn.split(":")
        self._region = parts[3] if len(parts) >= 6 and parts[3] else None

    def publish(self, notification: Notification) -> str:
        """Publish ``notification``; returns the SNS message id."""
        with aws_call("sns:Publish"):
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=notification.subject,
                # One publish, each subscriber its own form: JSON for SQS/Lambda, text for e-mail, the chat
                # service's custom format for HTTPS.
                MessageStructure="json",
                Message=json.dumps(protocol_bodies(notification, region=self._region)),
                MessageAttributes={
                    key: {"DataType": "String", "StringValue": value} for key, value in notification.attributes.items()
                },
            )
        return response["MessageId"]
