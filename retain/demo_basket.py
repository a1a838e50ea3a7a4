"""A synthetic retail order-line log with planted product-level churn drivers.

Customers buy baskets of products from a catalogue of categories, with an online-retail export's
own column names (``Invoice No``, ``StockCode``, ``Description``, ``Customer ID`` as a float, ...).
Two drivers of leaving live in *what* customers buy, not in when or how much:

- ``Candles`` is discontinued on ``DISCONTINUED_DAY``: customers whose favourite category it is
  leave at ``DISCONTINUED_HAZARD`` times the base rate from that day on;
- customers who repeat-buy a consumable (``TEA REFILL``, in most of their orders) leave at
  ``CONSUMABLE_HAZARD`` times the base rate.

Purchase rates and order values are drawn the same way for every group, so purchase timing
(what BG/NBD reads) tells the groups apart only after the fact. Used by the product-feature
tests and ``experiments/eval_basket.py``; everything is drawn from one seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")
SPAN_DAYS = 730
DISCONTINUED_DAY = 430
"""Day (after ``START``) from which Candles are no longer sold."""
BASE_HAZARD = 1 / 200
"""Daily probability of leaving for a customer without a planted driver."""
DISCONTINUED_HAZARD = 5.0
CONSUMABLE_HAZARD = 0.1
CATEGORIES = ("Candles", "Tea", "Stationery", "Garden", "Toys", "Kitchen")
FAVOURITE_WEIGHTS = (0.25, 0.15, 0.15, 0.15, 0.15, 0.15)
PRODUCTS_PER_CATEGORY = 200
REFILL = ("T-REFILL", "TEA REFILL")
COUNTRIES = ("United Kingdom", "France", "Germany", "EIRE", "Spain")
COUNTRY_WEIGHTS = (0.7, 0.1, 0.1, 0.05, 0.05)
RETURN_RATE = 0.03

COLUMNS = {
    "customer_id": "Customer ID",
    "timestamp": "Invoice Date",
    "amount": ["Quantity", "Unit Price"],
    "quantity": "Quantity",
    "order_id": "Invoice No",
    "product_id": "StockCode",
    "description": "Description",
    "category": "Category",
    "country": "Country",
}
"""``data.transactions.columns`` of the log (what ``retain init`` proposes for it)."""


@dataclass(frozen=True)
class BasketLog:
    """The order lines (export columns) and each customer's planted truth."""

    lines: pd.DataFrame
    truth: pd.DataFrame


def basket_log(customers: int = 3000, seed: int = 7, *, planted: bool = True) -> BasketLog:
    """An order-line log of ``customers`` customers over two years; ``planted=False`` gives
    every customer the base hazard (the same purchases, no product-level driver): a control."""
    rng = np.random.default_rng(seed)
    n = customers
    acquired = rng.uniform(0, SPAN_DAYS * 0.8, size=n)
    rate = rng.gamma(4.0, 1 / 60, size=n)  # orders per day: one every 15 days on average
    favourite = rng.choice(len(CATEGORIES), size=n, p=FAVOURITE_WEIGHTS)
    never_sold = (favourite == 0) & (acquired >= DISCONTINUED_DAY)  # arrived after Candles went
    favourite[never_sold] = rng.integers(1, len(CATEGORIES), size=int(never_sold.sum()))
    consumable = rng.random(n) < 0.35
    death = _death_days(acquired, (favourite == 0) & planted, consumable & planted, rng)
    end = np.minimum(death, SPAN_DAYS)
    extra = rng.poisson(rate * np.maximum(end - acquired, 0))
    owner = np.r_[np.arange(n), np.repeat(np.arange(n), extra)]
    day = np.r_[
        acquired, acquired[owner[n:]] + rng.random(extra.sum()) * (end - acquired)[owner[n:]]
    ]
    order = np.argsort(day, kind="stable")
    owner, day = owner[order], day[order]
    lines = _order_lines(owner, day, favourite, consumable, rng)
    lines = pd.concat([lines, _returns(lines, rng)], ignore_index=True)
    lines = lines.sort_values(["day", "Invoice No"], kind="stable", ignore_index=True)
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS)
    owners = lines.pop("owner").to_numpy()
    stamp = START + pd.to_timedelta(lines.pop("day").to_numpy(), unit="D")
    export = pd.DataFrame(
        {
            "Invoice No": lines["Invoice No"],
            "StockCode": lines["StockCode"],
            "Description": lines["Description"],
            "Quantity": lines["Quantity"],
            "Invoice Date": stamp.floor("min").strftime("%Y-%m-%d %H:%M"),
            "Unit Price": lines["Unit Price"],
            "Customer ID": (12000 + owners).astype(float),
            "Country": np.asarray(COUNTRIES)[country[owners]],
            "Category": lines["Category"],
        }
    )
    truth = pd.DataFrame(
        {
            "customer_id": [str(12000 + i) for i in range(n)],
            "favourite": np.asarray(CATEGORIES)[favourite],
            "consumable": consumable,
            "death_day": death,
            "purchase_rate": rate,
        }
    )
    return BasketLog(export, truth)


