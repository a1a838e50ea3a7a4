"""The CRM engineer's API over HTTP: bounded requests, ids as the export wrote them, an accurate
OpenAPI document, a docs page with no third-party script, and model metrics.

Against real `bentoml serve` processes: the shared ``service``, and one serving a copy of the
session's feature table whose customers have numeric ids (as a retail export's ``CustomerID``
column holds them), written by ``serving.lookup.write_feature_table`` as ``retain score`` writes.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema_rs
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.lookup import read_feature_table, write_feature_table
from serving.schemas import EXAMPLE_EVENTS_REQUEST
from tests.conftest import TrainedProject
from tests.helpers import Server, http, running_server

pytestmark = pytest.mark.slow  # starts services on the trained demo project

AS_OF = "2024-12-31"
TX = [{"timestamp": "2024-06-01T10:00:00", "amount": 20.0}]
FIRST_NUMERIC_ID = 12347
NUMERIC_CUSTOMERS = 30


def _events(attributes: dict[str, Any]) -> dict[str, Any]:
    item = {"customer_id": "C1", "as_of": AS_OF, "attributes": attributes, "transactions": TX}
    return {"customers": [item]}


# ----------------------------------------------------------------------------- attribute names


def test_a_hundred_thousand_made_up_attribute_names_are_refused_at_once_while_livez_answers(
    service: Server,
) -> None:
    """Issue 29's request (1.4 MB, under the body limit) froze the worker for 15 minutes."""
    body = _events({f"a{i}": "x" for i in range(100_000)})
    answer: dict[str, Any] = {}

    def send() -> None:
        start = time.monotonic()
        answer["status"], answer["body"] = http("POST", f"{service.url}/score", body, timeout=60)
        answer["seconds"] = time.monotonic() - start

    sender = threading.Thread(target=send)
    sender.start()
    probes = []
    while sender.is_alive():
        probes.append(http("GET", f"{service.url}/livez", timeout=10)[0])
        time.sleep(0.05)
    sender.join()
    print(f"100,000 attribute names: {answer['status']} in {answer['seconds']:.3f} s")
    assert answer["status"] == 422, answer["body"]
    assert answer["seconds"] < 10  # measured well under 1 s; the bound only catches a stall
    error = answer["body"]["error"]
    assert error.startswith("unknown attribute 'a0' (and 99999 more unknown of 100000 sent)")
    assert "the models read ['channel', 'region']" in error
    assert answer["body"]["detail"][0]["loc"] == ["customers", 0, "attributes"]
    assert set(probes) <= {200}
    assert http("GET", f"{service.url}/livez")[0] == 200


def test_a_misspelt_attribute_is_named_with_the_closest_known_one(service: Server) -> None:
    status, body = http("POST", f"{service.url}/score", _events({"chanel": "referral"}))
    assert status == 422, body
    assert body["error"].startswith("unknown attribute 'chanel' (did you mean 'channel'?)")
    good = http("POST", f"{service.url}/score", _events({"channel": "referral"}))
    assert good[0] == 200, good[1]


def test_an_attribute_name_of_a_megabyte_is_refused_without_echoing_it(service: Server) -> None:
    status, body = http("POST", f"{service.url}/score", _events({"x" * 1_000_000: "y"}))
    assert status == 422, body
    assert "of 1000000 characters" in body["error"]
    assert "names are at most 256 characters" in body["error"]
    assert len(body["error"]) < 1_000


# ----------------------------------------------------------------------------- ids


