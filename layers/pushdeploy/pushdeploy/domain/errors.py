"""The errors pushdeploy reports, each in words a user can act on, and the helpers that quote input in them.

Every message that quotes input goes through ``quote``, ``shorten`` or ``quote_list``: a value is cut at
``MAX_QUOTED_CHARACTERS`` and a list at ``MAX_QUOTED_ITEMS``, saying how many more there were, so that a huge
key or thousands of them never make a huge message in logs, results and the on-failure record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MAX_QUOTED_CHARACTERS = 120
MAX_QUOTED_ITEMS = 10
MAX_AWS_MESSAGE_CHARACTERS = 400  # AWS error messages may echo a request's input


def json_type(value: Any) -> str:
    """What ``value`` is, in JSON's words: null, true, false, a number, a string, an array, an object."""
    match value:
        case None:
            return "null"
        case bool():
            return "true" if value else "false"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list() | tuple():
            return "an array"
        case Mapping():
            return "an object"
        case _:
            return f"a {type(value).__name__} (not JSON)"


def _cut(text: str, limit: int) -> tuple[str, str]:
    """``text`` cut to ``limit`` characters, and what to say about the rest ('' when nothing was cut)."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], f" (and {len(text) - limit:,} more characters)"


def shorten(text: str, limit: int = MAX_QUOTED_CHARACTERS) -> str:
    """``text`` with control characters escaped, at most ``limit`` characters of it, then how many more."""
    kept, rest = _cut(text, limit)
    escaped = json.dumps(kept, ensure_ascii=False)[1:-1].replace('\\"', '"')
    return f"{escaped}…{rest}" if rest else escaped


def quote(value: Any, limit: int = MAX_QUOTED_CHARACTERS) -> str:
    """``value`` as JSON (``"api"``, ``17``, ``true``, ``null``), at most ``limit`` characters of it, then how
    many more."""
    if isinstance(value, str):
        kept, rest = _cut(value, limit)
        text = json.dumps(kept, ensure_ascii=False)
        return f'{text[:-1]}…"{rest}' if rest else text
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):  # nesting too deep to encode, or a circular reference
        return json_type(value)
    kept, rest = _cut(text, limit)
    return f"{kept}…{rest}" if rest else kept


def quote_list(
    items: Iterable[Any], limit: int = MAX_QUOTED_ITEMS, render: Callable[[Any], str] = quote, empty: str = "none"
) -> str:
    """The first ``limit`` items, each rendered by ``render`` (``quote`` by default), comma-separated, then
    "… and N more"; ``empty`` when there are none."""
    listed = list(items)
    shown = ", ".join(render(item) for item in listed[:limit])
    if len(listed) > limit:
        return f"{shown} … and {len(listed) - limit:,} more"
    return shown or empty


def quote_name(name: Any) -> str:
    """A field or key name in single quotes, bounded: ``'containr'``."""
    return f"'{shorten(name if isinstance(name, str) else quote(name))}'"


class DeployError(Exception):
    """Base of every error pushdeploy reports.

    ``retryable`` says whether running the same event again may succeed (throttling, a 5xx, a timeout).
    Permanent errors (bad config, missing service) are reported and not retried. ``code`` is the reason
    code a failed target's report and notification carry.
    """

    retryable = False
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidEventError(DeployError):
    """The invocation's event is not one pushdeploy accepts, or is malformed."""


class ConfigError(DeployError):
    """A target's configuration parameter does not parse or breaks a rule."""

    code = "config"

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"target config {shorten(parameter, 300)}: {problem}")
        self.parameter = parameter
        self.problem = problem


class ImageNotFoundError(DeployError):
    """A manual deploy names a tag that the repository does not hold."""


class ClusterNotFoundError(DeployError):
    """The target's cluster does not exist."""

    code = "service"


class ServiceNotDeployableError(DeployError):
    """The target's service is missing, not ACTIVE, or not driven by the ECS deployment controller."""

    code = "service"


class TaskDefinitionError(DeployError):
    """The service's task definition cannot be turned into the next revision."""

    code = "task-definition"


class MissingParametersError(DeployError):
    """Secret parameters referenced by the target do not exist."""

    code = "missing-secret"

    def __init__(self, names: list[str]) -> None:
        listed = quote_list(names, render=lambda name: shorten(str(name), 300))
        super().__init__(
            f"secret parameter(s) not found in Parameter Store: {listed}; create them or remove them "
            "from the target config (nothing was registered)"
        )
        self.names = names


_RESULT_UNKNOWN_CODES = frozenset(
    {"ReadTimeoutError", "ConnectionClosedError", "InternalFailure", "InternalServerError", "ServerException"}
)


class AwsCallError(DeployError):
    """An AWS call failed for a reason that may pass (throttling, a 5xx, a timeout, access denied).

    ``aws_error_code`` is AWS's own code (``ThrottlingException``); ``code`` is the reason code, ``aws``.
    """

    retryable = True
    code = "aws"

    def __init__(self, operation: str, aws_error_code: str, detail: str) -> None:
        super().__init__(
            f"{operation} failed: {shorten(aws_error_code)}: {shorten(detail, MAX_AWS_MESSAGE_CHARACTERS)}"
        )
        self.operation = operation
        self.aws_error_code = aws_error_code

    @property
    def result_unknown(self) -> bool:
        """Whether the failed call may still have been applied: its request reached AWS and no answer came
        back (a read timeout, a dropped connection, a 500)."""
        return self.aws_error_code in _RESULT_UNKNOWN_CODES
