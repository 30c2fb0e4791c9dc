"""Incoming webhooks, for every chat channel: the client (stdlib urllib) and the URLs kept in Parameter Store.

A webhook URL is a secret: it never appears in a log line or an exception message. Errors are built from
status codes, the service's short bodies and exception type names, never from urllib's text (which can quote the
URL), and everything is passed through ``redact`` all the same.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import IO, TYPE_CHECKING, Any, override

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from pushdeploy.adapters.errors import error_code
from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.webhook import (
    Delivery,
    WebhookChannel,
    WebhookNotFoundError,
    WebhookRejectedError,
    WebhookUnavailableError,
    WebhookUrlError,
    redact,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

MAX_BODY = 1024  # webhook answers are short words (Slack's "ok", "no_service"); never read more than this
MIN_ATTEMPT_SECONDS = 0.1  # an attempt with less time than this left before the deadline is not made


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before the caller's deadline.

    ``timeout`` bounds each attempt (connect, and each read); retries wait ``base_delay`` x 2^n, at most
    ``max_delay``, with jitter (half fixed, half random), or what a 429's Retry-After says.
    """

    timeout: float = 5.0
    base_delay: float = 1.0
    max_delay: float = 8.0
    max_attempts: int = 6

    def backoff(self, attempt: int, jitter: float) -> float:
        """The wait after failed attempt number ``attempt`` (1-based); ``jitter`` is in [0, 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + ceiling / 2 * jitter


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook never redirects; following one would re-send the message as a GET, or somewhere else."""

    @override
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str
    retry_after: float | None


class _AttemptFailed(Exception):  # noqa: N818 - internal signal, never leaves this module
    """An attempt that got no HTTP answer (timeout, refused or reset connection); the text is URL-free."""


class WebhookClient:
    """POSTs a JSON payload to an incoming webhook of ``channel``: 2xx is delivered; 429, 5xx and network
    failures are retried with backoff until the caller's deadline; any other status is refused for good."""

    def __init__(
        self,
        channel: WebhookChannel,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        self._channel = channel
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._opener = opener or urllib.request.build_opener(_NoRedirects())
        self._user_agent = f"pushdeploy-{channel.name.lower().replace(' ', '-')}"

    def post(self, url: str, payload: Mapping[str, Any], *, deadline: float) -> Delivery:
        """Deliver ``payload`` before ``deadline`` (a time on this client's clock, ``time.monotonic``).

        Raises WebhookUnavailableError (retryable) when the service did not take it in time,
        WebhookRejectedError (permanent) for a 4xx other than 429, WebhookUrlError when urllib cannot use
        the URL.
        """
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        started = self._clock()
        attempt = 0
        last = "no attempt was made: the deadline had passed"
        while True:
            left = deadline - self._clock()
            if left < MIN_ATTEMPT_SECONDS:
                raise self._unavailable(attempt, started, f"{last}; no time left")
            attempt += 1
            timeout = min(self._policy.timeout, left)
            try:
                answer = self._send(url, data, timeout)
            except _AttemptFailed as failure:
                last, wait = str(failure), self._policy.backoff(attempt, self._jitter())
            else:
                if 200 <= answer.status < 300:
                    return Delivery(attempts=attempt, seconds=self._clock() - started)
                body = redact(answer.body, url)
                if answer.status != 429 and answer.status < 500:
                    raise WebhookRejectedError(answer.status, body, self._channel)
                last = f"HTTP {answer.status} {body!r}"
                wait = self._policy.backoff(attempt, self._jitter())
                if answer.status == 429 and answer.retry_after is not None:
                    wait = answer.retry_after  # the service says when; sooner would only be refused again
            if attempt >= self._policy.max_attempts:
                raise self._unavailable(attempt, started, last)
            if self._clock() + wait > deadline - MIN_ATTEMPT_SECONDS:
                raise self._unavailable(
                    attempt, started, f"{last}; the next attempt, in {wait:.1f} s, would miss the deadline"
                )
            self._sleep(wait)

    def _unavailable(self, attempts: int, started: float, last: str) -> WebhookUnavailableError:
        return WebhookUnavailableError(attempts, self._clock() - started, last, self._channel.name)

    def _send(self, url: str, data: bytes, timeout: float) -> _Answer:
        request = urllib.request.Request(  # noqa: S310 - the URL was checked (https and the channel's hosts only)
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": self._user_agent},
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return _Answer(response.status, _read(response), None)
        except urllib.error.HTTPError as exc:
            with exc:
                return _Answer(exc.code, _read(exc), _retry_after(exc.headers.get("Retry-After")))
        except (ValueError, http.client.InvalidURL) as exc:  # unknown url type, control characters...
            # ... and urllib's text for these quotes the URL: only the type is kept.
            raise WebhookUrlError(f"urllib cannot use it ({type(exc).__name__})", None, self._channel.name) from None
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, BaseException):  # urllib's own refusal: "unknown url type", "no host"
                raise WebhookUrlError("urllib cannot use it (URLError)", None, self._channel.name) from None
            raise _AttemptFailed(redact(_describe(exc, timeout), url)) from None
        except (OSError, http.client.HTTPException) as exc:  # timeouts, refused or reset connections
            raise _AttemptFailed(redact(_describe(exc, timeout), url)) from None


def _read(response: IO[bytes]) -> str:
    try:
        return response.read(MAX_BODY).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return ""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (Slack sends whole seconds); None when absent or not a number."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None


def _describe(exc: BaseException, timeout: float) -> str:
    """What went wrong, from types and OS error strings only (urllib's own text may quote the URL)."""
    reason: BaseException = exc
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        reason = exc.reason
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:.1f} s"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return type(reason).__name__


