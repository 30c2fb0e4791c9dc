"""STS: the credentials of the deploy role in a workload account, assumed on first use and cached."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.accounts import RoleNotAssumableError, workload_role_arn
from pushdeploy.domain.errors import shorten

# STS refuses a DurationSeconds below 900 (botocore's model: 900-43200). The deploy function's timeout (120 s)
# is far below it: the minimum is "just above its time budget".
SESSION_SECONDS = 900
# Credentials are renewed when they would expire within this: longer than one invocation (the deploy
# function's timeout, 120 s) and a margin for clock skew, so an invocation never starts with credentials that
# expire before it ends.
RENEW_BEFORE_SECONDS = 180
# AssumeRole codes that mean "the role is not there for us", not a passing failure.
_NOT_ASSUMABLE = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "NoSuchEntity"})


@dataclass(frozen=True)
class RoleCredentials:
    """Temporary credentials of an assumed role."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float  # epoch seconds


class WorkloadRoles:
    """Assumes the deploy role (accounts/workload.yaml) in a workload account and keeps its credentials until
    shortly before they expire: a warm function assumes it once per account every ~12 minutes."""

    def __init__(
        self,
        client: Any,  # a botocore STS client of the stack's own account
        *,
        role_name: str | None = None,
        external_id: str | None = None,
        caller_role: str | None = None,  # this function's role ARN, for the error message
        partition: str = "aws",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._role_name = role_name
        self._external_id = external_id
        self._caller_role = caller_role
        self._partition = partition
        self._clock = clock
        self._cache: dict[str, RoleCredentials] = {}

    def role_arn(self, account: str) -> str:
        """The deploy role's ARN in ``account``."""
        arn = workload_role_arn(account, self._partition)
        return arn if self._role_name is None else arn.rsplit("/", 1)[0] + "/" + self._role_name

    def credentials(self, account: str, session_name: str) -> RoleCredentials:
        """The role's credentials in ``account``, assumed as ``session_name`` when none valid are cached.
        RoleNotAssumableError names the role and the likely cause when STS refuses."""
        cached = self._cache.get(account)
        if cached is not None and cached.expires_at - RENEW_BEFORE_SECONDS > self._clock():
            return cached
        role_arn = self.role_arn(account)
        request: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": SESSION_SECONDS,
        }
        if self._external_id:
            request["ExternalId"] = self._external_id
        with aws_call("sts:AssumeRole"):
            try:
                response = self._client.assume_role(**request)
            except ClientError as exc:
                if error_code(exc) in _NOT_ASSUMABLE:
                    raise RoleNotAssumableError(self._refusal(role_arn, account, exc)) from exc
                raise
        issued = response["Credentials"]
        expiration = issued["Expiration"]
        expires_at = expiration.timestamp() if hasattr(expiration, "timestamp") else float(expiration)
        credentials = RoleCredentials(
            issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"], expires_at
        )
        self._cache[account] = credentials
        return credentials

    def _refusal(self, role_arn: str, account: str, exc: ClientError) -> str:
        caller = f" ({self._caller_role})" if self._caller_role else ""
        external = " and external id" if self._external_id else ""
        message = shorten(str(exc.response.get("Error", {}).get("Message", "")), 300)
        return (
            f"cannot assume role {role_arn} in account {account}: {error_code(exc)}"
            f"{': ' + message if message else ''}. Likely cause: the workload stack (accounts/workload.yaml) is "
            f"not deployed in account {account}, or its trust policy does not name this stack's function "
            f"role{caller}{external}"
        )
