"""Bad input never crashes: fuzzed events and fuzzed target configs through the real deploy handler over
in-process moto. Every invocation ends in a result or a typed error with a message (InvalidEventError for an
event, a FAILED target naming the config problem), never a traceback; and every AWS call made is built from
input that passed validation: each call is recorded and checked against the rules its input must follow.

Inputs that once crashed it (times out of range, over-long ids and repository names, a list for
assignPublicIp) have tests of their own at the end.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import event as label
from hypothesis import strategies as st
from moto import mock_aws

from pushdeploy import wiring
from pushdeploy.domain.config import TargetConfig, parse_target_config
from pushdeploy.domain.errors import ConfigError, DeployError, InvalidEventError
from pushdeploy.events import IgnoredEvent, parse_deploy_event
from pushdeploy.usecases.deploy import DeployIncompleteError
from tests.helpers import EVENTS, LambdaContext, load_event, load_function
from tools.sample_world import (
    CONFIG_PREFIX,
    PROD_CONFIG,
    STAGING_CONFIG,
    World,
    create_deploy_table,
    put_target_config,
    seed_world,
)

Call = tuple[str, str, dict[str, Any]]  # service, operation, parameters
Outcome = dict[str, Any] | BaseException

# Refused and ignored events end without an application metric, and powertools warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SAMPLES = {path.name: load_event(path.name) for path in sorted(EVENTS.glob("*.json"))}
SAMPLE_PUSH = SAMPLES["ecr-push.json"]
STAGING_PARAMETER = f"{CONFIG_PREFIX}/api/staging"
ACCOUNT = "123456789012"  # the account of the deploy function (LambdaContext's invoked_function_arn)
BASE_TIME = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The rules an AWS call's input must follow: AWS's own (an ECR repository name has 2-256 characters, an SSM
# path at most 2048, a DynamoDB sort key at most 1024 bytes) and pushdeploy's (domain/config.py, events.py).
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
ECS_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:(cluster|service)/[A-Za-z0-9_/-]{1,512}")
FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")
TASK_DEFINITION_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:\d+")
REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
PARAMETER_NAME = re.compile(r"/?[A-Za-z0-9_.\-/]{1,2048}")
FAILED_CODES = {"config", "service", "task-definition", "missing-secret", "out-of-scope"}


# --- the world, with every AWS call recorded -----------------------------------------------------------


@dataclass
class Fuzz:
    """The sample world in in-process moto, the deploy handler, and the AWS calls of the last delivery."""

    session: boto3.Session
    world: World
    table: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dynamodb = self.session.client("dynamodb")

    def forget(self) -> None:
        """An empty deploy table: no ledger state, claim or event result left by an earlier example."""
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table, ProjectionExpression="pk, sk"):
            for item in page["Items"]:
                self.dynamodb.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})

    def deliver(self, event: Any) -> Outcome:
        """The handler's result, or what it raised; the AWS calls it made are in ``calls``."""
        assert self.handler is not None
        self.calls.clear()
        try:
            return self.handler(copy.deepcopy(event), LambdaContext())
        except Exception as exc:  # what it raised is what the tests judge
            return exc


@pytest.fixture(scope="module")
def sample_world() -> Iterator[Fuzz]:
    """The sample world, seeded once for the module (the tests put back what they change)."""
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with patch.dict(os.environ, {**credentials, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}), mock_aws():
        session = boto3.Session(region_name="us-east-1")
        world = seed_world(session)
        yield Fuzz(session, world, create_deploy_table(session))


