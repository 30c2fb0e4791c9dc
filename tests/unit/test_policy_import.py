"""The version library is imported lazily: a deploy whose targets use globs and regular expressions only never
loads it (the deploy function's cold start does not pay for it); the first semver: pattern does."""

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
