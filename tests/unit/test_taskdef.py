"""The next task-definition revision: lossless, only the selected containers change, every change listed."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushdeploy.domain.errors import TaskDefinitionError
from pushdeploy.domain.taskdef import (
    MAX_TAGS,
    READ_ONLY_FIELDS,
    TAG_IMAGE_DIGEST,
    TAG_IMAGE_TAG,
    Change,
    RenderedTaskDefinition,
    image_repository,
    render_task_definition,
)
from tests.unit.builders import DIGEST, IMAGE_URI, REGISTRY, REPOSITORY_URI, container, described_task_definition

RECORD_TAGS = {TAG_IMAGE_TAG: "staging-42", TAG_IMAGE_DIGEST: DIGEST}
SSM = "arn:aws:ssm:us-east-1:123456789012:parameter"


def render(
    current: Mapping[str, Any],
    tags: Sequence[Mapping[str, str]] = (),
    *,
    repository_uri: str = REPOSITORY_URI,
    image_uri: str = IMAGE_URI,
    containers: Sequence[str] | None = None,
    environment: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    record_tags: Mapping[str, str] | None = None,
) -> RenderedTaskDefinition:
    return render_task_definition(
        current,
        tags,
        repository_uri=repository_uri,
        image_uri=image_uri,
        containers=containers,
        environment=environment or {},
        secrets=secrets or {},
        record_tags=RECORD_TAGS if record_tags is None else record_tags,
    )


def variables(definition: Mapping[str, Any], field: str) -> list[tuple[str, str]]:
    value_key = "value" if field == "environment" else "valueFrom"
    return [(item["name"], item[value_key]) for item in definition.get(field, [])]


# --- the described task definition, round-tripped ---------------------------------------------------


def test_exactly_the_read_only_fields_are_stripped() -> None:
    # Given a task definition as DescribeTaskDefinition returns it
    current, tags = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, tags)

    # Then the request holds every field but the read-only ones, plus the tags
    assert set(rendered.request) == (set(current) - READ_ONLY_FIELDS) | {"tags"}
    assert set(current) & READ_ONLY_FIELDS == {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    }


def test_every_other_top_level_field_is_kept_identical() -> None:
    # Given a task definition with roles, cpu/memory, volumes, ephemeral storage, runtime platform...
    current, tags = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, tags)

    # Then every non-read-only field other than the containers is deep-equal to the input
    for key in set(current) - READ_ONLY_FIELDS - {"containerDefinitions"}:
        assert rendered.request[key] == current[key], key
    assert rendered.request["ephemeralStorage"] == {"sizeInGiB": 30}
    assert rendered.request["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert rendered.request["executionRoleArn"] == "arn:aws:iam::123456789012:role/api-execution"


@pytest.mark.parametrize("field", sorted(READ_ONLY_FIELDS))
def test_each_read_only_field_is_stripped(field: str) -> None:
    # Given a task definition carrying every read-only field, including those of deregistered revisions
    current, _ = described_task_definition()
    current["deregisteredAt"] = current["registeredAt"]
    current["deleteRequestedAt"] = current["registeredAt"]

    # When the next revision is rendered
    rendered = render(current)

    # Then this read-only field is not in the request
    assert field not in rendered.request


def test_only_the_app_image_changes_and_is_pinned_by_digest() -> None:
    # Given app uses the pushed repository and db uses public ECR's postgres
    current, tags = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, tags)

    # Then the app container is the one selected; only its image differs, now pinned by digest
    assert rendered.containers == ("app",)
    assert rendered.family == "api"
    app_before, app_after = container(current, "app"), container(rendered.request, "app")
    assert app_after["image"] == f"{REGISTRY}/api@{DIGEST}"
    assert {**app_after, "image": app_before["image"]} == app_before
    assert container(rendered.request, "db") == container(current, "db")
    assert [definition["name"] for definition in rendered.request["containerDefinitions"]] == ["app", "db"]
    assert rendered.changes == (Change("app", "image", None, f"{REPOSITORY_URI}:staging-41", IMAGE_URI),)


def test_input_task_definition_is_not_mutated() -> None:
    # Given a task definition and its tags
    current, tags = described_task_definition()
    current_before, tags_before = copy.deepcopy(current), copy.deepcopy(tags)

    # When a revision that changes the image, variables and tags is rendered
    rendered = render(
        current,
        tags,
        containers=["app", "db"],
        environment={"LOG_LEVEL": "debug", "NEW": "1", "API_KEY": "plain"},
        secrets={"DATABASE_URL": f"{SSM}/api/DATABASE_URL", "NEW_SECRET": f"{SSM}/api/NEW_SECRET"},
    )

    # Then the input is exactly as it was, and the request shares no nested object with it
    assert current == current_before
    assert tags == tags_before
    assert rendered.request["containerDefinitions"] is not current["containerDefinitions"]
    assert rendered.request["volumes"] is not current["volumes"]


def test_image_already_at_the_digest_yields_no_change() -> None:
    # Given the app container already runs the pushed digest
    current, tags = described_task_definition()
    container(current, "app")["image"] = IMAGE_URI

    # When the next revision is rendered with no variables
    rendered = render(current, tags)

    # Then the app is still selected but nothing changes
    assert rendered.containers == ("app",)
    assert rendered.changes == ()
    assert container(rendered.request, "app") == container(current, "app")


def test_image_already_at_the_digest_still_merges_variables() -> None:
    # Given the app already runs the pushed digest
    current, _ = described_task_definition()
    container(current, "app")["image"] = IMAGE_URI

    # When the config changes one variable
    rendered = render(current, environment={"LOG_LEVEL": "debug"})

    # Then that is the only change
    assert rendered.changes == (Change("app", "environment", "LOG_LEVEL", "info", "debug"),)


# --- environment and secrets merge --------------------------------------------------------------------


def test_environment_and_secrets_merge_by_name_and_list_every_change() -> None:
    # Given app has LOG_LEVEL, FEATURE_X, DATABASE_URL as plain variables and API_KEY, SENTRY_DSN as secrets
    current, _ = described_task_definition()
    environment = {"LOG_LEVEL": "debug", "FEATURE_X": "off", "NEW_FLAG": "on", "API_KEY": "plain-key"}
    secrets = {
        "DATABASE_URL": f"{SSM}/api/staging/DATABASE_URL",
        "SENTRY_DSN": f"{SSM}/api/staging/SENTRY_DSN_V2",
        "STRIPE_KEY": f"{SSM}/api/staging/STRIPE_KEY",
    }

    # When the config overrides, adds and moves variables between plain and secret
    rendered = render(current, environment=environment, secrets=secrets)

    # Then nothing is dropped: overrides in place, additions at the end, moved names change list
    app = container(rendered.request, "app")
    assert variables(app, "environment") == [
        ("LOG_LEVEL", "debug"),
        ("FEATURE_X", "off"),
        ("NEW_FLAG", "on"),
        ("API_KEY", "plain-key"),
    ]
    assert variables(app, "secrets") == [
        ("SENTRY_DSN", f"{SSM}/api/staging/SENTRY_DSN_V2"),
        ("DATABASE_URL", f"{SSM}/api/staging/DATABASE_URL"),
        ("STRIPE_KEY", f"{SSM}/api/staging/STRIPE_KEY"),
    ]
    # And every change is listed, in order, with an unchanged value (FEATURE_X) not listed
    assert rendered.changes == (
        Change("app", "image", None, f"{REPOSITORY_URI}:staging-41", IMAGE_URI),
        Change("app", "environment", "LOG_LEVEL", "info", "debug"),
        Change("app", "environment", "NEW_FLAG", None, "on"),
        Change("app", "secret", "API_KEY", f"{SSM}/api/staging/API_KEY", None),
        Change("app", "environment", "API_KEY", None, "plain-key"),
        Change("app", "environment", "DATABASE_URL", "(plain value)", None),
        Change("app", "secret", "DATABASE_URL", None, f"{SSM}/api/staging/DATABASE_URL"),
        Change("app", "secret", "SENTRY_DSN", f"{SSM}/api/staging/SENTRY_DSN", f"{SSM}/api/staging/SENTRY_DSN_V2"),
        Change("app", "secret", "STRIPE_KEY", None, f"{SSM}/api/staging/STRIPE_KEY"),
    )
    # And the db container, not selected, gets none of it
    assert container(rendered.request, "db") == container(current, "db")


def test_variables_absent_from_the_config_are_kept() -> None:
    # Given the config sets one variable
    current, _ = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, environment={"NEW_FLAG": "on"})

    # Then every existing variable and secret is still there
    app = container(rendered.request, "app")
    assert [name for name, _ in variables(app, "environment")] == ["LOG_LEVEL", "FEATURE_X", "DATABASE_URL", "NEW_FLAG"]
    assert variables(app, "secrets") == variables(container(current, "app"), "secrets")


def test_plain_value_is_not_shown_when_it_becomes_a_secret() -> None:
    # Given a plain variable the config turns into a secret
    current, _ = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, secrets={"DATABASE_URL": f"{SSM}/api/DATABASE_URL"})

    # Then the change list does not repeat the old plain value
    moved = [change for change in rendered.changes if change.field == "environment"]
    assert moved == [Change("app", "environment", "DATABASE_URL", "(plain value)", None)]
    assert all("postgres://" not in str(change.as_dict()) for change in rendered.changes)


def test_container_without_variable_lists_does_not_gain_empty_ones() -> None:
    # Given a selected container with neither environment nor secrets
    current, _ = described_task_definition()
    app = container(current, "app")
    del app["environment"], app["secrets"]

    # When the config sets no variables
    rendered = render(current)

    # Then the request does not add empty lists
    assert "environment" not in container(rendered.request, "app")
    assert "secrets" not in container(rendered.request, "app")


def test_container_without_variable_lists_gains_the_configured_ones() -> None:
    # Given a selected container with neither environment nor secrets
    current, _ = described_task_definition()
    app = container(current, "app")
    del app["environment"], app["secrets"]

    # When the config sets one of each
    rendered = render(current, environment={"A": "1"}, secrets={"B": f"{SSM}/B"})

    # Then both lists are created
    assert variables(container(rendered.request, "app"), "environment") == [("A", "1")]
    assert variables(container(rendered.request, "app"), "secrets") == [("B", f"{SSM}/B")]


def test_change_as_dict_omits_the_name_of_an_image_change() -> None:
    # Given an image change and a secret change
    image = Change("app", "image", None, "old", "new")
    secret = Change("app", "secret", "API_KEY", None, f"{SSM}/API_KEY")

    # When they are published
    # Then the image change has no name, the secret change shows its reference
    assert image.as_dict() == {"container": "app", "field": "image", "before": "old", "after": "new"}
    assert secret.as_dict() == {
        "container": "app",
        "field": "secret",
        "name": "API_KEY",
        "before": None,
        "after": f"{SSM}/API_KEY",
    }


@pytest.mark.parametrize("start", ["absent", "secret"])
def test_name_given_both_as_plain_and_secret_ends_up_in_one_list(start: str) -> None:
    # Given a container where X is absent, or a secret
    current, _ = described_task_definition()
    app = container(current, "app")
    if start == "secret":
        app["secrets"].append({"name": "X", "valueFrom": f"{SSM}/old/X"})

    # When X is both a plain variable and a secret to set (as with secretsPath /p holding /p/X
    # and environment {"X": ...}, which the config check does not see)
    rendered = render(current, environment={"X": "plain"}, secrets={"X": f"{SSM}/p/X"})

    # Then X is defined once, not both as a plain variable and as a secret
    after = container(rendered.request, "app")
    names = [name for name, _ in variables(after, "environment")] + [name for name, _ in variables(after, "secrets")]
    assert names.count("X") == 1


# --- container selection --------------------------------------------------------------------------


def test_named_containers_are_updated_whatever_their_image() -> None:
    # Given the target names both containers
    current, _ = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, containers=["app", "db"], environment={"REGION": "us-east-1"})

    # Then both get the pushed image and the variable
    assert rendered.containers == ("app", "db")
    assert [c["image"] for c in rendered.request["containerDefinitions"]] == [IMAGE_URI, IMAGE_URI]
    assert [change.container for change in rendered.changes if change.field == "image"] == ["app", "db"]
    assert ("REGION", "us-east-1") in variables(container(rendered.request, "db"), "environment")


def test_named_container_limits_the_update_to_it() -> None:
    # Given the target names only db
    current, _ = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, containers=["db"])

    # Then app is left alone even though it uses the repository
    assert rendered.containers == ("db",)
    assert container(rendered.request, "app") == container(current, "app")
    assert container(rendered.request, "db")["image"] == IMAGE_URI


def test_unknown_container_name_lists_the_available_ones() -> None:
    # Given the target names a container the task definition lacks
    current, _ = described_task_definition()

    # When the next revision is rendered
    with pytest.raises(TaskDefinitionError) as caught:
        render(current, containers=["app", "worker", "cron"])

    # Then the error names the unknown ones and lists those there are
    assert str(caught.value) == (
        "container(s) worker, cron named by the target are not in task definition api (it has: app, db)"
    )


def test_no_container_using_the_repository_is_an_error() -> None:
    # Given a push to a repository no container of the task definition uses
    current, _ = described_task_definition()

    # When the next revision is rendered
    with pytest.raises(TaskDefinitionError) as caught:
        render(current, repository_uri=f"{REGISTRY}/billing", image_uri=f"{REGISTRY}/billing@{DIGEST}")

    # Then the error names the family and the repository, lists the containers and says how to fix it
    message = str(caught.value)
    assert message.startswith("no container of task definition api uses repository billing")
    assert "(containers: app, db)" in message
    assert "'containers' field" in message
    assert caught.value.retryable is False


def test_same_repository_name_in_another_registry_is_not_selected() -> None:
    # Given app pulls "api" from another account's registry
    current, _ = described_task_definition()
    container(current, "app")["image"] = "210987654321.dkr.ecr.us-east-1.amazonaws.com/api:staging-41"

    # When the next revision is rendered for this account's "api"
    # Then no container matches
    with pytest.raises(TaskDefinitionError, match="no container of task definition api uses repository api"):
        render(current)


def test_container_is_matched_by_repository_in_every_image_form() -> None:
    # Given one container per way of writing an image of the repository, and one of another repository
    current, _ = described_task_definition()
    template = container(current, "db")
    current["containerDefinitions"] = [
        {**template, "name": "tagged", "image": f"{REPOSITORY_URI}:v1"},
        {**template, "name": "bare", "image": REPOSITORY_URI},
        {**template, "name": "digest", "image": f"{REPOSITORY_URI}@sha256:{'0' * 64}"},
        {**template, "name": "both", "image": f"{REPOSITORY_URI}:v1@sha256:{'0' * 64}"},
        {**template, "name": "other", "image": f"{REPOSITORY_URI}-worker:v1"},
    ]

    # When the next revision is rendered
    rendered = render(current)

    # Then the four containers of the repository are selected, the other one is not
    assert rendered.containers == ("tagged", "bare", "digest", "both")
    assert container(rendered.request, "other")["image"] == f"{REPOSITORY_URI}-worker:v1"


def test_registry_with_a_port_is_matched() -> None:
    # Given a container pulling from a registry with a port
    current, _ = described_task_definition()
    container(current, "app")["image"] = "localhost:5000/api:dev"

    # When the next revision is rendered for that registry's repository
    rendered = render(current, repository_uri="localhost:5000/api", image_uri=f"localhost:5000/api@{DIGEST}")

    # Then the container is selected and pinned
    assert rendered.containers == ("app",)
    assert container(rendered.request, "app")["image"] == f"localhost:5000/api@{DIGEST}"


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        (f"{REGISTRY}/api:staging-41", f"{REGISTRY}/api"),
        (f"{REGISTRY}/team/api", f"{REGISTRY}/team/api"),
        (f"registry.example.com/api@sha256:{'a' * 64}", "registry.example.com/api"),
        (f"registry.example.com/api:v1@sha256:{'a' * 64}", "registry.example.com/api"),
        ("localhost:5000/api:tag", "localhost:5000/api"),
        ("localhost:5000/api", "localhost:5000/api"),
        (f"localhost:5000/api@sha256:{'a' * 64}", "localhost:5000/api"),
        ("public.ecr.aws/docker/library/postgres:16.4", "public.ecr.aws/docker/library/postgres"),
        ("postgres:16", "postgres"),
        ("postgres", "postgres"),
    ],
)
def test_image_repository_drops_tag_and_digest(image: str, repository: str) -> None:
    # Given an image reference
    # When its repository is taken
    # Then the tag and digest are gone and a registry port is kept
    assert image_repository(image) == repository


# --- tags ---------------------------------------------------------------------------------------------


def test_record_tags_are_merged_into_the_existing_tags() -> None:
    # Given tags that already record an older image tag
    current, tags = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, tags)

    # Then the existing tags are kept, the record tag updated in place and the digest added
    assert rendered.request["tags"] == [
        {"key": "team", "value": "payments"},
        {"key": TAG_IMAGE_TAG, "value": "staging-42"},
        {"key": TAG_IMAGE_DIGEST, "value": DIGEST},
    ]


def test_no_tags_at_all_leave_the_request_without_tags() -> None:
    # Given no existing tags and nothing to record
    current, _ = described_task_definition()

    # When the next revision is rendered
    rendered = render(current, [], record_tags={})

    # Then the request has no tags field
    assert "tags" not in rendered.request


def test_fifty_tags_are_accepted() -> None:
    # Given 48 tags, which the two record tags bring to the limit
    current, _ = described_task_definition()
    tags = [{"key": f"k{index}", "value": "v"} for index in range(MAX_TAGS - 2)]

    # When the next revision is rendered
    rendered = render(current, tags)

    # Then it carries fifty tags
    assert len(rendered.request["tags"]) == MAX_TAGS


def test_existing_record_tags_do_not_count_twice() -> None:
    # Given fifty tags including the two record tags
    current, _ = described_task_definition()
    tags = [{"key": f"k{index}", "value": "v"} for index in range(MAX_TAGS - 2)]
    tags += [{"key": TAG_IMAGE_TAG, "value": "old"}, {"key": TAG_IMAGE_DIGEST, "value": "old"}]

    # When the next revision is rendered
    rendered = render(current, tags)

    # Then they are updated and the count stays at fifty
    assert len(rendered.request["tags"]) == MAX_TAGS


def test_more_than_fifty_tags_is_an_error() -> None:
    # Given 49 tags, which the two record tags would bring to 51
    current, _ = described_task_definition()
    tags = [{"key": f"k{index}", "value": "v"} for index in range(MAX_TAGS - 1)]

    # When the next revision is rendered
    with pytest.raises(TaskDefinitionError) as caught:
        render(current, tags)

    # Then the error gives the count and the limit
    assert str(caught.value) == (
        "task definition api would carry 51 tags, more than ECS allows (50); remove some of its tags"
    )


# --- properties ---------------------------------------------------------------------------------------

# Variable names drawn from a small pool, so that the config and the containers share some.
NAMES = st.sampled_from(["A", "B", "C", "LOG_LEVEL", "DB_URL", "API_KEY", "_X1", "TOKEN"])
VALUES = st.text(max_size=8)
OTHER_URI = "public.ecr.aws/docker/library/redis"
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=4,
)


@st.composite
def container_definitions(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to five containers with unique names, some from the pushed repository, each with its own variables."""
    names = draw(st.lists(st.sampled_from(["app", "db", "sidecar", "worker", "proxy-1"]), min_size=1, unique=True))
    definitions: list[dict[str, Any]] = []
    for name in names:
        image = draw(
            st.sampled_from(
                [f"{REPOSITORY_URI}:v1", f"{REPOSITORY_URI}@sha256:{'0' * 64}", IMAGE_URI, f"{OTHER_URI}:7"]
            )
        )
        variable_names = draw(st.lists(NAMES, max_size=6, unique=True))
        split = draw(st.integers(min_value=0, max_value=len(variable_names)))
        definition: dict[str, Any] = {"name": name, "image": image, "essential": draw(st.booleans())}
        if split or draw(st.booleans()):
            definition["environment"] = [{"name": n, "value": draw(VALUES)} for n in variable_names[:split]]
        if split < len(variable_names) or draw(st.booleans()):
            definition["secrets"] = [{"name": n, "valueFrom": f"{SSM}/{n}"} for n in variable_names[split:]]
        definition.update(draw(st.dictionaries(st.sampled_from(["cpu", "links", "command", "user"]), JSON_VALUES)))
        definitions.append(definition)
    return definitions


