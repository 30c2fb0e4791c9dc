"""Item 5: the same image change by fabfuel's ecs-deploy CLI and by pushdeploy, on the same local AWS."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.coldstart import base_environment, run_child
from bench.context import Bench, result_status
from bench.server import counts_since, seconds_since
from bench.world import Service, create_services, image_of

ECS_DEPLOY_VERSION = "1.17.0"
VENV = Path(__file__).resolve().parent / ".venv-ecs-deploy"
CLUSTER = "compare"
TARGET = "compare"


def ensure_ecs_deploy() -> Path:
    """bench/.venv-ecs-deploy with ecs-deploy (its own environment: it brings its own boto3 and click)."""
    marker = VENV / f".installed-ecs-deploy-{ECS_DEPLOY_VERSION}"
    if not marker.exists():
        if VENV.exists():
            shutil.rmtree(VENV)
        # The interpreter this venv was made from (python3.13), not the venv itself.
        base_python = Path(sys.base_prefix) / "bin" / "python3"
        subprocess.run([str(base_python), "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", f"ecs-deploy=={ECS_DEPLOY_VERSION}"],
            check=True,
            capture_output=True,
        )
        marker.touch()
    return VENV / "bin"


def _service_image(bench: Bench, service: Service) -> str:
    ecs = bench.session.client("ecs")
    described = ecs.describe_services(cluster=service.cluster, services=[service.service])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]
    return image_of(dict(definition))


# `ecs` as its console script runs it, and the moment its command returned (before the interpreter is torn down)
ECS_WITH_RESULT_TIME = (
    "import sys, time\n"
    "from ecs_deploy.cli import ecs\n"
    "try:\n"
    "    ecs(prog_name='ecs')\n"
    "finally:\n"
    "    print(f'BENCH_RESULT_AT {time.monotonic()}', file=sys.stderr)\n"
)


def _ecs_deploy(bench: Bench, bin_dir: Path, service: Service, image: str) -> dict[str, Any]:
    environment = base_environment(bench.server.endpoint)
    command = [str(bin_dir / "python"), "-c", ECS_WITH_RESULT_TIME, "deploy", service.cluster, service.service]
    command += ["--image", "api", image, "--timeout", "-1", "--no-deregister"]
    before, moto_before = bench.server.counts(), bench.server.seconds()
    started, launched = time.perf_counter(), time.monotonic()
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=180, check=False)
    wall = time.perf_counter() - started
    result_at = [line for line in completed.stderr.splitlines() if line.startswith("BENCH_RESULT_AT ")]
    calls = counts_since(before, bench.server.counts())
    moto = sum(seconds_since(moto_before, bench.server.seconds()).values())
    if completed.returncode != 0:
        raise RuntimeError(
            f"ecs deploy failed ({completed.returncode}): {(completed.stdout + completed.stderr)[-1500:]}"
        )
    return {
        "wall_s": wall,
        "to_result_s": float(result_at[-1].split()[1]) - launched,
        "moto_s": moto,
        "calls": calls,
        "changed": _service_image(bench, service) == image,
    }


def _import_overhead(bin_dir: Path) -> float:
    """Interpreter start and `import ecs_deploy.cli` (what `ecs` does before any work)."""
    started = time.perf_counter()
    subprocess.run([str(bin_dir / "python"), "-c", "import ecs_deploy.cli"], check=True, capture_output=True)
    return time.perf_counter() - started


def compare(bench: Bench, repeats: int, built: Path | None = None) -> dict[str, Any]:
    """Item 5: ``repeats`` rounds of: ecs-deploy, pushdeploy warm, pushdeploy in a fresh interpreter (from the
    `sam build` output when ``built`` is given, as Lambda runs it; else from the venv)."""
    bin_dir = ensure_ecs_deploy()
    (service,) = create_services(
        bench.session, bench.world, cluster=CLUSTER, count=1, prefix="cmp", target=TARGET, tags=["v*"]
    )
    tags = iter(range(1_000_000))

    def new_image() -> tuple[str, str]:
        tag = f"v1.0.{next(tags)}"
        digest = bench.new_push(service.repository, tag)["detail"]["image-digest"]
        return tag, f"{service.repository_uri}@{digest}"

    def pushdeploy_warm() -> dict[str, Any]:
        tag, image = new_image()
        event = {"repository": service.repository, "tag": tag, "targets": [TARGET]}
        before, moto_before = bench.server.counts(), bench.server.seconds()
        _, attempts = bench.run(event)
        calls = counts_since(before, bench.server.counts())
        moto = sum(seconds_since(moto_before, bench.server.seconds()).values())
        (attempt,) = attempts
        if attempt.error or result_status(attempt.result) != "DEPLOYING":
            raise RuntimeError(f"pushdeploy manual deploy: {attempt.error or attempt.result}")
        return {
            "wall_s": attempt.seconds,
            "moto_s": moto,
            "calls": calls,
            "wrapper_calls": sum(attempt.measurement.calls.values()),
            "changed": _service_image(bench, service) == image,
        }

    def pushdeploy_cold() -> dict[str, Any]:
        tag, image = new_image()
        moto_before = bench.server.seconds()
        report = run_child(bench, {"repository": service.repository, "tag": tag, "targets": [TARGET]}, built=built)
        moto = sum(seconds_since(moto_before, bench.server.seconds()).values())
        if result_status(report["result"]) != "DEPLOYING":
            raise RuntimeError(f"pushdeploy (fresh interpreter): {report['result']}")
        return {
            "wall_s": report["wall_s"],
            "to_result_s": report["to_result_s"],
            "moto_s": moto,
            "interpreter_import_s": report["interpreter_s"] + report["import_s"],
            "calls": Counter(report["server_calls"]),
            "changed": _service_image(bench, service) == image,
        }

    # Warm-ups, not measured: ecs-deploy's first start reads its files from disk; pushdeploy's first manual
    # deploy of this repository reads its target config.
    _ecs_deploy(bench, bin_dir, service, new_image()[1])
    pushdeploy_warm()

    runs: dict[str, list[dict[str, Any]]] = {"ecs_deploy": [], "pushdeploy_warm": [], "pushdeploy_cold": []}
    imports: list[float] = []
    for round_number in range(repeats):
        order = ["ecs_deploy", "pushdeploy_warm", "pushdeploy_cold"]
        if round_number % 2:
            order.reverse()
        for tool in order:
            if tool == "ecs_deploy":
                runs[tool].append(_ecs_deploy(bench, bin_dir, service, new_image()[1]))
            elif tool == "pushdeploy_warm":
                runs[tool].append(pushdeploy_warm())
            else:
                runs[tool].append(pushdeploy_cold())
        imports.append(_import_overhead(bin_dir))

    def summary(tool: str) -> dict[str, Any]:
        tool_runs = runs[tool]
        calls = tool_runs[-1]["calls"]
        result: dict[str, Any] = {
            "wall_ms": round(statistics.median(run["wall_s"] for run in tool_runs) * 1000, 1),
            "wall_ms_runs": [round(run["wall_s"] * 1000, 1) for run in tool_runs],
            "moto_ms": round(statistics.median(run["moto_s"] for run in tool_runs) * 1000, 1),
            "calls": dict(sorted(calls.items())),
            "total_calls": sum(calls.values()),
            "changed_service": all(run["changed"] for run in tool_runs),
        }
        if tool == "pushdeploy_warm":
            result["wrapper_total_calls"] = tool_runs[-1]["wrapper_calls"]
        else:
            result["to_result_ms"] = round(statistics.median(run["to_result_s"] for run in tool_runs) * 1000, 1)
        if tool == "pushdeploy_cold":
            result["interpreter_import_ms"] = round(
                statistics.median(run["interpreter_import_s"] for run in tool_runs) * 1000, 1
            )
        return result

    ecs_deploy = summary("ecs_deploy")
    ecs_deploy["interpreter_import_ms"] = round(statistics.median(imports) * 1000, 1)
    ecs_deploy["version"] = ECS_DEPLOY_VERSION
    warm, cold = summary("pushdeploy_warm"), summary("pushdeploy_cold")

    def ratio(numerator: float, denominator: float) -> float:
        return round(numerator / denominator, 2) if denominator else 0.0

    def pairwise(measure: str) -> float:
        pairs = zip(runs["pushdeploy_cold"], runs["ecs_deploy"], strict=True)
        return round(float(statistics.median(p[measure] / e[measure] for p, e in pairs)), 2)

    return {
        "repeats": repeats,
        "ecs_deploy": ecs_deploy,
        "pushdeploy_warm": warm,
        "pushdeploy_cold": cold,
        "ratios": {
            "wall_ecs_deploy_over_pushdeploy_warm": ratio(ecs_deploy["wall_ms"], warm["wall_ms"]),
            "wall_ecs_deploy_over_pushdeploy_cold": ratio(ecs_deploy["wall_ms"], cold["wall_ms"]),
            "calls_pushdeploy_warm_over_ecs_deploy": ratio(warm["total_calls"], ecs_deploy["total_calls"]),
            "calls_pushdeploy_cold_over_ecs_deploy": ratio(cold["total_calls"], ecs_deploy["total_calls"]),
            # The target: a fresh-interpreter manual deploy faster than ecs deploy, pair by pair (each round runs
            # both, in alternating order); below 1 is faster.
            "wall_pushdeploy_cold_over_ecs_deploy_pairwise": pairwise("wall_s"),
            # The same, each process timed until its result (pushdeploy's handler returned: when Lambda answers, as
            # it never tears an environment's interpreter down; ecs deploy's command returned), teardown left out.
            "to_result_pushdeploy_cold_over_ecs_deploy_pairwise": pairwise("to_result_s"),
        },
        "service": f"{service.cluster}/{service.service}",
        "notes": [
            f"ecs deploy {CLUSTER} <service> --image api <repo>@sha256:... --timeout -1 --no-deregister, "
            "in bench/.venv-ecs-deploy (its console script's entry point, run with python -c to note when the "
            "command returned); wall = the whole subprocess, teardown of the interpreter included; to result = "
            "until the command returned (ecs-deploy) or the handler returned (pushdeploy)",
            "pushdeploy warm = the handler call of a manual deploy (same image change, same service) in a warm "
            "environment; pushdeploy cold = a fresh interpreter importing the handler and serving it, "
            + ("from the sam build output (python -S, as Lambda runs it)" if built else "from the venv"),
            "AWS calls counted at moto's server for all three (the same counter); the calls shown are the last round's",
            f"median of {repeats} rounds, order alternating; each run deploys a new digest (a real change)",
            "pushdeploy also records the deploy (DynamoDB), publishes a notification (SNS) and resolves the "
            "tag in ECR; ecs-deploy does none of these",
        ],
    }
