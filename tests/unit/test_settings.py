"""The functions' environment, read once into typed settings, with errors that name what is missing."""

from __future__ import annotations

import pytest

from pushdeploy.settings import Settings, SettingsError, TrackerSettings, function_account

BASE = {"AWS_REGION": "eu-west-1", "TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t", "TABLE_NAME": "deploys"}


def test_the_deploy_function_reads_its_environment_with_documented_defaults() -> None:
    # Given the variables the template sets, scope patterns included
    settings = Settings.from_environment({**BASE, "ALLOWED_CLUSTERS": "staging, prod-*", "CONFIG_PREFIX": "/x/"})

    # Then they are typed, and the rest take their defaults
    assert (settings.region, settings.topic_arn, settings.table_name) == (
        "eu-west-1",
        BASE["TOPIC_ARN"],
        "deploys",
    )
    assert settings.allowed_clusters == ("staging", "prod-*")
    assert settings.allowed_families == ("*",)
    assert settings.config_prefix == "/x"
    assert (settings.config_cache_seconds, settings.notify_skipped) == (30, False)


@pytest.mark.parametrize("reader", [Settings.from_environment, TrackerSettings.from_environment])
def test_every_missing_variable_is_named(reader: object) -> None:
    # Given an environment without the topic and the table
    # When a function reads it
    # Then the error names both
    with pytest.raises(SettingsError, match=r"^environment variable\(s\) TOPIC_ARN, TABLE_NAME not set$"):
        reader({"AWS_DEFAULT_REGION": "eu-west-1"})  # type: ignore[operator]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"CONFIG_PREFIX": "pushdeploy"}, "CONFIG_PREFIX must start with '/'"),
        ({"CONFIG_CACHE_SECONDS": "soon"}, "CONFIG_CACHE_SECONDS must be a whole number of seconds"),
        ({"ALLOWED_CLUSTERS": " , "}, "ALLOWED_CLUSTERS must name at least one pattern"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(changes: dict[str, str], problem: str) -> None:
    # Given one wrong value
    # Then reading the environment fails, naming it
    with pytest.raises(SettingsError, match=problem):
        Settings.from_environment({**BASE, **changes})


def test_the_tracker_needs_only_region_topic_and_table() -> None:
    # Given the tracker's environment
    settings = TrackerSettings.from_environment(BASE)

    # Then it is read as given
    assert (settings.region, settings.topic_arn, settings.table_name) == ("eu-west-1", BASE["TOPIC_ARN"], "deploys")


def test_the_stack_account_is_read_when_the_template_sets_it() -> None:
    # Given ACCOUNT_ID set (template: AWS::AccountId), and not set
    # When the deploy function reads its environment
    # Then the account is known in the first case, None in the second
    assert Settings.from_environment({**BASE, "ACCOUNT_ID": "123456789012"}).account_id == "123456789012"
    assert Settings.from_environment(BASE).account_id is None


def test_an_account_id_that_is_not_twelve_digits_is_refused() -> None:
    # Given ACCOUNT_ID set to something else
    # Then reading the environment fails, naming the variable
    with pytest.raises(SettingsError, match=r"^ACCOUNT_ID must be a 12-digit account id, got 'prod'$"):
        Settings.from_environment({**BASE, "ACCOUNT_ID": "prod"})


def test_the_function_account_comes_from_its_invoked_function_arn() -> None:
    # Given the Lambda context's invoked_function_arn
    # When the function's account is read
    # Then it is the ARN's account
    assert function_account("arn:aws:lambda:eu-west-1:123456789012:function:pushdeploy-Deploy") == "123456789012"
    with pytest.raises(SettingsError, match="names no account"):
        function_account("pushdeploy-Deploy")
