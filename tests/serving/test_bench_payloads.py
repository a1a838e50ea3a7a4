"""`make bench-serving` runs with every servable model family and writes its verdicts per row.

Its requests are built from the served models' input schema and are answered by the service's
code for each family a package can hold: the session's LightGBM churn with a ``lightgbm_btyd``
CLV model, the same churn model alone (a churn-only package) and a logistic churn champion beside
the same CLV model. The summary gives each row its share of the floor, its multiple of mlflow and,
on the one-worker retain rows, issue 30's targets with whether each is met.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from experiments.bench_serving import (
    BATCH_BY_FEATURES,
    BATCH_BY_ID,
    MLFLOW_BATCH,
    MLFLOW_ONE,
    ONE_BY_FEATURES,
    ONE_BY_ID,
    in_process,
    payloads,
    served_models,
    with_ratios,
    with_verdicts,
    write_results,
)
from model.linear import LinearChurn
from serving.lookup import read_feature_table
from serving.output import score_records
from serving.requests import encode_feature_items
from serving.schemas import CustomerInput
from serving.scorer import Scorer
from serving.store import make_scorer
from tests.conftest import TrainedProject

CUSTOMERS = TypeAdapter(list[CustomerInput])
FAMILIES = ("lightgbm + lightgbm_btyd", "churn only", "logistic + lightgbm_btyd")


def _scorer(trained: TrainedProject, family: str) -> Scorer:
    """The session's own packaged models (a later test may have packaged others), as ``family``."""
    import bentoml

    churn, clv = (bentoml.models.get(trained.package_tags[k]) for k in ("churn", "clv"))
    churn_dir, churn_meta = Path(churn.path), dict(churn.info.metadata)
    if family == "churn only":
        return make_scorer(churn_dir, churn_meta, None, None)
    scorer = make_scorer(churn_dir, churn_meta, Path(clv.path), dict(clv.info.metadata))
    if (
        family == "logistic + lightgbm_btyd"
    ):  # fitted on the session's table: who the booster ranks at risk
        table = read_feature_table(trained.feature_table)
        matrix = scorer.encode(table).churn
        encoding = scorer.churn.encoding
        at_risk = (scorer.churn.predict_matrix(matrix) > 0.5).astype(float)
        linear = LinearChurn.fit(
            matrix, at_risk, list(encoding.columns), encoding.categorical_indices
        )
        churn_bundle = dataclasses.replace(scorer.churn, model=linear, platt=None)
        scorer = Scorer(churn_bundle, scorer.clv, scorer.versions, risk_tiers=scorer.risk_tiers)
    return scorer


@pytest.mark.parametrize("family", FAMILIES)
def test_requests_give_the_models_inputs_and_are_answered(
    trained: TrainedProject, tmp_path: Path, family: str
) -> None:
    """Issue 30: with lightgbm_btyd served the benchmark asked the lookup table for the derived
    BTYD features, which it does not hold (KeyError); a churn-only package stopped its summary."""
    scorer = _scorer(trained, family)
    assert (scorer.clv is None) == (family == "churn only")
    assert type(scorer.churn.model).__name__ == (
        "LinearChurn" if family.startswith("logistic") else "LightGBMModel"
    )
    table = read_feature_table(trained.feature_table)
    active = pd.Index(table.index[:50])
    bodies = {
        k: json.loads(p.read_text()) for k, p in payloads(tmp_path, scorer, table, active).items()
    }
    customers = CUSTOMERS.validate_python(bodies["retain_batch_features"]["customers"])
    assert len(customers) == 1000
    assert all(list(c.features or {}) == scorer.columns for c in customers)
    assert set(scorer.derived).isdisjoint(scorer.columns)  # derived features are never sent
    assert bodies["mlflow_one"]["dataframe_split"]["columns"] == list(scorer.churn.encoding.inputs)
    assert set(bodies["retain_batch_ids"]["customer_ids"]) <= set(active)
    first = customers[0]
    expected = table.loc[first.customer_id, scorer.columns]
    assert [None if pd.isna(v) else v for v in expected] == list((first.features or {}).values())
    # the service's path answers the benchmark's request with the table's own scores
    batch = encode_feature_items(scorer, customers)
    records = score_records(
        scorer, [c.customer_id for c in customers], scorer.score(batch), batch, [None] * 1000
    )
    fresh = scorer.score(scorer.encode(table.loc[[c.customer_id for c in customers]]))
    np.testing.assert_allclose([r["churn_probability"] for r in records], fresh.churn, rtol=1e-12)
    assert all(r["error"] is None and len(r["reasons"]) == 3 for r in records)
    assert served_models(scorer).keys() == (
        {"churn"} if family == "churn only" else {"churn", "clv"}
    )
    timings = in_process(scorer, table, repeats=4, batch_calls=1)
    assert timings["score_1000_rows_with_reasons_ms"] > 0


