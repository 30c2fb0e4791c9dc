"""Answering a paused deployment: approve (ContinueServiceDeployment CONTINUE) or reject (ROLLBACK), from the
console or from Slack's Approve and Reject buttons.

Nothing waits here: ECS holds the deployment at its PAUSE hook, the tracker noted the pause from ECS's event,
and this answers it once, recording who decided and when for the outcome's notification.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.ports import ApprovalLedger, DeployLedger, DeploymentControl, TargetConfigSource
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.requests import ApprovalRequest
from pushdeploy.domain.slack_actions import (
    REPLAY_WINDOW_SECONDS,
    SlackRequestError,
    approval_request_from_slack,
    decided_message,
    verify_signature,
)
from pushdeploy.domain.strategy import ApprovalError
from pushdeploy.domain.times import describe_time

logger = Logger(service="pushdeploy", child=True)
HISTORY_LOOKBACK = 5


class Approvals:
    """Finds the pause awaiting an answer on a target's deployment, answers it, and records the answer."""

    def __init__(
        self,
        *,
        configs: TargetConfigSource,
        ledger: DeployLedger,
        approvals: ApprovalLedger,
        control: DeploymentControl,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configs = configs
        self._ledger = ledger
        self._approvals = approvals
        self._control = control
        self._clock = clock

    def decide(self, request: ApprovalRequest) -> dict[str, Any]:
        """Approve or reject; ApprovalError (nothing awaits, another answer came first) or ConfigError (no such
        target, a Slack user not among its approvers) before any ECS call."""
        config = self._config(request)
        if request.slack_user is not None:
            approvers = config.approval.approvers if config.approval else ()
            if request.slack_user not in approvers:
                raise NotAnApproverError(
                    f"Slack user {request.slack_user} is not an approver of {request.repository}/{request.target}"
                )
        item = self._awaiting(request)
        approval = item.approval
        assert approval is not None and item.deployment_id is not None
        state = self._control.describe_service_deployment(approval.service_deployment_arn)
        if state is None or not state.in_progress or approval.hook_id not in {hook.hook_id for hook in state.paused}:
            status = state.status if state is not None else "unknown to ECS"
            raise ApprovalError(
                f"nothing awaits approval on {request.repository}/{request.target}: ECS reports deployment "
                f"{item.deployment_id} {status}, its pause at {approval.stage} no longer awaiting action "
                "(answered, timed out or rolled back)"
            )
        self._control.continue_service_deployment(approval.service_deployment_arn, approval.hook_id, request.action)
        now = self._clock()
        decided = replace(approval, decision=request.decided, decided_by=request.requested_by, decided_at=now)
        if not self._approvals.record_decision(item, item.deployment_id, decided):
            logger.warning("Decision taken by ECS but already recorded", extra={"hookId": approval.hook_id})
        logger.info(
            "Deployment answered",
            extra={"deploymentId": item.deployment_id, "decision": request.decided, "by": request.requested_by},
        )
        return {
            "status": request.decided.upper(),
            "repository": request.repository,
            "target": request.target,
            "deploymentId": item.deployment_id,
            "stage": approval.stage,
            "decidedBy": request.requested_by,
            "decidedAt": describe_time(now),
        }

    def _config(self, request: ApprovalRequest) -> TargetConfig:
        parameters = self._configs.target_parameters(request.repository)
        for parameter, raw in parameters.items():
            if target_name(parameter) == request.target:
                return parse_target_config(parameter, raw)
        raise ConfigError(
            f"{request.repository}/{request.target}", f"repository {request.repository} has no target {request.target}"
        )

    def _awaiting(self, request: ApprovalRequest) -> HistoryItem:
        """The target's latest deploy, if it is deploying and paused without an answer."""
        items = self._ledger.history(request.repository, request.target, HISTORY_LOOKBACK)
        latest = next((item for item in items if item.deployment_id), None)
        where = f"{request.repository}/{request.target}"
        if latest is None:
            raise ApprovalError(f"nothing awaits approval on {where}: pushdeploy has not deployed it")
        approval = latest.approval
        if latest.status != "DEPLOYING" or approval is None or not approval.awaiting:
            state = "has not paused for approval" if latest.status == "DEPLOYING" else f"is {latest.status}"
            raise ApprovalError(
                f"nothing awaits approval on {where}: its latest deploy ({latest.tag}, {latest.deployment_id}) {state}"
            )
        if request.hook_id is not None and request.hook_id != approval.hook_id:
            raise ApprovalError(f"the pause this answer was for is over on {where}; a later one awaits its own answer")
        return latest


class NotAnApproverError(ConfigError):
    """A Slack user who is not in the target's ``approval.approvers``."""

    code = "not-an-approver"

    def __init__(self, message: str) -> None:
        super().__init__("approval.approvers", message)


class SlackApprovals:
    """Slack's interactivity requests (the Approve and Reject buttons): checked, then answered as the console's.

    Every refusal is a status code and a short reason; neither the signing secret nor the request's body is
    ever logged.
    """

    def __init__(
        self,
        *,
        approvals: Approvals,
        ledger: ApprovalLedger,
        signing_secret: Callable[[], bytes],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._approvals = approvals
        self._ledger = ledger
        self._signing_secret = signing_secret
        self._clock = clock

    def handle(self, headers: dict[str, str], body: str) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body of the answer to one request."""
        now = self._clock()
        try:
            verify_signature(self._signing_secret(), headers, body, now=now)
            # A replay of a request seen before (same signature) changes nothing, whatever it asks.
            signature = headers.get("x-slack-signature", "")
            if not self._ledger.claim_request(f"slack#{signature}", now + 2 * REPLAY_WINDOW_SECONDS):
                raise SlackRequestError(401, "this request was received before (a replay)")
            request, message = approval_request_from_slack(body)
        except SlackRequestError as exc:
            logger.warning("Slack request refused", extra={"status": exc.status, "reason": exc.reason})
            return exc.status, {"error": exc.reason}
        try:
            result = self._approvals.decide(request)
        except NotAnApproverError as exc:
            logger.warning("Slack request refused", extra={"status": 403, "reason": "not an approver"})
            return 403, {"response_type": "ephemeral", "replace_original": False, "text": exc.message}
        except (ApprovalError, ConfigError) as exc:
            return 200, {"response_type": "ephemeral", "replace_original": False, "text": str(exc)}
        return 200, decided_message(message, result)
