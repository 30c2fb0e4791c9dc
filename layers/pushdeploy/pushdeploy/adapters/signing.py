"""The Slack app's signing secret: a SecureString parameter, read with decryption and cached (never logged)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pushdeploy.adapters.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class SigningSecretParameter:
    """Reads the secret on first use and again after ``max_age`` seconds (a rotation takes effect then)."""

    def __init__(
        self, client: SSMClient, name: str, max_age: float = 300, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._name = name
        self._max_age = max_age
        self._clock = clock
        self._cached: tuple[float, bytes] | None = None

    def __call__(self) -> bytes:
        """The secret's bytes."""
        now = self._clock()
        if self._cached is None or now - self._cached[0] > self._max_age:
            with aws_call("ssm:GetParameter"):
                response = self._client.get_parameter(Name=self._name, WithDecryption=True)
            self._cached = (now, str(response["Parameter"].get("Value", "")).encode())
        return self._cached[1]
