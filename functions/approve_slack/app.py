"""Slack approval function: the Approve and Reject buttons of an AWAITING_APPROVAL message, through a Lambda
function URL. Slack's signature is checked before anything else; the message updated to the decision is posted
to the request's response_url (Slack ignores this answer's body); neither the body nor that URL is ever logged."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pushdeploy import wiring

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one interactivity request: 200 (the updated message posted to its response_url), or 400/401/403
    changing nothing."""
    body = str(event.get("body") or "")
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    status, answer = wiring.slack_approvals().handle(headers, body)
    metrics.add_metric(name=f"SlackApproval{status}", unit=MetricUnit.Count, value=1)
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(answer)}
