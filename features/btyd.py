"""The BTYD summary (frequency, recency, T, monetary value), as lifetimes defines it, in O(n).

Computed from integer arrays with one sort of (customer, day) keys and ``np.bincount`` (no
per-customer groups). The ``btyd`` feature family calls ``summary_arrays`` on the purchase-day rows
the other families share; ``experiments/lifetimes_summary.py`` wraps the same function in
lifetimes' DataFrame interface for the benchmark against ``lifetimes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SummaryArrays:
    """Per customer code: frequency, recency, T, monetary value; NaN/0 for customers without buys."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray
    bought: np.ndarray


def summary_arrays(
    customer: np.ndarray, day: np.ndarray, amount: np.ndarray, n_customers: int, end_day: int
) -> SummaryArrays:
    """The summary from purchase rows given as arrays (customer code, day number, amount).

    Rows after ``end_day`` are ignored. Frequency counts distinct purchase days after the first;
    recency is last minus first purchase day; T is ``end_day`` minus the first purchase day;
    monetary value is the mean spend of the repeat purchase days (0 without repeats). Customers
    without a purchase get frequency 0, recency 0, T NaN.
    """
    if len(day) and day.max() > end_day:
        keep = day <= end_day
        customer, day, amount = customer[keep], day[keep], amount[keep]
    first = np.full(n_customers, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n_customers, np.iinfo(np.int64).min, dtype=np.int64)
    days = np.zeros(n_customers, dtype=np.int64)
    if len(day):
        # one sort of (customer, day) keys gives the distinct purchase days and, per customer,
        # the first and last of them
        low = int(day.min())
        span = int(day.max()) - low + 1
        small = n_customers * span < np.iinfo(np.int32).max  # int32 keys sort twice as fast
        keys = customer.astype(np.int32) if small else customer.astype(np.int64)
        keys *= span
        keys += day - low
        keys.sort()  # np.unique is ~20x slower in numpy 2.4
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        owner, when = keys // span, keys % span + low
        starts = np.r_[True, owner[1:] != owner[:-1]]
        ends = np.r_[owner[1:] != owner[:-1], True]
        first[owner[starts]] = when[starts]
        last[owner[ends]] = when[ends]
        days = np.bincount(owner, minlength=n_customers)
    bought = days > 0
    repeat = np.where(day == first[customer], 0.0, amount)  # spend after the first purchase day
    repeat_spend = np.bincount(customer, weights=repeat, minlength=n_customers)
    frequency = np.maximum(days - 1, 0).astype(np.float64)
    monetary = np.divide(repeat_spend, frequency, out=np.zeros(n_customers), where=frequency > 0)
    return SummaryArrays(
        frequency=frequency,
        recency=np.where(bought, last - first, 0).astype(np.float64),
        T=np.where(bought, end_day - first, np.nan).astype(np.float64),
        monetary_value=monetary,
        bought=bought,
    )
