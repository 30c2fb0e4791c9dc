"""Timers: their names, their one-time schedules, and setting or cancelling one twice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from pushdeploy.adapters.scheduler import SchedulerTimers, at_expression
from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.timers import TIMER_NAME_LENGTH, Timer, earliest_due, timer_name
from pushdeploy.settings import Settings, SettingsError

NAME = re.compile(r"[0-9a-zA-Z_.-]{1,64}")
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:pushdeploy-deploy"
ROLE_ARN = "arn:aws:iam::123456789012:role/pushdeploy-timer"


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=40))
def test_a_timer_name_is_one_scheduler_accepts_and_the_same_for_the_same_inputs(
    repository: str, target: str, token: str
) -> None:
    # When naming a timer after anything a target may be called
    name = timer_name("pushdeploy-1a2b3c4d-", "task", repository, target, token)

    # Then Scheduler accepts the name, and naming it again gives the same one
    assert NAME.fullmatch(name) and len(name) <= TIMER_NAME_LENGTH
    assert name == timer_name("pushdeploy-1a2b3c4d-", "task", repository, target, token)


def test_timer_names_differ_when_what_they_wait_for_differs_even_past_the_readable_part() -> None:
    # Given two targets whose names differ only after the part a name can keep readable
    long = "x" * 80
    # Then their timers are distinct, and a name still says what it is for
    first = timer_name("pushdeploy-", "soak", "api", long + "a")
    second = timer_name("pushdeploy-", "soak", "api", long + "b")
    assert first != second
    assert timer_name("pushdeploy-", "soak", "api", "prod").startswith("pushdeploy-soak-api-prod-")


def test_a_timer_due_now_or_in_the_past_is_set_a_minute_ahead() -> None:
    assert earliest_due(100.0, now=1_000.0) == 1_060.0
    assert earliest_due(5_000.0, now=1_000.0) == 5_000.0


def test_the_schedule_expression_is_a_one_time_utc_expression_to_the_second() -> None:
    due = datetime(2026, 12, 1, 10, 2, 3, tzinfo=UTC).timestamp()
    assert at_expression(due) == "at(2026-12-01T10:02:03)"


@pytest.fixture
def scheduler() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("scheduler", region_name="us-east-1")


def test_a_timer_is_a_one_time_schedule_invoking_the_function_that_deletes_itself(scheduler: Any) -> None:
    # Given the timers of a stack
    timers = SchedulerTimers(scheduler, target_arn=FUNCTION_ARN, role_arn=ROLE_ARN, dead_letter_arn="arn:aws:sqs:x")
    event = {"action": "timer", "repository": "api", "target": "prod"}

    # When a timer is set, and set again (a retried step)
    due = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()
    timers.set_timer(Timer("pushdeploy-task-api-prod-1", due, event))
    timers.set_timer(Timer("pushdeploy-task-api-prod-1", due, event))

    # Then there is one schedule: at that time, in UTC, invoking the function with the event, then deleted
    schedule = scheduler.get_schedule(Name="pushdeploy-task-api-prod-1")
    assert schedule["ScheduleExpression"] == "at(2026-12-01T10:00:00)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == FUNCTION_ARN and schedule["Target"]["RoleArn"] == ROLE_ARN
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": "arn:aws:sqs:x"}
    assert json.loads(schedule["Target"]["Input"]) == event

    # And cancelling it, twice (it may have fired already), leaves none and raises nothing
    timers.cancel_timer("pushdeploy-task-api-prod-1")
    timers.cancel_timer("pushdeploy-task-api-prod-1")
    assert scheduler.list_schedules()["Schedules"] == []


def test_a_timer_scheduler_refuses_is_an_aws_call_error_naming_the_call(scheduler: Any) -> None:
    # Given Scheduler throttles the call
    stubber = Stubber(scheduler)
    stubber.add_client_error("create_schedule", "ThrottlingException", "Rate exceeded")
    timers = SchedulerTimers(scheduler, target_arn=FUNCTION_ARN, role_arn=ROLE_ARN)

    # When a timer is set
    with stubber, pytest.raises(AwsCallError) as raised:
        timers.set_timer(Timer("pushdeploy-task-1", 0.0, {}))

    # Then the error names the call and the answer (it is not taken for an existing timer)
    assert "scheduler:CreateSchedule" in str(raised.value) and "ThrottlingException" in str(raised.value)


BASE = {"AWS_REGION": "us-east-1", "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "TABLE_NAME": "d"}


def test_timer_settings_come_from_the_functions_environment() -> None:
    # Given the environment the template gives the deploy function
    env = {
        **BASE,
        "ACCOUNT_ID": "123456789012",
        "AWS_LAMBDA_FUNCTION_NAME": "pushdeploy-deploy",
        "TIMER_ROLE_ARN": ROLE_ARN,
        "TIMER_PREFIX": "pushdeploy-1a2b3c4d-",
        "TIMER_DEAD_LETTER_ARN": "arn:aws:sqs:us-east-1:123456789012:failures",
    }
    timers = Settings.from_environment(env).timers

    # Then its timers invoke the function itself with the timer role
    assert timers is not None
    assert timers.function_arn == FUNCTION_ARN
    assert (timers.role_arn, timers.name_prefix) == (ROLE_ARN, "pushdeploy-1a2b3c4d-")
    # And without a timer role there are no timers; with one but no account, the error names what is missing
    assert Settings.from_environment(BASE).timers is None
    with pytest.raises(SettingsError, match="ACCOUNT_ID"):
        Settings.from_environment({**BASE, "TIMER_ROLE_ARN": ROLE_ARN, "AWS_LAMBDA_FUNCTION_NAME": "f"})
