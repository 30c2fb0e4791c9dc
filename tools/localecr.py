"""The local AWS's ECR signals: scan findings and signing statuses, in botocore's shapes, set by the caller.

moto's DescribeImageScanFindings answers a fixed HIGH finding once a scan was started (or ScanNotFound), and
moto has no DescribeImageSigningStatus at all. The local ECS layer hands both calls here: a digest the caller
gave findings (``set_scan``) or signatures (``set_signing``) is answered from that; any other digest's scan goes
on to moto, and its signing status is "not signed" (no statuses), as ECR answers for an unsigned image.
``scan_event`` builds the ``ECR Image Scan`` event ECR emits when findings are ready.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."


@dataclass
class LocalEcrSignals:
    """Findings and signatures by (repository, digest)."""

    scans: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    signatures: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def set_scan(
        self, repository: str, digest: str, status: str, counts: dict[str, int] | None = None, description: str = ""
    ) -> None:
        """What DescribeImageScanFindings answers for the digest: ``status`` (IN_PROGRESS, COMPLETE, FAILED...)
        and, when COMPLETE, the severity counts (one finding per count); status NOT_FOUND raises
        ScanNotFoundException."""
        with self.lock:
            self.scans[(repository, digest)] = {
                "status": status,
                "counts": dict(counts or {}),
                "description": description,
            }

    def set_signing(self, repository: str, digest: str, profile_arn: str, status: str, reason: str = "") -> None:
        """One signing profile's status of the digest (IN_PROGRESS, COMPLETE, FAILED)."""
        with self.lock:
            statuses = [
                s for s in self.signatures.get((repository, digest), []) if s["signingProfileArn"] != profile_arn
            ]
            entry: dict[str, Any] = {"signingProfileArn": profile_arn, "status": status}
            if reason:
                entry |= {"failureCode": "SIGNING_FAILED", "failureReason": reason}
            self.signatures[(repository, digest)] = [*statuses, entry]

    def reset(self) -> None:
        with self.lock:
            self.scans.clear()
            self.signatures.clear()

    def answer(self, operation: str, params: dict[str, Any], account: str) -> tuple[int, dict[str, Any]] | None:
        """The answer to an ECR call this layer owns (status, JSON body), or None to forward it to moto."""
        repository = str(params.get("repositoryName", ""))
        digest = str((params.get("imageId") or {}).get("imageDigest", ""))
        image_id = {"imageDigest": digest}
        with self.lock:
            if operation == "DescribeImageScanFindings":
                scan = self.scans.get((repository, digest))
                if scan is None:
                    return None
                if scan["status"] == "NOT_FOUND":
                    return 400, {
                        "__type": "ScanNotFoundException",
                        "message": f"Image scan does not exist for the image with '{{imageDigest:'{digest}'}}' "
                        f"in the repository with name '{repository}' in the registry with id '{account}'",
                    }
                body: dict[str, Any] = {
                    "registryId": account,
                    "repositoryName": repository,
                    "imageId": image_id,
                    "imageScanStatus": {"status": scan["status"], "description": scan["description"] or scan["status"]},
                }
                if scan["status"] in {"COMPLETE", "ACTIVE"}:
                    body["imageScanFindings"] = {
                        "imageScanCompletedAt": datetime.now(UTC).timestamp(),
                        "findingSeverityCounts": {k: v for k, v in scan["counts"].items() if v > 0},
                        "findings": [
                            {"name": f"CVE-2026-{index:04d}", "severity": severity, "uri": "https://cve.example/"}
                            for severity, count in scan["counts"].items()
                            for index in range(count)
                        ][:100],
                    }
                return 200, body
            if operation == "DescribeImageSigningStatus":
                return 200, {
                    "repositoryName": repository,
                    "imageId": image_id,
                    "registryId": account,
                    "signingStatuses": list(self.signatures.get((repository, digest), [])),
                }
        return None


def scan_event(
    repository: str, digest: str, counts: dict[str, int], *, account: str, region: str, status: str = "COMPLETE"
) -> dict[str, Any]:
    """The ``ECR Image Scan`` event ECR emits when a digest's basic scan ends (a severity only when counted)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "ECR Image Scan",
        "source": "aws.ecr",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:ecr:{region}:{account}:repository/{repository}"],
        "detail": {
            "scan-status": status,
            "repository-name": repository,
            "finding-severity-counts": {k: v for k, v in counts.items() if v > 0},
            "image-digest": digest,
            "image-tags": [],
        },
    }


def error_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
