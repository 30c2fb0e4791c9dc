"""Tracker function: ECS deployment state changes become the outcome of the deploys pushdeploy started."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pushdeploy import wiring
from pushdeploy.events import IgnoredEvent, parse_deployment_event
from pushdeploy.tracing import traced

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Parse the event, record the outcome, announce it once."""
    parsed = parse_deployment_event(event, now=wiring.now())
    if isinstance(parsed, IgnoredEvent):
        logger.info("Event ignored", extra={"reason": parsed.reason})
        metrics.add_metric(name="EventIgnored", unit=MetricUnit.Count, value=1)
        return parsed.as_result()
    result = wiring.tracker().track(parsed)
    metrics.add_metric(name=f"Outcome{result['status'].title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    logger.info("Deployment event tracked", extra={"result": result})
    return result


handler = traced(handler)
