"""A planted change for the monitor's demo: a price rise that makes one segment buy less.

``plant_price_rise`` takes the demo retail log (``retain/demo_data.py``) and, from day ``start``
on, raises the prices one region pays by ``price_factor`` and drops a seeded share ``dropped`` of
its orders (the customers who leave or buy elsewhere); the untouched log is the quiet twin. The
monitor must flag the change within one scoring period after ``start``, name the features that
moved (the region's recent orders and spend), and raise no alarm on the twin
(``tests/retention/test_monitor_demo.py``, ``experiments/monitor_twins.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.schema import CUSTOMER_ID


@dataclass(frozen=True)
class PriceRise:
    """Where, when and how much: the planted change."""

    start: str
    region: str = "north"
    price_factor: float = 1.3
    dropped: float = 0.8
    seed: int = 0


def plant_price_rise(
    transactions: pd.DataFrame, customers: pd.DataFrame, change: PriceRise
) -> pd.DataFrame:
    """The log with ``change`` planted: the region's orders from ``change.start`` cost more and
    a share of them are gone (whole orders, every line of an order alike)."""
    region = set(customers.loc[customers["region"] == change.region, CUSTOMER_ID])
    when = pd.to_datetime(transactions["timestamp"])
    hit = (
        transactions[CUSTOMER_ID].isin(region).to_numpy()
        & (when >= pd.Timestamp(change.start)).to_numpy()
    )
    orders = transactions["order_id"].astype(str).to_numpy()
    unique = np.unique(orders[hit])
    rng = np.random.default_rng(change.seed)
    gone = set(unique[rng.random(len(unique)) < change.dropped])
    out = transactions.copy()
    out.loc[hit, "amount"] = out.loc[hit, "amount"] * change.price_factor
    keep = ~(hit & pd.Series(orders).isin(gone).to_numpy())
    return out.loc[keep].reset_index(drop=True)


def write_twins(source: Path, out: Path, change: PriceRise) -> tuple[Path, Path]:
    """Write the demo retail folder ``source`` twice under ``out``: ``planted/`` with the change,
    ``twin/`` without; returns both folders."""
    transactions = pd.read_csv(source / "transactions.csv", dtype={CUSTOMER_ID: str})
    customers = pd.read_csv(source / "customers.csv", dtype={CUSTOMER_ID: str})
    folders = {}
    for name, log in (
        ("planted", plant_price_rise(transactions, customers, change)),
        ("twin", transactions),
    ):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        log.to_csv(folder / "transactions.csv", index=False)
        customers.to_csv(folder / "customers.csv", index=False)
        folders[name] = folder
    return folders["planted"], folders["twin"]


__all__ = ["PriceRise", "plant_price_rise", "write_twins"]
