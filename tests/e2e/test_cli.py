"""`python -m tools.localaws invoke`: the command a developer runs starts its own local AWS, deploys the
stack, seeds the sample world, delivers the event and stops it all again."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from tests.helpers import ROOT
from tools.localaws import LocalAws
from tools.sample_world import SECRET_VALUE

pytestmark = pytest.mark.e2e


def test_invoke_command_deploys_a_push_on_its_own_local_aws(local: LocalAws, session: boto3.Session) -> None:
    # Given an environment with fake credentials and no AWS_ENDPOINT_URL, and this session's server empty
    local.reset()
    environment = {name: value for name, value in os.environ.items() if name != "AWS_ENDPOINT_URL"}
    environment["PYTHONPATH"] = os.pathsep.join([".", "layers/pushdeploy"])

    # When the command runs the push of staging-42
    completed = subprocess.run(
        [sys.executable, "-m", "tools.localaws", "invoke", "events/ecr-push.json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then it succeeds, the event went through the stack's rule, and the deploy is under way
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "== events/ecr-push.json: rules matched: DeployFunctionEcrPush" in completed.stdout
    assert "-- DeployFunction (1 attempt(s)):" in completed.stdout
    assert '"status": "DEPLOYING"' in completed.stdout
    assert SECRET_VALUE not in completed.stdout + completed.stderr
    # And it used a server of its own: this session's server saw no stack
    assert session.client("cloudformation").describe_stacks()["Stacks"] == []
