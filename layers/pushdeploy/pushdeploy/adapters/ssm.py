"""Parameter Store: target configs (read, cached) and secret parameters (names only, never values)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from pushdeploy.adapters.errors import aws_call
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
            cause = exc.__cause__
            raise AwsCallError("ssm:GetParametersByPath", type(cause or exc).__name__, str(exc)) from exc
        return {f"{path}/{name}": str(value) for name, value in values.items()}


class SecretParameterCatalog:
    """Checks secret parameters exist and lists them with DescribeParameters: metadata, never values."""

    def __init__(self, client: SSMClient) -> None:
        self._client = client

    def names_under(self, path: str) -> list[str]:
        """Names of the parameters directly under ``path``."""
        return self._describe({"Key": "Path", "Option": "OneLevel", "Values": [path]})

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that do not exist, in the order given."""
        wanted = list(dict.fromkeys(names))
        found: set[str] = set()
        for start in range(0, len(wanted), DESCRIBE_FILTER_VALUES):
            chunk = wanted[start : start + DESCRIBE_FILTER_VALUES]
            found.update(self._describe({"Key": "Name", "Option": "Equals", "Values": chunk}))
        return [name for name in wanted if name not in found]

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
