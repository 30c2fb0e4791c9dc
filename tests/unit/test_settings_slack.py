"""The Slack notifier's settings, read from the environment."""

from __future__ import annotations

import pytest

from pushdeploy.settings import SettingsError, SlackSettings

# --- SlackSettings -----------------------------------------------------------------------------------------


def test_slack_settings_from_the_environment() -> None:
    # Given the environment template.yaml sets
    env = {"AWS_REGION": "eu-west-1", "SLACK_WEBHOOK_PATH": "/pushdeploy-slack/", "WEBHOOK_CACHE_SECONDS": "300"}

    # When it is read
    settings = SlackSettings.from_environment(env)

    # Then the path loses its trailing slash, and loopback stays refused
    assert settings == SlackSettings(region="eu-west-1", webhook_path="/pushdeploy-slack", webhook_cache_seconds=300)
    assert not settings.allow_loopback
    assert SlackSettings.from_environment({**env, "SLACK_ALLOW_LOOPBACK": "true"}).allow_loopback


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"AWS_REGION": "eu-west-1"}, "SLACK_WEBHOOK_PATH not set"),
        ({"AWS_REGION": "eu-west-1", "SLACK_WEBHOOK_PATH": "slack"}, "must start with '/'"),
        (
            {"AWS_REGION": "eu-west-1", "SLACK_WEBHOOK_PATH": "/s", "WEBHOOK_CACHE_SECONDS": "5m"},
            "WEBHOOK_CACHE_SECONDS must be a whole number",
        ),
    ],
)
def test_slack_settings_refuse_a_wrong_environment(env: dict[str, str], problem: str) -> None:
    # Given an incomplete or wrong environment
    # When it is read
    # Then the error says which variable is wrong
    with pytest.raises(SettingsError, match=problem):
        SlackSettings.from_environment(env)
