"""Finish a `sam build` output for Lambda: trim the layer's botocore models, then compile every module's bytecode.

    python tools/package_layer.py .aws-sam/build

- **Models.** botocore ships the models of every AWS service (28 MB of the layer's 41 MB). The layer keeps those
  of the services pushdeploy's functions call (``pushdeploy.services.SERVICES``) and botocore's own data files;
  besides the size, a client's first creation lists every service's directory (twice), which is cold-start time.
- **Bytecode.** Lambda's code directories are read-only: a module shipped without its .pyc is compiled on every
  cold start. Compiled with unchecked hashes (the files never change once deployed).

Run by `make build` and by the benchmark (bench/build.py), on the interpreter `sam build` used; standard library
only.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import sys
from pathlib import Path

LAYER = "PushdeployLayer"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "pushdeploy"))
from pushdeploy.services import SERVICES  # noqa: E402 - no import of its own: plain Python is enough


def trim_models(layer_python: Path, keep: frozenset[str] = SERVICES) -> list[str]:
    """Remove the service models under ``layer_python``/botocore/data that ``keep`` does not name; the files at
    the data directory's top (endpoints, partitions, retry and default configuration) stay. Returns the removed
    service names. Fails if a kept service has no model there (a misspelling, or a botocore without it)."""
    data = layer_python / "botocore" / "data"
    if not data.is_dir():
        raise SystemExit(f"{data} not found: is this a `sam build` output of the layer?")
    present = {path.name for path in data.iterdir() if path.is_dir()}
    missing = sorted(keep - present)
    if missing:
        raise SystemExit(f"botocore in {data} has no model for {', '.join(missing)} (pushdeploy/services.py)")
    removed = sorted(present - keep)
    for name in removed:
        shutil.rmtree(data / name)
    return removed


def package(build_dir: Path, workers: int = 0) -> None:
    """Trim the layer's models and compile the bytecode of everything in ``build_dir`` (``workers`` processes;
    0: one per CPU)."""
    layer_python = build_dir / LAYER / "python"
    removed = trim_models(layer_python)
    print(f"{LAYER}: kept botocore's models of {', '.join(sorted(SERVICES))}; removed {len(removed)} others")
    if not compileall.compile_dir(
        build_dir, quiet=1, workers=workers, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    ):
        raise SystemExit(f"compiling the bytecode under {build_dir} failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", type=Path, help="the `sam build` output, e.g. .aws-sam/build")
    package(parser.parse_args(argv).build_dir)


if __name__ == "__main__":
    main()
