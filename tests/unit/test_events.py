"""Event parsing: what each event the deploy function receives asks for."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.outcome import DeploymentEvent, HookEvent, PullFailure
from pushdeploy.domain.push import ImagePush, Trigger
from pushdeploy.domain.requests import (
    ApprovalRequest,
    GateTimeoutRequest,
    HistoryRequest,
    ManualDeployRequest,
    PromoteRequest,
    RollbackRequest,
    ScanReadyEvent,
)
from pushdeploy.domain.times import parse_time
from pushdeploy.events import (
    MAX_FUTURE_SECONDS,
    DeployRequest,
    IgnoredEvent,
    parse_deploy_event,
    parse_deployment_event,
)
from tests.helpers import EVENTS, load_event

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ACCOUNT = "123456789012"
NOW = parse_time("2026-11-20T12:00:00Z")  # the function's clock: after every sample event


def parse_request(event: Any, request_id: str = "manual", *, now: float = NOW) -> DeployRequest:
    """``parse_deploy_event`` as the deploy function calls it: its own account trusted, its clock at ``now``."""
    return parse_deploy_event(event, request_id, trusted_account=ACCOUNT, now=now)


def parse_tracked(event: Any, *, now: float = NOW) -> DeploymentEvent | HookEvent | PullFailure | IgnoredEvent:
    """``parse_deployment_event`` with the tracker's clock at ``now``."""
    return parse_deployment_event(event, now=now)


def invalid(event: Any, *, now: float = NOW) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as caught:
        parse_request(event, now=now)
    assert caught.value.retryable is False
    return caught.value


def push_event(**detail: Any) -> dict[str, Any]:
    """The sample push with some detail fields replaced (None deletes one)."""
    event = copy.deepcopy(load_event("ecr-push.json"))
    for key, value in detail.items():
        if value is None:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    return event


# --- every sample ----------------------------------------------------------------------------------------


def test_every_sample_event_is_covered_here() -> None:
    # Given the sample events directory
    # When its files are listed
    names = sorted(path.name for path in EVENTS.glob("*.json"))

    # Then each one is exercised by a test in this module (add a case when adding a sample)
    assert names == sorted(
        [
            *PUSH_SAMPLES,
            *IGNORED_SAMPLES,
            "manual-deploy.json",
            "manual-deploy-targets.json",
            *ECS_SAMPLES,
            *HOOK_SAMPLES,
            *OPERATION_SAMPLES,
            *ACCOUNT_SAMPLES,
            *TASK_SAMPLES,
            *GATE_SAMPLES,
            *PULL_SAMPLES,
        ]
    )


# Pushes from a registry in another account and manual deploys naming one: tests/unit/test_accounts.py.
ACCOUNT_SAMPLES = ("ecr-push-foreign-registry.json", "manual-deploy-foreign-registry.json")
PULL_SAMPLES = (
    "ecs-task-cannot-pull.json",
)  # a service task that could not pull its image: tests/unit/test_tracker.py
TASK_SAMPLES = ("ecs-task-stopped.json", "task-timeout.json", "manual-run-task.json")  # tests/unit/test_task_events.py


PUSH_SAMPLES = {
    "ecr-push.json": ("staging-42", "sha256:" + "4f" * 32, "5c1f9d2e-8d0c-4a35-9f6c-2c8e0a1b7d11"),
    "ecr-push-prod.json": ("v1.4.2", "sha256:" + "9c" * 32, "a7d40c6b-1e55-4f3b-8c2a-90f1e6b3c2d4"),
    "ecr-push-staging-43.json": ("staging-43", "sha256:" + "5e" * 32, "7d2e4f60-3b1a-4c5d-8e9f-0a1b2c3d4e5f"),
    "ecr-push-no-match.json": ("feature-login", "sha256:" + "1d" * 32, "0b8e7f31-6a2d-4c9e-b1f4-3d7a5e2c8f90"),
    "ecr-push-second-tag.json": ("build-42", "sha256:" + "4f" * 32, "9d3e2f14-7b6a-4c58-8e01-5a2b3c4d6e7f"),
    "ecr-push-semver.json": ("v1.5.0", "sha256:" + "15" * 32, "3e9a5d1c-6b2f-4c8e-a0d7-51f4b2c9e6a3"),
    "ecr-push-semver-older.json": ("v1.4.9", "sha256:" + "49" * 32, "8c2f7e4a-1d9b-4a6c-b3e5-0f7d2a8c4b19"),
    "ecr-push-migrate.json": ("staging-43", "sha256:" + "43" * 32, "7d2e0a4c-1b3f-4e5a-9c8d-6f1e2a3b4c5d"),
}


@pytest.mark.parametrize("name", sorted(PUSH_SAMPLES))
def test_push_sample_is_an_image_push(name: str) -> None:
    # Given a successful tagged push event
    event = load_event(name)
    tag, digest, event_id = PUSH_SAMPLES[name]

    # When it is parsed
    parsed = parse_request(event, request_id="ignored-for-pushes")

    # Then it is a push of that image, from the account's registry in the event's Region
    assert parsed == ImagePush(
        repository="api",
        tag=tag,
        digest=digest,
        registry=REGISTRY,
        trigger=Trigger.PUSH,
        event_id=event_id,
        pushed_at=parse_time(event["time"]),
        targets=None,
    )
    assert isinstance(parsed, ImagePush)
    assert parsed.image_uri == f"{REGISTRY}/api@{digest}"


IGNORED_SAMPLES = {
    "ecr-push-untagged.json": "untagged push (an image index's manifest or a digest-only push)",
    "ecr-push-failure.json": "ECR push result FAILURE is not SUCCESS",
    "ecr-delete.json": "ECR action DELETE is not a push",
    "ecr-push-signature.json": f"tag sha256-{'15' * 32}.sig is a signature stored beside an image: never deployed",
}


