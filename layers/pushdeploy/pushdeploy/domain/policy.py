"""Version policies: which pushed tags a target deploys, and the version a tag stands for.

A target's ``tags`` and ``exclude`` hold patterns of three kinds:

- a glob, as before: ``staging-*``, ``v*`` (``fnmatch``, case-sensitive);
- ``semver:<npm range>``: ``semver:^1.4``, ``semver:>=2.0.0 <3`` (see ``domain.versions``);
- ``regex:<pattern>``: ``regex:^build-[0-9]+$``, matched against the whole tag (``re.fullmatch``: the anchors
  are implied, writing them changes nothing).

A tag deploys when an ``tags`` pattern matches it and no ``exclude`` pattern does. A target with a ``semver:``
pattern orders its pushes by version: every tag that is a semantic version carries it (``v1.4.2`` → ``1.4.2``)
into the deploy ledger, where the claim rules compare it (``domain.order``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from pushdeploy.domain.errors import ConfigError, shorten
from pushdeploy.domain.tags import tag_matches
from pushdeploy.domain.versions import InvalidRangeError, VersionRange, parse_range, tag_version

SEMVER_PREFIX = "semver:"
REGEX_PREFIX = "regex:"
MAX_REGEX_LENGTH = 256
_PREFIXED = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,15}):")  # a colon never occurs in a tag: "kind:" it is


class PatternKind(StrEnum):
    GLOB = "glob"
    SEMVER = "semver"
    REGEX = "regex"


@dataclass(frozen=True)
class TagPattern:
    """One pattern of a target's ``tags`` or ``exclude``, checked and compiled."""

    text: str  # as written in the config
    kind: PatternKind
    regex: re.Pattern[str] | None = None
    range: VersionRange | None = None

    def verdict(self, tag: str, version: str | None) -> tuple[bool, str]:
        """Whether the pattern matches ``tag`` (whose semantic version is ``version``), and why not."""
        if self.kind is PatternKind.SEMVER:
            assert self.range is not None
            if version is None:
                return False, f"{shorten(tag)} is not a semantic version (MAJOR.MINOR.PATCH) for {self.text}"
            if self.range.contains(version):
                return True, ""
            return False, self.range.miss(version, self.text)
        if self.kind is PatternKind.REGEX:
            assert self.regex is not None
            return bool(self.regex.fullmatch(tag)), f"does not match {self.text}"
        return tag_matches((self.text,), tag), f"does not match {self.text}"


@dataclass(frozen=True)
class TagMatch:
    """What a target's policy says of one tag."""

    matched: bool
    reason: str  # which pattern matched, or why none did (or which exclusion did)
    pattern: str | None = None  # the ``tags`` pattern that matched
    version: str | None = None  # the tag's version, when the target orders by version
    excluded_by: str | None = None


@dataclass(frozen=True)
class TagPolicy:
    """A target's ``tags`` and ``exclude``, compiled."""

    include: tuple[TagPattern, ...]
    exclude: tuple[TagPattern, ...] = ()

    @property
    def by_version(self) -> bool:
        """Whether the target orders its pushes by version (it has a ``semver:`` pattern in ``tags``)."""
        return any(pattern.kind is PatternKind.SEMVER for pattern in self.include)

    def match(self, tag: str) -> TagMatch:
        """Whether ``tag`` deploys to the target: the first ``tags`` pattern that matches, unless an
        ``exclude`` pattern does; the reason names the pattern, or says why each one did not match."""
        kinds = {pattern.kind for pattern in (*self.include, *self.exclude)}
        version = tag_version(tag) if PatternKind.SEMVER in kinds else None
        misses: list[str] = []
        matched: TagPattern | None = None
        for pattern in self.include:
            hit, why = pattern.verdict(tag, version)
            if hit:
                matched = pattern
                break
            misses.append(why)
        if matched is None:
            if all(pattern.kind is PatternKind.GLOB for pattern in self.include):
                texts = [pattern.text for pattern in self.include]
                return TagMatch(False, f"tag {tag} does not match the target's tags {texts}")
            return TagMatch(False, f"tag {shorten(tag)}: " + "; ".join(_bounded(misses)))
        for pattern in self.exclude:
            hit, _ = pattern.verdict(tag, version)
            if hit:
                return TagMatch(
                    False,
                    f"tag {shorten(tag)} matches {matched.text} but is excluded by {pattern.text}",
                    excluded_by=pattern.text,
                )
        kept = version if self.by_version else None
        suffix = f" (version {kept})" if kept else ""
        return TagMatch(True, f"tag {shorten(tag)} matches {matched.text}{suffix}", matched.text, kept)


def _bounded(reasons: Sequence[str], limit: int = 5) -> list[str]:
    if len(reasons) <= limit:
        return list(reasons)
    return [*reasons[:limit], f"and {len(reasons) - limit} more pattern(s)"]


def tag_pattern(parameter: str, field: str, text: str) -> TagPattern:
    """Check and compile one pattern of ``field`` (``tags`` or ``exclude``); ConfigError names it."""
    quoted = shorten(text)
    if text.startswith(SEMVER_PREFIX):
        try:
            return TagPattern(text, PatternKind.SEMVER, range=parse_range(text.removeprefix(SEMVER_PREFIX)))
        except InvalidRangeError as exc:
            raise ConfigError(parameter, f"field '{field}': pattern '{quoted}': {exc}") from None
    if text.startswith(REGEX_PREFIX):
        body = text.removeprefix(REGEX_PREFIX)
        if not body:
            raise ConfigError(parameter, f"field '{field}': pattern '{quoted}' has no regular expression")
        if len(body) > MAX_REGEX_LENGTH:
            raise ConfigError(
                parameter,
                f"field '{field}': pattern '{quoted}' is {len(body)} characters long; at most {MAX_REGEX_LENGTH}",
            )
        try:
            return TagPattern(text, PatternKind.REGEX, regex=re.compile(body))
        except re.error as exc:
            raise ConfigError(
                parameter, f"field '{field}': pattern '{quoted}' is not a valid regular expression: {exc}"
            ) from None
    prefixed = _PREFIXED.match(text)
    if prefixed:
        raise ConfigError(
            parameter,
            f"field '{field}': pattern '{quoted}' has an unknown kind '{shorten(prefixed.group(1), 16)}:' "
            f"(use {SEMVER_PREFIX}<npm range>, {REGEX_PREFIX}<regular expression>, or a glob without a colon)",
        )
    return TagPattern(text, PatternKind.GLOB)


@lru_cache(maxsize=1024)
def tag_policy(parameter: str, tags: tuple[str, ...], exclude: tuple[str, ...] = ()) -> TagPolicy:
    """The compiled policy of a target's ``tags`` and ``exclude``; ConfigError names a pattern that is not
    one. Compiled once per value, like the config it comes from."""
    return TagPolicy(
        include=tuple(tag_pattern(parameter, "tags", text) for text in tags),
        exclude=tuple(tag_pattern(parameter, "exclude", text) for text in exclude),
    )
