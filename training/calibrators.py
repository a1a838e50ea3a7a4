"""Churn calibrators that are straight lines on the log-odds: each returns ``(a, b)`` for
``p = sigmoid(a * raw + b)``.

Being linear in the raw score, each maps TreeSHAP (or a linear model's) contributions too, so the
served reasons still add up to the served log-odds (``ModelBundle.platt``). All are pure functions
of arrays:

* ``none``: only the prior correction that undoes class balancing, ``b = log(share / (1 - share))``
  with the training churn share (identity without balancing): trusts the training base rate;
* ``intercept``: ``a = 1`` and ``b`` shifted so the mean predicted probability equals the observed
  churn rate of the calibration rows: trusts their base rate, keeps the ranking's spread;
* ``platt``: ``a`` and ``b`` by logistic regression on the calibration rows (Platt scaling).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression

from model.bundle import sigmoid
from model.linear import CONVEX_SOLVER, CONVEX_TOL

Calibrator = Literal["none", "intercept", "platt"]
CALIBRATORS: tuple[Calibrator, ...] = ("none", "intercept", "platt")
"""Every calibrator, in the order ties are broken (the simplest first)."""


def prior_correction(share: float, balanced: bool) -> tuple[float, float]:
    """``none``: undo class balancing with the training churn ``share`` (identity if not balanced)."""
    if not balanced:
        return 1.0, 0.0
    if not 0.0 < share < 1.0:
        raise ValueError(f"the training churn share must be strictly between 0 and 1, got {share}")
    return 1.0, float(np.log(share / (1.0 - share)))


def fit_intercept(raw: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, float]:
    """``intercept``: the shift b with mean(sigmoid(raw + b)) equal to the churn rate of ``y``."""
    scores, labels = _checked(raw, y)
    rate = float(labels.mean())
    lo, hi = -60.0 - float(scores.max()), 60.0 - float(scores.min())
    b = brentq(lambda shift: float(sigmoid(scores + shift).mean()) - rate, lo, hi, xtol=1e-12)
    return 1.0, float(b)


def fit_platt(raw: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, float]:
    """``platt``: slope and intercept of a (practically unpenalised) logistic regression."""
    scores, labels = _checked(raw, y)
    lr = LogisticRegression(C=1e6, solver=CONVEX_SOLVER, max_iter=1000, tol=CONVEX_TOL).fit(
        scores.reshape(-1, 1), labels
    )
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit_calibrator(
    method: Calibrator, raw: npt.ArrayLike, y: npt.ArrayLike, *, share: float, balanced: bool
) -> tuple[float, float]:
    """``(a, b)`` of ``method`` on calibration rows (``share``: the training churn share)."""
    fits: dict[str, Callable[[], tuple[float, float]]] = {
        "none": lambda: prior_correction(share, balanced),
        "intercept": lambda: fit_intercept(raw, y),
        "platt": lambda: fit_platt(raw, y),
    }
    if method not in fits:
        raise ValueError(f"unknown calibrator {method!r}; expected one of {list(CALIBRATORS)}")
    return fits[method]()


def apply(ab: tuple[float, float], raw: npt.ArrayLike) -> np.ndarray:
    """Calibrated churn probabilities ``sigmoid(a * raw + b)``."""
    a, b = ab
    return sigmoid(a * np.asarray(raw, dtype=np.float64) + b)


def _checked(raw: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(raw, dtype=np.float64).ravel()
    labels = np.asarray(y).astype(int).ravel()
    if len(scores) != len(labels) or not len(scores):
        raise ValueError(
            f"calibration needs as many labels as scores, and some rows: got {len(scores)} "
            f"scores and {len(labels)} labels"
        )
    if not np.isfinite(scores).all():
        raise ValueError("calibration scores must be finite")
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError("calibration labels must contain both classes 0 and 1")
    return scores, labels