@pytest.mark.parametrize("name", sorted(IGNORED_SAMPLES))
def test_event_that_is_not_a_deploy_is_ignored_with_a_reason(name: str) -> None:
    # Given an ECR event that asks for no deploy
    event = load_event(name)

    # When it is parsed
    parsed = parse_request(event)

    # Then it is ignored and says why
    assert parsed == IgnoredEvent(IGNORED_SAMPLES[name])
    assert parsed.as_result() == {"status": "IGNORED", "reason": IGNORED_SAMPLES[name]}


def test_manual_deploy_sample_is_a_manual_request() -> None:
    # Given the manual deploy sample
    event = load_event("manual-deploy.json")

    # When it is parsed under an invocation's request id
    parsed = parse_request(event, request_id="req-1")

    # Then it asks for that tag, to every target, under the request id
    assert parsed == ManualDeployRequest(repository="api", tag="staging-42", event_id="req-1", targets=None)


def test_manual_deploy_with_targets_names_them() -> None:
    # Given the manual deploy sample with targets
    event = load_event("manual-deploy-targets.json")

    # When it is parsed
    parsed = parse_request(event)

    # Then the targets are kept, and the default request id is "manual"
    assert parsed == ManualDeployRequest(repository="api", tag="v1.4.2", event_id="manual", targets=("prod",))


# --- variations of a push ------------------------------------------------------------------------------


def test_push_in_a_china_region_uses_the_china_registry() -> None:
    # Given a push in cn-north-1
    event = load_event("ecr-push.json")
    event["region"] = "cn-north-1"

    # When it is parsed
    parsed = parse_request(event)

    # Then the registry host ends in amazonaws.com.cn
    assert isinstance(parsed, ImagePush)
    assert parsed.registry == "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"


def test_push_to_a_namespaced_repository_is_accepted() -> None:
    # Given a push to team/api
    # When it is parsed
    parsed = parse_request(push_event(**{"repository-name": "team/api"}))

    # Then the repository keeps its namespace
    assert isinstance(parsed, ImagePush)
    assert parsed.repository == "team/api"


def test_push_without_a_tag_field_is_ignored() -> None:
    # Given a push whose detail has no image-tag at all
    # When it is parsed
    parsed = parse_request(push_event(**{"image-tag": None}))

    # Then it is ignored as untagged
    assert isinstance(parsed, IgnoredEvent)
    assert parsed.reason.startswith("untagged push")


def test_event_from_another_source_is_ignored() -> None:
    # Given an EventBridge event from another service
    event = load_event("ecr-push.json")
    event["source"] = "aws.ecs"
    event["detail-type"] = "ECS Deployment State Change"

    # When it is parsed
    # Then it is ignored
    assert parse_request(event) == IgnoredEvent("not an ECR image action: aws.ecs / ECS Deployment State Change")


def test_push_without_action_type_is_ignored_saying_none() -> None:
    # Given an ECR image action with no action type
    # When it is parsed
    # Then it is ignored, saying the action is missing
    assert parse_request(push_event(**{"action-type": None})) == IgnoredEvent("ECR action (none) is not a push")


# --- malformed events ------------------------------------------------------------------------------------


def test_push_without_detail_is_invalid() -> None:
    # Given an ECR image action without its detail
    event = load_event("ecr-push.json")
    del event["detail"]

    # When it is parsed
    # Then the error says the detail is missing
    assert str(invalid(event)) == "ECR Image Action event has no 'detail' object"


def test_push_with_a_detail_that_is_not_an_object_is_invalid() -> None:
    # Given an ECR image action whose detail is a string
    event = load_event("ecr-push.json")
    event["detail"] = "PUSH api:staging-42"

    # When it is parsed
    # Then the error says the detail is missing
    assert str(invalid(event)) == "ECR Image Action event has no 'detail' object"


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (
            {"image-digest": "sha256:xyz"},
            "field 'detail.image-digest' must be sha256:<64 hex digits>, got 'sha256:xyz'",
        ),
        ({"image-digest": "sha256:" + "A" * 64}, "field 'detail.image-digest' must be sha256:<64 hex digits>"),
        ({"image-digest": None}, "field 'detail.image-digest' must be sha256:<64 hex digits>, got missing"),
        ({"repository-name": "API"}, "field 'detail.repository-name' must be an ECR repository name, got 'API'"),
        ({"repository-name": "team//api"}, "field 'detail.repository-name' must be an ECR repository name"),
        ({"repository-name": "api/"}, "field 'detail.repository-name' must be an ECR repository name"),
        ({"repository-name": None}, "field 'detail.repository-name' must be an ECR repository name, got missing"),
        ({"image-tag": "-latest"}, "field 'detail.image-tag' must be an image tag, got '-latest'"),
        ({"image-tag": "t" * 129}, "field 'detail.image-tag' must be an image tag"),
        ({"image-tag": "v1 beta"}, "field 'detail.image-tag' must be an image tag"),
    ],
)
def test_push_with_a_bad_detail_field_is_invalid_naming_it(detail: dict[str, Any], expected: str) -> None:
    # Given a push with one bad detail field
    event = push_event(**detail)

    # When it is parsed
    # Then the error names the field and what it must be
    assert str(invalid(event)).startswith(expected)


@pytest.mark.parametrize("account", ["12345", "12345678901a", 123456789012, None])
def test_push_with_a_bad_account_is_invalid(account: Any) -> None:
    # Given a push whose account is not a 12-digit id
    event = load_event("ecr-push.json")
    event["account"] = account

    # When it is parsed
    # Then the error names the account field
    assert str(invalid(event)).startswith("ECR event field 'account' must be a 12-digit account id, got ")


