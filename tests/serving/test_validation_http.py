"""Bad requests get a 4xx naming the field path and the reason, never a 500.

Bodies with NaN or Infinity are sent as the raw JSON text Python's ``json.dumps`` writes for
them (``NaN``, ``Infinity``), which is what a careless client sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from serving.schemas import ModelInfo
from tests.helpers import Server, http
from tests.serving.support import assert_client_error, feature_values, post_raw

pytestmark = pytest.mark.slow  # starts the service on the trained demo project

AS_OF = "2024-09-30"
TX = {"timestamp": "2024-09-01T10:00:00", "amount": 25.0}
Body = dict[str, Any]


@pytest.fixture(scope="module")
def features(model_info: ModelInfo, feature_table: pd.DataFrame, scores: pd.DataFrame) -> Body:
    """A complete, valid feature dict (a real customer's)."""
    return feature_values(feature_table.loc[scores["customer_id"].iloc[0]], model_info.features)


def one(**fields: Any) -> Body:
    return {"customers": [{"customer_id": "c1", **fields}]}


def events(**fields: Any) -> Body:
    return one(**{"as_of": AS_OF, "transactions": [TX], **fields})


# (id, body builder given a valid feature dict, status, error location, words in the message)
CASES: list[tuple[str, Callable[[Body], Body], int, list[Any], tuple[str, ...]]] = [
    (
        "customer_id missing",
        lambda f: {"customers": [{"features": f}]},
        400,
        ["customers", 0, "customer_id"],
        ("Field required",),
    ),
    (
        "customer_id not text",
        lambda f: {"customers": [{"customer_id": 7, "features": f}]},
        400,
        ["customers", 0, "customer_id"],
        ("valid string",),
    ),
    (
        "customer_id empty",
        lambda f: {"customers": [{"customer_id": "", "features": f}]},
        400,
        ["customers", 0, "customer_id"],
        ("at least 1 character",),
    ),
    ("customers not a list", lambda f: {"customers": "c1"}, 400, ["customers"], ("array",)),
    ("customers missing", lambda f: {}, 400, ["customers"], ("Field required",)),
    (
        "unknown field",
        lambda f: one(features=f, segment="gold"),
        400,
        ["customers", 0, "segment"],
        ("Extra inputs",),
    ),
    (
        "feature NaN",
        lambda f: one(features={**f, "orders_total": float("nan")}),
        400,
        ["customers", 0, "features"],
        ("orders_total", "finite"),
    ),
    (
        "feature Infinity",
        lambda f: one(features={**f, "spend_total": float("inf")}),
        400,
        ["customers", 0, "features"],
        ("spend_total", "finite"),
    ),
    (
        "amount -Infinity",
        lambda f: events(transactions=[{**TX, "amount": float("-inf")}]),
        400,
        ["customers", 0, "transactions", 0, "amount"],
        ("finite",),
    ),
    (
        "quantity NaN",
        lambda f: events(transactions=[{**TX, "quantity": float("nan")}]),
        400,
        ["customers", 0, "transactions", 0, "quantity"],
        ("finite",),
    ),
    (
        "attribute NaN",
        lambda f: events(attributes={"region": float("nan")}),
        400,
        ["customers", 0, "attributes"],
        ("region", "finite"),
    ),
    (
        "monthly_amount Infinity",
        lambda f: one(
            as_of=AS_OF,
            subscriptions=[{"start_date": "2024-01-01", "monthly_amount": float("inf")}],
        ),
        400,
        ["customers", 0, "subscriptions", 0],
        ("monthly_amount", "finite"),
    ),
    (
        "amount is text",
        lambda f: events(transactions=[{**TX, "amount": "lots"}]),
        400,
        ["customers", 0, "transactions", 0, "amount"],
        ("valid number",),
    ),
    (
        "timestamp not a date",
        lambda f: events(transactions=[{**TX, "timestamp": "yesterday"}]),
        400,
        ["customers", 0, "transactions", 0, "timestamp"],
        ("datetime",),
    ),
    (
        "as_of not a date",
        lambda f: one(as_of="2024-13-01", transactions=[TX]),
        400,
        ["customers", 0, "as_of"],
        ("month",),
    ),
    (
        "NPS score 11",
        lambda f: events(interactions=[{"timestamp": "2024-09-01", "type": "nps", "score": 11}]),
        400,
        ["customers", 0, "interactions", 0],
        ("nps", "[0, 10]", "11"),
    ),
    (
        "CSAT score missing",
        lambda f: events(interactions=[{"timestamp": "2024-09-01", "type": "csat"}]),
        400,
        ["customers", 0, "interactions", 0],
        ("csat", "[1, 5]"),
    ),
    (
        "interaction type unknown",
        lambda f: events(interactions=[{"timestamp": "2024-09-01", "type": "call"}]),
        400,
        ["customers", 0, "interactions", 0, "type"],
        ("ticket",),
    ),
    (
        "end_date before start_date",
        lambda f: one(
            as_of=AS_OF, subscriptions=[{"start_date": "2024-05-01", "end_date": "2024-04-01"}]
        ),
        400,
        ["customers", 0, "subscriptions", 0],
        ("end_date 2024-04-01 is before start_date",),
    ),
    (
        "features and events",
        lambda f: one(features=f, as_of=AS_OF, transactions=[TX]),
        400,
        ["customers", 0],
        ("either 'features' or raw data",),
    ),
    (
        "neither features nor events",
        lambda f: one(as_of=AS_OF),
        400,
        ["customers", 0],
        ("give 'features'",),
    ),
    (
        "events without as_of",
        lambda f: one(transactions=[TX]),
        400,
        ["customers", 0],
        ("'as_of' is required",),
    ),
    (
        "event after as_of",
        lambda f: events(transactions=[TX, {**TX, "timestamp": "2024-10-02"}]),
        400,
        ["customers", 0],
        ("transactions[1].timestamp 2024-10-02 is after as_of 2024-09-30",),
    ),
    (
        "ticket after as_of",
        lambda f: events(interactions=[{"timestamp": "2024-10-01T08:00:00", "type": "ticket"}]),
        400,
        ["customers", 0],
        ("interactions[0].timestamp", "after as_of"),
    ),
    (
        "subscription starts after as_of",
        lambda f: one(as_of=AS_OF, subscriptions=[{"start_date": "2024-10-01"}]),
        400,
        ["customers", 0],
        ("subscriptions[0].start_date",),
    ),
    (
        "offset event after as_of in business time",
        lambda f: {
            "customers": [
                {"customer_id": "ok", "as_of": AS_OF, "transactions": [TX]},
                {
                    "customer_id": "late",
                    "as_of": AS_OF,
                    "transactions": [TX, {**TX, "timestamp": "2024-09-30T22:30:00-04:00"}],
                },
            ]
        },
        422,
        ["customers", 1, "transactions", 1, "timestamp"],
        ("2024-10-01 02:30", "after as_of"),
    ),
    (
        "attribute named customer_id",
        lambda f: events(attributes={"customer_id": "c9"}),
        400,
        ["customers", 0, "attributes"],
        ("customer_id",),
    ),
    (
        "attribute is a boolean",
        lambda f: events(attributes={"region": True}),
        400,
        ["customers", 0, "attributes", "region"],
        ("valid",),
    ),
    (
        "feature missing",
        lambda f: one(features={k: v for k, v in f.items() if k != "tenure_days"}),
        422,
        ["customers", 0, "features"],
        ("missing feature(s)", "tenure_days"),
    ),
    (
        "feature unknown",
        lambda f: one(features={**f, "shoe_size": 42.0}),
        422,
        ["customers", 0, "features"],
        ("unknown feature(s)", "shoe_size"),
    ),
    (
        "feature is text",
        lambda f: one(features={**f, "orders_total": "many"}),
        422,
        ["customers", 0, "features"],
        ("orders_total", "number", "'many'"),
    ),
    (
        "feature is numeric text",
        lambda f: one(features={**f, "orders_total": "5"}),
        422,
        ["customers", 0, "features"],
        ("orders_total", "number", "'5'"),
    ),
    (
        "feature is a boolean",
        lambda f: one(features={**f, "orders_total": True}),
        400,
        ["customers", 0, "features", "orders_total"],
        ("valid number",),
    ),
    (
        "feature is a list",
        lambda f: one(features={**f, "orders_total": [1]}),
        400,
        ["customers", 0, "features", "orders_total"],
        ("valid number",),
    ),
    (
        "second item bad",
        lambda f: {
            "customers": [
                {"customer_id": "a", "features": f},
                {"customer_id": "b", "features": {**f, "spend_total": "x"}},
            ]
        },
        422,
        ["customers", 1, "features"],
        ("spend_total",),
    ),
    (
        "no events at all",
        lambda f: one(as_of=AS_OF, transactions=[]),
        422,
        ["customers"],
        ("no events",),
    ),
]


@pytest.mark.parametrize(
    ("build", "status", "loc", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_invalid_score_request_is_a_4xx_naming_field_and_reason(
    service: Server,
    features: Body,
    build: Callable[[Body], Body],
    status: int,
    loc: list[Any],
    words: tuple[str, ...],
) -> None:
    got, body = http("POST", f"{service.url}/score", build(features))
    assert_client_error(got, body, status, loc, *words)


@pytest.mark.parametrize(
    ("text", "loc", "words"),
    [
        pytest.param(
            '{"customers": [{"customer_id": "a", "as_of": "2024-09-30", "transactions": '
            '[{"timestamp": "2024-09-01", "amount": NaN}]}]}',
            ["customers", 0, "transactions", 0, "amount"],
            ("finite", "nan"),
            id="NaN amount",
        ),
        pytest.param(
            '{"customers": [{"customer_id": "a", "features": {"orders_total": -Infinity}}]}',
            ["customers", 0, "features"],
            ("orders_total", "finite"),
            id="-Infinity feature",
        ),
    ],
)
def test_non_finite_json_literals_are_a_400(
    service: Server, text: str, loc: list[Any], words: tuple[str, ...]
) -> None:
    status, body = post_raw(f"{service.url}/score", text)
    assert_client_error(status, body, 400, loc, *words)


def test_nan_is_sent_as_the_bare_json_literal(features: Body) -> None:
    """The NaN cases above really send JSON's non-standard literals, as a client library would."""
    text = json.dumps(one(features={**features, "orders_total": float("nan")}))
    assert '"orders_total": NaN' in text
    assert "Infinity" in json.dumps({"x": float("inf")})


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        pytest.param(
            {"customer_ids": [True, "a"]},
            ["customer_ids", 0],
            ("a customer id is a text or a number, got bool", "read as 12347"),
            id="id neither text nor number",
        ),
        pytest.param({"customer_ids": "R000001"}, ["customer_ids"], ("array",), id="not a list"),
        pytest.param({"customer_ids": None}, ["customer_ids"], ("array",), id="null"),
        pytest.param({"ids": ["R000001"]}, ["customer_ids"], ("Field required",), id="missing"),
    ],
)
def test_invalid_score_ids_request_is_a_400(
    service: Server, body: Body, loc: list[Any], words: tuple[str, ...]
) -> None:
    status, answer = http("POST", f"{service.url}/score_ids", body)
    assert_client_error(status, answer, 400, loc, *words)


@pytest.mark.parametrize(
    ("path", "field"), [("/score", "customers"), ("/score_ids", "customer_ids")]
)
def test_batch_over_max_is_413(service: Server, features: Body, path: str, field: str) -> None:
    if path == "/score":
        item = {"customer_id": "c", "features": features}
        body: Body = {"customers": [item] * 501}
    else:
        body = {"customer_ids": ["R000001"] * 501}
    status, answer = http("POST", f"{service.url}{path}", body)
    assert_client_error(status, answer, 413, [field], "501", "500", "RETAIN_MAX_BATCH")
    # the limit itself is allowed
    body[field] = body[field][:500]
    assert http("POST", f"{service.url}{path}", body)[0] == 200


@pytest.mark.parametrize(
    ("data", "content_type", "loc", "words"),
    [
        pytest.param('{"customers": [', "application/json", [], ("Invalid JSON",), id="truncated"),
        pytest.param("customers=1", "application/json", [], ("Invalid JSON",), id="not json"),
        pytest.param("[1, 2]", "application/json", [], ("object",), id="json array"),
        pytest.param("", "application/json", ["customers"], ("Field required",), id="empty body"),
        pytest.param(b"\xff\xfe\x00", "application/json", [], ("Invalid JSON",), id="binary"),
    ],
)
def test_malformed_body_or_wrong_content_is_a_400(
    service: Server, data: str | bytes, content_type: str, loc: list[Any], words: tuple[str, ...]
) -> None:
    status, body = post_raw(f"{service.url}/score", data, content_type)
    assert_client_error(status, body, 400, loc, *words)


def test_wrong_method_is_405(service: Server) -> None:
    status, _ = http("GET", f"{service.url}/score")
    assert status == 405


def test_no_request_of_the_session_got_a_500_so_far(service: Server) -> None:
    """Whatever ran before in this session, the service counted no 500 answer."""
    from prometheus_client.parser import text_string_to_metric_families

    _, text = http("GET", f"{service.url}/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    errors = [
        (s.labels["endpoint"], s.value)
        for s in families["bentoml_service_request"].samples
        if s.name.endswith("_total") and s.labels.get("http_response_code") == "500" and s.value
    ]
    assert errors == []
