"""CloudWatch: whether the alarms a target's deployment watches exist (DescribeAlarms, names only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pushdeploy.adapters.errors import aws_call

DESCRIBE_ALARMS_NAMES = 100  # DescribeAlarms takes at most 100 AlarmNames per call


class CloudWatchAlarms:
    """The alarm catalog of the account and Region the client is in."""

    def __init__(self, client: Any) -> None:  # a boto3 cloudwatch client (no stubs are installed for it)
        self._client = client

    def missing_alarms(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are neither a metric alarm nor a composite alarm."""
        wanted = list(dict.fromkeys(names))
        found: set[str] = set()
        for start in range(0, len(wanted), DESCRIBE_ALARMS_NAMES):
            batch = wanted[start : start + DESCRIBE_ALARMS_NAMES]
            with aws_call("cloudwatch:DescribeAlarms"):
                response = self._client.describe_alarms(
                    AlarmNames=batch, AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100
                )
            found.update(alarm["AlarmName"] for alarm in response.get("MetricAlarms", []))
            found.update(alarm["AlarmName"] for alarm in response.get("CompositeAlarms", []))
        return [name for name in wanted if name not in found]
