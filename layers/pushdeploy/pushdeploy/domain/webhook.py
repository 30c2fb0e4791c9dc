"""Incoming webhooks, for every chat channel: what a channel is, the URL check, redaction, the errors.

Pure: no network and no AWS library. The HTTP call is ``pushdeploy.adapters.webhook``; a channel's message
format is its renderer (``pushdeploy.domain.slack`` for Slack).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pushdeploy.domain.errors import DeployError
from pushdeploy.domain.notification import quote

DEFAULT_WEBHOOK = "default"
LOOPBACK_HOST = "127.0.0.1"
# A chat service's answers for a webhook that was removed or re-issued: the parameter may hold a newer URL.
WEBHOOK_GONE = frozenset({403, 404, 410})

Renderer = Callable[[Mapping[str, Any], str | None], dict[str, Any]]


@dataclass(frozen=True)
class WebhookChannel:
    """A chat service reached through incoming webhooks.

    ``name`` is how messages name it ("Slack"); ``hosts`` the only hosts its webhook URLs may point at;
    ``route_field`` the record field that names a target's own webhook; ``render`` turns a notification record
    (and the Region to link to when the record has none) into the JSON payload to POST; ``rejection_hints``
    says what to do about the service's refusals, by the body it answers with.
    """

    name: str
    hosts: tuple[str, ...]
    route_field: str
    render: Renderer
    rejection_hints: Mapping[str, str] = field(default_factory=dict)

    def webhook_name(self, message: Mapping[str, Any]) -> str:
        """The webhook a record routes to: the target's own, or the default."""
        return str(message.get(self.route_field) or DEFAULT_WEBHOOK)


@dataclass(frozen=True)
class Delivery:
    """A message the chat service took: after how many attempts and how long."""

    attempts: int
    seconds: float


# --- Errors ------------------------------------------------------------------------------------------------


class WebhookNotFoundError(DeployError):
    """The webhook parameter a notification routes to does not exist."""

    def __init__(self, parameter: str, channel: WebhookChannel) -> None:
        super().__init__(
            f"{channel.name} webhook parameter {parameter} not found in Parameter Store: create it as a "
            f"SecureString holding the incoming-webhook URL, or correct the target's {channel.route_field}"
        )
        self.parameter = parameter


class WebhookUrlError(DeployError):
    """The webhook parameter holds something that is not a usable webhook URL (never quoted: a secret)."""

    def __init__(self, problem: str, parameter: str | None, channel: str) -> None:
        where = f"{channel} webhook parameter {parameter}" if parameter else f"the {channel} webhook URL"
        super().__init__(f"{where} is not usable: {problem}")
        self.parameter = parameter
        self.problem = problem


class WebhookRejectedError(DeployError):
    """The chat service refused the message for good (a 4xx other than 429): retrying cannot help."""

    def __init__(self, status: int, body: str, channel: WebhookChannel) -> None:
        hint = channel.rejection_hints.get(body.strip())
        super().__init__(f"{channel.name} refused the message: HTTP {status} {body!r}" + (f" ({hint})" if hint else ""))
        self.status = status
        self.body = body


class WebhookUnavailableError(DeployError):
    """The chat service did not take the message before the deadline (429, 5xx, timeouts): a later attempt may."""

    retryable = True

    def __init__(self, attempts: int, seconds: float, last: str, channel: str) -> None:
        super().__init__(
            f"{channel} did not take the message after {attempts} attempt(s) in {seconds:.1f} s (last: {last}); "
            "failing the invocation so that Lambda retries it and its failure queue keeps it"
        )
        self.attempts = attempts
        self.seconds = seconds


# --- The webhook URL ----------------------------------------------------------------------------------------


def check_webhook_url(
    url: str, channel: WebhookChannel, *, parameter: str | None = None, allow_loopback: bool = False
) -> str:
    """``url`` if it is an incoming-webhook URL of ``channel`` (``https://<one of its hosts>/...``).

    With ``allow_loopback`` (tests only), ``http://127.0.0.1:<port>/...`` passes too. Raises WebhookUrlError
    naming the parameter and the problem; the URL itself is a secret and is never quoted.
    """
    expected = " or ".join(f"https://{host}/..." for host in channel.hosts) + (
        f" or http://{LOOPBACK_HOST}:<port>/..." if allow_loopback else ""
    )

    def refused(problem: str) -> WebhookUrlError:
        return WebhookUrlError(problem, parameter, channel.name)

    if not url:
        raise refused("it is empty")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise refused("it contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused(f"it is not a URL; expected {expected}") from None
    if parts.username is not None or parts.password is not None:
        raise refused("it carries a user name or password")
    if len(parts.path) <= 1 or parts.fragment:
        raise refused(f"it has no webhook path; expected {expected}")
    host = parts.hostname
    if parts.scheme == "https" and host in channel.hosts and port in (None, 443):
        return url
    if allow_loopback and parts.scheme == "http" and host == LOOPBACK_HOST:
        return url
    # Scheme and host are not the secret part of a webhook (its path is): name them to help whoever fixes it.
    raise refused(
        f"expected {expected}, got scheme {quote(parts.scheme)} and host {quote(host)}"
        + (f" port {port}" if port is not None else "")
    )


def redact(text: str, url: str) -> str:
    """``text`` without ``url``, its path or any of its path segments (the webhook's token is one of them)."""
    if not url:
        return text
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    secrets = {url, url.rstrip("/"), repr(url)[1:-1], path}
    secrets |= {segment for segment in path.split("/") if len(segment) >= 6}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text
