"""The deploy ledger's records of one-off tasks, in DynamoDB (part of ``adapters.ledger.DynamoDbLedger``).

On the target's state item: ``task`` (the task the claim waits for, or the last one that ended: a resumed
deploy skips the tasks done) and ``queued`` (the newest push that arrived while a task ran). One pointer item
per task, pk ``TASK#<task ARN>`` sk ``TASK``, finds the target from an ``ECS Task State Change`` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pushdeploy.adapters.attributes import from_attribute, to_attribute
from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.tasks import TaskPhase, TaskRun

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TASK_POINTER_DAYS = 3  # a task's pointer outlives its longest timeout (12 h) and a late event


def _target_key(repository: str, target: str) -> dict[str, Any]:
    return {"pk": {"S": f"TARGET#{repository}#{target}"}, "sk": {"S": "STATE"}}


def _task_key(task_arn: str) -> dict[str, Any]:
    return {"pk": {"S": f"TASK#{task_arn}"}, "sk": {"S": "TASK"}}


def push_to_item(push: ImagePush) -> dict[str, Any]:
    """A push as the ledger keeps it, whole (a queued push, a task's push: they are deployed from it)."""
    return {
        "repository": push.repository,
        "tag": push.tag,
        "digest": push.digest,
        "registry": push.registry,
        "trigger": push.trigger.value,
        "eventId": push.event_id,
        "pushedAt": push.pushed_at,
        "requestedBy": push.requested_by,
    }


def push_from_item(item: Mapping[str, Any] | None) -> ImagePush | None:
    """The inverse of ``push_to_item``."""
    if not item:
        return None
    return ImagePush(
        repository=str(item["repository"]),
        tag=str(item["tag"]),
        digest=str(item["digest"]),
        registry=str(item["registry"]),
        trigger=Trigger(str(item["trigger"])),
        event_id=str(item["eventId"]),
        pushed_at=float(item["pushedAt"]),
        requested_by=item.get("requestedBy"),
    )


def task_to_item(run: TaskRun) -> dict[str, Any]:
    """A task run as the state item's ``task`` map."""
    return {
        "phase": run.phase.value,
        "index": run.index,
        "done": run.done,
        "taskArn": run.task_arn,
        "cluster": run.cluster,
        "container": run.container,
        "command": list(run.command),
        "taskDefinitionArn": run.task_definition_arn,
        "claimToken": run.claim_token,
        "startedAt": run.started_at,
        "timeoutAt": run.timeout_at,
        "timer": run.timer,
        "push": push_to_item(run.push),
        "timeoutMinutes": run.timeout_minutes,
        "previousTaskDefinitionArn": run.previous_task_definition_arn,
        "logUrl": run.log_url,
        "deploymentId": run.deployment_id,
        "rollbackOnFailure": run.rollback_on_failure,
        "endedTaskArn": run.ended_task_arn,
    }


def task_from_item(item: Mapping[str, Any] | None) -> TaskRun | None:
    """The inverse of ``task_to_item``."""
    if not item:
        return None
    push = push_from_item(item["push"])
    assert push is not None
    return TaskRun(
        phase=TaskPhase(str(item["phase"])),
        index=int(item["index"]),
        done=int(item["done"]),
        task_arn=item.get("taskArn"),
        cluster=str(item["cluster"]),
        container=str(item["container"]),
        command=tuple(str(part) for part in item.get("command", [])),
        task_definition_arn=str(item["taskDefinitionArn"]),
        claim_token=str(item["claimToken"]),
        started_at=float(item["startedAt"]),
        timeout_at=float(item["timeoutAt"]),
        timer=str(item["timer"]),
        push=push,
        timeout_minutes=int(item["timeoutMinutes"]),
        previous_task_definition_arn=item.get("previousTaskDefinitionArn"),
        log_url=item.get("logUrl"),
        deployment_id=item.get("deploymentId"),
        rollback_on_failure=bool(item.get("rollbackOnFailure", False)),
        ended_task_arn=item.get("endedTaskArn"),
    )


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


class TaskRecords:
    """The task methods of the ledger (``domain.ports.TaskLedger``)."""

    _client: DynamoDBClient
    _table: str

    def start_task(self, repository: str, target: str, run: TaskRun, lease_until: float) -> bool:
        """Record the running task on the state item (the claim's lease held until ``lease_until``) and its
        pointer, in one transaction; False when the claim is no longer ``run.claim_token``'s."""
        assert run.task_arn is not None
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _target_key(repository, target),
                    "UpdateExpression": "SET #task = :task, #claim.#expires = :lease",
                    "ConditionExpression": "#claim.#token = :token",
                    "ExpressionAttributeNames": {
                        "#task": "task",
                        "#claim": "claim",
                        "#expires": "expiresAt",
                        "#token": "token",
                    },
                    "ExpressionAttributeValues": {
                        ":task": to_attribute({k: v for k, v in task_to_item(run).items() if v is not None}),
                        ":lease": to_attribute(lease_until),
                        ":token": {"S": run.claim_token},
                    },
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **_task_key(run.task_arn),
                        "repository": {"S": repository},
                        "target": {"S": target},
                        "expiresAt": to_attribute(int(run.started_at) + TASK_POINTER_DAYS * 86400),
                    },
                }
            },
        ]
        with aws_call("dynamodb:TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException":
                    return False
                raise
        return True

    def find_task(self, task_arn: str) -> tuple[str, str] | None:
        """The (repository, target) the task was started for."""
        with aws_call("dynamodb:GetItem"):
            response = self._client.get_item(TableName=self._table, Key=_task_key(task_arn))
        item = response.get("Item")
        if not item:
            return None
        return str(item["repository"]["S"]), str(item["target"]["S"])

    def end_task(self, repository: str, target: str, task_arn: str, *, succeeded: bool) -> TaskRun | None:
        """Mark the running task ended (done + 1 when it succeeded), if it is the running one."""
        sets = ["#task.#ended = :arn"]
        values: dict[str, Any] = {":arn": {"S": task_arn}}
        names = {"#task": "task", "#arn": "taskArn", "#ended": "endedTaskArn"}
        if succeeded:
            names["#done"] = "done"
            sets.append("#task.#done = #task.#done + :one")
            values[":one"] = {"N": "1"}
        update = f"SET {', '.join(sets)} REMOVE #task.#arn"
        with aws_call("dynamodb:UpdateItem"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=_target_key(repository, target),
                    UpdateExpression=update,
                    ConditionExpression="#task.#arn = :arn",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return None
                raise
        return task_from_item(_plain(response.get("Attributes", {})).get("task"))

    def queue_push(self, repository: str, target: str, push: ImagePush, holder: str) -> tuple[bool, ImagePush | None]:
        """Queue ``push`` behind the task of the claim ``holder`` unless a push at least as new is queued."""
        with aws_call("dynamodb:UpdateItem"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=_target_key(repository, target),
                    UpdateExpression="SET #queued = :queued",
                    ConditionExpression=(
                        "#claim.#token = :holder AND attribute_exists(#task.#arn)"
                        " AND (attribute_not_exists(#queued) OR #queued.#at < :at)"
                    ),
                    ExpressionAttributeNames={
                        "#queued": "queued",
                        "#claim": "claim",
                        "#token": "token",
                        "#task": "task",
                        "#arn": "taskArn",
                        "#at": "pushedAt",
                    },
                    ExpressionAttributeValues={
                        ":queued": to_attribute({k: v for k, v in push_to_item(push).items() if v is not None}),
                        ":holder": {"S": holder},
                        ":at": to_attribute(push.pushed_at),
                    },
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                old = _plain(exc.response.get("Item", {}))  # type: ignore[arg-type]
                held = (old.get("claim") or {}).get("token") == holder and (old.get("task") or {}).get("taskArn")
                return False, push_from_item(old.get("queued")) if held else None
        return True, push_from_item(_plain(response.get("Attributes", {})).get("queued"))

    def take_queued(self, repository: str, target: str) -> ImagePush | None:
        """Remove and return the queued push."""
        with aws_call("dynamodb:UpdateItem"):
            response = self._client.update_item(
                TableName=self._table,
                Key=_target_key(repository, target),
                UpdateExpression="REMOVE #queued",
                ExpressionAttributeNames={"#queued": "queued"},
                ReturnValues="ALL_OLD",
            )
        return push_from_item(_plain(response.get("Attributes", {})).get("queued"))
