"""Account-level feature families at one cutoff: profile, subscription and voice of the customer.

Like ``features.history``, each returns full-length arrays by customer code, computed only from
rows dated on or before the cutoff day. A subscription that ends after the cutoff counts as
running: its end is not yet known at the cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import ATTRIBUTE_PREFIX
from features.catalogue import TICKET_WINDOWS
from features.prepare import NEVER, Interactions, PreparedData, Subscriptions

Columns = dict[str, np.ndarray]

TICKET, NPS, CSAT = 0, 1, 2


def _since(day: np.ndarray, cutoff: int) -> np.ndarray:
    return np.where(day >= NEVER, np.nan, cutoff - day).astype(np.float64)


def _last_per_customer(customer: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The last value of each customer's run in arrays sorted by customer (NaN if none)."""
    out = np.full(n, np.nan)
    if len(customer):
        is_last = np.r_[customer[1:] != customer[:-1], True]
        out[customer[is_last]] = values[is_last]
    return out


def profile_family(prep: PreparedData, cutoff: int) -> dict[str, np.ndarray | pd.Series]:
    """Tenure (from signup, else first event) and every customers-table attribute."""
    start = prep.first_day
    if prep.signup_day is not None:
        signed = prep.signup_day <= cutoff
        start = np.where(signed, prep.signup_day, prep.first_day)
    out: dict[str, np.ndarray | pd.Series] = {"tenure_days": _since(start, cutoff)}
    if prep.attributes is not None:
        for column in prep.attributes.columns:
            out[f"{ATTRIBUTE_PREFIX}{column}"] = prep.attributes[column]
    return out


def subscription_family(
    subs: Subscriptions, cutoff: int, n: int
) -> dict[str, np.ndarray | pd.Series]:
    """Plan and price of the latest subscription row, whether one runs, tenure and plan changes."""
    started = subs.start_day <= cutoff
    customer = subs.customer[started]
    start = subs.start_day[started]
    running = subs.end_day[started] > cutoff
    rows = np.bincount(customer, minlength=n)
    plan = pd.Series(pd.NA, index=np.arange(n), dtype="str")
    amount = np.full(n, np.nan)
    latest_start = np.full(n, NEVER, dtype=np.int64)
    first_start = np.full(n, NEVER, dtype=np.int64)
    if len(customer):
        is_last = np.r_[customer[1:] != customer[:-1], True]
        is_first = np.r_[True, customer[1:] != customer[:-1]]
        plan.iloc[customer[is_last]] = subs.plan[started][is_last]
        amount[customer[is_last]] = subs.monthly_amount[started][is_last]
        latest_start[customer[is_last]] = start[is_last]
        first_start[customer[is_first]] = start[is_first]
    return {
        "plan": plan,
        "monthly_amount": amount,
        "subscription_active": (np.bincount(customer[running], minlength=n) > 0).astype(np.float64),
        "subscription_tenure_days": _since(first_start, cutoff),
        "plan_changes": np.where(rows > 0, rows - 1, np.nan).astype(np.float64),
        "days_since_plan_change": _since(latest_start, cutoff),
    }


def voice_family(inter: Interactions, cutoff: int, n: int) -> Columns:
    """Latest and mean NPS and CSAT answers, tickets per window and days since the last ticket."""
    past = inter.day <= cutoff
    customer, day, kind, score = (
        inter.customer[past],
        inter.day[past],
        inter.kind[past],
        inter.score[past],
    )
    out: Columns = {}
    for name, code in (("nps", NPS), ("csat", CSAT)):
        is_kind = kind == code
        answers = np.bincount(customer[is_kind], minlength=n).astype(np.float64)
        total = np.bincount(customer[is_kind], weights=score[is_kind], minlength=n)
        mean = np.full(n, np.nan)
        np.divide(total, answers, out=mean, where=answers > 0)
        out[f"{name}_latest"] = _last_per_customer(customer[is_kind], score[is_kind], n)
        out[f"{name}_mean"] = mean
    tickets = kind == TICKET
    for w in TICKET_WINDOWS:
        recent = tickets & (day > cutoff - w)
        out[f"tickets_{w}d"] = np.bincount(customer[recent], minlength=n).astype(np.float64)
    out["tickets_total"] = np.bincount(customer[tickets], minlength=n).astype(np.float64)
    last_ticket = _last_per_customer(customer[tickets], day[tickets].astype(np.float64), n)
    out["days_since_last_ticket"] = cutoff - last_ticket
    order = ["nps_latest", "nps_mean", "csat_mean", "csat_latest"]
    order += [f"tickets_{w}d" for w in TICKET_WINDOWS] + ["tickets_total", "days_since_last_ticket"]
    return {k: out[k] for k in order}
