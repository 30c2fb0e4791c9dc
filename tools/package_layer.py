"""Finish a `sam build` output for Lambda: trim the layer's botocore models, then compile every module's bytecode.

    python tools/package_layer.py .aws-sam/build

- **Models.** botocore ships the models of every AWS service (28 MB of the layer's 41 MB). The layer keeps those
  of the services pushdeploy's functions call (``pushdeploy.services.SERVICES``), botocore's own data files, and
  in endpoints.json the entries of those services. Besides the size, a client's first creation lists every
  service's directory (twice) and parses endpoints.json: cold-start time.
- **Bytecode.** Lambda's code directories are read-only: a module shipped without its .pyc is compiled on every
  cold start. Compiled with unchecked hashes (the files never change once deployed).

Run by `make build` and by the benchmark (bench/build.py), on the interpreter `sam build` used; standard library
only.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import json
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
    trim_endpoints(data, {endpoint_prefix(data / name) for name in keep})
    return removed


def endpoint_prefix(service_dir: Path) -> str:
    """The endpoint prefix of the service's newest model (``api.ecr`` for ecr, ``monitoring`` for cloudwatch)."""
    newest = sorted(path for path in service_dir.iterdir() if path.is_dir())[-1]
    model = newest / "service-2.json.gz"
    text = gzip.decompress(model.read_bytes()) if model.exists() else (newest / "service-2.json").read_bytes()
    return str(json.loads(text)["metadata"]["endpointPrefix"])


def trim_endpoints(data: Path, prefixes: set[str]) -> None:
    """Keep, in botocore's endpoints.json (1.2 MB, parsed when the first client is created), the entries of the
    services kept; every partition's own data (regions, defaults, DNS suffixes) stays as it is."""
    path = data / "endpoints.json"
    endpoints = json.loads(path.read_text())
    for partition in endpoints["partitions"]:
        partition["services"] = {
            prefix: entry for prefix, entry in partition.get("services", {}).items() if prefix in prefixes
        }
    path.write_text(json.dumps(endpoints, separators=(",", ":")))


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
