"""Answering a paused deployment: approve (ContinueServiceDeployment CONTINUE) or reject (ROLLBACK), from the
console or from Slack's Approve and Reject buttons.

Nothing waits here: ECS holds the deployment at its PAUSE hook, the tracker noted the pause from ECS's event,
and this answers it once, recording who decided and when for the outcome's notification.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger

from pushdeploy.domain.accounts import check_account_allowed, role_session_name, target_location
from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import ConfigError, DeployError
from pushdeploy.domain.ports import ApprovalLedger, DeployLedger, DeploymentControl, TargetConfigSource
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.requests import ApprovalRequest
from pushdeploy.domain.slack import SLACK
from pushdeploy.domain.slack_actions import (
    REPLAY_WINDOW_SECONDS,
    SlackRequestError,
    approval_request_from_slack,
    decided_message,
    verify_signature,
)
from pushdeploy.domain.strategy import ApprovalError
from pushdeploy.domain.times import describe_time
from pushdeploy.domain.webhook import Delivery, WebhookUrlError, check_webhook_url, redact
from pushdeploy.usecases.targets import TargetClientsFactory

logger = Logger(service="pushdeploy", child=True)
HISTORY_LOOKBACK = 5
# Slack wants its request acknowledged within 3 seconds: the message's update gets what is left of them.
RESPONSE_POST_SECONDS = 2.0


class ResponsePoster(Protocol):
    """Posts a JSON payload to a webhook URL before ``deadline`` (adapters.webhook.WebhookClient)."""

    def post(self, url: str, payload: Mapping[str, Any], *, deadline: float) -> Delivery: ...


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
        account: str | None = None,
        region: str = "",
        allowed_accounts: Sequence[str] = (),
        clients_for_target: TargetClientsFactory | None = None,
    ) -> None:
        # A target in a workload account is answered there, through the workload role.
        self._account = account
        self._region = region
        self._allowed_accounts = tuple(allowed_accounts)
        self._clients_for_target = clients_for_target
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
        control = self._control_for(config, request)
        state = control.describe_service_deployment(approval.service_deployment_arn)
        if state is None or not state.in_progress or approval.hook_id not in {hook.hook_id for hook in state.paused}:
            status = state.status if state is not None else "unknown to ECS"
            raise ApprovalError(
                f"nothing awaits approval on {request.repository}/{request.target}: ECS reports deployment "
                f"{item.deployment_id} {status}, its pause at {approval.stage} no longer awaiting action "
                "(answered, timed out or rolled back)"
            )
        control.continue_service_deployment(approval.service_deployment_arn, approval.hook_id, request.action)
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

    def _control_for(self, config: TargetConfig, request: ApprovalRequest) -> DeploymentControl:
        """ECS's service deployments where the target is: the stack's own, or the workload role's."""
        location = target_location(config.account, own_account=self._account, own_region=self._region)
        if not location.remote:
            return self._control
        if self._clients_for_target is None:
            raise DeployError(
                f"{request.repository}/{request.target} is deployed in {location.describe()}: answer its pause from "
                "the console (DeployFunction, which acts there through the workload role)"
            )
        check_account_allowed(location, self._allowed_accounts, own_account=self._account)
        session = role_session_name(request.repository, request.target, f"{request.decision}-{int(self._clock())}")
        clients = self._clients_for_target(location, session)
        if clients.control is None:
            raise DeployError(f"no ECS deployment control in {location.describe()}")
        return clients.control

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

    Slack ignores the HTTP answer's body of a ``block_actions`` request: the message updated to the decision
    (or a refusal only the clicking user sees) is POSTed to the request's ``response_url``, which must be a
    ``https://hooks.slack.com/...`` URL (a request naming any other is refused before anything is done).
    Every refusal is a status code and a short reason; neither the signing secret, the request's body nor its
    response_url is ever logged.
    """

    def __init__(
        self,
        *,
        approvals: Approvals,
        ledger: ApprovalLedger,
        signing_secret: Callable[[], bytes],
        poster: ResponsePoster,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        allow_loopback: bool = False,
    ) -> None:
        self._approvals = approvals
        self._ledger = ledger
        self._signing_secret = signing_secret
        self._poster = poster
        self._clock = clock
        self._monotonic = monotonic  # the poster's clock, for its deadline
        self._allow_loopback = allow_loopback  # tests only: http://127.0.0.1 response URLs

    def handle(self, headers: dict[str, str], body: str) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body of the answer to one request; what Slack shows is posted to the
        request's response_url."""
        now = self._clock()
        try:
            verify_signature(self._signing_secret(), headers, body, now=now)
            # A replay of a request seen before (same signature) changes nothing, whatever it asks.
            signature = headers.get("x-slack-signature", "")
            if not self._ledger.claim_request(f"slack#{signature}", now + 2 * REPLAY_WINDOW_SECONDS):
                raise SlackRequestError(401, "this request was received before (a replay)")
            request, message = approval_request_from_slack(body)
            response_url = self._response_url(body)
        except SlackRequestError as exc:
            logger.warning("Slack request refused", extra={"status": exc.status, "reason": exc.reason})
            return exc.status, {"error": exc.reason}
        try:
            result = self._approvals.decide(request)
        except NotAnApproverError as exc:
            logger.warning("Slack request refused", extra={"status": 403, "reason": "not an approver"})
            return 403, self._respond(response_url, _only_for_the_user(exc.message))
        except (ApprovalError, ConfigError) as exc:
            return 200, self._respond(response_url, _only_for_the_user(str(exc)))
        return 200, self._respond(response_url, decided_message(message, result))

    def _response_url(self, body: str) -> str:
        """The request's response_url, checked to be Slack's (SlackRequestError 400 otherwise; never quoted)."""
        try:
            payload = json.loads(parse_qs(body, strict_parsing=True)["payload"][0])
        except (KeyError, ValueError, IndexError) as exc:  # approval_request_from_slack read it just before
            raise SlackRequestError(400, "the request carries no interactivity payload") from exc
        url = payload.get("response_url") if isinstance(payload, dict) else None
        if not isinstance(url, str):
            raise SlackRequestError(400, "the request carries no response_url")
        try:
            return check_webhook_url(url, SLACK, allow_loopback=self._allow_loopback)
        except WebhookUrlError:
            # Whatever it names stays out of the answer and the logs.
            raise SlackRequestError(400, "the request's response_url is not a https://hooks.slack.com/ URL") from None

    def _respond(self, url: str, answer: dict[str, Any]) -> dict[str, Any]:
        """Post ``answer`` to the response_url; a post that fails is logged (without the URL), and the answer
        stands: the decision, if one was taken, is ECS's and the ledger's already."""
        try:
            delivery = self._poster.post(url, answer, deadline=self._monotonic() + RESPONSE_POST_SECONDS)
        except DeployError as exc:
            logger.warning("Slack message not updated", extra={"problem": redact(str(exc), url)})
        else:
            logger.info("Slack message updated", extra={"attempts": delivery.attempts})
        return answer


def _only_for_the_user(text: str) -> dict[str, Any]:
    """A refusal shown to the user who clicked, the message left as it was."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}
