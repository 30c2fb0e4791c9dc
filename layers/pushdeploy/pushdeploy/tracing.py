"""X-Ray tracing of a handler, paid for only when tracing is on.

powertools' ``Tracer()`` imports the X-Ray SDK whatever its settings (about a third of a cold start here);
``traced`` decides first, with powertools' own rules, and imports it only for a handler that will be traced.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

_TRUE = {"1", "true", "yes", "on"}


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """As powertools decides: off when POWERTOOLS_TRACE_DISABLED is true, outside Lambda, and under SAM local or
    Chalice."""
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    in_lambda = bool(env.get("LAMBDA_TASK_ROOT"))
    return in_lambda and not env.get("AWS_SAM_LOCAL") and not env.get("AWS_CHALICE_CLI_MODE")


def traced[Handler: Callable[..., Any]](handler: Handler, *, patch_modules: Sequence[str] | None = None) -> Handler:
    """``handler`` wrapped by powertools' ``Tracer.capture_lambda_handler`` when tracing is on, else as it is."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - the X-Ray SDK comes with it

    tracer = Tracer(patch_modules=list(patch_modules) if patch_modules is not None else None)
    return cast(Handler, tracer.capture_lambda_handler(handler))
