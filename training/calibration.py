"""Calibration on the test cutoff: is the model right on average, and per band of score?

Ranking metrics (ROC-AUC, Gini) say nothing about whether a 40% churn probability means 40%, or
whether predicted spend adds up to what customers spent. A model calibrated on one season and
applied in another can rank perfectly and still be off by ten points on average. These functions
measure that on the test cutoff, for every candidate, so the evaluation table, the model card and
the training output show it beside the ranking metrics.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from model.card import CalibrationCheck, Task

ECE_BINS = 10
"""Equal-width probability bins of the expected calibration error: [0, 0.1), ..., [0.9, 1]."""


def expected_calibration_error(
    y_true: npt.ArrayLike, p: npt.ArrayLike, bins: int = ECE_BINS
) -> float:
    """Expected calibration error: the row-weighted mean of |mean predicted - observed rate|
    over equal-width bins of predicted probability (a probability of exactly 1 falls in the
    last bin). 0 for a perfectly calibrated model; NaN without rows.
    """
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(p, dtype=np.float64)
    if y.size == 0:
        return float("nan")
    band = np.minimum((s * bins).astype(np.int64), bins - 1)
    count = np.bincount(band, minlength=bins)
    gap = np.abs(
        np.bincount(band, weights=s, minlength=bins) - np.bincount(band, weights=y, minlength=bins)
    )
    return float(gap.sum() / count.sum())


def calibration_metrics(task: Task, y: npt.ArrayLike, pred: npt.ArrayLike) -> dict[str, float]:
    """Calibration-in-the-large of one set of test predictions, with stable keys.

    Churn: ``mean_predicted``, ``observed`` (the churn rate), ``calibration_bias`` (their
    difference, probability points as a fraction: +0.10 predicts ten points too much churn) and
    ``ece``. CLV: ``mean_predicted``, ``observed`` (mean actual future value) and
    ``calibration_bias`` (relative: predicted / actual - 1, so -0.25 predicts a quarter too little).
    """
    actual = np.asarray(y, dtype=np.float64)
    predicted = np.asarray(pred, dtype=np.float64)
    mean_pred, observed = float(predicted.mean()), float(actual.mean())
    if task == "churn":
        return {
            "mean_predicted": mean_pred,
            "observed": observed,
            "calibration_bias": mean_pred - observed,
            "ece": expected_calibration_error(actual, predicted),
        }
    relative = mean_pred / observed - 1.0 if observed > 0 else float("nan")
    return {"mean_predicted": mean_pred, "observed": observed, "calibration_bias": relative}


def calibration_check(task: Task, metrics: dict[str, float], limit: float) -> CalibrationCheck:
    """The card's record of calibration on the test cutoff, against the configured limit."""
    ece = metrics.get("ece")
    return CalibrationCheck(
        task=task,
        mean_predicted=metrics["mean_predicted"],
        observed=metrics["observed"],
        bias=metrics["calibration_bias"],
        ece=None if ece is None or not np.isfinite(ece) else ece,
        limit=limit,
    )
