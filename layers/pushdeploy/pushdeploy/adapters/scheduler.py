"""EventBridge Scheduler: the one-time timers that wake the deploy function (domain.timers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.timers import Timer

TIMER_GROUP = "default"
# Scheduler retries an invocation that fails to reach Lambda; past these it goes to the dead-letter queue.
TIMER_RETRY_POLICY = {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600}


def at_expression(due: float) -> str:
    """Scheduler's one-time expression for ``due`` (epoch seconds), in UTC to the second."""
    return "at(" + datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M:%S") + ")"


class SchedulerTimers:
    """Timers as one-time schedules that invoke ``target_arn`` (the deploy function) with ``role_arn``; a
    schedule deletes itself once it has run (ActionAfterCompletion DELETE)."""

    def __init__(
        self, client: Any, *, target_arn: str, role_arn: str, dead_letter_arn: str | None = None
    ) -> None:  # a botocore scheduler client
        self._client = client
        self._target = {"Arn": target_arn, "RoleArn": role_arn, "RetryPolicy": TIMER_RETRY_POLICY}
        if dead_letter_arn:
            self._target["DeadLetterConfig"] = {"Arn": dead_letter_arn}

    def set_timer(self, timer: Timer) -> None:
        """Create the schedule; one of that name already set is the same timer (a retried step)."""
        with aws_call("scheduler:CreateSchedule"):
            try:
                self._client.create_schedule(
                    Name=timer.name,
                    GroupName=TIMER_GROUP,
                    ScheduleExpression=at_expression(timer.due),
                    ScheduleExpressionTimezone="UTC",
                    FlexibleTimeWindow={"Mode": "OFF"},
                    Target={**self._target, "Input": json.dumps(timer.event, separators=(",", ":"))},
                    ActionAfterCompletion="DELETE",
                )
            except ClientError as exc:
                if error_code(exc) != "ConflictException":
                    raise

    def cancel_timer(self, name: str) -> None:
        """Delete the schedule; one already run (and so deleted) or never set is nothing to cancel."""
        with aws_call("scheduler:DeleteSchedule"):
            try:
                self._client.delete_schedule(Name=name, GroupName=TIMER_GROUP)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
