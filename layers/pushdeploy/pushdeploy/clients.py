"""botocore clients for the composition root, the ones a request needs first made while its first calls wait."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from botocore.config import Config

CreateClient = Callable[..., Any]  # (service name, config=...) -> a botocore client


class PreparedClients:
    """Creates clients from one botocore session, those named to ``prepare`` in a background thread, in order.

    Creating a client is CPU work (its service model and endpoint rules are read and parsed: 15-50 ms each on a
    cold start) that a request otherwise does on its critical path, one client before each service's first call.
    Prepared, the second client onwards is made while the first calls wait on the network. A prepared client is
    handed out at once as a stand-in that waits for it on first use (and raises what its creation raised).

    The session is only ever used by one thread at a time (botocore's sessions are not thread-safe): a client that
    was not prepared is made by the background thread next, ahead of those still waiting, while it runs (a manual
    deploy's ECR client), and by the caller once it has finished.
    """

    def __init__(self, create: CreateClient) -> None:
        self._create = create
        self._prepared: dict[tuple[str, int], _Prepared] = {}
        self._queue: deque[_Prepared] = deque()
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None

    def prepare(self, wanted: Sequence[tuple[str, Config]]) -> None:
        """Start creating ``wanted`` (service name, config) in the background, in that order; once only."""
        with self._lock:
            if self._prepared:
                raise RuntimeError("clients are prepared once")
            for name, config in wanted:
                self._queue.append(self._register(name, config))
            self._running = True
        self._thread = threading.Thread(target=self._create_queued, name="pushdeploy-clients", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the background thread is still making clients."""
        with self._lock:
            return self._running

    def wait(self) -> None:
        """Return once the background thread has made every client asked of it."""
        if self._thread is not None:
            self._thread.join()

    def __call__(self, service_name: str, *, config: Config) -> Any:
        with self._lock:
            prepared = self._prepared.get((service_name, id(config)))
            if prepared is not None:
                return prepared
            if self._running:
                item = self._register(service_name, config)
                self._queue.appendleft(item)
                return item
        return self._create(service_name, config=config)

    def _register(self, service_name: str, config: Config) -> _Prepared:
        # Keyed by the config's identity: a caller asks for the very Config object it prepared.
        item = _Prepared(service_name, config)
        self._prepared[(service_name, id(config))] = item
        return item

    def _create_queued(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._running = False
                    return
                item = self._queue.popleft()
            try:
                item.set_client(self._create(item.service_name, config=item.service_config))
            except Exception as exc:  # handed to the first user of the client, raised there
                item.set_error(exc)


class _Prepared:
    """A client being created in the background: attribute access waits for it."""

    def __init__(self, service_name: str, service_config: Config) -> None:
        self.service_name = service_name
        self.service_config = service_config
        self._ready = threading.Event()
        self._client: Any = None
        self._error: Exception | None = None

    def set_client(self, client: Any) -> None:
        self._client = client
        self._ready.set()

    def set_error(self, error: Exception) -> None:
        self._error = error
        self._ready.set()

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this stand-in lacks: the client's own attributes and operations.
        if not self._ready.is_set():
            self._ready.wait()
        if self._error is not None:
            raise self._error
        return getattr(self._client, name)
