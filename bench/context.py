"""What every measurement shares: the local AWS with the stack, the sample world, and the probes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench.harness import Attempt, BenchAws, BusyWaits
from bench.probe import CallRecorder
from bench.server import ServerProcess
from bench.world import EventClock, Seeds, load_event, push, push_event
from tools.localaws import Delivery, LocalStack, StackFunction
from tools.sample_world import World


@dataclass
class Sizes:
    """How much to run (--quick and the other options scale it)."""

    deploys: int = 500  # item 6 compares the first 10 with the last 10 of them
    burst_pushes: int = 500
    burst_targets: int = 100
    burst_workers: int = 12
    burst_duplicates: float = 0.1
    cold_repeats: int = 5
    compare_repeats: int = 3
    seed: int = 8


@dataclass
class Bench:
    """The running local AWS and everything the measurements need from it."""

    server: ServerProcess
    local: BenchAws
    stack: LocalStack
    session: boto3.Session
    world: World
    recorder: CallRecorder
    busy: BusyWaits
    sizes: Sizes
    clock: EventClock = field(default_factory=EventClock)
    seeds: Seeds = field(default_factory=Seeds)
    push_template: dict[str, Any] = field(default_factory=lambda: load_event("ecr-push.json"))

    @property
    def deploy_function(self) -> StackFunction:
        return self.stack.functions["DeployFunction"]

    def new_push(self, repository: str, tag: str) -> dict[str, Any]:
        """Push a new image to ``repository`` under ``tag`` and return its ECR push event."""
        digest = push(self.session, repository, tag, self.seeds)
        return push_event(self.push_template, repository, tag, digest, self.clock.tick())

    def run(self, event: dict[str, Any]) -> tuple[Delivery, list[Attempt]]:
        """Deliver an EventBridge event through the stack's rules, or invoke directly with a manual request."""
        with self.local.attempts() as attempts:
            delivery = self.local.run_event(self.stack, event)
        return delivery, attempts


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linearly interpolated; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, mean, min and max of durations in seconds, in milliseconds."""
    if not values:
        return {"median": 0.0, "p95": 0.0, "mean": 0.0, "min": 0.0, "max": 0.0}
    return {
        "median": round(statistics.median(values) * 1000, 3),
        "p95": round(percentile(values, 95) * 1000, 3),
        "mean": round(statistics.fmean(values) * 1000, 3),
        "min": round(min(values) * 1000, 3),
        "max": round(max(values) * 1000, 3),
    }


def result_status(result: Any) -> str:
    """The status of an invocation result ('' when it has none)."""
    return str(result.get("status", "")) if isinstance(result, dict) else ""


def target_codes(result: Any) -> list[str]:
    """``STATUS/code`` of each target of an invocation result."""
    if not isinstance(result, dict):
        return []
    codes = []
    for target in result.get("targets", []):
        code = target.get("code")
        codes.append(f"{target.get('status')}/{code}" if code else str(target.get("status")))
    return codes
