"""The evaluation module: curves in the model card by hand-computed values, tables, one grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.calibration import calibration_metrics
from training.evaluation import (
    calibration_curve,
    decile_curve,
    evaluate,
    evaluation_table,
    gain_curve,
    markdown_table,
)
from training.metrics import EMPCParams, churn_metrics, clv_metrics, decile_table

EMPC = EMPCParams()


def test_calibration_curve_by_hand() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1, 1, 1])
    p = np.arange(10) / 10
    curve = calibration_curve(y, p, bins=5)
    np.testing.assert_allclose(curve.predicted, [0.05, 0.25, 0.45, 0.65, 0.85])
    np.testing.assert_allclose(curve.observed, [0.5, 0.5, 0.5, 0.5, 1.0])


def test_calibration_curve_bins_like_array_split_and_drops_empty_bins() -> None:
    # 7 rows in 3 bins: sizes 3, 2, 2 (the first n % bins bins take one more), scores ascending
    y = np.array([1, 0, 0, 1, 1, 0, 1])
    p = np.array([0.7, 0.1, 0.2, 0.9, 0.3, 0.5, 0.6])
    curve = calibration_curve(y, p, bins=3)
    np.testing.assert_allclose(curve.predicted, [0.2, 0.55, 0.8])
    np.testing.assert_allclose(curve.observed, [1 / 3, 0.5, 1.0])
    assert len(calibration_curve(y[:4], p[:4]).predicted) == 4  # 4 rows, 10 bins


def test_calibration_curve_equals_the_former_plot_grouping() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(1003)
    y = (rng.random(1003) < p).astype(int)
    groups = np.array_split(np.argsort(p, kind="stable"), 10)
    curve = calibration_curve(y, p)
    np.testing.assert_allclose(curve.predicted, [p[g].mean() for g in groups], rtol=1e-12)
    np.testing.assert_allclose(curve.observed, [y[g].mean() for g in groups], rtol=1e-12)


def test_gain_curve_by_hand() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.1, 0.8, 0.2])
    curve = gain_curve(y, p, points=5)
    assert curve.share == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve.reached == [0.0, 0.5, 1.0, 1.0, 1.0]
    worst = gain_curve(y, 1 - p, points=5)  # churners ranked last
    assert worst.reached == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_gain_curve_has_101_points_and_no_churners_reach_nothing() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(250)
    curve = gain_curve((p > 0.5).astype(int), p)
    assert len(curve.share) == len(curve.reached) == 101
    assert curve.share[37] == pytest.approx(0.37)
    assert curve.reached[-1] == 1.0
    assert np.all(np.diff(curve.reached) >= 0)
    assert set(gain_curve(np.zeros(10), p[:10]).reached) == {0.0}


def test_decile_curve_is_the_decile_table_highest_first() -> None:
    rng = np.random.default_rng(1)
    pred = rng.gamma(2.0, 10.0, 95)
    y = pred * rng.random(95)
    table = decile_table(y, pred)
    curve = decile_curve(y, pred)
    assert curve.predicted == table["mean_pred"].tolist()
    assert curve.actual == table["mean_actual"].tolist()
    assert curve.predicted == sorted(curve.predicted, reverse=True)


def test_evaluate_gives_each_task_its_metrics_slices_and_curves() -> None:
    rng = np.random.default_rng(2)
    n = 300
    segment = np.where(np.arange(n) < 100, "new", "established")
    p = rng.random(n)
    y = (rng.random(n) < p).astype(int)
    churn = evaluate("churn", "m", p, y, segment, EMPC, params={"a": 1})
    assert churn.metrics == {
        **churn_metrics(y, p, empc_params=EMPC),
        **calibration_metrics("churn", y, p),
    }
    assert churn.params == {"a": 1}
    assert churn.calibration == calibration_curve(y, p)
    assert churn.gain == gain_curve(y, p)
    assert churn.deciles is None
    assert churn.slices.loc["new", "n"] == 100
    new = segment == "new"
    assert (
        churn.slices.loc["new", "roc_auc"]
        == churn_metrics(y[new], p[new], empc_params=EMPC)["roc_auc"]
    )
    spend = y * 10.0
    clv = evaluate("clv", "v", p * 10, spend, segment, EMPC)
    assert clv.metrics == {
        **clv_metrics(spend, p * 10),
        **calibration_metrics("clv", spend, p * 10),
    }
    assert clv.deciles == decile_curve(spend, p * 10)
    assert clv.calibration is None
    assert clv.gain is None
    table = evaluation_table([churn, clv])
    assert table[["task", "model"]].values.tolist() == [["churn", "m"], ["clv", "v"]]
    assert table.loc[0, "roc_auc"] == churn.metrics["roc_auc"]
    assert table["fit"].tolist() == ["ok", "ok"]


def test_markdown_table() -> None:
    frame = pd.DataFrame({"model": ["a", "b"], "auc": [0.5, np.nan], "n": [1, 2]})
    assert markdown_table(frame, digits=2) == (
        "| model | auc | n |\n|---|---|---|\n| a | 0.50 | 1 |\n| b |  | 2 |"
    )
