"""Value at risk is gross profit: p x clv / max(1 - p, 0.02) x margin, the same in every output."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.economics import Economics
from model.value_at_risk import STAY_FLOOR, value_at_risk, value_if_staying
from serving.batch import score_features
from serving.output import score_records
from tests.serving.support import tiny_features, tiny_scorer


def test_exact_values_with_the_margin_and_the_floor() -> None:
    p = np.array([0.0, 0.5, 0.8, 0.95, 0.99, 1.0])
    clv = np.array([100.0, 100.0, 40.0, 10.0, 10.0, 0.0])
    # 1 - p: 1, 0.5, 0.2, 0.05, 0.01 -> floored at 0.02, 0 -> 0.02
    np.testing.assert_allclose(value_if_staying(p, clv), [100.0, 200.0, 200.0, 200.0, 500.0, 0.0])
    np.testing.assert_allclose(value_at_risk(p, clv, 0.3), [0.0, 30.0, 48.0, 57.0, 148.5, 0.0])
    assert STAY_FLOOR == 0.02
    assert float(value_at_risk(0.5, 100.0, 1.0)) == 100.0  # revenue when the margin is 1


@pytest.fixture(scope="module")
def gbp_scorer() -> Any:
    return tiny_scorer(economics=Economics(currency="GBP", gross_margin=0.25))


def test_records_and_the_scores_table_use_the_packaged_margin(gbp_scorer: Any) -> None:
    frame = tiny_features(50, seed=3)
    batch = gbp_scorer.encode(frame)
    scores = gbp_scorer.score(batch)
    expected = scores.churn * (scores.clv / np.maximum(1 - scores.churn, 0.02)) * 0.25
    np.testing.assert_array_equal(scores.value_at_risk, expected)
    day = pd.Timestamp("2024-12-31")
    records = score_records(gbp_scorer, frame.index.tolist(), scores, batch, [day.date()] * 50)
    table = score_features(gbp_scorer, frame, day, progress=False)
    assert [r["value_at_risk"] for r in records] == expected.tolist()
    assert table["value_at_risk"].tolist() == expected.tolist()
    assert table["value_if_staying"].tolist() == [r["value_if_staying"] for r in records]
    assert {r["currency"] for r in records} == set(table["currency"]) == {"GBP"}