class WebhookParameters:
    """A channel's webhook URLs, kept as SecureString parameters ``<path>/<name>``, read with decryption and
    cached."""

    def __init__(self, client: SSMClient, path: str, max_age: int, channel: WebhookChannel) -> None:
        self._provider = SSMProvider(boto3_client=client)
        self._channel = channel
        self._path = path.rstrip("/")
        self._max_age = max_age

    def parameter_for(self, name: str) -> str:
        """The parameter that holds webhook ``name``."""
        return f"{self._path}/{name}"

    def url_for(self, name: str, *, refresh: bool = False) -> str:
        """The URL of webhook ``name`` (cached; ``refresh`` reads it again).

        Raises WebhookNotFoundError naming the parameter when it does not exist, AwsCallError (retryable)
        when Parameter Store cannot be read.
        """
        parameter = self.parameter_for(name)
        try:
            with _response_bodies_unlogged():
                value = self._provider.get(parameter, max_age=self._max_age, decrypt=True, force_fetch=refresh)
        except GetParameterError as exc:
            # powertools wraps every failure in GetParameterError, with the original as its context.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError):
                code = error_code(cause)
                if code == "ParameterNotFound":
                    raise WebhookNotFoundError(parameter, self._channel) from None
                detail = str(cause.response.get("Error", {}).get("Message", ""))
                raise AwsCallError("ssm:GetParameter", code, f"{parameter}: {detail}") from None
            name_of_failure = type(cause).__name__ if isinstance(cause, BotoCoreError) else type(exc).__name__
            raise AwsCallError("ssm:GetParameter", name_of_failure, f"{parameter} could not be read") from None
        if not isinstance(value, str):
            raise WebhookUrlError("it is not a string parameter", parameter, self._channel.name)
        return value.strip()


class _NoDebugLines(logging.Filter):
    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


@contextmanager
def _response_bodies_unlogged() -> Iterator[None]:
    """botocore prints every response body at DEBUG ("Response body: ..."), GetParameter's decrypted URL
    included: with DEBUG on (Lambda's log level, a developer's basicConfig), the webhook would be logged.
    Its parser's DEBUG lines are dropped for the duration of the read."""
    parsers = logging.getLogger("botocore.parsers")
    quiet = _NoDebugLines()
    parsers.addFilter(quiet)
    try:
        yield
    finally:
        parsers.removeFilter(quiet)