@pytest.mark.parametrize("region", ["us_east_1", "US-EAST-1", "", None, "us-east"])
def test_push_with_a_bad_region_is_invalid(region: Any) -> None:
    # Given a push whose Region is not a Region name
    event = load_event("ecr-push.json")
    event["region"] = region

    # When it is parsed
    # Then the error names the region field
    assert str(invalid(event)).startswith("ECR event field 'region' must be a Region name, got ")


@pytest.mark.parametrize(
    ("event", "kind"), [([], "an array"), ("api:v1", "a string"), (None, "null"), (42, "a number"), (True, "true")]
)
def test_event_that_is_not_an_object_is_invalid(event: Any, kind: str) -> None:
    # Given an event that is not a JSON object
    # When it is parsed
    # Then the error says what it got, in JSON's words (not Python's NoneType, list, int)
    assert str(invalid(event)) == f"event must be a JSON object, got {kind}"


def test_event_that_is_neither_push_nor_manual_lists_its_keys() -> None:
    # Given an object with neither EventBridge nor manual keys
    # When it is parsed
    error = invalid({"tag": "v1", "image": "api"})

    # Then the error shows both accepted shapes and the keys it got
    assert "neither an ECR push event" in str(error)
    assert '{"repository": "api", "tag": "v1.4.2", "targets": ["prod"]}' in str(error)
    assert str(error).endswith("got keys: image, tag")


def test_empty_event_says_it_has_no_keys() -> None:
    # Given an empty object
    # When it is parsed
    # Then the error says there are no keys
    assert str(invalid({})).endswith("got keys: none")


def test_manual_deploy_with_unknown_fields_is_invalid() -> None:
    # Given a manual deploy with misspelt fields
    event = {**load_event("manual-deploy.json"), "target": "prod", "force": True}

    # When it is parsed
    # Then the error names them and the accepted ones
    assert str(invalid(event)) == (
        "manual deploy: unknown field(s) force, target; it takes repository, tag and optional targets"
    )


@pytest.mark.parametrize("targets", ["prod", [], [""], ["prod", 1], {"prod": True}, [None]])
def test_manual_deploy_with_bad_targets_is_invalid(targets: Any) -> None:
    # Given a manual deploy whose targets are not a non-empty list of names
    event = {**load_event("manual-deploy-targets.json"), "targets": targets}

    # When it is parsed
    # Then the error names the targets field
    assert str(invalid(event)) == "manual deploy: 'targets' must be a non-empty list of target names"


def test_manual_deploy_with_null_targets_means_every_target() -> None:
    # Given targets set to null
    event = {**load_event("manual-deploy-targets.json"), "targets": None}

    # When it is parsed
    parsed = parse_request(event)

    # Then every target is meant
    assert isinstance(parsed, ManualDeployRequest)
    assert parsed.targets is None


@pytest.mark.parametrize("tag", [None, ""])
def test_manual_deploy_without_a_tag_is_invalid(tag: str | None) -> None:
    # Given a manual deploy without a tag (or an empty one)
    event = load_event("manual-deploy.json")
    if tag is None:
        del event["tag"]
    else:
        event["tag"] = tag

    # When it is parsed
    # Then the error names the tag field and says it is missing
    assert str(invalid(event)) == "field 'tag' must be an image tag, e.g. \"v1.4.2\", got missing"


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [("repository", "My_Repo", "'My_Repo'"), ("repository", 7, "a number (7)"), ("tag", "v1:latest", "'v1:latest'")],
)
def test_manual_deploy_with_a_bad_value_names_the_field(field: str, value: Any, shown: str) -> None:
    # Given a manual deploy with a bad repository or tag
    event = {**load_event("manual-deploy.json"), field: value}

    # When it is parsed
    # Then the error names the field and shows the value (a non-string by its JSON type)
    assert str(invalid(event)).startswith(f"field '{field}' must be ")
    assert str(invalid(event)).endswith(f"got {shown}")


@pytest.mark.parametrize(
    "event",
    [
        {"repository": "api", "tag": "v1.4.2", "source": "cli"},
        {"source": "aws.ecr", "detail": {}},
        {"detail-type": "ECR Image Action"},
    ],
)
def test_half_an_eventbridge_envelope_is_invalid_not_a_crash(event: dict[str, Any]) -> None:
    # Given an object with "source" but no "detail-type" (or the reverse), e.g. a manual deploy with an extra field
    # When it is parsed
    # Then it is refused with InvalidEventError, not KeyError
    invalid(event)


def test_manual_tag_with_a_trailing_newline_is_invalid() -> None:
    # Given a manual deploy whose tag ends with a newline (as from `echo` or a heredoc)
    event = {**load_event("manual-deploy.json"), "tag": "staging-42\n"}

    # When it is parsed
    # Then it is refused, like any other character not allowed in a tag
    invalid(event)


# --- properties ------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
EVENT_KEYS = st.sampled_from(
    ["source", "detail-type", "detail", "account", "region", "id", "repository", "tag", "targets", "other"]
)
DETAIL_KEYS = st.sampled_from(["action-type", "result", "repository-name", "image-digest", "image-tag", "other"])


def _parses_or_raises_invalid_event(event: Any) -> None:
    try:
        parsed = parse_request(event)
    except InvalidEventError:
        return
    assert isinstance(parsed, ImagePush | ManualDeployRequest | IgnoredEvent | ScanReadyEvent)


