"""The config validator (``make validate-config``, ``python -m tools.config validate``) on version policies: it
says which pattern decides a tag, or why none did, as the deploy function judges it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.config import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prod-semver.json"


def test_the_example_with_version_patterns_is_valid_and_explains_tags(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the example config (semver:^1.4 and a regex, excluding 1.4.3)
    # When it is validated with tags to judge
    code = main(["validate", str(EXAMPLE), "--tag", "v1.4.2", "--tag", "v1.3.9", "--tag", "1.4.3", "--tag", "hotfix-7"])

    # Then it is valid, and each tag's line names the pattern that decided, or why none matched
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "exclude ['semver:1.4.3']" in lines[0]
    assert lines[1:] == [
        "tag v1.4.2: deploys: tag v1.4.2 matches semver:^1.4 (version 1.4.2)",
        "tag v1.3.9: skipped: tag v1.3.9: 1.3.9 is below semver:^1.4; does not match regex:hotfix-[0-9]+",
        "tag 1.4.3: skipped: tag 1.4.3 matches semver:^1.4 but is excluded by semver:1.4.3",
        "tag hotfix-7: deploys: tag hotfix-7 matches regex:hotfix-[0-9]+",
    ]


def test_the_validator_says_a_signature_tag_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the example config
    tag = "sha256-" + "ab" * 32 + ".sig"

    # When a cosign signature's tag is judged
    main(["validate", str(EXAMPLE), "--tag", tag])

    # Then the validator says it never deploys, whatever the patterns
    assert capsys.readouterr().out.splitlines()[1] == (
        f"tag {tag}: ignored: tag {tag} is a signature stored beside an image: never deployed"
    )


def test_an_invalid_range_fails_validation_naming_the_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a config whose range does not parse
    config = tmp_path / "bad.json"
    config.write_text('{"cluster": "prod", "service": "api", "tags": ["semver:>=1.4 <"]}')

    # When it is validated
    code = main(["validate", str(config)])

    # Then validation fails, naming the field and the pattern
    assert code == 1
    assert f"invalid: target config {config}: field 'tags': pattern 'semver:>=1.4 <': not an npm version range" in (
        capsys.readouterr().err
    )
