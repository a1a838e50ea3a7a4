"""serving.guard without a server: the rate-limited client-error log, Host parsing, settings, CORS."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message

from serving.guard import GuardMiddleware, RateLimitedLog, Settings, _host


def test_client_error_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    limit = RateLimitedLog(per_interval=3, interval=3600)
    with caplog.at_level("INFO", logger="bentoml.retain"):
        written = [limit.info("client error %d on %s", 400, "/score") for _ in range(5)]
    assert written == [True, True, True, False, False]
    assert [r.getMessage() for r in caplog.records] == ["client error 400 on /score"] * 3


def test_suppressed_lines_are_counted_in_the_next_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = RateLimitedLog(per_interval=0, interval=0.0)  # every call opens a new interval
    with caplog.at_level("INFO", logger="bentoml.retain"):
        assert limit.info("x") is False
        assert limit.info("x") is False
    assert [r.getMessage() for r in caplog.records] == ["1 more client errors were not logged"]


@pytest.mark.parametrize(
    ("header", "host"),
    [
        (b"127.0.0.1:3000", "127.0.0.1"),
        (b"LocalHost", "localhost"),
        (b"[::1]:3000", "::1"),
        (b"evil.example:80", "evil.example"),
        (b"", ""),
    ],
)
def test_host_header_names_the_host_without_port(header: bytes, host: str) -> None:
    assert _host({"headers": [(b"host", header)]}) == host


def test_settings_default_to_loopback_no_key_no_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RETAIN_API_KEY",
        "RETAIN_ALLOWED_HOSTS",
        "RETAIN_MAX_BODY_BYTES",
        "RETAIN_CORS_ORIGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert (s.api_key, s.hosts, s.max_body, s.cors) == (
        None,
        ("127.0.0.1", "localhost", "::1"),
        4 * 1024 * 1024,
        [],
    )
    monkeypatch.setenv("RETAIN_ALLOWED_HOSTS", " scores.example.com , *")
    monkeypatch.setenv("RETAIN_MAX_BODY_BYTES", "none")
    with pytest.raises(
        ValueError, match="RETAIN_MAX_BODY_BYTES must be a whole number, got 'none'"
    ):
        Settings.from_env()
    monkeypatch.setenv("RETAIN_MAX_BODY_BYTES", "1000")
    assert Settings.from_env().hosts == ("scores.example.com", "*")


def _call(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """One request through the guard in front of a one-route Starlette app, in-process (ASGI)."""

    async def ok(_: Request) -> JSONResponse:
        return JSONResponse({"scores": []})

    app = GuardMiddleware(Starlette(routes=[Route("/score", ok, methods=["POST"])]))
    sent: list[Message] = []
    raw = [(b"host", b"localhost"), *((k.lower().encode(), v.encode()) for k, v in headers.items())]
    scope = {"type": "http", "method": method, "path": path, "headers": raw, "query_string": b""}
    scope |= {"http_version": "1.1", "scheme": "http", "root_path": "", "raw_path": path.encode()}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


def test_cors_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETAIN_CORS_ORIGINS", raising=False)
    status, headers = _call("POST", "/score", {"Origin": "https://crm.example"})
    assert status == 200
    assert "access-control-allow-origin" not in headers


def test_cors_origins_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAIN_CORS_ORIGINS", "https://crm.example")
    status, headers = _call(
        "OPTIONS",
        "/score",
        {
            "Origin": "https://crm.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key",
        },
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://crm.example"
    _, other = _call("POST", "/score", {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other
