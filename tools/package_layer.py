"""Finish a `sam build` output for Lambda: trim the layer's botocore models, then compile every module's bytecode.

    python tools/package_layer.py .aws-sam/build

- **Models.** botocore ships the models of every AWS service (28 MB of the layer's 41 MB). The layer keeps those
  of the services pushdeploy's functions call, each cut down to the operations they call and the shapes those use
  (``pushdeploy.services.OPERATIONS``), botocore's own data files, and in endpoints.json the entries of those
  services. Besides the size, a cold start lists every service's directory (twice) and parses endpoints.json and
  the whole model of every service it creates a client of; a smaller model also means fewer objects in memory.
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
from typing import Any

LAYER = "PushdeployLayer"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "pushdeploy"))
from pushdeploy.services import OPERATIONS, SERVICES  # noqa: E402 - no import of its own: plain Python is enough

MODEL = "service-2.json.gz"


def trim_models(
    layer_python: Path, keep: frozenset[str] = SERVICES, operations: dict[str, frozenset[str]] = OPERATIONS
) -> list[str]:
    """Remove the service models under ``layer_python``/botocore/data that ``keep`` does not name, and cut each
    kept one down to its newest API version, ``operations`` and the shapes they use (documentation and examples
    dropped); the files at the data directory's top stay, endpoints.json cut to the kept services. Returns the
    removed service names. Fails if a kept service or operation has no model there."""
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
    for name in sorted(keep):
        newest = _newest_version(data / name)
        for older in (path for path in (data / name).iterdir() if path.is_dir() and path != newest):
            shutil.rmtree(older)
        (newest / "examples-1.json").unlink(missing_ok=True)
        if name in operations:
            model_path = newest / MODEL
            model = json.loads(gzip.decompress(model_path.read_bytes()))
            trimmed = trim_model(model, operations[name], f"{name} ({model_path})")
            model_path.write_bytes(gzip.compress(json.dumps(trimmed, separators=(",", ":")).encode(), mtime=0))
    trim_endpoints(data, {endpoint_prefix(data / name) for name in keep})
    return removed


def trim_model(model: dict[str, Any], operations: frozenset[str], label: str) -> dict[str, Any]:
    """``model`` (a botocore service-2 document) with ``operations`` only, the shapes their inputs, outputs and
    errors reach, and no documentation; every other top-level key (metadata, endpoint parameters) as it is."""
    unknown = sorted(operations - set(model["operations"]))
    if unknown:
        raise SystemExit(f"{label} has no operation {', '.join(unknown)} (pushdeploy/services.py)")
    kept_operations = {name: model["operations"][name] for name in sorted(operations)}
    shapes: dict[str, Any] = model["shapes"]
    reached: set[str] = set()
    pending = [
        reference["shape"]
        for operation in kept_operations.values()
        for reference in (operation.get("input"), operation.get("output"), *operation.get("errors", []))
        if reference
    ]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        shape = shapes[name]
        pending.extend(member["shape"] for member in shape.get("members", {}).values())
        pending.extend(shape[part]["shape"] for part in ("member", "key", "value") if part in shape)
    return {
        **model,
        "operations": {name: _undocumented(operation) for name, operation in kept_operations.items()},
        "shapes": {name: _undocumented(shapes[name]) for name in sorted(reached)},
    }


def _undocumented(definition: dict[str, Any]) -> dict[str, Any]:
    """An operation or shape without its documentation (botocore reads it for docstrings only)."""
    result = {key: value for key, value in definition.items() if key not in {"documentation", "documentationUrl"}}
    if "members" in result:  # member names are the API's, never dropped; their definitions lose their docs
        result["members"] = {name: _undocumented(member) for name, member in result["members"].items()}
    for part in ("member", "key", "value", "input", "output"):
        if isinstance(result.get(part), dict):
            result[part] = _undocumented(result[part])
    if "errors" in result:
        result["errors"] = [_undocumented(error) for error in result["errors"]]
    return result


def _newest_version(service_dir: Path) -> Path:
    return sorted(path for path in service_dir.iterdir() if path.is_dir())[-1]


def endpoint_prefix(service_dir: Path) -> str:
    """The endpoint prefix of the service's newest model (``api.ecr`` for ecr, ``monitoring`` for cloudwatch)."""
    newest = _newest_version(service_dir)
    model = newest / MODEL
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
    print(
        f"{LAYER}: kept botocore's models of {', '.join(sorted(SERVICES))} "
        f"({sum(len(names) for names in OPERATIONS.values())} operations); removed {len(removed)} others"
    )
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
