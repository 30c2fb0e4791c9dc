"""One-time timers: a named wake-up that invokes the deploy function with an event at a given time.

A deploy step that has to wait (a migration task's timeout, a gate waiting for scan findings, a promotion's
soak) never keeps a Lambda running: it sets a timer and ends; the timer's event continues it from the ledger.
A timer is named by what it waits for, so setting it again (a retried invocation) is the same timer, and the
step it wakes checks the ledger before acting: a timer that fires after its step moved on changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

TIMER_NAME_LENGTH = 64  # EventBridge Scheduler: Name, 1-64 of [0-9a-zA-Z-_.]
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]+")
MINIMUM_DELAY_SECONDS = 60  # a timer due sooner (or in the past) is set one minute ahead


@dataclass(frozen=True)
class Timer:
    """A wake-up: ``event`` is what the deploy function receives at ``due`` (epoch seconds)."""

    name: str
    due: float
    event: dict[str, Any]


def timer_name(prefix: str, kind: str, *parts: str) -> str:
    """A timer's name: ``<prefix><kind>-<readable parts>-<hash>``, at most 64 characters of the set
    Scheduler accepts, the same for the same inputs (so setting a timer twice is idempotent), distinct for
    distinct inputs (the hash covers them whole, whatever the truncation keeps readable)."""
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()[:12]
    readable = _UNSAFE.sub("-", "-".join((kind, *parts))).strip("-")
    room = TIMER_NAME_LENGTH - len(prefix) - len(digest) - 1
    if room < len(kind):
        raise ValueError(f"timer prefix '{prefix}' leaves no room for a name (at most {TIMER_NAME_LENGTH} characters)")
    return f"{prefix}{readable[:room].rstrip('-')}-{digest}"


def earliest_due(due: float, now: float) -> float:
    """When a timer due at ``due`` is set for: not sooner than a minute from ``now``."""
    return max(due, now + MINIMUM_DELAY_SECONDS)
