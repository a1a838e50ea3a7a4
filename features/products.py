"""Product, category and country feature families of an order-line log, at one cutoff.

What a customer buys, not only when and how much: how many lines an order has and whether
baskets shrink, which products come back (repeat purchases of a consumable), which are returned,
where spend concentrates and where the customer orders from. Each function takes a
``PastTransactions`` (rows on or before the cutoff day only) and returns full-length arrays by
customer code, with groupby-style numpy passes (no loop over customers). Definitions live in
``features/catalogue.py``; a value a customer's own lines cannot give (no product id, no
category) is empty, decided per customer so a request and a batch agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import BASKET_TREND_WINDOW
from features.history import Columns, PastTransactions, _count, _ratio

Mixed = dict[str, np.ndarray | pd.Series]
"""Columns of a family with a text feature (a Series of names by customer code)."""


def products_family(p: PastTransactions) -> Columns:
    """Lines per order, basket-size trend, repeat purchases of a product, returns by product."""
    bought = ~p.is_return
    orders = _count(p.order_customer, p.n)
    known = p.product >= 0
    width = int(p.product.max(initial=0)) + 1  # one key per (customer, product) for both sets
    pairs = _distinct(p.customer[bought & known] * width + p.product[bought & known])
    returned = _distinct(p.customer[p.is_return & known] * width + p.product[p.is_return & known])
    owner = pairs // width
    products = _count(owner, p.n)
    gaps, gap_owner = _first_repeat_gaps(p, bought & known)
    return {
        "lines_per_order": _ratio(_count(p.customer[bought], p.n), orders),
        f"items_per_order_trend_{BASKET_TREND_WINDOW}d": _basket_trend(p, BASKET_TREND_WINDOW),
        "repeat_product_share": _ratio(_count(gap_owner, p.n), products),
        "product_repeat_days_median": _group_median(gap_owner, gaps, p.n),
        "product_return_share": _ratio(_count(owner[np.isin(pairs, returned)], p.n), products),
    }


def categories_family(p: PastTransactions) -> Mixed:
    """The category the customer spent most on (ties: the first by name) and its share."""
    rows = ~p.is_return & (p.category >= 0)
    customer, category, amount = p.customer[rows], p.category[rows], p.amount[rows]
    width = int(p.category.max(initial=0)) + 1
    keys = customer * width + category
    pairs = _distinct(keys)
    inverse = np.searchsorted(pairs, keys)
    spend = np.bincount(inverse, weights=amount, minlength=len(pairs))
    owner, code = pairs // width, pairs % width
    ranked = np.lexsort((code, -spend, owner))
    owner, code, spend = owner[ranked], code[ranked], spend[ranked]
    top = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, dtype=bool)
    name = np.full(p.n, None, dtype=object)
    name[owner[top]] = p.category_names[code[top]]
    top_spend = np.full(p.n, np.nan)
    top_spend[owner[top]] = spend[top]
    return {
        "top_category": pd.Series(name, dtype=object),
        "top_category_spend_share": _ratio(top_spend, _count(customer, p.n, amount)),
    }


def country_family(p: PastTransactions) -> Mixed:
    """The country of the customer's latest line that names one (rows are in time order)."""
    rows = p.country >= 0
    customer, country = p.customer[rows], p.country[rows]
    name = np.full(p.n, None, dtype=object)
    if len(customer):
        last = np.r_[customer[1:] != customer[:-1], True]
        name[customer[last]] = p.country_names[country[last]]
    return {"country": pd.Series(name, dtype=object)}


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values of integer ``keys``: a sort and a neighbour comparison, several
    times faster than ``np.unique``'s hash path on the million-row key arrays here."""
    ordered = np.sort(keys)
    if not len(ordered):
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def _first_repeat_gaps(p: PastTransactions, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (customer, product) bought on two or more days: days from its first purchase day to
    its second, and the customer; sorted by customer."""
    width = int(p.product.max(initial=0)) + 1
    key, day = p.customer[rows] * width + p.product[rows], p.day[rows]
    order = np.lexsort((day, key))
    key, day = key[order], day[order]
    if len(key):
        distinct = np.r_[True, (key[1:] != key[:-1]) | (day[1:] != day[:-1])]
        key, day = key[distinct], day[distinct]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    repeated = first[:-1] & (key[1:] == key[:-1])
    starts = np.flatnonzero(repeated)
    return (day[starts + 1] - day[starts]).astype(np.float64), key[starts] // width


def _group_median(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per owner code (``owner`` sorted); NaN for an owner without any."""
    out = np.full(n, np.nan)
    if not len(owner):
        return out
    order = np.lexsort((values, owner))
    owner, values = owner[order], values[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    sizes = np.diff(np.r_[starts, len(owner)])
    low, high = values[starts + (sizes - 1) // 2], values[starts + sizes // 2]
    out[owner[starts]] = (low + high) / 2.0
    return out


def _basket_trend(p: PastTransactions, window: int) -> np.ndarray:
    """Items per order in the last ``window`` days divided by those of the window before."""
    bought = ~p.is_return
    sizes = []
    for newest in (p.cutoff, p.cutoff - window):
        lines = bought & (p.day > newest - window) & (p.day <= newest)
        placed = (p.order_day > newest - window) & (p.order_day <= newest)
        items = _count(p.customer[lines], p.n, p.quantity[lines])
        sizes.append(_ratio(items, _count(p.order_customer[placed], p.n)))
    now, before = sizes
    return _ratio(now, before)  # empty when either window has no order


PRODUCT_FAMILIES = {
    "products": products_family,
    "categories": categories_family,
    "country": country_family,
}
