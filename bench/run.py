"""The pushdeploy benchmark: what one deploy costs, how it scales, and how it compares (issue 8).

    make bench                                   # everything, default sizes (a few minutes on 2 cores)
    python -m bench.run --quick                  # a smoke run: small sizes, no sam build
    python -m bench.run --deploys 300 --burst 1000,100 --workers 16

Runs against moto's server on 127.0.0.1 (template.yaml deployed as a stack, the sample world seeded) and
nothing else: every botocore call is checked to go to loopback. Writes bench/results/<UTC time>/ with
result.json, results.md and chart.png, and prints the Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import Sizes
from bench.world import ROOT

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def ensure_requirements() -> None:
    """Install bench/requirements.txt into this interpreter's environment when something is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        print("bench: installing bench/requirements.txt", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-r", str(BENCH / "requirements.txt")], check=True
        )


def parse_arguments(argv: list[str] | None) -> tuple[argparse.Namespace, Sizes]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and no sam build: a smoke run")
    parser.add_argument("--deploys", type=int, help="warm deploys timed for item 2 (default 500)")
    parser.add_argument("--burst", help="N,M: N pushes over M targets for item 4 (default 500,100)")
    parser.add_argument("--workers", type=int, help="threads delivering the burst (default 12)")
    parser.add_argument("--duplicates", type=float, help="fraction of burst events delivered twice (default 0.1)")
    parser.add_argument("--cold-repeats", type=int, help="fresh interpreters for item 3 (default 5)")
    parser.add_argument("--compare-repeats", type=int, help="rounds of item 5 (default 3)")
    parser.add_argument("--seed", type=int, help="seed of the burst's duplicates and shuffle (default 8)")
    parser.add_argument("--skip-build", action="store_true", help="do not run sam build (no package size)")
    parser.add_argument("--skip-compare", action="store_true", help="do not run ecs-deploy (item 5)")
    parser.add_argument("--skip-burst", action="store_true", help="do not run the burst (item 4)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the timestamped folder goes")
    args = parser.parse_args(argv)
    sizes = Sizes()
    if args.quick:
        sizes = Sizes(deploys=30, burst_pushes=40, burst_targets=8, burst_workers=8, cold_repeats=2, compare_repeats=1)
        args.skip_build = True
    if args.deploys is not None:
        sizes.deploys = args.deploys
    if args.burst:
        pushes, _, targets = args.burst.partition(",")
        sizes.burst_pushes, sizes.burst_targets = int(pushes), int(targets or sizes.burst_targets)
    overrides = {
        "burst_workers": args.workers,
        "burst_duplicates": args.duplicates,
        "cold_repeats": args.cold_repeats,
        "compare_repeats": args.compare_repeats,
        "seed": args.seed,
    }
    for name, value in overrides.items():
        if value is not None:
            setattr(sizes, name, value)
    if sizes.deploys < 1 or sizes.burst_targets < 1 or sizes.burst_pushes < sizes.burst_targets:
        parser.error("--deploys must be positive and --burst N,M needs N >= M >= 1")
    return args, sizes


def _git(*arguments: str) -> str:
    completed = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
    return completed.stdout.strip()


