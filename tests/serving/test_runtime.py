"""serving.runtime: the latency settings reach the app BentoML really builds, through public APIs.

Each case imports the service in a fresh process (the decorator reads the environment once) and
builds its ASGI app with ``Service.to_asgi()``, then reads the middleware chain Starlette keeps in
``app.user_middleware``: the OpenTelemetry middleware must skip every URL unless tracing is asked
for. No model is needed to build the app: the service instance is created at lifespan start-up.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import os
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import TELEMETRY_OFF
from serving.runtime import (
    EVERY_URL,
    PromptTimeoutMiddleware,
    check_prompt_timeout,
    lean_path,
    tracing_config,
)
from tests.helpers import ROOT

PROBE = """
import json
from serving.service import Retain
app = Retain.to_asgi()
chain = [m.cls.__name__ for m in app.user_middleware]
otel = next(m for m in app.user_middleware if m.cls.__name__ == "OpenTelemetryMiddleware")
urls = ["http://127.0.0.1:3000/score", "http://127.0.0.1:3000/score_ids", "http://h/readyz"]
print(json.dumps({"chain": chain, "skipped": [otel.kwargs["excluded_urls"].url_disabled(u) for u in urls]}))
"""


def _built_app(tmp_path: Path, **env: str) -> dict[str, list[object]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={
            **os.environ,
            **TELEMETRY_OFF,
            "BENTOML_HOME": str(tmp_path / "bentoml"),
            "RETAIN_TRACING": "0",
            "RETAIN_RUNTIME_TUNING": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_built_app_creates_no_spans_and_times_out_promptly(tmp_path: Path) -> None:
    app = _built_app(tmp_path)
    assert app["skipped"] == [True, True, True]
    assert "GuardMiddleware" in app["chain"]  # our public middleware hook is in the same chain
    assert "PromptTimeoutMiddleware" in app["chain"]
    assert "TimeoutMiddleware" not in app["chain"]  # BentoML's, replaced by the one private hook


@pytest.mark.slow
def test_the_default_runtime_keeps_bentoml_timeout_middleware(tmp_path: Path) -> None:
    chain = _built_app(tmp_path, RETAIN_RUNTIME_TUNING="0")["chain"]
    assert "TimeoutMiddleware" in chain
    assert "PromptTimeoutMiddleware" not in chain


def test_start_up_check_fails_loudly_when_the_replacement_is_missing() -> None:
    class Entry:
        def __init__(self, cls: type) -> None:
            self.cls = cls

    class TimeoutMiddleware:  # stands for BentoML's, still in the chain
        pass

    class App:
        def __init__(self, *classes: type) -> None:
            self.user_middleware = [Entry(c) for c in classes]

    with pytest.raises(RuntimeError, match="the prompt timeout is not in place"):
        check_prompt_timeout(App(TimeoutMiddleware))
    with pytest.raises(RuntimeError, match="the prompt timeout is not in place"):
        check_prompt_timeout(App(PromptTimeoutMiddleware, TimeoutMiddleware))
    check_prompt_timeout(App(PromptTimeoutMiddleware))


@pytest.mark.slow  # two more BentoML start-ups; the default case above stays in the fast loop
@pytest.mark.parametrize("env", [{"RETAIN_TRACING": "1"}, {"RETAIN_RUNTIME_TUNING": "0"}])
def test_tracing_or_the_default_runtime_keep_bentoml_spans(
    tmp_path: Path, env: dict[str, str]
) -> None:
    assert _built_app(tmp_path, **env)["skipped"] == [False, False, False]


def test_tracing_config_per_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETAIN_TRACING", raising=False)
    monkeypatch.delenv("RETAIN_RUNTIME_TUNING", raising=False)
    assert tracing_config() == {"sample_rate": 0.0, "excluded_urls": [EVERY_URL]}
    monkeypatch.setenv("RETAIN_TRACING", "1")
    assert tracing_config() == {"sample_rate": 0.0}
    monkeypatch.setenv("RETAIN_TRACING", "0")
    monkeypatch.setenv("RETAIN_RUNTIME_TUNING", "0")
    assert tracing_config() == {"sample_rate": 0.0}


@pytest.mark.parametrize(
    ("tracing", "tuning", "lean"), [("0", "1", True), ("1", "1", False), ("0", "0", False)]
)
def test_the_lean_path_only_with_the_tuned_runtime_and_no_spans(
    monkeypatch: pytest.MonkeyPatch, tracing: str, tuning: str, lean: bool
) -> None:
    monkeypatch.setenv("RETAIN_TRACING", tracing)
    monkeypatch.setenv("RETAIN_RUNTIME_TUNING", tuning)
    assert lean_path() is lean


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
