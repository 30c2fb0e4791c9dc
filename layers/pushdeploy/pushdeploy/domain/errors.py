"""The errors pushdeploy reports, each in words a user can act on."""

from __future__ import annotations


class DeployError(Exception):
    """Base of every error pushdeploy reports.

    ``retryable`` says whether running the same event again may succeed (throttling, a 5xx, a timeout).
    Permanent errors (bad config, missing service) are reported and not retried.
    """

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidEventError(DeployError):
    """The invocation's event is not one pushdeploy accepts, or is malformed."""


class ConfigError(DeployError):
    """A target's configuration parameter does not parse or breaks a rule."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"target config {parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


class ImageNotFoundError(DeployError):
    """A manual deploy names a tag that the repository does not hold."""


class ClusterNotFoundError(DeployError):
    """The target's cluster does not exist."""


class ServiceNotDeployableError(DeployError):
    """The target's service is missing, not ACTIVE, or not driven by the ECS deployment controller."""


class TaskDefinitionError(DeployError):
    """The service's task definition cannot be turned into the next revision."""


class MissingParametersError(DeployError):
    """Secret parameters referenced by the target do not exist."""

    def __init__(self, names: list[str]) -> None:
        listed = ", ".join(names)
        super().__init__(
            f"secret parameter(s) not found in Parameter Store: {listed}; create them or remove them "
            "from the target config (nothing was registered)"
        )
        self.names = names


class AwsCallError(DeployError):
    """An AWS call failed for a reason that may pass (throttling, a 5xx, a timeout, access denied)."""

    retryable = True

    def __init__(self, operation: str, code: str, detail: str) -> None:
        super().__init__(f"{operation} failed: {code}: {detail}")
        self.operation = operation
        self.code = code