@pytest.fixture
def fuzz(sample_world: Fuzz, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fuzz]:
    """The sample world with its target configs as seeded and an empty deploy table; the handler wired to it,
    every AWS call recorded."""
    fuzzed = sample_world
    put_target_config(fuzzed.session, "api", "staging", STAGING_CONFIG)
    put_target_config(fuzzed.session, "api", "prod", PROD_CONFIG)
    fuzzed.forget()
    monkeypatch.setenv("TOPIC_ARN", fuzzed.world.topic_arn)
    monkeypatch.setenv("TABLE_NAME", fuzzed.table)
    monkeypatch.setenv("CONFIG_PREFIX", CONFIG_PREFIX)
    monkeypatch.setenv("CONFIG_CACHE_SECONDS", "0")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")  # refusals are logged as errors, by design
    # A claim left behind would make the next push wait 45 s for it: give up after a second instead.
    wiring.reset(wiring.Seams(busy_wait_seconds=1, sleep=lambda seconds: time.sleep(0.01)))
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    fuzzed.handler = load_function("deploy").handler
    original = vars(BaseClient)["_make_api_call"]  # not in botocore-stubs

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        fuzzed.calls.append((client.meta.service_model.service_name, operation, params))
        return original(client, operation, params)

    with patch.object(BaseClient, "_make_api_call", record):
        yield fuzzed
    wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


# --- what every AWS call may carry ---------------------------------------------------------------------


def assert_calls_built_from_checked_input(calls: list[Call]) -> None:
    """Each recorded call's identifiers follow the rules their source was validated against."""
    for service, operation, params in calls:
        where = f"{service}:{operation} {json.dumps(params, default=str)[:300]}"
        if service == "ecs":
            if "cluster" in params:
                assert _ecs_identifier(params["cluster"]), f"cluster not a name or ECS ARN: {where}"
            for name in [params.get("service"), params.get("serviceName"), *params.get("services", [])]:
                if name is not None:
                    assert _ecs_identifier(name), f"service not a name or ECS ARN: {where}"
            if "family" in params:
                assert FAMILY.fullmatch(params["family"]), where
            if operation in {"DescribeTaskDefinition", "UpdateService", "CreateService"} and "taskDefinition" in params:
                value = params["taskDefinition"]
                assert FAMILY.fullmatch(value) or TASK_DEFINITION_ARN.fullmatch(value), where
        if (service, operation) == ("ssm", "GetParametersByPath"):
            repository = params["Path"].removeprefix(f"{CONFIG_PREFIX}/")
            assert params["Path"].startswith(f"{CONFIG_PREFIX}/"), where
            assert REPOSITORY.fullmatch(repository) and 2 <= len(repository) <= 256, where
        if (service, operation) == ("ssm", "DescribeParameters"):
            for parameter_filter in params["ParameterFilters"]:
                assert all(PARAMETER_NAME.fullmatch(value) for value in parameter_filter["Values"]), where
        if (service, operation) == ("ecr", "DescribeImages"):
            assert REPOSITORY.fullmatch(params["repositoryName"]) and len(params["repositoryName"]) <= 256, where
            assert all(TAG.fullmatch(image["imageTag"]) for image in params["imageIds"]), where
        if service == "dynamodb":
            for name, value in _dynamodb_keys(params):
                limit = 2048 if name == "pk" else 1024  # partition key, sort key
                assert len(value.encode()) <= limit, f"a DynamoDB {name} over {limit} bytes: {where}"


def _ecs_identifier(value: Any) -> bool:
    return isinstance(value, str) and bool(ECS_NAME.fullmatch(value) or ECS_ARN.fullmatch(value))


def _dynamodb_keys(params: dict[str, Any]) -> list[tuple[str, str]]:
    """The pk and sk strings of every item a DynamoDB request reads or writes."""
    found: list[tuple[str, str]] = []
    items = [params.get("Key"), params.get("Item")]
    for transact in params.get("TransactItems", []):
        for action in transact.values():
            items += [action.get("Key"), action.get("Item")]
    for item in items:
        for name in ("pk", "sk"):
            if item and name in item and "S" in item[name]:
                found.append((name, item[name]["S"]))
    return found


