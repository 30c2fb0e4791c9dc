"""The local AWS harness, made fit for timing and for threads.

``tools.localaws.LocalAws.invoke`` is built for tests: on every invocation it patches ``os.environ``
(saving and restoring the whole of it), redirects ``sys.stdout`` with ``contextlib.redirect_stdout`` and
clears the composition root and the parameter caches. That makes every invocation cold, and under threads
the environment and stdout swaps of one invocation undo another's (a thread can even restore an
environment without ``AWS_ENDPOINT_URL``). ``BenchAws`` keeps the harness's delivery (rule matching,
Lambda's retries, the on-failure destination) and replaces ``invoke`` with one that behaves like a warm
execution environment: the function's environment is set once for the whole run, the handler module is
loaded once, its clients and caches live on, and what it prints is captured per thread.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import random
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TextIO

from bench.probe import CallRecorder, Measurement
from pushdeploy import wiring
from tools.localaws import Invocation, LocalAws, StackFunction


class ThreadOutput(io.TextIOBase):
    """A ``sys.stdout`` that sends each thread's writes to that thread's capture buffer, if it has one."""

    def __init__(self, fallback: TextIO) -> None:
        self._fallback = fallback
        self._local = threading.local()

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(self._local, "buffer", None)
        (buffer if buffer is not None else self._fallback).write(text)
        return len(text)

    def flush(self) -> None:
        if getattr(self._local, "buffer", None) is None:
            self._fallback.flush()

    @contextmanager
    def capture(self) -> Iterator[io.StringIO]:
        """Collect what this thread prints until the block ends."""
        previous: io.StringIO | None = getattr(self._local, "buffer", None)
        buffer = io.StringIO()
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = previous


@dataclass
class Attempt:
    """One run of the handler on one event."""

    function: str
    request_id: str
    seconds: float  # wall time of the handler call
    measurement: Measurement
    cpu_seconds: float = 0.0  # this thread's CPU time during the handler call
    output: str = ""
    error: str | None = None
    result: Any = None

    @property
    def own_seconds(self) -> float:
        """Handler time outside AWS calls (botocore's client-side work counts as AWS time)."""
        return self.seconds - self.measurement.api_seconds

    @property
    def own_cpu_seconds(self) -> float:
        """CPU time outside AWS calls: what other processes on a busy machine cannot inflate."""
        return self.cpu_seconds - self.measurement.api_cpu_seconds


@dataclass
class LambdaContextStub:
    """The parts of Lambda's context object the handler and powertools read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def function_environment(function: StackFunction) -> dict[str, str]:
    """The environment Lambda would give the function (as the harness builds it)."""
    return {
        **function.environment,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon runs locally
    }


class BusyWaits:
    """Counts the Deployer's waits for a target claimed by another push.

    Each wait sleeps ``0.5 + jitter()`` seconds: this object is the composition root's jitter seam
    (``wiring.Seams.jitter``), so one draw is one wait.
    """

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._draw = random.Random()

    def install(self) -> None:
        wiring.reset(wiring.Seams(jitter=self.random))

    def uninstall(self) -> None:
        wiring.reset()

    def random(self) -> float:
        value = self._draw.random()
        with self._lock:
            self.count += 1
            self.seconds += 0.5 + value
        return value

    def reset(self) -> tuple[int, float]:
        """The waits so far, and start counting again."""
        with self._lock:
            counted = (self.count, self.seconds)
            self.count, self.seconds = 0, 0.0
        return counted


def log_crosstalk(attempt: Attempt) -> tuple[int, int, int]:
    """(log lines, lines carrying another invocation's request id, metric blobs of the handler's Metrics).

    One invocation alone prints only its own request id and exactly one blob of the handler's metrics."""
    lines = foreign = metric_blobs = 0
    for raw in attempt.output.splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "_aws" in record:
            names = [
                metric["Name"]
                for directive in record["_aws"].get("CloudWatchMetrics", [])
                for metric in directive.get("Metrics", [])
            ]
            if any(name.startswith("Request") or name == "EventIgnored" for name in names):
                metric_blobs += 1
        elif "level" in record:
            lines += 1
            if record.get("function_request_id") not in (None, attempt.request_id):
                foreign += 1
    return lines, foreign, metric_blobs


class BenchAws(LocalAws):
    """LocalAws whose invocations are warm, timed, measured and safe to run from several threads."""

    _on_failure_lock = threading.Lock()

    def __init__(self, endpoint: str, recorder: CallRecorder, output: ThreadOutput) -> None:
        super().__init__(endpoint)
        self.recorder = recorder
        self.output = output
        self._modules: dict[str, ModuleType] = {}
        self._module_lock = threading.Lock()
        self._local = threading.local()

    def load(self, function: StackFunction) -> ModuleType:
        """Import the function's handler module once (the environment must already be the function's)."""
        with self._module_lock:
            module = self._modules.get(function.logical_id)
            if module is None:
                path = function.code_dir / (function.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
                spec = importlib.util.spec_from_file_location(f"bench_{function.logical_id}", path)
                if spec is None or spec.loader is None:
                    raise RuntimeError(f"cannot load {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._modules[function.logical_id] = module
                # powertools' Logger binds the sys.stdout of import time: make it write to the capture.
                service = function.environment.get("POWERTOOLS_SERVICE_NAME", "pushdeploy")
                for handler in logging.getLogger(service).handlers:
                    if isinstance(handler, logging.StreamHandler):
                        handler.setStream(self.output)
            return module

    @contextmanager
    def attempts(self) -> Iterator[list[Attempt]]:
        """Collect every handler run made on this thread until the block ends."""
        collected: list[Attempt] = []
        previous = getattr(self._local, "attempts", None)
        self._local.attempts = collected
        try:
            yield collected
        finally:
            self._local.attempts = previous

    def invoke(self, function: StackFunction, event: dict[str, Any], record: Invocation | None = None) -> Any:
        module = self.load(function)
        context = LambdaContextStub(function.name, function.arn)
        if record is not None:
            context.aws_request_id = record.request_id  # Lambda keeps it across its retries of an invocation
        handler = getattr(module, function.handler.rsplit(".", 1)[1])
        attempt = Attempt(function.logical_id, context.aws_request_id, 0.0, Measurement())
        with self.output.capture() as buffer, self.recorder.measure() as measurement:
            start, start_cpu = time.perf_counter(), time.thread_time()
            try:
                attempt.result = handler(event, context)
            except Exception as exc:
                attempt.error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                attempt.seconds = time.perf_counter() - start
                attempt.cpu_seconds = time.thread_time() - start_cpu
                attempt.measurement = measurement
                attempt.output = buffer.getvalue()
                if record is not None:
                    record.output += attempt.output
                collected: list[Attempt] | None = getattr(self._local, "attempts", None)
                if collected is not None:
                    collected.append(attempt)
        return attempt.result

    @staticmethod
    def _send_on_failure(function: StackFunction, event: dict[str, Any], invocation: Invocation) -> None:
        # The harness builds its SQS client from boto3's default session, which is not thread-safe.
        with BenchAws._on_failure_lock:
            LocalAws._send_on_failure(function, event, invocation)


@contextmanager
def thread_output() -> Iterator[ThreadOutput]:
    """Install a per-thread capturing ``sys.stdout`` for the block."""
    original = sys.stdout
    output = ThreadOutput(original)
    sys.stdout = output
    try:
        yield output
    finally:
        sys.stdout = original
