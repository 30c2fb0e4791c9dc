"""Lazy imports, for the deploy function's cold start: a deploy whose targets use globs and regular expressions
only never loads the version library (the first semver: pattern does), and the handler's import loads none of the
modules of gates, promotions, approvals (Slack), timers or workload accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "pushdeploy"

ADMIT = (
    "import sys\n"
    "from pushdeploy.domain.plan import admit_target\n"
    "from pushdeploy.domain.push import ImagePush, Trigger\n"
    "push = ImagePush('api', 'v1.4.2', 'sha256:' + 'a' * 64, 'registry', Trigger.PUSH, 'event-1')\n"
    "def admit(tags):\n"
    '    config = \'{"cluster": "c", "service": "s", "tags": %s}\' % tags\n'
    "    return admit_target(push, '/p/api/t', config, allowed_clusters=['*'], account=None, region=None)\n"
    'admit(\'["v*", "regex:build-[0-9]+"]\')\n'
    "print('semantic_version' in sys.modules)\n"
    "admit('[\"semver:^1.4\"]')\n"
    "print('semantic_version' in sys.modules)\n"
)


def test_only_a_semver_pattern_loads_the_version_library() -> None:
    # Given a fresh interpreter with the layer on its path (and wherever the library is installed)
    path = os.pathsep.join([str(LAYER), *sys.path])

    # When a glob and regex target, then a semver target, admit a push
    result = subprocess.run(
        [sys.executable, "-c", ADMIT], env={"PYTHONPATH": path}, capture_output=True, text=True, check=True
    )

    # Then the library was not loaded for the first, and was for the second
    assert result.stdout.split() == ["False", "True"]


FEATURE_MODULES = (
    "pushdeploy.domain.gates",
    "pushdeploy.domain.promotion",
    "pushdeploy.usecases.gating",
    "pushdeploy.usecases.promotion",
    "pushdeploy.usecases.approvals",
    "pushdeploy.domain.slack",
    "pushdeploy.domain.webhook",
    "pushdeploy.adapters.ledger_waits",
    "pushdeploy.adapters.scheduler",
    "pushdeploy.adapters.sts",
    "pushdeploy.adapters.signing",
)
IMPORT_HANDLER = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('app', sys.argv[1])\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
    "print(sorted(m for m in sys.argv[2:] if m in sys.modules))\n"
)


def test_the_deploy_functions_import_loads_no_feature_module() -> None:
    # Given a fresh interpreter with the layer on its path, as Lambda starts the deploy function
    path = os.pathsep.join([str(LAYER), *sys.path])
    handler = ROOT / "functions" / "deploy" / "app.py"
    environment = {"PYTHONPATH": path, "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}

    # When its handler module is imported
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLER, str(handler), *FEATURE_MODULES],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )

    # Then none of the gates', promotions', approvals' (Slack's), timers' or workload accounts' modules is loaded
    assert result.stdout.strip() == "[]"