def _step(results: dict[str, Any], key: str, title: str, action: Callable[[], dict[str, Any]]) -> None:
    """Run one measurement; a failure is recorded in the results (and the run goes on)."""
    print(f"bench: {title}…", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        results[key] = action()
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        results[key] = {"error": f"{type(exc).__name__}: {exc}"}
    results["meta"]["phase_seconds"][key] = round(time.perf_counter() - started, 1)
    print(f"bench: {title} done in {results['meta']['phase_seconds'][key]:.1f} s", file=sys.stderr, flush=True)


def measure_in_local_aws(
    results: dict[str, Any], sizes: Sizes, args: argparse.Namespace, built: Path | None = None
) -> None:
    """Items 1-5 against one local AWS, stopped whatever happens."""
    from bench.burst import burst  # noqa: PLC0415
    from bench.calls import calls_per_deploy, handler_time  # noqa: PLC0415
    from bench.coldstart import cold_start  # noqa: PLC0415
    from bench.compare import compare  # noqa: PLC0415
    from bench.context import Bench  # noqa: PLC0415
    from bench.flat import flat_costs  # noqa: PLC0415
    from bench.harness import BenchAws, BusyWaits, function_environment, thread_output  # noqa: PLC0415
    from bench.probe import CallRecorder  # noqa: PLC0415
    from bench.server import ServerProcess  # noqa: PLC0415
    from tools.localaws import patched_environ  # noqa: PLC0415 - imports moto: after the requirements check
    from tools.sample_world import seed_world  # noqa: PLC0415

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(ServerProcess())
        recorder = stack.enter_context(CallRecorder())
        output = stack.enter_context(thread_output())
        local = BenchAws(server.endpoint, recorder, output)
        stack.enter_context(local)
        print(f"bench: local AWS at {server.endpoint}; deploying the stack", file=sys.stderr, flush=True)
        deployed = local.deploy()
        session = local.session()
        world = seed_world(session, topic_arn=deployed.outputs["DeployTopicArn"])
        busy = BusyWaits()
        busy.install()
        stack.callback(busy.uninstall)
        bench = Bench(server, local, deployed, session, world, recorder, busy, sizes)
        stack.enter_context(patched_environ(function_environment(bench.deploy_function)))
        local.load(bench.deploy_function)

        _step(results, "calls", "1. AWS calls per deploy", lambda: calls_per_deploy(bench))
        # Before the deploy table grows: moto's TransactWriteItems copies the whole table, and only
        # pushdeploy writes to it.
        if not args.skip_compare:
            _step(
                results,
                "compare",
                "5. side by side with ecs-deploy",
                lambda: compare(bench, sizes.compare_repeats, built),
            )
        _step(
            results,
            "handler_time",
            f"2. handler time, {sizes.deploys} warm deploys",
            lambda: handler_time(bench, sizes.deploys),
        )
        _step(
            results,
            "flat",
            "6. costs that stay flat (history length, other targets)",
            lambda: flat_costs(bench, results.get("handler_time")),
        )
        _step(
            results,
            "cold_start",
            f"3. cold start, {sizes.cold_repeats} fresh interpreters",
            lambda: cold_start(bench, sizes.cold_repeats, built),
        )
        if not args.skip_burst:
            _step(
                results,
                "burst",
                f"4. burst, {sizes.burst_pushes} pushes over {sizes.burst_targets} targets",
                lambda: burst(
                    bench,
                    sizes.burst_pushes,
                    sizes.burst_targets,
                    sizes.burst_workers,
                    sizes.burst_duplicates,
                    sizes.seed,
                ),
            )
        results["meta"]["server_requests_total"] = sum(server.counts().values())


def main(argv: list[str] | None = None) -> int:
    args, sizes = parse_arguments(argv)
    started = time.perf_counter()
    ensure_requirements()
    timestamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results: dict[str, Any] = {
        "meta": {
            "timestamp": timestamp,
            "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "python": f"Python {platform.python_version()}",
            "cpus": os.cpu_count(),
            "load_before": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
            "sizes": vars(sizes),
            "phase_seconds": {},
        }
    }
    scratch = Path(tempfile.mkdtemp(prefix="bench-sam-"))  # the sam build, kept for the cold start as built
    try:
        built: Path | None = None
        if not args.skip_build:
            from bench.build import package_size  # noqa: PLC0415

            _step(results, "package", "3. package size (sam build)", lambda: package_size(scratch))
            if "build_dir" in results["package"]:
                built = Path(results["package"]["build_dir"])
        if not args.skip_compare:
            from bench.compare import ensure_ecs_deploy  # noqa: PLC0415

            _step(results, "ecs_deploy_venv", "ecs-deploy's own environment", lambda: {"bin": str(ensure_ecs_deploy())})
            if "error" in results["ecs_deploy_venv"]:
                results["compare"] = results["ecs_deploy_venv"]
                args.skip_compare = True
        measure_in_local_aws(results, sizes, args, built)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    results["meta"]["run_seconds"] = round(time.perf_counter() - started, 1)
    results["meta"]["load_after"] = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    directory = args.results_dir / timestamp
    directory.mkdir(parents=True, exist_ok=True)

    from bench.report import chart, markdown  # noqa: PLC0415

    (directory / "result.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (directory / "results.md").write_text(text)
    chart(results, directory / "chart.png")
    print(text)
    print(
        f"bench: results in {directory.relative_to(ROOT) if directory.is_relative_to(ROOT) else directory}",
        file=sys.stderr,
    )
    failed = [key for key, value in results.items() if isinstance(value, dict) and "error" in value]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
