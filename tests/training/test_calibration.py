"""Calibration on the test cutoff, the bias warning, and fits that report trouble in plain words."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from model.card import CalibrationCheck, calibration_warning
from tests.helpers import card_for
from tests.training.test_btyd import simulate_bgnbd
from training.baselines import fit_btyd
from training.calibration import (
    calibration_check,
    calibration_metrics,
    expected_calibration_error,
)
from training.fit_notes import captured_warnings


def test_expected_calibration_error_by_hand() -> None:
    """Bins [0.1, 0.2): p 0.1, 0.1 vs y 0, 1 -> |0.2 - 1| = 0.8 over 2 rows;
    [0.9, 1]: p 0.9, 1.0 vs y 1, 1 -> |1.9 - 2| = 0.1. ECE = (0.8 + 0.1) / 4 = 0.225."""
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 1.0])
    assert expected_calibration_error(y, p) == pytest.approx(0.225, abs=1e-12)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5])) == 0.0
    assert np.isnan(expected_calibration_error(np.array([]), np.array([])))


def test_calibration_in_the_large_by_hand() -> None:
    churn = calibration_metrics("churn", np.array([0, 0, 1, 1]), np.array([0.3, 0.5, 0.7, 0.9]))
    assert churn == pytest.approx(
        {"mean_predicted": 0.6, "observed": 0.5, "calibration_bias": 0.1, "ece": 0.3}
    )
    clv = calibration_metrics("clv", np.array([0.0, 100.0]), np.array([30.0, 30.0]))
    assert clv == pytest.approx(
        {"mean_predicted": 30.0, "observed": 50.0, "calibration_bias": -0.4}
    )


def test_a_calibrated_model_has_no_bias_and_a_shifted_one_has_its_shift() -> None:
    """Labels drawn from p: bias about 0; the same probabilities plus 0.1: bias 0.1 exactly more."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.85, 200_000)
    y = (rng.random(p.size) < p).astype(int)
    honest = calibration_metrics("churn", y, p)
    shifted = calibration_metrics("churn", y, p + 0.1)
    assert abs(honest["calibration_bias"]) < 0.005
    assert honest["ece"] < 0.01
    assert shifted["calibration_bias"] - honest["calibration_bias"] == pytest.approx(0.1)
    assert shifted["ece"] == pytest.approx(0.1, abs=0.01)


def test_bias_warning_names_the_numbers_only_beyond_the_limit() -> None:
    metrics = {"mean_predicted": 0.54, "observed": 0.431, "calibration_bias": 0.109, "ece": 0.11}
    check = calibration_check("churn", metrics, 0.03)
    assert check.exceeded
    text = check.warning("lightgbm")
    assert text is not None
    assert "54.0% against 43.1% observed" in text
    assert "10.9 points of over-prediction (limit 3.0)" in text
    assert calibration_check("churn", metrics, 0.15).warning() is None
    under = CalibrationCheck(
        task="clv", mean_predicted=570.0, observed=763.0, bias=-0.253, limit=0.15
    )
    assert "570.00 against 763.00 actual, 25% below (limit 15%)" in (under.warning() or "")
    assert under.summary() == "mean predicted 570.00 vs 763.00 actual: bias -25% (limit 15%)"


def test_calibration_warning_reads_the_card() -> None:
    card = card_for("churn", ["days_since_last_purchase"])
    assert calibration_warning(card) is None
    check = CalibrationCheck(task="churn", mean_predicted=0.6, observed=0.5, bias=0.1, limit=0.03)
    biased = card.model_copy(update={"calibration_check": check})
    assert "10.0 points of over-prediction" in (calibration_warning(biased) or "")


RAW = "overflow in /usr/lib/python3/site-packages/scipy/x.py:12 exp"


def test_captured_warnings_become_one_plain_line_each_without_paths() -> None:
    x = np.r_[np.zeros(50), np.ones(50)].reshape(-1, 1) + np.random.default_rng(1).normal(
        size=(100, 1)
    )
    y = np.r_[np.zeros(50), np.ones(50)]
    with captured_warnings("churn/logistic") as lines:
        LogisticRegression(max_iter=1).fit(x, y)
        for _ in range(2):
            warnings.warn(RAW, RuntimeWarning, stacklevel=1)
    assert lines[0].startswith("churn/logistic: ConvergenceWarning: lbfgs failed to converge")
    assert lines[1:] == ["churn/logistic: RuntimeWarning: overflow in exp"]
    assert all(".py" not in line and "\n" not in line for line in lines)


def _summary_features(frequency, recency, T, spend=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    n = len(frequency)
    return pd.DataFrame(
        {
            "btyd_frequency": frequency,
            "btyd_recency": recency,
            "btyd_T": T,
            "btyd_monetary_value": np.full(n, 25.0) if spend is None else spend,
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )


def test_degenerate_bgnbd_fit_is_one_clear_line() -> None:
    """Everyone buys every week up to the cutoff: nobody ever drops out, so the dropout
    probability runs to 0 (a -> 0) and the fit says so, once, naming it and its direction."""
    T = np.random.default_rng(0).integers(200, 400, 400).astype(float)
    features = _summary_features(np.floor(T / 7), T, T)
    with captured_warnings("bgnbd") as raised:
        baseline = fit_btyd(features, 90, features.index)
    problems = baseline.problems()
    bg_lines = [p for p in problems if p.startswith("BG/NBD")]
    assert len(bg_lines) == 1
    assert baseline.bgnbd.a_ < 1e-4
    assert bg_lines[0].startswith(
        "BG/NBD fit unreliable: dropout parameters at the boundary (a toward 0"
    )
    # whatever the fit raises on the way is caught as plain lines, never printed with source paths

    assert all(".py" not in line and "\n" not in line for line in raised)


def test_sound_bgnbd_fit_has_no_problems() -> None:
    data = simulate_bgnbd(3000, 0.25, 4.0, 0.8, 2.5, seed=3)
    weeks = data.to_numpy()
    spend = np.random.default_rng(4).gamma(3.0, 12.0, len(weeks))  # mean spend varies by customer
    features = _summary_features(weeks[:, 0], weeks[:, 1] * 7, weeks[:, 2] * 7, spend)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        baseline = fit_btyd(features, 90, features.index)
    assert baseline.problems() == []


def test_deprecations_can_be_left_to_developers() -> None:
    with captured_warnings("training", deprecations=False) as lines:
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
        warnings.warn("will change", FutureWarning, stacklevel=1)
        warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
    assert lines == ["training: ConvergenceWarning: did not converge"]


def test_the_report_warns_from_the_card_training_writes() -> None:
    from retention.report_figures import calibration_warning as report_warning

    card = card_for("churn", ["days_since_last_purchase"])
    assert report_warning(card) is None
    check = CalibrationCheck(
        task="churn", mean_predicted=0.54, observed=0.431, bias=0.109, limit=0.03
    )
    text = report_warning(card.model_copy(update={"calibration_check": check}))
    assert text is not None
    assert "over-predicted leaving by 10.9 points" in text
    assert "(predicted 54.0% on average against 43.1% observed)" in text
    within = check.model_copy(update={"limit": 0.15})
    assert report_warning(card.model_copy(update={"calibration_check": within})) is None
