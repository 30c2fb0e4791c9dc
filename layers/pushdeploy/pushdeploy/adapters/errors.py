"""Turning botocore failures into the project's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from pushdeploy.domain.errors import AwsCallError


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (``ThrottlingException``, ``AccessDeniedException``...)."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Raise AwsCallError for any AWS failure not translated by the caller (retryable by default)."""
    try:
        yield
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise AwsCallError(operation, error_code(exc), message) from exc
    except BotoCoreError as exc:  # timeouts, connection errors, retries exhausted
        raise AwsCallError(operation, type(exc).__name__, str(exc)) from exc