def kind(outcome: Outcome) -> str:
    """The outcome in a word or two, for hypothesis' statistics (pytest --hypothesis-show-statistics)."""
    if isinstance(outcome, BaseException):
        failed = re.search(r"(\w+:\w+) failed: (\w+)", str(outcome))
        return " ".join([type(outcome).__name__, *(failed.groups() if failed else ())])
    codes = sorted(
        {f"{r['status']}/{r.get('code', '-')}" for r in outcome.get("targets", []) if r["target"] == "staging"}
    )
    return " ".join([str(outcome.get("status", "result")), *codes])


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, BaseException):
        return "".join(traceback.format_exception(outcome))[-3000:]
    return json.dumps(outcome, default=str)[:1000]


# --- (1) fuzzed events ---------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
known_words = st.sampled_from(
    [
        "",
        "aws.ecr",
        "aws.ecs",
        "ECR Image Action",
        "PUSH",
        "DELETE",
        "SUCCESS",
        "FAILURE",
        "api",
        "team/api",
        "staging-42",
        "build-42",
        "v1.4.2",
        "latest",
        "staging",
        "prod",
        "deploy",
        "rollback",
        "history",
        "123456789012",
        "us-east-1",
        "cn-north-1",
        "2026-11-20T10:15:30Z",
        "sha256:" + "4f" * 32,
        "sha256:" + "4F" * 32,
        "../../etc/passwd",
        "staging-42\n",
        "ステージング",
    ]
)
# Huge strings hit every field but 'id' (an over-long id: test_an_event_id_too_long_for_a_ledger_key...);
# none is a valid repository name (over-long: test_a_repository_name_longer_than_ecr_allows...).
huge_strings = st.sampled_from(["Ä" * 100_000, "A" * 5_000, "\U0001f600" * 2_000, "a b" * 3_000, "-" * 300])
# Any offset, but years 1900-2200: an out-of-range time is test_an_event_time_out_of_range...'s subject.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
event_times = st.builds(
    lambda moment, zone, zulu: (
        moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if zulu else moment.replace(tzinfo=zone).isoformat()
    ),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)),
    offsets,
    st.booleans(),
)
past_event_times = st.builds(
    lambda moment: moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2026, 11, 30)),
)
EVENT_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "repository",
    "tag",
    "targets",
    "action",
    "target",
    "limit",
    "dryRun",
    "requestedBy",
)
DETAIL_KEYS = ("result", "repository-name", "image-digest", "action-type", "image-tag", "manifest-media-type")


def event_values(key: str) -> st.SearchStrategy[Any]:
    """Values for an event field: anything JSON, words pushdeploy knows, huge strings, times for 'time'."""
    choices = [json_values, known_words, st.lists(known_words, max_size=3)]
    if key != "id":
        choices.append(huge_strings)
    if key == "time":
        choices.append(event_times)
    if key in {"image-digest", "image-tag", "tag", "repository-name", "repository"}:
        choices.append(st.from_regex(r"sha256:[0-9a-f]{64}|[a-z0-9]{1,20}(/[a-z0-9]{1,8})?|[A-Za-z0-9_.-]{1,40}"))
    return st.one_of(choices)


