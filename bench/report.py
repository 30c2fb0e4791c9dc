"""The results as Markdown tables and as one PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _met(flag: Any) -> str:
    return "**met**" if flag else "**not met**"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def _unmeasured(title: str, section: dict[str, Any] | None) -> list[str] | None:
    if section is None:
        return [f"## {title}", "", "Not run (skipped by an option).", ""]
    if "error" in section:
        return [f"## {title}", "", f"Not measured: `{section['error']}`", ""]
    return None


def _calls(section: dict[str, Any] | None) -> list[str]:
    title = "1. AWS calls per deploy"
    missing = _unmeasured(title, section)
    if missing or section is None:
        return missing or []
    columns = [("warm push", "warm"), ("cold push", "cold"), ("manual invoke", "manual")]
    operations = sorted({op for _, key in columns for op in section[key]["calls"]})
    lines = [
        f"## {title}",
        "",
        f"Target: a warm single-target push makes at most {section['target']} AWS calls "
        f"(deploy record and publish included): {_met(section['met'])} ({section['warm']['total']} calls).",
        "",
        "| operation | " + " | ".join(name for name, _ in columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for op in operations:
        lines.append(f"| {op} | " + " | ".join(str(section[key]["calls"].get(op, "")) for _, key in columns) + " |")
    lines.append("| **total** | " + " | ".join(f"**{section[key]['total']}**" for _, key in columns) + " |")
    lines.append(
        "| requests seen by the server | " + " | ".join(str(section[key]["server_total"]) for _, key in columns) + " |"
    )
    lines.append(
        "| handler ms (this one run) | " + " | ".join(f"{section[key]['handler_ms']:.1f}" for _, key in columns) + " |"
    )
    first = section["manual_first"]
    lines += [
        "",
        f"First manual deploy of the run: {first['total']} calls "
        f"({', '.join(f'{op} {n}' for op, n in first['calls'].items())}).",
        "",
    ]
    return lines


def _handler_time(section: dict[str, Any] | None) -> list[str]:
    title = "2. Handler time per warm deploy"
    missing = _unmeasured(title, section)
    if missing or section is None:
        return missing or []
    rows = [
        ("total handler time", "total_ms"),
        ("inside AWS calls (_make_api_call)", "aws_ms"),
        ("**own time (total - AWS)**", "own_ms"),
        ("round trips only (Endpoint._send)", "http_ms"),
        ("own incl. botocore client work (total - round trips)", "own_incl_botocore_ms"),
        ("own CPU time (handler thread, outside AWS calls)", "own_cpu_ms"),
    ]
    calls = section["calls_per_deploy"]
    lines = [
        f"## {title}",
        "",
        f"Target: own time at most {section['target_ms']:g} ms per deploy (median of {section['deploys']} deploys): "
        f"{_met(section['met'])} (median {section['own_ms']['median']:.2f} ms).",
        "",
        "| measure | median ms | p95 ms | mean ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, key in rows:
        stats = section[key]
        lines.append(
            f"| {label} | {stats['median']:.2f} | {stats['p95']:.2f} | {stats['mean']:.2f} | {stats['max']:.2f} |"
        )
    lines += [
        "",
        f"AWS calls per deploy: median {calls['median']}, min {calls['min']}, max {calls['max']} "
        "(the config cache expires every ConfigCacheSeconds). One invocation at a time: "
        f"{section['log_lines_with_foreign_request_id']} log lines with another request id, "
        f"{section['attempts_without_exactly_one_metrics_blob']} invocations without exactly one metrics blob "
        "(the baseline for item 4's thread check).",
        "",
        f"Of the AWS time, moto's own work is {section['moto_ms_per_deploy']:.0f} ms per deploy; costliest operations "
        "(ms per request): "
        + ", ".join(f"{op} {ms}" for op, ms in list(section["moto_ms_per_request"].items())[:4])
        + ".",
        "",
    ]
    return lines


def _flat(section: dict[str, Any] | None) -> list[str]:
    title = "6. Costs that stay flat"
    missing = _unmeasured(title, section)
    if missing or section is None:
        return missing or []
    lines = [
        f"## {title}",
        "",
        "Target: no growth in calls or own time with the history's length or with other repositories' targets: "
        f"{_met(section['met'])}. Targets of the pushed repository that do not match add "
        f"{section.get('same_repository_extra_own_us_per_target', 0):g} µs of own time each (no call).",
        "",
    ]
    lines += ["| setting | calls per push (median, max) | own ms (median) |", "| --- | ---: | ---: |"]
    history = section.get("history")
    if history:
        calls = history["calls_per_deploy"]
        window = section["window"]
        lines.append(
            f"| one target, deploys 1-{window} | {calls['median']:g}, {calls['max']:g} | "
            f"{history['first_own_ms_median']:.2f} |"
        )
        if "after_cap_own_ms_median" in history:
            first = history["after_cap_first"]
            lines.append(
                f"| one target, deploys {first}-{first + window - 1} (its history at the cap) | "
                f"{calls['median']:g}, {calls['max']:g} | {history['after_cap_own_ms_median']:.2f} |"
            )
        lines.append(
            f"| one target, deploys {history['deploys'] - window + 1}-{history['deploys']} | "
            f"{calls['median']:g}, {calls['max']:g} | {history['last_own_ms_median']:.2f} |"
        )
    for label, key in (
        ("staging alone", "baseline"),
        (f"{section['many_targets']} targets of another repository", "other_repository"),
        (f"{section['many_targets']} targets in the pushed repository", "same_repository"),
    ):
        entry = section[key]
        lines.append(f"| {label} | {entry['calls_median']:g}, {entry['calls_max']:g} | {entry['own_ms_median']:.2f} |")
    return [*lines, ""]


def _cold_start(section: dict[str, Any] | None, package: dict[str, Any] | None) -> list[str]:
    title = "3. Cold start"
    missing = _unmeasured(title, section)
    lines: list[str] = []
    if missing or section is None:
        lines += missing or []
    else:
        medians = section["median_ms"]
        rows = [
            ("interpreter start", "interpreter_s"),
            ("import of functions/deploy/app.py", "import_s"),
            ("first event, total", "event_s"),
            ("first event, inside AWS calls", "api_s"),
            ("first event, own", "own_event_s"),
            ("**cold start excl. AWS calls (interpreter + import + own)**", "cold_excl_aws_s"),
            ("cold start excl. round trips only", "cold_excl_http_s"),
            ("whole subprocess, wall", "wall_s"),
            ("CPU: interpreter start", "startup_cpu_s"),
            ("CPU: import", "import_cpu_s"),
            ("CPU: first event", "event_cpu_s"),
            ("CPU: first event, inside AWS calls", "api_cpu_s"),
            ("**CPU: cold start excl. AWS calls**", "cold_cpu_excl_aws_s"),
        ]
        lines += [
            f"## {title}",
            "",
            f"Target: at most {section['target_ms']:g} ms excluding AWS round trips, judged on "
            f"{section.get('judged_on', 'the venv')}: {_met(section['met'])}. In the venv (median of "
            f"{section['repeats']} fresh interpreters): {medians['cold_excl_aws_s']:.0f} ms; "
            f"{medians['cold_excl_http_s']:.0f} ms when botocore's client-side work counts as own; CPU time of the "
            f"same parts {medians['cold_cpu_excl_aws_s']:.0f} ms.",
            "",
            f"Peak RSS after a cold deploy: {section.get('peak_rss_mb', 0):.0f} MB (target at most "
            f"{section.get('peak_rss_target_mb', 100):g} MB: {_met(bool(section.get('peak_rss_met')))}).",
            "",
            "| measure | median ms |",
            "| --- | ---: |",
        ]
        lines += [f"| {label} | {medians[key]:.1f} |" for label, key in rows]
        built = section.get("as_built")
        if built:
            built_medians = built["median_ms"]
            lines += [
                "",
                f"The package as `sam build` made it (median of {built['repeats']}: the layer and function directories "
                "only, bytecode compiled as `make build` does, `python -S`, no bytecode written, as on Lambda's "
                "read-only code): import "
                f"{built_medians['import_s']:.0f} ms, first event own {built_medians['own_event_s']:.0f} ms, "
                f"**cold start excl. AWS calls {built_medians['cold_excl_aws_s']:.0f} ms** "
                f"(CPU {built_medians['cold_cpu_excl_aws_s']:.0f} ms).",
            ]
        first_calls = section["calls_first_event"]
        lines += [
            "",
            f"First event's AWS calls: {sum(first_calls.values())} "
            f"({', '.join(f'{op} {n}' for op, n in sorted(first_calls.items()))}); modules loaded: "
            f"{section['modules_after_import']} after the import, {section['modules_after_event']} after the event.",
            "",
            "Biggest imports (`python -X importtime`, import and first event, top 10 cumulative):",
            "",
            "| module | depth | cumulative ms | self ms |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {row['module']} | {row['depth']} | {row['cumulative_ms']:.1f} | {row['self_ms']:.1f} |"
            for row in section["top_imports"]
        ]
        lines.append("")
    missing_package = _unmeasured("Package size (sam build)", package)
    if missing_package or package is None:
        return lines + [line.replace("## ", "### ") for line in (missing_package or [])]
    lines += [
        f"### Package size (`sam build`, {package['build_seconds']:.0f} s)",
        "",
        "| artifact | unzipped (du -sb) | zipped | .py files | .pyc files |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, sizes in package["artifacts"].items():
        lines.append(
            f"| {name} | {_mb(sizes['bytes'])} | {_mb(sizes['zipped_bytes'])} | {sizes.get('py_files', '')} "
            f"| {sizes.get('pyc_files', '')} |"
        )
    deploy = package["deploy_function_with_layer"]
    lines += [
        f"| **DeployFunction + PushdeployLayer** | **{_mb(deploy['bytes'])}** | **{_mb(deploy['zipped_bytes'])}** "
        "| | |",
        "",
    ]
    return lines


def _burst(section: dict[str, Any] | None) -> list[str]:
    title = "4. Burst"
    missing = _unmeasured(title, section)
    if missing or section is None:
        return missing or []

    def zero(value: int) -> str:
        return f"{value} ({'met' if value == 0 else '**not met**'})"

    lines = [
        f"## {title}",
        "",
        f"{section['pushes']} pushes over {section['targets']} targets ({section['pushes_per_target']} each) plus "
        f"{section['duplicates_delivered']} duplicates, shuffled, delivered by {section['workers']} threads. "
        f"Target: the counts marked 0 stay 0: {_met(section['met'])}.",
        "",
        "| measure | value | target |",
        "| --- | ---: | ---: |",
        f"| deliveries | {section['deliveries']} | |",
        f"| wall time | {section['wall_seconds']:.1f} s | |",
        f"| deliveries per second | {section['deliveries_per_second']:.1f} | |",
        f"| deploys started (DEPLOYING) | {section['deploys_started']} | |",
        f"| deploys per second | {section['deploys_per_second']:.1f} | |",
        f"| duplicate revisions | {zero(section['duplicate_revisions'])} | 0 |",
        f"| stale wins (a target not on its newest digest) | {zero(section['stale_wins'])} | 0 |",
        f"| lost events | {zero(section['lost_events'])} | 0 |",
        f"| events in the on-failure queue (of which handled by their duplicate) | {section['on_failure_queue']} "
        f"({section['on_failure_handled_by_a_duplicate']}) | |",
        f"| busy waits (claim held by another push) | {section['busy_waits']} "
        f"({section['busy_wait_seconds']:.0f} s asleep) | |",
        f"| attempts / attempts that raised | {section['attempts']} / {section['attempts_that_raised']} | |",
        f"| handler ms median / p95 | {section['handler_ms']['median']:.0f} / {section['handler_ms']['p95']:.0f} | |",
        f"| handler CPU per delivery (own + botocore) | {section['handler_cpu_ms_per_delivery']:.1f} ms | |",
        f"| moto busy (one request at a time) | {section['server_busy_seconds']:.0f} s of "
        f"{section['wall_seconds']:.0f} s, {section['server_requests']} requests | |",
        f"| requests botocore sent again (its retries: timeouts, throttling) | {section['botocore_retries']} | |",
        f"| log lines with another invocation's request id | {section['log_lines_with_foreign_request_id']} "
        f"of {section['log_lines']} | |",
        f"| invocations without exactly one metrics blob of their own | "
        f"{section['attempts_without_exactly_one_metrics_blob']} | |",
        "",
        "Outcomes: " + ", ".join(f"{code} {count}" for code, count in section["outcomes"].items()) + ".",
        "",
        "moto's ms per request, costliest operations: "
        + ", ".join(f"{op} {ms}" for op, ms in section["server_ms_per_request"].items())
        + ".",
    ]
    if section["attempt_errors"]:
        lines.append("")
        lines.append("Errors raised by attempts:")
        lines += [f"- {count} x `{message}`" for message, count in section["attempt_errors"].items()]
    if section["harness_errors"]:
        lines.append("")
        lines.append("Harness errors:")
        lines += [f"- {count} x `{message}`" for message, count in section["harness_errors"].items()]
    lines.append("")
    return lines


def _compare(section: dict[str, Any] | None) -> list[str]:
    title = "5. Side by side: the same image change"
    missing = _unmeasured(title, section)
    if missing or section is None:
        return missing or []
    tools = [
        (f"ecs-deploy {section['ecs_deploy']['version']} (CLI)", section["ecs_deploy"]),
        ("pushdeploy (warm handler)", section["pushdeploy_warm"]),
        ("pushdeploy (fresh interpreter)", section["pushdeploy_cold"]),
    ]
    operations = sorted({op for _, data in tools for op in data["calls"]})
    ratios = section["ratios"]
    lines = [
        f"## {title}",
        "",
        f"Median of {section['repeats']} rounds on service {section['service']}.",
        "",
        "| measure | " + " | ".join(name for name, _ in tools) + " |",
        "| --- | " + " | ".join("---:" for _ in tools) + " |",
        "| wall ms | " + " | ".join(f"{data['wall_ms']:.0f}" for _, data in tools) + " |",
        "| until the result ms (no interpreter teardown) | "
        + " | ".join(f"{data['to_result_ms']:.0f}" if "to_result_ms" in data else "-" for _, data in tools)
        + " |",
        "| of which interpreter start + import ms | "
        + " | ".join(
            f"{data['interpreter_import_ms']:.0f}" if "interpreter_import_ms" in data else "-" for _, data in tools
        )
        + " |",
        "| of which moto's work ms | " + " | ".join(f"{data['moto_ms']:.0f}" for _, data in tools) + " |",
        "| AWS calls (at the server) | " + " | ".join(f"**{data['total_calls']}**" for _, data in tools) + " |",
    ]
    for op in operations:
        lines.append(f"| {op} | " + " | ".join(str(data["calls"].get(op, "")) for _, data in tools) + " |")
    lines += [
        "| service changed to the image | "
        + " | ".join("yes" if data["changed_service"] else "**no**" for _, data in tools)
        + " |",
        "",
        f"Ratios (same run): ecs-deploy wall / pushdeploy warm = {ratios['wall_ecs_deploy_over_pushdeploy_warm']}, "
        f"ecs-deploy wall / pushdeploy fresh interpreter = {ratios['wall_ecs_deploy_over_pushdeploy_cold']}; "
        f"AWS calls pushdeploy / ecs-deploy = {ratios['calls_pushdeploy_warm_over_ecs_deploy']} (warm), "
        f"{ratios['calls_pushdeploy_cold_over_ecs_deploy']} (fresh interpreter).",
        "",
        "Target: a fresh-interpreter manual deploy faster than `ecs deploy`, pair by pair: pushdeploy / ecs-deploy "
        f"= {ratios.get('wall_pushdeploy_cold_over_ecs_deploy_pairwise', 0)} (median of the rounds' ratios, whole "
        f"processes): {_met(ratios.get('wall_pushdeploy_cold_over_ecs_deploy_pairwise', 9) < 1)}. Until each "
        "one's result (the handler's return, when Lambda answers, which never tears the interpreter down; the "
        f"command's return): {ratios.get('to_result_pushdeploy_cold_over_ecs_deploy_pairwise', '-')}.",
        "",
    ]
    return lines


def markdown(results: dict[str, Any]) -> str:
    """results.md."""
    meta = results["meta"]
    lines = [
        f"# pushdeploy benchmark — {meta['timestamp']}",
        "",
        f"Commit {meta['commit']}{' (with local changes)' if meta['dirty'] else ''}, {meta['python']}, "
        f"{meta['cpus']} CPUs, load average {meta['load_before']} at the start; run took {meta['run_seconds']:.0f} s. "
        "Everything against moto's server on 127.0.0.1 with template.yaml deployed as a stack.",
        "",
        "| item | target | result |",
        "| --- | --- | --- |",
    ]
    compare = results.get("compare") or {}
    ratio = (compare.get("ratios") or {}).get("wall_pushdeploy_cold_over_ecs_deploy_pairwise")
    for label, key, target, met_key in (
        ("1. AWS calls, warm single-target push", "calls", "≤ 6 calls", "met"),
        ("2. own handler time per warm deploy (median)", "handler_time", "≤ 5 ms", "met"),
        ("3. cold start excl. AWS calls (median, sam build output)", "cold_start", "≤ 300 ms", "met"),
        ("3. peak RSS after a cold deploy", "cold_start", "≤ 100 MB", "peak_rss_met"),
        ("4. burst: duplicate revisions, stale wins, lost events", "burst", "all 0", "met"),
        ("5. fresh-interpreter manual deploy / ecs deploy (pairwise)", "compare", "< 1", ""),
        ("6. calls and own time flat: history length, other targets", "flat", "no growth", "met"),
    ):
        section = results.get(key)
        if section is None:
            verdict = "not run"
        elif "error" in section:
            verdict = "not measured (error)"
        elif not met_key:
            verdict = f"{ratio}: " + ("met" if ratio is not None and ratio < 1 else "**not met**")
        else:
            verdict = "met" if section.get(met_key) else "**not met**"
        lines.append(f"| {label} | {target} | {verdict} |")
    lines.append("")
    lines += _calls(results.get("calls"))
    lines += _handler_time(results.get("handler_time"))
    lines += _cold_start(results.get("cold_start"), results.get("package"))
    lines += _flat(results.get("flat"))
    lines += _burst(results.get("burst"))
    lines += _compare(results.get("compare"))
    return "\n".join(lines).rstrip() + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """chart.png: calls per operation, handler time, cold start, and the side-by-side."""
    import matplotlib  # noqa: PLC0415 - installed by bench.run when missing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(2, 3, figsize=(18, 10))
    figure.suptitle(f"pushdeploy benchmark — {results['meta']['timestamp']}", fontsize=14)
    _chart_calls(axes[0][0], results.get("calls"))
    _chart_handler_time(axes[0][1], results.get("handler_time"))
    _chart_own_histogram(axes[0][2], results.get("handler_time"))
    _chart_cold_start(axes[1][0], results.get("cold_start"))
    _chart_compare_wall(axes[1][1], results.get("compare"))
    _chart_compare_calls(axes[1][2], results.get("compare"))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _usable(axis: Any, section: dict[str, Any] | None, title: str) -> bool:
    if section is None or "error" in section:
        axis.set_title(title)
        axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return False
    return True


def _chart_calls(axis: Any, section: dict[str, Any] | None) -> None:
    title = "(a) AWS calls per deploy, by operation"
    if not _usable(axis, section, title) or section is None:
        return
    kinds = [("warm push", "warm"), ("cold push", "cold"), ("manual", "manual")]
    operations = sorted({op for _, key in kinds for op in section[key]["calls"]})
    width = 0.27
    for index, (label, key) in enumerate(kinds):
        values = [section[key]["calls"].get(op, 0) for op in operations]
        positions = [position + (index - 1) * width for position in range(len(operations))]
        axis.barh(positions, values, height=width, label=f"{label} ({section[key]['total']})")
    axis.set_yticks(range(len(operations)), operations, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("calls")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.set_title(f"{title} — target ≤ {section['target']} warm")
    axis.legend(fontsize=8)


def _chart_handler_time(axis: Any, section: dict[str, Any] | None) -> None:
    title = "(b) handler time per warm deploy"
    if not _usable(axis, section, title) or section is None:
        return
    series = [("own", "own_ms"), ("inside AWS calls", "aws_ms"), ("total", "total_ms")]
    width = 0.27
    for index, (label, key) in enumerate(series):
        values = [section[key]["median"], section[key]["p95"]]
        bars = axis.bar([position + (index - 1) * width for position in range(2)], values, width=width, label=label)
        axis.bar_label(bars, fmt="%.1f", fontsize=7)
    axis.axhline(section["target_ms"], color="red", linestyle="--", linewidth=1, label="own-time target")
    axis.set_xticks(range(2), ["median", "p95"])
    axis.set_ylabel("ms")
    axis.set_title(f"{title} ({section['deploys']} deploys)")
    axis.legend(fontsize=8)


def _chart_own_histogram(axis: Any, section: dict[str, Any] | None) -> None:
    title = "(b) own time per deploy, distribution"
    if not _usable(axis, section, title) or section is None:
        return
    axis.hist(section["samples_ms"]["own"], bins=40, color="tab:blue", alpha=0.8)
    axis.axvline(section["target_ms"], color="red", linestyle="--", linewidth=1, label="target")
    axis.set_xlabel("own ms (total - inside AWS calls)")
    axis.set_ylabel("deploys")
    axis.set_title(title)
    axis.legend(fontsize=8)


def _chart_cold_start(axis: Any, section: dict[str, Any] | None) -> None:
    title = "(3) cold start excl. AWS calls (median)"
    if not _usable(axis, section, title) or section is None:
        return
    medians = section["median_ms"]
    built = (section.get("as_built") or {}).get("median_ms")
    parts = [
        ("interpreter start", "interpreter_s", "tab:blue"),
        ("import handler", "import_s", "tab:orange"),
        ("first event, own", "own_event_s", "tab:green"),
    ]
    rows = [("venv (bytecode compiled)", medians, True)] + ([("sam build output", built, False)] if built else [])
    for row, (_, values, labelled) in enumerate(rows):
        left = 0.0
        for label, key, color in parts:
            axis.barh([row], [values[key]], left=left, color=color, label=label if labelled else None)
            if values[key] >= 80:
                axis.text(left + values[key] / 2, row, f"{values[key]:.0f}", ha="center", va="center", fontsize=8)
            left += values[key]
        axis.text(left + 10, row, f"{values['cold_excl_aws_s']:.0f} ms", va="center", fontsize=9)
    axis.barh([len(rows)], [medians["api_s"]], color="tab:gray", label="first event, AWS calls (excluded)")
    axis.axvline(section["target_ms"], color="red", linestyle="--", linewidth=1, label="target")
    axis.set_yticks(range(len(rows) + 1), [name for name, _, _ in rows] + ["AWS (excluded)"])
    axis.set_xlabel("ms")
    axis.set_title(f"{title}: {medians['cold_excl_aws_s']:.0f} ms")
    axis.legend(fontsize=8)


def _compare_tools(section: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("ecs-deploy CLI", section["ecs_deploy"]),
        ("pushdeploy\nwarm handler", section["pushdeploy_warm"]),
        ("pushdeploy\nfresh interpreter", section["pushdeploy_cold"]),
    ]


def _chart_compare_wall(axis: Any, section: dict[str, Any] | None) -> None:
    title = "(c) same image change: wall time (median)"
    if not _usable(axis, section, title) or section is None:
        return
    tools = _compare_tools(section)
    bars = axis.bar([name for name, _ in tools], [data["wall_ms"] for _, data in tools], color="tab:orange")
    axis.bar_label(bars, fmt="%.0f ms", fontsize=8)
    overhead = [data.get("interpreter_import_ms", 0.0) for _, data in tools]
    axis.bar([name for name, _ in tools], overhead, color="tab:brown", label="interpreter start + import")
    axis.set_ylabel("ms")
    axis.set_title(title)
    axis.legend(fontsize=8)


def _chart_compare_calls(axis: Any, section: dict[str, Any] | None) -> None:
    title = "(c) same image change: AWS calls (server count)"
    if not _usable(axis, section, title) or section is None:
        return
    tools = _compare_tools(section)
    operations = sorted({op for _, data in tools for op in data["calls"]})
    bottoms = [0.0] * len(tools)
    for op in operations:
        values = [float(data["calls"].get(op, 0)) for _, data in tools]
        axis.bar([name for name, _ in tools], values, bottom=bottoms, label=op)
        bottoms = [bottom + value for bottom, value in zip(bottoms, values, strict=True)]
    for index, total in enumerate(bottoms):
        axis.text(index, total + 0.2, f"{total:.0f}", ha="center", fontsize=9)
    axis.set_ylabel("calls")
    axis.set_ylim(0, max(bottoms) * 1.6)
    axis.set_title(title)
    axis.legend(fontsize=7, ncol=2, loc="upper left")