@given(event=st.dictionaries(EVENT_KEYS | st.text(max_size=8), JSON_VALUES, max_size=6))
def test_arbitrary_object_parses_or_raises_invalid_event(event: dict[str, Any]) -> None:
    # Given any JSON object

    # When it is parsed
    # Then it is a push, a manual request or ignored, or InvalidEventError is raised; nothing else escapes
    _parses_or_raises_invalid_event(event)


@given(value=JSON_VALUES)
def test_arbitrary_json_value_parses_or_raises_invalid_event(value: Any) -> None:
    # Given any JSON value at all

    # When it is parsed
    # Then only InvalidEventError can escape
    _parses_or_raises_invalid_event(value)


@given(
    sample=st.sampled_from(["ecr-push.json", "ecr-push-untagged.json", "ecr-delete.json", "ecr-scan.json"]),
    top=st.dictionaries(EVENT_KEYS, JSON_VALUES, max_size=3),
    detail=st.dictionaries(DETAIL_KEYS, JSON_VALUES, max_size=4),
)
def test_sample_with_arbitrary_fields_parses_or_raises_invalid_event(
    sample: str, top: dict[str, Any], detail: dict[str, Any]
) -> None:
    # Given a sample ECR event with some fields, top-level or in its detail, replaced by any JSON value
    event = copy.deepcopy(load_event(sample))
    event.update(top)
    if isinstance(event.get("detail"), dict):
        event["detail"].update(detail)

    # When it is parsed
    # Then only InvalidEventError can escape
    _parses_or_raises_invalid_event(event)


@given(
    repository=JSON_VALUES | st.from_regex(r"\A[a-z0-9]+(/[a-z0-9]+)?\Z"),
    tag=JSON_VALUES | st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z"),
    targets=JSON_VALUES,
)
def test_manual_request_with_arbitrary_values_parses_or_raises_invalid_event(
    repository: Any, tag: Any, targets: Any
) -> None:
    # Given a manual request whose fields hold any JSON value
    event = {"repository": repository, "tag": tag, "targets": targets}

    # When it is parsed
    # Then only InvalidEventError can escape
    _parses_or_raises_invalid_event(event)


# --- ECS deployment events and manual operations (the outcome, rollback, history, dry run) ------------

ECS_SAMPLES = {
    "ecs-deployment-in-progress.json": (
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "ecs-svc/4937285106452937241",
        "ECS deployment ecs-svc/4937285106452937241 in progress.",
        "2026-11-20T10:15:40.512Z",
    ),
    "ecs-deployment-completed.json": (
        "SERVICE_DEPLOYMENT_COMPLETED",
        "ecs-svc/4937285106452937241",
        "ECS deployment ecs-svc/4937285106452937241 completed.",
        "2026-11-20T10:19:12.512Z",
    ),
    "ecs-deployment-failed.json": (
        "SERVICE_DEPLOYMENT_FAILED",
        "ecs-svc/4937285106452937241",
        "ECS deployment circuit breaker: task failed to start.",
        "2026-11-20T10:21:03.512Z",
    ),
    "ecs-deployment-rollback-in-progress.json": (
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "ecs-svc/8274619302846192375",
        "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1736492018364719283.",
        "2026-11-20T10:21:04.512Z",
    ),
    "ecs-deployment-rollback-completed.json": (
        "SERVICE_DEPLOYMENT_COMPLETED",
        "ecs-svc/8274619302846192375",
        "ECS deployment ecs-svc/8274619302846192375 completed.",
        "2026-11-20T10:24:47.512Z",
    ),
}
ECS_SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/staging/api"


@pytest.mark.parametrize("name", sorted(ECS_SAMPLES))
def test_ecs_deployment_sample_is_a_deployment_event(name: str) -> None:
    # Given an ECS Deployment State Change sample
    event_name, deployment_id, reason, updated_at = ECS_SAMPLES[name]

    # When the tracker parses it
    parsed = parse_tracked(load_event(name))

    # Then it names the event, the deployment, the service, ECS's reason and when (to the millisecond)
    assert parsed == DeploymentEvent(
        event_name=event_name,
        deployment_id=deployment_id,
        service_arn=ECS_SERVICE_ARN,
        reason=reason,
        updated_at=parse_time(updated_at),
    )
    assert isinstance(parsed, DeploymentEvent)
    assert parsed.starts_a_rollback is (name == "ecs-deployment-rollback-in-progress.json")


HOOK_SAMPLES = {"ecs-hook-awaiting-action.json"}


@pytest.mark.parametrize("name", sorted(HOOK_SAMPLES))
def test_ecs_hook_sample_is_a_pause_awaiting_action(name: str) -> None:
    # Given an ECS Hook State Change sample (a PAUSE hook of a canary's deployment, HOOK_AWAITING_ACTION)
    # When the tracker parses it
    parsed = parse_tracked(load_event(name))

    # Then it names the service, the service deployment, the hook, its stage and deadline, and the deployment
    assert parsed == HookEvent(
        event_name="HOOK_AWAITING_ACTION",
        service_arn=ECS_SERVICE_ARN,
        service_deployment_arn=(
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/staging/api/Abc123xyZ_7890-aBcDeFgHiJkL"
        ),
        hook_id="post_test_traffic_shift-0-4",
        lifecycle_stage="POST_TEST_TRAFFIC_SHIFT",
        expires_at=parse_time("2026-11-20T12:16:15.512Z"),
        updated_at=parse_time("2026-11-20T10:16:15.512Z"),
        deployment_id="ecs-svc/4937285106452937241",
    )