def _row(server: str, request: str, c: int, req_s: float, p50: float, p99: float) -> dict[str, Any]:
    return {
        "server": server,
        "request": request,
        "concurrency": c,
        "req_s": req_s,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": p99,
        "errors": 0,
    }


def test_the_summary_gives_each_row_its_ratios_and_verdicts(tmp_path: Path) -> None:
    rows = [
        _row("floor", ONE_BY_FEATURES, 1, 3000, 0.3, 0.6),
        _row("floor", ONE_BY_FEATURES, 8, 3200, 2.0, 4.0),
        _row("floor", ONE_BY_ID, 1, 3000, 0.3, 0.6),
        _row("floor", ONE_BY_ID, 8, 3000, 2.0, 4.0),
        _row("floor", BATCH_BY_FEATURES, 1, 400, 2.0, 3.0),
        _row("floor", BATCH_BY_ID, 1, 400, 2.0, 3.0),
        _row("retain", ONE_BY_FEATURES, 1, 900, 1.0, 2.0),  # 30% of the floor: met
        _row("retain", ONE_BY_FEATURES, 8, 1000, 7.0, 12.0),  # 25x mlflow: met
        _row("retain", ONE_BY_ID, 1, 1500, 0.6, 1.0),  # 50%: NOT met
        _row("retain", ONE_BY_ID, 8, 2400, 3.0, 6.0),  # 80%: met; p99 6 ms: NOT met
        _row("retain", BATCH_BY_FEATURES, 1, 40, 24.0, 30.0),  # p50 24 ms: met
        _row("retain", BATCH_BY_ID, 1, 150, 5.5, 8.0),  # p50 5.5 ms: NOT met
        _row("mlflow", MLFLOW_ONE, 1, 50, 20.0, 30.0),
        _row("mlflow", MLFLOW_ONE, 8, 40, 200.0, 300.0),
        _row("mlflow", MLFLOW_BATCH, 1, 10, 100.0, 120.0),
        _row("retain-default", ONE_BY_FEATURES, 1, 800, 1.2, 4.0),
        _row("retain-default", ONE_BY_FEATURES, 8, 900, 8.0, 20.0),
    ]
    table = with_verdicts(with_ratios(pd.DataFrame(rows)))
    at = table.set_index(["server", "request", "concurrency"])
    assert at.loc[("retain", ONE_BY_FEATURES, 1), "floor_pct"] == pytest.approx(30.0)
    assert at.loc[("retain", ONE_BY_FEATURES, 8), "x_mlflow"] == pytest.approx(25.0)
    assert at.loc[("retain", BATCH_BY_FEATURES, 1), "x_mlflow"] == pytest.approx(4.0)
    assert at.loc[("mlflow", MLFLOW_ONE, 8), "floor_pct"] == pytest.approx(1.25)
    assert at.loc[("floor", ONE_BY_ID, 1), "x_mlflow"] == pytest.approx(60.0)
    assert np.isnan(at.loc[("mlflow", MLFLOW_ONE, 1), "x_mlflow"])  # nothing to compare with
    assert at.loc[("retain", ONE_BY_FEATURES, 1), "target"] == ">= 30% of the floor: met"
    assert at.loc[("retain", ONE_BY_FEATURES, 8), "target"] == ">= 20x mlflow: met"
    assert at.loc[("retain", ONE_BY_ID, 1), "target"] == ">= 60% of the floor: NOT met"
    assert at.loc[("retain", ONE_BY_ID, 8), "target"] == (
        ">= 60% of the floor: met; p99 <= 5 ms: NOT met"
    )
    assert at.loc[("retain", BATCH_BY_FEATURES, 1), "target"] == "p50 <= 25 ms: met"
    assert at.loc[("retain", BATCH_BY_ID, 1), "target"] == "p50 <= 5 ms: NOT met"
    assert at.loc[("floor", ONE_BY_ID, 1), "target"] == ""
    args = SimpleNamespace(seconds=5.0, repeats=1)
    write_results(table, {"score_1_row_with_reasons_ms": 0.1}, {"x": 2.0}, args, out=tmp_path)
    written = json.loads((tmp_path / "serving.json").read_text())
    assert len(written["rows"]) == len(rows)
    assert written["rows"][8]["target"] == ">= 60% of the floor: NOT met"
    assert "- 1 customer by id, reasons, c=8: p99 <= 5 ms: 6.0 ms (NOT met)" in written["targets"]
    page = (tmp_path / "serving.md").read_text()
    assert "| floor_pct | x_mlflow | target |" in page
