"""BentoML runtime settings for a short latency tail, all through BentoML's public configuration.

BentoML 1.4's default service answered one customer in 2 ms at the median but 260-650 ms at p99
under load here: full garbage collections of 190-290 ms over a heap holding tens of thousands of
finished requests. Two things kept them alive:

1. Tracing. With ``sample_rate: 0`` BentoML's sampler still *records* every span (``RECORD_ONLY``),
   and each request's span, with its attributes, stays reachable from the context that
   BentoML's timeout middleware captures in its 60-second timer.
2. The timer itself, which holds that context (not the request) until it fires.

Listing every URL under ``tracing.excluded_urls`` makes the OpenTelemetry middleware pass requests
straight through, so no span exists and the timer's context holds almost nothing; the service
then freezes its start-up heap (``gc.freeze``) so collections skip the models. Measured side by
side, this matches the earlier fix that replaced BentoML's private timeout middleware, without
touching BentoML's internals. ``RETAIN_TRACING=1`` keeps BentoML's spans (configure an exporter
in BentoML's own configuration); ``RETAIN_RUNTIME_TUNING=0`` runs BentoML's defaults, for the
benchmark's side-by-side row.
"""

from __future__ import annotations

import os
from typing import Any

EVERY_URL = ".*"


def runtime_tuning() -> bool:
    """False when ``RETAIN_RUNTIME_TUNING=0``: BentoML's default runtime, for comparison."""
    return os.environ.get("RETAIN_RUNTIME_TUNING", "1") != "0"


def tracing_enabled() -> bool:
    """True when ``RETAIN_TRACING=1`` asks for BentoML's OpenTelemetry spans."""
    return os.environ.get("RETAIN_TRACING", "0") == "1"


def tracing_config() -> dict[str, Any]:
    """BentoML's ``tracing`` service settings: no spans at all unless tracing is asked for."""
    if tracing_enabled() or not runtime_tuning():
        return {"sample_rate": 0.0}
    return {"sample_rate": 0.0, "excluded_urls": [EVERY_URL]}
