"""The service's own documentation: its OpenAPI document and the Swagger page at ``/``.

BentoML 1.4 writes an OpenAPI document with its own boilerplate (version "None", Slack badges,
"Contact BentoML Team", schema names such as ``score__Input``) and serves a Swagger page that
loads Google Tag Manager; it has no public setting for either (its docs suggest editing the
built bento's ``openapi.yaml``, which the server ignores). So the guard middleware, installed
with the public ``add_asgi_middleware``, answers ``/``, ``/docs.js`` and ``/docs.json`` itself:

- ``openapi`` rewrites BentoML's document: titled retain with the package version, every status
  each path answers with the real error schema, request examples, required bodies, the rule
  that ``as_of`` comes with raw data, and plain schema names;
- ``DOCS_PAGE`` is a Swagger page that loads only the swagger-ui files BentoML ships (same
  origin, ``/static_content``) and ``DOCS_SCRIPT``, with the online validator off: no
  third-party script, style or request, which its Content-Security-Policy also enforces.
"""

from __future__ import annotations

import copy
import json
from importlib import metadata
from typing import Any

from serving.schemas import (
    EXAMPLE_EVENTS_REQUEST,
    EXAMPLE_FEATURES_REQUEST,
    EXAMPLE_IDS_REQUEST,
)


def package_version() -> str:
    """The installed retain version; "unknown" when run from a bento without the package."""
    try:
        return metadata.version("retain")
    except metadata.PackageNotFoundError:
        return "unknown"


VERSION = package_version()
DESCRIPTION = (
    "Churn probability, customer lifetime value, value at risk and the reasons behind each "
    "score. Score customers by id from the table `retain score` wrote (`POST /score_ids`), "
    "from their raw events or CRM row with an `as_of` day (`POST /score`), and see which "
    "models are served (`POST /model_info`). When the service has an API key, send it in the "
    "`X-API-Key` header. Every field, status and setting: docs/API.md of the retain project."
)
TAGS = [
    {"name": "Scoring", "description": "Churn and CLV scores with their reasons."},
    {"name": "Health and metrics", "description": "Probes and Prometheus metrics."},
]
TAG_NAMES = {"Service APIs": "Scoring", "Infrastructure": "Health and metrics"}
"""BentoML's tag names and ours."""
SCHEMA_NAMES = {
    "score__Input": "ScoreRequest",
    "score_ids__Input": "ScoreIdsRequest",
    "model_info__Input": "ModelInfoRequest",
    "ScoreResponseIODescriptor": "ScoreResponse",
    "ModelInfoIODescriptor": "ModelInfo",
}
"""BentoML's generated schema names and ours."""
RESPONSE_NAMES = {
    "/score": "ScoreResponse",
    "/score_ids": "ScoreResponse",
    "/model_info": "ModelInfo",
}
"""The component each path's 200 answer refers to: the schema BentoML inlines there, named."""
REQUEST_NAMES = {
    "/score": "ScoreRequest",
    "/score_ids": "ScoreIdsRequest",
    "/model_info": "ModelInfoRequest",
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "/score": {
        "events": {"summary": "Raw events with as_of", "value": EXAMPLE_EVENTS_REQUEST},
        "features": {
            "summary": "Feature values (a real request lists every feature)",
            "value": EXAMPLE_FEATURES_REQUEST,
        },
    },
    "/score_ids": {
        "ids": {"summary": "Ids as the export wrote them", "value": EXAMPLE_IDS_REQUEST}
    },
    "/model_info": {"empty": {"summary": "No fields", "value": {}}},
}
"""Request examples per path: each validates against the path's request schema (tested)."""
REQUIRED_BODY = ("/score", "/score_ids")
"""Paths that need a JSON body."""

ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "description": "What went wrong; ``detail`` lists each problem with its field path.",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "title": "Message"},
        "detail": {
            "type": "array",
            "title": "Problems",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                        "description": "Path of the field, e.g. customers, 0, as_of.",
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
        },
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
STATUSES = {
    400: "Invalid request: malformed JSON, a field that fails validation, or a Host not allowed",
    401: "Missing or wrong X-API-Key (only when RETAIN_API_KEY is set)",
    413: "Body over RETAIN_MAX_BODY_BYTES, or more customers or events than allowed",
    415: "Content type other than application/json",
    422: "Valid JSON that does not fit the models (feature names, event days, ...)",
    429: "Too many concurrent requests",
    500: "Unexpected server error",
    503: "The models failed their start-up checks (the reason is given)",
    504: "The request took longer than the timeout",
}
ENDPOINT_STATUSES = {
    "/score": (400, 401, 413, 415, 422, 429, 500, 503, 504),
    "/score_ids": (400, 401, 413, 415, 429, 500, 503, 504),
    "/model_info": (400, 401, 413, 415, 429, 500, 503, 504),
    "/readyz": (400, 429, 503),
}
"""Statuses besides 200 each path can answer; every other path may answer 400 (Host)."""


