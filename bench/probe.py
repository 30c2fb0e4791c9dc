"""What the handler spends in AWS: botocore's calls counted and timed, per thread, and kept on loopback.

``BaseClient._make_api_call`` is one AWS call as the code sees it (parameter validation, serialization,
signing, retries, the HTTP exchange, parsing); ``Endpoint._send`` is one HTTP exchange (the round trip to
the server and the server's work). Both are wrapped while a recorder is installed; every call is attributed
to the measurement open on the calling thread, if any. Every call's endpoint is checked: the benchmark
refuses to reach anything but loopback, whatever the environment says.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.client import BaseClient
from botocore.endpoint import Endpoint

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# botocore's private methods (not in its type stubs): one AWS call, one HTTP exchange.
_API_CALL = "_make_api_call"
_SEND = "_send"


class NonLocalEndpointError(RuntimeError):
    """A client was about to reach something other than the local AWS."""


@dataclass
class Measurement:
    """The AWS calls made on one thread while the measurement was open."""

    calls: Counter[str] = field(default_factory=Counter)  # service:Operation to count
    api_seconds: float = 0.0  # wall time inside _make_api_call
    api_cpu_seconds: float = 0.0  # this thread's CPU time inside _make_api_call (botocore's client-side work)
    http_seconds: float = 0.0  # wall time inside Endpoint._send (the round trips)
    http_requests: int = 0  # HTTP requests sent (retries included)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def check_local(url: str | None) -> None:
    """Raise unless ``url`` is on loopback."""
    host = urlsplit(url or "").hostname
    if host not in LOOPBACK_HOSTS:
        raise NonLocalEndpointError(f"bench: refusing an AWS call to {url!r}: only the local AWS may be reached")


class CallRecorder:
    """Installs the wrappers on botocore's classes; ``measure()`` opens a measurement on this thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._originals: tuple[Callable[..., Any], Callable[..., Any]] | None = None

    def install(self) -> None:
        if self._originals is not None:
            return
        make_api_call: Callable[..., Any] = getattr(BaseClient, _API_CALL)
        send: Callable[..., Any] = getattr(Endpoint, _SEND)
        self._originals = (make_api_call, send)
        recorder = self

        def timed_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            check_local(client.meta.endpoint_url)
            measurement = recorder.current()
            if measurement is None:
                return make_api_call(client, operation_name, api_params)
            start, start_cpu = time.perf_counter(), time.thread_time()
            try:
                return make_api_call(client, operation_name, api_params)
            finally:
                measurement.api_seconds += time.perf_counter() - start
                measurement.api_cpu_seconds += time.thread_time() - start_cpu
                measurement.calls[f"{client.meta.service_model.service_name}:{operation_name}"] += 1

        def timed_send(endpoint: Endpoint, request: Any) -> Any:
            check_local(endpoint.host)
            measurement = recorder.current()
            if measurement is None:
                return send(endpoint, request)
            start = time.perf_counter()
            try:
                return send(endpoint, request)
            finally:
                measurement.http_seconds += time.perf_counter() - start
                measurement.http_requests += 1

        setattr(BaseClient, _API_CALL, timed_api_call)
        setattr(Endpoint, _SEND, timed_send)

    def uninstall(self) -> None:
        if self._originals is None:
            return
        setattr(BaseClient, _API_CALL, self._originals[0])
        setattr(Endpoint, _SEND, self._originals[1])
        self._originals = None

    def current(self) -> Measurement | None:
        stack: list[Measurement] = getattr(self._local, "stack", [])
        return stack[-1] if stack else None

    @contextmanager
    def measure(self) -> Iterator[Measurement]:
        """Attribute this thread's AWS calls to a new measurement until the block ends."""
        stack: list[Measurement] = self._local.__dict__.setdefault("stack", [])
        measurement = Measurement()
        stack.append(measurement)
        try:
            yield measurement
        finally:
            stack.pop()

    def __enter__(self) -> CallRecorder:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()
