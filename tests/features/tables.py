"""Small builders shared by the features tests: canonical tables from literal rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from core.schema import CUSTOMERS, INTERACTIONS, SUBSCRIPTIONS, TRANSACTIONS, TableSpec
from core.sources import TableSource
from features.loading import CustomerData, validate_table


def clean(spec: TableSpec, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A canonical table through the real loader; fails the test if any row is excluded."""
    frame, report = validate_table(pd.DataFrame(rows), spec)
    assert report.rows_kept == report.rows_read, report.lines()
    return frame


def tx(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """Transactions from (customer_id, timestamp, amount[, order_id, quantity, product, category])."""
    names = ["customer_id", "timestamp", "amount", "order_id", "quantity", "product_id", "category"]
    width = max(len(r) for r in rows)
    records = [dict(zip(names[:width], r, strict=False)) for r in rows]
    return clean(TRANSACTIONS, records)


def customers(*rows: dict[str, Any]) -> pd.DataFrame:
    return clean(CUSTOMERS, list(rows))


def subscriptions(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """Subscriptions from (customer_id, start_date, end_date, plan, monthly_amount)."""
    names = ["customer_id", "start_date", "end_date", "plan", "monthly_amount"]
    return clean(SUBSCRIPTIONS, [dict(zip(names, r, strict=True)) for r in rows])


def interactions(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """Interactions from (customer_id, timestamp, type, score)."""
    names = ["customer_id", "timestamp", "type", "score"]
    return clean(INTERACTIONS, [dict(zip(names, r, strict=True)) for r in rows])


# ------------------------------------------------------------------------------------------------
# random small businesses for property tests
# ------------------------------------------------------------------------------------------------

DAY0 = pd.Timestamp("2021-01-01")
IDS = ("c0", "c1", "c2", "c3", "c4", "c5")


def stamp(day: int, hour: int = 0) -> str:
    """ISO text of ``hour`` o'clock, ``day`` days after 2021-01-01."""
    return (DAY0 + pd.Timedelta(days=day, hours=hour)).isoformat()


@st.composite
def tx_rows(draw: st.DrawFn, first: int, last: int, min_size: int = 0) -> list[dict[str, Any]]:
    """Transaction lines on days ``first..last``: purchases, zero-value lines and returns."""
    row = st.fixed_dictionaries(
        {
            "customer_id": st.sampled_from(IDS),
            "day": st.integers(first, last),
            "hour": st.integers(0, 23),
            "amount": st.sampled_from([-20.0, -5.0, 0.0, 5.0, 12.5, 40.0]),
            "order_id": st.sampled_from([None, "o1", "o2", "o3"]),
            "quantity": st.sampled_from([None, -1.0, 1.0, 3.0]),
            "product_id": st.sampled_from([None, "p1", "p2"]),
            "category": st.sampled_from([None, "k1", "k2"]),
        }
    )
    rows = draw(st.lists(row, min_size=min_size, max_size=12))
    return [
        {
            **{k: v for k, v in r.items() if k not in ("day", "hour")},
            "timestamp": stamp(r["day"], r["hour"]),
        }
        for r in rows
    ]


@st.composite
def interaction_rows(draw: st.DrawFn, first: int, last: int) -> list[dict[str, Any]]:
    """Tickets, NPS (0-10) and CSAT (1-5) answers on days ``first..last``."""
    row = st.tuples(
        st.sampled_from(IDS),
        st.integers(first, last),
        st.integers(0, 23),
        st.sampled_from(["ticket", "nps", "csat"]),
        st.integers(1, 5),
    )
    rows = draw(st.lists(row, max_size=8))
    return [
        {
            "customer_id": c,
            "timestamp": stamp(d, h),
            "type": t,
            "score": None if t == "ticket" else float(s * 2 if t == "nps" else s),
        }
        for c, d, h, t, s in rows
    ]


@st.composite
def subscription_rows(draw: st.DrawFn, first: int, last: int) -> list[dict[str, Any]]:
    """Subscription periods starting on days ``first..last``, ended or still running."""
    row = st.tuples(
        st.sampled_from(IDS),
        st.integers(first, last),
        st.one_of(st.none(), st.integers(0, 90)),
        st.sampled_from(["basic", "pro"]),
    )
    rows = draw(st.lists(row, max_size=6))
    return [
        {
            "customer_id": c,
            "start_date": stamp(s)[:10],
            "end_date": None if length is None else stamp(s + length)[:10],
            "plan": plan,
            "monthly_amount": 19.0 if plan == "basic" else 49.0,
        }
        for c, s, length, plan in rows
    ]


def customer_rows() -> list[dict[str, Any]]:
    """A customers table for half of the ids: signups, a text and a numeric attribute."""
    return [
        {"customer_id": "c0", "signup_date": stamp(5)[:10], "region": "north", "seats": 3.0},
        {"customer_id": "c2", "signup_date": None, "region": "south", "seats": None},
        {"customer_id": "c4", "signup_date": stamp(70)[:10], "region": None, "seats": 10.0},
    ]


def load_rows(
    spec: TableSpec, rows: list[dict[str, Any]], columns: list[str] | None = None
) -> pd.DataFrame:
    """A canonical table of drawn rows through the real loader, duplicates kept."""
    names = columns or [c.name for c in spec.columns]
    keep = TableSource(path=Path("random"), drop_duplicates=False)
    frame, report = validate_table(pd.DataFrame(rows, columns=names), spec, source=keep)
    assert report.rows_kept == report.rows_read, report.lines()
    return frame


def business(
    transactions: list[dict[str, Any]],
    subs: list[dict[str, Any]],
    inter: list[dict[str, Any]],
) -> CustomerData:
    """Canonical tables of drawn rows; every table present."""
    return CustomerData(
        transactions=load_rows(TRANSACTIONS, transactions),
        customers=load_rows(
            CUSTOMERS, customer_rows(), ["customer_id", "signup_date", "region", "seats"]
        ),
        subscriptions=load_rows(SUBSCRIPTIONS, subs),
        interactions=load_rows(INTERACTIONS, inter),
    )
