"""Version policies: semver:, regex: and glob patterns in a target's tags, its exclude list, invalid patterns
named in the config error, and the ordering of versions (properties checked against the library's own)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import semantic_version
from hypothesis import given
from hypothesis import strategies as st

from pushdeploy.domain.config import parse_target_config
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.policy import MAX_REGEX_LENGTH, tag_policy
from pushdeploy.domain.versions import MAX_RANGE_LENGTH, compare_versions, parse_range, tag_version

PARAMETER = "/pushdeploy/api/prod"


def config(**fields: Any) -> str:
    return json.dumps({"cluster": "prod", "service": "api", "tags": ["v*"], **fields})


def policy(*tags: str, exclude: tuple[str, ...] = ()) -> Any:
    return tag_policy(PARAMETER, tuple(tags), exclude)


# --- semver: ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "tag", "version"),
    [
        ("semver:^1.4", "1.4.0", "1.4.0"),
        ("semver:^1.4", "v1.4.2", "1.4.2"),
        ("semver:^1.4", "1.99.7", "1.99.7"),
        ("semver:>=2.0.0 <3", "v2.0.0", "2.0.0"),
        ("semver:>=2.0.0 <3", "2.9.9", "2.9.9"),
        ("semver:~1.2.3", "1.2.9", "1.2.9"),
        ("semver:1.2 - 1.4", "1.4.9", "1.4.9"),
        ("semver:~1.2 || >=3", "3.1.0", "3.1.0"),
        ("semver:>=1.5.0-rc.1 <2", "1.5.0-rc.2", "1.5.0-rc.2"),
    ],
)
def test_a_semver_range_takes_the_versions_in_it(pattern: str, tag: str, version: str) -> None:
    # Given a target whose tags are an npm-style range
    # When a tag whose version is in the range is checked
    match = policy(pattern).match(tag)

    # Then it deploys, carrying its version (without the v), and the reason names the pattern
    assert (match.matched, match.version, match.pattern) == (True, version, pattern)
    assert match.reason == f"tag {tag} matches {pattern} (version {version})"


@pytest.mark.parametrize(
    ("pattern", "tag", "reason"),
    [
        ("semver:^1.4", "v1.3.9", "tag v1.3.9: 1.3.9 is below semver:^1.4"),
        ("semver:^1.4", "2.0.0", "tag 2.0.0: 2.0.0 is above semver:^1.4"),
        ("semver:>=2.0.0 <3", "3.0.0", "tag 3.0.0: 3.0.0 is above semver:>=2.0.0 <3"),
        ("semver:~1.2 || >=3", "1.3.0", "tag 1.3.0: 1.3.0 is outside semver:~1.2 || >=3"),
        ("semver:^1.4", "1.5.0-rc.1", "tag 1.5.0-rc.1: 1.5.0-rc.1 is a pre-release, which semver:^1.4 does not name"),
        (
            "semver:>=1.5.0-rc.1 <2",
            "1.6.0-rc.1",
            "tag 1.6.0-rc.1: 1.6.0-rc.1 is a pre-release, which semver:>=1.5.0-rc.1 <2 does not name",
        ),
        ("semver:^1.4", "latest", "tag latest: latest is not a semantic version (MAJOR.MINOR.PATCH) for semver:^1.4"),
        ("semver:^1.4", "1.4", "tag 1.4: 1.4 is not a semantic version (MAJOR.MINOR.PATCH) for semver:^1.4"),
        ("semver:^1.4", "V1.4.0", "tag V1.4.0: V1.4.0 is not a semantic version (MAJOR.MINOR.PATCH) for semver:^1.4"),
    ],
)
def test_a_semver_range_says_why_a_tag_is_outside_it(pattern: str, tag: str, reason: str) -> None:
    # Given a target whose tags are an npm-style range
    # When a tag outside it is checked
    match = policy(pattern).match(tag)

    # Then it does not deploy, and the reason says on which side of the range it lies, or what it is not
    assert (match.matched, match.reason) == (False, reason)


def test_a_target_with_a_semver_pattern_orders_glob_matched_versions_too() -> None:
    # Given a target taking ^1.4 and any v2.* tag
    rules = policy("semver:^1.4", "v2.*")

    # When v2.0.1 (matched by the glob) and latest-ish tags are checked
    # Then v2.0.1 carries its version (the target orders its pushes by version), a non-version tag none
    assert rules.match("v2.0.1").version == "2.0.1"
    assert rules.match("v2.x").version is None
    assert rules.match("v2.x").matched


def test_a_glob_only_target_carries_no_version() -> None:
    # Given a target of globs only (as before version policies)
    # When a version-shaped tag matches
    match = policy("v*").match("v1.4.2")

    # Then the push carries no version: its pushes keep being ordered by push time
    assert (match.matched, match.version) == (True, None)


# --- regex: ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "tag", "matched"),
    [
        ("regex:^build-[0-9]+$", "build-1234", True),
        ("regex:^build-[0-9]+$", "build-12a", False),
        ("regex:build-[0-9]+", "build-77", True),
        ("regex:build-[0-9]+", "my-build-77", False),  # fullmatch: the anchors are implied
        ("regex:build-[0-9]+", "build-77-rc", False),
        ("regex:(main|release)-[0-9a-f]{7}", "release-0abc123", True),
    ],
)
def test_a_regex_matches_the_whole_tag(pattern: str, tag: str, matched: bool) -> None:
    # Given a target whose tags are a regular expression
    # When a tag is checked
    match = policy(pattern).match(tag)

    # Then it matches only when the expression covers the whole tag
    assert match.matched is matched
    assert (match.pattern == pattern) is matched


def test_a_mixed_policy_names_why_each_pattern_missed() -> None:
    # Given semver, regex and glob patterns
    rules = policy("semver:^1.4", "regex:build-[0-9]+", "staging-*")

    # When a tag none of them covers is checked
    match = rules.match("build-x")

    # Then the reason goes through every pattern
    assert match.reason == (
        "tag build-x: build-x is not a semantic version (MAJOR.MINOR.PATCH) for semver:^1.4; "
        "does not match regex:build-[0-9]+; does not match staging-*"
    )


def test_a_glob_only_policy_keeps_its_reason() -> None:
    # Given globs only, as before version policies
    # When a tag neither covers is checked
    # Then the reason is the one pushdeploy always gave
    assert policy("staging-*", "build-*").match("feature-login").reason == (
        "tag feature-login does not match the target's tags ['staging-*', 'build-*']"
    )


# --- exclude -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exclude", "tag", "by"),
    [
        ("semver:1.4.3", "v1.4.3", "semver:1.4.3"),
        ("regex:.*-debug", "v1.5.0-debug", "regex:.*-debug"),
        ("v1.6.*", "v1.6.0", "v1.6.*"),
    ],
)
def test_an_excluded_tag_never_deploys(exclude: str, tag: str, by: str) -> None:
    # Given a target taking v* tags of ^1.4 but excluding some
    rules = policy("semver:^1.4", "v*", exclude=(exclude,))

    # When an excluded tag is checked
    match = rules.match(tag)

    # Then it does not deploy, and the reason names both the pattern that matched and the exclusion
    assert (match.matched, match.excluded_by) == (False, by)
    assert match.reason.endswith(f"is excluded by {by}")
    assert match.reason.startswith(f"tag {tag} matches ")


def test_a_tag_no_exclusion_covers_deploys() -> None:
    # Given an exclusion of one version
    rules = policy("semver:^1.4", exclude=("semver:1.4.3",))

    # When a neighbouring version is checked
    # Then it deploys
    assert rules.match("v1.4.4").matched


# --- the config ------------------------------------------------------------------------------------------


def test_a_config_takes_version_patterns_and_exclude() -> None:
    # Given a config with semver, regex and glob patterns and an exclude list
    raw = config(tags=["semver:^1.4", "regex:build-[0-9]+", "v*"], exclude=["semver:1.4.3", "regex:.*-debug"])

    # When it is parsed
    parsed = parse_target_config(PARAMETER, raw)

    # Then both lists are kept as written
    assert parsed.tags == ("semver:^1.4", "regex:build-[0-9]+", "v*")
    assert parsed.exclude == ("semver:1.4.3", "regex:.*-debug")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"tags": ["semver:^1.x.y"]}, "field 'tags': pattern 'semver:^1.x.y': not an npm version range"),
        ({"tags": ["semver:>=1 <"]}, "field 'tags': pattern 'semver:>=1 <': not an npm version range"),
        ({"tags": ["semver:"]}, "field 'tags': pattern 'semver:': the range is empty"),
        ({"tags": ["semver:~>1.2"]}, "field 'tags': pattern 'semver:~>1.2': not an npm version range"),
        ({"tags": ["v*"], "exclude": ["semver:1.4.x.y"]}, "field 'exclude': pattern 'semver:1.4.x.y': not an npm"),
        ({"tags": ["regex:build-(["]}, "field 'tags': pattern 'regex:build-([' is not a valid regular expression"),
        ({"tags": ["regex:"]}, "field 'tags': pattern 'regex:' has no regular expression"),
        ({"tags": ["semvar:^1.4"]}, "field 'tags': pattern 'semvar:^1.4' has an unknown kind 'semvar:'"),
        ({"exclude": "v1*"}, "field 'exclude' must be a list of strings, got a string"),
        ({"exclude": [""]}, "field 'exclude[0]' must be a non-empty string"),
    ],
)
def test_an_invalid_pattern_fails_the_config_naming_it(fields: dict[str, Any], problem: str) -> None:
    # Given a config with a pattern that is not one
    # When it is parsed
    with pytest.raises(ConfigError) as raised:
        parse_target_config(PARAMETER, config(**fields))

    # Then the error names the parameter, the field and the pattern
    assert str(raised.value).startswith(f"target config {PARAMETER}: {problem}")


def test_a_long_regex_is_refused_with_its_length() -> None:
    # Given a regular expression longer than the bound
    pattern = "regex:" + "a" * (MAX_REGEX_LENGTH + 1)

    # When the config is parsed
    with pytest.raises(ConfigError) as raised:
        parse_target_config(PARAMETER, config(tags=[pattern]))

    # Then it is refused, quoting the pattern bounded, and saying the limit
    message = str(raised.value)
    assert f"is {MAX_REGEX_LENGTH + 1} characters long; at most {MAX_REGEX_LENGTH}" in message
    assert len(message) < 400


def test_a_long_range_is_refused_with_its_length() -> None:
    # Given a range longer than the bound
    # When the config is parsed
    with pytest.raises(ConfigError) as raised:
        parse_target_config(PARAMETER, config(tags=["semver:" + ">=1.0.0 " * 40]))

    # Then it is refused, saying the limit
    assert f"at most {MAX_RANGE_LENGTH}" in str(raised.value)


# --- versions: properties against the library ------------------------------------------------------------

NUMBERS = st.integers(min_value=0, max_value=30)
IDENTIFIERS = st.one_of(
    st.integers(min_value=0, max_value=20).map(str),
    st.from_regex(r"\A[a-z][a-z0-9-]{0,5}\Z"),
)
PRERELEASES = st.lists(IDENTIFIERS, min_size=1, max_size=3).map(".".join)
RELEASES = st.builds(lambda a, b, c: f"{a}.{b}.{c}", NUMBERS, NUMBERS, NUMBERS)
VERSIONS = st.one_of(RELEASES, st.builds(lambda r, p: f"{r}-{p}", RELEASES, PRERELEASES))
RANGES = st.one_of(
    st.builds(lambda op, v: f"{op}{v}", st.sampled_from(["^", "~", ">=", ">", "<", "<=", ""]), RELEASES),
    st.builds(lambda low, high: f">={low} <{high}", RELEASES, RELEASES),
)


@given(a=VERSIONS, b=VERSIONS)
def test_version_order_is_the_librarys(a: str, b: str) -> None:
    # Given any two semantic versions
    # When pushdeploy compares them
    sign = compare_versions(a, b)

    # Then it agrees with the library's SemVer precedence, and is antisymmetric
    library = semantic_version.Version(a), semantic_version.Version(b)
    assert sign == (library[0] > library[1]) - (library[0] < library[1])
    assert compare_versions(b, a) == -sign


@given(a=VERSIONS, b=VERSIONS, c=VERSIONS)
def test_version_order_is_total_and_transitive(a: str, b: str, c: str) -> None:
    # Given any three semantic versions
    # When they are compared pairwise
    # Then exactly one of lower, equal, higher holds, equality means the same version, and order is transitive
    assert compare_versions(a, b) in (-1, 0, 1)
    assert (compare_versions(a, b) == 0) == (a == b)
    if compare_versions(a, b) <= 0 and compare_versions(b, c) <= 0:
        assert compare_versions(a, c) <= 0


@given(version=VERSIONS)
def test_a_leading_v_is_irrelevant(version: str) -> None:
    # Given a version written with and without a leading v
    # When each is read as a tag
    # Then both name the same version, which equals itself
    assert tag_version(f"v{version}") == tag_version(version) == version
    assert compare_versions(tag_version(f"v{version}") or "", version) == 0


@given(version=VERSIONS, pattern=RANGES)
def test_a_v_prefix_never_changes_a_match(version: str, pattern: str) -> None:
    # Given any range and any version
    rules = policy(f"semver:{pattern}")

    # When the version is pushed as a tag with and without v
    # Then both match or neither does, with the same version
    with_v, without = rules.match(f"v{version}"), rules.match(version)
    assert (with_v.matched, with_v.version) == (without.matched, without.version)


@given(release=RELEASES, prerelease=PRERELEASES, pattern=RANGES)
def test_a_pre_release_matches_only_a_range_that_names_one(release: str, prerelease: str, pattern: str) -> None:
    # Given a range naming no pre-release, and any pre-release version
    # When the pre-release is checked
    # Then it never matches (npm's rule), even when its release does
    assert not parse_range(pattern).contains(f"{release}-{prerelease}")


@given(release=RELEASES, prerelease=PRERELEASES)
def test_a_range_naming_a_pre_release_takes_later_ones_of_that_version(release: str, prerelease: str) -> None:
    # Given a range from a pre-release of a version
    rules = parse_range(f">={release}-{prerelease}")

    # When a later pre-release of the same version (the same identifiers, one more) is checked
    # Then it matches; the release itself matches too
    assert rules.contains(f"{release}-{prerelease}.1")
    assert rules.contains(release)


@given(tag=st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,40}\Z"))
def test_a_tag_that_is_no_version_never_matches_a_range(tag: str) -> None:
    # Given a tag that does not start with a digit or v+digit
    if tag_version(tag) is not None:
        return
    # When it is checked against a range
    # Then it does not match, and carries no version
    match = policy("semver:*").match(tag)
    assert (match.matched, match.version) == (False, None)
