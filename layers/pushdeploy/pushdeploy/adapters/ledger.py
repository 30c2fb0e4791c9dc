"""The deploy ledger in DynamoDB: one state item per target, plus one history item per deploy.

pk ``TARGET#<repository>#<target>``; sk ``STATE`` for the state, ``DEPLOY#<time>#<event id>`` for history.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.ledger import Claim, ClaimResult, DeployedRecord, PendingRevision, PushRecord, TargetState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef

HISTORY_DAYS = 400
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def target_key(repository: str, target: str) -> dict[str, Any]:
    """The state item's key."""
    return {"pk": {"S": f"TARGET#{repository}#{target}"}, "sk": {"S": "STATE"}}


class DynamoDbLedger:
    """Claims, releases and commits target deploys with conditional writes."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claim(self, repository: str, target: str, claim: Claim, now: float) -> ClaimResult:
        """Take the target's claim unless another unexpired one (of another event) holds it."""
        with aws_call("dynamodb:UpdateItem"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=target_key(repository, target),
                    UpdateExpression="SET #claim = :claim",
                    ConditionExpression=(
                        "attribute_not_exists(#claim) OR #claim.expiresAt < :now OR #claim.push.eventId = :event"
                    ),
                    ExpressionAttributeNames={"#claim": "claim"},
                    ExpressionAttributeValues={
                        ":claim": _value(_claim_to_item(claim)),
                        ":now": _value(now),
                        ":event": {"S": claim.push.event_id},
                    },
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return ClaimResult(False, _state(exc.response.get("Item", {})))  # type: ignore[arg-type]
                raise
        return ClaimResult(True, _state(response.get("Attributes", {})))

    def release(self, repository: str, target: str, token: str, pending: PendingRevision | None = None) -> None:
        """Give the claim back; ``pending`` records a revision registered for a failed update."""
        update = "REMOVE #claim"
        values: dict[str, Any] = {":token": {"S": token}}
        if pending is not None:
            update = "SET #pending = :pending REMOVE #claim"
            values[":pending"] = _value(
                {"digest": pending.digest, "fingerprint": pending.fingerprint, "arn": pending.task_definition_arn}
            )
        with aws_call("dynamodb:UpdateItem"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=target_key(repository, target),
                    UpdateExpression=update,
                    ConditionExpression="#claim.#token = :token",
                    ExpressionAttributeNames={
                        "#claim": "claim",
                        "#token": "token",
                        **({"#pending": "pending"} if pending is not None else {}),
                    },
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
        history: Mapping[str, Any] | None,
    ) -> None:
        """Record the deployed push and release the claim, with a history item in the same transaction."""
        key = target_key(repository, target)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": "SET #deployed = :deployed REMOVE #claim, #pending",
            # Only the claim's holder commits; a missing claim means its lease lapsed but nobody took over,
            # which is still ours to record.
            "ConditionExpression": "attribute_not_exists(#claim) OR #claim.#token = :token",
            "ExpressionAttributeNames": {
                "#deployed": "deployed",
                "#claim": "claim",
                "#pending": "pending",
                "#token": "token",
            },
            "ExpressionAttributeValues": {":deployed": _value(_deployed_to_item(deployed)), ":token": {"S": token}},
        }
        if history is None:
            with aws_call("dynamodb:UpdateItem"):
                self._client.update_item(**update)
            return
        history_item = {
            **key,
            "sk": {"S": f"DEPLOY#{history['time']}#{deployed.push.event_id}"},
            **{name: _value(value) for name, value in history.items() if value is not None},
            "expiresAt": _value(int(deployed.deployed_at) + HISTORY_DAYS * 86400),
        }
        with aws_call("dynamodb:TransactWriteItems"):
            self._client.transact_write_items(
                TransactItems=[
                    {"Update": cast("UpdateTypeDef", update)},
                    {"Put": {"TableName": self._table, "Item": history_item}},
                ]
            )


def _value(python_value: Any) -> Any:
    return _serializer.serialize(_to_dynamodb(python_value))


def _to_dynamodb(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamodb(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamodb(item) for item in value]
    return value


def _push_to_item(push: PushRecord) -> dict[str, Any]:
    return {"digest": push.digest, "tag": push.tag, "pushedAt": push.pushed_at, "eventId": push.event_id}


def _claim_to_item(claim: Claim) -> dict[str, Any]:
    return {"token": claim.token, "push": _push_to_item(claim.push), "expiresAt": claim.expires_at}


def _deployed_to_item(deployed: DeployedRecord) -> dict[str, Any]:
    return {
        "push": _push_to_item(deployed.push),
        "taskDefinitionArn": deployed.task_definition_arn,
        "deployedAt": deployed.deployed_at,
        "notified": deployed.notified,
        "notification": deployed.notification,
    }


def _state(item: Mapping[str, Any]) -> TargetState:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    deployed = data.get("deployed")
    claim = data.get("claim")
    pending = data.get("pending")
    return TargetState(
        deployed=DeployedRecord(
            push=_push(deployed["push"]),
            task_definition_arn=str(deployed["taskDefinitionArn"]),
            deployed_at=float(deployed["deployedAt"]),
            notified=bool(deployed.get("notified", True)),
            notification=deployed.get("notification"),
        )
        if deployed
        else None,
        claim=Claim(str(claim["token"]), _push(claim["push"]), float(claim["expiresAt"])) if claim else None,
        pending=PendingRevision(str(pending["digest"]), str(pending["fingerprint"]), str(pending["arn"]))
        if pending
        else None,
    )


def _push(item: Mapping[str, Any]) -> PushRecord:
    return PushRecord(str(item["digest"]), str(item["tag"]), float(item["pushedAt"]), str(item["eventId"]))
