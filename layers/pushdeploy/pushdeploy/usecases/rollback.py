"""Manual operations on one target: roll it back, or read its deploy history."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pushdeploy.domain.accounts import TargetLocation, check_account_allowed, role_session_name, target_location
from pushdeploy.domain.channels import revision
from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import DeployError, InvalidEventError
from pushdeploy.domain.ledger import CLAIM_LEASE_SECONDS, Claim, DeployedRecord, TargetState
from pushdeploy.domain.outcome import DeploymentEvent
from pushdeploy.domain.ports import DeployLedger, EcsGateway, NotificationPublisher, TargetConfigSource
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.records import HistoryItem, history_item
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.requests import HistoryRequest, RollbackRequest
from pushdeploy.domain.scope import check_cluster, check_service
from pushdeploy.domain.service import check_deployable
from pushdeploy.usecases.announce import Announcer
from pushdeploy.usecases.targets import TargetClientsFactory

HISTORY_SCAN = 50


class NothingToRollBackError(DeployError):
    """The target has no completed deploy before the current one."""


def rollback_destination(history: Sequence[HistoryItem], current_arn: str) -> HistoryItem | None:
    """The last COMPLETED deploy before the one running ``current_arn`` (history is newest first), never a
    revision a later rollback moved away from (so rolling back twice goes further back, not forth)."""
    rolled_back_from: set[str | None] = set()
    # Start looking after the deploy that put the current revision in place (from the top if none did).
    passed_current = not any(item.task_definition_arn == current_arn for item in history)
    for item in history:
        arn = item.task_definition_arn
        if item.trigger == Trigger.ROLLBACK.value:
            rolled_back_from.add(item.previous_task_definition_arn)
        if arn == current_arn:
            passed_current = True
        elif passed_current and item.status == "COMPLETED" and arn and arn not in rolled_back_from:
            return item
    return None


class TargetOperations:
    """Rollback and history of one target, through the same ports as deploys."""

    def __init__(
        self,
        *,
        configs: TargetConfigSource,
        ecs: EcsGateway,
        publisher: NotificationPublisher,
        ledger: DeployLedger,
        allowed_clusters: Sequence[str] = ("*",),
        clock: Callable[[], float] = time.time,
        apply_early_outcome: Callable[[DeploymentEvent], object] | None = None,
        region: str | None = None,
        account: str | None = None,
        allowed_accounts: Sequence[str] = (),
        clients_for_target: TargetClientsFactory | None = None,
    ) -> None:
        self._allowed_accounts = tuple(allowed_accounts)
        self._clients_for_target = clients_for_target
        self._region = region
        self._account = account
        self._apply_early_outcome = apply_early_outcome
        self._configs = configs
        self._ecs = ecs
        self._announcer = Announcer(publisher, clock, region)
        self._ledger = ledger
        self._allowed_clusters = tuple(allowed_clusters)
        self._clock = clock

    def history(self, request: HistoryRequest) -> dict[str, Any]:
        """The target's most recent deploys, newest first."""
        self._config(request.repository, request.target)
        deploys = self._ledger.history(request.repository, request.target, request.limit)
        return {
            "repository": request.repository,
            "target": request.target,
            "deploys": [deploy.as_result() for deploy in deploys],
        }

    def rollback(self, request: RollbackRequest) -> dict[str, Any]:
        """Put the target back on the revision of its last COMPLETED deploy before the current one; when a
        deployment is in progress, stop it with rollback instead. Raises DeployError, naming the problem."""
        config = self._config(request.repository, request.target)
        location = target_location(config.account, own_account=self._account, own_region=self._region or "")
        check_account_allowed(location, self._allowed_accounts, own_account=self._account)
        where = location.account if location.other_account else self._account
        check_cluster(config.cluster, self._allowed_clusters, account=where, region=location.region or self._region)
        check_service(config.service, account=where, region=location.region or self._region)
        ecs = self._ecs_at(location, request)
        named = location if location.named else None
        service = ecs.describe_service(config.cluster, config.service)
        check_deployable(service, config.cluster)
        current = service.task_definition_arn
        history = self._ledger.history(request.repository, request.target, HISTORY_SCAN)
        destination = rollback_destination(history, current)
        # Ours and still rolling out: ECS says a deployment is in progress and our latest has no outcome yet.
        in_progress = service.rollout_in_progress and bool(history) and history[0].status == "DEPLOYING"
        if destination is None and not in_progress:
            raise NothingToRollBackError(
                f"target {request.target} has no COMPLETED deploy before the one running ({revision(current)}) "
                "to roll back to"
            )
        plan = {
            "from": current,
            "to": destination.task_definition_arn if destination else None,
            "fromTag": next((i.tag for i in history if i.task_definition_arn == current), None),
            "toTag": destination.tag if destination else None,
            "stopsDeploymentInProgress": in_progress,
        }
        if request.dry_run:
            return {"status": DeployStatus.PLANNED.value, "dryRun": True, "target": request.target, "rollback": plan}

        if in_progress:
            stopped = self._stop_in_progress(request, config, history[0], plan, ecs=ecs, location=named)
            if stopped is not None:
                return stopped
            if destination is None:  # it finished meanwhile, and there is nothing earlier to go back to
                raise NothingToRollBackError(
                    f"target {request.target}'s deployment finished before it could be stopped, and there is no "
                    f"COMPLETED deploy before {revision(current)} to roll back to"
                )
        assert destination is not None
        push = self._push_of(destination, request)
        claim = Claim(uuid.uuid4().hex, push.record, self._clock() + CLAIM_LEASE_SECONDS)
        state = self._take(request, claim)
        try:
            deployment_id = ecs.update_service(config.cluster, config.service, str(plan["to"]))
        except BaseException:
            self._ledger.release(request.repository, request.target, claim.token)
            raise
        report = TargetReport(
            push,
            request.target,
            DeployStatus.DEPLOYING,
            cluster=config.cluster,
            service=config.service,
            task_definition_arn=str(plan["to"]),
            previous_task_definition_arn=current,
            deployment_id=deployment_id,
            parameter=config.parameter,
            slack_webhook=config.slack_webhook,
            reason=f"rollback of {request.target} from {revision(current)} ({plan['fromTag'] or 'unknown tag'}) "
            f"to {revision(str(plan['to']))} ({plan['toTag']})",
            extra={"rollback": plan},
            location=named,
        )
        notification = self._announcer.render(report)
        lost = self._announcer.publish(report, notification).notification_error
        now = self._clock()
        # Recorded whether or not the notification went out: the service was updated.
        history_entry = history_item(
            report, recorded_at=now, service_arn=service.arn, notification=json.dumps(notification.message)
        )
        early = self._ledger.commit(
            request.repository,
            request.target,
            claim.token,
            DeployedRecord(push.record, str(plan["to"]), now),
            history_entry,
            history_refs=state.history_refs,
        )
        if early is not None and self._apply_early_outcome is not None:
            self._apply_early_outcome(early)
        if lost:
            raise DeployError(f"{report.reason} is under way (deployment {deployment_id}), but {lost}")
        return {"status": DeployStatus.DEPLOYING.value, **report.as_result()}

    def _stop_in_progress(
        self,
        request: RollbackRequest,
        config: TargetConfig,
        deploying: HistoryItem,
        plan: dict[str, Any],
        *,
        ecs: EcsGateway,
        location: TargetLocation | None,
    ) -> dict[str, Any] | None:
        """Stop the target's deployment in progress with rollback (ECS returns the service to its last steady
        state); None when nothing was in progress any more."""
        push = self._push_of(deploying, request)
        claim = Claim(uuid.uuid4().hex, push.record, self._clock() + CLAIM_LEASE_SECONDS)
        self._take(request, claim)
        try:
            stopped = ecs.stop_deployment_in_progress(config.cluster, config.service)
        finally:
            self._ledger.release(request.repository, request.target, claim.token)
        if stopped is None:
            return None
        report = TargetReport(
            push,
            request.target,
            DeployStatus.DEPLOYING,
            cluster=config.cluster,
            service=config.service,
            task_definition_arn=deploying.previous_task_definition_arn or None,
            previous_task_definition_arn=deploying.task_definition_arn or None,
            deployment_id=deploying.deployment_id or None,
            parameter=config.parameter,
            slack_webhook=config.slack_webhook,
            reason=f"stopped the deployment of {push.tag} in progress with rollback: ECS returns the service to "
            "its last steady state",
            extra={"rollback": plan, "stopped": stopped},
            location=location,
        )
        lost = self._announcer.announce(report).notification_error
        if lost:
            raise DeployError(f"{report.reason}, but {lost}")
        return {**report.as_result(), "status": "ROLLING_BACK", "stopped": stopped}

    def _ecs_at(self, location: TargetLocation, request: RollbackRequest) -> EcsGateway:
        """ECS where the target is: the stack's own client, or the workload role's."""
        if not location.remote:
            return self._ecs
        if self._clients_for_target is None:
            raise DeployError(f"this pushdeploy cannot act in {location.describe()}: no workload sessions are wired")
        session = role_session_name(request.repository, request.target, request.event_id)
        return self._clients_for_target(location, session).ecs

    def _take(self, request: RollbackRequest, claim: Claim) -> TargetState:
        """Claim the target; its state as the claim found it."""
        taken = self._ledger.claim(request.repository, request.target, claim, self._clock())
        if not taken.acquired:
            raise DeployError(f"target {request.target} is being deployed right now; retry the rollback after it")
        return taken.state

    def _config(self, repository: str, target: str) -> TargetConfig:
        raw = self._configs.target_parameters(repository)
        by_name = {target_name(parameter): parameter for parameter in raw}
        if target not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise InvalidEventError(f"repository {repository} has no target named {target} (its targets: {known})")
        return parse_target_config(by_name[target], raw[by_name[target]])

    def _push_of(self, deploy: HistoryItem, request: RollbackRequest) -> ImagePush:
        image = deploy.image or ""
        return ImagePush(
            repository=request.repository,
            tag=deploy.tag,
            digest=deploy.digest,
            registry=image.split("/", 1)[0],
            trigger=Trigger.ROLLBACK,
            event_id=request.event_id,
            pushed_at=self._clock(),
            requested_by=request.requested_by,
        )
