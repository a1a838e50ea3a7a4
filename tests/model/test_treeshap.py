"""Table-driven TreeSHAP equals LightGBM's ``pred_contrib`` exactly, split rules included."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from model.treeshap import TreeExplainer


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numeric features with NaNs and exact zeros, and a categorical one (codes 0-5, NaN)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 7))
    x[:, 6] = rng.integers(0, 6, rows)
    x[rng.random((rows, 7)) < 0.1] = np.nan
    x[rng.random((rows, 7)) < 0.1] = 0.0
    signal = np.nan_to_num(x[:, 0]) - 0.8 * np.nan_to_num(x[:, 1]) + (x[:, 6] == 2)
    return x, (signal + rng.normal(size=rows) > 0).astype(float)


def _booster(params: dict[str, Any], rounds: int = 40) -> lgb.Booster:
    x, y = _data(3000, 0)
    base = {
        "objective": "binary",
        "num_leaves": 7,
        "max_depth": 3,
        "learning_rate": 0.2,
        "min_data_in_leaf": 20,
        "verbose": -1,
        "seed": 1,
        "num_threads": 1,
    }
    dataset = lgb.Dataset(x, y, categorical_feature=[6])
    return lgb.train({**base, **params}, dataset, num_boost_round=rounds)


def _hard_rows(booster: lgb.Booster) -> np.ndarray:
    """Rows that sit exactly on split thresholds, or hold NaN, zero, negative or unseen codes."""
    x, _ = _data(500, 7)
    thresholds = [
        (node["split_feature"], node["threshold"])
        for tree in booster.dump_model()["tree_info"]
        for node in _internal_nodes(tree["tree_structure"])
        if node["decision_type"] == "<="
    ]
    edge = x[: len(thresholds)].copy()
    for row, (feature, threshold) in enumerate(thresholds):
        edge[row, feature] = threshold
    odd = x[:6].copy()
    odd[:, 6] = [np.nan, -1.0, -0.5, 2.7, 99.0, np.inf]
    return np.vstack([x, edge, odd])


def _internal_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "leaf_value" in node:
        return []
    return [node, *_internal_nodes(node["left_child"]), *_internal_nodes(node["right_child"])]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zero_as_missing": True},
        {"use_missing": False},
        {"objective": "tweedie", "tweedie_variance_power": 1.3},
        {"num_leaves": 4, "max_depth": 2, "bagging_fraction": 0.7, "bagging_freq": 1},
    ],
    ids=["nan-missing", "zero-missing", "no-missing", "tweedie", "bagged-depth-2"],
)
def test_contributions_equal_lightgbm_pred_contrib(params: dict[str, Any]) -> None:
    booster = _booster(params)
    explainer = TreeExplainer.from_booster(booster)
    assert explainer is not None
    rows = _hard_rows(booster)
    expected = booster.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(explainer.contributions(rows), expected, rtol=0, atol=1e-12)
    # and they add up to the raw score, as SHAP values must
    raw = booster.predict(rows, raw_score=True)
    np.testing.assert_allclose(explainer.contributions(rows).sum(axis=1), raw, atol=1e-10)


def test_one_row_and_no_rows() -> None:
    booster = _booster({})
    explainer = TreeExplainer.from_booster(booster)
    assert explainer is not None
    row = _hard_rows(booster)[:1]
    np.testing.assert_allclose(
        explainer.contributions(row), booster.predict(row, pred_contrib=True), atol=1e-12
    )
    assert explainer.contributions(np.zeros((0, 7))).shape == (0, 8)


def test_trees_with_many_splits_are_left_to_lightgbm() -> None:
    deep = _booster({"num_leaves": 31, "max_depth": -1, "min_data_in_leaf": 5}, rounds=5)
    assert TreeExplainer.from_booster(deep) is None
