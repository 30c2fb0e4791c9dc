"""Three accounts in moto: the central stack's, a registry account and a workload account.

moto keeps a backend per account id, and credentials from ``sts:AssumeRole`` act in the role's account, so a
central deploy function that assumes the workload role really acts in the workload account's ECS. Events are
delivered as the accounts/ templates forward them: EventBridge keeps an event's ``account`` (the source
account) when a rule forwards it to another account's bus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from pushdeploy.adapters.sts import RoleCredentials
from pushdeploy.domain.accounts import workload_role_arn
from pushdeploy.wiring import RegionalClients, regional_clients_of
from tools.sample_accounts import CENTRAL, REGION, REGISTRY, WORKLOAD, put_config, seed_accounts, session_in
from tools.sample_world import create_deploy_table

OUTSIDE = "444444444444"
__all__ = ["CENTRAL", "OUTSIDE", "REGION", "REGISTRY", "WORKLOAD", "put_config", "session_in"]
ROOT = Path(__file__).resolve().parent.parent
PROD_CONFIG: dict[str, Any] = {
    "cluster": "prod",
    "service": "api",
    "tags": ["v*"],
    "containers": ["api"],
    "account": WORKLOAD,
    "accountAlias": "prod",
    "secrets": {"DATABASE_URL": "/api/prod/DATABASE_URL"},
}


@dataclass(frozen=True)
class RecordedCall:
    """A call made with a workload account's credentials."""

    account: str
    service: str  # the client's signing name
    operation: str
    params: dict[str, Any]
    response: dict[str, Any] | None
    error: str | None


@dataclass
class RecordingRegionalClients:
    """The composition root's "regional clients" seam, recording every call made in another account."""

    calls: list[RecordedCall] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # the account of each client created
    inner: RegionalClients = field(default_factory=lambda: regional_clients_of(None))

    def __call__(self, service_name: str, region: str, config: Config, credentials: RoleCredentials | None) -> Any:
        client = self.inner(service_name, region, config, credentials)
        account = _account_of(client)
        self.accounts.append(account)
        return _Recording(client, account, self.calls)


def _account_of(client: Any) -> str:
    return str(
        boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=client._request_signer._credentials.access_key,
            aws_secret_access_key=client._request_signer._credentials.secret_key,
            aws_session_token=client._request_signer._credentials.token,
        ).get_caller_identity()["Account"]
    )


class _Recording:
    def __init__(self, client: Any, account: str, calls: list[RecordedCall]) -> None:
        self._client, self._account, self._calls = client, account, calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return attribute

        def call(**params: Any) -> Any:
            service = self._client.meta.service_model.signing_name
            try:
                response = attribute(**params)
            except Exception as exc:
                self._calls.append(RecordedCall(self._account, service, operation, params, None, type(exc).__name__))
                raise
            self._calls.append(RecordedCall(self._account, service, operation, params, response, None))
            return response

        return call


@dataclass
class ThreeAccounts:
    topic_arn: str
    table_name: str
    registry_image: str  # the registry's api repository URI
    digests: dict[str, str]  # tag to digest, in the registry
    workload_task_definition: str
    workload: boto3.Session
    registry: boto3.Session


def seed_three_accounts(central: boto3.Session) -> ThreeAccounts:
    """The central stack's topic, ledger and own api repository; the registry's api repository; the
    workload's prod cluster and service (its api container from the registry), and its secret parameter."""
    accounts = seed_accounts("prod")
    central.client("ecr").create_repository(repositoryName="api")  # same name, another registry
    return ThreeAccounts(
        topic_arn=central.client("sns").create_topic(Name="pushdeploy")["TopicArn"],
        table_name=create_deploy_table(central),
        registry_image=accounts.registry_image,
        digests=accounts.digests,
        workload_task_definition=accounts.workload_task_definition,
        workload=accounts.workload,
        registry=accounts.registry,
    )


def forwarded_push(tag: str, digest: str, *, account: str = REGISTRY, event_id: str = "") -> dict[str, Any]:
    """The registry's push as the central bus receives it from accounts/registry.yaml's rule."""
    event: dict[str, Any] = json.loads((ROOT / "events" / "ecr-push-foreign-registry.json").read_text())
    event["account"] = account
    event["id"] = event_id or f"push-{account}-{tag}"
    event["time"] = "2026-11-20T10:20:00Z"
    event["detail"].update({"image-tag": tag, "image-digest": digest})
    return event


def deployment_event(name: str, deployment_id: str, service_arn: str, *, reason: str = "") -> dict[str, Any]:
    """An ECS Deployment State Change as the workload account's forwarding rule delivers it."""
    account = service_arn.split(":")[4]
    return {
        "version": "0",
        "id": f"{name}-{deployment_id}-{account}",
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": account,
        "time": "2026-11-20T10:22:00Z",
        "region": REGION,
        "resources": [service_arn],
        "detail": {
            "eventType": "INFO" if name != "SERVICE_DEPLOYMENT_FAILED" else "ERROR",
            "eventName": name,
            "deploymentId": deployment_id,
            "updatedAt": "2026-11-20T10:22:00Z",
            "reason": reason,
        },
    }


def workload_role(account: str = WORKLOAD) -> str:
    return workload_role_arn(account)


Invoke = Callable[[dict[str, Any]], dict[str, Any]]
