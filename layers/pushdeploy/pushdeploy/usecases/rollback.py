"""Manual operations on one target: roll it back, or read its deploy history."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pushdeploy.domain.config import TargetConfig, parse_target_config, target_name
from pushdeploy.domain.errors import DeployError, InvalidEventError
from pushdeploy.domain.ledger import CLAIM_LEASE_SECONDS, Claim, DeployedRecord, PushRecord, describe_time
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.ports import DeployLedger, EcsGateway, NotificationPublisher, TargetConfigSource
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.report import DeployStatus, TargetReport
from pushdeploy.domain.requests import HistoryRequest, RollbackRequest
from pushdeploy.domain.scope import check_cluster
from pushdeploy.domain.service import check_deployable

HISTORY_SCAN = 50


class NothingToRollBackError(DeployError):
    """The target has no completed deploy before the current one."""


def rollback_destination(history: Sequence[Mapping[str, Any]], current_arn: str) -> Mapping[str, Any] | None:
    """The last COMPLETED deploy before the one running ``current_arn`` (history is newest first)."""
    running = next((i for i, item in enumerate(history) if item.get("taskDefinitionArn") == current_arn), None)
    earlier = history[running + 1 :] if running is not None else history
    return next(
        (
            item
            for item in earlier
            if item.get("status") == "COMPLETED" and item.get("taskDefinitionArn") not in {None, current_arn}
        ),
        None,
    )


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
    ) -> None:
        self._configs = configs
        self._ecs = ecs
        self._publisher = publisher
        self._ledger = ledger
        self._allowed_clusters = tuple(allowed_clusters)
        self._clock = clock

    def history(self, request: HistoryRequest) -> dict[str, Any]:
        """The target's most recent deploys, newest first."""
        self._config(request.repository, request.target)
        deploys = self._ledger.history(request.repository, request.target, request.limit)
        for deploy in deploys:
            deploy.pop("notification", None)
        return {"repository": request.repository, "target": request.target, "deploys": deploys}

    def rollback(self, request: RollbackRequest) -> dict[str, Any]:
        """Put the target back on the revision of its last COMPLETED deploy before the current one; when a
        deployment is in progress, stop it with rollback instead. Raises DeployError, naming the problem."""
        config = self._config(request.repository, request.target)
        check_cluster(config.cluster, self._allowed_clusters)
        service = self._ecs.describe_service(config.cluster, config.service)
        check_deployable(service, config.cluster)
        current = service.task_definition_arn
        history = self._ledger.history(request.repository, request.target, HISTORY_SCAN)
        destination = rollback_destination(history, current)
        # Ours and still rolling out: ECS says a deployment is in progress and our latest has no outcome yet.
        in_progress = service.rollout_in_progress and bool(history) and history[0].get("status") == "DEPLOYING"
        if destination is None and not in_progress:
            raise NothingToRollBackError(
                f"target {request.target} has no COMPLETED deploy before the one running ({_revision(current)}) "
                "to roll back to"
            )
        plan = {
            "from": current,
            "to": destination.get("taskDefinitionArn") if destination else None,
            "fromTag": next((i.get("tag") for i in history if i.get("taskDefinitionArn") == current), None),
            "toTag": destination.get("tag") if destination else None,
            "stopsDeploymentInProgress": in_progress,
        }
        if request.dry_run:
            return {"status": DeployStatus.PLANNED.value, "dryRun": True, "target": request.target, "rollback": plan}

        push = self._push_of(destination, request) if destination else None
        claim = Claim(
            uuid.uuid4().hex,
            push.record if push else PushRecord("", "", self._clock(), request.event_id),
            self._clock() + CLAIM_LEASE_SECONDS,
        )
        claimed = self._ledger.claim(request.repository, request.target, claim, self._clock())
        if not claimed.acquired:
            raise DeployError(f"target {request.target} is being deployed right now; retry the rollback after it")
        try:
            stopped = self._ecs.stop_deployment_in_progress(config.cluster, config.service) if in_progress else None
            deployment_id = None
            if stopped is None and plan["to"]:
                deployment_id = self._ecs.update_service(config.cluster, config.service, str(plan["to"]))
        except DeployError:
            self._ledger.release(request.repository, request.target, claim.token)
            raise
        if push is None:  # stopped an in-progress deployment; ECS rolls it back to where it was
            self._ledger.release(request.repository, request.target, claim.token)
            return {"status": "ROLLING_BACK", "target": request.target, "stopped": stopped, "rollback": plan}
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
            reason=f"rollback of {request.target} from {_revision(current)} ({plan['fromTag'] or 'unknown tag'}) "
            f"to {_revision(str(plan['to']))} ({plan['toTag']})",
            extra={"rollback": plan} | ({"stopped": stopped} if stopped else {}),
        )
        notification = render_notification(report, time=describe_time(self._clock()))
        self._publisher.publish(notification)
        now = self._clock()
        self._ledger.commit(
            request.repository,
            request.target,
            claim.token,
            DeployedRecord(push.record, str(plan["to"]), now),
            {
                "time": describe_time(now),
                "repository": request.repository,
                "target": request.target,
                "tag": push.tag,
                "digest": push.digest,
                "image": push.image_uri,
                "trigger": Trigger.ROLLBACK.value,
                "status": DeployStatus.DEPLOYING.value,
                "cluster": config.cluster,
                "service": config.service,
                "serviceArn": service.arn,
                "taskDefinitionArn": plan["to"],
                "previousTaskDefinitionArn": current,
                "deploymentId": deployment_id,
                "eventId": request.event_id,
                "pushedAt": now,
                "notification": json.dumps(notification.message),
            },
        )
        return {"status": DeployStatus.DEPLOYING.value, **report.as_result()}

    def _config(self, repository: str, target: str) -> TargetConfig:
        raw = self._configs.target_parameters(repository)
        by_name = {target_name(parameter): parameter for parameter in raw}
        if target not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise InvalidEventError(f"repository {repository} has no target named {target} (its targets: {known})")
        return parse_target_config(by_name[target], raw[by_name[target]])

    def _push_of(self, deploy: Mapping[str, Any], request: RollbackRequest) -> ImagePush:
        image = str(deploy.get("image") or "")
        return ImagePush(
            repository=request.repository,
            tag=str(deploy.get("tag", "")),
            digest=str(deploy.get("digest", "")),
            registry=image.split("/", 1)[0],
            trigger=Trigger.ROLLBACK,
            event_id=request.event_id,
            pushed_at=self._clock(),
            requested_by=request.requested_by,
        )


def _revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]
