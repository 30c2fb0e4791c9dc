"""A fault-injecting HTTP proxy for the local AWS: fail the Nth call of any AWS operation with any error.

Every request is forwarded unchanged to the upstream server (moto) and its response returned unchanged,
except when a rule matches: then the proxy answers with the error itself, shaped as the service's protocol
shapes it, so botocore parses it into the same ClientError (and applies the same retry rules) as the real
error. Point AWS_ENDPOINT_URL at ``proxy.endpoint`` for the code under test.

    with FaultProxy(local.endpoint) as proxy:
        proxy.fail("ecs", "UpdateService", times=None, error=THROTTLING)
        ...                                   # every UpdateService now fails with ThrottlingException
        proxy.clear()                         # the fault is lifted

``ForwardingProxy`` is the plain forwarding part, for layers that answer some calls themselves (the local
ECS of tools/localecs.py is one): override ``answer``.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, Self
from urllib.parse import parse_qs, urlsplit

# Hop-by-hop headers are the proxy's own business; the body is re-sent whole, with its length.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"})
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_UPSTREAM_TIMEOUT = 60.0

Operation = tuple[str, str]  # (service, operation), e.g. ("ecs", "RegisterTaskDefinition")


@dataclass(frozen=True)
class Fault:
    """What a failed call gets instead of the upstream's response.

    ``kind`` "error": an HTTP error response with ``code`` (``query_code`` for the query protocol, whose
    services spell some codes differently: ``Throttling``, ``AccessDenied``). "disconnect": the connection is
    closed without a response (botocore: ConnectionClosedError). "timeout": nothing is sent for ``delay``
    seconds, then the connection is closed; with ``delay`` above the client's read timeout botocore sees
    ReadTimeoutError. "lost-response": the request reaches the upstream and takes effect, then the connection
    is closed without its response (a timeout after the work was done: the client cannot tell).
    """

    code: str
    status: int = 400
    message: str = "injected fault"
    query_code: str | None = None
    kind: Literal["error", "disconnect", "timeout", "lost-response"] = "error"
    delay: float = 0.0


THROTTLING = Fault("ThrottlingException", 400, "Rate exceeded", query_code="Throttling")
INTERNAL_ERROR = Fault("InternalFailure", 500, "We encountered an internal error. Please try again.")
SERVICE_UNAVAILABLE = Fault("ServiceUnavailable", 503, "Service is unavailable. Please try again.")
ACCESS_DENIED = Fault(
    "AccessDeniedException",
    400,
    "User: arn:aws:sts::123456789012:assumed-role/pushdeploy/DeployFunction is not authorized to perform this action",
    query_code="AccessDenied",
)
DISCONNECT = Fault("ConnectionClosed", kind="disconnect")
LOST_RESPONSE = Fault("ResponseLost", kind="lost-response")


def error(code: str, status: int = 400, message: str = "injected fault") -> Fault:
    """Any error code and HTTP status, e.g. ``error("ClientException", 400, "Too many concurrent attempts")``."""
    return Fault(code, status, message)


def timeout(delay: float) -> Fault:
    """No answer for ``delay`` seconds, then the connection closes: set it above the client's read timeout."""
    return Fault("Timeout", kind="timeout", delay=delay)


@dataclass
class _Rule:
    service: str
    operation: str
    nth: int
    times: int | None
    fault: Fault

    def matches(self, operation: Operation, call_number: int) -> bool:
        if operation != (self.service, self.operation) or call_number < self.nth:
            return False
        return self.times is None or call_number < self.nth + self.times


