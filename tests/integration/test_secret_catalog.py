"""The secret-parameter checks: metadata only, and what was found is not asked again while it is fresh."""

from __future__ import annotations

from typing import Any

import boto3

from pushdeploy.adapters.ssm import SecretParameterCatalog
from tools.sample_world import World


class CountingClient:
    """An SSM client that counts DescribeParameters calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def describe_parameters(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self._client.describe_parameters(**kwargs)


def test_found_parameters_are_remembered_for_max_age_and_missing_ones_always_asked(
    session: boto3.Session, world: World
) -> None:
    # Given a catalog that remembers for 30 s, on a clock the test moves
    now = [1000.0]
    client = CountingClient(session.client("ssm"))
    catalog = SecretParameterCatalog(client, max_age=30, clock=lambda: now[0])  # type: ignore[arg-type]

    # When a path is listed and names checked twice within 30 s
    listed = catalog.names_under("/api/staging/env")
    first = catalog.missing(["/api/staging/DATABASE_URL", "/api/staging/NOPE"])
    calls_after_first = client.calls
    second = catalog.missing(["/api/staging/DATABASE_URL", "/api/staging/NOPE", *listed])
    again = catalog.names_under("/api/staging/env")

    # Then the second check asks only about the missing name, and the listing is not repeated
    assert sorted(listed) == ["/api/staging/env/SESSION_SECRET", "/api/staging/env/STRIPE_KEY"]
    assert first == second == ["/api/staging/NOPE"]
    assert client.calls == calls_after_first + 1
    assert again == listed and client.calls == calls_after_first + 1

    # And once 30 s have passed, everything is asked again
    now[0] += 31
    assert catalog.missing(["/api/staging/DATABASE_URL"]) == []
    assert client.calls == calls_after_first + 2


def test_without_max_age_every_check_asks(session: boto3.Session, world: World) -> None:
    # Given a catalog that remembers nothing
    client = CountingClient(session.client("ssm"))
    catalog = SecretParameterCatalog(client)  # type: ignore[arg-type]

    # When the same name is checked twice
    catalog.missing(["/api/staging/DATABASE_URL"])
    catalog.missing(["/api/staging/DATABASE_URL"])

    # Then both checks asked
    assert client.calls == 2
