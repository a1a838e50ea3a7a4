"""Canonical tables turned once into integer arrays, so every cutoff is a few vectorised passes.

Customers get integer codes (their position in the sorted id list), timestamps become day numbers
(days since 1970-01-01, in the business time zone), and rows are sorted by customer then time.
Per-customer aggregates are then ``np.bincount`` and ``np.add.reduceat`` calls: no Python loop over
customers, and the same arrays serve every cutoff of a training snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import DataValidationError
from core.schema import (
    AMOUNT,
    CATEGORY,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    END_DATE,
    INTERACTION_TYPE,
    MONTHLY_AMOUNT,
    ORDER_ID,
    PLAN,
    PRODUCT_ID,
    QUANTITY,
    SCORE,
    SIGNUP_DATE,
    START_DATE,
    TIMESTAMP,
)
from features.loading import CustomerData

PRODUCT_COLUMNS = (PRODUCT_ID, DESCRIPTION, CATEGORY, COUNTRY)
"""Optional transaction columns the product feature families need (``Family.needs``)."""

NEVER = np.iinfo(np.int64).max // 4
"""Day number standing for 'not yet' (no signup date, a subscription still running)."""


def day_number(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Whole days since 1970-01-01 of naive timestamps; NaT becomes ``NEVER``."""
    arr = np.asarray(values, dtype="datetime64[ns]")
    days = arr.astype("datetime64[D]").astype(np.int64)
    return np.where(np.isnat(arr), NEVER, days)


def to_day(value: pd.Timestamp | str) -> int:
    """The day number of one date; a date with a UTC offset counts as the date it shows."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)  # not its UTC date, which may be the day before or after
    return int(np.datetime64(stamp.normalize().to_datetime64(), "D").astype(np.int64))


def from_day(day: int) -> pd.Timestamp:
    """The date of a day number."""
    return pd.Timestamp(np.datetime64(int(day), "D"))


@dataclass(frozen=True)
class Transactions:
    """Transaction rows sorted by (customer, timestamp); orders are coded per customer."""

    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    quantity: np.ndarray
    is_return: np.ndarray
    order: np.ndarray
    product: np.ndarray
    category: np.ndarray
    country: np.ndarray
    category_names: np.ndarray
    """Category of each code (codes number the names in sorted order)."""
    country_names: np.ndarray
    order_customer: np.ndarray
    order_first_day: np.ndarray

    @property
    def n_products(self) -> int:
        return int(self.product.max(initial=-1)) + 1

    @property
    def n_categories(self) -> int:
        return int(self.category.max(initial=-1)) + 1


@dataclass(frozen=True)
class Subscriptions:
    """Subscription rows sorted by (customer, start)."""

    customer: np.ndarray
    start_day: np.ndarray
    end_day: np.ndarray
    plan: np.ndarray
    monthly_amount: np.ndarray


@dataclass(frozen=True)
class Interactions:
    """Interaction rows sorted by (customer, timestamp); kind 0 = ticket, 1 = nps, 2 = csat."""

    customer: np.ndarray
    day: np.ndarray
    kind: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class PreparedData:
    """Every table of one business as arrays over a shared customer coding."""

    ids: np.ndarray
    transactions: Transactions
    signup_day: np.ndarray | None
    attributes: pd.DataFrame | None
    subscriptions: Subscriptions | None
    interactions: Interactions | None
    first_day: np.ndarray
    start_day: int
    end_day: int
    filled: frozenset[str] | None = None
    """Which ``PRODUCT_COLUMNS`` carry a value somewhere in the data, when these arrays hold only
    part of it (a Dask partition standing for the whole); else read from the arrays."""

    @property
    def filled_columns(self) -> frozenset[str]:
        """The ``PRODUCT_COLUMNS`` with a value on some transaction row."""
        if self.filled is not None:
            return self.filled
        t = self.transactions
        codes = {PRODUCT_ID: t.product, CATEGORY: t.category, COUNTRY: t.country}
        return frozenset(c for c, v in codes.items() if (v >= 0).any())

    @property
    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last day with any event in any table."""
        return from_day(self.start_day), from_day(self.end_day)

    @property
    def n_customers(self) -> int:
        return len(self.ids)

    def existing_at(self, day: int) -> np.ndarray:
        """Codes of customers known by the end of ``day``: a first event or signup on or before it."""
        return np.flatnonzero(self.first_day <= day)


