"""The deploy ledger in DynamoDB: one state item per target, plus one history item per deploy.

pk ``TARGET#<repository>#<target>``; sk ``STATE`` for the state, ``DEPLOY#<time>#<event id>`` for history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from pushdeploy.adapters.attributes import from_attribute, to_attribute
from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.adapters.task_ledger import TaskRecords, push_from_item, task_from_item
from pushdeploy.domain.ledger import (
    Claim,
    ClaimResult,
    DeployedRecord,
    EventResult,
    PendingRevision,
    PushRecord,
    TargetState,
)
from pushdeploy.domain.outcome import ApprovalState, DeploymentEvent
from pushdeploy.domain.records import DeploymentRecord, HistoryItem, OutcomeUpdate
from pushdeploy.domain.times import describe_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef

HISTORY_DAYS = 400
PULL_ERROR_KEPT = 500  # characters of a task's stoppedReason kept on its deployment's record
HISTORY_KEPT = 100  # deploys kept per target: the older ones are expired (DynamoDB's TTL removes them)


def target_key(repository: str, target: str) -> dict[str, Any]:
    """The state item's key."""
    return {"pk": {"S": f"TARGET#{repository}#{target}"}, "sk": {"S": "STATE"}}


class DynamoDbLedger(TaskRecords):
    """Claims, releases and commits target deploys with conditional writes."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claim(self, repository: str, target: str, claim: Claim, now: float) -> ClaimResult:
        """Take the target's claim unless another unexpired one holds it (a retry of the same invocation takes
        its own over), and unless this event's result for the target is recorded already."""
        with aws_call("dynamodb:UpdateItem"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=target_key(repository, target),
                    UpdateExpression="SET #claim = :claim",
                    ConditionExpression=(
                        "(attribute_not_exists(#claim) OR #claim.expiresAt < :now"
                        " OR (#claim.push.eventId = :event AND #claim.attempt = :attempt))"
                        " AND attribute_not_exists(#result)"
                    ),
                    ExpressionAttributeNames={"#claim": "claim", "#result": _result_attribute(claim.push.event_id)},
                    ExpressionAttributeValues={
                        ":claim": _value(_claim_to_item(claim)),
                        ":now": _value(now),
                        ":event": {"S": claim.push.event_id},
                        ":attempt": {"S": claim.attempt},
                    },
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return ClaimResult(False, _state(exc.response.get("Item", {})))  # type: ignore[arg-type]
                raise
        return ClaimResult(True, _state(response.get("Attributes", {})))

    def record_result(
        self, repository: str, target: str, result: EventResult, forget: Sequence[str] = ()
    ) -> EventResult | None:
        """Record an event's result for a target it did not claim; returns the one recorded before instead,
        when this event was handled already (then nothing is written)."""
        names = {"#result": _result_attribute(result.event_id)}
        update = "SET #result = :result" + _forgetting(forget, names)
        with aws_call("dynamodb:UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=target_key(repository, target),
                    UpdateExpression=update,
                    ConditionExpression="attribute_not_exists(#result)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":result": _value(_result_to_item(result))},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    state = _state(exc.response.get("Item", {}))  # type: ignore[arg-type]
                    return state.events.get(result.event_id)
                raise
        return None

    def release(
        self,
        repository: str,
        target: str,
        token: str,
        pending: PendingRevision | None = None,
        *,
        result: EventResult | None = None,
        forget: Sequence[str] = (),
    ) -> None:
        """Give the claim back; ``pending`` records a revision registered for an update that failed, ``result``
        the event's final result (a skip, a failure no retry mends)."""
        sets: list[str] = []
        names: dict[str, str] = {"#claim": "claim", "#token": "token", "#task": "task"}
        values: dict[str, Any] = {":token": {"S": token}}
        if result is not None:
            sets.append("#result = :result")
            names["#result"] = _result_attribute(result.event_id)
            values[":result"] = _value(_result_to_item(result))
        if pending is not None:
            sets.append("#pending = :pending")
            names["#pending"] = "pending"
            values[":pending"] = _value(
                {
                    "digest": pending.digest,
                    "fingerprint": pending.fingerprint,
                    "arn": pending.task_definition_arn,
                    "deploymentId": pending.deployment_id,
                    "announced": pending.announced,
                    "previousTaskDefinitionArn": pending.previous_task_definition_arn,
                    "message": pending.message,
                }
            )
        update = (f"SET {', '.join(sets)} " if sets else "") + "REMOVE #claim, #task" + _forgetting(forget, names, ", ")
        with aws_call("dynamodb:UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=target_key(repository, target),
                    UpdateExpression=update,
                    ConditionExpression="#claim.#token = :token",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                # The lease lapsed and another deploy took over: nothing of ours to release.

    def commit(
        self,
        repository: str,
        target: str,
        token: str,
        deployed: DeployedRecord,
        history: HistoryItem | None,
        *,
        result: EventResult | None = None,
        forget: Sequence[str] = (),
        history_refs: Sequence[str] | None = None,
    ) -> DeploymentEvent | None:
        """Record the deployed push and release the claim, with the history item and its deployment's record
        in the same transaction. An outcome event parked for that deployment before it was recorded is
        returned (and dropped from the record: the caller applies it).

        ``history_refs`` are the target's history references as its state had them (``TargetState``): the
        newest HISTORY_KEPT stay, the older history items are expired in the same transaction. Without them
        the new one is appended and nothing is expired."""
        key = target_key(repository, target)
        names = {"#deployed": "deployed", "#claim": "claim", "#pending": "pending", "#token": "token", "#task": "task"}
        values: dict[str, Any] = {":deployed": _value(_deployed_to_item(deployed)), ":token": {"S": token}}
        sets = "SET #deployed = :deployed"
        if result is not None:
            sets += ", #result = :result"
            names["#result"] = _result_attribute(result.event_id)
            values[":result"] = _value(_result_to_item(result))
        expired: list[str] = []
        if history is not None:
            names["#refs"] = "historyRefs"
            if history_refs is None:
                sets += ", #refs = list_append(if_not_exists(#refs, :none), :refs)"
                values[":none"] = {"L": []}
                values[":refs"] = _value([_history_sk(history)])
            else:
                refs = [*history_refs, _history_sk(history)]
                expired, kept = refs[:-HISTORY_KEPT], refs[-HISTORY_KEPT:]
                sets += ", #refs = :refs"
                values[":refs"] = _value(kept)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": sets + " REMOVE #claim, #pending, #task" + _forgetting(forget, names, ", "),
            # Only the claim's holder commits; a missing claim means its lease lapsed but nobody took over,
            # which is still ours to record.
            "ConditionExpression": "attribute_not_exists(#claim) OR #claim.#token = :token",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if history is None:
            with aws_call("dynamodb:UpdateItem"):
                self._client.update_item(**update)
            return None
        expires = int(history.recorded_at) + HISTORY_DAYS * 86400
        fields = _history_to_item(history)
        items: list[Any] = [
            {"Update": cast("UpdateTypeDef", update)},
            {"Put": {"TableName": self._table, "Item": _item(key["pk"]["S"], _history_sk(history), fields, expires)}},
        ]
        for old in expired:  # due now: the TTL removes it, and history reads no longer return it
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": key["pk"], "sk": {"S": old}},
                        "UpdateExpression": "SET expiresAt = :due",
                        "ExpressionAttributeValues": {":due": _value(int(history.recorded_at))},
                    }
                }
            )
        pointer_index: int | None = None
        if history.deployment_id:
            # How the tracker finds this deploy from an ECS event, and the service's latest deploy of ours
            # (to recognise ECS's rollback of it). An outcome event parked there first must not be lost.
            pointer_index = len(items)
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(_deployment_pk(history.deployment_id), "DEPLOYMENT", fields, expires),
                        "ConditionExpression": "attribute_not_exists(parked)",
                    }
                }
            )
            if history.service_arn:
                latest = {"deploymentId": history.deployment_id}
                items.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _item(f"SERVICE#{history.service_arn}", "LATEST", latest, expires),
                        }
                    }
                )
        with aws_call("dynamodb:TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=items)
                return None
            except ClientError as exc:
                if pointer_index is None or not _cancelled_by(exc, pointer_index):
                    raise
            assert history.deployment_id is not None
            parked = self.find_deployment(history.deployment_id)
            del items[pointer_index]["Put"]["ConditionExpression"]
            self._client.transact_write_items(TransactItems=items)
        return parked.parked if parked else None

    def read_state(self, repository: str, target: str) -> TargetState:
        """The target's state, without claiming it (a dry run's view)."""
        with aws_call("dynamodb:GetItem"):
            response = self._client.get_item(TableName=self._table, Key=target_key(repository, target))
        return _state(response.get("Item", {}))

    def find_deployment(self, deployment_id: str) -> DeploymentRecord | None:
        """What pushdeploy recorded of the ECS deployment ``deployment_id`` (None: nothing)."""
        item = self._get(_deployment_pk(deployment_id), "DEPLOYMENT")
        return _deployment_record(deployment_id, item) if item else None

    def latest_deployment_of(self, service_arn: str) -> str | None:
        """The id of the last deployment pushdeploy started on the service."""
        item = self._get(f"SERVICE#{service_arn}", "LATEST")
        return str(item["deploymentId"]) if item else None

    def link_rollback(
        self, rollback_deployment_id: str, rolled_back_id: str, expires_at: float, stage_reached: str | None = None
    ) -> DeploymentRecord:
        """Remember that ECS's deployment ``rollback_deployment_id`` rolls back ours (and the lifecycle stage
        ours had reached); returns what is known of it (an outcome event parked before the link included)."""
        fields = {"rollbackOf": rolled_back_id} | ({"stageReached": stage_reached} if stage_reached else {})
        return self._note(rollback_deployment_id, fields, expires_at)

    def note_pull_error(self, deployment_id: str, reason: str, expires_at: float) -> None:
        """Keep on the deployment's record that a task of it could not pull its image (the outcome says so)."""
        self._note(deployment_id, {"pullError": reason[:PULL_ERROR_KEPT]}, expires_at)

    def park_event(self, event: DeploymentEvent, expires_at: float) -> DeploymentRecord:
        """Keep an outcome event of a deployment not (yet) known to be ours; returns what is known of it
        (its deploy's record included, if that was committed meanwhile)."""
        return self._note(event.deployment_id, {"parked": asdict(event)}, expires_at)

    def mark_outcome_notified(self, deployment_id: str) -> None:
        """Note that a deployment's outcome was published (a retry then has nothing to announce)."""
        with aws_call("dynamodb:UpdateItem"):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": _deployment_pk(deployment_id)}, "sk": {"S": "DEPLOYMENT"}},
                UpdateExpression="SET notified = :true",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )

    def mark_deployed_outcome(self, repository: str, target: str, task_definition_arn: str, outcome: str) -> None:
        """Note on the target's state that the revision it deployed failed or was rolled back (if it is still
        the one recorded)."""
        with aws_call("dynamodb:UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=target_key(repository, target),
                    UpdateExpression="SET #deployed.#outcome = :outcome",
                    ConditionExpression="#deployed.taskDefinitionArn = :arn",
                    ExpressionAttributeNames={"#deployed": "deployed", "#outcome": "outcome"},
                    ExpressionAttributeValues={":outcome": {"S": outcome}, ":arn": {"S": task_definition_arn}},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise  # else: the target has moved on to another revision since

    def _note(self, deployment_id: str, fields: Mapping[str, Any], expires_at: float) -> DeploymentRecord:
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": _value(value) for name, value in fields.items()}
        assignments = ", ".join(f"#{name} = :{name}" for name in fields)
        with aws_call("dynamodb:UpdateItem"):
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": _deployment_pk(deployment_id)}, "sk": {"S": "DEPLOYMENT"}},
                UpdateExpression=f"SET {assignments}, #expires = if_not_exists(#expires, :expires)",
                ExpressionAttributeNames={**names, "#expires": "expiresAt"},
                ExpressionAttributeValues={**values, ":expires": _value(int(expires_at))},
                ReturnValues="ALL_NEW",
            )
        return _deployment_record(deployment_id, _plain(response.get("Attributes", {})))

    def record_outcome(
        self, deploy: HistoryItem, deployment_id: str, update: OutcomeUpdate, allowed_before: frozenset[str]
    ) -> bool:
        """Move a deployment (and its history item) to ``update.status`` if it is in one of
        ``allowed_before``; False when it is not (a duplicate or late event): nothing changes. The outcome is
        recorded as not yet notified (``mark_outcome_notified`` follows the publish)."""
        fields: dict[str, Any] = {"finishedAt": update.finished_at, "notified": False}
        if update.reason:
            fields["reason"] = update.reason
        if update.duration_seconds is not None:
            fields["durationSeconds"] = update.duration_seconds
        values = {":status": _value(update.status), **{f":{name}": _value(value) for name, value in fields.items()}}
        values.update({f":before{index}": _value(before) for index, before in enumerate(sorted(allowed_before))})
        allowed = ", ".join(f":before{index}" for index in range(len(allowed_before)))
        assignments = ", ".join(["#status = :status", *(f"#{name} = :{name}" for name in fields)])
        names = {"#status": "status", **{f"#{name}": name for name in fields}}

        def change(pk: str, sk: str) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "UpdateExpression": f"SET {assignments}",
                    "ConditionExpression": f"#status IN ({allowed})",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }

        items: list[Any] = [
            change(_deployment_pk(deployment_id), "DEPLOYMENT"),
            change(target_key(deploy.repository, deploy.target)["pk"]["S"], _history_sk(deploy)),
        ]
        return self._transact_if(items)

    def history(self, repository: str, target: str, limit: int) -> list[HistoryItem]:
        """The target's deploys, newest first (at most HISTORY_KEPT: older ones are expired)."""
        with aws_call("dynamodb:Query"):
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :deploy)",
                ExpressionAttributeValues={
                    ":pk": {"S": target_key(repository, target)["pk"]["S"]},
                    ":deploy": {"S": "DEPLOY#"},
                },
                ScanIndexForward=False,
                Limit=min(limit, HISTORY_KEPT) + 1,  # one expired item may lie among the newest
            )
        kept = [item for item in response.get("Items", []) if not _expired_early(item)]
        return [_history_item(_plain(item)) for item in kept][:limit]

    def record_pause(self, deploy: HistoryItem, deployment_id: str, approval: ApprovalState) -> bool:
        """Note the deployment's pause on its record and its history item, unless that pause was noted."""
        fields: dict[str, Any] = {
            "approvalStage": approval.stage,
            "hookId": approval.hook_id,
            "serviceDeploymentArn": approval.service_deployment_arn,
        }
        if approval.expires_at is not None:
            fields["approvalExpiresAt"] = approval.expires_at
        return self._approval_update(
            deploy, deployment_id, fields, "attribute_not_exists(#hookId) OR #hookId <> :hookId"
        )

    def record_decision(self, deploy: HistoryItem, deployment_id: str, approval: ApprovalState) -> bool:
        """Note the answer to the pause ``approval.hook_id``, unless it was answered already."""
        fields = {
            "decision": approval.decision,
            "decidedBy": approval.decided_by,
            "decidedAt": approval.decided_at,
            "decidedHookId": approval.hook_id,
        }
        condition = "#hookIdNow = :hookIdNow AND (attribute_not_exists(#decidedHookId) OR #decidedHookId <> :hookIdNow)"
        return self._approval_update(deploy, deployment_id, fields, condition, hook_id=approval.hook_id)

    def claim_request(self, key: str, expires_at: float) -> bool:
        """Take a one-time key (pk ``REQUEST#<key>``) with a TTL; False when it exists (a replayed request)."""
        with aws_call("dynamodb:PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=_item(f"REQUEST#{key}", "ONCE", {}, int(expires_at)),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def _approval_update(
        self,
        deploy: HistoryItem,
        deployment_id: str,
        fields: Mapping[str, Any],
        condition: str,
        *,
        hook_id: str | None = None,
    ) -> bool:
        given = {name: value for name, value in fields.items() if value is not None}
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in given)
        values = {f":{name}": _value(value) for name, value in given.items()}
        if hook_id is not None:
            values[":hookIdNow"] = _value(hook_id)
        # Every #name either expression uses, and the attribute it stands for (#hookIdNow is hookId).
        used = set(re.findall(r"#(\w+)", f"{update} {condition}"))
        names = {f"#{name}": "hookId" if name == "hookIdNow" else name for name in sorted(used)}
        keys = [
            {"pk": {"S": _deployment_pk(deployment_id)}, "sk": {"S": "DEPLOYMENT"}},
            {"pk": target_key(deploy.repository, deploy.target)["pk"], "sk": {"S": _history_sk(deploy)}},
        ]
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key,
                    "UpdateExpression": update,
                    "ConditionExpression": f"attribute_exists(pk) AND ({condition})",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
            for key in keys
        ]
        return self._transact_if(items)

    def _transact_if(self, items: list[Any]) -> bool:
        """Write ``items`` in one transaction if every condition holds; False (nothing written) if one fails."""
        with aws_call("dynamodb:TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException":
                    return False
                raise
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with aws_call("dynamodb:GetItem"):
            response = self._client.get_item(TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        item = response.get("Item")
        return _plain(item) if item else None


def _sortable_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _expired_early(item: Mapping[str, Any]) -> bool:
    """A history item a later commit expired (HISTORY_KEPT newer ones exist), until the TTL removes it."""
    data = _plain({"recordedAt": item.get("recordedAt", {"N": "0"})})
    natural = int(float(data["recordedAt"])) + HISTORY_DAYS * 86400
    expires = int(from_attribute(item["expiresAt"])) if "expiresAt" in item else natural
    return expires < natural


def _deployment_pk(deployment_id: str) -> str:
    return f"DEPLOYMENT#{deployment_id}"


def _history_sk(history: HistoryItem) -> str:
    # Milliseconds, so that deploys within one second still list newest first.
    return f"DEPLOY#{_sortable_time(history.recorded_at)}#{history.event_id}"


def _cancelled_by(exc: ClientError, index: int) -> bool:
    """Whether a cancelled transaction was cancelled by the condition of its item ``index``."""
    if error_code(exc) != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"


# The history item's attributes, and the fields of HistoryItem they hold.
_HISTORY_FIELDS = {
    "repository": "repository",
    "target": "target",
    "tag": "tag",
    "digest": "digest",
    "image": "image",
    "trigger": "trigger",
    "status": "status",
    "cluster": "cluster",
    "service": "service",
    "taskDefinitionArn": "task_definition_arn",
    "previousTaskDefinitionArn": "previous_task_definition_arn",
    "deploymentId": "deployment_id",
    "eventId": "event_id",
    "pushedAt": "pushed_at",
    "recordedAt": "recorded_at",
    "serviceArn": "service_arn",
    "notification": "notification",
    "reason": "reason",
    "finishedAt": "finished_at",
    "durationSeconds": "duration_seconds",
    "notified": "notified",
    "approvalStage": "approval_stage",
    "hookId": "hook_id",
    "serviceDeploymentArn": "service_deployment_arn",
    "approvalExpiresAt": "approval_expires_at",
    "decision": "decision",
    "decidedBy": "decided_by",
    "decidedAt": "decided_at",
    "decidedHookId": "decided_hook_id",
    "gateOverride": "gate_override",
    "promotion": "promotion",
}


def _history_to_item(history: HistoryItem) -> dict[str, Any]:
    fields = {name: getattr(history, attribute) for name, attribute in _HISTORY_FIELDS.items()}
    fields["time"] = describe_time(history.recorded_at)
    return {name: value for name, value in fields.items() if value is not None}


def _history_item(item: Mapping[str, Any]) -> HistoryItem:
    values: dict[str, Any] = {attribute: item.get(name) for name, attribute in _HISTORY_FIELDS.items()}
    values["pushed_at"] = float(values["pushed_at"] or 0)
    values["recorded_at"] = float(values["recorded_at"] or 0)
    return HistoryItem(**values)


def _deployment_record(deployment_id: str, item: Mapping[str, Any]) -> DeploymentRecord:
    parked = item.get("parked")
    return DeploymentRecord(
        deployment_id=deployment_id,
        deploy=_history_item(item) if item.get("repository") and item.get("target") else None,
        rollback_of=str(item["rollbackOf"]) if item.get("rollbackOf") else None,
        parked=DeploymentEvent(**parked) if parked else None,
        stage_reached=str(item["stageReached"]) if item.get("stageReached") else None,
        pull_error=str(item["pullError"]) if item.get("pullError") else None,
    )


def _item(pk: str, sk: str, fields: Mapping[str, Any], expires_at: int) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": sk},
        **{name: _value(value) for name, value in fields.items() if value is not None},
        "expiresAt": _value(expires_at),
    }


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as plain Python (numbers as float or int), without its keys."""
    data = {key: from_attribute(value) for key, value in item.items()}
    return {key: value for key, value in data.items() if key not in {"pk", "sk", "expiresAt"}}


def _value(python_value: Any) -> Any:
    return to_attribute(python_value)


def _push_to_item(push: PushRecord) -> dict[str, Any]:
    item = {"digest": push.digest, "tag": push.tag, "pushedAt": push.pushed_at, "eventId": push.event_id}
    return item | ({"version": push.version} if push.version is not None else {})


def _claim_to_item(claim: Claim) -> dict[str, Any]:
    return {
        "token": claim.token,
        "push": _push_to_item(claim.push),
        "expiresAt": claim.expires_at,
        "attempt": claim.attempt,
    }


# An event's result is a top-level attribute of the target's state item, ``event#<event id>``: a map attribute
# would have to exist before one of its entries could be set.
_RESULT_PREFIX = "event#"


def _result_attribute(event_id: str) -> str:
    return f"{_RESULT_PREFIX}{event_id}"


def _result_to_item(result: EventResult) -> dict[str, Any]:
    # As JSON text: the result's shape is the report's, and DynamoDB maps keep no empty strings or sets.
    return {"result": json.dumps(result.result, separators=(",", ":")), "at": result.recorded_at}


def _forgetting(forget: Sequence[str], names: dict[str, str], joiner: str = " REMOVE ") -> str:
    """The REMOVE clause (or its continuation) dropping the event results ``forget``; adds their names."""
    if not forget:
        return ""
    placeholders = []
    for index, event_id in enumerate(forget):
        names[f"#forget{index}"] = _result_attribute(event_id)
        placeholders.append(f"#forget{index}")
    return joiner + ", ".join(placeholders)


def _deployed_to_item(deployed: DeployedRecord) -> dict[str, Any]:
    return {
        "push": _push_to_item(deployed.push),
        "taskDefinitionArn": deployed.task_definition_arn,
        "deployedAt": deployed.deployed_at,
        "notified": deployed.notified,
        "notification": deployed.notification,
        "outcome": deployed.outcome,
    }


def _state(item: Mapping[str, Any]) -> TargetState:
    data = {key: from_attribute(value) for key, value in item.items()}
    events = {
        key.removeprefix(_RESULT_PREFIX): EventResult(
            key.removeprefix(_RESULT_PREFIX), json.loads(str(value["result"])), float(value["at"])
        )
        for key, value in data.items()
        if key.startswith(_RESULT_PREFIX)
    }
    deployed = data.get("deployed")
    claim = data.get("claim")
    pending = data.get("pending")
    return TargetState(
        events=events,
        history_refs=tuple(str(ref) for ref in data.get("historyRefs", [])),
        deployed=DeployedRecord(
            push=_push(deployed["push"]),
            task_definition_arn=str(deployed["taskDefinitionArn"]),
            deployed_at=float(deployed["deployedAt"]),
            notified=bool(deployed.get("notified", True)),
            notification=deployed.get("notification"),
            outcome=deployed.get("outcome"),
        )
        if deployed
        else None,
        claim=Claim(str(claim["token"]), _push(claim["push"]), float(claim["expiresAt"]), str(claim.get("attempt", "")))
        if claim
        else None,
        pending=PendingRevision(
            str(pending["digest"]),
            str(pending["fingerprint"]),
            str(pending["arn"]),
            deployment_id=pending.get("deploymentId"),
            announced=bool(pending.get("announced", False)),
            previous_task_definition_arn=pending.get("previousTaskDefinitionArn"),
            message=pending.get("message"),
        )
        if pending
        else None,
        task=task_from_item(data.get("task")),
        queued=push_from_item(data.get("queued")),
    )


def _push(item: Mapping[str, Any]) -> PushRecord:
    version = item.get("version")
    return PushRecord(
        str(item["digest"]),
        str(item["tag"]),
        float(item["pushedAt"]),
        str(item["eventId"]),
        str(version) if version is not None else None,
    )