@st.composite
def task_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A task definition with random extra fields, read-only ones included."""
    current: dict[str, Any] = {"family": "api", "containerDefinitions": draw(container_definitions())}
    extra_keys = st.sampled_from(
        [*sorted(READ_ONLY_FIELDS), "cpu", "memory", "volumes", "ephemeralStorage", "pidMode", "futureField"]
    )
    current.update(draw(st.dictionaries(extra_keys, JSON_VALUES, max_size=8)))
    return current


@st.composite
def configs(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    """Config environment and secrets with no name in both (the config check refuses that)."""
    names = draw(st.lists(NAMES, max_size=6, unique=True))
    split = draw(st.integers(min_value=0, max_value=len(names)))
    environment = {name: draw(VALUES) for name in names[:split]}
    secrets = {name: f"{SSM}/new/{name}" for name in names[split:]}
    return environment, secrets


@given(current=task_definitions(), config=configs(), by_name=st.booleans(), data=st.data())
def test_render_is_lossless(
    current: dict[str, Any],
    config: tuple[dict[str, str], dict[str, str]],
    by_name: bool,
    data: st.DataObject,
) -> None:
    # Given any task definition, and containers selected by repository or by name
    environment, secrets = config
    names = [definition["name"] for definition in current["containerDefinitions"]]
    uses_repository = [d["name"] for d in current["containerDefinitions"] if d["image"].startswith(REPOSITORY_URI)]
    if by_name:
        named: list[str] | None = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    else:
        named = None
    before = copy.deepcopy(current)

    # When the next revision is rendered
    try:
        rendered = render(current, [], containers=named, environment=environment, secrets=secrets)
    except TaskDefinitionError:
        # Then the only refusal is a push no container uses
        assert named is None and not uses_repository
        return

    # Then the input is untouched and every non-read-only field but the containers is identical
    assert current == before
    request = rendered.request
    assert set(request) - {"tags"} == set(current) - READ_ONLY_FIELDS
    for key in set(current) - READ_ONLY_FIELDS - {"containerDefinitions"}:
        assert request[key] == current[key]
    # And no container is dropped or reordered
    assert [definition["name"] for definition in request["containerDefinitions"]] == names
    selected = set(named) if named is not None else set(uses_repository)
    assert set(rendered.containers) == selected
    for old, new in zip(current["containerDefinitions"], request["containerDefinitions"], strict=True):
        if old["name"] not in selected:
            assert new == old
            continue
        # And a selected container runs the pushed image, keeps every variable name and gets the config's values
        assert new["image"] == IMAGE_URI
        env_after = dict(variables(new, "environment"))
        secrets_after = dict(variables(new, "secrets"))
        names_before = {name for name, _ in variables(old, "environment") + variables(old, "secrets")}
        assert names_before <= set(env_after) | set(secrets_after)
        assert not set(env_after) & set(secrets_after)
        assert environment.items() <= env_after.items()
        assert secrets.items() <= secrets_after.items()
        assert {k: v for k, v in new.items() if k not in ("image", "environment", "secrets")} == {
            k: v for k, v in old.items() if k not in ("image", "environment", "secrets")
        }
    # And a change is listed for every selected container whose image was not the digest yet
    changed_images = [change.container for change in rendered.changes if change.field == "image"]
    assert changed_images == [
        d["name"] for d in current["containerDefinitions"] if d["name"] in selected and d["image"] != IMAGE_URI
    ]


REPOSITORY_PATHS = st.from_regex(r"\A[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,2}\Z")
REGISTRIES = st.sampled_from(["", "localhost:5000/", REGISTRY + "/", "public.ecr.aws/", "registry.example.com:443/"])
IMAGE_TAGS = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}\Z")
DIGESTS = st.from_regex(r"\Asha256:[0-9a-f]{64}\Z")


@given(registry=REGISTRIES, path=REPOSITORY_PATHS, tag=IMAGE_TAGS, digest=DIGESTS)
def test_image_repository_round_trips(registry: str, path: str, tag: str, digest: str) -> None:
    # Given a repository, with or without a registry (and port)
    repository = registry + path

    # When a tag, a digest or both are appended
    # Then image_repository gives the repository back
    assert image_repository(repository) == repository
    assert image_repository(f"{repository}:{tag}") == repository
    assert image_repository(f"{repository}@{digest}") == repository
    assert image_repository(f"{repository}:{tag}@{digest}") == repository
