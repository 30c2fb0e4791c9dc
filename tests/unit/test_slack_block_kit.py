"""Slack's renderer against Slack's own typed Block Kit models (slack_sdk, a development dependency only):
every block parses as its type, passes the models' validation of Slack's limits and round-trips unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from pushdeploy.domain.notification import STATUSES
from pushdeploy.domain.slack import render_slack
from tests.unit.builders import REGION
from tests.unit.notification_records import published_record

blocks = pytest.importorskip("slack_sdk.models.blocks")


def assert_block_kit(payload: dict[str, Any]) -> None:
    for block in payload["blocks"]:
        parsed = blocks.Block.parse(block)
        assert parsed is not None, block
        assert type(parsed).__name__ != "Block", f"unknown block type {block['type']}"
        assert parsed.to_dict() == block  # to_dict runs the models' validators (lengths, counts)


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_renders_blocks_slacks_models_accept(status: str) -> None:
    # Given a published record of each status, with the Region its links need
    # When it is rendered for Slack
    payload = render_slack(published_record(status), region=REGION)

    # Then Slack's models accept every block as it is
    assert_block_kit(payload)


def test_long_texts_are_cut_to_what_slacks_models_accept() -> None:
    # Given a failure with a very long reason, a long target and 200 warnings
    record = {
        **published_record("FAILED"),
        "target": "t" * 400,
        "reason": "<&>" * 5000,
        "warnings": [f"warning {index} " + "w" * 600 for index in range(200)],
    }

    # When it is rendered
    # Then the cut texts still pass Slack's own validation
    assert_block_kit(render_slack(record, region=REGION))
