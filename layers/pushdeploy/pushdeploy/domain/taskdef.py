"""The next task-definition revision, rendered from the current one, and what it changes."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pushdeploy.domain.errors import TaskDefinitionError

# Returned by DescribeTaskDefinition but rejected by RegisterTaskDefinition. Everything else is kept:
# a task definition is never rebuilt from an allow-list (that loses ephemeralStorage, secrets, memory...).
READ_ONLY_FIELDS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    }
)
MAX_TAGS = 50
TAG_IMAGE_TAG = "pushdeploy:image-tag"
TAG_IMAGE_DIGEST = "pushdeploy:image-digest"


@dataclass(frozen=True)
class Change:
    """One field of one container that the new revision changes."""

    container: str
    field: str  # "image", "environment" or "secret"
    name: str | None  # the variable's name for environment and secret changes
    before: str | None
    after: str | None

    def as_dict(self) -> dict[str, str | None]:
        """The change as published: secrets appear as their ``valueFrom`` reference, never a value."""
        change: dict[str, str | None] = {"container": self.container, "field": self.field}
        if self.name is not None:
            change["name"] = self.name
        change["before"] = self.before
        change["after"] = self.after
        return change


@dataclass(frozen=True)
class RenderedTaskDefinition:
    """The RegisterTaskDefinition request for the next revision, and its changes against the current one."""

    family: str
    request: dict[str, Any]
    changes: tuple[Change, ...]
    containers: tuple[str, ...]


def registration_request(described: Mapping[str, Any], tags: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The RegisterTaskDefinition request that would register ``described`` again, with its tags."""
    request = {key: copy.deepcopy(value) for key, value in described.items() if key not in READ_ONLY_FIELDS}
    kept = [{"key": tag["key"], "value": tag["value"]} for tag in tags if not tag["key"].startswith("aws:")]
    if kept:
        request["tags"] = kept
    return request


def image_repository(image: str) -> str:
    """The image name without its tag or digest: ``reg/repo:tag`` and ``reg/repo@sha256:..`` give ``reg/repo``."""
    name = image.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name = name[:colon]
    return name


def render_task_definition(
    current: Mapping[str, Any],
    current_tags: Sequence[Mapping[str, str]],
    *,
    repository_uri: str,
    image_uri: str,
    containers: Sequence[str] | None,
    environment: Mapping[str, str],
    secrets: Mapping[str, str],
    record_tags: Mapping[str, str],
) -> RenderedTaskDefinition:
    """Render the next revision of ``current`` (a DescribeTaskDefinition ``taskDefinition``).

    The selected containers (``containers``, or by default every container whose image comes from
    ``repository_uri``) get ``image_uri``, and ``environment``/``secrets`` (name to ``valueFrom``) merged by
    name into what they have: the config adds or overrides, never drops. ``record_tags`` are merged into the
    task definition's tags. Every other field is kept as it is.
    """
    family = str(current.get("family", "?"))
    request = registration_request(current, ())
    definitions: list[dict[str, Any]] = request.get("containerDefinitions") or []
    selected = _select_containers(family, definitions, repository_uri, containers)

    changes: list[Change] = []
    for definition in definitions:
        if definition["name"] not in selected:
            continue
        name = definition["name"]
        if definition.get("image") != image_uri:
            changes.append(Change(name, "image", None, definition.get("image"), image_uri))
            definition["image"] = image_uri
        changes.extend(_merge_variables(definition, environment, secrets))

    tags = _merge_tags(family, current_tags, record_tags)
    if tags:
        request["tags"] = tags
    return RenderedTaskDefinition(family, request, tuple(changes), selected)


