"""Feature frame to model matrix, and the model bundle that carries the encoding with the booster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from core.errors import DataValidationError
from features.build import feature_names
from model.booster import LightGBMModel
from model.bundle import ModelBundle, sigmoid
from model.encoding import FeatureEncoding
from tests.helpers import card_for

FAMILIES = ["rfm", "profile"]
ATTRIBUTES = ["region"]
COLUMNS = feature_names(FAMILIES, ATTRIBUTES)
# days_since_last_purchase, orders_total, spend_total, avg_order_value, tenure_days, attr_region


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "days_since_last_purchase": rng.integers(0, 400, n).astype(np.float64),
            "orders_total": rng.integers(1, 20, n).astype(np.float64),
            "spend_total": rng.gamma(2.0, 50.0, n),
            "avg_order_value": rng.gamma(2.0, 20.0, n),
            "tenure_days": rng.integers(0, 900, n).astype(np.float64),
            "attr_region": pd.array(rng.choice(["north", "south", "east"], n), dtype="str"),
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id", dtype="str"),
    )
    frame.iloc[::17, 3] = np.nan
    frame.iloc[::13, 5] = pd.NA
    return frame


def test_fit_learns_column_order_and_sorted_levels_of_text_columns() -> None:
    frame = _frame(50, 0)
    encoding = FeatureEncoding.fit(frame)
    assert encoding.columns == tuple(COLUMNS)
    assert encoding.categories == {"attr_region": ("east", "north", "south")}
    assert encoding.categorical_indices == [5]


def test_transform_takes_columns_by_name_not_position() -> None:
    frame = _frame(30, 1)
    encoding = FeatureEncoding.fit(frame)
    shuffled = frame[list(reversed(frame.columns))].assign(extra=1.0)
    np.testing.assert_array_equal(encoding.transform(shuffled), encoding.transform(frame))
    matrix = encoding.transform(frame)
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix[:, 2], frame["spend_total"].to_numpy())
    # codes are positions in the sorted levels: east 0, north 1, south 2; missing is NaN
    expected = (
        frame["attr_region"]
        .map({"east": 0.0, "north": 1.0, "south": 2.0})
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    np.testing.assert_array_equal(matrix[:, 5], expected)


def test_unseen_or_missing_categories_become_nan() -> None:
    encoding = FeatureEncoding(("plan",), {"plan": ("basic", "pro")})
    values = pd.Series(["pro", "platinum", None, " basic "], dtype="str")
    np.testing.assert_array_equal(encoding.codes("plan", values), [1.0, np.nan, np.nan, 0.0])
    # numbers sent for a text attribute match its levels as text: 3.0 is level "3"
    sizes = FeatureEncoding(("attr_size",), {"attr_size": ("10", "3")})
    np.testing.assert_array_equal(
        sizes.transform(pd.DataFrame({"attr_size": [3.0, 10.0, 7.0]})).ravel(), [1.0, 0.0, np.nan]
    )


def test_missing_feature_is_named() -> None:
    encoding = FeatureEncoding.fit(_frame(5, 2))
    with pytest.raises(
        DataValidationError, match=r"features missing for the model: \['tenure_days'\]"
    ):
        encoding.transform(_frame(5, 2).drop(columns="tenure_days"))


def test_encoding_round_trips_through_json() -> None:
    encoding = FeatureEncoding.fit(_frame(40, 3))
    again = FeatureEncoding.from_dict(json.loads(json.dumps(encoding.to_dict())))
    assert again == encoding


def _booster(kind: str, frame: pd.DataFrame, encoding: FeatureEncoding) -> lgb.Booster:
    """A small booster on a planted signal: churn rises with days since the last purchase."""
    rng = np.random.default_rng(0)
    x = encoding.transform(frame)
    params: dict[str, Any]
    recency = frame["days_since_last_purchase"].to_numpy()
    if kind == "churn":
        target = (rng.uniform(size=len(frame)) < sigmoid((recency - 200) / 60)).astype(float)
        params = {"objective": "binary"}
    else:
        target = rng.gamma(2.0, frame["spend_total"].to_numpy() / 8) * (recency < 300)
        params = {"objective": "tweedie", "tweedie_variance_power": 1.3}
    dataset = lgb.Dataset(
        x,
        target,
        feature_name=list(encoding.columns),
        categorical_feature=encoding.categorical_indices,
        free_raw_data=False,
    )
    params |= {"verbose": -1, "num_threads": 1, "min_data_in_leaf": 10, "seed": 1}
    return lgb.train(params, dataset, num_boost_round=25)


@pytest.fixture(scope="module")
def bundles() -> dict[str, ModelBundle]:
    frame = _frame(400, 4)
    encoding = FeatureEncoding.fit(frame)
    return {
        "churn": ModelBundle(
            kind="churn",
            model=LightGBMModel(_booster("churn", frame, encoding)),
            encoding=encoding,
            horizon_days=90,
            families=FAMILIES,
            attributes=ATTRIBUTES,
            card=card_for("churn", list(encoding.columns), test_metrics={"roc_auc": 0.8}),
            platt=(0.8, -0.3),
            risk_tiers=(0.6, 0.3),
        ),
        "clv": ModelBundle(
            kind="clv",
            model=LightGBMModel(_booster("clv", frame, encoding)),
            encoding=encoding,
            horizon_days=90,
            families=FAMILIES,
            card=card_for("clv", list(encoding.columns)),
            attributes=ATTRIBUTES,
        ),
    }


@pytest.mark.parametrize("kind", ["churn", "clv"])
def test_bundle_save_load_round_trip_predicts_identically(
    bundles: dict[str, ModelBundle], kind: str, tmp_path: Path
) -> None:
    bundle = bundles[kind]
    loaded = ModelBundle.load(bundle.save(tmp_path / kind))
    frame = _frame(120, 9)
    np.testing.assert_array_equal(loaded.predict(frame), bundle.predict(frame))
    assert (loaded.kind, loaded.horizon_days, loaded.families) == (kind, 90, FAMILIES)
    assert loaded.encoding == bundle.encoding
    assert loaded.platt == bundle.platt
    assert loaded.risk_tiers == bundle.risk_tiers
    assert loaded.card == bundle.card
    assert loaded.attributes == ATTRIBUTES
    loaded.check_schema()


def test_churn_predictions_apply_the_platt_calibration(bundles: dict[str, ModelBundle]) -> None:
    bundle = bundles["churn"]
    frame = _frame(80, 10)
    raw = bundle.model.raw_score(bundle.encoding.transform(frame))
    np.testing.assert_allclose(bundle.predict(frame), sigmoid(0.8 * raw - 0.3), rtol=1e-12)
    # the planted signal: long-lapsed customers get a higher churn probability
    lapsed = frame.assign(days_since_last_purchase=390.0)
    recent = frame.assign(days_since_last_purchase=5.0)
    assert (bundle.predict(lapsed) >= bundle.predict(recent)).mean() > 0.9


def test_contributions_sum_to_logit_of_churn_and_log_of_clv(
    bundles: dict[str, ModelBundle],
) -> None:
    frame = _frame(150, 11)
    churn, clv = bundles["churn"], bundles["clv"]
    matrix = churn.encoding.transform(frame)
    p = churn.predict_matrix(matrix)
    contrib = churn.contributions(matrix)
    assert contrib.shape == (150, len(COLUMNS) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), np.log(p / (1 - p)), atol=1e-9)
    spend = clv.predict_matrix(matrix)
    np.testing.assert_allclose(clv.contributions(matrix).sum(axis=1), np.log(spend), atol=1e-9)
    # a few rows take the one-thread path and give the same numbers as a large batch
    np.testing.assert_allclose(churn.predict(frame.iloc[:10]), p[:10], rtol=1e-12)


def test_check_schema_names_the_differing_features(bundles: dict[str, ModelBundle]) -> None:
    churn = bundles["churn"]
    wrong_families = ModelBundle(
        kind="churn",
        model=churn.model,
        encoding=churn.encoding,
        horizon_days=90,
        families=["rfm"],
        card=churn.card,
        attributes=[],
    )
    with pytest.raises(DataValidationError) as err:
        wrong_families.check_schema()
    assert "the churn model's features differ from the feature schema: missing [], " in str(
        err.value
    )
    assert "unexpected ['attr_region', 'tenure_days']" in str(err.value)

    reordered = FeatureEncoding(tuple(reversed(churn.encoding.columns)), churn.encoding.categories)
    bad_order = ModelBundle(
        kind="churn",
        model=churn.model,
        encoding=reordered,
        horizon_days=90,
        families=FAMILIES,
        card=churn.card,
        attributes=ATTRIBUTES,
    )
    with pytest.raises(DataValidationError) as err:
        bad_order.check_schema()
    assert "(same names, different order)" in str(err.value)
    assert "the churn model's feature names differ from its encoding" in str(err.value)


def test_loading_a_folder_that_is_not_a_bundle_fails(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="not a retain model folder"):
        ModelBundle.load(tmp_path)


def test_model_safe_names_keep_safe_names_and_rewrite_the_others_uniquely() -> None:
    from model.encoding import model_safe_names

    columns = ["attr_Total day minutes", "attr_plan.type", "attr_Durée", "attr_3G usage"]
    assert model_safe_names(columns) == (
        "attr_Total_day_minutes",
        "attr_plan.type",
        "attr_Durée",
        "attr_3G_usage",
    )
    # a rewritten name never takes a kept one, nor another rewritten one
    assert model_safe_names(["a b", "a_b", 'a"b', "x:{y}"]) == ("a_b_0", "a_b", "a_b_2", "x__y_")
