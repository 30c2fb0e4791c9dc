"""The gates' config and verdicts, without AWS: each gate passes, waits or fails on what ECR says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain.config import parse_target_config
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.gates import (
    GateOutcome,
    GateOverride,
    GateSettings,
    ProfileSignature,
    ScanFindings,
    ScanGate,
    SignatureGate,
    SigningStatus,
    expire_wait,
    judge_gates,
    judge_scan,
    judge_signature,
)

DIGEST = "sha256:" + "4f" * 32
PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases"
PARAMETER = "/pushdeploy/api/staging"


def config_with(gates: Any) -> str:
    return json.dumps({"cluster": "staging", "service": "api", "tags": ["staging-*"], "gates": gates})


def test_a_gates_block_parses_with_its_defaults() -> None:
    # Given a scan gate without waitMinutes and a signature gate
    raw = config_with({"scan": {"maxSeverity": "HIGH"}, "signature": {"signingProfileArn": PROFILE, "waitMinutes": 60}})

    # When the config is parsed
    gates = parse_target_config(PARAMETER, raw).gates

    # Then each gate is there, the scan's wait 30 minutes by default, the push's wait the longest of both
    assert gates == GateSettings(ScanGate("HIGH", 30), SignatureGate(PROFILE, 60))
    assert gates.wait_minutes == 60


@pytest.mark.parametrize(
    ("gates", "problem"),
    [
        ({"scan": {"maxSeverity": "SEVERE"}}, "'gates.scan.maxSeverity' must be one of INFORMATIONAL, LOW"),
        ({"scan": {"maxSeverity": "HIGH", "waitMinutes": 0}}, "'gates.scan.waitMinutes' must be a whole number"),
        ({"scan": {"maxSeverity": "HIGH", "waitMinutes": 1441}}, "minutes 1-1440"),
        ({"scan": {"maxSeverity": "HIGH", "waitMinutes": True}}, "'gates.scan.waitMinutes'"),
        ({"signature": {"signingProfileArn": "arn:aws:signer:us-east-1:1:/x"}}, "'gates.signature.signingProfileArn'"),
        ({"signature": {}}, "'gates.signature.signingProfileArn' must be a signing profile ARN"),
        ({"scan": {"maxSeverity": "HIGH", "wait": 5}}, "unknown field 'gates.scan.wait'"),
        ({"sbom": {}}, "unknown field 'gates.sbom'"),
        ({}, "field 'gates' names no gate"),
        (["scan"], "field 'gates' must be an object, got an array"),
    ],
)
def test_a_bad_gates_block_fails_the_target_naming_the_field(gates: Any, problem: str) -> None:
    # Given a config whose gates block is wrong, when it is parsed, then the error names the field
    with pytest.raises(ConfigError, match=problem) as raised:
        parse_target_config(PARAMETER, config_with(gates))
    assert PARAMETER in str(raised.value)


@pytest.mark.parametrize(
    ("max_severity", "counts", "outcome"),
    [
        ("HIGH", {"HIGH": 3, "MEDIUM": 9}, GateOutcome.PASS),
        ("HIGH", {"CRITICAL": 1}, GateOutcome.FAIL),
        ("MEDIUM", {"HIGH": 1}, GateOutcome.FAIL),
        ("CRITICAL", {"CRITICAL": 4}, GateOutcome.PASS),
        ("CRITICAL", {"UNDEFINED": 1}, GateOutcome.FAIL),  # a finding ECR could not rate counts as one above
        ("INFORMATIONAL", {"LOW": 0, "INFORMATIONAL": 2}, GateOutcome.PASS),  # a zero count is no finding
    ],
)
def test_the_scan_gate_fails_on_a_finding_above_its_severity(
    max_severity: str, counts: dict[str, int], outcome: GateOutcome
) -> None:
    # Given completed findings, when the scan gate judges them, then only findings above maxSeverity fail it
    check = judge_scan(ScanGate(max_severity), ScanFindings("COMPLETE", counts), digest=DIGEST)
    assert check.outcome is outcome


def test_a_failing_scan_names_the_counts_most_severe_first() -> None:
    # Given findings above HIGH of two severities
    check = judge_scan(
        ScanGate("MEDIUM"), ScanFindings("COMPLETE", {"HIGH": 2, "CRITICAL": 1, "LOW": 5}), digest=DIGEST
    )

    # Then the reason counts them, the most severe first
    assert check.reason == "1 CRITICAL, 2 HIGH above maxSeverity MEDIUM"


@pytest.mark.parametrize("status", ["IN_PROGRESS", "PENDING", "NOT_FOUND"])
def test_findings_not_ready_make_the_scan_gate_wait(status: str) -> None:
    # Given a scan in progress, pending, or not found yet
    check = judge_scan(ScanGate("HIGH", 20), ScanFindings(status), digest=DIGEST)

    # Then the gate waits, saying for what and how long
    assert check.outcome is GateOutcome.WAIT
    assert check.waiting_for == f"the scan findings of {DIGEST[:19]}" and "up to 20 min" in check.reason


@pytest.mark.parametrize("status", ["FAILED", "UNSUPPORTED_IMAGE", "FINDINGS_UNAVAILABLE", "SCAN_ELIGIBILITY_EXPIRED"])
def test_a_scan_that_will_never_have_findings_fails_the_gate(status: str) -> None:
    check = judge_scan(ScanGate("HIGH"), ScanFindings(status, description="no"), digest=DIGEST)
    assert check.outcome is GateOutcome.FAIL and status in check.reason


@pytest.mark.parametrize(
    ("signatures", "outcome"),
    [
        ((ProfileSignature(PROFILE, "COMPLETE"),), GateOutcome.PASS),
        ((ProfileSignature(PROFILE, "IN_PROGRESS"),), GateOutcome.WAIT),
        ((ProfileSignature(PROFILE, "FAILED", "key revoked"),), GateOutcome.FAIL),
        ((ProfileSignature(PROFILE.replace("releases", "other"), "COMPLETE"),), GateOutcome.FAIL),  # another profile
        ((), GateOutcome.FAIL),  # not signed at all
    ],
)
def test_the_signature_gate_wants_a_complete_signature_by_its_profile(
    signatures: tuple[ProfileSignature, ...], outcome: GateOutcome
) -> None:
    assert judge_signature(SignatureGate(PROFILE), SigningStatus(signatures)).outcome is outcome


def test_a_failing_gate_decides_over_a_waiting_one() -> None:
    # Given a scan still in progress and a failed signature
    verdict = judge_gates(
        GateSettings(ScanGate("HIGH"), SignatureGate(PROFILE)),
        digest=DIGEST,
        scan=ScanFindings("IN_PROGRESS"),
        signing=SigningStatus((ProfileSignature(PROFILE, "FAILED"),)),
    )

    # Then the verdict fails (no point waiting), naming the signature gate
    assert verdict.outcome is GateOutcome.FAIL
    assert verdict.reason.startswith("signature gate: signing by")


def test_an_override_passes_the_gates_unasked_and_says_who_and_why() -> None:
    # Given an override, when the gates are judged (nothing asked of ECR)
    verdict = judge_gates(
        GateSettings(ScanGate("HIGH")),
        digest=DIGEST,
        scan=None,
        signing=None,
        override=GateOverride("hotfix", "alice"),
    )

    # Then they pass, and the notification says who overrode them and why
    assert verdict.outcome is GateOutcome.PASS
    assert verdict.notification_fields() == {
        "gates": {"decision": "OVERRIDDEN", "override": {"reason": "hotfix", "requestedBy": "alice"}}
    }


def test_a_wait_that_ends_still_waiting_fails_naming_what_never_came() -> None:
    # Given a verdict still waiting for the findings when the push's wait ends
    waiting = judge_gates(GateSettings(ScanGate("HIGH", 30)), digest=DIGEST, scan=ScanFindings("PENDING"), signing=None)

    # When its wait expires
    expired = expire_wait(waiting, 30)

    # Then it fails, naming what did not come; a verdict that did not wait is left as it is
    assert expired.outcome is GateOutcome.FAIL
    assert expired.reason == f"scan gate: the scan findings of {DIGEST[:19]} did not come within 30 min"
    passed = judge_gates(GateSettings(ScanGate("HIGH")), digest=DIGEST, scan=ScanFindings("COMPLETE"), signing=None)
    assert expire_wait(passed, 30) is passed
