"""moto's server on loopback, with every request counted by ``service:Operation`` at the server.

Counting at the server sees every AWS request whoever makes it (the in-process handler, a fresh
interpreter, fabfuel's ``ecs`` CLI), so the side-by-side comparison counts both tools the same way.

moto's backends take no lock per request: two concurrent conditional writes to one DynamoDB item, or two
concurrent registrations of one task-definition family, can interleave in ways the real services forbid.
``serialize`` makes each request atomic (one at a time), as DynamoDB's conditional writes and ECS's
revision numbering are in AWS; the burst runs with it on so that what it counts is the product's
behaviour, not moto's races.

The server runs in its own process (``ServerProcess``: ``python -m bench.server``), so that moto's work
and the handler's do not share one interpreter lock on this 2-core machine; the parent reads the counts and
switches ``serialize`` over HTTP (``/_bench/...``, neither counted nor passed to moto). The child exits
when its standard input closes, i.e. when the parent goes, whatever the way it goes.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

CONTROL_PATH = "/_bench/"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def request_operation(environ: dict[str, Any]) -> str:
    """``service:Operation`` of a SigV4-signed AWS request (``service:?`` when it names none)."""
    service = "?"
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if "Credential=" in authorization:
        scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) == 5:
            service = scope[3]
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    path = str(environ.get("PATH_INFO", ""))
    if "/operation/" in path:  # Smithy RPC v2 (CBOR)
        return f"{service}:{path.rstrip('/').rsplit('/', 1)[-1]}"
    action = parse_qs(str(environ.get("QUERY_STRING", ""))).get("Action")
    if not action and "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # give the body back to moto
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return f"{service}:{action[0]}"
    return f"{service}:{environ.get('REQUEST_METHOD', '?')} {path.split('/', 2)[1] if path.count('/') else path}"


class CountingMotoServer:
    """moto's WSGI application on 127.0.0.1 (a free port), threaded, counting each request."""

    def __init__(self) -> None:
        self._app: WsgiApp = DomainDispatcherApplication(create_backend_app)
        self._counts: Counter[str] = Counter()
        self._seconds: dict[str, float] = {}  # time moto spent on each operation (lock waits excluded)
        self._count_lock = threading.Lock()
        self._serial_lock = threading.Lock()
        self.serialize = False
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL_PATH):
            return self._control(path[len(CONTROL_PATH) :], start_response)
        operation = request_operation(environ)
        with self._count_lock:
            self._counts[operation] += 1
        if not self.serialize:
            return self._timed(operation, environ, start_response)
        with self._serial_lock:
            return self._timed(operation, environ, start_response)

    def _timed(self, operation: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        body = list(self._app(environ, start_response))  # moto's whole work, the response body included
        elapsed = time.perf_counter() - started
        with self._count_lock:
            self._seconds[operation] = self._seconds.get(operation, 0.0) + elapsed
        return body

    def _control(self, command: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if command == "serialize/on":
            self.serialize = True
        elif command == "serialize/off":
            self.serialize = False
        elif command not in {"counts", "seconds"}:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown command"]
        body = json.dumps(self.seconds() if command == "seconds" else dict(self.counts())).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def start(self) -> str:
        """Start serving; returns the endpoint URL."""
        server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=MotoRequestHandler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        host, port = server.server_address[:2]
        self.endpoint = f"http://{host!s}:{port}"
        return self.endpoint

    def stop(self) -> None:
        """Stop serving and close the socket (safe to call twice)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def counts(self) -> Counter[str]:
        """A copy of the counts so far."""
        with self._count_lock:
            return Counter(self._counts)

    def seconds(self) -> dict[str, float]:
        """A copy of the time moto spent so far, by operation."""
        with self._count_lock:
            return dict(self._seconds)

    def __enter__(self) -> CountingMotoServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ServerProcess:
    """A CountingMotoServer in a child process (``python -m bench.server``), driven over HTTP."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._serialize = False
        self.endpoint = ""

    def start(self) -> str:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        environment["PYTHONPATH"] = root
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()  # the child prints its endpoint once it listens
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"bench.server did not start: {line!r}")
        self.endpoint = line
        return line

    def _request(self, command: str) -> Any:
        request = urllib.request.Request(f"{self.endpoint}{CONTROL_PATH}{command}", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return json.loads(response.read())

    def counts(self) -> Counter[str]:
        """The requests counted so far."""
        return Counter(self._request("counts"))

    def seconds(self) -> dict[str, float]:
        """The time moto spent so far, by operation."""
        return {str(key): float(value) for key, value in self._request("seconds").items()}

    @property
    def serialize(self) -> bool:
        """Whether the server runs one request at a time."""
        return self._serialize

    @serialize.setter
    def serialize(self, on: bool) -> None:
        self._request("serialize/on" if on else "serialize/off")
        self._serialize = on

    def stop(self) -> None:
        """End the child (it is ours: by its own handle, never by name)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the child exits on EOF
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def seconds_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """moto's time by operation between two snapshots, largest first."""
    spent = {key: after[key] - before.get(key, 0.0) for key in after}
    return dict(sorted(((key, value) for key, value in spent.items() if value > 0), key=lambda item: -item[1]))


def counts_since(before: Counter[str], after: Counter[str]) -> Counter[str]:
    """The requests made between two snapshots."""
    return Counter({key: after[key] - before[key] for key in after if after[key] - before[key] > 0})


def main() -> None:
    """Serve until standard input closes (the parent's end of the pipe)."""
    import logging  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    # moto's CloudFormation names the resource types it cannot create; the harness reports those itself.
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
    with CountingMotoServer() as server:
        print(server.endpoint, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
