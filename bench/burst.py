"""Item 4: N pushes over M targets delivered concurrently, with duplicates and reordering mixed in."""

from __future__ import annotations

import copy
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.context import Bench, summary_ms, target_codes
from bench.harness import Attempt, log_crosstalk
from bench.server import counts_since, seconds_since
from bench.world import Service, create_services, digest_of, image_of
from tools.localaws import Delivery

CLUSTER = "burst"
TARGET = "burst"


@dataclass
class Delivered:
    """One delivery of the burst and what became of it."""

    event: dict[str, Any]
    delivery: Delivery | None = None
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None  # the harness itself failed (not the function)
    seconds: float = 0.0


def _normalized(message: str) -> str:
    """An error message without the ids and digests that make each one unique."""
    message = re.sub(r"sha256:[0-9a-f]{64}", "sha256:…", message)
    message = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", message)
    message = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ?", "<time>", message)
    message = re.sub(r"burst-\d+", "burst-N", message)
    return message[:160]


def _queue_depth(bench: Bench, url: str | None) -> int:
    if not url:
        return 0
    attributes = bench.session.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", "0"))


def _final_digests(bench: Bench, services: list[Service]) -> dict[str, str]:
    """The digest each service's task definition runs in its ``api`` container."""
    ecs = bench.session.client("ecs")
    digests: dict[str, str] = {}
    for start in range(0, len(services), 10):
        chunk = services[start : start + 10]
        described = ecs.describe_services(cluster=CLUSTER, services=[s.service for s in chunk])["services"]
        for service in described:
            definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
            digests[service["serviceName"]] = digest_of(image_of(dict(definition)))
    return digests


def _duplicate_revisions(bench: Bench, services: list[Service]) -> tuple[int, list[dict[str, Any]]]:
    """(revisions registered, each digest registered more than once in a family with its revisions)."""
    ecs = bench.session.client("ecs")
    paginator = ecs.get_paginator("list_task_definitions")
    registered = 0
    repeated: list[dict[str, Any]] = []
    for service in services:
        by_digest: dict[str, list[str]] = {}
        for page in paginator.paginate(familyPrefix=service.family):
            for arn in page["taskDefinitionArns"]:
                if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] != service.family:
                    continue
                definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                digest = digest_of(image_of(dict(definition)))
                if digest:
                    by_digest.setdefault(digest, []).append(arn.rsplit("/", 1)[1])
        registered += sum(len(arns) for arns in by_digest.values())
        repeated += [
            {"family": service.family, "digest": digest, "revisions": arns}
            for digest, arns in by_digest.items()
            if len(arns) > 1
        ]
    return registered, repeated


def _deliveries_of(results: list[Delivered], digest: str) -> list[dict[str, Any]]:
    """What happened to every delivery of a digest (to explain a duplicate revision)."""
    found = []
    for delivered in results:
        if delivered.event["detail"]["image-digest"] != digest:
            continue
        invocation = (
            delivered.delivery.invocations[0] if delivered.delivery and delivered.delivery.invocations else None
        )
        found.append(
            {
                "event_id": delivered.event["id"],
                "time": delivered.event["time"],
                "attempts": [
                    {
                        "error": attempt.error,
                        "targets": target_codes(attempt.result),
                        "ms": round(attempt.seconds * 1e3),
                    }
                    for attempt in delivered.attempts
                ],
                "on_failure": bool(invocation and invocation.sent_to_on_failure),
            }
        )
    return found


