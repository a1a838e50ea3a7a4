"""serving.runtime.PromptTimeoutMiddleware: no timer outlives its request, and timeouts still work.

The middleware runs on a real asyncio loop with plain ASGI apps. What a request leaves behind is
observed two ways: the loop's scheduled timer handles, and a weak reference to an object the
request's context holds (as OpenTelemetry's span is held), which must be freed right after the
response. BentoML's own TimeoutMiddleware is the control: it keeps both alive for the timeout.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import time
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.runtime import PromptTimeoutMiddleware

REQUEST: contextvars.ContextVar[object] = contextvars.ContextVar("request")
Middleware = Callable[[ASGIApp, float], ASGIApp]


class RequestState:
    """Stands for what a request's context keeps (a tracing span, request and response)."""


async def fast_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _bentoml_middleware() -> Middleware:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    return TimeoutMiddleware


async def _call(app: ASGIApp, sent: list[Message], state: list[weakref.ref[object]]) -> None:
    """One request, in its own task and context like uvicorn's, holding a state object."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    held = RequestState()
    REQUEST.set(held)
    state.append(weakref.ref(held))
    del held
    await app({"type": "http", "path": "/score"}, receive, send)


def _after_one_request(middleware: Middleware) -> tuple[list[Message], bool, list[Any]]:
    """Messages sent, whether the request's state is still alive, live timer handles left."""

    async def main() -> tuple[list[Message], bool, list[Any]]:
        sent: list[Message] = []
        state: list[weakref.ref[object]] = []
        await asyncio.create_task(_call(middleware(fast_app, 60.0), sent, state))
        await asyncio.sleep(0)  # one loop iteration: cancelled timers leave the heap
        gc.collect()
        loop: Any = asyncio.get_running_loop()
        live = [h for h in loop._scheduled if not h.cancelled()]
        return sent, state[0]() is not None, live

    return asyncio.run(main())


def test_timer_is_cancelled_and_request_freed_after_the_response() -> None:
    sent, alive, live = _after_one_request(PromptTimeoutMiddleware)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert live == []
    assert not alive


def test_control_bentoml_timeout_middleware_keeps_request_alive() -> None:
    """Why the fix exists: the default middleware's timer holds the request for the timeout."""
    sent, alive, live = _after_one_request(_bentoml_middleware())
    assert sent[0]["status"] == 200
    assert len(live) == 1
    assert alive


def _run(app: ASGIApp, timeout: float) -> tuple[list[Message], float]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> float:
        started = time.monotonic()
        await PromptTimeoutMiddleware(app, timeout)({"type": "http"}, receive, send)
        return time.monotonic() - started

    return sent, asyncio.run(main())


def test_slow_app_gets_a_504_after_the_timeout_and_is_cancelled() -> None:
    cancelled = []

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        await fast_app(scope, receive, send)

    sent, seconds = _run(slow_app, timeout=0.2)
    assert 0.2 <= seconds < 2
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 504
    assert b"Not able to process the request in 0.2 seconds" in sent[1]["body"]
    assert cancelled == [True]


def test_a_response_started_in_time_is_not_cut_by_the_timeout() -> None:
    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)  # the body takes longer than the timeout
        await send({"type": "http.response.body", "body": b"late but whole"})

    sent, _ = _run(streaming_app, timeout=0.1)
    assert [m.get("status") for m in sent] == [200, None]
    assert sent[1]["body"] == b"late but whole"


def test_an_app_failing_before_responding_raises_at_once() -> None:
    """The app's error surfaces now, not after the timeout (and is not swallowed)."""

    async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"):
        _run(failing_app, timeout=30)
    assert time.monotonic() - started < 5


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def noop() -> Message:
        return {}

    async def drop(message: Message) -> None:
        return None

    asyncio.run(PromptTimeoutMiddleware(app, 0.01)({"type": "lifespan"}, noop, drop))
    assert seen == ["lifespan"]


def test_tune_installs_the_middleware_into_bentoml(monkeypatch: pytest.MonkeyPatch) -> None:
    from bentoml._internal.server.http import traffic

    from serving.runtime import tune_bentoml_runtime

    monkeypatch.setattr(traffic, "TimeoutMiddleware", traffic.TimeoutMiddleware)  # restored after
    monkeypatch.setenv("RETAIN_TRACING", "1")  # leave the tracer provider of this process alone
    tune_bentoml_runtime()
    assert traffic.TimeoutMiddleware is PromptTimeoutMiddleware