@st.composite
def mutated_samples(draw: st.DrawFn) -> dict[str, Any]:
    """A sample event (from events/) with fields dropped, replaced by other types, huge or odd values."""
    event = copy.deepcopy(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    for _ in range(draw(st.integers(1, 4))):
        detail = event.get("detail")
        inside = isinstance(detail, dict) and draw(st.booleans())
        target: dict[str, Any] = detail if inside and isinstance(detail, dict) else event
        key = draw(st.sampled_from(sorted(set(target) | set(DETAIL_KEYS if inside else EVENT_KEYS))))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(event_values(key))
    return event


@st.composite
def valid_pushes(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed push of any tag, digest and past time (1900 to ten days after the sample), maybe a dry
    run: these deploy, skip as stale or duplicate, or refresh the ledger, with times and tags no sample has.
    (A time ahead of the function's clock is refused: test_a_push_from_the_future_is_refused...)"""
    event = copy.deepcopy(SAMPLE_PUSH)
    event["id"] = str(draw(st.uuids()))
    event["time"] = draw(past_event_times)
    event["detail"]["image-tag"] = draw(st.sampled_from(["staging-", "build-", "v", "x"])) + draw(
        st.from_regex(r"[A-Za-z0-9_.-]{0,20}", fullmatch=True)
    )
    event["detail"]["image-digest"] = "sha256:" + draw(st.sampled_from(["4f" * 32, "0" * 64, "a1" * 32, "b2" * 32]))
    if draw(st.booleans()):
        event["dryRun"] = True
    return event


events = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(EVENT_KEYS), st.one_of(json_values, known_words, event_times), max_size=6),
    mutated_samples(),
    mutated_samples(),
    valid_pushes(),
    valid_pushes(),
)


@FUZZ_SETTINGS
@given(event=events)
def test_any_event_ends_in_a_result_or_an_invalid_event_error_and_calls_aws_only_with_checked_input(
    fuzz: Fuzz, event: Any
) -> None:
    # Given the sample world, where staging runs the sample push (2026-11-20T10:15:30Z) as its ledger says
    fuzz.forget()
    assert not isinstance(fuzz.deliver(SAMPLE_PUSH), BaseException)

    # When the event is delivered to the deploy handler
    outcome = fuzz.deliver(event)
    label(kind(outcome))

    # Then it ends in a result, or an InvalidEventError with a message; a well-formed request (a push, a
    # manual deploy, rollback or history) may also fail as a DeployError the world explains (no such tag,
    # nothing to roll back, a retryable AWS failure). Never another exception.
    try:
        request = parse_deploy_event(copy.deepcopy(event), "fuzz", trusted_account=ACCOUNT, now=time.time())
    except InvalidEventError:
        request = None
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, DeployError), describe(outcome)
        assert str(outcome).strip(), describe(outcome)
        if not isinstance(outcome, InvalidEventError):
            assert request is not None and not isinstance(request, IgnoredEvent), describe(outcome)
    else:
        assert isinstance(outcome, dict), describe(outcome)
        if request is None:
            pytest.fail(f"an event the parser refuses was handled: {describe(outcome)}")
    # And every AWS call it made was built from checked input
    assert_calls_built_from_checked_input(fuzz.calls)


# --- (2) fuzzed target configs -------------------------------------------------------------------------