def burst(bench: Bench, pushes: int, targets: int, workers: int, duplicates: float, seed: int) -> dict[str, Any]:
    """Deliver ``pushes`` pushes over ``targets`` targets (plus duplicates), shuffled, from ``workers`` threads."""
    setup_started = time.perf_counter()
    services = create_services(
        bench.session, bench.world, cluster=CLUSTER, count=targets, prefix="burst", target=TARGET, tags=["t-*"]
    )
    per_target = max(1, pushes // targets)
    events: list[dict[str, Any]] = []
    newest: dict[str, str] = {}
    for round_number in range(per_target):  # event times increase round by round: the last round is newest
        for service in services:
            event = bench.new_push(service.repository, f"t-{round_number}")
            events.append(event)
            newest[service.service] = event["detail"]["image-digest"]
    rng = random.Random(seed)
    repeats = [copy.deepcopy(event) for event in rng.sample(events, k=round(len(events) * duplicates))]
    deliveries = events + repeats
    rng.shuffle(deliveries)
    on_failure_url = bench.deploy_function.on_failure_queue
    queue_before = _queue_depth(bench, on_failure_url)
    setup_seconds = time.perf_counter() - setup_started

    def deliver(event: dict[str, Any]) -> Delivered:
        delivered = Delivered(event)
        start = time.perf_counter()
        try:
            delivered.delivery, delivered.attempts = bench.run(event)
        except Exception as exc:  # the harness failed: reported, never hidden
            delivered.error = f"{type(exc).__name__}: {exc}"
        delivered.seconds = time.perf_counter() - start
        return delivered

    bench.busy.reset()
    counts_before, seconds_before = bench.server.counts(), bench.server.seconds()
    bench.server.serialize = True
    threads_before = threading.active_count()
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="burst") as pool:
            results = list(pool.map(deliver, deliveries))
        wall = time.perf_counter() - started
    finally:
        bench.server.serialize = False
    busy_waits, busy_seconds = bench.busy.reset()
    requests = counts_since(counts_before, bench.server.counts())
    moto_seconds = seconds_since(seconds_before, bench.server.seconds())

    outcomes: Counter[str] = Counter()
    attempt_errors: Counter[str] = Counter()
    harness_errors: Counter[str] = Counter()
    lost: list[str] = []
    on_failure = 0
    attempts_total = 0
    log_lines = foreign_lines = attempts_with_foreign = metric_anomalies = 0
    handler_seconds: list[float] = []
    handler_cpu = 0.0
    client_retries = 0  # HTTP requests botocore sent beyond one per call: its own retries
    for delivered in results:
        if delivered.error is not None or delivered.delivery is None:
            harness_errors[_normalized(delivered.error or "no delivery")] += 1
            lost.append(delivered.event["id"])
            continue
        if not delivered.delivery.invocations:
            lost.append(delivered.event["id"])  # matched no rule: nobody would ever see it
            outcomes["(matched no rule)"] += 1
            continue
        invocation = delivered.delivery.invocations[0]
        attempts_total += invocation.attempts
        for attempt in delivered.attempts:
            handler_seconds.append(attempt.seconds)
            handler_cpu += attempt.cpu_seconds
            client_retries += attempt.measurement.http_requests - attempt.measurement.total_calls
            if attempt.error:
                attempt_errors[_normalized(attempt.error)] += 1
            lines, foreign, blobs = log_crosstalk(attempt)
            log_lines += lines
            foreign_lines += foreign
            attempts_with_foreign += foreign > 0
            metric_anomalies += blobs != 1
        if invocation.error is None:
            outcomes.update(target_codes(invocation.result) or [str(invocation.result.get("status"))])
        elif invocation.sent_to_on_failure:
            on_failure += 1
            outcomes["(on-failure queue)"] += 1
        else:
            lost.append(delivered.event["id"])
            outcomes["(lost)"] += 1
    queue_after = _queue_depth(bench, on_failure_url)
    # An event in the on-failure queue whose other delivery (a duplicate) succeeded was handled all the same.
    succeeded_ids = {
        delivered.event["id"]
        for delivered in results
        if delivered.delivery is not None
        and delivered.delivery.invocations
        and delivered.delivery.invocations[0].error is None
    }
    on_failure_handled_by_a_duplicate = sum(
        1
        for delivered in results
        if delivered.delivery is not None
        and delivered.delivery.invocations
        and delivered.delivery.invocations[0].sent_to_on_failure
        and delivered.event["id"] in succeeded_ids
    )

    final = _final_digests(bench, services)
    stale_wins = sorted(name for name, digest in newest.items() if final.get(name) != digest)
    registered, repeated = _duplicate_revisions(bench, services)
    duplicate_revisions = sum(len(item["revisions"]) - 1 for item in repeated)
    for item in repeated[:5]:
        item["deliveries"] = _deliveries_of(results, item["digest"])
    deploys = sum(count for code, count in outcomes.items() if code.startswith("DEPLOYING"))
    return {
        "pushes": len(events),
        "targets": targets,
        "pushes_per_target": per_target,
        "duplicates_delivered": len(repeats),
        "deliveries": len(deliveries),
        "workers": workers,
        "setup_seconds": round(setup_seconds, 2),
        "wall_seconds": round(wall, 2),
        "deliveries_per_second": round(len(deliveries) / wall, 2),
        "deploys_started": deploys,
        "deploys_per_second": round(deploys / wall, 2),
        "revisions_registered": registered,
        "duplicate_revisions": duplicate_revisions,
        "duplicate_revision_details": repeated[:5],
        "stale_wins": len(stale_wins),
        "stale_win_targets": stale_wins[:20],
        "lost_events": len(lost),
        "lost_event_ids": lost[:20],
        "on_failure_queue": on_failure,
        "on_failure_queue_depth_change": queue_after - queue_before,
        "on_failure_handled_by_a_duplicate": on_failure_handled_by_a_duplicate,
        "busy_waits": busy_waits,
        "busy_wait_seconds": round(busy_seconds, 1),
        "attempts": attempts_total,
        "attempts_that_raised": sum(attempt_errors.values()),
        "attempt_errors": dict(attempt_errors.most_common(8)),
        "harness_errors": dict(harness_errors.most_common(5)),
        "outcomes": dict(outcomes.most_common()),
        "handler_ms": summary_ms(handler_seconds),
        "handler_cpu_ms_per_delivery": round(handler_cpu * 1000 / len(deliveries), 1),
        "server_requests": sum(requests.values()),
        "botocore_retries": client_retries,
        "server_busy_seconds": round(sum(moto_seconds.values()), 1),
        "server_ms_per_request": {
            op: round(seconds * 1000 / requests[op], 1)
            for op, seconds in list(moto_seconds.items())[:6]
            if requests[op]
        },
        "log_lines": log_lines,
        "log_lines_with_foreign_request_id": foreign_lines,
        "attempts_with_foreign_log_lines": attempts_with_foreign,
        "attempts_without_exactly_one_metrics_blob": metric_anomalies,
        "worker_threads": threading.active_count() - threads_before,
        "met": duplicate_revisions == 0 and not stale_wins and not lost,
        "notes": [
            f"one cluster '{CLUSTER}', services burst-NNN each with its own ECR repository, task-definition "
            "family and target config (tags t-*); pushes per target have increasing event times",
            "duplicates are the same event delivered again; all deliveries are shuffled",
            "moto's server runs one request at a time during the burst (its backends take no lock; AWS's "
            "conditional writes and revision numbering are atomic)",
            "the in-process handler (one module, one composition root) is shared by every thread; Lambda would "
            "run each concurrent invocation in its own execution environment",
            "a duplicate that finds its twin still in progress (the event's claim held by another invocation) is "
            "IGNORED: the twin deploys and reports",
        ],
    }
