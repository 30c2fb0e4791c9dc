"""Names and ARNs (the patterns input is checked against, names read out of ARNs), and how messages quote
input: JSON's names for types, values and lists cut short, saying how much more there was."""

from __future__ import annotations

from typing import Any

import pytest

from pushdeploy.domain.errors import (
    MAX_QUOTED_CHARACTERS,
    MAX_QUOTED_ITEMS,
    AwsCallError,
    json_type,
    quote,
    quote_list,
    quote_name,
    shorten,
)
from pushdeploy.domain.names import (
    DEPLOYMENT_ID,
    DIGEST,
    ENV_NAME,
    REPOSITORY,
    WEBHOOK_NAME,
    Arn,
    account_of,
    family_of,
    parse_arn,
    resource_name,
    service_cluster,
    target_name,
)

# --- ARNs and names --------------------------------------------------------------------------------------


def test_an_arn_is_read_into_its_parts() -> None:
    # Given a service ARN
    # When it is parsed
    arn = parse_arn("arn:aws:ecs:us-east-1:123456789012:service/staging/api")

    # Then each part is named, the resource whole
    assert arn == Arn("aws", "ecs", "us-east-1", "123456789012", "service/staging/api")


@pytest.mark.parametrize("text", ["staging", "arn:aws:ecs:us-east-1", "urn:aws:ecs:us-east-1:1:x", ""])
def test_text_that_is_not_an_arn_parses_to_none(text: str) -> None:
    # Given a name or a malformed ARN
    # When it is parsed
    # Then there is no ARN
    assert parse_arn(text) is None


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        ("arn:aws:lambda:us-east-1:123456789012:function:pushdeploy-DeployFunction", "123456789012"),
        ("arn:aws:lambda:us-east-1:123456789012:function:pushdeploy-DeployFunction:live", "123456789012"),
        ("arn:aws:lambda:us-east-1:12345:function:f", None),
        ("pushdeploy-DeployFunction", None),
    ],
)
def test_the_account_of_a_function_arn(arn: str, account: str | None) -> None:
    # Given a Lambda context's invoked_function_arn (an alias's too)
    # When its account is read
    # Then it is the 12-digit account, or None
    assert account_of(arn) == account


@pytest.mark.parametrize(
    ("service", "cluster"),
    [
        ("arn:aws:ecs:us-east-1:123456789012:service/staging/api", "staging"),
        ("arn:aws:ecs:us-east-1:123456789012:service/api", None),
        ("api", None),
        ("arn:aws:ecs:us-east-1:123456789012:cluster/staging", None),
    ],
)
def test_the_cluster_a_service_arn_names(service: str, cluster: str | None) -> None:
    # Given a service ARN (new or old format), a name, or another ARN
    # When its cluster is read
    # Then only the new format names one
    assert service_cluster(service) == cluster


def test_names_read_out_of_arns_and_parameters() -> None:
    # Given ARNs and a target's parameter name
    # Then the names are their last segments
    assert resource_name("arn:aws:ecs:us-east-1:123456789012:cluster/staging") == "staging"
    assert resource_name("staging") == "staging"
    assert family_of("arn:aws:ecs:us-east-1:123456789012:task-definition/api-staging:7") == "api-staging"
    assert target_name("/pushdeploy/team/api/staging/") == "staging"


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (ENV_NAME, ["LOG_LEVEL", "_X", "a1"], ["1X", "LOG-LEVEL", "", "A\n"]),
        (DIGEST, ["sha256:" + "4f" * 32], ["sha256:" + "4F" * 32, "sha256:abc", "sha256:" + "4f" * 32 + "\n"]),
        (DEPLOYMENT_ID, ["ecs-svc/4937285106452937241"], ["ecs-svc/abc", "ecs-svc/", "ecs-svc/" + "1" * 33]),
        (WEBHOOK_NAME, ["team-payments", "default"], ["", "a/b", "x" * 129]),
        (REPOSITORY, ["api", "team/api", "a.b-c_d"], ["a", "API", "team//api", "api/", "a" * 257]),
    ],
)
def test_shared_patterns_accept_and_refuse(pattern: Any, good: list[str], bad: list[str]) -> None:
    # Given one of the shared patterns
    # Then it matches the good names in full, and none of the bad ones
    assert all(pattern.fullmatch(name) for name in good)
    assert not any(pattern.fullmatch(name) for name in bad)


# --- quoting input in messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "a number"),
        (1.5, "a number"),
        ("", "a string"),
        ([], "an array"),
        ({}, "an object"),
    ],
)
def test_json_type_names_a_value_as_json_does(value: Any, name: str) -> None:
    # Given a decoded JSON value
    # When its type is named
    # Then it is JSON's word, never Python's (NoneType, bool, list, dict)
    assert json_type(value) == name


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("api", '"api"'), (17, "17"), (True, "true"), (None, "null"), (["a", 1], '["a", 1]'), ("a\nb", '"a\\nb"')],
)
def test_a_short_value_is_quoted_as_json(value: Any, quoted: str) -> None:
    # Given a short value
    # When it is quoted
    # Then it is its JSON text, control characters escaped
    assert quote(value) == quoted


def test_a_long_string_is_cut_saying_how_many_more_characters() -> None:
    # Given a 200,000-character string
    # When it is quoted and shortened
    quoted, shortened = quote("k" * 200_000), shorten("k" * 200_000)

    # Then at most MAX_QUOTED_CHARACTERS of it are shown, then how many more there were
    assert quoted == '"' + "k" * MAX_QUOTED_CHARACTERS + '…" (and 199,880 more characters)'
    assert shortened == "k" * MAX_QUOTED_CHARACTERS + "… (and 199,880 more characters)"


def test_a_long_array_is_cut_in_its_json_text() -> None:
    # Given an array whose JSON text is long
    # When it is quoted
    quoted = quote(list(range(10_000)))

    # Then its text is cut and the rest counted
    assert quoted.startswith("[0, 1, 2, 3")
    assert quoted.endswith("more characters)")
    assert len(quoted) < MAX_QUOTED_CHARACTERS + 50


def test_a_value_nested_too_deep_to_encode_is_named_by_its_type() -> None:
    # Given an array nested far deeper than the encoder recurses
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]

    # When it is quoted
    # Then it is named by its type instead of crashing
    assert quote(value) == "an array"


def test_a_long_list_shows_its_first_items_and_counts_the_rest() -> None:
    # Given 20,000 names
    names = [f"key{index:05d}" for index in range(20_000)]

    # When they are listed, quoted or as names
    # Then the first MAX_QUOTED_ITEMS are shown, then how many more
    assert quote_list(names, render=shorten) == (", ".join(names[:MAX_QUOTED_ITEMS]) + " … and 19,990 more")
    assert quote_list(names[:2]) == '"key00000", "key00001"'
    assert quote_list([], empty="none") == "none"
    assert quote_list(names[:2], render=quote_name) == "'key00000', 'key00001'"


def test_aws_messages_are_bounded_and_keep_the_operation_and_code() -> None:
    # Given an AWS error whose message echoes a 100,000-character input
    error = AwsCallError("ssm:GetParametersByPath", "ValidationException", "Path " + "p" * 100_000 + " invalid")

    # Then the message keeps the operation and AWS's code, and is bounded
    assert str(error).startswith("ssm:GetParametersByPath failed: ValidationException: Path ppp")
    assert str(error).endswith("more characters)")
    assert len(str(error)) < 600
