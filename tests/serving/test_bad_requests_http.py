"""Faults and abuse get a 4xx naming the field and the reason: never a 5xx, a stall or Infinity.

Dates outside the supported range, amounts that would overflow, unsupported content types,
oversized bodies, too many events, over-long ids and foreign Host headers, sent to a real server
whose limits are set low (``limited``), so the limits are reached with small requests.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any

import pytest

from serving.guard import CLIENT_ERRORS
from tests.conftest import TrainedProject
from tests.helpers import Server, http, running_server
from tests.serving.support import assert_client_error, post_raw

pytestmark = pytest.mark.slow  # starts the service on the trained demo project

MAX_BODY = 20_000
MAX_EVENTS = 50
SECRET_ID = "cust-secret-7781"
AS_OF = "2024-09-30"
TX = {"timestamp": "2024-09-01T10:00:00", "amount": 25.0}
RANGE = "outside the supported range 1900-01-01 to 2199-12-31"
Body = dict[str, Any]


@pytest.fixture(scope="module")
def limited(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service with a 20 kB body limit and 50 events per request."""
    log = tmp_path_factory.mktemp("logs_limited") / "service.log"
    env = {"RETAIN_MAX_BODY_BYTES": str(MAX_BODY), "RETAIN_MAX_EVENTS": str(MAX_EVENTS)}
    with running_server(env, log, what="limited service") as server:
        yield server


def events(**fields: Any) -> Body:
    item = {"customer_id": SECRET_ID, "as_of": AS_OF, "transactions": [TX], **fields}
    return {"customers": [item]}


def tx(**fields: Any) -> Body:
    return events(transactions=[{**TX, **fields}])


C0 = ["customers", 0]
# (id, body, status, error location, words in the message)
CASES: list[tuple[str, Body, int, list[Any], tuple[str, ...]]] = [
    ("as_of in year 1", events(as_of="0001-01-01"), 400, [*C0, "as_of"], ("0001-01-01", RANGE)),
    ("as_of in 1600", events(as_of="1600-06-30"), 400, [*C0, "as_of"], ("1600-06-30", RANGE)),
    (
        "timestamp in 9999",
        tx(timestamp="9999-12-31T23:59:59"),
        400,
        [*C0, "transactions", 0, "timestamp"],
        ("9999-12-31", RANGE),
    ),
    (
        "timestamp in 1600 with an offset",
        tx(timestamp="1600-01-01T00:00:00+05:00"),
        400,
        [*C0, "transactions", 0, "timestamp"],
        ("1600-01-01", RANGE),
    ),
    (
        "subscription starting in year 60",
        events(subscriptions=[{"start_date": "0060-03-01"}]),
        400,
        [*C0, "subscriptions", 0, "start_date"],
        ("0060-03-01", RANGE),
    ),
    (
        "subscription ending in 9999",
        events(subscriptions=[{"start_date": "2024-01-01", "end_date": "9999-12-31"}]),
        400,
        [*C0, "subscriptions", 0, "end_date"],
        ("9999-12-31", RANGE),
    ),
    (
        "signup in 1600",
        events(signup_date="1600-01-01"),
        400,
        [*C0, "signup_date"],
        ("1600-01-01", RANGE),
    ),
    (
        "interaction in year 1",
        events(interactions=[{"timestamp": "0001-01-01T00:00:00", "type": "ticket"}]),
        400,
        [*C0, "interactions", 0, "timestamp"],
        (RANGE,),
    ),
    (
        "two amounts of 1e308 (their sum overflows)",
        events(transactions=[{**TX, "amount": 1e308}, {**TX, "amount": 1e308}]),
        400,
        [*C0, "transactions", 0, "amount"],
        ("amount must be between -1e+12 and 1e+12, got 1e+308",),
    ),
    (
        "quantity of -1e300",
        tx(quantity=-1e300),
        400,
        [*C0, "transactions", 0, "quantity"],
        ("quantity must be between -1e+12 and 1e+12",),
    ),
    (
        "monthly amount of 1e20",
        events(subscriptions=[{"start_date": "2024-01-01", "monthly_amount": 1e20}]),
        400,
        [*C0, "subscriptions", 0],
        ("monthly_amount must be between",),
    ),
    (
        "ticket score of 1e308",
        events(
            interactions=[{"timestamp": "2024-09-01T00:00:00", "type": "ticket", "score": 1e308}]
        ),
        400,
        [*C0, "interactions", 0],
        ("score must be between",),
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "loc", "words"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_bad_dates_and_overflowing_amounts_are_a_400_naming_the_field(
    limited: Server, body: Body, status: int, loc: list[Any], words: tuple[str, ...]
) -> None:
    got, answer = http("POST", f"{limited.url}/score", body)
    assert_client_error(got, answer, status, loc, *words)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        pytest.param("multipart/form-data", b"--x\r\n", id="multipart without boundary"),
        pytest.param("multipart/form-data; boundary=x", b"--x--\r\n", id="multipart"),
        pytest.param("application/x-www-form-urlencoded", b"customers=1", id="form"),
        pytest.param("text/plain", b'{"customers": []}', id="text"),
        pytest.param("application/xml", b"<customers/>", id="xml"),
        pytest.param("application/vnd.bentoml+pickle", b"\x80\x04", id="pickle"),
    ],
)
@pytest.mark.parametrize("path", ["/score", "/score_ids", "/model_info"])
def test_unsupported_content_types_are_a_415(
    limited: Server, path: str, content_type: str, data: bytes
) -> None:
    status, body = post_raw(f"{limited.url}{path}", data, content_type)
    media = content_type.split(";")[0]
    assert_client_error(
        status, body, 415, [], f"unsupported content type '{media}'", "send application/json"
    )


