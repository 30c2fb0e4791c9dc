"""The unit tests' own guarantees: no network, and a core that imports no AWS library."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "pushdeploy"


def test_connections_are_refused() -> None:
    # Given the unit-test network block
    # When anything tries to open a connection
    # Then it is refused before leaving the process
    with pytest.raises(RuntimeError, match="network blocked in unit tests"):
        socket.create_connection(("sts.amazonaws.com", 443), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(RuntimeError):
        sock.connect(("127.0.0.1", 9))


def test_pure_core_imports_no_aws_sdk() -> None:
    # Given a fresh interpreter
    code = (
        "import sys\n"
        "import pushdeploy.domain.config, pushdeploy.domain.messages, pushdeploy.domain.push\n"
        "import pushdeploy.domain.report, pushdeploy.domain.secrets, pushdeploy.domain.service\n"
        "import pushdeploy.domain.tags, pushdeploy.domain.taskdef, pushdeploy.domain.ports\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'boto3', 'botocore', 'moto'}))\n"
    )

    # When every module of the pure core is imported
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(LAYER)}, capture_output=True, text=True, check=True
    )

    # Then no AWS SDK module was loaded
    assert result.stdout.strip() == "[]"
