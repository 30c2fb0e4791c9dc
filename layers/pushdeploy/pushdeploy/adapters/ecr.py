"""ECR: the digest behind a tag (manual deploys); scan findings and signing statuses (the gates)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.errors import ImageNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

    from pushdeploy.domain.gates import ScanFindings, SigningStatus


class EcrImages:
    """Looks up images by tag."""

    def __init__(self, client: ECRClient) -> None:
        self._client = client

    def find_image(self, repository: str, tag: str, registry: str | None = None) -> tuple[str, str]:
        """The digest and registry id of ``repository:tag`` (in ``registry``'s registry, an account id, when
        given: its repository policy must grant this stack's role ecr:DescribeImages); ImageNotFoundError when
        there is none."""
        with aws_call("ecr:DescribeImages"):
            try:
                if registry:
                    response = self._client.describe_images(
                        registryId=registry, repositoryName=repository, imageIds=[{"imageTag": tag}]
                    )
                else:
                    response = self._client.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
            except ClientError as exc:
                code = error_code(exc)
                if code == "RepositoryNotFoundException":
                    registry_name = f"registry {registry}" if registry else "ECR"
                    raise ImageNotFoundError(f"repository {repository} does not exist in {registry_name}") from exc
                if code == "ImageNotFoundException":
                    raise ImageNotFoundError(f"tag {tag} not found in repository {repository}") from exc
                raise
        details = response.get("imageDetails", [])
        if not details:
            raise ImageNotFoundError(f"tag {tag} not found in repository {repository}")
        return details[0]["imageDigest"], details[0]["registryId"]


class EcrImageSignals:
    """What ECR says of a digest for the gates: its scan findings and its signing statuses."""

    def __init__(self, client: ECRClient) -> None:
        self._client = client

    def scan_findings(self, repository: str, digest: str) -> ScanFindings:
        """The digest's scan status and severity counts; ``NOT_FOUND`` when ECR has no scan of it (yet)."""
        # The gates' module is imported by the gates only: a push to a target without gates never loads it.
        from pushdeploy.domain.gates import ScanFindings  # noqa: PLC0415

        with aws_call("ecr:DescribeImageScanFindings"):
            try:
                response = self._client.describe_image_scan_findings(
                    repositoryName=repository, imageId={"imageDigest": digest}, maxResults=1
                )
            except ClientError as exc:
                code = error_code(exc)
                if code == "ScanNotFoundException":
                    return ScanFindings("NOT_FOUND")
                if code in {"RepositoryNotFoundException", "ImageNotFoundException"}:
                    raise ImageNotFoundError(f"image {digest} not found in repository {repository}") from exc
                raise
        status = response.get("imageScanStatus", {})
        counts = response.get("imageScanFindings", {}).get("findingSeverityCounts", {})
        return ScanFindings(
            str(status.get("status", "NOT_FOUND")),
            {str(severity): int(count) for severity, count in counts.items()},
            status.get("description"),
        )

    def signing_status(self, repository: str, digest: str) -> SigningStatus:
        """The digest's signing status per signing profile (none: the image is not signed)."""
        from pushdeploy.domain.gates import ProfileSignature, SigningStatus  # noqa: PLC0415 - as scan_findings

        with aws_call("ecr:DescribeImageSigningStatus"):
            try:
                response = self._client.describe_image_signing_status(
                    repositoryName=repository, imageId={"imageDigest": digest}
                )
            except ClientError as exc:
                if error_code(exc) in {"RepositoryNotFoundException", "ImageNotFoundException"}:
                    raise ImageNotFoundError(f"image {digest} not found in repository {repository}") from exc
                raise
        return SigningStatus(
            tuple(
                ProfileSignature(
                    str(entry.get("signingProfileArn", "")), str(entry.get("status", "")), entry.get("failureReason")
                )
                for entry in response.get("signingStatuses", [])
            )
        )
