"""The accounts at risk and what raises a customer's risk, in plain words.

**Accounts at risk are the customers at medium or high risk of leaving** (the tiers are chances of
leaving, ``core.risk_tiers``); the report sums their value at risk (the gross profit lost if they
leave, ``model.value_at_risk``). Whom to call first is not decided here but by the campaign's
targeting (``retention.campaign.plan``), which the report's call list shows.

A reason is shown for a customer only when it *raises* that customer's risk (its TreeSHAP
contribution is positive), as the feature catalogue's label with units ("no purchase for 133
days"); the scores table and the API keep every top reason with its contribution and direction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalogue import reason_label
from serving.output import RAISES

AT_RISK_TIERS = ("high", "medium")
"""Risk tiers whose customers count as accounts at risk."""


@dataclass(frozen=True)
class AtRisk:
    """Accounts at risk of a scores table: how many, and the gross profit at risk among them."""

    customers: int
    value_at_risk: float


def at_risk_mask(scores: pd.DataFrame) -> np.ndarray:
    """True for customers at medium or high risk."""
    return scores["risk_tier"].isin(AT_RISK_TIERS).to_numpy()


def summarise_at_risk(scores: pd.DataFrame) -> AtRisk:
    """Count and total value at risk of the medium- and high-risk customers."""
    mask = at_risk_mask(scores)
    values = scores["value_at_risk"].to_numpy(dtype=np.float64)[mask]
    if mask.any() and np.isnan(values).all():  # value unknown (churn-only): no amount, not 0
        return AtRisk(int(mask.sum()), float("nan"))
    return AtRisk(int(mask.sum()), float(np.nansum(values)))


def reason_columns(scores: pd.DataFrame) -> list[int]:
    """The reason numbers k of the ``reason_<k>`` columns of a scores table, in order."""
    return sorted(
        int(c.split("_")[1])
        for c in scores.columns
        if c.startswith("reason_") and c.count("_") == 1 and c.split("_")[1].isdigit()
    )


def parse_reason_value(text: object) -> float | str | None:
    """A scores table's reason value back from its text: a number, a level name, or missing."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return float(str(text))
    except ValueError:
        return str(text)


def risk_raising_labels(scores: pd.DataFrame, money: Callable[[float], str]) -> list[list[str]]:
    """Per row of a (short) scores table: the labels of its reasons that raise its risk.

    For the report's list of accounts (tens of rows); ``money`` formats amounts with the currency.
    """
    ks = reason_columns(scores)
    out: list[list[str]] = []
    for row in scores.to_dict("records"):
        out.append(
            [
                reason_label(
                    str(row[f"reason_{k}"]), parse_reason_value(row[f"reason_{k}_value"]), money
                )
                for k in ks
                if row[f"reason_{k}_direction"] == RAISES
            ]
        )
    return out
