"""What is being deployed: a pushed image, and where in AWS the target lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pushdeploy.domain.accounts import repository_key
from pushdeploy.domain.errors import DeployError, quote
from pushdeploy.domain.ledger import PushRecord
from pushdeploy.domain.names import parse_arn
from pushdeploy.domain.requests import ManualDeployRequest


class Trigger(StrEnum):
    """What started a deploy."""

    PUSH = "push"
    MANUAL = "manual"
    ROLLBACK = "rollback"
    PROMOTE = "promote"  # the digest another target completed, after its soak (domain.promotion)


@dataclass(frozen=True)
class ImagePush:
    """An image, pinned by digest, and the tag it was pushed (or asked for) under."""

    repository: str
    tag: str
    digest: str
    registry: str
    trigger: Trigger
    event_id: str
    pushed_at: float = 0.0  # epoch seconds: the push event's time, or when a manual deploy was asked for
    targets: tuple[str, ...] | None = None  # a manual deploy may name the targets it is meant for
    dry_run: bool = False  # plan only: nothing registered, updated, recorded or published
    requested_by: str | None = None  # who asked for a manual deploy, when the request says
    version: str | None = None  # the tag's semantic version, set per target when its policy orders by version
    # The registry account qualifying the repository's config path and ledger key (domain.accounts): a
    # foreign registry's; None for the stack's own registry.
    registry_account: str | None = None
    override_gates: str | None = None  # a manual deploy's reason to pass the gates unasked (domain.gates)
    gate_wait_over: bool = False  # resumed by its gates' timeout: a gate still waiting fails
    promotion: Mapping[str, Any] | None = None  # a promotion's chain (domain.promotion), for the notification

    @property
    def config_key(self) -> str:
        """The repository's config path below ConfigPrefix, and its key in the deploy ledger."""
        return repository_key(self.repository, self.registry_account)

    @property
    def repository_uri(self) -> str:
        """``<registry>/<repository>``, the image name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def record(self) -> PushRecord:
        """What the deploy ledger keeps of this push."""
        return PushRecord(self.digest, self.tag, self.pushed_at, self.event_id, self.version)

    @property
    def image_uri(self) -> str:
        """The image pinned by digest: ``<registry>/<repository>@sha256:...`` (empty while the digest is not
        known, as when a manual deploy fails before finding it)."""
        return f"{self.repository_uri}@{self.digest}" if self.digest else ""


def ecr_registry(account: str, region: str) -> str:
    """The registry host of an account's private ECR registry in ``region``."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


@dataclass(frozen=True)
class AwsLocation:
    """Partition, Region and account of a resource, read from its ARN."""

    partition: str
    region: str
    account: str

    @classmethod
    def from_arn(cls, arn: str) -> AwsLocation:
        """Parse ``arn:<partition>:<service>:<region>:<account>:...``."""
        parsed = parse_arn(arn)
        if parsed is None:
            raise DeployError(f"not an ARN: {quote(arn)}")
        return cls(partition=parsed.partition, region=parsed.region, account=parsed.account)

    def parameter_arn(self, name: str) -> str:
        """The ARN of Parameter Store parameter ``name`` here (the leading slash is not repeated)."""
        return f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter/{name.lstrip('/')}"


def manual_push(
    request: ManualDeployRequest, digest: str, registry: str, *, now: float, registry_account: str | None = None
) -> ImagePush:
    """The push a manual deploy request stands for: its tag pinned to ``digest`` (empty when the lookup
    failed), asked for ``now``."""
    return ImagePush(
        repository=request.repository,
        tag=request.tag,
        digest=digest,
        registry=registry,
        trigger=Trigger.MANUAL,
        event_id=request.event_id,
        pushed_at=now,
        targets=request.targets,
        dry_run=request.dry_run,
        requested_by=request.requested_by,
        registry_account=registry_account,
        override_gates=request.override_gates,
    )