@pytest.fixture(scope="module")
def numeric(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server whose feature table keys the first customers by numbers: (server, old ids)."""
    table = read_feature_table(trained.feature_table).iloc[:NUMERIC_CUSTOMERS]
    old_ids = table.index.tolist()
    table.index = pd.Index(
        [str(FIRST_NUMERIC_ID + i) for i in range(len(table))], name=table.index.name
    )
    folder = tmp_path_factory.mktemp("numeric_ids")
    path = write_feature_table(table.drop(columns="as_of"), trained.as_of, folder / "table.parquet")
    with running_server({"RETAIN_FEATURE_TABLE": str(path)}, folder / "service.log") as server:
        yield server, old_ids, path


def test_a_numeric_id_is_found_however_the_export_wrote_it(numeric: Any, service: Server) -> None:
    server, old_ids, _ = numeric
    n = FIRST_NUMERIC_ID
    forms = [n, float(n), str(n), f"{n}.0", f" {n} ", f"{n}.00"]
    status, body = http("POST", f"{server.url}/score_ids", {"customer_ids": forms})
    assert status == 200, body
    scores = body["scores"]
    assert [s["customer_id"] for s in scores] == [str(n)] * len(forms)
    assert all(s["error"] is None for s in scores), scores
    # the same row as the original id on the shared service: the same score
    _, original = http("POST", f"{service.url}/score_ids", {"customer_ids": [old_ids[0]]})
    expected = original["scores"][0]["churn_probability"]
    assert [s["churn_probability"] for s in scores] == [expected] * len(forms)


def test_ids_that_are_not_the_table_s_say_how_ids_are_read(numeric: Any) -> None:
    server, _, _ = numeric
    n = FIRST_NUMERIC_ID
    status, body = http("POST", f"{server.url}/score_ids", {"customer_ids": [n + 0.5, f"0{n}"]})
    assert status == 200, body
    for score in body["scores"]:
        assert score["error"].startswith("unknown customer_id: not in the feature table")
        assert "12347.0" in score["error"]
        assert "read as 12347" in score["error"]
    status, body = http("POST", f"{server.url}/score_ids", {"customer_ids": [True]})
    assert status == 400, body
    assert body["detail"][0]["loc"] == ["customer_ids", 0]
    assert "a customer id is a text or a number, got bool" in body["detail"][0]["msg"]


def test_a_float_id_column_in_the_feature_table_is_read_as_the_export_s_integers(
    trained: TrainedProject, tmp_path: Path
) -> None:
    """A table keyed by floats (12347.0), as a foreign writer leaves it, is read as 12347."""
    table = read_feature_table(trained.feature_table).iloc[:3]
    raw = table.reset_index(drop=True)
    raw.insert(0, "customer_id", [12347.0, 12348.0, 99.0])
    path = tmp_path / "floats.parquet"
    raw.to_parquet(path, index=False)
    read = read_feature_table(path)
    assert read.index.tolist() == ["12347", "12348", "99"]
    again = write_feature_table(read.drop(columns="as_of"), trained.as_of, tmp_path / "a.parquet")
    assert read_feature_table(again).index.tolist() == ["12347", "12348", "99"]


# ----------------------------------------------------------------------------- metrics


def _scrape(url: str) -> dict[str, Any]:
    status, text = http("GET", f"{url}/metrics")
    assert status == 200
    return {f.name: f for f in text_string_to_metric_families(text)}


def _scored_by_tier(families: dict[str, Any]) -> pd.Series:
    if "retain_scores" not in families:
        return pd.Series(dtype=float)
    return pd.Series(
        {
            s.labels["risk_tier"]: s.value
            for s in families["retain_scores"].samples
            if s.name == "retain_scores_total" and s.labels["endpoint"] == "/score_ids"
        },
        dtype=float,
    )


def test_metrics_count_scores_by_tier_and_name_the_models_and_the_table_age(numeric: Any) -> None:
    """One server's scrape right after its own request: every `bentoml serve` start empties the
    Prometheus folder, so nothing else may start in between. The counters grow by this
    request's customers, tier by tier."""
    server, _, path = numeric
    before = _scored_by_tier(_scrape(server.url))
    ids = [FIRST_NUMERIC_ID + i for i in range(NUMERIC_CUSTOMERS)]
    status, body = http("POST", f"{server.url}/score_ids", {"customer_ids": ids})
    assert status == 200, body
    tiers = pd.Series([s["risk_tier"] for s in body["scores"]]).value_counts().to_dict()
    counted: dict[str, float] = {}
    deadline = time.monotonic() + 10
    while counted != tiers and time.monotonic() < deadline:
        families = _scrape(server.url)
        grown = _scored_by_tier(families).sub(before, fill_value=0.0)
        counted = grown[grown > 0].to_dict()
        time.sleep(0.2)
    assert counted == tiers
    versions = body["scores"][0]["model_versions"]
    served = {
        s.labels["model"]: s.labels["version"]
        for s in families["retain_model_info"].samples
        if s.value == 1
    }
    assert served == {k: v for k, v in versions.items() if v}
    age = families["retain_feature_table_age_seconds"].samples[0].value
    written = families["retain_feature_table_written_timestamp_seconds"].samples[0].value
    assert written == pytest.approx(path.stat().st_mtime, abs=1e-3)
    assert 0 <= age <= time.time() - path.stat().st_mtime + 1


# ----------------------------------------------------------------------------- docs


def test_the_docs_page_loads_only_its_own_files(service: Server) -> None:
    with urllib.request.urlopen(f"{service.url}/", timeout=30) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert {"./static_content/swagger-ui-bundle.js", "./docs.js"} <= set(references)
    for ref in references:
        assert not re.match(r"^[a-z]+:|^//", ref), ref  # relative: same origin
        with urllib.request.urlopen(f"{service.url}/{ref.removeprefix('./')}", timeout=30) as r:
            assert r.status == 200, ref
            assert r.read(), ref
    assert "googletagmanager" not in page.lower()
    assert "<iframe" not in page.lower()
    status, script = http("GET", f"{service.url}/docs.js")
    assert status == 200
    assert "validatorUrl: null" in script
    assert "./docs.json" in script


def test_the_openapi_document_is_retain_s_with_its_version_and_no_boilerplate(
    service: Server,
) -> None:
    status, spec = http("GET", f"{service.url}/docs.json")
    assert status == 200
    assert spec["info"]["title"] == "retain"
    assert spec["info"]["version"] == metadata.version("retain")
    assert "contact" not in spec["info"]
    text = json.dumps(spec)
    for boilerplate in ("Slack", "BentoML Team", "badge", "__Input", "IODescriptor", "Task"):
        assert boilerplate not in text, boilerplate
    verbs = {path: set(ops) for path, ops in spec["paths"].items()}
    assert verbs["/score"] == verbs["/score_ids"] == verbs["/model_info"] == {"post"}
    assert verbs["/livez"] == verbs["/readyz"] == verbs["/metrics"] == {"get"}
    for path in ("/score", "/score_ids"):
        assert spec["paths"][path]["post"]["requestBody"]["required"] is True, path


def _request_schemas(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for path, ops in spec["paths"].items():
        for op in ops.values():
            media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = {**media.get("schema", {}), "components": spec["components"]}
            examples = [e["value"] for e in media.get("examples", {}).values()]
            if "example" in media:
                examples.append(media["example"])
            for example in examples:
                yield path, schema, example


def test_every_example_in_the_openapi_document_validates_and_is_answered_200(
    service: Server,
) -> None:
    _, spec = http("GET", f"{service.url}/docs.json")
    checked = set()
    for path, schema, example in _request_schemas(spec):
        errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(example)]
        assert not errors, (path, errors)
        checked.add(path)
    assert checked == {"/score", "/score_ids", "/model_info"}
    events = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert events["examples"]["events"]["value"] == EXAMPLE_EVENTS_REQUEST
    assert http("POST", f"{service.url}/score", EXAMPLE_EVENTS_REQUEST)[0] == 200


def test_the_document_says_as_of_comes_with_attributes_as_the_service_does(
    service: Server,
) -> None:
    _, spec = http("GET", f"{service.url}/docs.json")
    schema = {"$ref": "#/components/schemas/ScoreRequest", "components": spec["components"]}
    validator = jsonschema_rs.validator_for(schema)
    item = {"customer_id": "C1", "attributes": {"channel": "referral"}, "transactions": TX}
    undated = {"customers": [item]}
    dated = {"customers": [{**undated["customers"][0], "as_of": AS_OF}]}
    both = {"customers": [{**dated["customers"][0], "features": {}}]}
    nothing = {"customers": [{"customer_id": "C1", "features": None, "as_of": AS_OF}]}
    for body, valid in ((undated, False), (dated, True), (both, False), (nothing, False)):
        assert validator.is_valid(body) is valid, body
        status, answer = http("POST", f"{service.url}/score", body)
        assert (status == 200) is valid, (body, status, answer)


# ----------------------------------------------------------------------------- shutdown


def test_sigterm_stops_a_worker_busy_with_the_largest_request_within_the_grace_period(
    trained: TrainedProject, tmp_path: Path
) -> None:
    """A batch of 150,000 events (limits raised for it; scored in a thread) is in flight when
    the server is told to stop: it is answered, and the server exits well within the 20 s that
    ``Server.stop`` waits before kill -9. (At the default 50,000-event limit a request can finish
    before the signal on a quiet machine, and the worker would not be busy.)"""
    items = [
        {
            "customer_id": f"C{i}",
            "as_of": AS_OF,
            "transactions": [
                {"timestamp": f"2024-0{1 + j % 9}-1{j % 9}T10:00:00", "amount": 10.0 + j}
                for j in range(25)
            ],
        }
        for i in range(6_000)
    ]
    limits = {"RETAIN_MAX_EVENTS": "150000", "RETAIN_MAX_BODY_BYTES": str(64 * 1024 * 1024)}
    server = Server(limits, tmp_path / "service.log")
    answer: dict[str, Any] = {}
    try:
        assert server.wait_ready(), server.output()[-4000:]

        def send() -> None:
            try:
                answer["status"] = http(
                    "POST", f"{server.url}/score", {"customers": items}, timeout=60
                )[0]
            except OSError as err:  # the connection closed by the stopping server
                answer["status"] = repr(err)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)  # the body is sent and being scored
        busy = sender.is_alive()
        start = time.monotonic()
        os.killpg(server.process.pid, 15)
        exited = server.process.wait(timeout=20)
        seconds = time.monotonic() - start
        sender.join(timeout=60)
    finally:
        server.stop()
    print(f"SIGTERM during a 150,000-event request: exited after {seconds:.1f} s, {answer}")
    assert busy
    assert exited == 0
    assert answer["status"] in (200, 503) or "Connection" in str(answer["status"]), answer
