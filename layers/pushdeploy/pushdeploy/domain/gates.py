"""Supply-chain gates: what a target requires of an image before anything is registered, and the verdict.

A target's ``gates`` block names a scan gate (no finding above ``maxSeverity``) and a signature gate (the image
signed by a signing profile). ECR's answers (``ScanFindings``, ``SigningStatus``) are judged here, for the real
run and the dry run alike: each gate passes, fails, or waits for ECR (findings not ready, a signature in
progress); a deploy that waits records itself and resumes on the scan event or fails when its wait ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote as url_quote

from pushdeploy.domain.errors import ConfigError, json_type, quote, quote_name, shorten

# Ascending; UNDEFINED (a finding ECR could not rate) always counts as a finding above any maxSeverity.
SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
UNDEFINED = "UNDEFINED"
WAIT_MINUTES_RANGE = (1, 1440)  # a gate waits at least a minute (a timer's precision), at most a day
DEFAULT_WAIT_MINUTES = 30
GATE_FIELDS = frozenset({"scan", "signature"})
SCAN_FIELDS = frozenset({"maxSeverity", "waitMinutes"})
SIGNATURE_FIELDS = frozenset({"signingProfileArn", "waitMinutes"})
# arn:aws:signer:<region>:<account>:/signing-profiles/<name> (Signer's own form, with the slash).
SIGNING_PROFILE_ARN = re.compile(
    r"arn:aws[a-z-]*:signer:[a-z]{2}(-[a-z]+)+-\d:\d{12}:/signing-profiles/[A-Za-z0-9_]{2,64}"
)

# ECR scan statuses: findings ready, not ready yet, or never coming for this image.
READY_STATUSES = frozenset({"COMPLETE", "ACTIVE"})
NOT_READY_STATUSES = frozenset({"IN_PROGRESS", "PENDING", "NOT_FOUND"})  # NOT_FOUND: ScanNotFoundException


@dataclass(frozen=True)
class ScanGate:
    max_severity: str
    wait_minutes: int = DEFAULT_WAIT_MINUTES


@dataclass(frozen=True)
class SignatureGate:
    signing_profile_arn: str
    wait_minutes: int = DEFAULT_WAIT_MINUTES


@dataclass(frozen=True)
class GateSettings:
    """A target's ``gates`` block."""

    scan: ScanGate | None = None
    signature: SignatureGate | None = None

    @property
    def wait_minutes(self) -> int:
        """How long a push may wait for its gates, from its first wait: the longest of its gates' waits."""
        return max(gate.wait_minutes for gate in (self.scan, self.signature) if gate is not None)


def parse_gates_block(parameter: str, block: Any) -> GateSettings:
    """Check a target's ``gates`` block; ConfigError names the field."""
    if not isinstance(block, dict):
        raise ConfigError(parameter, f"field 'gates' must be an object, got {json_type(block)}")
    _known(parameter, "gates", block, GATE_FIELDS)
    if not block:
        raise ConfigError(parameter, "field 'gates' names no gate: give 'scan' and/or 'signature', or drop it")
    scan = signature = None
    if "scan" in block:
        scan_block = _object(parameter, "gates.scan", block["scan"])
        _known(parameter, "gates.scan", scan_block, SCAN_FIELDS)
        severity = scan_block.get("maxSeverity")
        if severity not in SEVERITIES:
            raise ConfigError(
                parameter,
                f"field 'gates.scan.maxSeverity' must be one of {', '.join(SEVERITIES)}, got {quote(severity)}",
            )
        scan = ScanGate(str(severity), _wait_minutes(parameter, "gates.scan.waitMinutes", scan_block))
    if "signature" in block:
        signature_block = _object(parameter, "gates.signature", block["signature"])
        _known(parameter, "gates.signature", signature_block, SIGNATURE_FIELDS)
        arn = signature_block.get("signingProfileArn")
        if not isinstance(arn, str) or not SIGNING_PROFILE_ARN.fullmatch(arn):
            raise ConfigError(
                parameter,
                "field 'gates.signature.signingProfileArn' must be a signing profile ARN such as "
                f"arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases, got {quote(arn)}",
            )
        signature = SignatureGate(arn, _wait_minutes(parameter, "gates.signature.waitMinutes", signature_block))
    return GateSettings(scan, signature)


