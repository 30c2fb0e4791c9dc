"""`make build`'s last step: the layer keeps botocore's models of the services pushdeploy calls, and every module
is compiled (Lambda's code is read-only)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest

from pushdeploy.services import OPERATIONS, SERVICES
from tools.package_layer import LAYER, package, trim_model, trim_models

PREFIXES = {"ecr": "api.ecr", "cloudwatch": "monitoring"}  # services whose endpoint prefix is not their name


def built_layer(root: Path, services: set[str]) -> Path:
    """A `sam build`-shaped directory: the layer's botocore data with ``services`` and the top-level files."""
    data = root / LAYER / "python" / "botocore" / "data"
    for name in services:
        for version in ("2019-01-01", "2020-01-01"):  # the newest model names the endpoint prefix
            (data / name / version).mkdir(parents=True)
            operations = {operation: {"name": operation} for operation in OPERATIONS.get(name, {"Other"})}
            model = {
                "metadata": {"endpointPrefix": PREFIXES.get(name, name) if version > "2019" else "old"},
                "operations": operations,
                "shapes": {},
            }
            (data / name / version / "service-2.json.gz").write_bytes(gzip.compress(json.dumps(model).encode()))
    endpoints = {
        "partitions": [
            {
                "partition": partition,
                "regions": {"r-1": {}},
                "services": {PREFIXES.get(name, name): {"endpoints": {"r-1": {}}} for name in services},
            }
            for partition in ("aws", "aws-cn")
        ],
        "version": 3,
    }
    (data / "endpoints.json").write_text(json.dumps(endpoints))
    for name in ("partitions.json", "_retry.json", "sdk-default-configuration.json"):
        (data / name).write_text("{}")
    (root / LAYER / "python" / "pushdeploy").mkdir()
    (root / LAYER / "python" / "pushdeploy" / "wiring.py").write_text("VALUE = 1\n")
    return root


def test_the_layer_keeps_the_models_of_the_services_called_and_botocores_own_files(tmp_path: Path) -> None:
    # Given a build with the models of the services pushdeploy calls and of two others
    build = built_layer(tmp_path, {*SERVICES, "lambda", "s3"})

    # When it is packaged
    package(build, workers=1)

    # Then only the two others are gone, and of each kept service its newest version; the data directory's own
    # files stay; bytecode is written
    data = build / LAYER / "python" / "botocore" / "data"
    assert {path.name for path in data.iterdir() if path.is_dir()} == SERVICES
    assert {version.name for name in SERVICES for version in (data / name).iterdir()} == {"2020-01-01"}
    assert {path.name for path in data.iterdir() if path.is_file()} == {
        "endpoints.json",
        "partitions.json",
        "_retry.json",
        "sdk-default-configuration.json",
    }
    assert list((build / LAYER / "python" / "pushdeploy" / "__pycache__").glob("wiring.*.pyc"))
    # And endpoints.json keeps, in every partition, the entries of the services kept (by endpoint prefix) only
    endpoints = json.loads((data / "endpoints.json").read_text())
    kept = {PREFIXES.get(name, name) for name in SERVICES}
    assert [set(partition["services"]) for partition in endpoints["partitions"]] == [kept, kept]
    assert [partition["regions"] for partition in endpoints["partitions"]] == [{"r-1": {}}, {"r-1": {}}]


def test_a_kept_service_without_a_model_fails_the_build_by_name(tmp_path: Path) -> None:
    build = built_layer(tmp_path, set(SERVICES) - {"scheduler"})
    with pytest.raises(SystemExit, match="no model for scheduler"):
        trim_models(build / LAYER / "python")


def trimmed_botocore(root: Path) -> Path:
    """A layer's python directory holding a copy of the installed botocore, its data trimmed as the build does
    (only the kept services' directories and the top-level files are copied, to save the time)."""
    source = Path(botocore.__file__).parent
    python = root / LAYER / "python"
    shutil.copytree(
        source,
        python / "botocore",
        ignore=lambda folder, names: [
            name
            for name in names
            if Path(folder) == source / "data" and (source / "data" / name).is_dir() and name not in SERVICES
        ],
    )
    trim_models(python)
    return python


REGIONS = ("us-east-1", "eu-central-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1")


