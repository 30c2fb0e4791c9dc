"""Tag policy: which pushed tags a target deploys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushdeploy.domain.tags import tag_matches

# What ECR accepts as a tag (and what the events module lets through).
TAGS = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")


@pytest.mark.parametrize(
    ("pattern", "tag"),
    [
        ("staging-*", "staging-42"),
        ("staging-*", "staging-"),
        ("v*.*.*", "v1.4.2"),
        ("v?.?", "v1.4"),
        ("release-[0-9]*", "release-7b"),
        ("latest", "latest"),
        ("*", "anything_at-all.1"),
    ],
)
def test_glob_pattern_matches_tag(pattern: str, tag: str) -> None:
    # Given a glob pattern and a tag it covers
    # When the tag is checked
    # Then it matches
    assert tag_matches([pattern], tag)


@pytest.mark.parametrize(
    ("pattern", "tag"),
    [
        ("staging-*", "prod-42"),
        ("staging-*", "my-staging-42"),
        ("v?.?", "v1.10"),
        ("release-[0-9]*", "release-x"),
        ("latest", "latest2"),
    ],
)
def test_glob_pattern_does_not_match_other_tag(pattern: str, tag: str) -> None:
    # Given a glob pattern and a tag outside it
    # When the tag is checked
    # Then it does not match
    assert not tag_matches([pattern], tag)


@pytest.mark.parametrize(("pattern", "tag"), [("staging-*", "Staging-42"), ("V*", "v1.0"), ("latest", "LATEST")])
def test_matching_is_case_sensitive(pattern: str, tag: str) -> None:
    # Given a pattern and a tag that differ only in case
    # When the tag is checked
    # Then it does not match (image tags are case-sensitive)
    assert not tag_matches([pattern], tag)


def test_any_of_several_patterns_matches() -> None:
    # Given several patterns
    patterns = ["v*", "rc-*", "hotfix-*"]

    # When tags covered by the second and third are checked
    # Then each matches
    assert tag_matches(patterns, "rc-3")
    assert tag_matches(patterns, "hotfix-login")


def test_no_pattern_matching_means_no_match() -> None:
    # Given several patterns none of which covers the tag
    # When the tag is checked
    # Then it does not match
    assert not tag_matches(["v*", "rc-*"], "feature-login")


def test_no_patterns_match_nothing() -> None:
    # Given no pattern at all
    # When a tag is checked
    # Then it does not match
    assert not tag_matches([], "v1")


@given(tag=TAGS)
def test_a_tag_matches_itself_and_the_star(tag: str) -> None:
    # Given any valid tag (they hold no glob character)
    # When it is checked against itself and against "*"
    # Then both match
    assert tag_matches([tag], tag)
    assert tag_matches(["*"], tag)
