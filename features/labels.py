"""Point-in-time labels: what happened in the horizon ``(cutoff, cutoff + horizon]``.

* **churn**: non-contractual, no purchase in the horizon; contractual, no subscription running at
  the horizon's end (a cancellation inside it that is not followed by a new subscription).
* **future_value**: net spend in the horizon (purchases minus returns), floored at 0.

Only customers active at the cutoff get a label: for non-contractual businesses those who bought
within ``active_days`` before it (long-lapsed customers are not the retention problem, and would
make any model look good), for contractual ones those with a subscription running at the cutoff. The horizon
must lie within the data, or the labels would call customers churned for lack of data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import CutoffError
from core.schema import CUSTOMER_ID, FUTURE_VALUE
from features.prepare import PreparedData, from_day, to_day

CHURN = "churn"


@dataclass(frozen=True)
class LabelReport:
    """Customers labelled at one cutoff, and those left out and why."""

    cutoff: pd.Timestamp
    horizon_days: int
    labelled: int
    churn_rate: float
    excluded: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        left_out = ", ".join(f"{n:,} {why}" for why, n in self.excluded.items() if n)
        tail = f"; not labelled: {left_out}" if left_out else ""
        return (
            f"cutoff {self.cutoff.date()}: {self.labelled:,} customers labelled, churn rate "
            f"{self.churn_rate:.1%}{tail}"
        )


def check_window(prep: PreparedData, cutoff: int, horizon_days: int) -> None:
    """Raise CutoffError naming cutoff, horizon and date range if the window is not in the data."""
    data_range = prep.date_range
    start, end = prep.start_day, prep.end_day
    span = f"the data runs from {data_range[0].date()} to {data_range[1].date()}"
    if horizon_days <= 0:
        raise CutoffError(f"horizon must be a positive number of days, got {horizon_days}")
    if cutoff < start:
        raise CutoffError(
            f"cutoff {from_day(cutoff).date()} (with a {horizon_days}-day horizon) is before the "
            f"data starts: {span}. Choose a later cutoff."
        )
    if cutoff + horizon_days > end:
        latest = from_day(end - horizon_days).date()
        raise CutoffError(
            f"cutoff {from_day(cutoff).date()} with a {horizon_days}-day horizon needs data to "
            f"{from_day(cutoff + horizon_days).date()}, but {span}. Use a cutoff on or before "
            f"{latest} or a shorter horizon."
        )


def _running_at(prep: PreparedData, day: int) -> np.ndarray:
    """Per customer: a subscription started on or before ``day`` and not ended by it."""
    subs = prep.subscriptions
    if subs is None:
        raise CutoffError("contractual churn needs a subscriptions table")
    rows = (subs.start_day <= day) & (subs.end_day > day)
    return np.bincount(subs.customer[rows], minlength=prep.n_customers) > 0


def active_at(
    prep: PreparedData, cutoff: int, *, active_days: int | None = 365, contractual: bool = False
) -> tuple[np.ndarray, dict[str, int]]:
    """Who is an active customer at ``cutoff`` (a day number), and counts of why others are not.

    Contractual: a subscription runs at the cutoff. Non-contractual: a purchase within
    ``active_days`` up to the cutoff (None: any purchase ever). Labels and batch scoring both
    use this, so the scored base is the population the models were trained and tested on.
    """
    known = prep.first_day <= cutoff
    excluded: dict[str, int] = {}
    if contractual:
        active = known & _running_at(prep, cutoff)
        excluded["without a subscription running at the cutoff"] = int((known & ~active).sum())
    else:
        tx = prep.transactions
        bought = (tx.day <= cutoff) & ~tx.is_return
        ever = np.bincount(tx.customer[bought], minlength=prep.n_customers) > 0
        recent = bought & (tx.day > cutoff - active_days) if active_days is not None else bought
        active = known & (np.bincount(tx.customer[recent], minlength=prep.n_customers) > 0)
        excluded["known but without a purchase by the cutoff"] = int((known & ~ever).sum())
        if active_days is not None:
            excluded[f"no purchase in the {active_days} days to the cutoff"] = int(
                (ever & ~active).sum()
            )
    excluded["first seen after the cutoff"] = int((~known).sum())
    return active, excluded


def make_labels(
    prep: PreparedData,
    as_of: pd.Timestamp | str,
    horizon_days: int,
    *,
    active_days: int | None = 365,
    contractual: bool | None = None,
) -> tuple[pd.DataFrame, LabelReport]:
    """Churn and future value in ``(as_of, as_of + horizon_days]`` for customers active at ``as_of``.

    ``active_days`` (non-contractual): only customers with a purchase in the last that many days
    are labelled; None labels everyone who ever bought.

    Returns a frame indexed by ``customer_id`` with columns ``churn`` (0/1) and ``future_value``,
    and a report of how many customers were labelled and why others were not.
    """
    cutoff = to_day(as_of)
    check_window(prep, cutoff, horizon_days)
    contractual = prep.subscriptions is not None if contractual is None else contractual
    end = cutoff + horizon_days
    tx = prep.transactions
    n = prep.n_customers
    eligible, excluded = active_at(prep, cutoff, active_days=active_days, contractual=contractual)
    in_window = (tx.day > cutoff) & (tx.day <= end)
    spend = np.bincount(tx.customer[in_window], weights=tx.amount[in_window], minlength=n)
    if contractual:
        churn = ~_running_at(prep, end)
    else:
        churn = ~(np.bincount(tx.customer[in_window & ~tx.is_return], minlength=n) > 0)

    rows = np.flatnonzero(eligible)
    labels = pd.DataFrame(
        {CHURN: churn[rows].astype(np.int64), FUTURE_VALUE: np.maximum(spend[rows], 0.0)},
        index=pd.Index(prep.ids[rows], name=CUSTOMER_ID, dtype="str"),
    )
    report = LabelReport(
        cutoff=from_day(cutoff),
        horizon_days=horizon_days,
        labelled=len(rows),
        churn_rate=float(labels[CHURN].mean()) if len(rows) else float("nan"),
        excluded=excluded,
    )
    return labels, report
