"""Estimator contracts and behavioural tests of the churn and CLV models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from core.config import LightGBMParams
from training.models import LightGBMChurn, LightGBMSpend, RecencyRule, logistic_baseline


def churn_data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Churn risk rises with recency (column 0) and falls with frequency (column 1)."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(60, n)
    frequency = rng.poisson(4, n).astype(float)
    noise = rng.normal(size=n)
    logit = 0.03 * recency - 0.4 * frequency + 0.3 * noise - 0.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return (
        np.column_stack([recency, frequency, noise]),
        y,
        ["days_since_last_purchase", "orders", "noise"],
    )


ESTIMATORS = [
    LightGBMChurn(LightGBMParams(n_estimators=50, early_stopping_rounds=10)),
    LightGBMSpend(LightGBMParams(n_estimators=50, early_stopping_rounds=10)),
    RecencyRule(),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sklearn_contract(estimator) -> None:
    X, y, _names = churn_data(800)
    fresh = clone(estimator)
    assert fresh.get_params() == estimator.get_params()
    assert clone(fresh.set_params(**fresh.get_params())).get_params() == fresh.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(X[:, :1] if isinstance(fresh, RecencyRule) else X)
    data = X[:, :1] if isinstance(fresh, RecencyRule) else X
    target = y if not isinstance(fresh, LightGBMSpend) else np.abs(X[:, 1]) * 3.0
    assert fresh.fit(data, target) is fresh
    learned = [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
    assert learned, "fit must learn attributes ending in '_'"
    assert not [k for k in vars(clone(fresh)) if k.endswith("_") and not k.startswith("_")]


def test_churn_model_is_calibrated_on_the_evaluation_set_despite_class_balancing() -> None:
    X, y, names = churn_data(6000)
    model = LightGBMChurn(LightGBMParams(n_estimators=300, early_stopping_rounds=30)).fit(
        X[:4000], y[:4000], eval_set=(X[4000:], y[4000:]), feature_names=names
    )
    p = model.predict_proba(X[4000:])[:, 1]
    assert model.platt_ is not None
    assert abs(p.mean() - y[4000:].mean()) < 0.01  # Platt on the same set matches the base rate
    uncalibrated = LightGBMChurn(
        LightGBMParams(n_estimators=300, early_stopping_rounds=30), calibration=None
    ).fit(X[:4000], y[:4000], eval_set=(X[4000:], y[4000:]), feature_names=names)
    raw = uncalibrated.predict_proba(X[4000:])[:, 1]
    assert abs(raw.mean() - y[4000:].mean()) > abs(p.mean() - y[4000:].mean())


def test_more_recent_purchase_never_raises_churn_risk() -> None:
    """Monotone constraint: lowering days since the last purchase cannot raise the churn score."""
    X, y, names = churn_data(4000)
    model = LightGBMChurn(
        LightGBMParams(n_estimators=200), monotone_increasing=("days_since_last_purchase",)
    ).fit(X, y, eval_set=(X, y), feature_names=names)
    grid = np.linspace(0, 400, 41)
    rows = np.repeat(X[:200], len(grid), axis=0)
    rows[:, 0] = np.tile(grid, 200)
    risk = model.predict_proba(rows)[:, 1].reshape(200, len(grid))
    assert (np.diff(risk, axis=1) >= -1e-12).all()


def test_monotone_names_must_be_features() -> None:
    X, y, names = churn_data(500)
    with pytest.raises(ValueError, match="unknown features"):
        LightGBMChurn(LightGBMParams(n_estimators=5), monotone_increasing=("nope",)).fit(
            X, y, feature_names=names
        )


def test_scores_do_not_depend_on_row_order() -> None:
    X, y, names = churn_data(2000)
    model = LightGBMChurn(LightGBMParams(n_estimators=100)).fit(
        X, y, eval_set=(X, y), feature_names=names
    )
    order = np.random.default_rng(1).permutation(len(X))
    assert np.array_equal(model.predict_proba(X[order]), model.predict_proba(X)[order])


def test_fitting_is_reproducible() -> None:
    X, y, names = churn_data(2000)
    a = LightGBMChurn(LightGBMParams(n_estimators=100)).fit(
        X, y, eval_set=(X, y), feature_names=names
    )
    b = LightGBMChurn(LightGBMParams(n_estimators=100)).fit(
        X, y, eval_set=(X, y), feature_names=names
    )
    assert a.booster_.model_to_string() == b.booster_.model_to_string()


def test_churn_labels_must_have_both_classes() -> None:
    X, _, names = churn_data(100)
    with pytest.raises(ValueError, match="both classes"):
        LightGBMChurn(LightGBMParams(n_estimators=5)).fit(
            X, np.zeros(100, dtype=int), feature_names=names
        )


def test_spend_model_recovers_a_planted_relation_and_rejects_negative_targets() -> None:
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (5000, 2))
    mean = np.exp(1 + 2 * X[:, 0])  # spend rises with column 0, column 1 is noise
    y = rng.gamma(2.0, mean / 2.0) * (rng.uniform(size=5000) < 0.6)
    model = LightGBMSpend(LightGBMParams(n_estimators=300, early_stopping_rounds=30)).fit(
        X[:4000], y[:4000], eval_set=(X[4000:], y[4000:])
    )
    pred = model.predict(X[4000:])
    assert (pred >= 0).all()
    assert np.corrcoef(pred, mean[4000:] * 0.6)[0, 1] > 0.95
    assert model.feature_importance()["f0"] > 0.9
    with pytest.raises(ValueError, match="non-negative"):
        LightGBMSpend(LightGBMParams(n_estimators=5)).fit(X, -y - 1)


def test_recency_rule_is_non_decreasing_and_treats_never_as_oldest() -> None:
    X, y, _ = churn_data(3000)
    rule = RecencyRule().fit(X[:, :1], y)
    grid = np.linspace(0, 500, 101).reshape(-1, 1)
    p = rule.predict_proba(grid)[:, 1]
    assert (np.diff(p) >= 0).all()
    assert rule.predict_proba(np.array([[np.nan]]))[0, 1] == pytest.approx(
        rule.predict_proba([[X[:, 0].max()]])[0, 1]
    )
    with pytest.raises(ValueError, match="one column"):
        rule.fit(X, y)


def test_logistic_baseline_handles_missing_values_and_unseen_categories() -> None:
    import pandas as pd

    X, y, names = churn_data(1000)
    frame = pd.DataFrame(X, columns=names)
    frame.loc[::7, "orders"] = np.nan
    frame["region"] = np.where(np.arange(1000) % 2 == 0, "north", "south")
    model = logistic_baseline(names, ["region"]).fit(frame, y)
    test = frame.head(5).assign(region=["east", None, "north", "south", "west"])
    p = model.predict_proba(test)[:, 1]
    assert np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all()