def _select_containers(
    family: str, definitions: list[dict[str, Any]], repository_uri: str, named: Sequence[str] | None
) -> tuple[str, ...]:
    names = [str(definition.get("name")) for definition in definitions]
    if named is not None:
        unknown = [name for name in named if name not in names]
        if unknown:
            raise TaskDefinitionError(
                f"container(s) {', '.join(unknown)} named by the target are not in task definition {family} "
                f"(it has: {', '.join(names) or 'no containers'})"
            )
        return tuple(named)
    selected = tuple(
        str(definition["name"])
        for definition in definitions
        if image_repository(str(definition.get("image", ""))) == repository_uri
    )
    if not selected:
        repository = repository_uri.split("/", 1)[-1]
        raise TaskDefinitionError(
            f"no container of task definition {family} uses repository {repository} "
            f"(containers: {', '.join(names) or 'none'}); name the containers to update in the target's "
            "'containers' field"
        )
    return selected


def _merge_variables(
    definition: dict[str, Any], environment: Mapping[str, str], secrets: Mapping[str, str]
) -> list[Change]:
    container = str(definition["name"])
    changes: list[Change] = []
    env_list: list[dict[str, str]] = definition.get("environment") or []
    secret_list: list[dict[str, str]] = definition.get("secrets") or []
    env_by_name = {item["name"]: item for item in env_list}
    secret_by_name = {item["name"]: item for item in secret_list}

    for name, value in environment.items():
        if name in secret_by_name:  # the config turns a secret into a plain variable
            moved = secret_by_name.pop(name)
            secret_list.remove(moved)
            changes.append(Change(container, "secret", name, moved.get("valueFrom"), None))
        existing = env_by_name.get(name)
        if existing is None:
            env_by_name[name] = {"name": name, "value": value}
            env_list.append(env_by_name[name])
            changes.append(Change(container, "environment", name, None, value))
        elif existing.get("value") != value:
            changes.append(Change(container, "environment", name, existing.get("value"), value))
            existing["value"] = value

    for name, value_from in secrets.items():
        if name in env_by_name:  # a plain variable becomes a secret of the same name
            moved = env_by_name.pop(name)
            env_list.remove(moved)
            changes.append(Change(container, "environment", name, "(plain value)", None))
        existing = secret_by_name.get(name)
        if existing is None:
            secret_by_name[name] = {"name": name, "valueFrom": value_from}
            secret_list.append(secret_by_name[name])
            changes.append(Change(container, "secret", name, None, value_from))
        elif existing.get("valueFrom") != value_from:
            changes.append(Change(container, "secret", name, existing.get("valueFrom"), value_from))
            existing["valueFrom"] = value_from

    if env_list or "environment" in definition:
        definition["environment"] = env_list
    if secret_list or "secrets" in definition:
        definition["secrets"] = secret_list
    return changes


def _merge_tags(
    family: str, current_tags: Sequence[Mapping[str, str]], record_tags: Mapping[str, str]
) -> list[dict[str, str]]:
    # "aws:" tags are AWS's own (CloudFormation's, for one) and cannot be passed to RegisterTaskDefinition.
    merged = {tag["key"]: tag["value"] for tag in current_tags if not tag["key"].startswith("aws:")}
    merged.update(record_tags)
    if len(merged) > MAX_TAGS:
        raise TaskDefinitionError(
            f"task definition {family} would carry {len(merged)} tags, more than ECS allows ({MAX_TAGS}); "
            "remove some of its tags"
        )
    return [{"key": key, "value": value} for key, value in merged.items()]


def fingerprint(request: Mapping[str, Any]) -> str:
    """A stable hash of a RegisterTaskDefinition request: equal requests register equal revisions (tags in
    any order)."""
    normalized = dict(request)
    if "tags" in normalized:
        normalized["tags"] = sorted(normalized["tags"], key=lambda tag: str(tag.get("key")))
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def registers_the_same(described: Mapping[str, Any], tags: Sequence[Mapping[str, str]], wanted: str) -> bool:
    """Whether the described (ACTIVE) revision is what a registration request of fingerprint ``wanted``
    registers: a lost or earlier registration of it took effect."""
    return (
        described.get("status", "ACTIVE") == "ACTIVE" and fingerprint(registration_request(described, tags)) == wanted
    )
