"""The template's rule for the gates: ECR's and Inspector's scan events reach the deploy function, nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from tools.template import load_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events").glob("*.json"))
SCAN_SAMPLES = {"ecr-scan.json", "inspector2-scan.json"}


@pytest.fixture(scope="module")
def scan_pattern() -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    rule = template["Resources"]["DeployFunction"]["Properties"]["Events"]["ImageScanFindingsReady"]
    assert rule["Type"] == "EventBridgeRule" and rule["Properties"]["DeadLetterConfig"]
    pattern: dict[str, Any] = rule["Properties"]["Pattern"]
    return pattern


@pytest.mark.parametrize("sample", EVENTS, ids=lambda path: path.name)
def test_the_scan_rule_matches_the_scan_events_only(scan_pattern: dict[str, Any], sample: Path) -> None:
    # Given a sample event, when EventBridge matches it against the rule's pattern (moto's matcher)
    event = json.loads(sample.read_text())
    matched = EventPattern.load(json.dumps(scan_pattern)).matches_event(event)

    # Then only ECR's and Inspector's scan events match
    assert matched == (sample.name in SCAN_SAMPLES)
