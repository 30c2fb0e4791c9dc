"""The deploy ledger's records of what waits: pushes waiting for their gates, and pending promotions.

Same table as ``adapters.ledger``. A waiting push: pk ``WAITING#<repository>#<digest>``, sk the target (a scan
event names the repository and digest: one Query finds every target it resumes). A pending promotion: pk
``PROMOTION#<repository>#<target>``, sk ``PENDING`` (one per target: the latest completion of its source).
Only UpdateItem, GetItem and Query: an ended wait is marked, not deleted, and the TTL removes it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pushdeploy.adapters.attributes import from_attribute, to_attribute
from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.gates import WaitingPush
from pushdeploy.domain.promotion import PendingPromotion

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

from botocore.exceptions import ClientError

KEPT_DAYS = 30  # a wait lasts at most a day and a soak a week: the records outlive both


def _waiting_pk(repository: str, digest: str) -> str:
    return f"WAITING#{repository}#{digest}"


def _promotion_key(repository: str, target: str) -> dict[str, Any]:
    return {"pk": {"S": f"PROMOTION#{repository}#{target}"}, "sk": {"S": "PENDING"}}


class DynamoDbWaitLedger:
    """Waiting pushes and pending promotions, with conditional writes."""

    def __init__(self, client: DynamoDBClient, table_name: str, clock: Any = time.time) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def record_waiting(self, waiting: WaitingPush) -> WaitingPush:
        """Note the wait; one already waiting keeps its ``since`` and ``deadline`` (an ended one starts anew)."""
        with aws_call("dynamodb:UpdateItem"):
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": _waiting_pk(waiting.repository, waiting.digest)}, "sk": {"S": waiting.target}},
                UpdateExpression=(
                    "SET push = :push, since = if_not_exists(since, :since), "
                    "deadline = if_not_exists(deadline, :deadline), gates = :gates, expiresAt = :expires "
                    "REMOVE endedAt"
                ),
                ExpressionAttributeValues={
                    ":push": to_attribute(_push_fields(waiting)),
                    ":since": to_attribute(waiting.since),
                    ":deadline": to_attribute(waiting.deadline),
                    ":gates": to_attribute(list(waiting.gates)),
                    ":expires": to_attribute(int(self._clock()) + KEPT_DAYS * 86400),
                },
                ReturnValues="ALL_NEW",
            )
        return _waiting(waiting.repository, waiting.digest, response["Attributes"])

    def waiting_for(self, repository: str, digest: str) -> list[WaitingPush]:
        """The targets' deploys of ``digest`` that still wait, by target."""
        with aws_call("dynamodb:Query"):
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": _waiting_pk(repository, digest)}},
            )
        items = response.get("Items", [])
        return [_waiting(repository, digest, item) for item in items if "endedAt" not in item and "since" in item]

    def end_waiting(self, repository: str, digest: str, target: str) -> bool:
        """Mark the wait over; False when it was over already (or never began)."""
        with aws_call("dynamodb:UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": _waiting_pk(repository, digest)}, "sk": {"S": target}},
                    UpdateExpression="SET endedAt = :now REMOVE since, deadline",
                    ConditionExpression="attribute_exists(since)",
                    ExpressionAttributeValues={":now": to_attribute(self._clock())},
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def record_pending_promotion(self, pending: PendingPromotion) -> None:
        """Keep ``pending`` as the target's pending promotion, unless a later completion is kept already (the
        tracker may see completions out of order)."""
        fields = {
            "source": pending.source,
            "digest": pending.digest,
            "tag": pending.tag,
            "pushedAt": pending.pushed_at,
            "sourceDeploymentId": pending.source_deployment_id,
            "completedAt": pending.completed_at,
            "soakMinutes": pending.soak_minutes,
            "registry": pending.registry,
            "expiresAt": int(self._clock()) + KEPT_DAYS * 86400,
        }
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": to_attribute(value) for name, value in fields.items()}
        with aws_call("dynamodb:UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=_promotion_key(pending.repository, pending.target),
                    UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                    # The latest completion wins, whatever order the tracker sees them in.
                    ConditionExpression="attribute_not_exists(#completedAt) OR #completedAt <= :completedAt",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise

    def pending_promotion(self, repository: str, target: str) -> PendingPromotion | None:
        """The target's pending promotion, or None."""
        with aws_call("dynamodb:GetItem"):
            response = self._client.get_item(TableName=self._table, Key=_promotion_key(repository, target))
        item = response.get("Item")
        if not item:
            return None
        data = {key: from_attribute(value) for key, value in item.items()}
        return PendingPromotion(
            repository=repository,
            target=target,
            source=str(data["source"]),
            digest=str(data["digest"]),
            tag=str(data["tag"]),
            pushed_at=float(data["pushedAt"]),
            source_deployment_id=str(data["sourceDeploymentId"]),
            completed_at=float(data["completedAt"]),
            soak_minutes=int(data["soakMinutes"]),
            registry=str(data.get("registry") or ""),
        )


def _push_fields(waiting: WaitingPush) -> dict[str, Any]:
    return {
        "tag": waiting.tag,
        "registry": waiting.registry,
        "trigger": waiting.trigger,
        "eventId": waiting.event_id,
        "pushedAt": waiting.pushed_at,
        "requestedBy": waiting.requested_by,
        "promotion": json.dumps(dict(waiting.promotion)) if waiting.promotion is not None else None,
    }


def _waiting(repository: str, digest: str, item: Any) -> WaitingPush:
    data = {key: from_attribute(value) for key, value in item.items()}
    push = data["push"]
    return WaitingPush(
        repository=repository,
        target=str(data["sk"]),
        digest=digest,
        tag=str(push["tag"]),
        registry=str(push["registry"]),
        trigger=str(push["trigger"]),
        event_id=str(push["eventId"]),
        pushed_at=float(push["pushedAt"]),
        since=float(data["since"]),
        deadline=float(data["deadline"]),
        requested_by=push.get("requestedBy"),
        gates=tuple(str(gate) for gate in data.get("gates", [])),
        promotion=json.loads(str(push["promotion"])) if push.get("promotion") else None,
    )
