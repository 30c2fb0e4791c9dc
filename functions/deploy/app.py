"""Deploy function: an ECR push (or a manual request) becomes a deploy of every matching target."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pushdeploy import wiring
from pushdeploy.events import IgnoredEvent, parse_deploy_event
from pushdeploy.settings import function_account
from pushdeploy.tracing import traced

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Parse the event, deploy, report; raise when a retry may finish what failed."""
    trust = wiring.registry_trust()
    request = parse_deploy_event(
        event,
        request_id=context.aws_request_id,
        trusted_account=function_account(context.invoked_function_arn),
        now=wiring.now(),
        trusted_accounts=trust.accounts,
        organization=trust.organization,
    )
    if isinstance(request, IgnoredEvent):
        logger.info("Event ignored", extra={"reason": request.reason})
        metrics.add_metric(name="EventIgnored", unit=MetricUnit.Count, value=1)
        return request.as_result()
    metrics.add_metric(name=f"Request{type(request).__name__}", unit=MetricUnit.Count, value=1)
    result = wiring.entry_point().handle(request, event, context)
    logger.info("Deploy finished", extra={"result": result})
    return result


handler = traced(handler)
