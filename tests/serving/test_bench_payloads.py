"""`make bench-serving` builds its requests from the served models' input schema."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from experiments.bench_serving import payloads
from serving.lookup import read_feature_table
from serving.store import make_scorer
from tests.conftest import TrainedProject


def test_requests_give_the_models_inputs_and_not_what_they_derive(
    trained: TrainedProject, tmp_path: Path
) -> None:
    """Issue 30: with lightgbm_btyd served the benchmark asked the lookup table for the derived
    BTYD features, which it does not hold (KeyError)."""
    import bentoml

    churn, clv = (bentoml.models.get(trained.package_tags[k]) for k in ("churn", "clv"))
    scorer = make_scorer(
        Path(churn.path), dict(churn.info.metadata), Path(clv.path), dict(clv.info.metadata)
    )  # the session's own models: a later test may have packaged others since
    assert scorer.clv is not None
    derived = {*scorer.churn.encoding.derived, *scorer.clv.encoding.derived}
    table = read_feature_table(trained.feature_table)
    assert derived  # the session's models derive the BTYD features, as the demo's do
    assert derived.isdisjoint(table.columns)
    bodies = {k: json.loads(p.read_text()) for k, p in payloads(tmp_path, scorer, table).items()}
    customers = bodies["retain_batch_features"]["customers"]
    assert len(customers) == 1000
    assert all(list(c["features"]) == scorer.columns for c in customers)
    assert list(bodies["retain_one"]["customers"][0]["features"]) == scorer.columns
    assert bodies["mlflow_one"]["dataframe_split"]["columns"] == list(scorer.churn.encoding.inputs)
    assert all(c["customer_id"] in table.index for c in customers)
    first = customers[0]
    expected = table.loc[first["customer_id"], scorer.columns]
    assert [None if pd.isna(v) else v for v in expected] == list(first["features"].values())
