"""Times as pushdeploy reads and writes them: epoch seconds inside, ISO 8601 in UTC outside."""

from __future__ import annotations

from datetime import UTC, datetime


def describe_time(epoch: float) -> str:
    """ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO 8601 time such as EventBridge's ``2026-11-20T10:15:30Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
