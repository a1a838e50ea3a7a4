"""Transaction feature families (btyd, rfm, activity, gaps, basket) at one cutoff.

Every function takes a ``PastTransactions`` (the rows on or before the cutoff day, already reduced
to purchase days and orders) and returns full-length arrays indexed by customer code. Definitions
live in ``features/catalogue.py``; purchases are rows that are not returns (returns have a
negative amount or quantity), so zero-value purchases still count, as in CDNOW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.btyd import summary_arrays
from features.catalogue import SEASON_WINDOW, TREND_WINDOWS, WINDOWS
from features.prepare import NEVER, Transactions

Columns = dict[str, np.ndarray]


def _count(codes: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=n).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, empty (NaN) where den is not positive."""
    out = np.full(num.shape, np.nan)
    ok = den > 0
    np.divide(num, den, out=out, where=ok)
    return out


@dataclass(frozen=True)
class PastTransactions:
    """Transactions on or before the cutoff day, with purchase days and orders precomputed."""

    cutoff: int
    n: int
    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    is_return: np.ndarray
    quantity: np.ndarray
    product: np.ndarray
    category: np.ndarray
    country: np.ndarray
    category_names: np.ndarray
    country_names: np.ndarray
    # one row per (customer, purchase day), sorted by customer then day
    pday_customer: np.ndarray
    pday_day: np.ndarray
    pday_spend: np.ndarray
    # orders with a purchase line on or before the cutoff
    order_customer: np.ndarray
    order_day: np.ndarray

    @classmethod
    def at(cls, tx: Transactions, cutoff: int, n: int) -> PastTransactions:
        """Select rows with day <= cutoff and reduce them to purchase days and orders."""
        past = tx.day <= cutoff
        customer, day, amount = tx.customer[past], tx.day[past], tx.amount[past]
        is_return = tx.is_return[past]
        bought = ~is_return
        b_customer, b_day, b_amount = customer[bought], day[bought], amount[bought]
        starts = (
            np.flatnonzero(
                np.r_[True, (b_customer[1:] != b_customer[:-1]) | (b_day[1:] != b_day[:-1])]
            )
            if len(b_day)
            else np.zeros(0, dtype=np.int64)
        )
        placed = tx.order_first_day <= cutoff
        return cls(
            cutoff=cutoff,
            n=n,
            customer=customer,
            day=day,
            amount=amount,
            is_return=is_return,
            quantity=tx.quantity[past],
            product=tx.product[past],
            category=tx.category[past],
            country=tx.country[past],
            category_names=tx.category_names,
            country_names=tx.country_names,
            pday_customer=b_customer[starts],
            pday_day=b_day[starts],
            pday_spend=np.add.reduceat(b_amount, starts) if len(starts) else np.zeros(0),
            order_customer=tx.order_customer[placed],
            order_day=tx.order_first_day[placed],
        )

    def purchase_day_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per customer: number of purchase days, first and last purchase day (NEVER if none)."""
        count = np.bincount(self.pday_customer, minlength=self.n)
        first = np.full(self.n, NEVER, dtype=np.int64)
        last = np.full(self.n, NEVER, dtype=np.int64)
        c = self.pday_customer
        if len(c):
            is_first = np.r_[True, c[1:] != c[:-1]]
            is_last = np.r_[c[1:] != c[:-1], True]
            first[c[is_first]] = self.pday_day[is_first]
            last[c[is_last]] = self.pday_day[is_last]
        return count, first, last


def _since(day: np.ndarray, cutoff: int) -> np.ndarray:
    return np.where(day == NEVER, np.nan, cutoff - day).astype(np.float64)


def btyd_family(p: PastTransactions) -> Columns:
    """frequency, recency, T and monetary value exactly as lifetimes' summary (days, D periods).

    One implementation with the benchmark's lifetimes-style ``summary``: both call
    ``summary_arrays``, here on the rows of distinct purchase days already at hand.
    """
    summary = summary_arrays(p.pday_customer, p.pday_day, p.pday_spend, p.n, p.cutoff)
    return {
        "btyd_frequency": summary.frequency,
        "btyd_recency": summary.recency,
        "btyd_T": summary.T,
        "btyd_monetary_value": summary.monetary_value,
    }


def rfm_family(p: PastTransactions) -> Columns:
    """Days since the last purchase, orders, net spend and average order value."""
    _, _, last = p.purchase_day_bounds()
    orders = _count(p.order_customer, p.n)
    gross = _count(p.customer[~p.is_return], p.n, p.amount[~p.is_return])
    return {
        "days_since_last_purchase": _since(last, p.cutoff),
        "orders_total": orders,
        "spend_total": _count(p.customer, p.n, p.amount),
        "avg_order_value": _ratio(gross, orders),
    }


def activity_family(p: PastTransactions) -> Columns:
    """Orders, net spend and active days per window, and recent-to-previous window trends."""
    out: Columns = {}

    def in_window(day: np.ndarray, newest: int, length: int) -> np.ndarray:
        return (day > newest - length) & (day <= newest)

    for w in WINDOWS:
        rows = in_window(p.day, p.cutoff, w)
        out[f"orders_{w}d"] = _count(p.order_customer[in_window(p.order_day, p.cutoff, w)], p.n)
        out[f"spend_{w}d"] = _count(p.customer[rows], p.n, p.amount[rows])
        out[f"active_days_{w}d"] = _count(p.pday_customer[in_window(p.pday_day, p.cutoff, w)], p.n)
    for w in TREND_WINDOWS:
        before = p.cutoff - w
        rows = in_window(p.day, before, w)
        orders_before = _count(p.order_customer[in_window(p.order_day, before, w)], p.n)
        spend_before = _count(p.customer[rows], p.n, p.amount[rows])
        out[f"orders_trend_{w}d"] = _ratio(out[f"orders_{w}d"], orders_before)
        out[f"spend_trend_{w}d"] = _ratio(out[f"spend_{w}d"], spend_before)
    return {
        name: out[name]
        for name in [f"{k}_{w}d" for w in WINDOWS for k in ("orders", "spend", "active_days")]
        + [f"{k}_trend_{w}d" for w in TREND_WINDOWS for k in ("orders", "spend")]
    }


def gaps_family(p: PastTransactions) -> Columns:
    """Mean, spread and last gap between purchase days, and the overdue ratio."""
    _, _, last = p.purchase_day_bounds()
    c, d = p.pday_customer, p.pday_day
    same = c[1:] == c[:-1]
    gap = (d[1:] - d[:-1]).astype(np.float64)[same]
    owner = c[1:][same]
    n_gaps = _count(owner, p.n)
    total = _count(owner, p.n, gap)
    squares = _count(owner, p.n, gap * gap)
    mean = _ratio(total, n_gaps)
    variance = np.maximum(_ratio(squares, n_gaps) - mean * mean, 0.0)
    std = np.where(n_gaps >= 2, np.sqrt(variance), np.nan)
    last_gap = np.full(p.n, np.nan)
    if len(owner):
        is_last = np.r_[owner[1:] != owner[:-1], True]
        last_gap[owner[is_last]] = gap[is_last]
    return {
        "gap_mean_days": mean,
        "gap_std_days": std,
        "gap_last_days": last_gap,
        "overdue_ratio": _ratio(_since(last, p.cutoff), mean),
    }


def basket_family(p: PastTransactions) -> Columns:
    """Items per order, product and category diversity, and the share of returns."""
    bought = ~p.is_return
    orders = _count(p.order_customer, p.n)
    lines = _count(p.customer, p.n)
    gross = _count(p.customer[bought], p.n, p.amount[bought])
    returned = 0.0 - _count(p.customer[p.is_return], p.n, p.amount[p.is_return])
    return {
        "items_per_order": _ratio(_count(p.customer[bought], p.n, p.quantity[bought]), orders),
        "distinct_products": _distinct(p.customer[bought], p.product[bought], p.n),
        "distinct_categories": _distinct(p.customer[bought], p.category[bought], p.n),
        "return_rows_share": _ratio(_count(p.customer[p.is_return], p.n), lines),
        "return_value_share": _ratio(returned, gross),
    }


def _distinct(customer: np.ndarray, item: np.ndarray, n: int) -> np.ndarray:
    """Distinct known items per customer; NaN for a customer without any known item.

    Decided per customer, never by whether other customers or later rows have the column, so a
    customer's value is the same in a whole base, alone in a request, and at every later date.
    """
    known = item >= 0
    width = int(item.max(initial=0)) + 1
    pairs = np.unique(customer[known] * width + item[known])
    counts = _count(pairs // width, n)
    return np.where(counts > 0, counts, np.nan)


WEEKS_PER_YEAR = 52.1775
YEAR_DAYS = 365


def season_family(p: PastTransactions) -> Columns:
    """The cutoff's week of the year on a circle, and orders and net spend a year earlier.

    The year-ago window is ``(cutoff - 365, cutoff - 365 + SEASON_WINDOW]``, entirely before the
    cutoff, so nothing after the cutoff is read. A customer whose first purchase falls after the
    window's start (less than a year of history) gets empty values, not zeros: "no history" is
    not "bought nothing last year". Decided per customer, so a request and a batch agree.
    """
    week = np.datetime64(p.cutoff, "D").astype(object).isocalendar()[1]
    angle = 2.0 * np.pi * week / WEEKS_PER_YEAR
    start = p.cutoff - YEAR_DAYS
    end = start + SEASON_WINDOW
    _, first, _ = p.purchase_day_bounds()
    known = first <= start
    rows = (p.day > start) & (p.day <= end)
    placed = (p.order_day > start) & (p.order_day <= end)
    orders = _count(p.order_customer[placed], p.n)
    spend = _count(p.customer[rows], p.n, p.amount[rows])
    return {
        "cutoff_week_sin": np.full(p.n, np.sin(angle)),
        "cutoff_week_cos": np.full(p.n, np.cos(angle)),
        f"orders_year_ago_{SEASON_WINDOW}d": np.where(known, orders, np.nan),
        f"spend_year_ago_{SEASON_WINDOW}d": np.where(known, spend, np.nan),
    }


TRANSACTION_FAMILIES = {
    "btyd": btyd_family,
    "rfm": rfm_family,
    "activity": activity_family,
    "gaps": gaps_family,
    "basket": basket_family,
    "season": season_family,
}
