"""The lean path of the scoring routes: a valid body goes from the guard straight to the service.

BentoML's own path for a request spends more CPU than our scoring of a precomputed by-id answer:
its context, exception and routing layers, the request object, the per-call signature inspection
of ``APIMethod`` and the response headers (py-spy on the served worker, issue 30). For the scoring
routes the guard (``serving.guard``) has the whole body in hand already, so it asks here first:

- the body is validated by the route's own BentoML input model (``APIMethod.input_spec``, the
  model BentoML validates it with, the same way: ``model_validate_json``, an empty body as ``{}``);
- a valid body is passed to the service method's function with the same keyword arguments
  BentoML would pass, and its response is sent with BentoML's ``Server`` header;
- an invalid body is not answered here (``None``): BentoML's path answers it, so every error
  message and status stays BentoML's, byte for byte.

BentoML's outer middlewares (request metrics, concurrency limit, timeout) still see every request.
The service registers its routes at start-up (``register``), only when its models loaded, and only
with the runtime tuning on and no spans asked for (``RETAIN_RUNTIME_TUNING=0`` or
``RETAIN_TRACING=1`` keep BentoML's path, with its request context and ids, for every request).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response

logger = logging.getLogger("bentoml.retain")

UNEXPECTED = "An unexpected error has occurred, please check the server log."
"""BentoML's answer to an exception in a service method (status 500), repeated here."""


@dataclass(frozen=True)
class HotRoute:
    """A scoring route answered on the lean path: its input model and the bound method to call."""

    spec: type[BaseModel]
    call: Callable[..., Awaitable[Any]]
    server: str
    """The ``Server`` header BentoML adds to every answer ('BentoML Service/retain')."""

    async def answer(self, body: bytes) -> Response | None:
        """The route's response to ``body``, or None when the body is invalid (BentoML answers)."""
        try:
            data = self.spec.model_validate_json(body or b"{}")
        except ValidationError:
            return None
        try:
            response = await self.call(**{k: getattr(data, k) for k in type(data).model_fields})
        except Exception:  # a bug, not the client's: logged, answered as BentoML would
            logger.exception("the lean path of a scoring route failed")
            response = JSONResponse({"error": UNEXPECTED}, status_code=500)
        if not isinstance(response, Response):  # the scoring methods answer Responses
            raise TypeError(f"a lean route answered {type(response).__name__}, not a Response")
        response.headers["server"] = self.server
        return response


LEAN_LOG = "valid bodies answered on the lean path:"
"""The start-up log line naming the lean routes (the tests read it)."""
HOT_ROUTES: dict[str, HotRoute] = {}
"""Path -> lean route; filled by the service's start-up (``register``), read by the guard."""


def register(service: Any, name: str, routes: tuple[str, ...]) -> None:
    """Answer ``routes`` (API method names of ``service``, a BentoML service instance) on the lean
    path; ``name`` is the BentoML service's name."""
    for method in routes:
        api = getattr(type(service), method)  # the class attribute: BentoML's ``APIMethod``
        bound = api.func.__get__(service)  # the function as written, bound to this instance
        HOT_ROUTES[api.route] = HotRoute(api.input_spec, bound, f"BentoML Service/{name}")
    logger.info("%s %s", LEAN_LOG, ", ".join(sorted(HOT_ROUTES)))
