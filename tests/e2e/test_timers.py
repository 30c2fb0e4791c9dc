"""Timers on the local AWS: the deploy function's timer settings as the template gives them, a one-time
schedule in moto's Scheduler, and the local AWS firing it as Scheduler would (moto keeps schedules, never
fires them)."""

from __future__ import annotations

import time

import boto3

from pushdeploy import wiring
from pushdeploy.domain.timers import Timer, timer_name
from pushdeploy.settings import Settings
from tools.localaws import LocalAws, StackFunction
from tools.sample_world import World


def test_a_timer_the_deploy_function_sets_fires_into_it_once_and_is_gone(
    local: LocalAws, session: boto3.Session, world: World, deploy_function: StackFunction
) -> None:
    # Given the deploy function's timers, wired from the environment the stack gives it
    settings = Settings.from_environment(
        {**deploy_function.environment, "AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": deploy_function.name}
    )
    assert settings.timers is not None
    assert settings.timers.function_arn == deploy_function.arn
    assert settings.timers.name_prefix.startswith("pushdeploy-") and len(settings.timers.name_prefix) == 20
    timers = wiring.build_timers(settings.timers, wiring.clients_of(session, "us-east-1"))
    assert timers is not None

    # When it sets two timers: one due in a minute (a history request), one due in an hour
    now = time.time()
    soon = timer_name(settings.timers.name_prefix, "test", "api", "prod", "soon")
    later = timer_name(settings.timers.name_prefix, "test", "api", "prod", "later")
    timers.set_timer(Timer(soon, now + 60, {"action": "history", "repository": "api", "target": "prod"}))
    timers.set_timer(Timer(later, now + 3600, {"action": "history", "repository": "api", "target": "staging"}))

    # Then both are pending, earliest first
    assert [timer["name"] for timer in local.pending_timers()] == [soon, later]

    # When the time of the first comes
    [fired] = local.fire_timers(until=now + 120)

    # Then the deploy function received its event and answered it, and only the later timer is left
    assert fired.function == "DeployFunction" and fired.error is None
    assert fired.result["target"] == "prod" and "deploys" in fired.result
    assert [timer["name"] for timer in local.pending_timers()] == [later]

    # And a cancelled timer never fires
    timers.cancel_timer(later)
    assert local.fire_timers() == []