def test_ecs_deployment_event_without_updated_at_takes_the_event_time() -> None:
    # Given a deployment event without detail.updatedAt
    event = copy.deepcopy(load_event("ecs-deployment-completed.json"))
    del event["detail"]["updatedAt"]

    # When it is parsed
    parsed = parse_tracked(event)

    # Then the event's own time is used
    assert isinstance(parsed, DeploymentEvent)
    assert parsed.updated_at == parse_time(event["time"])


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ecr-push.json", "not an ECS deployment state change: aws.ecr / ECR Image Action"),
        ("ecr-scan.json", "not an ECS deployment state change: aws.ecr / ECR Image Scan"),
    ],
)
def test_other_eventbridge_events_are_ignored_by_the_tracker(name: str, reason: str) -> None:
    # Given an EventBridge event that is not an ECS deployment state change
    # When the tracker parses it
    # Then it is ignored, saying what it was
    assert parse_tracked(load_event(name)) == IgnoredEvent(reason)


def test_ecs_service_action_is_ignored_by_the_tracker() -> None:
    # Given an ECS event of another detail-type
    event = {**load_event("ecs-deployment-completed.json"), "detail-type": "ECS Service Action"}

    # When the tracker parses it
    # Then it is ignored
    assert parse_tracked(event) == IgnoredEvent("not an ECS deployment state change: aws.ecs / ECS Service Action")


def deployment_event(**detail: Any) -> dict[str, Any]:
    """The completed sample with some detail fields replaced (None deletes one)."""
    event = copy.deepcopy(load_event("ecs-deployment-completed.json"))
    for key, value in detail.items():
        if value is None:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param([], "the tracker takes EventBridge 'ECS Deployment State Change' events", id="not-an-object"),
        pytest.param(
            load_event("manual-rollback.json"),
            "the tracker takes EventBridge 'ECS Deployment State Change' events",
            id="manual-request",
        ),
        pytest.param(
            {"source": "aws.ecs", "detail": {}},
            "the tracker takes EventBridge 'ECS Deployment State Change' events",
            id="no-detail-type",
        ),
        pytest.param(
            {**load_event("ecs-deployment-completed.json"), "detail": "completed"},
            "ECS Deployment State Change event has no 'detail' object",
            id="detail-not-an-object",
        ),
        pytest.param(
            deployment_event(deploymentId=None),
            "field 'detail.deploymentId' must be ecs-svc/<number>, got missing",
            id="no-deployment-id",
        ),
        pytest.param(
            deployment_event(deploymentId="ecs-svc/abc"),
            "field 'detail.deploymentId' must be ecs-svc/<number>, got 'ecs-svc/abc'",
            id="bad-deployment-id",
        ),
        pytest.param(
            deployment_event(deploymentId=4937285106452937241),
            "field 'detail.deploymentId' must be ecs-svc/<number>",
            id="numeric-deployment-id",
        ),
        pytest.param(deployment_event(eventName=None), "field 'detail.eventName' is missing", id="no-event-name"),
        pytest.param(deployment_event(eventName=7), "field 'detail.eventName' is missing", id="event-name-not-text"),
        pytest.param(
            {**load_event("ecs-deployment-completed.json"), "resources": []},
            "field 'resources' must hold the service ARN",
            id="no-resources",
        ),
        pytest.param(
            {**load_event("ecs-deployment-completed.json"), "resources": "arn:aws:ecs:::service/staging/api"},
            "field 'resources' must hold the service ARN",
            id="resources-not-a-list",
        ),
        pytest.param(
            {**load_event("ecs-deployment-completed.json"), "resources": [None]},
            "field 'resources' must hold the service ARN",
            id="resource-not-text",
        ),
        pytest.param(
            deployment_event(updatedAt="last tuesday"),
            "field 'detail.updatedAt' must be an ISO 8601 time",
            id="bad-updated-at",
        ),
    ],
)
def test_malformed_deployment_event_is_invalid_naming_the_field(event: Any, message: str) -> None:
    # Given a deployment event (or something sent to the tracker) that is malformed
    # When the tracker parses it
    with pytest.raises(InvalidEventError) as caught:
        parse_tracked(event)

    # Then the error names the problem, and is not retryable
    assert str(caught.value).startswith(message)
    assert caught.value.retryable is False


@given(
    top=st.dictionaries(
        st.sampled_from(["source", "detail-type", "detail", "resources", "time", "other"]), JSON_VALUES
    ),
    detail=st.dictionaries(
        st.sampled_from(["eventName", "deploymentId", "updatedAt", "reason", "eventType"]), JSON_VALUES
    ),
)
def test_deployment_event_with_arbitrary_fields_parses_or_raises_invalid_event(
    top: dict[str, Any], detail: dict[str, Any]
) -> None:
    # Given a deployment sample with some fields replaced by any JSON value
    event = copy.deepcopy(load_event("ecs-deployment-failed.json"))
    event.update(top)
    if isinstance(event.get("detail"), dict):
        event["detail"].update(detail)

    # When the tracker parses it
    # Then it is a deployment event or ignored, or InvalidEventError is raised; nothing else escapes
    try:
        parsed = parse_tracked(event)
    except InvalidEventError:
        return
    assert isinstance(parsed, DeploymentEvent | IgnoredEvent)


def test_manual_rollback_sample_is_a_rollback_request() -> None:
    # Given the manual rollback sample
    # When it is parsed under an invocation's request id
    parsed = parse_request(load_event("manual-rollback.json"), request_id="req-1")

    # Then it asks to roll prod back, under the request id, for real
    assert parsed == RollbackRequest(repository="api", target="prod", event_id="req-1", dry_run=False)


def test_manual_history_sample_is_a_history_request() -> None:
    # Given the manual history sample
    # When it is parsed
    parsed = parse_request(load_event("manual-history.json"))

    # Then it asks for prod's 20 most recent deploys
    assert parsed == HistoryRequest(repository="api", target="prod", limit=20)


