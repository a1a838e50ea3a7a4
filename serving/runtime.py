"""BentoML runtime settings for a short latency tail, all through BentoML's public configuration.

BentoML 1.4's default service answered one customer in 2 ms at the median but 260-650 ms at p99
under load here: full garbage collections of 190-290 ms over a heap holding tens of thousands of
finished requests. Two things kept them alive:

1. Tracing. With ``sample_rate: 0`` BentoML's sampler still *records* every span (``RECORD_ONLY``),
   and each request's span, with its attributes, stays reachable from the context that
   BentoML's timeout middleware captures in its 60-second timer.
2. The timer itself, which holds that context (not the request) until it fires.

Listing every URL under ``tracing.excluded_urls`` (public configuration) makes the OpenTelemetry
middleware pass requests straight through, so no span exists; the service also freezes its
start-up heap (``gc.freeze``). That alone brought p99 at one connection from 142 ms to 11 ms, but
not to the 2 ms of a timer that is cancelled when the response starts: BentoML offers no public
way to replace or drop its timeout middleware (``traffic.timeout`` must be positive). So one
private hook remains, isolated here: ``install_prompt_timeout`` swaps the class BentoML looks up
when it builds the app, and ``check_prompt_timeout`` proves on the built app (``Service.to_asgi``,
public) that the swap took effect, failing the service's start-up loudly if BentoML changes.
``quiet_client_error_tracebacks`` filters BentoML's request-failure logger (by its name) so a
client's mistake is not logged at ERROR with a traceback; the guard logs it at INFO instead.
``RETAIN_TRACING=1`` keeps BentoML's spans (configure an exporter in BentoML's configuration);
``RETAIN_RUNTIME_TUNING=0`` runs BentoML's defaults, for the benchmark's side-by-side row.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings

EVERY_URL = ".*"


def runtime_tuning() -> bool:
    """False when ``RETAIN_RUNTIME_TUNING=0``: BentoML's default runtime, for comparison."""
    return Settings.read().runtime_tuning


def tracing_enabled() -> bool:
    """True when ``RETAIN_TRACING=1`` asks for BentoML's OpenTelemetry spans."""
    return Settings.read().tracing


def lean_path() -> bool:
    """True when valid scoring bodies may skip BentoML's layers (``serving.hot_path``): with the
    runtime tuning on and no spans asked for, which need BentoML's request context and ids."""
    return runtime_tuning() and not tracing_enabled()


def tracing_config() -> dict[str, Any]:
    """BentoML's ``tracing`` service settings: no spans at all unless tracing is asked for."""
    if tracing_enabled() or not runtime_tuning():
        return {"sample_rate": 0.0}
    return {"sample_rate": 0.0, "excluded_urls": [EVERY_URL]}


class PromptTimeoutMiddleware:
    """Answer 504 if a response has not started within ``timeout`` seconds; no lingering timer."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(self.timeout, _expire, started)

        async def send_and_mark(message: Message) -> None:
            _release(started)
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, send_and_mark))
        # an app that fails (or returns) before responding must not wait out the timeout
        task.add_done_callback(lambda _: _release(started))
        try:
            await started
        except TimeoutError:
            if task.cancel():
                body = {"error": f"Not able to process the request in {self.timeout} seconds"}
                await JSONResponse(body, status_code=504)(scope, receive, send)
            return
        finally:
            timer.cancel()
        await task


def _release(started: asyncio.Future[None]) -> None:
    if not started.done():
        started.set_result(None)


def _expire(started: asyncio.Future[None]) -> None:
    if not started.done():
        started.set_exception(TimeoutError())


def install_prompt_timeout() -> None:
    """Make BentoML build its timeout middleware as ``PromptTimeoutMiddleware`` (private hook).

    BentoML 1.4 imports ``TimeoutMiddleware`` from ``bentoml._internal.server.http.traffic`` when
    it builds an app; the class is replaced there. Fails loudly if that module or class moved.
    """
    from bentoml._internal.server.http import traffic

    original = getattr(traffic, "TimeoutMiddleware", None)
    if original is None or not isinstance(original, type):
        raise RuntimeError(
            "BentoML no longer defines bentoml._internal.server.http.traffic.TimeoutMiddleware: "
            "serving/runtime.py must be updated for this BentoML version "
            "(or run with RETAIN_RUNTIME_TUNING=0)"
        )
    traffic.TimeoutMiddleware = PromptTimeoutMiddleware


def check_prompt_timeout(app: Any) -> None:
    """Fail unless the built app times requests out with ``PromptTimeoutMiddleware`` only."""
    chain = [m.cls.__name__ for m in getattr(app, "user_middleware", [])]
    if chain.count(PromptTimeoutMiddleware.__name__) != 1 or "TimeoutMiddleware" in chain:
        raise RuntimeError(
            f"BentoML built its app with the middleware chain {chain}: the prompt timeout is not "
            "in place, so this BentoML version needs serving/runtime.py updated "
            "(or run with RETAIN_RUNTIME_TUNING=0)"
        )


BENTOML_HTTP_LOGGER = "bentoml._internal.server.http_app"
"""The logger BentoML 1.4 writes every failed request to, at ERROR with a traceback."""


class ClientErrorFilter(logging.Filter):
    """Drop BentoML's ERROR record (traceback, request) for a client's mistake (a 4xx).

    The guard middleware logs those at INFO, without the request's content and rate limited.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if isinstance(exc, ValidationError):
            return False
        code = getattr(getattr(exc, "error_code", None), "value", None)
        return not (isinstance(code, int) and 400 <= code < 500)


def quiet_client_error_tracebacks() -> None:
    """Filter BentoML's request-failure logger so only server errors keep their traceback."""
    target = logging.getLogger(BENTOML_HTTP_LOGGER)
    if not any(isinstance(f, ClientErrorFilter) for f in target.filters):
        target.addFilter(ClientErrorFilter())
