"""What a target's deploy writes to the ledger when it ends: the deployed record, the history item, the
event's result (a redelivery gets it back), the claim given back; and a failure found before claiming,
announced once per event."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger

from pushdeploy.domain.errors import DeployError
from pushdeploy.domain.ledger import Claim, DeployedRecord, EventResult, PendingRevision, TargetState, events_to_forget
from pushdeploy.domain.messages import Notification
from pushdeploy.domain.outcome import DeploymentEvent
from pushdeploy.domain.ports import DeployLedger
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.records import history_item
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.usecases.announce import Announcer

logger = Logger(service="pushdeploy", child=True)


@dataclass(frozen=True)
class ClaimedTarget:
    """A target claimed for a push: what the ledger writes name, and the target's state as the claim found it."""

    push: ImagePush
    target: str
    claim: Claim
    state: TargetState


class Recorder:
    """Ends a claimed target's deploy in the ledger. Each write carries the event's result when the report is
    final (a redelivery then returns it), and drops the results too old to keep."""

    def __init__(
        self,
        ledger: DeployLedger,
        clock: Callable[[], float],
        apply_early_outcome: Callable[[DeploymentEvent], object] | None = None,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        # The tracker's work, for an ECS outcome that arrived before its deploy was recorded.
        self._apply_early_outcome = apply_early_outcome

    def commit(
        self,
        claimed: ClaimedTarget,
        report: TargetReport,
        notification: Notification | None,
        *,
        service_arn: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record what the target runs now and release the claim; a deploy that started also gets its history
        item (``message``: the DEPLOYING message to keep, when not ``notification``'s). An ECS outcome that
        arrived before the record is applied now."""
        now = self._clock()
        unpublished = notification is not None and not report.notified
        deployed = DeployedRecord(
            push=claimed.push.record,
            task_definition_arn=report.task_definition_arn or "",
            deployed_at=now,
            notified=not unpublished,
            notification=notification.to_json() if notification is not None and unpublished else None,
        )
        history = None
        if report.status is DeployStatus.DEPLOYING:
            message = message or (json.dumps(notification.message) if notification else None)
            history = history_item(report, recorded_at=now, service_arn=service_arn, notification=message)
        result, forget = self._result(claimed, report)
        early = self._ledger.commit(
            claimed.push.config_key,
            claimed.target,
            claimed.claim.token,
            deployed,
            history,
            result=result,
            forget=forget,
            history_refs=claimed.state.history_refs,
        )
        if early is not None and self._apply_early_outcome is not None:
            logger.info("Applying an outcome that arrived before the deploy was recorded")
            self._apply_early_outcome(early)

    def keep(self, claimed: ClaimedTarget, deployed: DeployedRecord, report: TargetReport) -> None:
        """Record ``deployed`` as it is now (a refreshed push, a re-published notification), with no history
        item, and release the claim."""
        result, forget = self._result(claimed, report)
        repository, token = claimed.push.config_key, claimed.claim.token
        self._ledger.commit(repository, claimed.target, token, deployed, None, result=result, forget=forget)

    def release(
        self, claimed: ClaimedTarget, pending: PendingRevision | None, report: TargetReport | None, *, quiet: bool
    ) -> None:
        """Give the claim back (recording ``pending``, and ``report`` when it is the event's final result);
        ``quiet``: a failure to do so is logged (the lease lapses by itself), not raised."""
        result, forget = self._result(claimed, report) if report is not None else (None, [])
        try:
            self._ledger.release(
                claimed.push.config_key, claimed.target, claimed.claim.token, pending, result=result, forget=forget
            )
        except DeployError as exc:
            if not quiet:
                raise
            logger.warning("Claim not released", extra={"target": claimed.target, "error": str(exc)})

    def skipped(self, claimed: ClaimedTarget, report: TargetReport, *, holding: bool) -> None:
        """Record a skip as the event's result: with the release of the claim when ``holding`` it, alone
        otherwise."""
        if holding:
            self.release(claimed, None, report, quiet=False)
            return
        result, forget = self._result(claimed, report)
        if result is not None:
            self._ledger.record_result(claimed.push.config_key, claimed.target, result, forget)

    def failed_once(self, report: TargetReport, announcer: Announcer) -> TargetReport:
        """Announce a failure found before claiming the target (its config, its scope), unless this very event
        was reported already: then its first result, announced once."""
        push = report.push
        if push.dry_run:
            return report
        try:
            events = self._ledger.read_state(push.config_key, report.target).events
        except DeployError:  # a second announcement is better than none
            return announcer.announce(report)
        if push.event_id in events:
            return TargetReport.replay(push, events[push.event_id].result)
        report = announcer.announce(report)
        if report.final:
            now = self._clock()
            result = EventResult(push.event_id, report.as_result(), now)
            try:
                self._ledger.record_result(push.config_key, report.target, result, events_to_forget(events, now))
            except DeployError as exc:
                logger.warning("Result not recorded", extra={"target": report.target, "error": str(exc)})
        return report

    def _result(self, claimed: ClaimedTarget, report: TargetReport) -> tuple[EventResult | None, list[str]]:
        if not report.final:
            return None, []
        now = self._clock()
        result = EventResult(claimed.push.event_id, report.as_result(), now)
        return result, events_to_forget(claimed.state.events, now)


def renotified(base: TargetReport, deployed: DeployedRecord, notification: Notification) -> TargetReport:
    """The report of re-publishing the notification an earlier attempt deployed but could not publish."""
    return replace(
        base,
        status=DeployStatus.DEPLOYING,
        task_definition_arn=deployed.task_definition_arn,
        deployment_id=notification.message.get("deploymentId"),
        previous_task_definition_arn=notification.message.get("previousTaskDefinitionArn"),
        code="renotified",
        reason="deployed by an earlier attempt; its notification is published now",
    )
