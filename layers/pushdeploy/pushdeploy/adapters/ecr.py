"""ECR: the digest behind a tag, for manual deploys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pushdeploy.adapters.errors import aws_call, error_code
from pushdeploy.domain.errors import ImageNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


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
