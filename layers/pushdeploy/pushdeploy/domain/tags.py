"""Tag policy: which pushed tags a target deploys."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase


def tag_matches(patterns: Iterable[str], tag: str) -> bool:
    """True when ``tag`` matches one of the glob ``patterns`` (case-sensitive, like image tags)."""
    return any(fnmatchcase(tag, pattern) for pattern in patterns)