def _given(field: str, kind: str) -> dict[str, Any]:
    """JSON Schema: ``field`` is present and not null (of JSON type ``kind``)."""
    return {"required": [field], "properties": {field: {"type": kind}}}


RAW_FIELDS = (
    ("transactions", "array"),
    ("interactions", "array"),
    ("subscriptions", "array"),
    ("attributes", "object"),
)
ONE_WAY_AND_DATED = {
    "anyOf": [
        {
            "title": "By feature values",
            **_given("features", "object"),
            "not": {"anyOf": [_given(f, k) for f, k in RAW_FIELDS]},
        },
        {
            "title": "By raw events or attributes, with as_of",
            **_given("as_of", "string"),
            "anyOf": [_given(f, k) for f, k in RAW_FIELDS],
            "not": _given("features", "object"),
        },
    ]
}
"""``CustomerInput``'s rule in the document: ``features``, or raw data with ``as_of`` (its
model validator ``_one_way_and_dated`` enforces the same)."""


def openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """BentoML's OpenAPI document made retain's: see the module docstring."""
    text = json.dumps(spec)
    for old, new in SCHEMA_NAMES.items():  # references, titles and keys alike
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
        text = text.replace(f'"title": "{old}"', f'"title": "{new}"')
    spec = json.loads(text)
    spec["info"] = {"title": "retain", "version": VERSION, "description": DESCRIPTION}
    spec["tags"] = copy.deepcopy(TAGS)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for old, new in SCHEMA_NAMES.items():
        if old in schemas:
            schemas[new] = schemas.pop(old)
    for stale in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(stale, None)
    schemas["Error"] = ERROR_SCHEMA
    if "CustomerInput" in schemas:
        schemas["CustomerInput"].update(copy.deepcopy(ONE_WAY_AND_DATED))
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation.pop("x-bentoml-name", None)
            operation["tags"] = [TAG_NAMES.get(t, t) for t in operation.get("tags", [])]
            responses = {"200": operation["responses"].get("200", {"description": "OK"})}
            _name_response(responses["200"], RESPONSE_NAMES.get(path), schemas)
            for status in ENDPOINT_STATUSES.get(path, (400, 429)):
                responses[str(status)] = {
                    "description": STATUSES[status],
                    "content": {"application/json": {"schema": ERROR_REF}},
                }
            operation["responses"] = responses
            body = operation.get("requestBody")
            if isinstance(body, dict):
                body["required"] = path in REQUIRED_BODY
                media = body.get("content", {}).get("application/json")
                if isinstance(media, dict):
                    name = REQUEST_NAMES.get(path)
                    if name in schemas:  # BentoML inlines a copy of the component: refer to it
                        media["schema"] = {"$ref": f"#/components/schemas/{name}"}
                    media.pop("example", None)
                    if path in EXAMPLES:
                        media["examples"] = copy.deepcopy(EXAMPLES[path])
    _drop_unused(spec)
    return spec


def _name_response(ok: dict[str, Any], name: str | None, schemas: dict[str, Any]) -> None:
    """Put the inlined 200 schema under its component ``name`` and refer to it.

    The inlined copy is kept as it is: for ``ModelInfo`` it is the one with OpenAPI 3.0's
    ``nullable`` marks (``serving.schemas.NULLABLE``), which the generated component lacks.
    """
    media = ok.get("content", {}).get("application/json")
    if name is None or not isinstance(media, dict) or "$ref" in media.get("schema", {}):
        return
    schemas[name] = {**media["schema"], "title": name}
    media["schema"] = {"$ref": f"#/components/schemas/{name}"}


def _drop_unused(spec: dict[str, Any]) -> None:
    """Remove component schemas nothing refers to (BentoML's task-status schema)."""
    schemas = spec["components"]["schemas"]
    while True:
        text = json.dumps({k: v for k, v in spec.items() if k != "components"}) + json.dumps(
            {n: s for n, s in schemas.items()}
        )
        unused = [n for n in schemas if f'"#/components/schemas/{n}"' not in text and n != "Error"]
        if not unused:
            return
        for name in unused:
            del schemas[name]


# ----------------------------------------------------------------------------- the page

DOCS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>retain {VERSION}: churn and CLV scoring API</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./docs.js" charset="UTF-8"></script>
  </body>
</html>
"""
"""The Swagger page at ``/``: swagger-ui's own files as BentoML ships them, nothing else."""
DOCS_SCRIPT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "./docs.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
};
"""
"""Starts Swagger UI on our document; ``validatorUrl: null`` keeps it from calling
validator.swagger.io."""
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; frame-ancestors 'none'"
    )
}
"""The page may load nothing but same-origin files (and Swagger UI's inline styles)."""