@dataclass(frozen=True)
class ProxyRequest:
    """One HTTP request as the proxy received it (the body read whole)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key.lower() == name.lower()), "")


@dataclass(frozen=True)
class ProxyResponse:
    """One HTTP response to send back (hop-by-hop headers left out; the length is the proxy's)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def identify(method: str, path: str, headers: dict[str, str], body: bytes) -> Operation:
    """The (service, operation) of a request: ``X-Amz-Target`` for JSON protocols, the form's ``Action``
    for the query protocol, the SigV4 credential scope for the service. Header names are lower-case."""
    scope = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    target = headers.get("x-amz-target", "")
    service = scope.group(1) if scope else ""
    if target:
        prefix, _, operation = target.rpartition(".")
        return service or prefix.split("_", 1)[0].lower(), operation
    action = ""
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    action = action or parse_qs(urlsplit(path).query).get("Action", [""])[0]
    return service, action or f"{method} {urlsplit(path).path}"


class ForwardingProxy:
    """An HTTP proxy on 127.0.0.1 (a free port) that forwards every request to ``upstream_url`` unchanged.

    Subclasses answer some requests themselves by overriding ``answer``; ``forward`` sends one upstream.
    Upstream connections are kept alive per serving thread (botocore keeps its own alive too).
    """

    def __init__(self, upstream_url: str, name: str = "proxy", port: int = 0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self._upstream = (parts.hostname, parts.port or 80)
        self._connections = threading.local()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        host, port = self._server.server_address[:2]
        self.endpoint = f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()  # wakes the calls held by a timeout fault
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, request: ProxyRequest) -> ProxyResponse | None:
        """The response to send instead of the upstream's (None: forward the request)."""
        return None

    def forward(self, request: ProxyRequest) -> ProxyResponse:
        """Send ``request`` upstream and return its response (status, reason, headers, body)."""
        connection: http.client.HTTPConnection | None = getattr(self._connections, "connection", None)
        for attempt in range(2):
            if connection is None:
                connection = http.client.HTTPConnection(*self._upstream, timeout=_UPSTREAM_TIMEOUT)
                connection.connect()
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as above, upstream
                self._connections.connection = connection
            try:
                connection.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
                for name, value in request.headers:
                    if name.lower() not in _HOP_BY_HOP:
                        connection.putheader(name, value)
                connection.putheader("Content-Length", str(len(request.body)))
                connection.endheaders(request.body)
                response = connection.getresponse()
                body = response.read()
            except (http.client.HTTPException, ConnectionError):
                connection.close()
                connection = self._connections.connection = None
                if attempt:  # a kept-alive connection the upstream closed gets one fresh try
                    raise
                continue
            if response.will_close:
                connection.close()
                self._connections.connection = None
            headers = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
            return ProxyResponse(response.status, response.reason, headers, body)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _respond(self, request: ProxyRequest) -> ProxyResponse | None:
        """What the serving thread sends back (None: close the connection without a response)."""
        return self.answer(request) or self.forward(request)


class FaultProxy(ForwardingProxy):
    """An HTTP proxy on 127.0.0.1 (a free port) in front of ``upstream_url``, failing the calls it is told to.

    ``calls`` lists every call as (service, operation), in arrival order; ``injected`` the calls that got a
    fault, with the fault's code. Counting is per (service, operation), from 1, and includes failed calls.
    """

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url, name="fault-proxy")
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._counts: dict[Operation, int] = {}
        self.calls: list[Operation] = []
        self.injected: list[tuple[str, str, str]] = []

    # -- rules ------------------------------------------------------------------------------------------
    def fail(
        self, service: str, operation: str, *, nth: int = 1, times: int | None = 1, error: Fault = THROTTLING
    ) -> None:
        """Fail calls ``nth`` .. ``nth + times - 1`` of ``service:operation`` (every call from ``nth`` on
        when ``times`` is None) with ``error``. Calls made before the rule count too."""
        if nth < 1 or (times is not None and times < 1):
            raise ValueError("nth and times count from 1")
        with self._lock:
            self._rules.append(_Rule(service, operation, nth, times, error))

    def clear(self) -> None:
        """Lift every fault; calls pass through again (the counts go on)."""
        with self._lock:
            self._rules.clear()

    def count(self, service: str, operation: str) -> int:
        """How many calls of ``service:operation`` arrived (failed ones included)."""
        with self._lock:
            return self._counts.get((service, operation), 0)

    def _record(self, operation: Operation) -> Fault | None:
        with self._lock:
            number = self._counts.get(operation, 0) + 1
            self._counts[operation] = number
            self.calls.append(operation)
            rule = next((rule for rule in self._rules if rule.matches(operation, number)), None)
            if rule is not None:
                self.injected.append((*operation, rule.fault.code))
            return rule.fault if rule else None

    def _respond(self, request: ProxyRequest) -> ProxyResponse | None:
        lowered = {name.lower(): value for name, value in request.headers}
        fault = self._record(identify(request.method, request.path, lowered, request.body))
        if fault is None:
            return super()._respond(request)
        if fault.kind == "timeout":
            self._stopping.wait(fault.delay)
            return None
        if fault.kind == "lost-response":
            self.forward(request)
            return None
        if fault.kind == "disconnect":
            return None
        headers, body = _error_response(fault, request)
        return ProxyResponse(fault.status, "", headers, body)


def _error_response(fault: Fault, request: ProxyRequest) -> tuple[list[tuple[str, str]], bytes]:
    """The error as the request's protocol carries it: JSON ``__type`` or query-protocol XML."""
    request_id = str(uuid.uuid4())
    if not request.header("x-amz-target") and request.header("content-type").startswith(
        "application/x-www-form-urlencoded"
    ):
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{'Receiver' if fault.status >= 500 else 'Sender'}</Type>"
            f"<Code>{fault.query_code or fault.code}</Code><Message>{_xml_escape(fault.message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
    content_type = request.header("content-type") or "application/x-amz-json-1.1"
    body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
    return [("Content-Type", content_type), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", fault.code)], body


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _handler_class(proxy: ForwardingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
        disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms ACK waits

        def _handle(self) -> None:
            request = ProxyRequest(self.command, self.path, list(self.headers.items()), self._read_body())
            response = proxy._respond(request)
            if response is None:
                self.close_connection = True  # no response at all: the client sees the connection drop
                return
            self.send_response_only(response.status, response.reason or None)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in {b"\r\n", b"\n", b""}:  # trailers
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test output is no place for an access log."""

    return Handler
