"""Announcing a target's report: render its notification and publish it, saying so when SNS refuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from aws_lambda_powertools import Logger

from pushdeploy.domain.errors import AwsCallError
from pushdeploy.domain.messages import Notification, render_notification
from pushdeploy.domain.ports import NotificationPublisher
from pushdeploy.domain.report import TargetReport
from pushdeploy.domain.times import describe_time

logger = Logger(service="pushdeploy", child=True)


class Announcer:
    """Publishes reports; a publish that fails is reported on the report (``notification_error``), never
    raised, so that the deploy it announces is still recorded."""

    def __init__(self, publisher: NotificationPublisher, clock: Callable[[], float], region: str | None) -> None:
        self._publisher = publisher
        self._clock = clock
        self._region = region

    def render(self, report: TargetReport) -> Notification:
        """The report's notification, stamped now."""
        return render_notification(report, time=describe_time(self._clock()), region=self._region)

    def announce(self, report: TargetReport) -> TargetReport:
        """Render and publish ``report`` (a dry run's reports are never published)."""
        if report.push.dry_run:
            return report
        return self.publish(report, self.render(report))

    def publish(self, report: TargetReport, notification: Notification) -> TargetReport:
        """Publish ``notification``; the report says whether it went out."""
        try:
            self._publisher.publish(notification)
        except AwsCallError as exc:
            logger.error("Notification not published", extra={"target": report.target, "error": str(exc)})
            return replace(report, notified=False, notification_error=f"notification not published: {exc}")
        return replace(report, notified=True)
