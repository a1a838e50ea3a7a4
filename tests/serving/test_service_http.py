"""HTTP tests against the real `bentoml serve` process: every endpoint, parsed with the contract.

Each 200 body is parsed with ``serving.schemas.ScoreResponse`` or ``ModelInfo``; every scored
customer satisfies ``support.check_score`` (probability in [0, 1], CLV >= 0, value at risk =
p x CLV, tier from the cutoffs /model_info reports, top-k reasons ordered by |contribution|).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.schemas import (
    EXAMPLE_EVENTS_REQUEST,
    EXAMPLE_IDS_REQUEST,
    ModelInfo,
    ScoreResponse,
)
from serving.scorer import Scorer
from tests.conftest import TrainedProject
from tests.helpers import Server, http
from tests.serving.support import check_score, feature_values

pytestmark = pytest.mark.slow  # starts the service on the trained demo project


def _score(service: Server, customers: list[dict[str, Any]]) -> ScoreResponse:
    status, body = http("POST", f"{service.url}/score", {"customers": customers})
    assert status == 200, body
    return ScoreResponse.model_validate(body)


# ----------------------------------------------------------------------------- BentoML's own


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_probes_answer_200(service: Server, path: str) -> None:
    status, _ = http("GET", f"{service.url}{path}")
    assert status == 200


def test_metrics_are_prometheus_text_counting_requests(
    trained: TrainedProject, tmp_path: Path
) -> None:
    """A served request is counted in /metrics. On a server of its own: every `bentoml serve`
    start empties the Prometheus folder of its BentoML home, so a server another test starts
    later hides the shared server's counters. A request is counted once its response has gone
    out, so the scrape may look a few times."""
    server = Server({"RETAIN_MAX_BATCH": "500"}, tmp_path / "service.log")
    try:
        assert server.wait_ready(), server.output()[-4000:]
        assert http("POST", f"{server.url}/score_ids", {"customer_ids": []})[0] == 200
        counted: set[str] = set()
        deadline = time.monotonic() + 10
        while "/score_ids" not in counted and time.monotonic() < deadline:
            status, text = http("GET", f"{server.url}/metrics")
            assert status == 200
            families = {f.name: f for f in text_string_to_metric_families(text)}
            requests = families["bentoml_service_request"]  # the parser drops the _total suffix
            assert requests.type == "counter"
            counted = {
                s.labels["endpoint"]
                for s in requests.samples
                if s.labels.get("http_response_code") == "200" and s.value > 0
            }
            time.sleep(0.2)
    finally:
        server.stop()
    assert "/score_ids" in counted


def test_openapi_lists_the_endpoints_with_their_schemas(service: Server) -> None:
    status, spec = http("GET", f"{service.url}/docs.json")
    assert status == 200
    assert {"/score", "/score_ids", "/model_info"} <= set(spec["paths"])
    body = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ScoreRequest"}
    request = spec["components"]["schemas"]["ScoreRequest"]
    items = request["properties"]["customers"]["items"]
    assert items["$ref"].endswith("/CustomerInput")
    customer = spec["components"]["schemas"]["CustomerInput"]
    assert "customer_id" in customer["required"]
    assert {"features", "transactions", "as_of", "attributes"} <= set(customer["properties"])
    assert spec["paths"]["/score"]["post"]["description"].startswith("Score customers")


def test_swagger_ui_is_served_at_the_root(service: Server) -> None:
    status, page = http("GET", f"{service.url}/")
    assert status == 200
    assert isinstance(page, str)
    assert "swagger-ui" in page.lower()


# ----------------------------------------------------------------------------- /model_info


def test_model_info_describes_the_packaged_models(
    model_info: ModelInfo,
    scores: pd.DataFrame,
    feature_table: pd.DataFrame,
    trained: TrainedProject,
) -> None:
    info = model_info
    assert info.churn_version == scores["churn_model"].iloc[0]
    assert info.clv_version == scores["clv_model"].iloc[0]
    assert info.horizon_days == 90
    assert info.economics is not None  # packaged with the models (tests/conftest.py)
    assert (info.economics["currency"], info.economics["gross_margin"]) == ("GBP", 0.4)
    assert dt.datetime.fromisoformat(info.trained_at)  # a real timestamp, not empty
    assert set(info.features) <= set(feature_table.columns)
    assert set(info.categorical_features) == {"attr_channel", "attr_region", "top_category"}
    assert info.risk_tiers == {"high": 0.6, "medium": 0.3}  # packaged by the fixture (defaults)
    assert {"roc_auc", "brier"} <= set(info.test_metrics["churn"])
    assert {"gini", "mae"} <= set(info.test_metrics["clv"])
    assert info.feature_table["customers"] == len(feature_table)
    assert info.feature_table["as_of"] == str(trained.as_of.date())
    assert info.max_batch == 500


# ----------------------------------------------------------------------------- /score


def test_score_by_features_of_active_customers(
    service: Server,
    model_info: ModelInfo,
    scores: pd.DataFrame,
    feature_table: pd.DataFrame,
    local_scorer: Scorer,
) -> None:
    ids = scores["customer_id"].iloc[[0, 1, 50, 300, len(scores) - 1]].tolist()
    rows = feature_table.loc[ids]
    customers = [
        {"customer_id": cid, "features": feature_values(rows.loc[cid], model_info.features)}
        for cid in ids
    ]
    response = _score(service, customers)
    assert [s.customer_id for s in response.scores] == ids
    # reasons are the top 3 TreeSHAP contributions, computed here from the same packaged model
    churn = local_scorer.churn
    contrib = churn.contributions(churn.encoding.transform(rows))[:, :-1]
    for score, c in zip(response.scores, contrib, strict=True):
        check_score(score, model_info)
        top = np.argsort(-np.abs(c), kind="stable")[:3]
        assert [r.feature for r in score.reasons] == [churn.encoding.columns[j] for j in top]
        assert [r.contribution for r in score.reasons] == pytest.approx(c[top], abs=1e-6)
        assert score.as_of is None  # not given, not invented


def test_score_by_events_with_as_of_attributes_signup_and_mixed_offsets(
    service: Server, model_info: ModelInfo
) -> None:
    request = copy.deepcopy(EXAMPLE_EVENTS_REQUEST)
    (score,) = _score(service, request["customers"]).scores
    check_score(score, model_info)
    assert score.customer_id == "C-42"
    assert score.as_of == dt.date(2024, 9, 30)


def test_events_in_any_offset_score_as_the_same_instants_in_business_time(
    service: Server, model_info: ModelInfo
) -> None:
    # business time is UTC; each event below is sent as naive UTC, with Z, and in +02:00 / -03:00.
    # 2024-10-01T01:00:00+02:00 is 2024-09-30 23:00 UTC: on the as_of day, so it counts.
    naive = ["2024-03-01T10:00:00", "2024-06-15T12:30:00", "2024-09-30T23:00:00"]
    spelled = ["2024-03-01T10:00:00Z", "2024-06-15T09:30:00-03:00", "2024-10-01T01:00:00+02:00"]
    base = {"as_of": "2024-09-30", "attributes": {"channel": "organic", "region": "west"}}

    def item(cid: str, stamps: list[str]) -> dict[str, Any]:
        events = [
            {"timestamp": t, "amount": 20.0 + i, "order_id": f"O{i}"} for i, t in enumerate(stamps)
        ]
        return {"customer_id": cid, **base, "transactions": events}

    a, b, c = _score(
        service, [item("naive", naive), item("offsets", spelled), item("fewer", naive[:2])]
    ).scores
    check_score(a, model_info)
    assert b.model_dump(exclude={"customer_id"}) == a.model_dump(exclude={"customer_id"})
    assert c.churn_probability != a.churn_probability  # the as_of-day purchase did count


def test_score_mixes_features_and_events_in_request_order(
    service: Server, model_info: ModelInfo, feature_table: pd.DataFrame, scores: pd.DataFrame
) -> None:
    cid = scores["customer_id"].iloc[10]
    events = copy.deepcopy(EXAMPLE_EVENTS_REQUEST["customers"][0])
    no_events = {"customer_id": "empty", "as_of": "2024-09-30", "transactions": []}
    by_features = {
        "customer_id": cid,
        "features": feature_values(feature_table.loc[cid], model_info.features),
    }
    response = _score(service, [events, by_features, no_events])
    assert [s.customer_id for s in response.scores] == ["C-42", cid, "empty"]
    check_score(response.scores[0], model_info)
    check_score(response.scores[1], model_info)
    empty = response.scores[2]
    assert empty.churn_probability is None
    assert empty.error
    assert "no transaction" in empty.error


def test_events_without_attributes_or_signup_are_scored(
    service: Server, model_info: ModelInfo
) -> None:
    """Attributes are optional: absent ones are missing values (this was a 422/500 before)."""
    customer = {
        "customer_id": "bare",
        "as_of": "2024-09-30",
        "transactions": [{"timestamp": "2024-09-01T10:00:00", "amount": 42.0}],
    }
    partial = {**customer, "customer_id": "partial", "attributes": {"region": "north"}}
    bare, part = _score(service, [customer, partial]).scores
    check_score(bare, model_info)
    check_score(part, model_info)


def test_empty_batch_gives_empty_scores(service: Server) -> None:
    status, body = http("POST", f"{service.url}/score", {"customers": []})
    assert (status, body) == (200, {"scores": []})


# ----------------------------------------------------------------------------- /score_ids


def test_score_ids_known_and_unknown(
    service: Server, model_info: ModelInfo, scores: pd.DataFrame, trained: TrainedProject
) -> None:
    known = scores["customer_id"].iloc[:3].tolist()
    ids = [known[0], "does-not-exist", known[1], known[2]]
    status, body = http("POST", f"{service.url}/score_ids", {"customer_ids": ids})
    assert status == 200, body
    response = ScoreResponse.model_validate(body)
    assert [s.customer_id for s in response.scores] == ids
    for score in (response.scores[0], *response.scores[2:]):
        check_score(score, model_info)
        assert score.as_of == trained.as_of.date()
    unknown = response.scores[1]
    assert unknown.error
    assert "unknown customer_id" in unknown.error
    assert unknown.churn_probability is None
    assert unknown.reasons == []


def test_score_ids_example_request_has_one_item_error(service: Server) -> None:
    status, body = http("POST", f"{service.url}/score_ids", EXAMPLE_IDS_REQUEST)
    assert status == 200
    errors = [s.error for s in ScoreResponse.model_validate(body).scores]
    assert errors[-1] is not None
    assert errors[0] is None


def test_score_ids_empty_list_gives_empty_scores(service: Server) -> None:
    status, body = http("POST", f"{service.url}/score_ids", {"customer_ids": []})
    assert (status, body) == (200, {"scores": []})
