"""Parameter Store: target configs (read, cached) and secret parameters (names only, never values)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.errors import AwsCallError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

DESCRIBE_FILTER_VALUES = 50  # DescribeParameters takes at most 50 values per filter


class TargetConfigStore:
    """Reads ``<prefix>/<repository>/<target>`` parameters, cached for ``max_age`` seconds."""

    def __init__(self, client: SSMClient, prefix: str, max_age: int) -> None:
        self._provider = SSMProvider(boto3_client=client)
        self._prefix = prefix.rstrip("/")
        self._max_age = max_age

    def path_for(self, repository: str) -> str:
        """The path under which ``repository``'s targets are stored."""
        return f"{self._prefix}/{repository}"

    def target_parameters(self, repository: str) -> Mapping[str, str]:
        """Full parameter name to raw value of every target directly under the repository's path."""
        path = self.path_for(repository)
        try:
            values = self._provider.get_multiple(path, max_age=self._max_age, recursive=False, decrypt=False)
        except GetParameterError as exc:
            # powertools raises it while handling botocore's error, without "from": the cause is the context.
            cause = exc.__cause__ or exc.__context__
            code = error_code(cause) if isinstance(cause, ClientError) else type(cause or exc).__name__
            raise AwsCallError("ssm:GetParametersByPath", code, str(exc)) from exc
        return {f"{path}/{name}": str(value) for name, value in values.items()}


class SecretParameterCatalog:
    """Checks secret parameters exist and lists them with DescribeParameters: metadata, never values.

    What was found is remembered for ``max_age`` seconds (like the target configs), so a warm function
    does not ask again on every deploy; what is missing is always asked again.
    """

    def __init__(self, client: SSMClient, max_age: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._existing: dict[str, float] = {}  # name to when the knowledge expires
        self._listings: dict[str, tuple[float, list[str]]] = {}

    def names_under(self, path: str) -> list[str]:
        """Names of the parameters directly under ``path``."""
        cached = self._listings.get(path)
        if cached and cached[0] > self._clock():
            return list(cached[1])
        names = self._describe({"Key": "Path", "Option": "OneLevel", "Values": [path]})
        if self._max_age and names:
            self._listings[path] = (self._clock() + self._max_age, names)
            self._remember(names)
        return names

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that do not exist, in the order given."""
        wanted = list(dict.fromkeys(names))
        now = self._clock()
        unknown = [name for name in wanted if self._existing.get(name, 0.0) <= now]
        found: set[str] = set()
        for start in range(0, len(unknown), DESCRIBE_FILTER_VALUES):
            chunk = unknown[start : start + DESCRIBE_FILTER_VALUES]
            found.update(self._describe({"Key": "Name", "Option": "Equals", "Values": chunk}))
        self._remember(found)
        return [name for name in unknown if name not in found]

    def _remember(self, names: Iterable[str]) -> None:
        if self._max_age:
            expires = self._clock() + self._max_age
            self._existing.update(dict.fromkeys(names, expires))

    def _describe(self, parameter_filter: dict[str, object]) -> list[str]:
        names: list[str] = []
        kwargs: dict[str, object] = {"ParameterFilters": [parameter_filter], "MaxResults": 50}
        with aws_call("ssm:DescribeParameters"):
            while True:
                response = self._client.describe_parameters(**kwargs)  # type: ignore[arg-type]
                names.extend(parameter["Name"] for parameter in response.get("Parameters", []))
                token = response.get("NextToken")
                if not token:
                    return names
                kwargs["NextToken"] = token
