"""Item 3, continued: the size of what `sam build` ships (functions and layer), unzipped and zipped."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.world import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"
DEPLOY_ARTIFACTS = ("DeployFunction", "PushdeployLayer")


def python313_bin() -> str:
    """A directory with python3.13 for `sam build` (pyenv's, else this interpreter's base)."""
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        found = sorted(glob.glob(f"{root}/versions/3.13.*/bin"))
        if found:
            return found[0]
    except (OSError, subprocess.CalledProcessError):
        pass
    return str(Path(sys.base_prefix) / "bin")


def du_bytes(path: Path) -> int:
    """``du -sb``: the apparent size of a directory tree."""
    output = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(output.split()[0])


def zipped_bytes(path: Path) -> int:
    """The size of the directory as a deflated zip (as `sam package` uploads it)."""
    with tempfile.NamedTemporaryFile(suffix=".zip") as archive:
        with zipfile.ZipFile(archive.name, "w", zipfile.ZIP_DEFLATED) as output:
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    output.write(file, file.relative_to(path))
        return os.path.getsize(archive.name)


def package_size(scratch: Path) -> dict[str, Any]:
    """Run `sam build` into ``scratch`` (outside the repo; the caller removes it) and measure each artifact.

    The build stays in ``scratch/build`` for the cold start of the package as built (bench.coldstart).
    """
    if not SAM.exists():
        raise RuntimeError(f"{SAM} not found: run `make install` first")
    environment = {
        **os.environ,
        "PATH": f"{python313_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    build_dir = scratch / "build"
    command = [str(SAM), "build", "-t", str(ROOT / "template.yaml"), "--base-dir", str(ROOT)]
    command += ["--build-dir", str(build_dir)]
    started = time.perf_counter()
    # cwd is the scratch directory: sam writes its .aws-sam/deps there, not into the repository.
    completed = subprocess.run(
        command, cwd=scratch, env=environment, capture_output=True, text=True, timeout=900, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"sam build failed: {(completed.stdout + completed.stderr)[-2000:]}")
    # As `make build` does: the layer's botocore models trimmed to the services called, and the bytecode compiled
    # (Lambda's code is read-only: bytecode not shipped is compiled at every cold start).
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "package_layer.py"), str(build_dir)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    artifacts = {}
    for directory in sorted(path for path in build_dir.iterdir() if path.is_dir()):
        artifacts[directory.name] = {
            "bytes": du_bytes(directory),
            "zipped_bytes": zipped_bytes(directory),
            "py_files": sum(1 for _ in directory.rglob("*.py")),
            # Lambda's code is read-only: a module without its .pyc is compiled on every cold start.
            "pyc_files": sum(1 for _ in directory.rglob("*.pyc")),
        }
    deploy = {
        "bytes": sum(artifacts[name]["bytes"] for name in DEPLOY_ARTIFACTS if name in artifacts),
        "zipped_bytes": sum(artifacts[name]["zipped_bytes"] for name in DEPLOY_ARTIFACTS if name in artifacts),
    }
    return {
        "build_seconds": round(seconds, 1),
        "artifacts": artifacts,
        "deploy_function_with_layer": deploy,
        "build_dir": str(build_dir),
        "notes": [
            "sam build --build-dir <scratch> (python3.13, arm64 wheels), then tools/package_layer.py as make build "
            "runs it (botocore models of the services called only; bytecode compiled); sizes by du -sb and a "
            "deflated zip"
        ],
    }