def _object(parameter: str, name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(parameter, f"field '{name}' must be an object, got {json_type(value)}")
    return value


def _known(parameter: str, name: str, block: Mapping[str, Any], known: frozenset[str]) -> None:
    for key in block:
        if key not in known:
            raise ConfigError(
                parameter, f"unknown field {quote_name(f'{name}.{shorten(key)}')}; known: {', '.join(sorted(known))}"
            )


def _wait_minutes(parameter: str, name: str, block: Mapping[str, Any]) -> int:
    value = block.get("waitMinutes", DEFAULT_WAIT_MINUTES)
    low, high = WAIT_MINUTES_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            parameter, f"field '{name}' must be a whole number of minutes {low}-{high}, got {quote(value)}"
        )
    return value


# -- what ECR says ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanFindings:
    """ECR's scan of a digest: its status (``NOT_FOUND`` when ECR has no scan of it) and the counts."""

    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True)
class ProfileSignature:
    signing_profile_arn: str
    status: str  # IN_PROGRESS | COMPLETE | FAILED
    failure_reason: str | None = None


@dataclass(frozen=True)
class SigningStatus:
    """ECR's signing statuses of a digest, one per signing profile that signs it."""

    signatures: tuple[ProfileSignature, ...] = ()


# -- the verdict ------------------------------------------------------------------------------------------


