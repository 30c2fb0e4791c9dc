"""Names and ARNs: the patterns input is checked against, and the helpers that read names out of ARNs.

Every pattern is meant for ``fullmatch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT_ID = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-\d{1,2}")
# ECR: 2-256 characters, lowercase path segments.
REPOSITORY = re.compile(r"(?=.{2,256}\Z)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # EventBridge ids are UUIDs; this bounds the ledger's keys
TARGET = re.compile(r"[A-Za-z0-9_.-]{1,128}")
DEPLOYMENT_ID = re.compile(r"ecs-svc/\d{1,32}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WEBHOOK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # a parameter name under the stack's SlackWebhookPath
# A cluster or service is named (1-255 letters, digits, hyphens, underscores) or given by its ARN.
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
ECS_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:(cluster|service)/[A-Za-z0-9_/-]{1,512}")
FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")
PARAMETER_NAME = re.compile(r"/?[A-Za-z0-9_.\-/]{1,2048}")
SSM_ARN = re.compile(r"arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_.\-/]+")
SECRETS_MANAGER_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+")


@dataclass(frozen=True)
class Arn:
    """The parts of ``arn:<partition>:<service>:<region>:<account>:<resource>``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN, or None when ``text`` is not one (a plain name, say)."""
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return Arn(partition=parts[1], service=parts[2], region=parts[3], account=parts[4], resource=parts[5])


def account_of(arn: str) -> str | None:
    """The 12-digit account of an ARN (a Lambda context's ``invoked_function_arn``), or None."""
    parsed = parse_arn(arn)
    return parsed.account if parsed is not None and ACCOUNT_ID.fullmatch(parsed.account) else None


def resource_name(name_or_arn: str) -> str:
    """``staging`` for ``staging`` and for ``arn:aws:ecs:...:cluster/staging``."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def service_cluster(service_arn: str) -> str | None:
    """The cluster a service ARN names (``arn:...:service/<cluster>/<name>``); None for the old format
    (``service/<name>``) and for a plain name."""
    parsed = parse_arn(service_arn)
    if parsed is None or not parsed.resource.startswith("service/"):
        return None
    segments = parsed.resource.split("/")
    return segments[1] if len(segments) == 3 else None


def family_of(task_definition_arn: str) -> str:
    """``api-staging`` for ``arn:aws:ecs:...:task-definition/api-staging:7``."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def target_name(parameter: str) -> str:
    """A target's name: the last segment of its parameter name."""
    return parameter.rstrip("/").rsplit("/", 1)[-1]


def short_digest(digest: str | None) -> str:
    """``sha256:4f4f4f4f4f4f`` (12 hex digits), as people read digests."""
    return (digest or "")[:19]
