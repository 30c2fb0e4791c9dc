"""A cold Lambda execution environment: run in a fresh interpreter by bench.coldstart (and bench.compare).

    python -P bench/cold_child.py SPEC.json

SPEC names the handler file, the event and where to write the result. Only the standard library is
imported before the clock starts; botocore is wrapped after the handler module is imported (which imports
it), so the wrapping costs nothing that is measured. The function's environment comes from the parent.
"""

import time

STARTED_AT = time.monotonic()  # compared with the parent's clock: CLOCK_MONOTONIC is system-wide on Linux
STARTUP_CPU = time.process_time()  # the CPU the interpreter's own start took

import importlib.util  # noqa: E402 - after the clock on purpose
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402


class _Context:
    """The parts of Lambda's context object the handler and powertools read."""

    def __init__(self, function_name: str, function_arn: str) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self.function_version = "$LATEST"
        self.log_group_name = ""
        self.log_stream_name = ""

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def peak_rss_mb() -> float:
    """This process's peak resident memory since its exec: VmHWM. (ru_maxrss would not do: Linux carries it
    over from the parent through fork and exec, so a child of a large parent reports the parent's peak.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def main() -> None:
    spec_data: dict[str, Any] = json.loads(open(sys.argv[1]).read())  # noqa: SIM115
    import_start, import_start_cpu = time.perf_counter(), time.process_time()
    spec = importlib.util.spec_from_file_location("app", spec_data["handler_path"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    imported, imported_cpu = time.perf_counter(), time.process_time()
    modules_after_import = len(sys.modules)

    from botocore.client import BaseClient  # noqa: PLC0415 - already imported by the handler's imports
    from botocore.endpoint import Endpoint  # noqa: PLC0415

    totals = {"api": 0.0, "api_cpu": 0.0, "http": 0.0, "calls": 0, "requests": 0}
    calls: dict[str, int] = {}
    api_call_name, send_name = "_make_api_call", "_send"  # private: not in botocore's type stubs
    make_api_call = getattr(BaseClient, api_call_name)
    send = getattr(Endpoint, send_name)

    def timed_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
        host = client.meta.endpoint_url or ""
        if not host.startswith(("http://127.0.0.1", "http://localhost")):
            raise RuntimeError(f"refusing an AWS call to {host!r}")
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            return make_api_call(client, operation_name, api_params)
        finally:
            totals["api"] += time.perf_counter() - start
            totals["api_cpu"] += time.process_time() - start_cpu
            totals["calls"] += 1
            key = f"{client.meta.service_model.service_name}:{operation_name}"
            calls[key] = calls.get(key, 0) + 1

    def timed_send(endpoint: Any, request: Any) -> Any:
        start = time.perf_counter()
        try:
            return send(endpoint, request)
        finally:
            totals["http"] += time.perf_counter() - start
            totals["requests"] += 1

    setattr(BaseClient, api_call_name, timed_api_call)
    setattr(Endpoint, send_name, timed_send)

    context = _Context(spec_data["function_name"], spec_data["function_arn"])
    handler = getattr(module, spec_data["handler_name"])
    error = None
    result: Any = None
    event_start, event_start_cpu = time.perf_counter(), time.process_time()
    try:
        result = handler(spec_data["event"], context)
    except Exception as exc:  # reported to the parent, which fails the run
        error = f"{type(exc).__name__}: {exc}"
    event_end, event_end_cpu = time.perf_counter(), time.process_time()
    result_at = time.monotonic()  # when Lambda would answer: a Lambda environment never tears its interpreter down
    report = {
        "started_at": STARTED_AT,
        "result_at": result_at,
        "import_s": imported - import_start,
        "event_s": event_end - event_start,
        "api_s": totals["api"],
        "startup_cpu_s": STARTUP_CPU,
        "import_cpu_s": imported_cpu - import_start_cpu,
        "event_cpu_s": event_end_cpu - event_start_cpu,
        "api_cpu_s": totals["api_cpu"],
        "http_s": totals["http"],
        "calls": calls,
        "http_requests": totals["requests"],
        "modules_after_import": modules_after_import,
        "modules_after_event": len(sys.modules),
        "peak_rss_mb": peak_rss_mb(),
        "result": result,
        "error": error,
    }
    with open(spec_data["result_path"], "w") as output:
        json.dump(report, output, default=str)


if __name__ == "__main__":
    main()