def test_clients_from_the_trimmed_models_resolve_every_endpoint_as_the_full_models_do(tmp_path: Path) -> None:
    # Given botocore's data for the kept services and its top-level files, trimmed as the build does
    data = trimmed_botocore(tmp_path) / "botocore" / "data"

    def endpoint_urls(search_path: Path | None) -> dict[tuple[str, str], str]:
        session = botocore.session.get_session()
        if search_path is not None:  # searched before botocore's own data: the trimmed files win
            loader = session.get_component("data_loader")
            loader.search_paths.insert(0, str(search_path))
            assert loader.load_data_with_path("endpoints")[1].startswith(str(search_path))
        urls = {}
        for service in sorted(SERVICES):
            for region in REGIONS:
                client = session.create_client(
                    service, region_name=region, aws_access_key_id="key", aws_secret_access_key="secret"
                )
                urls[(service, region)] = client.meta.endpoint_url
        return urls

    # When every kept service's client is created in several partitions, from the trimmed data and from the full
    trimmed, full = endpoint_urls(data), endpoint_urls(None)

    # Then every endpoint is the same
    assert trimmed == full
    assert trimmed[("ecr", "cn-north-1")] == "https://api.ecr.cn-north-1.amazonaws.com.cn"
    # And each trimmed model has exactly the operations listed, every shape they use resolvable
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(data))
    for service, operations in OPERATIONS.items():
        model = session.get_service_model(service)
        assert set(model.operation_names) == operations, service
        for name in operations:
            operation = model.operation_model(name)
            for shape in (operation.input_shape, operation.output_shape, *operation.error_shapes):
                resolve_every_member(shape)


def resolve_every_member(shape: Any, seen: set[str] | None = None) -> None:
    """Walk ``shape``'s members, list members and map keys and values: a shape the model lacks raises."""
    seen = set() if seen is None else seen
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    for member in getattr(shape, "members", {}).values():
        resolve_every_member(member, seen)
    for part in ("member", "key", "value"):  # a list's member, a map's key and value
        resolve_every_member(getattr(shape, part, None), seen)


MODEL = {
    "version": "2.0",
    "metadata": {"endpointPrefix": "svc", "protocol": "json"},
    "operations": {
        "GetThing": {
            "name": "GetThing",
            "input": {"shape": "GetThingRequest"},
            "output": {"shape": "GetThingResponse", "documentation": "<p>out</p>"},
            "errors": [{"shape": "NotFound"}],
            "documentation": "<p>Gets a thing.</p>",
        },
        "DeleteThing": {"name": "DeleteThing", "input": {"shape": "DeleteThingRequest"}},
    },
    "shapes": {
        "GetThingRequest": {"type": "structure", "members": {"Name": {"shape": "Name", "documentation": "x"}}},
        "GetThingResponse": {
            "type": "structure",
            "members": {"Tags": {"shape": "TagMap"}, "documentation": {"shape": "Name"}},
        },
        "TagMap": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Values"}},
        "Values": {"type": "list", "member": {"shape": "Name"}},
        "Name": {"type": "string", "documentation": "<p>A name.</p>"},
        "NotFound": {"type": "structure", "members": {}, "exception": True},
        "DeleteThingRequest": {"type": "structure", "members": {"Force": {"shape": "Flag"}}},
        "Flag": {"type": "boolean"},
    },
}


def test_a_model_keeps_its_operations_and_every_shape_they_reach_without_documentation() -> None:
    trimmed = trim_model(MODEL, frozenset({"GetThing"}), "svc")

    assert list(trimmed["operations"]) == ["GetThing"]
    assert set(trimmed["shapes"]) == {"GetThingRequest", "GetThingResponse", "TagMap", "Values", "Name", "NotFound"}
    assert trimmed["metadata"] == MODEL["metadata"]
    assert "documentation" not in json.dumps(trimmed["operations"])
    assert trimmed["shapes"]["GetThingRequest"]["members"] == {"Name": {"shape": "Name"}}
    # A member the API names "documentation" is a member, not documentation
    assert set(trimmed["shapes"]["GetThingResponse"]["members"]) == {"Tags", "documentation"}


def test_an_operation_the_model_lacks_fails_the_build_by_name() -> None:
    with pytest.raises(SystemExit, match="svc has no operation ListThings"):
        trim_model(MODEL, frozenset({"GetThing", "ListThings"}), "svc")


TRACED_IMPORT = (
    "import sys, botocore\n"
    "assert botocore.__file__.startswith(sys.argv[1]), botocore.__file__\n"
    "import importlib.util\n"
    "spec = importlib.util.spec_from_file_location('app', sys.argv[2])\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
    "import aws_xray_sdk.core\n"
    "print('traced')\n"
)


def test_the_deploy_function_imports_with_tracing_on_from_the_trimmed_models(tmp_path: Path) -> None:
    # Given the trimmed botocore first on the path, as the layer is on Lambda, and tracing on (Tracing: Active)
    python = trimmed_botocore(tmp_path)
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join([str(python), str(root / "layers" / "pushdeploy"), *sys.path])
    environment = {
        "PYTHONPATH": path,
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(root / "functions" / "deploy"),
    }

    # When the deploy function's handler module is imported, which imports the X-Ray SDK and patches botocore (on
    # Lambda the SDK samples locally: it creates no "xray" client, whose model the layer does not keep)
    result = subprocess.run(
        [sys.executable, "-c", TRACED_IMPORT, str(python), str(root / "functions" / "deploy" / "app.py")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    # Then it imports, the handler traced
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["traced"]
