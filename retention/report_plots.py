"""The report's charts, drawn from its figures and the scores table, as inline base64 PNGs."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.risk_tiers import RiskTiers, percent
from model.card import CalibrationCurve, GainCurve, ModelCard
from retention.campaign import plot_curve
from retention.report_figures import ReportFigures, card_info, card_notes, segment_columns


def png(fig: Figure) -> str:
    """A figure as a base64 PNG, ready for a ``data:`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def risk_distribution(scores: pd.DataFrame, tiers: RiskTiers) -> str:
    """A histogram of churn probabilities, with the high and medium tiers' lower bounds."""
    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.subplots()
    ax.hist(scores["churn_probability"], bins=40, color="C0")
    for value, name in ((tiers.high, "high"), (tiers.medium, "medium")):
        ax.axvline(
            value,
            color="C3" if name == "high" else "C1",
            linestyle="--",
            label=f"{name} from {percent(value)}",
        )
    ax.legend()
    ax.set_xlabel("churn probability over the horizon")
    ax.set_ylabel("customers")
    ax.set_title("Churn-risk distribution")
    fig.tight_layout()
    return png(fig)


def value_at_risk_by_segment(scores: pd.DataFrame, currency: str = "") -> str | None:
    """Value at risk summed per level of each segment column (None without one)."""
    columns = segment_columns(scores)
    if not columns or not scores["value_at_risk"].notna().any():  # no value: nothing to sum
        return None
    fig = Figure(figsize=(3.4 * len(columns), 3.6), dpi=100)
    axes = fig.subplots(1, len(columns), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        totals = (
            scores.groupby(column, dropna=False)["value_at_risk"].sum().sort_values(ascending=False)
        )
        ax.bar([str(i) for i in totals.index], totals.to_numpy(), color="C3")
        ax.set_title(f"by {column}")
        ax.tick_params(axis="x", rotation=45)
    axes[0][0].set_ylabel(f"gross profit at risk ({currency})" if currency else "value at risk")
    fig.suptitle("Where the value at risk sits")
    fig.tight_layout()
    return png(fig)


def calibration_plot(curve: CalibrationCurve) -> str:
    """Mean predicted probability against the observed churn rate, per decile of test score."""
    fig = Figure(figsize=(5.2, 4.2), dpi=100)
    ax = fig.subplots()
    top = max([*curve.predicted, *curve.observed, 0.01])
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfectly calibrated")
    ax.plot(curve.predicted, curve.observed, marker="o", color="C0", label="model, per decile")
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration on the test cutoff")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return png(fig)


def gain_plot(curve: GainCurve) -> str:
    """Share of churners reached against share of customers contacted, highest score first."""
    fig = Figure(figsize=(5.2, 4.2), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", label="random order")
    ax.plot(
        np.asarray(curve.share) * 100, np.asarray(curve.reached) * 100, color="C3", label="model"
    )
    ax.set_xlabel("customers contacted, highest churn score first (%)")
    ax.set_ylabel("churners reached (%)")
    ax.set_title("Cumulative gain on the test cutoff")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return png(fig)


def card_plots(
    cards: dict[str, ModelCard],
) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """The churn champion's calibration and gain plots, test metrics and dates, from its card.

    Returns figures, provenance facts and notes; a card or curve that is missing is a note, and
    the page renders without that plot.
    """
    card = cards.get("churn")
    figures: dict[str, str] = {}
    if card is not None and card.calibration is not None:
        figures["calibration"] = calibration_plot(card.calibration)
    if card is not None and card.gain is not None:
        figures["gain"] = gain_plot(card.gain)
    return figures, card_info(card), card_notes(card)


def report_images(
    scores: pd.DataFrame, figures: ReportFigures, cards: dict[str, ModelCard]
) -> dict[str, str]:
    """Every chart of the page by name: risk, profit, segments (when any), calibration, gain."""
    images = {"risk": risk_distribution(scores, figures.risk_tiers)}
    if scores["value_at_risk"].notna().any():  # value unknown (churn-only): no profit to draw
        images["profit"] = png(plot_curve(figures.campaign_curve, figures.campaign))
    segments = value_at_risk_by_segment(scores, figures.economics.currency)
    if segments:
        images["segments"] = segments
    images.update(card_plots(cards)[0])
    return images
