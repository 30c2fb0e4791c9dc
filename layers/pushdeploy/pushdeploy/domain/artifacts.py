"""Pushes that are no image to run: signatures, attestations, SBOMs. They never deploy, whatever a target's
patterns say.

ECR's push event names the pushed manifest's media type (``manifest-media-type``) and its config's
(``artifact-media-type``): an image is a Docker or OCI image manifest (or an index of them) whose config is an
image config. Cosign stores its signatures, attestations and SBOMs as OCI image manifests under tags
``sha256-<digest>.sig``, ``.att`` and ``.sbom`` (their media types can pass for an image's), so the tag's shape
counts too. Events without the media-type fields (older ones) are judged by the tag alone.
"""

from __future__ import annotations

import re

from pushdeploy.domain.errors import shorten

IMAGE_MANIFESTS = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.oci.image.manifest.v1+json",
    }
)
IMAGE_INDEXES = frozenset(
    {"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json"}
)
IMAGE_CONFIGS = frozenset(
    {"application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json"}
)
# Cosign's tags for what it stores beside an image: sha256-<hex of the image's digest>.sig / .att / .sbom
ARTIFACT_TAG = re.compile(r"sha256-[0-9a-fA-F]{6,64}\.(sig|att|sbom)")
_ARTIFACT_KINDS = {"sig": "a signature", "att": "an attestation", "sbom": "an SBOM"}


def artifact_reason(tag: str, manifest_media_type: str = "", artifact_media_type: str = "") -> str | None:
    """Why a push is no image to deploy (a signature, attestation or SBOM, or another non-image artifact), or
    None for an image. Empty media types are unknown, not wrong."""
    shaped = ARTIFACT_TAG.fullmatch(tag)
    if shaped:
        return f"tag {shorten(tag)} is {_ARTIFACT_KINDS[shaped.group(1)]} stored beside an image: never deployed"
    if manifest_media_type and manifest_media_type not in IMAGE_MANIFESTS | IMAGE_INDEXES:
        return (
            f"manifest media type {shorten(manifest_media_type)} is not an image manifest or index "
            f"(a signature, attestation or other artifact): tag {shorten(tag)} is never deployed"
        )
    # An index's event may repeat a manifest type here; any other type names an artifact, not an image config.
    if artifact_media_type and artifact_media_type not in IMAGE_CONFIGS | IMAGE_MANIFESTS | IMAGE_INDEXES:
        return (
            f"artifact media type {shorten(artifact_media_type)} is not a container image's "
            f"(a signature, attestation, SBOM or other artifact): tag {shorten(tag)} is never deployed"
        )
    return None
