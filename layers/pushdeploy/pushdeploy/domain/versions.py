"""Semantic versions of image tags and npm-style ranges over them, on ``semantic_version`` (its ``NpmSpec``).

The library is imported on first use, not with this module: only a target with a ``semver:`` pattern pays its
import (about 20 ms) on a cold start. Versions follow SemVer 2.0.0 strictly (``MAJOR.MINOR.PATCH`` with an
optional pre-release; build metadata cannot occur, since ``+`` is not allowed in an image tag), with one
leading ``v`` accepted on a tag: ``v1.4.2`` is version ``1.4.2``. Ranges follow npm: ``^1.4``, ``~1.2.3``,
``>=2.0.0 <3``, ``1.2 - 1.4``, ``1.x``, ``||``; a pre-release satisfies a range only when the range names a
pre-release of the same ``MAJOR.MINOR.PATCH`` (``>=1.5.0-rc.1`` takes ``1.5.0-rc.2``, ``^1.4`` takes no
pre-release at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_RANGE_LENGTH = 256


class InvalidRangeError(ValueError):
    """A ``semver:`` range that does not parse as an npm range."""


def _library() -> Any:
    import semantic_version  # noqa: PLC0415 - deliberately lazy: see the module's docstring

    return semantic_version


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    """The library's Version of a version string without ``v`` (None when it is not a semantic version)."""
    try:
        return _library().Version(text)
    except ValueError:
        return None


def tag_version(tag: str) -> str | None:
    """The semantic version a tag names (``v1.4.2`` and ``1.4.2`` both name ``1.4.2``), or None."""
    text = tag[1:] if tag.startswith("v") else tag
    if not text[:1].isdigit():
        return None  # not even the start of one: no need to load the library
    version = _parse(text)
    return None if version is None else str(version)


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1 as version ``left`` is lower than, equal to or higher than ``right`` (SemVer precedence);
    both are versions as ``tag_version`` returns them."""
    a, b = _parse(left), _parse(right)
    if a is None or b is None:
        raise ValueError(f"not semantic versions: {left!r}, {right!r}")
    return -1 if a < b else (1 if a > b else 0)


@dataclass(frozen=True)
class VersionRange:
    """An npm-style range, as written after ``semver:``."""

    text: str
    spec: Any  # the library's NpmSpec

    def contains(self, version: str) -> bool:
        """Whether ``version`` (as ``tag_version`` returns it) satisfies the range, npm's pre-release rule
        included."""
        parsed = _parse(version)
        if parsed is None:
            return False
        if parsed.prerelease and (parsed.major, parsed.minor, parsed.patch) not in _named_prereleases(self.text):
            # npm's rule, applied here too: the library lets "<0.0.0" take 0.0.0-0, which npm does not.
            return False
        return bool(self.spec.match(parsed))

    def miss(self, version: str, pattern: str) -> str:
        """Why ``version`` does not satisfy the range ``pattern`` (as written in the config): "1.3.9 is below
        semver:^1.4", "... is above ...", "... is a pre-release, which ... does not name", "... is outside ..."."""
        parsed = _parse(version)
        if parsed.prerelease and self.spec.match(parsed.truncate()):
            return f"{version} is a pre-release, which {pattern} does not name"
        side = _side(self.spec.clause, parsed)
        return f"{version} is {side or 'outside'} {pattern}"


_PRERELEASE_IN_RANGE = re.compile(r"(?<![0-9A-Za-z.])v?(\d+)\.(\d+)\.(\d+)-[0-9A-Za-z.-]+")


def _named_prereleases(text: str) -> set[tuple[int, int, int]]:
    """The releases of whose pre-releases a range names one (npm: only these may match a pre-release)."""
    return {(int(a), int(b), int(c)) for a, b, c in _PRERELEASE_IN_RANGE.findall(text)}


def parse_range(text: str) -> VersionRange:
    """The range ``text`` (after ``semver:``); InvalidRangeError says why it is not one."""
    if not text.strip():
        raise InvalidRangeError("the range is empty")
    if len(text) > MAX_RANGE_LENGTH:
        raise InvalidRangeError(f"the range is {len(text)} characters long; at most {MAX_RANGE_LENGTH}")
    try:
        spec = _library().NpmSpec(text)
    except ValueError as exc:
        raise InvalidRangeError(f"not an npm version range ({str(exc)[:120]})") from None
    return VersionRange(text, spec)


def _side(clause: Any, version: Any) -> str | None:
    """Whether ``version`` lies below or above a clause it fails (``AllOf``/``AnyOf`` of ``Range``), or None
    when it lies in a gap between alternatives or the clause is of another kind."""
    kind = type(clause).__name__
    if kind == "Range":
        if clause.operator in (">", ">="):
            return "below"
        if clause.operator in ("<", "<="):
            return "above"
        if clause.operator == "==":
            return "below" if version < clause.target else "above"
        return None
    if kind in ("AllOf", "AnyOf"):
        failing = [child for child in clause.clauses if kind == "AnyOf" or not child.match(version)]
        sides = {_side(child, version) for child in failing}
        return sides.pop() if len(sides) == 1 else None
    return None