def prepare(data: CustomerData) -> PreparedData:
    """Code customers and convert every table to sorted arrays (done once per data set)."""
    ids, (tx_code, customers_code, subscriptions_code, interactions_code) = _customer_codes(
        [data.transactions, data.customers, data.subscriptions, data.interactions]
    )
    tx = _transactions(data.transactions, tx_code, len(ids))
    first = np.full(len(ids), NEVER, dtype=np.int64)
    _min_into(first, tx.customer, tx.day, presorted=True)

    signup_day = attributes = None
    if data.customers is not None:
        c = data.customers
        code = customers_code
        signup_day = np.full(len(ids), NEVER, dtype=np.int64)
        signup_day[code] = day_number(c[SIGNUP_DATE])
        first = np.minimum(first, signup_day)
        extra = [col for col in c.columns if col not in (CUSTOMER_ID, SIGNUP_DATE)]
        attributes = c[extra].set_axis(code, axis=0).reindex(np.arange(len(ids)))

    subs = None
    if data.subscriptions is not None:
        s = data.subscriptions
        code = subscriptions_code
        start = day_number(s[START_DATE])
        order = np.lexsort((start, code))
        subs = Subscriptions(
            customer=code[order],
            start_day=start[order],
            end_day=day_number(s[END_DATE])[order],
            plan=s[PLAN].astype("str").to_numpy()[order],
            monthly_amount=s[MONTHLY_AMOUNT].to_numpy(dtype=np.float64)[order],
        )
        _min_into(first, subs.customer, subs.start_day)

    inter = None
    if data.interactions is not None:
        i = data.interactions
        code = interactions_code
        stamp = i[TIMESTAMP].to_numpy(dtype="datetime64[ns]")
        order = np.lexsort((stamp, code))
        kind = i[INTERACTION_TYPE].map({"ticket": 0, "nps": 1, "csat": 2}).to_numpy(dtype=np.int64)
        inter = Interactions(
            customer=code[order],
            day=day_number(i[TIMESTAMP])[order],
            kind=kind[order],
            score=i[SCORE].to_numpy(dtype=np.float64)[order],
        )
        _min_into(first, inter.customer, inter.day, presorted=True)
    days = [tx.day]
    if subs is not None:
        days += [subs.start_day, subs.end_day[subs.end_day < NEVER]]
    if inter is not None:
        days.append(inter.day)
    all_days = np.concatenate(days)
    if not len(all_days):
        raise DataValidationError("the data has no events: the transactions table is empty")
    return PreparedData(
        ids,
        tx,
        signup_day,
        attributes,
        subs,
        inter,
        first,
        int(all_days.min()),
        int(all_days.max()),
    )


TABLE_NAMES = ("transactions", "customers", "subscriptions", "interactions")