identifiers = st.one_of(
    st.sampled_from(
        [
            "staging",
            "prod",
            "api",
            "nope",
            "",
            " ",
            "a" * 256,
            "arn:aws:ecs:us-east-1:123456789012:cluster/staging",
            "arn:aws:ecs:us-east-1:123456789012:service/staging/api",
            "arn:aws:ecs:us-east-1:123456789012:cluster/",
            "arn:aws:ecs:us-east-1:12345678901:cluster/staging",
            "staging/../prod",
            "stäging",
        ]
    ),
    st.text(alphabet="abcAZ09_-/:. é*", max_size=24),
)
parameter_references = st.one_of(
    st.sampled_from(
        [
            "/api/staging/DATABASE_URL",
            "api/staging/DATABASE_URL",
            "DATABASE_URL",
            "/api/missing",
            "arn:aws:ssm:us-east-1:123456789012:parameter/api/staging/DATABASE_URL",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::",
            "arn:aws:s3:::bucket",
            "//",
            "/",
            "",
        ]
    ),
    st.text(alphabet="abc/_.-:é ", max_size=20),
)
config_values = st.one_of(json_values, identifiers, st.lists(identifiers, max_size=3))
VALID_CREATE: dict[str, Any] = {
    "taskDefinition": "api-staging",
    "desiredCount": 1,
    "launchType": "FARGATE",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}},
}
# Paths into a config (with a create block) and what may be put there.
CONFIG_PATHS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    (("cluster",), identifiers),
    (("service",), identifiers),
    (("tags",), st.lists(st.sampled_from(["staging-*", "*", "", "v*", "[", "staging-42"]), max_size=3)),
    (("containers",), st.lists(st.sampled_from(["api", "db", "nope", ""]), max_size=3)),
    (
        ("secrets",),
        st.dictionaries(st.sampled_from(["DATABASE_URL", "A", "1X", "", "LOG_LEVEL"]), parameter_references),
    ),
    (("secrets", "DATABASE_URL"), parameter_references),
    (("secretsPath",), parameter_references),
    (("environment",), st.dictionaries(st.text(max_size=8), json_scalars, max_size=3)),
    (("environment", "LOG_LEVEL"), json_scalars),
    (("slackWebhook",), identifiers),
    (("create",), json_values),
    (("create", "taskDefinition"), identifiers),
    (("create", "desiredCount"), json_scalars),
    (("create", "launchType"), st.sampled_from(["FARGATE", "EC2", "EXTERNAL", "fargate", ""])),
    (("create", "platformVersion"), json_scalars),
    (("create", "circuitBreaker"), json_scalars),
    (("create", "loadBalancers"), json_values),
    (("create", "capacityProviderStrategy"), json_values),
    (("create", "networkConfiguration"), json_values),
    (("create", "networkConfiguration", "awsvpcConfiguration", "subnets"), json_values),
    # Hashable values only: a list or an object is test_a_create_block_with_a_list_for_assign_public_ip...
    (("create", "networkConfiguration", "awsvpcConfiguration", "assignPublicIp"), json_scalars),
    (("unknownField",), json_values),
    (("tag",), json_values),
]


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The sample staging config, maybe with a create block (used when its service is missing), changed at
    one to three places: a field dropped, or set to another value or type."""
    config = copy.deepcopy(STAGING_CONFIG)
    if draw(st.booleans()):
        config["create"] = copy.deepcopy(VALID_CREATE)
        if draw(st.booleans()):
            config["service"] = "api-new"
    for _ in range(draw(st.integers(1, 3))):
        path, values = draw(st.sampled_from(CONFIG_PATHS))
        parent: Any = config
        for key in path[:-1]:
            if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
                break
            parent = parent[key]
        else:
            if draw(st.booleans()) and path[-1] in parent:
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(values)
    return config


config_texts = st.one_of(
    mutated_configs().map(json.dumps),
    mutated_configs().map(json.dumps),
    json_values.map(json.dumps),
    st.text(min_size=1, max_size=200),
    st.sampled_from(['{"cluster":', "AQICAHh" + "x" * 40, "[]", "null", "1e999999", "[" * 5000, '{"a": 1}']),
)


@FUZZ_SETTINGS
@given(raw=config_texts, number=st.integers(0, 10**9))
def test_any_target_config_fails_its_target_with_a_clear_reason_or_deploys_never_a_traceback(
    fuzz: Fuzz, raw: str, number: int
) -> None:
    # Given the staging target's config holds the fuzzed text, and the ledger knows nothing yet
    try:
        put_target_config(fuzz.session, "api", "staging", raw)
    except ClientError:
        reject()  # Parameter Store refuses the value itself (too long, blank): no config to read
    fuzz.forget()
    config: TargetConfig | None = None
    parse_error: ConfigError | None = None
    try:
        config = parse_target_config(STAGING_PARAMETER, raw)
    except ConfigError as exc:
        parse_error = exc

    # When an image is pushed as staging-42 (a new digest, so a valid config deploys it)
    event = copy.deepcopy(SAMPLE_PUSH)
    event["id"] = f"fuzz-config-{number}"
    event["detail"]["image-digest"] = f"sha256:{number:064x}"
    outcome = fuzz.deliver(event)
    label(kind(outcome))

    # Then the invocation ends in a result, or (when an AWS call refused what the config asked for) in a
    # DeployIncompleteError naming the target and the call; never another exception
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, DeployIncompleteError), describe(outcome)
        assert re.search(r"staging: .*failed: ", str(outcome)), describe(outcome)
        assert parse_error is None, describe(outcome)
    else:
        [staging] = [report for report in outcome["targets"] if report["target"] == "staging"]
        if parse_error is not None:
            # And a config that does not pass validation fails its target with the parser's reason, naming
            # the parameter
            assert (staging["status"], staging["code"]) == ("FAILED", "config"), describe(outcome)
            assert staging["reason"] == str(parse_error)
            assert staging["reason"].startswith(f"target config {STAGING_PARAMETER}: ")
        elif staging["status"] == "FAILED":
            # And a valid config the world cannot serve fails with a reason of its own kind
            assert staging["code"] in FAILED_CODES, describe(outcome)
            assert staging["reason"].strip()
            if staging["code"] == "config":
                assert staging["reason"].startswith(f"target config {STAGING_PARAMETER}: ")
        else:
            assert staging["status"] in {"DEPLOYING", "SKIPPED"}, describe(outcome)
        assert [report["target"] for report in outcome["targets"]] == ["prod", "staging"]
        if staging["status"] == "FAILED":
            # And a failed target was announced
            published = [params for service, op, params in fuzz.calls if (service, op) == ("sns", "Publish")]
            statuses = [params["MessageAttributes"]["status"]["StringValue"] for params in published]
            assert "FAILED" in statuses, describe(outcome)

    # And no ECS call (nor secret lookup) was made from a config that does not validate; the ones made from a
    # valid config name its cluster and service, exactly
    ecs_calls = [(op, params) for service, op, params in fuzz.calls if service == "ecs"]
    secret_lookups = [op for service, op, _ in fuzz.calls if (service, op) == ("ssm", "DescribeParameters")]
    if config is None:
        assert ecs_calls == [] and secret_lookups == []
    else:
        for op, params in ecs_calls:
            if "cluster" in params:
                assert params["cluster"] == config.cluster, (op, params)
            named = [params.get("service"), params.get("serviceName"), *params.get("services", [])]
            assert all(name in {None, config.service} for name in named), (op, params)
    assert_calls_built_from_checked_input(fuzz.calls)


# --- inputs that once crashed the handler: regression tests --------------------------------------------


def push(event_id: str, *, time_text: str | None = None, digest: str = "1" * 64, **detail: str) -> dict[str, Any]:
    """The sample push with another id, digest (and time, and detail fields)."""
    event = copy.deepcopy(SAMPLE_PUSH)
    event["id"], event["detail"]["image-digest"] = event_id, f"sha256:{digest}"
    if time_text is not None:
        event["time"] = time_text
    event["detail"].update(detail)
    return event


@pytest.mark.parametrize("time_text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"])
def test_an_event_time_out_of_range_is_refused_as_an_invalid_event(fuzz: Fuzz, time_text: str) -> None:
    # Given staging runs the sample push
    assert not isinstance(fuzz.deliver(SAMPLE_PUSH), BaseException)

    # When a push dated out of range arrives
    outcome = fuzz.deliver(push("out-of-range", time_text=time_text))

    # Then it is refused as an invalid event, naming the field
    assert isinstance(outcome, InvalidEventError), describe(outcome)
    assert "'time'" in str(outcome)
    # And the next push deploys as usual (nothing left claimed, nothing poisoned)
    after = fuzz.deliver(push("after", time_text="2026-11-21T00:00:00Z", digest="2" * 64))
    assert not isinstance(after, BaseException), describe(after)
    assert [r["status"] for r in after["targets"] if r["target"] == "staging"] == ["DEPLOYING"]


@pytest.mark.parametrize("value", [["ENABLED"], {"value": "ENABLED"}], ids=["list", "object"])
def test_a_create_block_with_a_list_for_assign_public_ip_fails_its_target_only(fuzz: Fuzz, value: Any) -> None:
    # Given the staging config's create block says assignPublicIp: ["ENABLED"]
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": value}}
    config = {**STAGING_CONFIG, "create": {**VALID_CREATE, "networkConfiguration": network}}
    put_target_config(fuzz.session, "api", "staging", config)

    # When an image is pushed
    outcome = fuzz.deliver(SAMPLE_PUSH)

    # Then staging fails, naming the field, and the invocation goes on
    assert not isinstance(outcome, BaseException), describe(outcome)
    [staging] = [report for report in outcome["targets"] if report["target"] == "staging"]
    assert (staging["status"], staging["code"]) == ("FAILED", "config")
    assert staging["reason"].startswith(f"target config {STAGING_PARAMETER}: ")
    assert "assignPublicIp" in staging["reason"]


@pytest.mark.parametrize("kind", ["push", "manual"])
def test_a_repository_name_longer_than_ecr_allows_is_an_invalid_event_before_any_call(fuzz: Fuzz, kind: str) -> None:
    # Given a push, or a manual deploy, of a repository named with 3000 characters
    repository = "a" * 3000
    event = push("long-repository", **{"repository-name": repository}) if kind == "push" else {}
    if kind == "manual":
        event = {"repository": repository, "tag": "staging-42"}

    # When it is delivered
    outcome = fuzz.deliver(event)

    # Then it is refused as invalid, and nothing was asked of AWS
    assert isinstance(outcome, InvalidEventError), describe(outcome)
    assert [(service, op) for service, op, _ in fuzz.calls if service in {"ssm", "ecr"}] == []


def test_an_event_id_too_long_for_a_ledger_key_is_refused_before_deploying(fuzz: Fuzz) -> None:
    # Given a push whose id has 2000 characters
    event = push("x" * 2000)

    # When it is delivered
    outcome = fuzz.deliver(event)

    # Then it is refused as invalid before anything is registered or updated
    assert isinstance(outcome, InvalidEventError), describe(outcome)
    assert [op for service, op, _ in fuzz.calls if service == "ecs"] == []


@pytest.mark.parametrize(
    "detail",
    [{"repository-name": 17}, {"image-tag": True}, {"image-digest": 7}],
    ids=["repository-number", "tag-true", "digest-number"],
)
def test_a_number_or_boolean_where_a_string_belongs_is_refused_before_any_call(
    fuzz: Fuzz, detail: dict[str, Any]
) -> None:
    # Given a push whose repository name is the number 17 (read as "17" it names a repository), or whose tag
    # is true (read as "True" it is a tag)
    event = copy.deepcopy(SAMPLE_PUSH)
    event["id"] = "typed-field"
    event["detail"].update(detail)

    # When it is delivered
    outcome = fuzz.deliver(event)

    # Then it is refused, naming the field, and nothing was asked of AWS
    assert isinstance(outcome, InvalidEventError), describe(outcome)
    assert f"field 'detail.{next(iter(detail))}' must be" in str(outcome)
    assert fuzz.calls == []


def test_a_push_from_the_future_is_refused_and_later_pushes_still_deploy(fuzz: Fuzz) -> None:
    # Given staging runs the sample push
    assert not isinstance(fuzz.deliver(SAMPLE_PUSH), BaseException)

    # When a push dated 2099 arrives
    outcome = fuzz.deliver(push("from-2099", time_text="2099-01-01T00:00:00Z"))

    # Then it is refused naming the field, before any AWS call
    assert isinstance(outcome, InvalidEventError), describe(outcome)
    assert str(outcome).startswith("field 'time' is '2099-01-01T00:00:00Z', more than 5 minutes ahead")
    assert fuzz.calls == []
    # And a real push made now deploys (it is not stale behind the 2099 one)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = fuzz.deliver(push("real-push", time_text=now, digest="2" * 64))
    assert not isinstance(after, BaseException), describe(after)
    assert [r["status"] for r in after["targets"] if r["target"] == "staging"] == ["DEPLOYING"]


def test_a_push_from_another_accounts_registry_is_refused_before_any_call(fuzz: Fuzz) -> None:
    # Given a push of prod's tag (prod lists its containers explicitly) from account 999999999999's registry
    event = push("other-account", **{"image-tag": "v1.4.2"})
    event["account"] = "999999999999"

    # When it is delivered to the function of account 123456789012
    outcome = fuzz.deliver(event)

    # Then it is refused naming the account, and nothing was asked of AWS (nothing deployed from there)
    assert isinstance(outcome, InvalidEventError), describe(outcome)
    assert "'account' is 999999999999" in str(outcome)
    assert fuzz.calls == []