def test_manual_deploy_dry_run_sample_is_a_dry_run() -> None:
    # Given the manual dry-run sample
    # When it is parsed
    parsed = parse_request(load_event("manual-deploy-dry-run.json"), request_id="req-1")

    # Then it plans v1.4.2 to prod only
    assert parsed == ManualDeployRequest(
        repository="api", tag="v1.4.2", event_id="req-1", targets=("prod",), dry_run=True
    )


def test_push_dry_run_sample_is_a_push_to_plan() -> None:
    # Given a push copied from the logs with "dryRun": true
    event = load_event("ecr-push-dry-run.json")

    # When it is parsed
    parsed = parse_request(event)

    # Then it is the same push as the sample push, marked as a dry run
    real = parse_request(load_event("ecr-push.json"))
    assert isinstance(parsed, ImagePush)
    assert isinstance(real, ImagePush)
    assert parsed.dry_run is True
    assert real.dry_run is False
    assert replace(parsed, dry_run=False) == real


def test_dry_run_rollback_is_a_rollback_to_plan() -> None:
    # Given the rollback sample with "dryRun": true
    # When it is parsed
    parsed = parse_request({**load_event("manual-rollback.json"), "dryRun": True}, request_id="req-1")

    # Then it only plans the rollback
    assert parsed == RollbackRequest(repository="api", target="prod", event_id="req-1", dry_run=True)


def test_dry_run_of_an_event_that_is_not_a_deploy_is_still_ignored() -> None:
    # Given an ECR delete event with "dryRun": true
    # When it is parsed
    # Then it is ignored as before
    assert parse_request({**load_event("ecr-delete.json"), "dryRun": True}) == IgnoredEvent(
        "ECR action DELETE is not a push"
    )


@pytest.mark.parametrize("sample", ["ecr-push.json", "manual-deploy.json", "manual-rollback.json"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("true", "'true'"),
        (1, "a number (1)"),
        (0, "a number (0)"),
        (None, "null"),
        ([], "an array ([])"),
        ({}, "an object ({})"),
    ],
)
def test_dry_run_that_is_not_a_boolean_is_invalid(sample: str, value: Any, shown: str) -> None:
    # Given a request whose "dryRun" is not true or false
    event = {**load_event(sample), "dryRun": value}

    # When it is parsed
    # Then it is refused, showing the value in JSON's words
    assert str(invalid(event)) == f"'dryRun' must be true or false, got {shown}"


def test_dry_run_of_history_is_invalid() -> None:
    # Given the history sample with "dryRun": true
    # When it is parsed
    # Then it is refused: history only reads
    assert str(invalid({**load_event("manual-history.json"), "dryRun": True})) == (
        "manual history: it only reads; 'dryRun' does not apply"
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param(
            {"action": "undo", "repository": "api", "target": "prod"},
            "unknown action 'undo'; use one of: deploy, rollback, history",
            id="unknown-action",
        ),
        pytest.param(
            {"action": "rollback", "repository": "api"},
            "field 'target' must be a target name, got missing",
            id="rollback-without-target",
        ),
        pytest.param(
            {"action": "rollback", "repository": "api", "target": "prod", "tag": "v1.4.1"},
            "manual rollback: unknown field(s) tag; it takes repository and target",
            id="rollback-with-a-tag",
        ),
        pytest.param(
            {"action": "history", "repository": "api", "target": "prod", "limit": 0},
            "manual history: 'limit' must be a whole number from 1 to 100",
            id="history-limit-zero",
        ),
        pytest.param(
            {"action": "history", "repository": "api", "target": "prod", "limit": 101},
            "manual history: 'limit' must be a whole number from 1 to 100",
            id="history-limit-too-big",
        ),
        pytest.param(
            {"action": "history", "repository": "api", "target": "prod", "limit": True},
            "manual history: 'limit' must be a whole number from 1 to 100",
            id="history-limit-boolean",
        ),
        pytest.param(
            {"action": "history", "repository": "api", "target": "prod/eu"},
            "field 'target' must be a target name, got 'prod/eu'",
            id="history-target-with-a-slash",
        ),
    ],
)
def test_malformed_manual_operation_is_invalid(event: dict[str, Any], message: str) -> None:
    # Given a rollback or history request that is malformed
    # When it is parsed
    # Then it is refused, naming the problem
    assert str(invalid(event)).startswith(message)


OPERATION_SAMPLES = {
    "manual-rollback.json",
    "manual-history.json",
    "manual-deploy-dry-run.json",
    "ecr-push-dry-run.json",
    "manual-approve.json",
    "manual-reject.json",
}


@pytest.mark.parametrize(("name", "decision"), [("manual-approve.json", "approve"), ("manual-reject.json", "reject")])
def test_an_approval_sample_is_an_approval_request_naming_who_decides(name: str, decision: str) -> None:
    # Given the console's approve or reject sample
    # When the deploy function parses it
    parsed = parse_request(load_event(name))

    # Then it answers the pause of api's prod target, naming who decided
    assert isinstance(parsed, ApprovalRequest)
    assert (parsed.repository, parsed.target, parsed.decision) == ("api", "prod", decision)
    assert parsed.requested_by