class GateOutcome(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    WAIT = "WAIT"  # ECR has no answer yet: the push waits for the scan event, or for its timeout
    FAIL = "FAIL"


@dataclass(frozen=True)
class GateCheck:
    """One gate's answer."""

    gate: str  # scan | signature
    outcome: GateOutcome
    reason: str
    waiting_for: str | None = None  # what ends the wait, in words

    def as_dict(self) -> dict[str, Any]:
        fields = {"gate": self.gate, "outcome": self.outcome.value, "reason": self.reason}
        return fields | ({"waitingFor": self.waiting_for} if self.waiting_for else {})


@dataclass(frozen=True)
class GateOverride:
    """A manual deploy's ``overrideGates``: the gates are not asked, and everyone is told."""

    reason: str
    requested_by: str

    def describe(self) -> str:
        return f"gates overridden by {self.requested_by}: {self.reason}"


@dataclass(frozen=True)
class GateVerdict:
    outcome: GateOutcome
    checks: tuple[GateCheck, ...] = ()
    override: GateOverride | None = None
    findings_url: str | None = None

    @property
    def reason(self) -> str:
        """The verdict in words: the failing gates, else the waiting ones, else why it passed."""
        if self.override is not None:
            return self.override.describe()
        deciding = [check for check in self.checks if check.outcome is self.outcome] or list(self.checks)
        return "; ".join(f"{check.gate} gate: {check.reason}" for check in deciding)

    @property
    def waiting_for(self) -> str | None:
        waits = [check.waiting_for for check in self.checks if check.outcome is GateOutcome.WAIT and check.waiting_for]
        return " and ".join(waits) if waits else None

    def notification_fields(self, *, deadline: str | None = None) -> dict[str, Any]:
        """The ``gates`` object of the notification record."""
        fields: dict[str, Any] = {"decision": "OVERRIDDEN" if self.override else self.outcome.value}
        if self.checks:
            fields["checks"] = [check.as_dict() for check in self.checks]
        if self.override is not None:
            fields["override"] = {"reason": self.override.reason, "requestedBy": self.override.requested_by}
        if self.waiting_for:
            fields["waitingFor"] = self.waiting_for
        if deadline:
            fields["deadline"] = deadline
        if self.findings_url:
            fields["findingsUrl"] = self.findings_url
        return {"gates": fields}


def judge_scan(gate: ScanGate, findings: ScanFindings, *, digest: str) -> GateCheck:
    """The scan gate: no finding above ``max_severity`` (UNDEFINED counts as one), once findings are ready."""
    if findings.status in NOT_READY_STATUSES:
        state = "no scan yet" if findings.status == "NOT_FOUND" else f"scan {findings.status}"
        return GateCheck(
            "scan",
            GateOutcome.WAIT,
            f"findings not ready ({state}); waiting up to {gate.wait_minutes} min",
            waiting_for=f"the scan findings of {digest[:19]}",
        )
    if findings.status not in READY_STATUSES:
        why = f": {shorten(findings.description)}" if findings.description else ""
        return GateCheck("scan", GateOutcome.FAIL, f"scan status {findings.status}{why}; the findings cannot be judged")
    allowed = SEVERITIES[: SEVERITIES.index(gate.max_severity) + 1]
    above = {severity: count for severity, count in findings.counts.items() if count > 0 and severity not in allowed}
    if above:
        order = [*reversed(SEVERITIES), UNDEFINED]
        counts = ", ".join(
            f"{above[severity]} {severity}"
            for severity in sorted(above, key=lambda s: order.index(s) if s in order else 0)
        )
        return GateCheck("scan", GateOutcome.FAIL, f"{counts} above maxSeverity {gate.max_severity}")
    found = sum(findings.counts.values())
    return GateCheck("scan", GateOutcome.PASS, f"{found} finding(s), none above {gate.max_severity}")


def judge_signature(gate: SignatureGate, status: SigningStatus) -> GateCheck:
    """The signature gate: signed (COMPLETE) by the target's signing profile; IN_PROGRESS waits."""
    profile = gate.signing_profile_arn
    mine = [signature for signature in status.signatures if signature.signing_profile_arn == profile]
    if not mine:
        return GateCheck("signature", GateOutcome.FAIL, f"not signed by {profile}")
    signature = mine[0]
    if signature.status == "COMPLETE":
        return GateCheck("signature", GateOutcome.PASS, f"signed by {profile}")
    if signature.status == "IN_PROGRESS":
        return GateCheck(
            "signature",
            GateOutcome.WAIT,
            f"signing by {profile} in progress; waiting up to {gate.wait_minutes} min",
            waiting_for=f"the signature by {profile.rsplit('/', 1)[-1]}",
        )
    why = f": {shorten(signature.failure_reason)}" if signature.failure_reason else ""
    return GateCheck("signature", GateOutcome.FAIL, f"signing by {profile} {signature.status}{why}")


def judge_gates(
    gates: GateSettings,
    *,
    digest: str,
    scan: ScanFindings | None,
    signing: SigningStatus | None,
    override: GateOverride | None = None,
    findings_url: str | None = None,
) -> GateVerdict:
    """The gates' verdict for ``digest``: overridden, else FAIL if any gate fails, else WAIT if any waits,
    else PASS. ``scan`` and ``signing`` are ECR's answers for the gates the target has (None for the others)."""
    if override is not None:
        return GateVerdict(GateOutcome.PASS, override=override)
    checks: list[GateCheck] = []
    if gates.scan is not None:
        checks.append(judge_scan(gates.scan, scan or ScanFindings("NOT_FOUND"), digest=digest))
    if gates.signature is not None:
        checks.append(judge_signature(gates.signature, signing or SigningStatus()))
    outcomes = {check.outcome for check in checks}
    outcome = next((o for o in (GateOutcome.FAIL, GateOutcome.WAIT) if o in outcomes), GateOutcome.PASS)
    return GateVerdict(outcome, tuple(checks), findings_url=findings_url if gates.scan is not None else None)


def expire_wait(verdict: GateVerdict, wait_minutes: int) -> GateVerdict:
    """A verdict that still waits when the push's wait ends becomes a failure, naming what never came."""
    if verdict.outcome is not GateOutcome.WAIT:
        return verdict
    checks = tuple(
        GateCheck(
            check.gate, GateOutcome.FAIL, f"{check.waiting_for or 'its answer'} did not come within {wait_minutes} min"
        )
        if check.outcome is GateOutcome.WAIT
        else check
        for check in verdict.checks
    )
    return GateVerdict(GateOutcome.FAIL, checks, findings_url=verdict.findings_url)


def findings_console_url(region: str, account: str, repository: str, digest: str) -> str:
    """The image's scan findings in the ECR console."""
    return (
        f"https://{region}.console.aws.amazon.com/ecr/repositories/private/{account}/"
        f"{url_quote(repository, safe='')}/_/image/{digest}/details?region={region}"
    )


# -- a push that waits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingPush:
    """A target's deploy of a push that waits for its gates (the ledger keeps it until it resumes): the push
    as it came, since when it waits and until when."""

    repository: str
    target: str
    digest: str
    tag: str
    registry: str
    trigger: str
    event_id: str  # the push's own event
    pushed_at: float
    since: float
    deadline: float
    requested_by: str | None = None
    gates: tuple[str, ...] = ()  # the gates it waits for
    promotion: Mapping[str, Any] | None = None  # a promotion's chain (domain.promotion), kept through the wait
