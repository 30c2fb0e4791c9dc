"""The webhook client without a network: retries, Retry-After, deadlines, errors that never quote the URL."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

import pytest

from pushdeploy.adapters.webhook import RetryPolicy, WebhookClient
from pushdeploy.domain.slack import (
    SLACK,
)
from pushdeploy.domain.webhook import (
    Delivery,
    WebhookRejectedError,
    WebhookUnavailableError,
    WebhookUrlError,
)
from tests.unit.notification_records import (
    WEBHOOK,
)

# --- The webhook client, without a network -----------------------------------------------------------------


class FakeClock:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Answer(io.BytesIO):
    """A urllib response: a status and a body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body.encode())
        self.status = status


class ScriptedOpener(urllib.request.OpenerDirector):
    """Answers each request with the next scripted response or exception; records the requests."""

    def __init__(self, *script: Answer | BaseException) -> None:
        super().__init__()
        self.script = list(script)
        self.requests: list[tuple[urllib.request.Request, float | None]] = []

    def open(self, fullurl: Any, data: Any = None, timeout: float | None = None) -> Any:
        assert isinstance(fullurl, urllib.request.Request)
        self.requests.append((fullurl, timeout))
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def http_error(status: int, body: str, retry_after: str | None = None) -> urllib.error.HTTPError:
    headers = Message()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return urllib.error.HTTPError(WEBHOOK, status, "error", headers, io.BytesIO(body.encode()))


def client(opener: ScriptedOpener, clock: FakeClock, **policy: Any) -> WebhookClient:
    return WebhookClient(
        SLACK, RetryPolicy(**policy), clock=clock, sleep=clock.sleep, jitter=lambda: 0.5, opener=opener
    )


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    # Given the production policy (1 s base, 8 s cap)
    policy = RetryPolicy()

    # When the waits after attempts 1..6 are computed with the lowest and the highest jitter
    lowest = [policy.backoff(attempt, 0.0) for attempt in range(1, 7)]
    highest = [policy.backoff(attempt, 0.999999) for attempt in range(1, 7)]

    # Then each is between half and all of 1, 2, 4, 8, 8, 8 seconds
    assert lowest == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert highest == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0, 8.0], rel=1e-5)


def test_posts_json_and_takes_2xx_as_delivered() -> None:
    # Given Slack answers 200 ok
    opener, clock = ScriptedOpener(Answer(200, "ok")), FakeClock()

    # When a payload is posted
    delivery = client(opener, clock).post(WEBHOOK, {"text": "héllo"}, deadline=clock.now + 30)

    # Then one JSON POST was made, with the per-attempt timeout
    (request, timeout), *_ = opener.requests
    assert request.get_method() == "POST"
    assert request.get_header("Content-type") == "application/json; charset=utf-8"
    assert json.loads(request.data) == {"text": "héllo"}  # type: ignore[arg-type]
    assert timeout == 5.0
    assert delivery == Delivery(attempts=1, seconds=0.0)


def test_retry_after_is_honoured_exactly() -> None:
    # Given Slack rate-limits once with Retry-After: 3
    opener, clock = ScriptedOpener(http_error(429, "rate_limited", "3"), Answer(200, "ok")), FakeClock()

    # When a payload is posted
    delivery = client(opener, clock).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 30)

    # Then the client waited exactly 3 s, then delivered
    assert clock.sleeps == [3.0]
    assert delivery.attempts == 2


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    # Given Slack asks to come back in two minutes, and ten seconds are left
    opener, clock = ScriptedOpener(http_error(429, "rate_limited", "120")), FakeClock()

    # When a payload is posted
    with pytest.raises(WebhookUnavailableError, match=r"the next attempt, in 120\.0 s, would miss the deadline"):
        client(opener, clock).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 10)

    # Then it did not wait: the invocation fails now and Lambda retries later
    assert clock.sleeps == []


def test_5xx_and_network_errors_back_off_until_the_attempts_run_out() -> None:
    # Given Slack fails in every way a retry may cure
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    opener = ScriptedOpener(http_error(500, "oops"), refused, TimeoutError("timed out"), http_error(503, "down"))
    clock = FakeClock()

    # When a payload is posted with four attempts allowed
    with pytest.raises(WebhookUnavailableError) as raised:
        client(opener, clock, max_attempts=4).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 60)

    # Then it waited 0.75 x 1, 2, 4 s between them and reports the last failure
    assert clock.sleeps == [0.75, 1.5, 3.0]
    assert raised.value.retryable
    assert "after 4 attempt(s) in 5.2 s (last: HTTP 503 'down')" in str(raised.value)


def test_a_network_error_is_described_without_urllib_text() -> None:
    # Given a connection error whose text quotes the URL, then a refused connection
    quoting = urllib.error.URLError(OSError(f"cannot reach {WEBHOOK}"))
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    opener, clock = ScriptedOpener(quoting, refused), FakeClock()

    # When a payload is posted with two attempts allowed
    with pytest.raises(WebhookUnavailableError) as raised:
        client(opener, clock, max_attempts=2).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 60)

    # Then the error says what happened in words of its own
    assert "last: ConnectionRefusedError: Connection refused" in str(raised.value)
    assert "Xy9TokenThatIsSecret" not in str(raised.value)
    # And carries no urllib exception along (their attributes hold the URL)
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


@pytest.mark.parametrize(("status", "body"), [(400, "invalid_payload"), (403, "invalid_token"), (404, "no_service")])
def test_other_4xx_are_refused_at_once(status: int, body: str) -> None:
    # Given Slack refuses the request
    opener, clock = ScriptedOpener(http_error(status, body)), FakeClock()

    # When a payload is posted
    with pytest.raises(WebhookRejectedError) as raised:
        client(opener, clock).post(WEBHOOK, {"text": "x"}, deadline=clock.now + 60)

    # Then there was one attempt, and the error names the status and Slack's body, not the URL
    assert len(opener.requests) == 1
    assert (raised.value.status, raised.value.body) == (status, body)
    assert "Xy9TokenThatIsSecret" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "htps://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret",
        "https://hooks.slack.com/services/T0/B0/Xy9TokenThatIsSecret\r\nX-Injected: 1",
        "https://hooks.slack.com/services/T0/B0/Xy9TökenThatIsSecret",
    ],
)
def test_a_url_urllib_cannot_use_is_refused_without_quoting_it(url: str) -> None:
    # Given a URL urllib refuses before connecting (its own message would quote the URL)
    # When a payload is posted with the real opener (the unit tests' network block would stop any connection)
    with pytest.raises(WebhookUrlError) as raised:
        WebhookClient(SLACK).post(url, {"text": "x"}, deadline=1e12)

    # Then the error names the kind of problem, never the URL
    assert "urllib cannot use it" in str(raised.value)
    assert "Xy9T" not in str(raised.value)
    assert raised.value.__suppress_context__
