"""Post each notification an SNS event carries to a webhook channel (Slack, ...): the target's own webhook, or
the default."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SNSEvent

from pushdeploy.domain.errors import DeployError
from pushdeploy.domain.notification import InvalidNotificationError, parse_notification
from pushdeploy.domain.webhook import (
    WEBHOOK_GONE,
    Delivery,
    WebhookChannel,
    WebhookRejectedError,
    check_webhook_url,
)

logger = Logger(service="pushdeploy", child=True)

DEADLINE_MARGIN_SECONDS = 5.0  # left to the function after the last attempt: logging, metrics, the error


class WebhookSource(Protocol):
    def parameter_for(self, name: str) -> str:
        """The parameter that holds webhook ``name``."""
        ...

    def url_for(self, name: str, *, refresh: bool = False) -> str:
        """The URL of webhook ``name`` (cached unless ``refresh``)."""
        ...


class WebhookPoster(Protocol):
    def post(self, url: str, payload: Mapping[str, Any], *, deadline: float) -> Delivery:
        """Deliver ``payload`` to ``url`` before ``deadline`` (a ``time.monotonic`` time)."""
        ...


class NotifyError(DeployError):
    """Raised after every record was tried, when any could not be posted.

    Retryable when any failure may pass (429, 5xx, timeouts, Parameter Store); the invocation fails either
    way, so Lambda's retries and then its failure queue keep the message.
    """

    def __init__(self, failures: list[tuple[str, DeployError]], posted: int, channel: str) -> None:
        lines = "; ".join(f"{where}: {error}" for where, error in failures)
        super().__init__(f"{len(failures)} of {len(failures) + posted} {channel} notification(s) not posted: {lines}")
        self.failures = failures
        self.retryable = any(error.retryable for _, error in failures)


@dataclass(frozen=True)
class WebhookPost:
    """One notification the channel took."""

    webhook: str  # the parameter, never the URL
    target: str
    status: str
    event_id: str
    attempts: int
    seconds: float

    def as_result(self) -> dict[str, Any]:
        """The post as the function's result and log line report it."""
        return {
            "webhook": self.webhook,
            "target": self.target,
            "status": self.status,
            "eventId": self.event_id,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
        }


class WebhookNotifier:
    """Routes each notification to its webhook of ``channel``, renders it and posts it, within the
    invocation's time. ``region`` is where console links point for a record that names no Region (the
    function's: the stack's services run there)."""

    def __init__(
        self,
        *,
        channel: WebhookChannel,
        webhooks: WebhookSource,
        poster: WebhookPoster,
        region: str | None = None,
        allow_loopback: bool = False,
        margin_seconds: float = DEADLINE_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = channel
        self._region = region
        self._webhooks = webhooks
        self._poster = poster
        self._allow_loopback = allow_loopback
        self._margin = margin_seconds
        self._clock = clock

    def notify(self, event: SNSEvent, *, remaining_ms: int) -> dict[str, Any]:
        """Post every record of ``event``; raise NotifyError after trying them all if any failed.

        ``remaining_ms`` is the invocation's time left: every retry ends ``margin_seconds`` before it (or
        half-way, when less than twice the margin is left).
        """
        if "Records" not in event:
            return {"status": "IGNORED", "reason": "not an SNS event (no Records)"}
        remaining = max(remaining_ms, 0) / 1000
        deadline = self._clock() + max(remaining - self._margin, remaining / 2)
        posted: list[WebhookPost] = []
        failures: list[tuple[str, DeployError]] = []
        for index, record in enumerate(event.records, start=1):
            where = f"record {index}"
            try:
                message_id = record.sns.get("MessageId")
                where = f"record {index} (SNS message {message_id})"
                message = parse_notification(record.sns.get("Message"))
                where = f"{message['status']} of {message['repository']}:{message['tag']} to {message['target']}"
                posted.append(self._post(message, deadline))
            except DeployError as exc:
                logger.error(
                    f"{self._channel.name} notification not posted",
                    extra={"record": where, "error": str(exc), "retryable": exc.retryable},
                )
                failures.append((where, exc))
            except (KeyError, TypeError, AttributeError) as exc:  # an SNS record without its Sns part
                error = InvalidNotificationError(f"the SNS record is malformed ({type(exc).__name__}: {exc})")
                logger.error(
                    f"{self._channel.name} notification not posted", extra={"record": where, "error": str(error)}
                )
                failures.append((where, error))
        if failures:
            raise NotifyError(failures, len(posted), self._channel.name) from failures[0][1]
        return {"status": "POSTED", "posted": [post.as_result() for post in posted]}

    def _post(self, message: Mapping[str, Any], deadline: float) -> WebhookPost:
        name = self._channel.webhook_name(message)
        parameter = self._webhooks.parameter_for(name)
        payload = self._channel.render(message, self._region)
        url = self._checked_url(name, parameter, refresh=False)
        try:
            delivery = self._poster.post(url, payload, deadline=deadline)
        except WebhookRejectedError as exc:
            if exc.status not in WEBHOOK_GONE:
                raise
            # The cached URL may be one that was since replaced: read the parameter again, once.
            fresh = self._checked_url(name, parameter, refresh=True)
            if fresh == url:
                raise
            logger.info("Webhook parameter changed since it was cached; posting again", extra={"webhook": parameter})
            delivery = self._poster.post(fresh, payload, deadline=deadline)
        post = WebhookPost(
            webhook=parameter,
            target=str(message["target"]),
            status=str(message["status"]),
            event_id=str(message["eventId"]),
            attempts=delivery.attempts,
            seconds=delivery.seconds,
        )
        logger.info(f"Posted to {self._channel.name}", extra=post.as_result())
        return post

    def _checked_url(self, name: str, parameter: str, *, refresh: bool) -> str:
        url = self._webhooks.url_for(name, refresh=refresh)
        return check_webhook_url(url, self._channel, parameter=parameter, allow_loopback=self._allow_loopback)
