"""The service's request path and batch scoring give identical scores, on a tiny real model pair.

By features (the pandas-free encoder), by table (``Scorer.encode``, as batch scoring and the
lookup do) and the batch scores table agree exactly: same encoded rows, same scores, same
reasons, the same reason values shown as JSON and as text. Also the adapters' error messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from serving.batch import score_features
from serving.output import score_records
from serving.requests import FeatureKeyError, NonFiniteFeature, encode_feature_items
from serving.scorer import TIERS
from tests.serving.support import feature_items, tiny_features, tiny_scorer

DAY = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def scorer() -> Any:
    return tiny_scorer()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    out = tiny_features(200, seed=5)
    out.loc[out.index[3], "attr_region"] = "west"  # a level the models never saw: missing
    return out


def test_feature_dicts_encode_exactly_as_the_table_encoder(
    scorer: Any, frame: pd.DataFrame
) -> None:
    by_items = encode_feature_items(scorer, feature_items(frame))
    by_table = scorer.encode(frame)
    np.testing.assert_array_equal(by_items.churn, by_table.churn)
    assert by_items.clv is by_items.churn  # one encoding shared: one pass
    region = scorer.churn.encoding.columns.index("attr_region")
    assert np.isnan(by_items.churn[3, region])
    assert by_items.churn[0, 0] == frame["days_since_last_purchase"].iloc[0]


def test_service_records_equal_the_batch_scores_table(scorer: Any, frame: pd.DataFrame) -> None:
    batch = encode_feature_items(scorer, feature_items(frame))
    scores = scorer.score(batch)
    records = score_records(scorer, frame.index.tolist(), scores, batch, [DAY.date()] * len(frame))
    table = score_features(scorer, frame, DAY, progress=False)
    assert table["customer_id"].tolist() == frame.index.tolist()
    assert table["churn_probability"].tolist() == [r["churn_probability"] for r in records]
    assert table["clv"].tolist() == [r["clv"] for r in records]
    assert table["value_at_risk"].tolist() == [r["value_at_risk"] for r in records]
    assert table["risk_tier"].tolist() == [r["risk_tier"] for r in records]
    assert {r["churn_model"] for _, r in table.iterrows()} == {"churn:1"}
    shown_levels = 0
    for record, (_, row) in zip(records, table.iterrows(), strict=True):
        assert record["as_of"] == "2024-12-31"
        assert record["model_versions"] == {"churn": "churn:1", "clv": "clv:1", "uplift": None}
        assert (record["uplift"], record["expected_incremental_value"]) == (None, None)
        assert record["uplift_reasons"] == []
        assert len(record["reasons"]) == 3
        for k, reason in enumerate(record["reasons"], start=1):
            assert reason["feature"] == row[f"reason_{k}"]
            assert reason["direction"] == row[f"reason_{k}_direction"]
            value = reason["value"]
            text = "" if value is None else value if isinstance(value, str) else f"{value:.6g}"
            assert text == row[f"reason_{k}_value"]
            shown_levels += isinstance(value, str)
    assert shown_levels > 0  # the category display was exercised


def test_scores_follow_tiers_and_reasons_are_the_largest_contributions(
    scorer: Any, frame: pd.DataFrame
) -> None:
    batch = scorer.encode(frame)
    scores = scorer.score(batch)
    np.testing.assert_array_equal(scores.churn, scorer.churn.predict(frame))
    np.testing.assert_array_equal(scores.clv, scorer.clv.predict(frame))
    high, medium = scorer.risk_tiers.high, scorer.risk_tiers.medium
    expected = np.where(scores.churn >= high, 0, np.where(scores.churn >= medium, 1, 2))
    np.testing.assert_array_equal(scores.tier, expected)
    assert set(np.asarray(TIERS)[scores.tier]) == {"high", "medium", "low"}
    contrib = scorer.churn.contributions(batch.churn)[:, :-1]
    magnitude = np.abs(np.take_along_axis(contrib, scores.reason_index, axis=1))
    assert (np.diff(magnitude, axis=1) <= 0).all()
    assert (magnitude[:, -1] >= np.sort(np.abs(contrib), axis=1)[:, -3]).all()


def test_feature_key_errors_name_the_item_and_the_problem(scorer: Any, frame: pd.DataFrame) -> None:
    items = feature_items(frame.iloc[:3])
    good = dict(items[0].features)
    cases = [
        (
            {k: v for k, v in good.items() if k != "tenure_days"},
            "missing feature(s) ['tenure_days']",
        ),
        (
            {**good, "shoe_size": 42.0},
            "unknown feature(s) ['shoe_size']; POST /model_info lists the features",
        ),
        ({**good, "orders_total": "5"}, "feature 'orders_total' must be a number or null, got '5'"),
    ]
    for features, message in cases:
        bad = items[2].model_copy(update={"features": features})
        with pytest.raises(FeatureKeyError) as err:
            encode_feature_items(scorer, [items[0], items[1], bad])
        assert err.value.row == 2
        assert str(err.value) == message


def test_non_finite_features_are_refused_after_parsing_naming_row_and_feature(
    scorer: Any, frame: pd.DataFrame
) -> None:
    """NaN and infinities are found in one pass over the parsed request (numbers and categories
    alike); nulls are missing values, not errors; the first bad item and its first bad feature
    (in the request's order) are named."""
    items = feature_items(frame.iloc[:50])
    good = dict(items[0].features or {})
    assert any(v is None for item in items for v in (item.features or {}).values())
    encode_feature_items(scorer, items)  # nulls pass
    cases = [
        ({"orders_total": float("nan")}, "feature 'orders_total' must be finite or null, got nan"),
        ({"spend_total": float("-inf")}, "feature 'spend_total' must be finite or null, got -inf"),
        ({"attr_region": float("inf")}, "feature 'attr_region' must be finite or null, got inf"),
        (
            {"tenure_days": float("inf"), "orders_total": float("nan")},
            "feature 'orders_total' must be finite or null, got nan",  # first in the item
        ),
    ]
    for bad_values, message in cases:
        bad = [
            item.model_copy(update={"features": {**(item.features or {}), **bad_values}})
            for item in (items[30], items[40])
        ]
        request = [*items[:30], bad[0], *items[31:40], bad[1], *items[41:]]
        with pytest.raises(NonFiniteFeature) as err:
            encode_feature_items(scorer, request)
        assert err.value.row == 30
        assert str(err.value) == message
    # malformed values come first, as the request model's errors did: before a missing key or
    # a text in a number's place in an earlier item
    nan = items[30].model_copy(update={"features": {**good, "orders_total": float("nan")}})
    for earlier in ({"tenure_days": 5.0}, {**good, "spend_total": "5"}):
        wrong = items[10].model_copy(update={"features": earlier})
        with pytest.raises(NonFiniteFeature) as err:
            encode_feature_items(scorer, [*items[:10], wrong, *items[11:30], nan])
        assert err.value.row == 30


def test_feature_dicts_in_any_key_order_encode_alike(scorer: Any, frame: pd.DataFrame) -> None:
    """The encoder gathers values by name: a caller's key order changes nothing."""
    items = feature_items(frame.iloc[:20])
    rng = np.random.default_rng(3)
    shuffled = []
    for item in items:
        pairs = list((item.features or {}).items())
        order = rng.permutation(len(pairs)).tolist()
        shuffled.append(item.model_copy(update={"features": dict(pairs[k] for k in order)}))
    assert list(shuffled[0].features or {}) != list(items[0].features or {})
    np.testing.assert_array_equal(
        encode_feature_items(scorer, shuffled).churn, encode_feature_items(scorer, items).churn
    )
