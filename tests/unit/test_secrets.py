"""Secret references as a task definition takes them, and where in AWS a target lives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain.config import TargetConfig, parse_target_config
from pushdeploy.domain.errors import ConfigError, DeployError, MissingParametersError
from pushdeploy.domain.push import AwsLocation, Trigger, ecr_registry
from pushdeploy.domain.secrets import SecretReference, resolve_secret, target_secrets
from tests.unit.builders import ACCOUNT, DIGEST, PARAMETER, REGION, SERVICE_ARN, image_push

HERE = AwsLocation(partition="aws", region=REGION, account=ACCOUNT)
SSM_HERE = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"


def config(**fields: Any) -> TargetConfig:
    document: dict[str, Any] = {"cluster": "main", "service": "api", "tags": ["staging-*"], **fields}
    return parse_target_config(PARAMETER, json.dumps(document))


# --- resolve_secret -----------------------------------------------------------------------------------


def test_hierarchical_name_becomes_a_local_parameter_arn() -> None:
    # Given a hierarchical parameter name
    # When it is resolved
    reference = resolve_secret("/api/staging/DB_PASSWORD", HERE)

    # Then it is this account and Region's ARN, with no doubled slash, and checkable by name
    assert reference == SecretReference(f"{SSM_HERE}/api/staging/DB_PASSWORD", "/api/staging/DB_PASSWORD")


def test_hierarchical_name_without_leading_slash_gets_one() -> None:
    # Given a hierarchical name written without its leading slash
    # When it is resolved
    reference = resolve_secret("api/staging/DB_PASSWORD", HERE)

    # Then the name checked is the real one, with its slash
    assert reference == SecretReference(f"{SSM_HERE}/api/staging/DB_PASSWORD", "/api/staging/DB_PASSWORD")


def test_flat_name_stays_flat() -> None:
    # Given a flat parameter name
    # When it is resolved
    reference = resolve_secret("DB_PASSWORD", HERE)

    # Then its ARN has one slash and its name none
    assert reference == SecretReference(f"{SSM_HERE}/DB_PASSWORD", "DB_PASSWORD")


def test_name_in_another_partition_uses_that_partition() -> None:
    # Given a target in the China partition
    china = AwsLocation(partition="aws-cn", region="cn-north-1", account=ACCOUNT)

    # When a name is resolved
    reference = resolve_secret("/api/KEY", china)

    # Then the ARN is in aws-cn
    assert reference.value_from == f"arn:aws-cn:ssm:cn-north-1:{ACCOUNT}:parameter/api/KEY"


def test_same_region_ssm_arn_is_kept_and_checkable() -> None:
    # Given the ARN of a hierarchical parameter in the target's account and Region
    arn = f"{SSM_HERE}/api/staging/DB_PASSWORD"

    # When it is resolved
    reference = resolve_secret(arn, HERE)

    # Then the ARN is kept and the name (with its leading slash) can be checked
    assert reference == SecretReference(arn, "/api/staging/DB_PASSWORD")


def test_same_region_arn_of_a_flat_parameter_gives_the_flat_name() -> None:
    # Given the ARN of a flat parameter here
    arn = f"{SSM_HERE}/DB_PASSWORD"

    # When it is resolved
    reference = resolve_secret(arn, HERE)

    # Then the name checked has no slash
    assert reference == SecretReference(arn, "DB_PASSWORD")


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/api/staging/DB_PASSWORD",
        f"arn:aws:ssm:{REGION}:210987654321:parameter/api/staging/DB_PASSWORD",
    ],
)
def test_ssm_arn_in_another_region_or_account_is_not_checkable(arn: str) -> None:
    # Given a parameter ARN elsewhere (this function cannot look it up)
    # When it is resolved
    reference = resolve_secret(arn, HERE)

    # Then the ARN is kept and no local name is given
    assert reference == SecretReference(arn, None)


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api/db-password-AbCdEf",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api/db-AbCdEf:password:AWSCURRENT:",
    ],
)
def test_secrets_manager_arn_is_kept_and_not_checked(arn: str) -> None:
    # Given a Secrets Manager ARN (optionally with a JSON key and a stage)
    # When it is resolved
    reference = resolve_secret(arn, HERE)

    # Then it is used as is, not checked in Parameter Store
    assert reference == SecretReference(arn, None)


def test_secrets_manager_arn_with_json_key_ssm_is_not_a_parameter() -> None:
    # Given a Secrets Manager ARN here selecting the JSON key "ssm" (valid valueFrom syntax)
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api/creds-AbCdEf:ssm::"

    # When it is resolved
    reference = resolve_secret(arn, HERE)

    # Then it is kept as a Secrets Manager reference
    assert reference == SecretReference(arn, None)


# --- target_secrets -----------------------------------------------------------------------------------


def test_secrets_under_the_path_are_named_by_their_last_segment() -> None:
    # Given a target with a secretsPath holding two parameters
    target = config(secretsPath="/api/staging/env")

    # When its secrets are listed
    secrets = target_secrets(target, ["/api/staging/env/SENTRY_DSN", "/api/staging/env/DB_URL"], HERE)

    # Then each is named by its last segment and points at its ARN
    assert secrets == {
        "DB_URL": SecretReference(f"{SSM_HERE}/api/staging/env/DB_URL", "/api/staging/env/DB_URL"),
        "SENTRY_DSN": SecretReference(f"{SSM_HERE}/api/staging/env/SENTRY_DSN", "/api/staging/env/SENTRY_DSN"),
    }


def test_explicit_secrets_win_over_the_path() -> None:
    # Given a path holding API_KEY and an explicit API_KEY elsewhere
    target = config(secretsPath="/api/staging/env", secrets={"API_KEY": "/shared/API_KEY", "EXTRA": "EXTRA"})

    # When its secrets are listed
    secrets = target_secrets(target, ["/api/staging/env/API_KEY", "/api/staging/env/DB_URL"], HERE)

    # Then the explicit one is used, the others are all there
    assert secrets["API_KEY"] == SecretReference(f"{SSM_HERE}/shared/API_KEY", "/shared/API_KEY")
    assert secrets["EXTRA"] == SecretReference(f"{SSM_HERE}/EXTRA", "EXTRA")
    assert set(secrets) == {"API_KEY", "DB_URL", "EXTRA"}


def test_no_path_and_no_secrets_gives_nothing() -> None:
    # Given a target with no secrets
    # When its secrets are listed
    # Then there are none
    assert target_secrets(config(), [], HERE) == {}


@pytest.mark.parametrize("name", ["db-url", "1ST", "db.url"])
def test_parameter_under_path_not_named_like_a_variable_is_a_config_error(name: str) -> None:
    # Given a parameter under the path whose last segment is not an environment variable name
    target = config(secretsPath="/api/staging/env")
    parameter = f"/api/staging/env/{name}"

    # When its secrets are listed
    with pytest.raises(ConfigError) as caught:
        target_secrets(target, ["/api/staging/env/OK", parameter], HERE)

    # Then the error names the target's config, the parameter and the path, and says what to do
    assert caught.value.parameter == PARAMETER
    assert f"parameter {parameter} under secretsPath /api/staging/env is not named like an environment" in str(
        caught.value
    )
    assert "rename it or list it in 'secrets'" in str(caught.value)


# --- where things live --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "location"),
    [
        (SERVICE_ARN, AwsLocation("aws", REGION, ACCOUNT)),
        (f"arn:aws-cn:ecs:cn-north-1:{ACCOUNT}:service/main/api", AwsLocation("aws-cn", "cn-north-1", ACCOUNT)),
        (
            f"arn:aws-us-gov:ssm:us-gov-west-1:{ACCOUNT}:parameter/a:b",
            AwsLocation("aws-us-gov", "us-gov-west-1", ACCOUNT),
        ),
    ],
)
def test_location_is_read_from_an_arn(arn: str, location: AwsLocation) -> None:
    # Given an ARN
    # When its location is read
    # Then partition, Region and account come from their fields
    assert AwsLocation.from_arn(arn) == location


@pytest.mark.parametrize("text", ["api", "arn:aws:ecs:us-east-1", "urn:aws:ecs:us-east-1:123456789012:service/a", ""])
def test_location_of_something_that_is_not_an_arn_is_an_error(text: str) -> None:
    # Given text that is not an ARN
    # When its location is read
    # Then a DeployError says so
    with pytest.raises(DeployError, match=r"^not an ARN: "):
        AwsLocation.from_arn(text)


def test_parameter_arn_does_not_repeat_the_leading_slash() -> None:
    # Given a location
    # When the ARN of a hierarchical and a flat name are built
    # Then each has exactly one slash after "parameter"
    assert HERE.parameter_arn("/api/KEY") == f"{SSM_HERE}/api/KEY"
    assert HERE.parameter_arn("KEY") == f"{SSM_HERE}/KEY"


@pytest.mark.parametrize(
    ("region", "registry"),
    [
        ("us-east-1", f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"),
        ("eu-central-2", f"{ACCOUNT}.dkr.ecr.eu-central-2.amazonaws.com"),
        ("us-gov-west-1", f"{ACCOUNT}.dkr.ecr.us-gov-west-1.amazonaws.com"),
        ("cn-north-1", f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", f"{ACCOUNT}.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
    ],
)
def test_ecr_registry_host_per_region(region: str, registry: str) -> None:
    # Given an account and a Region
    # When the registry host is built
    # Then China Regions use amazonaws.com.cn
    assert ecr_registry(ACCOUNT, region) == registry


def test_image_push_is_pinned_by_digest() -> None:
    # Given a push of api:staging-42
    push = image_push()

    # When its image is named
    # Then it is <registry>/<repository>@<digest>, never the tag
    assert push.repository_uri == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/api"
    assert push.image_uri == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/api@{DIGEST}"
    assert "staging-42" not in push.image_uri


def test_image_push_of_a_namespaced_repository() -> None:
    # Given a push to a repository with a namespace
    push = image_push(repository="team/api", trigger=Trigger.MANUAL)

    # When its image is named
    # Then the namespace is part of the path
    assert push.image_uri == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/api@{DIGEST}"
    assert push.trigger.value == "manual"


# --- bounded messages ------------------------------------------------------------------------------------


def test_thousands_of_missing_parameters_are_listed_up_to_ten() -> None:
    # Given 5,000 secret parameters that do not exist
    names = [f"/api/staging/env/SECRET_{index:04d}" for index in range(5_000)]

    # When the error is made
    error = MissingParametersError(names)

    # Then it lists the first ten and counts the rest, and keeps every name for the caller
    assert str(error).startswith(
        "secret parameter(s) not found in Parameter Store: /api/staging/env/SECRET_0000, /api/staging/env/SECRET_0001"
    )
    assert "SECRET_0009 … and 4,990 more; create them or remove them" in str(error)
    assert len(str(error)) < 1_000
    assert error.names == names
    assert error.code == "missing-secret"


def test_an_arn_too_long_to_show_is_cut_in_the_error() -> None:
    # Given text of 100,000 characters that is not an ARN
    # When its location is read
    with pytest.raises(DeployError) as caught:
        AwsLocation.from_arn("x" * 100_000)

    # Then the error shows its start and says how much more there was
    assert str(caught.value).startswith('not an ARN: "xxx')
    assert str(caught.value).endswith("(and 99,880 more characters)")


def test_a_huge_parameter_name_under_the_path_gives_a_bounded_message() -> None:
    # Given a parameter under secretsPath whose 10,000-character last segment is no variable name
    target = config(secretsPath="/api/staging/env")
    parameter = "/api/staging/env/" + "-" * 10_000

    # When the target's secrets are gathered
    with pytest.raises(ConfigError) as caught:
        target_secrets(target, [parameter], HERE)

    # Then the message is bounded
    assert len(str(caught.value)) < 1_000
    assert "more characters) under secretsPath /api/staging/env is not named like an environment" in str(caught.value)
