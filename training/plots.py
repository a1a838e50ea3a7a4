"""Evaluation plots logged with every training run: where a picture says more than a table.

Each function returns a matplotlib ``Figure`` built with the object API (no pyplot, no backend
switch, nothing global); the caller logs it. Calibration, gain and decile plots draw the curves
stored in the model card (``training.evaluation``), so plot and card cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from model.card import CalibrationCurve, DecileTable, GainCurve

Scores = Mapping[str, np.ndarray]


def _figure(title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.subplots()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def roc_plot(y: np.ndarray, scores: Scores) -> Figure:
    """ROC curves of every churn model on the test cutoff."""
    fig, ax = _figure("Churn ROC, test cutoff")
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (churners found)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def pr_plot(y: np.ndarray, scores: Scores) -> Figure:
    """Precision-recall curves: how clean the at-risk list stays as it grows."""
    fig, ax = _figure("Churn precision-recall, test cutoff")
    for name, p in scores.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=name)
    ax.axhline(float(np.mean(y)), color="grey", linestyle=":", label="churn rate")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def calibration_plot(curves: Mapping[str, CalibrationCurve]) -> Figure:
    """Mean predicted vs observed churn per score decile: are the probabilities honest?"""
    fig, ax = _figure("Churn calibration, test cutoff")
    for name, curve in curves.items():
        ax.plot(curve.predicted, curve.observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def gain_plot(curves: Mapping[str, GainCurve]) -> Figure:
    """Cumulative gain: share of churners reached when contacting the top x% by score."""
    fig, ax = _figure("Churn cumulative gain, test cutoff")
    for name, curve in curves.items():
        ax.plot(curve.share, curve.reached, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set_xlabel("share of customers contacted (highest risk first)")
    ax.set_ylabel("share of churners reached")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def clv_decile_plot(deciles: DecileTable, name: str) -> Figure:
    """Mean predicted vs actual future spend per predicted-value decile."""
    fig, ax = _figure(f"CLV by predicted decile: {name}")
    x = np.arange(len(deciles.predicted))
    ax.bar(x - 0.2, deciles.predicted, width=0.4, label="predicted")
    ax.bar(x + 0.2, deciles.actual, width=0.4, label="actual")
    ax.set_xticks(x, [str(d) for d in x + 1])
    ax.set_xlabel("decile of predicted value (1 = highest)")
    ax.set_ylabel("mean spend over the horizon")
    ax.legend()
    fig.tight_layout()
    return fig


def importance_plot(importance: Mapping[str, float], title: str, top: int = 20) -> Figure:
    """The features carrying most of the gain, largest on top."""
    items = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    fig = Figure(figsize=(6.4, 0.28 * len(items) + 1.2), dpi=100)
    ax = fig.subplots()
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_title(title)
    ax.set_xlabel("share of total gain")
    fig.tight_layout()
    return fig
