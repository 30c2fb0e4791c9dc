"""Slack notifier function: each notification the topic delivers is posted to its team's Slack channel
(the generic webhook notifier, wired with the Slack renderer)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from pushdeploy import wiring
from pushdeploy.tracing import traced
from pushdeploy.usecases.notify import NotifyError

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId", clear_state=True)
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    """Post every record; raise after trying them all if any failed, so Lambda retries the event and its
    failure queue keeps it."""
    try:
        result = wiring.slack_notifier().notify(event, remaining_ms=context.get_remaining_time_in_millis())
    except NotifyError as exc:
        metrics.add_metric(name="SlackFailed", unit=MetricUnit.Count, value=len(exc.failures))
        raise
    metrics.add_metric(name="SlackPosted", unit=MetricUnit.Count, value=len(result.get("posted", [])))
    return result


# botocore only: X-Ray's http.client patch would record each request's URL, and a webhook's URL is a secret.
handler = traced(handler, patch_modules=["botocore"])
