"""The service answers exactly what batch scoring wrote, whichever way a customer is asked for.

(a) /score_ids against the scores table for every scored customer; (b) /score with the raw rows of
the demo CSVs up to the as-of date, which proves the request path builds the batch's features;
(c) /score with a feature-table row against /score_ids for the same id.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from features.catalogue import BTYD_DERIVED_NAMES
from serving.schemas import CustomerScore, ModelInfo, ScoreResponse
from tests.conftest import TrainedProject
from tests.helpers import Server, http
from tests.serving.support import demo_events, feature_values

pytestmark = pytest.mark.slow  # starts the service on the trained demo project

TOLERANCE = 1e-9


def _post(service: Server, path: str, body: dict[str, Any]) -> list[CustomerScore]:
    status, answer = http("POST", f"{service.url}{path}", body)
    assert status == 200, answer
    return ScoreResponse.model_validate(answer).scores


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _batch_reason_text(value: Any) -> str:
    """How `retain score` writes a reason's value: numbers with %.6g, missing as empty text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else f"{value:.6g}"


def assert_matches_batch(score: CustomerScore, row: pd.Series) -> None:
    """One service answer equals one row of the scores table."""
    assert score.error is None, score.error
    assert _close(score.churn_probability, row["churn_probability"])
    assert _close(score.clv, row["clv"])
    assert _close(score.value_at_risk, row["value_at_risk"])
    assert score.risk_tier == row["risk_tier"]
    assert score.as_of == pd.Timestamp(row["as_of"]).date()
    for k, reason in enumerate(score.reasons, start=1):
        assert reason.feature == row[f"reason_{k}"]
        assert reason.direction == row[f"reason_{k}_direction"]
        assert _batch_reason_text(reason.value) == row[f"reason_{k}_value"]
    assert score.model_versions is not None
    assert score.model_versions.churn == row["churn_model"]
    assert score.model_versions.clv == row["clv_model"]


def test_score_ids_equal_the_batch_scores_for_every_customer(
    service: Server, scores: pd.DataFrame, model_info: ModelInfo
) -> None:
    ids = scores["customer_id"].tolist()
    answers: list[CustomerScore] = []
    for start in range(0, len(ids), model_info.max_batch):
        answers += _post(service, "/score_ids", {"customer_ids": ids[start : start + 500]})
    assert [a.customer_id for a in answers] == ids
    for score, (_, row) in zip(answers, scores.iterrows(), strict=True):
        assert_matches_batch(score, row)


def _parity_customers(scores: pd.DataFrame, trained: TrainedProject) -> list[str]:
    """A few scored customers of different kinds, none with exact duplicate rows in the CSV.

    The batch loader drops exact duplicate rows (``drop_duplicates``, on by default) while the
    service keeps every event a request sends, so such a customer would differ by design.
    """
    tx = pd.read_csv(trained.data / "transactions.csv", dtype=str)
    duplicated = set(tx.loc[tx.duplicated(keep=False), "customer_id"])
    returned = set(tx.loc[tx["amount"].astype(float) < 0, "customer_id"])
    pool = scores.loc[~scores["customer_id"].isin(duplicated)]
    picks = [
        pool["customer_id"].iloc[0],  # highest value at risk
        pool["customer_id"].iloc[-1],  # lowest
        pool.loc[pool["risk_tier"] == "high", "customer_id"].iloc[0],
        pool.loc[pool["risk_tier"] == "medium", "customer_id"].iloc[-1],
        pool.loc[pool["customer_id"].isin(returned), "customer_id"].iloc[0],  # has a return
        pool.loc[pool["reason_2_value"] == "", "customer_id"].iloc[0]
        if (pool["reason_2_value"] == "").any()
        else pool["customer_id"].iloc[len(pool) // 2],
    ]
    return list(dict.fromkeys(picks))


def test_score_from_raw_events_equals_the_batch_scores(
    service: Server, scores: pd.DataFrame, trained: TrainedProject
) -> None:
    ids = _parity_customers(scores, trained)
    assert len(ids) >= 4
    items = demo_events(trained.data, ids, trained.as_of, offsets=True)
    assert any(t["timestamp"].endswith("+05:30") for i in items for t in i["transactions"])
    answers = _post(service, "/score", {"customers": items})
    rows = scores.set_index("customer_id", drop=False)
    for score in answers:
        assert_matches_batch(score, rows.loc[score.customer_id])


def test_score_by_feature_row_equals_score_ids(
    service: Server,
    scores: pd.DataFrame,
    feature_table: pd.DataFrame,
    model_info: ModelInfo,
    trained: TrainedProject,
) -> None:
    ids = scores["customer_id"].iloc[[0, 7, 99, 500]].tolist()
    by_id = _post(service, "/score_ids", {"customer_ids": ids})
    as_of = str(trained.as_of.date())
    items = [
        {
            "customer_id": cid,
            "as_of": as_of,
            "features": feature_values(feature_table.loc[cid], model_info.features),
        }
        for cid in ids
    ]
    by_features = _post(service, "/score", {"customers": items})
    assert [s.model_dump() for s in by_features] == [s.model_dump() for s in by_id]


@pytest.mark.parametrize("position", [0, 1])
def test_duplicate_ids_in_one_request_are_scored_apart(
    service: Server, scores: pd.DataFrame, trained: TrainedProject, position: int
) -> None:
    """Items are keyed by position: a customer sent twice, once with fewer events, stays two."""
    cid = scores["customer_id"].iloc[position]
    (full,) = demo_events(trained.data, [cid], trained.as_of, offsets=False)
    fewer = {**full, "transactions": full["transactions"][:-1]}
    a, b = _post(service, "/score", {"customers": [full, fewer]})
    assert_matches_batch(a, scores.set_index("customer_id", drop=False).loc[cid])
    assert b.churn_probability != a.churn_probability or b.clv != a.clv


def test_model_info_lists_the_btyd_features_as_derived(model_info: ModelInfo) -> None:
    """The models compute the BTYD features themselves: listed apart, never asked for."""
    assert model_info.derived_features == list(BTYD_DERIVED_NAMES)
    assert not set(BTYD_DERIVED_NAMES) & set(model_info.features)