def test_a_body_over_the_limit_is_a_413(limited: Server) -> None:
    data = json.dumps({"customer_ids": ["x" * 100] * (MAX_BODY // 100)})
    assert len(data) > MAX_BODY
    status, body = post_raw(f"{limited.url}/score_ids", data)
    assert_client_error(
        status, body, 413, [], f"over the limit of {MAX_BODY} bytes", "RETAIN_MAX_BODY_BYTES"
    )


def test_a_chunked_body_over_the_limit_is_a_413(limited: Server) -> None:
    """Without a Content-Length the body is counted as it arrives."""
    chunk = b'{"customer_ids": [' + b'"abcdefghij", ' * 2000 + b'"x"]}'
    conn = HTTPConnection("127.0.0.1", limited.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/score_ids",
            body=iter([chunk[:10_000], chunk[10_000:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        conn.close()
    assert_client_error(status, body, 413, [], f"over the limit of {MAX_BODY} bytes")


def test_more_events_than_allowed_is_a_413_naming_the_setting(limited: Server) -> None:
    many = events(transactions=[TX] * 30)
    many["customers"].append({**many["customers"][0], "customer_id": "b"})  # 60 events
    status, body = http("POST", f"{limited.url}/score", many)
    assert_client_error(
        status,
        body,
        413,
        ["customers"],
        "60 events",
        f"maximum of {MAX_EVENTS}",
        "RETAIN_MAX_EVENTS",
    )
    many["customers"][1]["transactions"] = [TX] * 20  # 50 events: the limit itself is allowed
    assert http("POST", f"{limited.url}/score", many)[0] == 200


def test_an_over_long_customer_id_is_a_400(limited: Server) -> None:
    status, body = http("POST", f"{limited.url}/score_ids", {"customer_ids": ["a", "x" * 129]})
    assert_client_error(status, body, 400, ["customer_ids", 1], "at most 128 characters")


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3000", "192.168.1.20", "[fe80::1]:3000"]
)
@pytest.mark.parametrize("path", ["/score_ids", "/readyz", "/docs.json"])
def test_a_foreign_host_header_is_a_400(limited: Server, host: str, path: str) -> None:
    """Loopback only by default: a page on another origin cannot rebind its name to us."""
    method = "POST" if path == "/score_ids" else "GET"
    body = {"customer_ids": ["a"]} if method == "POST" else None
    status, answer = http(method, f"{limited.url}{path}", body, headers={"Host": host})
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") else "fe80::1"
    assert_client_error(status, answer, 400, [], f"Host '{name}' is not allowed")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_host_names_are_served(limited: Server, host: str) -> None:
    headers = {"Host": f"{host}:{limited.port}"}
    status, answer = http("POST", f"{limited.url}/score_ids", {"customer_ids": ["a"]}, headers)
    assert status == 200, answer


def test_model_info_names_no_server_path(limited: Server, trained: TrainedProject) -> None:
    status, info = http("POST", f"{limited.url}/model_info", {})
    assert status == 200
    assert info["feature_table"]["path"] == trained.feature_table.name
    assert str(trained.home) not in json.dumps(info)


def test_openapi_declares_every_status_with_the_real_error_schema(limited: Server) -> None:
    status, spec = http("GET", f"{limited.url}/docs.json")
    assert status == 200
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["detail"]["type"] == "array"
    assert error["properties"]["detail"]["items"]["required"] == ["loc", "msg"]
    assert "InvalidArgument" not in spec["components"]["schemas"]
    common = {"200", "400", "401", "413", "415", "429", "500", "503", "504"}
    expected = {
        "/score": common | {"422"},
        "/score_ids": common,
        "/model_info": common,
        "/readyz": {"200", "400", "429", "503"},
    }
    for path, statuses in expected.items():
        operation = next(iter(spec["paths"][path].values()))
        assert set(operation["responses"]) == statuses, path
        for code in statuses - {"200"}:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}


def test_client_errors_are_logged_at_info_without_customer_data(limited: Server) -> None:
    """Every bad date and amount above is in this server's log as one INFO line, or counted in
    the line the rate limit writes for those it held back: no traceback, no input (the cases are
    sent again here, whatever ran before on this server)."""
    line = "[INFO] [entry_service:retain:1] client error 400 on /score"
    held_back = re.compile(r"(\d+) more client errors were not logged")
    before = limited.output()
    for _, body, expected, _, _ in CASES:
        status, _ = http("POST", f"{limited.url}/score", body)
        assert status == expected == 400
    # the count of held-back lines is written with the first error after the limit's interval
    time.sleep(CLIENT_ERRORS.interval + 0.5)
    assert http("POST", f"{limited.url}/score", CASES[0][1])[0] == 400
    log = limited.output_with(line, count=before.count(line) + 1)
    new = log[len(before) :]
    accounted = new.count(line) + sum(int(n) for n in held_back.findall(new))
    assert accounted >= len(CASES) + 1  # one line or one count each (and any still on its way)
    assert "Traceback" not in log
    assert SECRET_ID not in log
    assert "[ERROR]" not in log