def write_basket_log(
    folder: Path, customers: int = 3000, seed: int = 7, *, planted: bool = True
) -> Path:
    """The log as ``folder/transactions.csv`` (written whole, then renamed); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "transactions.csv"
    partial = path.with_suffix(".csv.partial")
    basket_log(customers, seed, planted=planted).lines.to_csv(partial, index=False)
    partial.replace(path)
    return path


def _death_days(
    acquired: np.ndarray, candles: np.ndarray, consumable: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """When each customer leaves: a piecewise-constant hazard from acquisition, raised for
    Candles lovers from the discontinuation day, lowered for consumable buyers."""
    base = BASE_HAZARD * np.where(consumable, CONSUMABLE_HAZARD, 1.0)
    after = base * np.where(candles, DISCONTINUED_HAZARD, 1.0)
    budget = rng.exponential(1.0, size=len(acquired))
    before = np.maximum(DISCONTINUED_DAY - acquired, 0.0)  # days lived before the change
    early = budget < base * before
    late_start = np.maximum(acquired, DISCONTINUED_DAY)
    return np.where(
        early,
        acquired + budget / base,
        late_start + (budget - base * before) / after,
    )


def _order_lines(
    owner: np.ndarray,
    day: np.ndarray,
    favourite: np.ndarray,
    consumable: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """1 + Poisson(1.5) product draws per order, most in the favourite category (no Candles after
    the discontinuation day), a refill in 80% of a consumable buyer's orders; draws of the same
    product in one order are one line."""
    orders = len(owner)
    per_order = 1 + rng.poisson(1.5, size=orders)
    idx = np.repeat(np.arange(orders), per_order)
    category = np.where(
        rng.random(idx.size) < 0.7,
        favourite[owner[idx]],
        rng.integers(0, len(CATEGORIES), size=idx.size),
    )
    gone = (category == 0) & (day[idx] >= DISCONTINUED_DAY)
    category[gone] = rng.integers(1, len(CATEGORIES), size=int(gone.sum()))
    product = rng.integers(0, PRODUCTS_PER_CATEGORY, size=idx.size)  # few repeats by chance
    code = np.char.add(
        np.char.add(np.asarray([c[:3].upper() for c in CATEGORIES])[category], "-"),
        np.char.zfill(product.astype(str), 3),
    )
    description = np.char.add(
        np.char.add(np.asarray([c.upper() for c in CATEGORIES])[category], " ITEM "),
        product.astype(str),
    )
    # the refill takes the place of an order's first line: baskets keep their size
    refill = consumable[owner] & (rng.random(orders) < 0.8)
    first = np.r_[0, np.cumsum(per_order)[:-1]][refill]
    code[first] = REFILL[0]
    description[first] = REFILL[1]
    category[first] = 1
    lines = pd.DataFrame({"order": idx, "code": code, "quantity": 1 + rng.poisson(1.0, idx.size)})
    # one line per product of an order, as an export lists it (no two identical lines)
    lines["description"], lines["category"] = description, category
    lines = lines.groupby(["order", "code"], sort=True, as_index=False).agg(
        quantity=("quantity", "sum"),
        description=("description", "first"),
        category=("category", "first"),
    )
    idx, code = lines["order"].to_numpy(), lines["code"].to_numpy().astype(str)
    codes, which = np.unique(code, return_inverse=True)
    # prices drawn alike for every category, the refill's in the middle: order values do not
    # give a driver away
    unit = np.round(rng.uniform(3.0, 23.0, size=len(codes)), 2)
    unit[codes == REFILL[0]] = 13.0
    price = unit[which]
    return pd.DataFrame(
        {
            "owner": owner[idx],
            "day": day[idx],
            "Invoice No": np.char.add("5", np.char.zfill(idx.astype(str), 6)),
            "StockCode": code,
            "Description": lines["description"].to_numpy(),
            "Quantity": lines["quantity"].to_numpy(),
            "Unit Price": price,
            "Category": np.asarray(CATEGORIES)[lines["category"].to_numpy()],
        }
    )


def _returns(lines: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """About ``RETURN_RATE`` of the lines sent back 3 to 20 days later, on a C invoice."""
    back = lines.loc[rng.random(len(lines)) < RETURN_RATE].copy()
    back["day"] = back["day"] + rng.uniform(3, 20, size=len(back))
    back = back.loc[back["day"] < SPAN_DAYS]
    back["Invoice No"] = "C" + back["Invoice No"]
    back["Quantity"] = -back["Quantity"]
    return back
