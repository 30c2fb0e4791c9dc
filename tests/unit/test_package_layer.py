"""`make build`'s last step: the layer keeps botocore's models of the services pushdeploy calls, and every module
is compiled (Lambda's code is read-only)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from pushdeploy.services import SERVICES
from tools.package_layer import LAYER, package, trim_models

PREFIXES = {"ecr": "api.ecr", "cloudwatch": "monitoring"}  # services whose endpoint prefix is not their name


def built_layer(root: Path, services: set[str]) -> Path:
    """A `sam build`-shaped directory: the layer's botocore data with ``services`` and the top-level files."""
    data = root / LAYER / "python" / "botocore" / "data"
    for name in services:
        for version in ("2019-01-01", "2020-01-01"):  # the newest model names the endpoint prefix
            (data / name / version).mkdir(parents=True)
            model = {"metadata": {"endpointPrefix": PREFIXES.get(name, name) if version > "2019" else "old"}}
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

    # Then only the two others are gone; the data directory's own files stay; bytecode is written
    data = build / LAYER / "python" / "botocore" / "data"
    assert {path.name for path in data.iterdir() if path.is_dir()} == SERVICES
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


REGIONS = ("us-east-1", "eu-central-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1")


def test_clients_from_the_trimmed_models_resolve_every_endpoint_as_the_full_models_do(tmp_path: Path) -> None:
    # Given botocore's data for the kept services and its top-level files, trimmed as the build does
    import botocore  # noqa: PLC0415
    import botocore.session  # noqa: PLC0415

    source = Path(botocore.__file__).parent / "data"
    python = tmp_path / LAYER / "python"
    data = python / "botocore" / "data"
    data.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, data / path.name)
        elif path.name in SERVICES:
            shutil.copytree(path, data / path.name)
    trim_models(python)

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
