"""Parameter Store: target configs (read, cached) and secret parameters (names only, never values)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pushdeploy.adapters.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

DESCRIBE_FILTER_VALUES = 50  # DescribeParameters takes at most 50 values per filter


class TargetConfigStore:
    """Reads ``<prefix>/<repository>/<target>`` parameters (GetParametersByPath, one level, no decryption),
    cached for ``max_age`` seconds.

    Written here rather than with powertools' SSMProvider: the provider imports boto3 (about 140 ms of the
    deploy function's cold start, s3transfer included) for what is one paginated call and a cache.
    """

    def __init__(
        self, client: SSMClient, prefix: str, max_age: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._prefix = prefix.rstrip("/")
        self._max_age = max_age
        self._clock = clock
        self._cached: dict[str, tuple[float, dict[str, str]]] = {}  # path to (expires, values)

    def path_for(self, repository: str) -> str:
        """The path under which ``repository``'s targets are stored."""
        return f"{self._prefix}/{repository}"

    def target_parameters(self, repository: str) -> Mapping[str, str]:
        """Full parameter name to raw value of every target directly under the repository's path."""
        path = self.path_for(repository)
        cached = self._cached.get(path)
        if cached is not None and cached[0] > self._clock():
            return dict(cached[1])
        values: dict[str, str] = {}
        kwargs: dict[str, Any] = {"Path": path, "Recursive": False, "WithDecryption": False}
        with aws_call("ssm:GetParametersByPath"):
            while True:
                response = self._client.get_parameters_by_path(**kwargs)
                values.update({item["Name"]: str(item.get("Value", "")) for item in response.get("Parameters", [])})
                token = response.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        if self._max_age > 0:
            self._cached[path] = (self._clock() + self._max_age, values)
        return dict(values)


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
