"""Signatures, attestations and SBOMs never deploy: a push whose media types are not an image's, or whose tag
is cosign's ``sha256-<hex>.sig`` / ``.att`` / ``.sbom``, is ignored with its reason (a dry run says it too)."""

from __future__ import annotations

from typing import Any

import pytest

from pushdeploy.domain.artifacts import artifact_reason
from pushdeploy.domain.errors import InvalidEventError
from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.times import parse_time
from pushdeploy.events import IgnoredEvent, parse_deploy_event
from tests.helpers import load_event

ACCOUNT = "123456789012"
NOW = parse_time("2026-11-20T10:30:00Z")
HEX = "15" * 32


def parse(event: dict[str, Any]) -> Any:
    return parse_deploy_event(event, "request-1", trusted_account=ACCOUNT, now=NOW)


def push_with(**detail: str) -> dict[str, Any]:
    event = load_event("ecr-push-semver.json")
    event["detail"].update(detail)
    return event


@pytest.mark.parametrize(
    ("manifest", "artifact"),
    [
        ("application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.container.image.v1+json"),
        ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json"),
        ("application/vnd.oci.image.index.v1+json", ""),
        ("application/vnd.docker.distribution.manifest.list.v2+json", ""),
        ("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.index.v1+json"),
        ("", ""),  # an older event without the fields: judged by its tag
    ],
)
def test_an_image_manifest_or_index_is_deployed(manifest: str, artifact: str) -> None:
    # Given a push of an image (a manifest with an image config, or an index)
    event = push_with(**{"manifest-media-type": manifest, "artifact-media-type": artifact})

    # When it is parsed
    # Then it is a push to deploy
    assert isinstance(parse(event), ImagePush)


@pytest.mark.parametrize(
    ("manifest", "artifact", "names"),
    [
        (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.cncf.notary.signature",
            "artifact media type application/vnd.cncf.notary.signature",
        ),
        (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.dev.cosign.artifact.sbom.v1+json",
            "artifact media type application/vnd.dev.cosign.artifact.sbom.v1+json",
        ),
        ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.empty.v1+json", "application/vnd.oci"),
        (
            "application/vnd.oci.artifact.manifest.v1+json",
            "application/vnd.in-toto+json",
            "manifest media type application/vnd.oci.artifact.manifest.v1+json is not an image manifest or index",
        ),
    ],
)
def test_an_artifact_by_its_media_type_is_ignored_with_the_reason(manifest: str, artifact: str, names: str) -> None:
    # Given a push whose media types say it is a signature, an SBOM or another artifact, under a version tag
    event = push_with(**{"manifest-media-type": manifest, "artifact-media-type": artifact})

    # When it is parsed
    parsed = parse(event)

    # Then it is ignored, whatever a target's patterns would say, and the reason names the media type
    assert isinstance(parsed, IgnoredEvent)
    assert names in parsed.reason
    assert parsed.reason.endswith("tag v1.5.0 is never deployed")


@pytest.mark.parametrize(("suffix", "kind"), [("sig", "a signature"), ("att", "an attestation"), ("sbom", "an SBOM")])
def test_a_cosign_tag_is_ignored_whatever_its_media_types(suffix: str, kind: str) -> None:
    # Given cosign's tag for what it stores beside an image, pushed as an ordinary OCI image manifest
    tag = f"sha256-{HEX}.{suffix}"
    event = push_with(**{"image-tag": tag})

    # When it is parsed
    parsed = parse(event)

    # Then it is ignored, saying what it is
    assert parsed == IgnoredEvent(f"tag {tag} is {kind} stored beside an image: never deployed")


def test_a_dry_run_of_a_signature_says_why_it_is_ignored() -> None:
    # Given the sample signature push copied from the logs for a dry run
    event = {**load_event("ecr-push-signature.json"), "dryRun": True}

    # When it is parsed
    parsed = parse(event)

    # Then the result says it is ignored, and why
    assert isinstance(parsed, IgnoredEvent)
    assert parsed.as_result() == {
        "status": "IGNORED",
        "reason": f"tag sha256-{HEX}.sig is a signature stored beside an image: never deployed",
    }


def test_a_manual_deploy_of_a_signature_tag_is_ignored() -> None:
    # Given a console request to deploy a signature's tag
    request = {"repository": "api", "tag": f"sha256-{HEX}.att"}

    # When it is parsed
    parsed = parse(request)

    # Then it is ignored with the reason, rather than looked up and deployed
    assert parsed == IgnoredEvent(f"tag sha256-{HEX}.att is an attestation stored beside an image: never deployed")


@pytest.mark.parametrize(
    "tag", ["v1.5.0", "sha256-release", "sig", "build-42.sig", f"sha256-{HEX}.sigs", "sha256-.sig"]
)
def test_a_tag_merely_resembling_an_artifact_is_an_image(tag: str) -> None:
    # Given a tag that is not cosign's shape, with an image's media types
    # When it is judged
    # Then it is no artifact
    assert artifact_reason(tag, "application/vnd.oci.image.manifest.v1+json") is None


def test_a_media_type_quoted_in_a_reason_is_bounded() -> None:
    # Given an artifact media type far longer than any real one
    reason = artifact_reason("v1", "", "application/x-" + "a" * 5000)

    # When the reason is built
    # Then it quotes the media type bounded
    assert reason is not None
    assert len(reason) < 400


def test_a_media_type_of_the_wrong_json_type_is_refused_naming_the_field() -> None:
    # Given a push whose manifest-media-type is a number
    event = push_with()
    event["detail"]["manifest-media-type"] = 7

    # When it is parsed
    # Then the event is malformed, naming the field
    with pytest.raises(InvalidEventError, match=r"detail\.manifest-media-type"):
        parse(event)
