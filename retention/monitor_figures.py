"""The monitor's numbers as pure functions: realized and estimated performance, with intervals.

Realized figures compare a generation's recorded scores with what its customers did in the
horizon (labels from ``features.labels``): ROC-AUC, calibration bias (mean predicted minus
observed churn), the CLV's normalised Gini and bias (mean predicted / mean actual - 1), each with
a seeded percentile bootstrap interval. Estimated figures need no labels: if the probabilities
are calibrated, the expected churn rate is their mean and the expected ROC-AUC is

``E[AUC] = sum_{i != j} p_i (1 - p_j) [s_i > s_j] / sum_{i != j} p_i (1 - p_j)``

(ties count one half), computed in one sort. Definitions match ``training/metrics.py`` (the
test proves it), so a realized figure reads like the model card's test figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """A figure and its 95% bootstrap interval (nan when it cannot be computed)."""

    value: float
    low: float
    high: float

    def text(self, fmt: str = ".3f") -> str:
        if np.isnan(self.value):
            return "n/a"
        return f"{self.value:{fmt}} ({self.low:{fmt}} to {self.high:{fmt}})"


def roc_auc(y: FloatArray, p: FloatArray) -> float:
    """Area under the ROC curve; nan for a single class."""
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def churn_bias(y: FloatArray, p: FloatArray) -> float:
    """Mean predicted churn probability minus the observed churn rate."""
    return float(p.mean() - y.mean()) if len(y) else float("nan")


def clv_gini(y: FloatArray, pred: FloatArray) -> float:
    """Normalised Gini of actual value ranked by predicted value, ties averaged (as training's
    ``normalized_gini``); nan when the actual value is constant."""
    if not len(y) or y.max() == y.min():
        return float("nan")
    order = np.argsort(-pred, kind="stable")
    p_sorted, y_sorted = pred[order], y[order]
    group = np.cumsum(np.append(True, p_sorted[1:] != p_sorted[:-1])) - 1
    y_tied = (np.bincount(group, weights=y_sorted) / np.bincount(group))[group]
    return _gini_area(y_tied) / _gini_area(np.sort(y)[::-1])


def _gini_area(values: FloatArray) -> float:
    n = values.size
    return float((np.cumsum(values).sum() / values.sum() - (n + 1) / 2.0) / n)


def clv_bias(y: FloatArray, pred: FloatArray) -> float:
    """Mean predicted value over mean actual value, minus one; nan when nothing was spent."""
    return float(pred.mean() / y.mean() - 1) if len(y) and y.mean() > 0 else float("nan")


def bootstrap(
    metric: Callable[[FloatArray, FloatArray], float],
    y: FloatArray,
    pred: FloatArray,
    *,
    replicates: int,
    seed: int,
) -> Interval:
    """``metric`` on all rows with a percentile interval over ``replicates`` row resamples."""
    value = metric(y, pred)
    if not len(y) or np.isnan(value):
        return Interval(value, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y), size=(replicates, len(y)))
    values = np.array([metric(y[d], pred[d]) for d in draws])
    values = values[~np.isnan(values)]
    if len(values) < replicates / 2:
        return Interval(value, float("nan"), float("nan"))
    low, high = np.quantile(values, [0.025, 0.975])
    return Interval(value, float(low), float(high))


def expected_roc_auc(p: FloatArray) -> float:
    """The ROC-AUC expected if the churn probabilities ``p`` are calibrated (module docstring)."""
    if len(p) < 2:
        return float("nan")
    values, group = np.unique(p, return_inverse=True)
    pos = np.bincount(group, weights=p, minlength=len(values))
    neg = np.bincount(group, weights=1 - p, minlength=len(values))
    below = np.cumsum(neg) - neg
    self_pairs = float(np.sum(p * (1 - p)))
    numerator = float(np.sum(pos * (below + 0.5 * neg))) - 0.5 * self_pairs
    denominator = float(p.sum() * (1 - p).sum()) - self_pairs
    return numerator / denominator if denominator > 0 else float("nan")


@dataclass(frozen=True)
class Realized:
    """One past generation's scores against what its customers did."""

    customers: int
    predicted_churn: float
    actual_churn: float
    roc_auc: Interval
    calibration_bias: Interval
    clv_gini: Interval
    clv_bias: Interval

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def realized(
    churned: FloatArray,
    probability: FloatArray,
    value: FloatArray,
    predicted_value: FloatArray,
    *,
    replicates: int,
    seed: int,
) -> Realized:
    """The realized figures of one generation's customers (aligned arrays); the CLV figures over
    the customers with a predicted and an actual value (none for a churn-only package)."""
    valued = np.isfinite(value) & np.isfinite(predicted_value)
    value, predicted_value = value[valued], predicted_value[valued]
    return Realized(
        customers=len(churned),
        predicted_churn=float(probability.mean()) if len(churned) else float("nan"),
        actual_churn=float(churned.mean()) if len(churned) else float("nan"),
        roc_auc=bootstrap(roc_auc, churned, probability, replicates=replicates, seed=seed),
        calibration_bias=bootstrap(
            churn_bias, churned, probability, replicates=replicates, seed=seed
        ),
        clv_gini=bootstrap(clv_gini, value, predicted_value, replicates=replicates, seed=seed),
        clv_bias=bootstrap(clv_bias, value, predicted_value, replicates=replicates, seed=seed),
    )


__all__ = [
    "Interval",
    "Realized",
    "bootstrap",
    "churn_bias",
    "clv_bias",
    "clv_gini",
    "expected_roc_auc",
    "realized",
    "roc_auc",
]
