"""Items 1 and 2: AWS calls per deploy (warm, cold, manual) and the handler's time per warm deploy."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities import parameters

from bench.context import Bench, result_status, summary_ms, target_codes
from bench.harness import Attempt, log_crosstalk
from bench.server import counts_since, seconds_since
from pushdeploy import wiring
from tools.sample_world import REPOSITORY

WARM_CALL_TARGET = 6  # DescribeServices, the claim, RegisterTaskDefinition, UpdateService, Publish, the commit
OWN_TIME_TARGET_MS = 5.0


def _single_attempt(bench: Bench, event: dict[str, Any], label: str) -> Attempt:
    """Run one event; it must be handled in one attempt that deployed."""
    _, attempts = bench.run(event)
    if len(attempts) != 1 or attempts[0].error is not None:
        errors = [attempt.error for attempt in attempts]
        raise RuntimeError(f"{label}: expected one successful attempt, got {len(attempts)}: {errors}")
    attempt = attempts[0]
    if result_status(attempt.result) != "DEPLOYING":
        raise RuntimeError(f"{label}: expected DEPLOYING, got {attempt.result}")
    return attempt


def _calls(attempt: Attempt, server_calls: Counter[str]) -> dict[str, Any]:
    calls = dict(sorted(attempt.measurement.calls.items()))
    return {
        "calls": calls,
        "total": attempt.measurement.total_calls,
        "http_requests": attempt.measurement.http_requests,
        "server_total": sum(server_calls.values()),
        "handler_ms": round(attempt.seconds * 1000, 3),
        "aws_ms": round(attempt.measurement.api_seconds * 1000, 3),
        "targets": target_codes(attempt.result),
    }


def _measured(bench: Bench, event: dict[str, Any], label: str) -> dict[str, Any]:
    before = bench.server.counts()
    attempt = _single_attempt(bench, event, label)
    return _calls(attempt, counts_since(before, bench.server.counts()))


def calls_per_deploy(bench: Bench) -> dict[str, Any]:
    """Item 1: the AWS calls of one warm push, one cold push and one manual deploy, by operation."""
    staging_tag = "staging-b{}"
    counter = iter(range(1, 1_000_000))
    # The first event of the run builds the composition root: it is neither warm nor the measured cold one.
    _single_attempt(bench, bench.new_push(REPOSITORY, staging_tag.format(next(counter))), "first push")

    wiring.forget_built()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    cold = _measured(bench, bench.new_push(REPOSITORY, staging_tag.format(next(counter))), "cold push")
    warm = _measured(bench, bench.new_push(REPOSITORY, staging_tag.format(next(counter))), "warm push")

    # A manual deploy as events/manual-deploy-targets.json: a new tag each time, so each one is a change.
    def manual() -> dict[str, Any]:
        tag = f"v9.0.{next(counter)}"
        bench.new_push(REPOSITORY, tag)  # the image exists in ECR; no push event is delivered
        return {"repository": REPOSITORY, "tag": tag, "targets": ["prod"]}

    manual_first = _measured(bench, manual(), "first manual deploy")
    manual_warm = _measured(bench, manual(), "manual deploy")
    return {
        "warm": warm,
        "cold": cold,
        "manual": manual_warm,
        "manual_first": manual_first,
        "target": WARM_CALL_TARGET,
        "met": warm["total"] <= WARM_CALL_TARGET,
        "notes": [
            "cold = a fresh composition root (wiring.forget_built()) and cleared parameter caches",
            "manual = the second manual deploy to prod of the run (the first, reported as manual_first, "
            "also checks prod's secret parameters exist)",
        ],
    }


def handler_time(bench: Bench, deploys: int) -> dict[str, Any]:
    """Item 2: handler time of ``deploys`` warm deploys, each a new digest pushed to the staging target."""
    totals: list[float] = []
    aws: list[float] = []
    http: list[float] = []
    own: list[float] = []
    own_beyond_http: list[float] = []
    own_cpu: list[float] = []
    calls: list[int] = []
    operations: Counter[str] = Counter()
    foreign_lines = metric_anomalies = 0
    counts_before, seconds_before = bench.server.counts(), bench.server.seconds()
    for number in range(deploys):
        attempt = _single_attempt(bench, bench.new_push(REPOSITORY, f"staging-t{number}"), f"deploy {number}")
        measurement = attempt.measurement
        totals.append(attempt.seconds)
        aws.append(measurement.api_seconds)
        http.append(measurement.http_seconds)
        own.append(attempt.own_seconds)
        own_beyond_http.append(attempt.seconds - measurement.http_seconds)
        own_cpu.append(attempt.own_cpu_seconds)
        calls.append(measurement.total_calls)
        operations.update(measurement.calls)
        _, foreign, blobs = log_crosstalk(attempt)
        foreign_lines += foreign
        metric_anomalies += blobs != 1
    own_ms = summary_ms(own)
    requests = counts_since(counts_before, bench.server.counts())
    moto_seconds = seconds_since(seconds_before, bench.server.seconds())
    return {
        "deploys": deploys,
        "total_ms": summary_ms(totals),
        "aws_ms": summary_ms(aws),
        "own_ms": own_ms,
        "http_ms": summary_ms(http),
        "own_incl_botocore_ms": summary_ms(own_beyond_http),
        "own_cpu_ms": summary_ms(own_cpu),
        "calls_per_deploy": {
            "median": statistics.median(calls),
            "min": min(calls),
            "max": max(calls),
            "mean": round(statistics.fmean(calls), 2),
        },
        "moto_ms_per_deploy": round(sum(moto_seconds.values()) * 1000 / deploys, 1),
        "moto_ms_per_request": {
            op: round(sec * 1000 / requests[op], 1) for op, sec in moto_seconds.items() if requests[op]
        },
        "operations_per_deploy": {op: round(count / deploys, 3) for op, count in sorted(operations.items())},
        # The baseline for the burst's thread-safety check: one invocation at a time shows no crosstalk.
        "log_lines_with_foreign_request_id": foreign_lines,
        "attempts_without_exactly_one_metrics_blob": metric_anomalies,
        "samples_ms": {
            "total": [round(value * 1000, 3) for value in totals],
            "aws": [round(value * 1000, 3) for value in aws],
            "own": [round(value * 1000, 3) for value in own],
        },
        "target_ms": OWN_TIME_TARGET_MS,
        "met": own_ms["median"] <= OWN_TIME_TARGET_MS,
        "notes": [
            "aws = wall time inside botocore's _make_api_call (client-side serialization, signing and parsing "
            "included); own = total - aws",
            "http = wall time inside botocore's Endpoint._send (the round trips and moto's work); "
            "own_incl_botocore = total - http; own_cpu = the handler thread's CPU time outside _make_api_call "
            "(not inflated by other processes on a busy machine)",
            "logs (INFO) and metrics are written to a per-thread buffer, not the terminal",
        ],
    }
