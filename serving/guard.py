"""The service's front door: one ASGI middleware that checks a request before BentoML sees it.

In order: the Host header (allowed hosts, against DNS rebinding), the start-up state (a model
that failed its checks makes /readyz and the scoring endpoints answer 503 with the reason, while
/livez stays up), the API key (401), the content type (415: JSON only) and the body size (413),
read here in full so BentoML never buffers more than the limit. A valid body of a scoring route
then goes straight to the service (``serving.hot_path``); any other request goes on to BentoML.
Client errors are logged at INFO without the request's content, at most a few per interval. It
also answers the documentation paths, the OpenAPI document and the Swagger page, with
``serving.api_docs``.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings as RuntimeSettings
from serving.api_docs import DOCS_HEADERS, DOCS_PAGE, DOCS_SCRIPT, openapi
from serving.hot_path import HOT_ROUTES
from serving.metrics import before_scrape

logger = logging.getLogger("bentoml.retain")

PROTECTED = ("/score", "/score_ids", "/model_info")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
JSON_TYPES = ("application/json",)


@dataclass
class Health:
    """The worker's start-up state: ``failure`` is the reason it cannot serve, or None."""

    failure: str | None = None


HEALTH = Health()
"""Set by the service's start-up; read by the middleware on every request."""


@dataclass
class Settings:
    """The guard's settings, read from the environment once per worker."""

    api_key: bytes | None = None
    hosts: tuple[str, ...] = LOOPBACK_HOSTS
    max_body: int = RuntimeSettings.max_body_bytes
    cors: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls) -> Settings:
        """RETAIN_API_KEY, RETAIN_ALLOWED_HOSTS (loopback names when unset),
        RETAIN_MAX_BODY_BYTES and RETAIN_CORS_ORIGINS (empty: CORS off), from ``core.settings``."""
        env = RuntimeSettings.read()
        return cls(
            api_key=env.api_key.encode() if env.api_key else None,
            hosts=env.allowed_hosts or LOOPBACK_HOSTS,
            max_body=env.max_body_bytes,
            cors=list(env.cors_origins),
        )


class RateLimitedLog:
    """At most ``per_interval`` log lines per ``interval`` seconds; the rest are counted."""

    def __init__(self, per_interval: int = 10, interval: float = 10.0) -> None:
        self.per_interval = per_interval
        self.interval = interval
        self._lock = threading.Lock()
        self._start = 0.0
        self._count = 0
        self._dropped = 0

    def info(self, message: str, *args: Any) -> bool:
        """Log at INFO unless over the limit; True when the line was written."""
        now = time.monotonic()
        with self._lock:
            if now - self._start >= self.interval:
                if self._dropped:
                    logger.info("%d more client errors were not logged", self._dropped)
                self._start, self._count, self._dropped = now, 0, 0
            if self._count >= self.per_interval:
                self._dropped += 1
                return False
            self._count += 1
        logger.info(message, *args)
        return True


CLIENT_ERRORS = RateLimitedLog()


def error(status: int, message: str, loc: list[Any] | None = None) -> JSONResponse:
    """A client error in the service's one shape: error + detail[{loc, msg}]."""
    return JSONResponse(
        {"error": message, "detail": [{"loc": loc or [], "msg": message}]}, status_code=status
    )


DOCS: dict[str, Any] = {
    "/docs.json": None,  # BentoML's document, rewritten by ``serving.api_docs.openapi``
    "/": Response(DOCS_PAGE, media_type="text/html", headers=DOCS_HEADERS),
    "/docs.js": Response(DOCS_SCRIPT, media_type="text/javascript"),
}
"""The service's documentation paths (``serving.api_docs``), answered here instead of BentoML's."""


def _host(scope: Scope) -> str:
    headers = dict(scope["headers"])
    raw = headers.get(b"host", b"").decode("latin-1").strip().lower()
    if raw.startswith("["):  # [::1]:3000
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


class GuardMiddleware:
    """Host, start-up state, API key, content type and body size, before BentoML; see module."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.settings = Settings.from_env()
        self.entry: ASGIApp = self._guard
        if self.settings.cors:
            self.entry = CORSMiddleware(
                self._guard,
                allow_origins=self.settings.cors,
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type", "X-API-Key"],
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.entry(scope, receive, send)

    async def _guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        s = self.settings
        path = scope["path"].rstrip("/") or "/"
        host = _host(scope)
        if "*" not in s.hosts and host not in s.hosts:
            await error(400, f"Host {host!r} is not allowed: set RETAIN_ALLOWED_HOSTS to serve it")(
                scope, receive, send
            )
            return
        failure = HEALTH.failure
        if failure is not None and (path == "/readyz" or path in PROTECTED):
            if path in PROTECTED and not self._key_ok(scope):
                answer = error(401, "missing or wrong API key: send it in the X-API-Key header")
                await self._answer(answer, scope, receive, send, path)
                return
            if not self._key_ok(scope):  # the reason names model files: only for key holders
                failure = "the models failed their start-up checks (the log says why, and so "
                failure += "does this answer to a request with the X-API-Key header)"
            await error(503, f"the service is not ready: {failure}")(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD") and path in DOCS:
            if path == "/docs.json":
                await self._openapi(scope, receive, send)
            else:
                await DOCS[path](scope, receive, send)
            return
        if path == "/metrics":
            before_scrape()  # the feature table's age, as of this scrape
        if path not in PROTECTED or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        await self._protected(scope, receive, send, path)

    def _key_ok(self, scope: Scope) -> bool:
        """True without an API key set, or when the request's X-API-Key header is the key."""
        key = self.settings.api_key
        if key is None:
            return True
        return hmac.compare_digest(dict(scope["headers"]).get(b"x-api-key", b""), key)

    async def _protected(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        s = self.settings
        headers = dict(scope["headers"])
        if not self._key_ok(scope):
            answer = error(401, "missing or wrong API key: send it in the X-API-Key header")
            await self._answer(answer, scope, receive, send, path)
            return
        media = headers.get(b"content-type", b"application/json").decode("latin-1")
        media = media.split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            answer = error(415, f"unsupported content type {media[:100]!r}: send application/json")
            await self._answer(answer, scope, receive, send, path)
            return
        body = await _read_body(receive, s.max_body)
        if body is None:
            answer = error(
                413,
                f"request body over the limit of {s.max_body} bytes (RETAIN_MAX_BODY_BYTES)",
            )
            await self._answer(answer, scope, receive, send, path)
            return
        route = HOT_ROUTES.get(scope["path"])  # exactly: '/score/' stays BentoML's redirect
        lean = None if route is None else await route.answer(body)
        if lean is not None:  # a valid body, answered on the lean path (``serving.hot_path``)
            await lean(scope, receive, send)
            if 400 <= lean.status_code < 500:
                CLIENT_ERRORS.info("client error %d on %s", lean.status_code, path)
            return
        status: list[int] = []

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, _replay(body, receive), send_and_note)
        if status and 400 <= status[0] < 500:
            CLIENT_ERRORS.info("client error %d on %s", status[0], path)

    async def _answer(
        self, answer: JSONResponse, scope: Scope, receive: Receive, send: Send, path: str
    ) -> None:
        CLIENT_ERRORS.info("client error %d on %s", answer.status_code, path)
        await answer(scope, receive, send)

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: list[Message] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if not start or start[0]["status"] != 200:
            await error(500, "the OpenAPI document could not be built")(scope, receive, send)
            return
        spec = openapi(json.loads(b"".join(chunks)))
        await JSONResponse(spec)(scope, receive, send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
