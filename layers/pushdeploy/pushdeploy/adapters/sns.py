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

    def publish(self, notification: Notification) -> str:
        """Publish ``notification``; returns the SNS message id."""
        with aws_call("sns:Publish"):
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=notification.subject,
                # One publish, each subscriber its own form: JSON for SQS/Lambda, text for e-mail, the chat
                # service's custom format for HTTPS.
                MessageStructure="json",
                Message=json.dumps(protocol_bodies(notification)),
                MessageAttributes={
                    key: {"DataType": "String", "StringValue": value} for key, value in notification.attributes.items()
                },
            )
        return response["MessageId"]
