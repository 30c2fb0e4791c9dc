"""Version policies through the deploy handler, in moto: the dry run names the pattern that decided each
target (or why none matched), a deploy records the version, and the dry run of an older version pushed later
says it is stale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from tests.helpers import Inbox, load_event
from tools.sample_world import PROD_CONFIG, World, put_target_config

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def target(result: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [report for report in result["targets"] if report["target"] == name]
    assert len(found) == 1, found
    return found[0]


def test_a_dry_run_names_the_pattern_that_decided_each_target(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given prod follows semver:^1.4, staging takes staging-* and build-*
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "tags": ["semver:^1.4"]})

    # When a dry run of the v1.5.0 push is asked for
    result = invoke({**load_event("ecr-push-semver.json"), "dryRun": True})

    # Then prod is planned and says which pattern matched (with the version); staging says why it did not
    prod, staging = target(result, "prod"), target(result, "staging")
    assert prod["status"] == "PLANNED"
    assert prod["tagPolicy"] == "tag v1.5.0 matches semver:^1.4 (version 1.5.0)"
    assert (staging["status"], staging["code"]) == ("SKIPPED", "no-match")
    assert staging["tagPolicy"] == "tag v1.5.0 does not match the target's tags ['staging-*', 'build-*']"
    assert inbox.receive() == []


def test_the_dry_run_of_an_older_version_pushed_later_says_it_is_stale(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given prod follows semver:^1.4 and v1.5.0 was deployed to it
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "tags": ["semver:^1.4"]})
    assert target(invoke(load_event("ecr-push-semver.json")), "prod")["status"] == "DEPLOYING"

    # When a dry run of v1.4.9, pushed later, is asked for
    result = invoke({**load_event("ecr-push-semver-older.json"), "dryRun": True})

    # Then it would be skipped as stale by version, naming both, and says the pattern matched
    prod = target(result, "prod")
    assert (prod["status"], prod["code"]) == ("SKIPPED", "stale")
    assert prod["reason"] == (
        "stale: version 1.4.9 (tag v1.4.9) is lower than version 1.5.0 (tag v1.5.0), which is deployed (dry run)"
    )
    assert prod["tagPolicy"] == "tag v1.4.9 matches semver:^1.4 (version 1.4.9)"


def test_an_invalid_range_fails_the_target_naming_the_pattern(
    session: boto3.Session, world: World, inbox: Inbox, invoke: Invoke
) -> None:
    # Given prod's config names a range that does not parse
    put_target_config(session, "api", "prod", {**PROD_CONFIG, "tags": ["semver:^1.x.y"]})

    # When v1.5.0 is pushed
    result = invoke(load_event("ecr-push-semver.json"))

    # Then prod fails, naming the parameter, the field and the pattern, and the team is told
    prod = target(result, "prod")
    assert (prod["status"], prod["code"]) == ("FAILED", "config")
    assert prod["reason"].startswith(
        "target config /pushdeploy/api/prod: field 'tags': pattern 'semver:^1.x.y': not an npm version range"
    )
    assert [(message.message["status"], message.message["target"]) for message in inbox.receive()] == [
        ("FAILED", "prod")
    ]
