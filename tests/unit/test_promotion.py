"""Promotion without AWS: the promote block, missing sources and cycles, and the one decision "still promotable"."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pushdeploy.domain.config import parse_target_config
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.promotion import (
    PendingPromotion,
    PromotionAction,
    PromotionSettings,
    decide_promotion,
    promoting_from,
    promotion_problem,
)
from pushdeploy.domain.records import HistoryItem
from pushdeploy.domain.times import parse_time
from tests.helpers import load_event

DIGEST = "sha256:" + "4f" * 32
NEWER = "sha256:" + "5e" * 32
COMPLETED_AT = parse_time("2026-11-20T10:02:00Z")
PENDING = PendingPromotion(
    repository="api",
    target="prod",
    source="staging",
    digest=DIGEST,
    tag="staging-42",
    pushed_at=COMPLETED_AT - 300,
    source_deployment_id="ecs-svc/1",
    completed_at=COMPLETED_AT,
    soak_minutes=30,
)


def staging_deploy(deployment_id: str, status: str, digest: str = DIGEST, trigger: str = "push") -> HistoryItem:
    return HistoryItem(
        repository="api",
        target="staging",
        tag="staging-42",
        digest=digest,
        image=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/api@{digest}",
        trigger=trigger,
        status=status,
        cluster="staging",
        service="api",
        task_definition_arn=None,
        previous_task_definition_arn=None,
        deployment_id=deployment_id,
        event_id="e",
        pushed_at=COMPLETED_AT - 300,
        recorded_at=COMPLETED_AT - 200,
    )


def prod_config(promote: Any, **more: Any) -> str:
    return json.dumps({"cluster": "prod", "service": "api", "promote": promote, **more})


def test_a_target_may_promote_without_tags_or_with_them() -> None:
    # Given prod promoting from staging after 30 minutes, with no tags; and one with tags too
    only = parse_target_config("/pushdeploy/api/prod", prod_config({"from": "staging", "soakMinutes": 30}))
    both = parse_target_config("/pushdeploy/api/prod", prod_config({"from": "staging", "soakMinutes": 0}, tags=["v*"]))

    # Then both parse: the first matches no tag, the second its v* tags as before
    assert (only.promote, only.tags) == (PromotionSettings("staging", 30), ())
    assert (both.promote, both.tags) == (PromotionSettings("staging", 0), ("v*",))


@pytest.mark.parametrize(
    ("promote", "problem"),
    [
        ({"from": "prod", "soakMinutes": 30}, "'promote.from' names the target itself"),
        ({"from": "staging", "soakMinutes": -1}, "'promote.soakMinutes' must be a whole number of minutes 0-10080"),
        ({"from": "staging", "soakMinutes": 10081}, "0-10080"),
        ({"from": "staging"}, "'promote.soakMinutes'"),
        ({"from": "no such/target", "soakMinutes": 5}, "'promote.from' must name a target"),
        ({"from": "staging", "soakMinutes": 5, "approve": True}, "unknown field 'promote.approve'"),
        ("staging", "field 'promote' must be an object, got a string"),
    ],
)
def test_a_bad_promote_block_fails_the_target_naming_the_field(promote: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_target_config("/pushdeploy/api/prod", prod_config(promote))


def test_a_target_without_tags_nor_promote_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="missing required field 'tags'"):
        parse_target_config("/pushdeploy/api/prod", json.dumps({"cluster": "prod", "service": "api"}))


def test_a_promotion_from_a_missing_target_or_in_a_cycle_is_a_problem_naming_the_field() -> None:
    # Given a repository's targets and what each promotes from
    sources = {"staging": None, "prod": "staging", "dr": "prod", "a": "b", "b": "c", "c": "a", "lost": "qa"}

    # Then a chain is fine, a missing source and a cycle are named
    assert promotion_problem("prod", sources) is None
    assert promotion_problem("dr", sources) is None
    assert promotion_problem("staging", sources) is None
    missing = promotion_problem("lost", sources)
    assert missing is not None and missing.startswith("field 'promote.from' names target qa, which this repository")
    assert promotion_problem("a", sources) == "field 'promote.from' makes a cycle of promotions: a -> b -> c -> a"
    # And the targets promoting from staging are found by name
    promotions = {"prod": PromotionSettings("staging", 30), "dr": PromotionSettings("prod", 60)}
    assert promoting_from("staging", promotions) == [("prod", PromotionSettings("staging", 30))]


def test_the_completed_digest_is_promoted_when_the_source_still_runs_it() -> None:
    # Given prod's pending promotion and staging's latest deploy, the completed one
    decision = decide_promotion(
        PENDING, digest=DIGEST, source_deployment_id="ecs-svc/1", source_latest=staging_deploy("ecs-svc/1", "COMPLETED")
    )

    # Then it is promoted, and the chain says from where, when it completed and how long it soaked
    assert decision.action is PromotionAction.PROMOTE
    assert decision.reason == "promoted from staging (COMPLETED 10:02, soaked 30 min)"


@pytest.mark.parametrize(
    ("pending", "latest", "why"),
    [
        # staging completed a newer digest during the soak: that one is pending (and promoted at its own end)
        (
            replace(PENDING, digest=NEWER, source_deployment_id="ecs-svc/2"),
            staging_deploy("ecs-svc/2", "COMPLETED", NEWER),
            "no longer pending",
        ),
        # staging was rolled back during the soak
        (PENDING, staging_deploy("ecs-svc/3", "DEPLOYING", trigger="rollback"), "staging rolled back"),
        # staging deployed something else that failed
        (PENDING, staging_deploy("ecs-svc/4", "ROLLED_BACK", NEWER), "ROLLED_BACK"),
        # nothing pending at all
        (None, staging_deploy("ecs-svc/1", "COMPLETED"), "no longer pending"),
        # no deploy of staging recorded (its history expired)
        (PENDING, None, "staging has no deploy recorded"),
    ],
)
def test_a_digest_is_not_promoted_once_the_source_moved_on(
    pending: PendingPromotion | None, latest: HistoryItem | None, why: str
) -> None:
    decision = decide_promotion(pending, digest=DIGEST, source_deployment_id="ecs-svc/1", source_latest=latest)
    assert decision.action is PromotionAction.SKIP
    assert why in decision.reason


def test_the_soak_timer_event_is_the_documented_sample() -> None:
    # Given the sample in events/, then the timer's event has its shape
    sample = load_event("promote-timer.json")
    assert set(PENDING.timer_event()) == set(sample)
    assert PENDING.due == COMPLETED_AT + 1800