# --- a number or a boolean where a string belongs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "field", "shown"),
    [
        pytest.param({"repository-name": 17}, "detail.repository-name", "a number (17)", id="repository-number"),
        pytest.param({"image-tag": True}, "detail.image-tag", "true", id="tag-true"),
        pytest.param({"image-tag": 42}, "detail.image-tag", "a number (42)", id="tag-number"),
        pytest.param({"image-tag": False}, "detail.image-tag", "false", id="tag-false"),
        pytest.param({"image-digest": ["sha256:" + "4f" * 32]}, "detail.image-digest", "an array", id="digest-array"),
        pytest.param({"action-type": True}, "detail.action-type", "true", id="action-true"),
        pytest.param({"result": 1}, "detail.result", "a number (1)", id="result-number"),
    ],
)
def test_push_with_a_number_or_boolean_where_a_string_belongs_is_refused_naming_the_field(
    detail: dict[str, Any], field: str, shown: str
) -> None:
    # Given the sample push with a JSON number, boolean or array in a string field (17 is a valid repository
    # name once written "17"; true would be the tag "True")
    event = push_event(**detail)

    # When it is parsed
    error = invalid(event)

    # Then it is refused, naming the field and what it got in JSON's words, never coerced to a string
    assert f"field '{field}' must be" in str(error)
    assert f"got {shown}" in str(error)


@pytest.mark.parametrize("field", ["source", "detail-type"])
def test_eventbridge_envelope_with_a_number_for_its_source_or_type_is_refused(field: str) -> None:
    # Given the sample push whose source or detail-type is a number
    event = {**load_event("ecr-push.json"), field: 17}

    # When it is parsed
    # Then it is refused naming the field (not ignored as an event "from 17")
    assert str(invalid(event)) == f"field '{field}' must be a string, got a number (17)"


def test_push_with_a_null_tag_is_untagged() -> None:
    # Given a push whose image-tag is null
    event = load_event("ecr-push.json")
    event["detail"]["image-tag"] = None

    # When it is parsed
    parsed = parse_request(event)

    # Then it is ignored as untagged, like an absent or empty tag (null is no number or boolean to refuse)
    assert isinstance(parsed, IgnoredEvent)
    assert parsed.reason.startswith("untagged push")


def test_deployment_event_with_a_number_for_its_reason_is_refused() -> None:
    # Given a deployment event whose reason is a number
    # When the tracker parses it
    with pytest.raises(InvalidEventError) as caught:
        parse_tracked(deployment_event(reason=5))

    # Then it is refused naming the field
    assert str(caught.value) == "field 'detail.reason' must be a string, got a number (5)"


# --- event times ahead of the function's clock -----------------------------------------------------------


def test_push_dated_far_in_the_future_is_refused_naming_the_time() -> None:
    # Given a push dated 2099 (it would be the newest push of its targets, making every real push stale)
    event = {**load_event("ecr-push.json"), "time": "2099-01-01T00:00:00Z"}

    # When it is parsed on a function whose clock says 2026-11-20
    error = invalid(event)

    # Then it is refused, naming the field and the tolerance
    assert str(error) == (
        "field 'time' is '2099-01-01T00:00:00Z', more than 5 minutes ahead of this function's clock: "
        "an event from the future is refused (it would make every later push stale)"
    )
    assert MAX_FUTURE_SECONDS == 300


@pytest.mark.parametrize(
    ("ahead", "accepted"), [(0, True), (MAX_FUTURE_SECONDS, True), (MAX_FUTURE_SECONDS + 1, False)]
)
def test_push_a_little_ahead_of_the_clock_is_accepted_up_to_the_tolerance(ahead: int, accepted: bool) -> None:
    # Given the sample push, and a function clock `ahead` seconds behind its time (clock skew)
    event = load_event("ecr-push.json")
    now = parse_time(event["time"]) - ahead

    # When it is parsed at that clock
    # Then it is a push up to MAX_FUTURE_SECONDS ahead, refused beyond
    if accepted:
        assert isinstance(parse_request(event, now=now), ImagePush)
    else:
        assert str(invalid(event, now=now)).startswith("field 'time' is '2026-11-20T10:15:30Z', more than 5 minutes")


def test_deployment_event_dated_far_in_the_future_is_refused() -> None:
    # Given a deployment event whose updatedAt is in 2099
    event = deployment_event(updatedAt="2099-01-01T00:00:00Z")

    # When the tracker parses it
    with pytest.raises(InvalidEventError) as caught:
        parse_tracked(event)

    # Then it is refused, naming the field
    assert str(caught.value).startswith("field 'detail.updatedAt' is '2099-01-01T00:00:00Z', more than 5 minutes ahead")


@pytest.mark.parametrize("value", [1_700_000_000, None, True])
def test_push_time_that_is_not_a_string_is_refused_by_its_type(value: Any) -> None:
    # Given a push whose time is a number, null or a boolean
    event = {**load_event("ecr-push.json"), "time": value}

    # When it is parsed
    # Then the error names the field and what it got (not Python's repr of a str() of it)
    assert str(invalid(event)).startswith("field 'time' must be an ISO 8601 time, got ")
    assert "None" not in str(invalid(event)) and "True" not in str(invalid(event))


# --- pushes from another account's registry --------------------------------------------------------------


def test_push_from_another_account_is_refused_naming_the_account() -> None:
    # Given a push event from account 999999999999's registry (the function runs in 123456789012)
    event = {**load_event("ecr-push.json"), "account": "999999999999"}

    # When it is parsed
    error = invalid(event)

    # Then it is refused, naming the account and the trusted one
    assert str(error) == (
        "ECR event field 'account' is 999999999999: a push from another account's registry is refused; "
        "this pushdeploy deploys images of its own account (123456789012) only"
    )


def test_push_from_the_functions_own_account_is_accepted() -> None:
    # Given the sample push from 123456789012, and a function in that account
    # When it is parsed
    parsed = parse_deploy_event(load_event("ecr-push.json"), trusted_account="123456789012", now=NOW)

    # Then it is a push from that account's registry
    assert isinstance(parsed, ImagePush)
    assert parsed.registry.startswith("123456789012.dkr.ecr.")