def _customer_codes(
    tables: list[pd.DataFrame | None],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted ids over all tables and, per table, each row's position in them (empty if absent).

    Each id column is factorized on its own (a hash pass, fast on Arrow strings); only the distinct
    ids are sorted and matched, never the full columns as Python objects.
    """
    factorized = [
        pd.factorize(_as_text(t[CUSTOMER_ID])) if t is not None else (np.empty(0, np.int64), [])
        for t in tables
    ]
    for name, (codes, _) in zip(TABLE_NAMES, factorized, strict=True):
        if (codes < 0).any():  # the loaders exclude these; a hand-built CustomerData may not
            raise DataValidationError(
                f"{int((codes < 0).sum())} rows of the {name} table have no {CUSTOMER_ID}"
            )
    distinct = pd.unique(np.concatenate([np.asarray(u, dtype=object) for _, u in factorized]))
    ids = np.sort(distinct.astype(object))
    index = pd.Index(ids)
    return ids, [
        index.get_indexer(pd.Index(u, dtype=object)).astype(np.int64)[c] for c, u in factorized
    ]


def _as_text(values: pd.Series) -> pd.Series:
    return values if isinstance(values.dtype, pd.StringDtype) else values.astype("str")


def _min_into(
    target: np.ndarray,
    codes: np.ndarray,
    values: np.ndarray,
    *,
    presorted: bool = False,
    stable_by_code: bool = False,
) -> None:
    """Lower ``target[c]`` to the smallest value of code ``c``.

    ``presorted``: rows are sorted by code, then value. ``stable_by_code``: the values of each code
    already appear in increasing order, so a stable sort by code alone suffices.
    """
    if len(codes) == 0:
        return
    if stable_by_code:
        order = np.argsort(codes, kind="stable")
        codes, values = codes[order], values[order]
    elif not presorted:
        order = np.lexsort((values, codes))
        codes, values = codes[order], values[order]
    first = np.r_[True, codes[1:] != codes[:-1]]
    target[codes[first]] = np.minimum(target[codes[first]], values[first])


def _transactions(tx: pd.DataFrame, code: np.ndarray, n_customers: int) -> Transactions:
    stamp = tx[TIMESTAMP].to_numpy(dtype="datetime64[ns]")
    order = np.lexsort((stamp, code))
    code = code[order]
    stamp = stamp[order]
    day = stamp.astype("datetime64[D]").astype(np.int64)
    amount = tx[AMOUNT].to_numpy(dtype=np.float64)[order]
    quantity = tx[QUANTITY].to_numpy(dtype=np.float64, na_value=np.nan)[order]
    is_return = (amount < 0) | (quantity < 0)
    quantity = np.where(np.isnan(quantity), 1.0, quantity)
    order_code = _order_codes(tx[ORDER_ID], order, code, stamp)
    n_orders = int(order_code.max(initial=-1)) + 1
    order_customer = np.zeros(n_orders, dtype=np.int64)
    order_customer[order_code] = code
    order_first_day = np.full(n_orders, NEVER, dtype=np.int64)
    bought = ~is_return
    # rows are in time order per customer and an order has one customer: a stable sort by order
    # code (near-sorted already, so cheap) puts each order's earliest purchase row first
    _min_into(order_first_day, order_code[bought], day[bought], stable_by_code=True)
    # a line without a product_id is identified by its description, if it has one
    product, _ = _optional_codes(
        _optional(tx, PRODUCT_ID).fillna(_optional(tx, DESCRIPTION)), order
    )
    category, category_names = _optional_codes(_optional(tx, CATEGORY), order)
    country, country_names = _optional_codes(_optional(tx, COUNTRY), order)
    return Transactions(
        customer=code,
        day=day,
        amount=amount,
        quantity=quantity,
        is_return=is_return,
        order=order_code,
        product=product,
        category=category,
        country=country,
        category_names=category_names,
        country_names=country_names,
        order_customer=order_customer,
        order_first_day=order_first_day,
    )


def _order_codes(
    order_id: pd.Series, order: np.ndarray, code: np.ndarray, stamp: np.ndarray
) -> np.ndarray:
    """One code per (customer, order_id); rows without an order_id: per (customer, timestamp).

    Rows arrive sorted by (customer, timestamp), so the rows of one id-less order are adjacent.
    """
    oid = pd.factorize(order_id)[0].astype(np.int64)[order]
    has_oid = oid >= 0
    key = code * (int(oid.max(initial=0)) + 1) + oid  # >= 0 where the row has an order_id
    if not has_oid.all():
        c, t = code[~has_oid], stamp[~has_oid]
        new_order = np.r_[True, (c[1:] != c[:-1]) | (t[1:] != t[:-1])]
        key[~has_oid] = -np.cumsum(new_order)  # negative: never equal to a key with an order_id
    return pd.factorize(key)[0].astype(np.int64)


def _optional(tx: pd.DataFrame, column: str) -> pd.Series:
    """An optional text column; all empty when a hand-built table (a benchmark's Parquet of the
    canonical columns of an earlier version) lacks it."""
    return tx[column] if column in tx else pd.Series(pd.NA, index=tx.index, dtype="str")


def _optional_codes(values: pd.Series, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of an optional text column in row order (-1 where it is empty) and the value of
    each code. Codes follow the values' sorted order, so a tie broken by the smaller code is
    broken by name: the same in a whole base, a partition of it, or one customer's request."""
    codes, names = pd.factorize(values, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64)[order], np.asarray(names, dtype=object)
