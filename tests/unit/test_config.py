"""Target configuration: parsing, every rule, and the messages a user reads when a rule is broken."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushdeploy.domain import errors
from pushdeploy.domain.config import (
    KNOWN_FIELDS,
    MAX_CONTAINERS,
    REQUIRED_FIELDS,
    TargetConfig,
    parse_target_config,
    target_config_from_document,
    target_name,
)
from pushdeploy.domain.errors import ConfigError, DeployError
from pushdeploy.domain.scope import OutOfScopeError
from tests.unit.builders import PARAMETER

FULL_CONFIG: dict[str, Any] = {
    "cluster": "main",
    "service": "api",
    "tags": ["staging-*", "rc-*"],
    "containers": ["app"],
    "secrets": {
        "API_KEY": "/api/staging/API_KEY",
        "DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-password-AbCdEf",
    },
    "secretsPath": "/api/staging/env/",
    "environment": {"LOG_LEVEL": "debug", "FEATURE_X": "on"},
}
MINIMAL_CONFIG: dict[str, Any] = {"cluster": "main", "service": "api", "tags": ["staging-*"]}


def parse(document: Any) -> TargetConfig:
    return parse_target_config(PARAMETER, json.dumps(document))


def config_error(document: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(document)
    assert caught.value.parameter == PARAMETER
    assert str(caught.value).startswith(f"target config {PARAMETER}: ")
    return caught.value


def with_fields(**fields: Any) -> dict[str, Any]:
    document = copy.deepcopy(MINIMAL_CONFIG)
    document.update(fields)
    return document


def test_full_config_parses_every_field() -> None:
    # Given a config that sets every field
    raw = json.dumps(FULL_CONFIG)

    # When it is parsed
    config = parse_target_config(PARAMETER, raw)

    # Then every field is read, secretsPath loses its trailing slash and the name is the last segment
    assert config == TargetConfig(
        name="staging",
        parameter=PARAMETER,
        cluster="main",
        service="api",
        tags=("staging-*", "rc-*"),
        containers=("app",),
        secrets=FULL_CONFIG["secrets"],
        secrets_path="/api/staging/env",
        environment={"LOG_LEVEL": "debug", "FEATURE_X": "on"},
    )


def test_minimal_config_defaults_optional_fields() -> None:
    # Given only the required fields
    # When it is parsed
    config = parse(MINIMAL_CONFIG)

    # Then the optional fields are empty or unset
    assert config.containers is None
    assert config.secrets == {}
    assert config.environment == {}
    assert config.secrets_path is None


def test_cluster_and_service_may_be_arns() -> None:
    # Given a config naming its cluster and service by ARN
    document = with_fields(
        cluster="arn:aws:ecs:us-east-1:123456789012:cluster/main",
        service="arn:aws:ecs:us-east-1:123456789012:service/main/api",
    )

    # When it is parsed
    config = parse(document)

    # Then both ARNs are kept as given
    assert config.cluster == "arn:aws:ecs:us-east-1:123456789012:cluster/main"
    assert config.service == "arn:aws:ecs:us-east-1:123456789012:service/main/api"


def test_null_containers_means_every_container_of_the_repository() -> None:
    # Given containers set to null
    # When it is parsed
    config = parse(with_fields(containers=None))

    # Then it is treated as omitted
    assert config.containers is None


def test_root_secrets_path_stays_a_slash() -> None:
    # Given secretsPath "/"
    # When it is parsed
    config = parse(with_fields(secretsPath="/"))

    # Then the path is not stripped to nothing
    assert config.secrets_path == "/"


@pytest.mark.parametrize("missing", REQUIRED_FIELDS)
def test_missing_required_field_names_the_parameter_and_the_field(missing: str) -> None:
    # Given a config without one required field
    document = copy.deepcopy(MINIMAL_CONFIG)
    del document[missing]

    # When it is parsed
    error = config_error(document)

    # Then the error names the field
    assert error.problem == f"missing required field '{missing}'"


def test_not_json_names_the_parameter_and_where_it_broke() -> None:
    # Given a value that is not JSON
    raw = '{"cluster": main}'

    # When it is parsed
    with pytest.raises(ConfigError) as caught:
        parse_target_config(PARAMETER, raw)

    # Then the error names the parameter and the position, and does not talk about SecureStrings
    assert caught.value.parameter == PARAMETER
    assert "not valid JSON" in caught.value.problem
    assert "line 1 column 13" in caught.value.problem
    assert "SecureString" not in caught.value.problem


def test_encrypted_looking_value_hints_at_a_secure_string() -> None:
    # Given what Parameter Store returns for a SecureString read without decryption
    raw = "AQICAHhN8Jc1y2x4L7pBq0vA6mJ1kq3w=="

    # When it is parsed
    with pytest.raises(ConfigError) as caught:
        parse_target_config(PARAMETER, raw)

    # Then the error says the config may be a SecureString
    assert "not valid JSON" in caught.value.problem
    assert "is it a SecureString? store target configs as String" in caught.value.problem


@pytest.mark.parametrize(
    ("raw", "described"),
    [("[]", "an array"), ('"main"', "a string"), ("null", "null"), ("3", "a number"), ("true", "true")],
)
def test_document_that_is_not_an_object_is_refused(raw: str, described: str) -> None:
    # Given valid JSON that is not an object
    # When it is parsed
    with pytest.raises(ConfigError) as caught:
        parse_target_config(PARAMETER, raw)

    # Then the error says what it got
    assert caught.value.problem == f"must be a JSON object, got {described}"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"cluster": 5}, "field 'cluster' must be an ECS cluster name or ARN, got 5"),
        ({"cluster": "main cluster"}, "field 'cluster' must be an ECS cluster name or ARN"),
        ({"cluster": ""}, "field 'cluster' must be an ECS cluster name or ARN"),
        ({"service": None}, "field 'service' must be an ECS service name or ARN, got null"),
        ({"service": ["api"]}, "field 'service' must be an ECS service name or ARN"),
        ({"tags": "staging-*"}, "field 'tags' must be a list of strings, got a string"),
        ({"tags": {"pattern": "*"}}, "field 'tags' must be a list of strings, got an object"),
        ({"tags": ["staging-*", 1]}, "field 'tags[1]' must be a non-empty string, got 1"),
        ({"tags": [""]}, "field 'tags[0]' must be a non-empty string"),
        ({"containers": "app"}, "field 'containers' must be a list of strings, got a string"),
        ({"containers": [None]}, "field 'containers[0]' must be a non-empty string, got null"),
        ({"secrets": ["API_KEY"]}, "field 'secrets' must be an object of NAME: value, got an array"),
        ({"secrets": {"API_KEY": 1}}, "field 'secrets.API_KEY' must be a string, got a number"),
        ({"environment": "LOG_LEVEL=debug"}, "field 'environment' must be an object of NAME: value, got a string"),
        ({"environment": {"WORKERS": 4}}, "field 'environment.WORKERS' must be a string, got a number"),
        ({"environment": {"DEBUG": True}}, "field 'environment.DEBUG' must be a string, got true"),
        ({"environment": {"OPTIONAL": None}}, "field 'environment.OPTIONAL' must be a string, got null"),
        ({"secretsPath": 5}, "field 'secretsPath' must be a Parameter Store path"),
        ({"secretsPath": ["/api"]}, "field 'secretsPath' must be a Parameter Store path"),
    ],
)
def test_wrong_type_names_the_field(fields: dict[str, Any], expected: str) -> None:
    # Given a config with one field of the wrong type or shape
    # When it is parsed
    error = config_error(with_fields(**fields))

    # Then the error names the field and what is wrong
    assert expected in error.problem


def test_non_string_environment_value_shows_how_to_quote_it() -> None:
    # Given a number where a string is expected
    # When it is parsed
    error = config_error(with_fields(environment={"WORKERS": 4}))

    # Then the error shows the value written as a JSON string
    assert '(write "4")' in error.problem


def test_empty_tags_are_refused_with_an_example() -> None:
    # Given a config with no tag pattern
    # When it is parsed
    error = config_error(with_fields(tags=[]))

    # Then the error asks for at least one pattern
    assert "'tags' must list at least one tag pattern" in error.problem


def test_empty_containers_are_refused() -> None:
    # Given an empty containers list
    # When it is parsed
    error = config_error(with_fields(containers=[]))

    # Then the error says to omit the field instead
    assert "field 'containers' is empty: omit it" in error.problem


@pytest.mark.parametrize(
    ("unknown", "suggested"), [("tag", "tags"), ("secretPath", "secretsPath"), ("enviroment", "environment")]
)
def test_unknown_field_suggests_the_closest_known_one(unknown: str, suggested: str) -> None:
    # Given a misspelt field
    # When it is parsed
    error = config_error(with_fields(**{unknown: "x"}))

    # Then the error names it and suggests the field that was meant
    assert error.problem == f"unknown field '{unknown}' (did you mean '{suggested}'?)"


def test_unknown_field_with_no_close_match_lists_the_known_fields() -> None:
    # Given a field that resembles nothing
    # When it is parsed
    error = config_error(with_fields(zzz=1))

    # Then the error lists every known field
    assert error.problem == f"unknown field 'zzz'; known fields: {', '.join(sorted(KNOWN_FIELDS))}"


@pytest.mark.parametrize("field", ["secrets", "environment"])
@pytest.mark.parametrize("name", ["1ST", "DB-URL", "A B", ""])
def test_invalid_variable_name_is_refused(field: str, name: str) -> None:
    # Given a secret or variable whose name is not an environment variable name
    value = "/api/X" if field == "secrets" else "x"

    # When it is parsed
    error = config_error(with_fields(**{field: {name: value}}))

    # Then the error names the field and the bad name
    assert error.problem == f"field '{field}': '{name}' is not a valid environment variable name"


@pytest.mark.parametrize(
    "reference",
    [
        "/api/staging/API_KEY",
        "api/staging/API_KEY",
        "API_KEY",
        "arn:aws:ssm:us-east-1:123456789012:parameter/api/staging/API_KEY",
        "arn:aws:ssm:eu-west-1:210987654321:parameter/FLAT",
        "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/api/key",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-AbCdEf",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-AbCdEf:password::",
    ],
)
def test_secret_reference_may_be_a_name_or_an_arn(reference: str) -> None:
    # Given a secret given by parameter name, SSM ARN or Secrets Manager ARN
    # When it is parsed
    config = parse(with_fields(secrets={"SECRET": reference}))

    # Then it is kept as written
    assert config.secrets == {"SECRET": reference}


@pytest.mark.parametrize(
    "reference",
    ["api key", "arn:aws:s3:::bucket/key", "arn:aws:ssm:us-east-1:123:parameter/short-account", "", "$(API_KEY)"],
)
def test_secret_reference_that_is_neither_name_nor_arn_is_refused(reference: str) -> None:
    # Given a secret reference that no rule accepts
    # When it is parsed
    error = config_error(with_fields(secrets={"API_KEY": reference}))

    # Then the error names the secret and says what is accepted
    assert error.problem.startswith(f"field 'secrets.API_KEY': '{reference}' is neither a Parameter Store name")


def test_name_in_both_secrets_and_environment_is_refused() -> None:
    # Given two names set both as a secret and as a plain variable
    document = with_fields(
        secrets={"TOKEN": "/api/TOKEN", "API_KEY": "/api/API_KEY"},
        environment={"TOKEN": "x", "API_KEY": "y", "LOG_LEVEL": "debug"},
    )

    # When it is parsed
    error = config_error(document)

    # Then the error lists both names, sorted
    assert error.problem == "API_KEY, TOKEN set in both 'secrets' and 'environment'; keep one"


@pytest.mark.parametrize("path", ["api/staging/env", "", "/api/staging env", "/api/*"])
def test_secrets_path_must_be_an_absolute_parameter_path(path: str) -> None:
    # Given a secretsPath that is not a Parameter Store path starting with a slash
    # When it is parsed
    error = config_error(with_fields(secretsPath=path))

    # Then the error shows an example and what it got
    assert error.problem == (
        f"field 'secretsPath' must be a Parameter Store path such as \"/api/staging/env\", got {json.dumps(path)}"
    )


def test_more_containers_than_a_task_definition_holds_are_refused() -> None:
    # Given eleven container names
    names = [f"c{index}" for index in range(MAX_CONTAINERS + 1)]

    # When it is parsed
    error = config_error(with_fields(containers=names))

    # Then the error says how many were listed and the limit
    assert error.problem == "field 'containers' lists 11; a task definition holds at most 10"


def test_ten_containers_are_accepted() -> None:
    # Given exactly the limit
    names = [f"c{index}" for index in range(MAX_CONTAINERS)]

    # When it is parsed
    config = parse(with_fields(containers=names))

    # Then every name is kept in order
    assert config.containers == tuple(names)


@pytest.mark.parametrize("field", ["tags", "containers"])
def test_duplicate_entries_are_refused(field: str) -> None:
    # Given a list naming the same value twice
    # When it is parsed
    error = config_error(with_fields(**{field: ["a", "b", "a"]}))

    # Then the error names the field
    assert error.problem == f"field '{field}' lists the same value twice"


@pytest.mark.parametrize(
    ("parameter", "name"),
    [("/pushdeploy/api/staging", "staging"), ("/pushdeploy/api/prod/", "prod"), ("flat", "flat"), ("/x", "x")],
)
def test_target_name_is_the_last_segment_of_the_parameter(parameter: str, name: str) -> None:
    # Given a parameter name
    # When the target's name is taken from it
    # Then it is the last path segment, ignoring a trailing slash
    assert target_name(parameter) == name


def test_config_error_is_a_permanent_deploy_error() -> None:
    # Given a config error
    error = ConfigError(PARAMETER, "broken")

    # Then it is a DeployError that is not retried
    assert isinstance(error, DeployError)
    assert error.retryable is False
    assert str(error) == f"target config {PARAMETER}: broken"


def test_already_decoded_document_follows_the_same_rules() -> None:
    # Given a decoded document with a misspelt field
    # When it is checked
    with pytest.raises(ConfigError) as caught:
        target_config_from_document(PARAMETER, {**MINIMAL_CONFIG, "service_name": "api"})

    # Then the same error is raised as for the JSON text
    assert caught.value.problem == "unknown field 'service_name' (did you mean 'service'?)"


def test_cluster_name_with_a_trailing_newline_is_refused() -> None:
    # Given a cluster name that ends with a newline (easy to get from a heredoc or `echo`)
    # When it is parsed
    # Then it is refused like any other invalid name
    config_error(with_fields(cluster="main\n"))


def test_huge_integer_is_a_config_error() -> None:
    # Given a value holding a number longer than Python's int-conversion limit
    raw = '{"cluster": ' + "1" * 5000 + "}"

    # When it is parsed
    # Then it is reported as a config error like every other bad value
    with pytest.raises(ConfigError):
        parse_target_config(PARAMETER, raw)


# --- properties ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = st.dictionaries(st.sampled_from(sorted(KNOWN_FIELDS | {"tag", "extra"})), JSON_VALUES, max_size=8)


def _parses_or_raises_config_error(raw: str) -> None:
    try:
        config = parse_target_config(PARAMETER, raw)
    except ConfigError as exc:
        assert exc.parameter == PARAMETER
    else:
        assert config.tags
        assert config.parameter == PARAMETER


@given(raw=st.text(max_size=200))
def test_arbitrary_text_parses_or_raises_config_error(raw: str) -> None:
    # Given any text as a parameter value
    # When it is parsed
    # Then it parses or raises ConfigError naming the parameter; nothing else escapes
    _parses_or_raises_config_error(raw)


@given(document=JSON_VALUES)
def test_arbitrary_json_parses_or_raises_config_error(document: Any) -> None:
    # Given any JSON value
    # When it is parsed
    # Then it parses or raises ConfigError naming the parameter
    _parses_or_raises_config_error(json.dumps(document))


@given(document=FIELD_VALUES, base=st.booleans())
def test_known_fields_with_arbitrary_values_parse_or_raise_config_error(document: dict[str, Any], base: bool) -> None:
    # Given an object whose fields are (mostly) known but hold any JSON value
    if base:
        document = {**MINIMAL_CONFIG, **document}

    # When it is parsed
    # Then it parses or raises ConfigError naming the parameter
    _parses_or_raises_config_error(json.dumps(document))


# --- duplicate keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        pytest.param(
            '{"cluster": "main", "service": "api", "tags": ["staging-*"],'
            ' "environment": {"LOG_LEVEL": "debug"}, "environment": {"FEATURE_X": "on"}}',
            "'environment'",
            id="top-level",
        ),
        pytest.param(
            '{"cluster": "main", "service": "api", "tags": ["staging-*"],'
            ' "environment": {"LOG_LEVEL": "debug", "LOG_LEVEL": "info"}}',
            "'LOG_LEVEL'",
            id="in-environment",
        ),
        pytest.param(
            '{"cluster": "main", "service": "api", "tags": ["staging-*"], "create": {"taskDefinition": "api",'
            ' "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "subnets": []}}}}',
            "'subnets'",
            id="three-levels-down",
        ),
        pytest.param(
            '{"cluster": "a", "cluster": "b", "service": "api", "service": "web", "tags": ["*"]}',
            "'cluster', 'service'",
            id="two-keys",
        ),
    ],
)
def test_a_key_given_twice_is_refused_naming_it_at_every_level(raw: str, keys: str) -> None:
    # Given a stored config naming the same key twice in one object (JSON keeps the last, silently)
    # When it is parsed
    with pytest.raises(ConfigError) as caught:
        parse_target_config(PARAMETER, raw)

    # Then it is refused, naming the key(s)
    assert caught.value.problem == (
        f"key(s) {keys} appear more than once in one JSON object (only the last would count); keep one of each"
    )


def test_the_same_key_in_two_objects_is_not_a_duplicate() -> None:
    # Given LOG_LEVEL set once in environment, and a secret named LOG_FORMAT, and "subnets" in its own object
    raw = json.dumps({**MINIMAL_CONFIG, "environment": {"LOG_LEVEL": "info"}, "secrets": {"LOG_FORMAT": "/a/b"}})

    # When it is parsed
    # Then it is a config
    assert parse_target_config(PARAMETER, raw).environment == {"LOG_LEVEL": "info"}


# --- bounded messages ------------------------------------------------------------------------------------


def test_a_huge_unknown_key_gives_a_bounded_message() -> None:
    # Given a config with one unknown key of 200,000 characters
    error = config_error(with_fields(**{"k" * 200_000: 1}))

    # Then the message shows the start of the key and how much more there was
    assert len(str(error)) < 1_000
    assert error.problem.startswith("unknown field 'kkkk")
    assert "(and 199,880 more characters)'" in error.problem


def test_twenty_thousand_unknown_keys_give_a_bounded_message_that_counts_them() -> None:
    # Given a config with 20,000 unknown keys
    error = config_error(with_fields(**{f"x{index:05d}": 1 for index in range(20_000)}))

    # Then the message names the first and counts the rest
    assert len(str(error)) < 1_000
    assert error.problem.startswith("unknown field 'x00000'")
    assert error.problem.endswith("; 19,999 more unknown field(s)")


def test_twenty_thousand_unknown_keys_without_a_required_field_give_a_bounded_message() -> None:
    # Given a config without 'tags' and with 20,000 unknown keys, one a huge near-miss
    document = {"cluster": "main", "service": "api", **{f"x{index}": 1 for index in range(20_000)}}
    document["tag" + "s" * 100_000] = ["*"]

    # When it is parsed
    error = config_error(document)

    # Then the message names the missing field, bounded
    assert error.problem == "missing required field 'tags'"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"cluster": "c" * 200_000}, id="cluster"),
        pytest.param({"tags": ["*", 7, "x" * 200_000]}, id="tags"),
        pytest.param({"tags": ["x" * 200_000, 1]}, id="tag-item"),
        pytest.param({"secrets": {"A" * 200_000: "/x"}, "environment": {"A" * 200_000: "y"}}, id="clash"),
        pytest.param({"secrets": {"API_KEY": "arn:aws:s3:::" + "b" * 200_000}}, id="secret-reference"),
        pytest.param({"secrets": {"1" + "A" * 200_000: "/x"}}, id="variable-name"),
        pytest.param({"environment": {"A" * 200_000: 5}}, id="variable-value"),
        pytest.param({"environment": {"A": ["v" * 200_000]}}, id="variable-array"),
        pytest.param({"secretsPath": "p" * 200_000}, id="secrets-path"),
        pytest.param({"slackWebhook": "w" * 200_000}, id="webhook"),
        pytest.param({"create": {"taskDefinition": "f" * 200_000}}, id="family"),
        pytest.param({"create": {"taskDefinition": "api", "x" * 200_000: 1}}, id="create-field"),
        pytest.param({"create": {"taskDefinition": "api", "desiredCount": "9" * 200_000}}, id="desired-count"),
        pytest.param(
            {
                "create": {
                    "taskDefinition": "api",
                    "networkConfiguration": {
                        "awsvpcConfiguration": {"subnets": ["s"], **{f"k{i}" * 1000: 1 for i in range(100)}}
                    },
                }
            },
            id="awsvpc-fields",
        ),
    ],
)
def test_a_huge_value_in_any_field_gives_a_bounded_message(fields: dict[str, Any]) -> None:
    # Given a config with a 200,000-character value (or many big keys) in one field
    # When it is parsed
    error = config_error(with_fields(**fields))

    # Then the message is bounded
    assert len(str(error)) < 2_000, str(error)[:300]


# --- JSON's names for what was found ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "described"),
    [(None, "null"), (True, "true"), (False, "false"), (3, "a number"), ("x", "a string"), ([], "an array")],
)
def test_a_wrong_type_is_named_as_json_names_it(value: Any, described: str) -> None:
    # Given a config whose environment holds a non-string
    error = config_error(with_fields(secrets=value) if not isinstance(value, str) else with_fields(tags=value))

    # Then the message names what it got in JSON's words (never "a boolean", "a list", "NoneType")
    assert error.problem.endswith(f"got {described}")


# --- service ARNs and the cluster ------------------------------------------------------------------------


def test_a_service_arn_of_another_cluster_is_refused() -> None:
    # Given a config whose cluster is staging (allowed) and whose service ARN is in cluster prod
    document = with_fields(cluster="staging", service="arn:aws:ecs:us-east-1:123456789012:service/prod/api")

    # When it is parsed
    error = config_error(document)

    # Then it is refused: the scope is checked on the cluster, so the service must be in it
    assert error.problem == (
        "field 'service' is a service of cluster prod, but field 'cluster' is staging; name the service's own cluster"
    )


def test_a_service_arn_of_the_configs_cluster_is_accepted() -> None:
    # Given a cluster ARN and a service ARN in that cluster (and an old-format service ARN)
    cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/staging"
    for service in (
        "arn:aws:ecs:us-east-1:123456789012:service/staging/api",
        "arn:aws:ecs:us-east-1:123456789012:service/api",
    ):
        # When it is parsed
        config = parse(with_fields(cluster=cluster, service=service))

        # Then both are kept
        assert (config.cluster, config.service) == (cluster, service)


def test_cluster_and_service_arns_of_different_accounts_are_refused() -> None:
    # Given a cluster ARN of one account and a service ARN of another
    document = with_fields(
        cluster="arn:aws:ecs:us-east-1:123456789012:cluster/staging",
        service="arn:aws:ecs:us-east-1:999999999999:service/staging/api",
    )

    # When it is parsed
    # Then it is refused
    assert config_error(document).problem == (
        "fields 'cluster' and 'service' are ARNs of different accounts or Regions"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cluster", "arn:aws:ecs:us-east-1:123456789012:service/staging/api"),
        ("service", "arn:aws:ecs:us-east-1:123456789012:cluster/staging"),
    ],
)
def test_an_arn_of_the_other_kind_is_refused(field: str, value: str) -> None:
    # Given a cluster given as a service ARN, or a service given as a cluster ARN
    # When it is parsed
    # Then it is refused naming the field
    assert config_error(with_fields(**{field: value})).problem.startswith(
        f"field '{field}' must be an ECS {field} name or ARN, got "
    )


# --- reason codes ----------------------------------------------------------------------------------------


def test_each_error_carries_its_reason_code() -> None:
    # Given the error classes a failed target can report
    # Then each says its reason code, as the notification's "code" names it
    assert {
        cls.__name__: cls.code
        for cls in (
            errors.DeployError,
            errors.InvalidEventError,
            errors.ConfigError,
            errors.ImageNotFoundError,
            errors.ClusterNotFoundError,
            errors.ServiceNotDeployableError,
            errors.TaskDefinitionError,
            errors.MissingParametersError,
            errors.AwsCallError,
            OutOfScopeError,
        )
    } == {
        "DeployError": "error",
        "InvalidEventError": "error",
        "ConfigError": "config",
        "ImageNotFoundError": "error",
        "ClusterNotFoundError": "service",
        "ServiceNotDeployableError": "service",
        "TaskDefinitionError": "task-definition",
        "MissingParametersError": "missing-secret",
        "AwsCallError": "aws",
        "OutOfScopeError": "out-of-scope",
    }
    # And an AWS failure keeps AWS's own code apart from its reason code
    failure = errors.AwsCallError("ecs:UpdateService", "ThrottlingException", "Rate exceeded")
    assert (failure.code, failure.aws_error_code) == ("aws", "ThrottlingException")