def test_manual_request_is_not_judged_by_account() -> None:
    # Given a manual deploy (it uses this account's ECR), parsed by a function in another account
    # When it is parsed
    parsed = parse_deploy_event(load_event("manual-deploy.json"), trusted_account="999999999999", now=NOW)

    # Then it is a manual deploy as usual
    assert isinstance(parsed, ManualDeployRequest)


# --- bounded messages ------------------------------------------------------------------------------------


def test_event_with_a_huge_key_gives_a_bounded_message() -> None:
    # Given an object whose one key is 200,000 characters long
    key = "k" * 200_000

    # When it is parsed
    error = invalid({key: 1})

    # Then the message shows the start of the key and says how much more there was
    assert len(str(error)) < 1_000
    assert "(and 199,880 more characters)" in str(error)


def test_event_with_twenty_thousand_unknown_keys_lists_ten_and_counts_the_rest() -> None:
    # Given an object with 20,000 keys, none of which pushdeploy knows
    event = {f"key{index:05d}": index for index in range(20_000)}

    # When it is parsed
    error = invalid(event)

    # Then the message lists the first ten and says how many more
    assert len(str(error)) < 1_000
    assert str(error).endswith(
        "got keys: key00000, key00001, key00002, key00003, key00004, key00005, key00006, "
        "key00007, key00008, key00009 … and 19,990 more"
    )


def test_manual_deploy_with_many_unknown_fields_gives_a_bounded_message() -> None:
    # Given a manual deploy with 20,000 unknown fields
    event = {**load_event("manual-deploy.json"), **{f"x{index}": 1 for index in range(20_000)}}

    # When it is parsed
    error = invalid(event)

    # Then the message is bounded and says how many more
    assert len(str(error)) < 1_000
    assert "… and 19,990 more; it takes repository, tag and optional targets" in str(error)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(push_event(**{"repository-name": "A" * 200_000}), id="repository"),
        pytest.param(push_event(**{"image-tag": "-" * 200_000}), id="tag"),
        pytest.param({**load_event("ecr-push.json"), "time": "2" * 200_000}, id="time"),
        pytest.param({**load_event("ecr-push.json"), "region": "x" * 200_000}, id="region"),
        pytest.param({**load_event("ecr-push.json"), "source": "s" * 200_000}, id="source"),
        pytest.param({**load_event("ecr-push.json"), "dryRun": ["x" * 200_000]}, id="dry-run"),
        pytest.param({"action": "a" * 200_000, "repository": "api"}, id="action"),
    ],
)
def test_a_huge_value_in_any_field_gives_a_bounded_message(event: dict[str, Any]) -> None:
    # Given an event with a 200,000-character value
    # When it is parsed
    try:
        outcome: Any = parse_request(event)
    except InvalidEventError as exc:
        outcome = exc

    # Then whatever it says (refused, or ignored with a reason) is bounded
    text = str(outcome.reason if isinstance(outcome, IgnoredEvent) else outcome)
    assert len(text) < 1_000, text[:300]


# --- gates and promotion: scan events, timers, an override ---------------------------------------------

DIGEST_4F = "sha256:" + "4f" * 32
GATE_SAMPLES = {
    "ecr-scan.json": ScanReadyEvent("api", DIGEST_4F, "85fc3613-e913-7fc4-a80c-a3753e4aa9ae", "ECR Image Scan"),
    "inspector2-scan.json": ScanReadyEvent("api", DIGEST_4F, "2b7f3c1e-6d4a-4f0e-9a8b-5c6d7e8f9a0b", "Inspector2 Scan"),
    "gate-timeout-timer.json": GateTimeoutRequest("api", "staging", DIGEST_4F, "manual"),
    "promote-timer.json": PromoteRequest("api", "prod", "staging", DIGEST_4F, "ecs-svc/1234567890123456789", "manual"),
    "manual-deploy-override-gates.json": ManualDeployRequest(
        repository="api",
        tag="staging-42",
        event_id="manual",
        targets=("staging",),
        requested_by="alice",
        override_gates="CVE-2026-1234 is in a test-only package; fix shipped in the next build",
    ),
}


@pytest.mark.parametrize("name", sorted(GATE_SAMPLES))
def test_gate_and_promotion_samples_parse_into_their_requests(name: str) -> None:
    # Given a scan event (ECR's, Inspector's: its repository-name is an ARN), a timer's event or an override
    event = load_event(name)

    # When it is parsed
    parsed = parse_request(event)

    # Then it is the request it stands for
    assert parsed == GATE_SAMPLES[name]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"overrideGates": ""}, "'overrideGates' must give the reason"),
        ({"overrideGates": "x" * 501}, "'overrideGates' must give the reason"),
        ({"requestedBy": None}, "'overrideGates' needs 'requestedBy'"),
    ],
)
def test_an_override_without_a_reason_or_a_name_is_refused(change: dict[str, Any], problem: str) -> None:
    # Given the override sample with its reason or its requester taken away
    event = {**load_event("manual-deploy-override-gates.json"), **change}
    event = {key: value for key, value in event.items() if value is not None}

    # When it is parsed, then it is refused, naming the field
    with pytest.raises(InvalidEventError, match=problem):
        parse_request(event)


def test_a_scan_of_another_accounts_registry_resumes_nothing() -> None:
    # Given ECR's scan event from another account
    event = {**load_event("ecr-scan.json"), "account": "210987654321"}

    # When it is parsed, then it is refused, naming the field
    with pytest.raises(InvalidEventError, match="field 'account'"):
        parse_request(event)


def test_a_timer_event_with_an_unknown_field_is_refused() -> None:
    # Given the promote timer's event with a field it does not take
    event = {**load_event("promote-timer.json"), "tag": "v1"}

    # When it is parsed, then it is refused, naming the field
    with pytest.raises(InvalidEventError, match="unknown field"):
        parse_request(event)
