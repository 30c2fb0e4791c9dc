"""The tracker's settings for promotion: its soak timers wake the deploy function, not the tracker."""

from __future__ import annotations

from pushdeploy.settings import TrackerSettings

BASE = {
    "AWS_REGION": "us-east-1",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pushdeploy",
    "TABLE_NAME": "pushdeploy-deploys",
    "ACCOUNT_ID": "123456789012",
    "AWS_LAMBDA_FUNCTION_NAME": "pushdeploy-TrackFunction-EXAMPLE",
}
PROMOTION = {
    "CONFIG_PREFIX": "/pushdeploy/",
    "DEPLOY_FUNCTION_NAME": "pushdeploy-DeployFunction-EXAMPLE",
    "TIMER_ROLE_ARN": "arn:aws:iam::123456789012:role/pushdeploy-TimerRole-EXAMPLE",
    "TIMER_PREFIX": "pushdeploy-12345678-",
}


def test_the_trackers_timers_target_the_deploy_function() -> None:
    # Given the tracker's environment as the template sets it
    settings = TrackerSettings.from_environment({**BASE, **PROMOTION})

    # Then its soak timers invoke the deploy function, with the stack's timer role and prefix, and it reads
    # the target configs under the config prefix
    assert settings.timers is not None
    assert (
        settings.timers.function_arn
        == "arn:aws:lambda:us-east-1:123456789012:function:pushdeploy-DeployFunction-EXAMPLE"
    )
    assert (settings.timers.role_arn, settings.timers.name_prefix) == (
        PROMOTION["TIMER_ROLE_ARN"],
        "pushdeploy-12345678-",
    )
    assert settings.config_prefix == "/pushdeploy"


def test_a_tracker_without_the_promotion_environment_sets_no_timers() -> None:
    # Given an older stack's environment (no DEPLOY_FUNCTION_NAME, no CONFIG_PREFIX)
    settings = TrackerSettings.from_environment(BASE)

    # Then the tracker tracks as before and sets no soak timer
    assert (settings.timers, settings.config_prefix) == (None, None)
