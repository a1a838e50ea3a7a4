"""Seeded synthetic customer bases with known latent state, for the demo and for tests.

Two businesses, written in the documented input format:

* **retail** (non-contractual): a Pareto/NBD-style base. Each customer buys as a Poisson process
  with a personal rate until a latent, unobserved death time. Planted effects: acquisition channel
  shifts purchase rate and dropout hazard, region shifts order value, customers who return a lot
  drop out sooner, so do customers with unusually low or high order values (a U-shape) and
  marketplace customers in the south (an interaction), buying slows to a quarter in the four
  months before death, and demand is seasonal (a summer lull and a pre-Christmas peak).
* **subscription** (contractual): monthly plans with observed cancellations. Planted effects: the
  monthly cancellation hazard rises with recent support tickets and a low latest NPS answer, falls
  with latent satisfaction, and depends on plan and channel.

The latent truth (rates, hazards, death or cancellation dates, alive at the end) is saved beside
the data so tests can check that models recover the planted signal. Everything is vectorised over
customers; the subscription simulation steps over months, not over customers.

The retail business also carries two past randomized retention campaigns
(``retain.demo_campaigns``) whose offer acts on treated customers with heterogeneous effects
(persuadables, sure things, lost causes, sleeping dogs): ``treatments`` lists their arms and
``campaign_truth.parquet`` each campaign customer's true effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import project_root
from retain.demo_campaigns import Traits, campaign_truth_table, plant_campaigns, treatments_table

CHANNELS = ("organic", "paid_search", "paid_social", "referral", "marketplace")
CHANNEL_SHARE = (0.35, 0.2, 0.2, 0.1, 0.15)
CHANNEL_RATE = {
    "organic": 1.0,
    "paid_search": 0.9,
    "paid_social": 0.8,
    "referral": 1.25,
    "marketplace": 1.0,
}
CHANNEL_HAZARD = {
    "organic": 0.8,
    "paid_search": 1.0,
    "paid_social": 2.2,
    "referral": 0.45,
    "marketplace": 1.5,
}
REGIONS = ("north", "south", "east", "west")
REGION_SHARE = (0.3, 0.25, 0.25, 0.2)
REGION_SPEND = {"north": 1.3, "south": 0.8, "east": 1.0, "west": 1.1}
CATEGORIES = (
    "books",
    "music",
    "games",
    "electronics",
    "home",
    "garden",
    "toys",
    "beauty",
    "sports",
    "food",
)
PLANS = ("basic", "pro", "enterprise")
PLAN_SHARE = (0.6, 0.3, 0.1)
PLAN_PRICE = {"basic": 19.0, "pro": 49.0, "enterprise": 199.0}
PLAN_HAZARD = {"basic": 0.045, "pro": 0.03, "enterprise": 0.015}
SIZES = ("1-10", "11-50", "51-200", "200+")


@dataclass(frozen=True)
class DemoTables:
    """One synthetic business: its input tables and the latent truth behind them."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame
    subscriptions: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    treatments: pd.DataFrame | None = None
    campaign_truth: pd.DataFrame | None = None
    """Per past-campaign customer: segment, both potential outcomes, true effects."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """The input tables (not the truth), by canonical name."""
        out = {"transactions": self.transactions, "customers": self.customers}
        if self.subscriptions is not None:
            out["subscriptions"] = self.subscriptions
        if self.interactions is not None:
            out["interactions"] = self.interactions
        if self.treatments is not None:
            out["treatments"] = self.treatments
        return out


SEASON_PEAK = 2.3
"""An upper bound of ``seasonality``: the rate purchases are drawn at before thinning."""


def seasonality(day_of_year: np.ndarray) -> np.ndarray:
    """Relative demand by day of year, shaped like a gift retailer's year (max < ``SEASON_PEAK``).

    A summer lull (60% of the usual demand in late July) and a pre-Christmas peak (about
    2.2 times in late November) around a flat year. A 90-day window after a June cutoff is the
    quietest of the year and one after a September cutoff the busiest, so churn observed on a
    June cutoff is roughly ten points above a September one: a model calibrated in June and
    applied in September is visibly biased unless it knows the season.
    """
    doy = np.asarray(day_of_year, dtype=np.float64)
    lull = 0.4 * np.exp(-0.5 * ((doy - 205.0) / 35.0) ** 2)
    peak = 1.2 * np.exp(-0.5 * ((doy - 330.0) / 28.0) ** 2)
    return 1.0 - lull + peak


def make_retail(
    n_customers: int = 5000,
    *,
    seed: int = 42,
    start: str = "2022-01-01",
    end: str = "2024-12-31",
    campaigns: bool = True,
) -> DemoTables:
    """Simulate a non-contractual retail base (see the module docstring for the planted effects).

    ``campaigns``: plant the past randomized campaigns of ``retain.demo_campaigns``.
    """
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    span = (pd.Timestamp(end) - t0).days
    n = n_customers
    ids = _customer_ids(n, "R")

    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    channel_names = np.asarray(CHANNELS)[channel]
    region_names = np.asarray(REGIONS)[region]
    rate_mult = np.array([CHANNEL_RATE[c] for c in CHANNELS])[channel]
    hazard_mult = np.array([CHANNEL_HAZARD[c] for c in CHANNELS])[channel]
    spend_mult = np.array([REGION_SPEND[r] for r in REGIONS])[region]

    acquired = np.floor(rng.uniform(0, span - 60, size=n)).astype(np.int64)
    rate = rng.gamma(shape=1.3, scale=1.0 / (35.0 * 1.3), size=n) * rate_mult
    return_propensity = rng.beta(1.2, 14.0, size=n) * np.where(
        channel_names == "paid_social", 1.8, 1.0
    )
    return_propensity = np.clip(return_propensity, 0.0, 0.6)
    value_z = rng.normal(0.0, 1.0, size=n)
    mean_order_value = np.exp(np.log(42.0) + 0.45 * value_z) * spend_mult
    hazard = rng.gamma(shape=1.5, scale=1.0 / (420.0 * 1.5), size=n) * hazard_mult
    hazard = hazard * (1.0 + 5.0 * return_propensity)
    # bargain hunters and one-off big spenders both leave sooner: a U-shape a linear model misses
    hazard = hazard * (0.3 + 0.7 * value_z**2)
    # marketplace customers in the south churn much faster (an interaction of two attributes)
    south_marketplace = (channel_names == "marketplace") & (region_names == "south")
    hazard = hazard * np.where(south_marketplace, 4.0, 1.0)
    death = acquired + rng.exponential(1.0 / hazard)
    planted = (
        plant_campaigns(
            Traits(
                acquired,
                death,
                hazard,
                rate,
                mean_order_value,
                value_z,
                return_propensity,
                south_marketplace,
            ),
            span=span,
            demand=lambda day: seasonality((t0.day_of_year + day.astype(np.int64)) % 365),
            seed=seed,
        )
        if campaigns
        else None
    )

    # Repeat purchases: thinning of a Poisson process at the peak rate over each lifetime.
    peak = SEASON_PEAK
    lifetime_end = np.minimum(death, span + 1)
    if planted is not None:  # a treated customer may live longer than without the offer
        lifetime_end = np.minimum(planted.longest_death, span + 1)
    exposure = np.maximum(lifetime_end - acquired - 1, 0.0)
    n_candidates = rng.poisson(rate * peak * exposure)
    owner = np.repeat(np.arange(n), n_candidates)
    when = acquired[owner] + 1 + rng.uniform(0.0, 1.0, size=owner.size) * exposure[owner]
    offer = np.ones(owner.size)
    if planted is not None:
        owner, when, offer = planted.offer_purchases(owner, when, rate * peak)
    doy = (pd.Timestamp(start).day_of_year + when.astype(np.int64)) % 365
    dies = death[owner] if planted is None else planted.death_at(owner, when)  # offers act later
    slowdown = np.where(when > dies - 120, 0.25, 1.0)
    keep = (rng.uniform(size=owner.size) < seasonality(doy) * slowdown * offer / peak) & (
        when < dies
    )
    owner = np.concatenate([np.arange(n), owner[keep]])
    when = np.concatenate([acquired + rng.uniform(0, 1, size=n), when[keep]])

    orders = pd.DataFrame({"owner": owner, "t": when})
    orders = orders.sort_values(["t", "owner"], kind="stable").reset_index(drop=True)
    n_orders = len(orders)
    orders["value"] = rng.gamma(4.0, mean_order_value[orders["owner"].to_numpy()] / 4.0)
    orders["order_id"] = [f"O{i:08d}" for i in range(n_orders)]
    lines = _order_lines(orders, rng)
    returns = _returns(lines, orders, return_propensity, span, rng)
    tx = pd.concat([lines, returns], ignore_index=True)
    tx = tx.sort_values(["t", "order_id"], kind="stable").reset_index(drop=True)
    transactions = pd.DataFrame(
        {
            "customer_id": ids[tx["owner"].to_numpy()],
            "timestamp": _timestamps(t0, tx["t"].to_numpy()),
            "amount": tx["amount"].round(2).to_numpy(),
            "order_id": tx["order_id"].to_numpy(),
            "quantity": tx["quantity"].to_numpy(),
            "product_id": tx["product_id"].to_numpy(),
            "category": tx["category"].to_numpy(),
        }
    )
    signup = t0 + pd.to_timedelta(acquired, unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup.strftime("%Y-%m-%d"),
            "channel": channel_names,
            "region": region_names,
        }
    )
    if planted is not None:
        death = planted.final_death
    died = death <= span
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "channel": channel_names,
            "region": region_names,
            "acquired": signup,
            "death_date": (t0 + pd.to_timedelta(np.where(died, death, np.nan), unit="D")).floor(
                "D"
            ),
            "alive_at_end": ~died,
            "purchase_rate_per_day": rate,
            "dropout_hazard_per_day": hazard,
            "mean_order_value": mean_order_value,
            "return_propensity": return_propensity,
            "order_value_z": value_z,
        }
    )
    if planted is None:
        return DemoTables(transactions=transactions, customers=customers, truth=truth)
    truth["uplift_segment"] = planted.segment
    return DemoTables(
        transactions=transactions,
        customers=customers,
        truth=truth,
        treatments=treatments_table(planted, ids, t0),
        campaign_truth=campaign_truth_table(planted, ids, t0),
    )


def _order_lines(orders: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Split each order into 1+ lines over products (Zipf-like popularity) and categories."""
    n_lines = 1 + rng.poisson(1.2, size=len(orders))
    idx = np.repeat(np.arange(len(orders)), n_lines)
    weights = rng.gamma(2.0, 1.0, size=idx.size)
    share = weights / np.bincount(idx, weights=weights)[idx]
    product = np.minimum(rng.zipf(1.3, size=idx.size), 500) - 1
    lines = pd.DataFrame(
        {
            "line": idx,
            "product": product,
            "amount": orders["value"].to_numpy()[idx] * share,
            "quantity": 1 + rng.poisson(0.3, size=idx.size),
        }
    )
    # one line per product of an order, as an export lists it (no two identical lines)
    lines = lines.groupby(["line", "product"], sort=True, as_index=False).sum()
    idx, product = lines["line"].to_numpy(), lines["product"].to_numpy()
    return pd.DataFrame(
        {
            "owner": orders["owner"].to_numpy()[idx],
            "t": orders["t"].to_numpy()[idx],
            "order_id": orders["order_id"].to_numpy()[idx],
            "amount": lines["amount"].to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "product_id": np.char.add("P", np.char.zfill(product.astype(str), 4)),
            "category": np.asarray(CATEGORIES)[product % len(CATEGORIES)],
        }
    )


def _returns(
    lines: pd.DataFrame,
    orders: pd.DataFrame,
    propensity: np.ndarray,
    span: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Some orders get one line returned 2-30 days later, as a negative amount and quantity."""
    first_line = lines.drop_duplicates("order_id")
    returned = rng.uniform(size=len(first_line)) < propensity[first_line["owner"].to_numpy()]
    back = first_line.loc[returned].copy()
    back["t"] = back["t"] + rng.uniform(2, 30, size=len(back))
    back = back.loc[back["t"] < span + 1]
    back["amount"] = -back["amount"]
    back["quantity"] = -back["quantity"]
    back["order_id"] = back["order_id"] + "-R"
    return back


def make_subscription(
    n_customers: int = 3000,
    *,
    seed: int = 7,
    start: str = "2022-01-01",
    months: int = 36,
) -> DemoTables:
    """Simulate a subscription business month by month (see the module docstring)."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    n = n_customers
    ids = _customer_ids(n, "S")
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    size = rng.choice(len(SIZES), size=n, p=(0.5, 0.3, 0.15, 0.05))
    plan = rng.choice(len(PLANS), size=n, p=PLAN_SHARE)
    start_month = rng.integers(0, months - 3, size=n)
    start_day = start_month * 30 + rng.integers(0, 30, size=n)
    satisfaction = rng.normal(0.0, 1.0, size=n)
    ticket_rate = rng.gamma(1.5, 0.25, size=n) * np.exp(-0.3 * satisfaction)
    channel_hazard = np.array([CHANNEL_HAZARD[c] for c in CHANNELS])[channel] ** 0.5
    plan_hazard = np.array([PLAN_HAZARD[p] for p in PLANS])

    active = np.zeros(n, dtype=bool)
    cancelled_day = np.full(n, -1, dtype=np.int64)
    latest_nps = np.full(n, np.nan)
    tickets_by_month = np.zeros((months, n), dtype=np.int64)
    sub_rows: list[pd.DataFrame] = []
    interactions: list[pd.DataFrame] = []
    charges: list[pd.DataFrame] = []
    current_start = start_day.copy()

    for m in range(months):
        month_start = m * 30
        joining = start_month == m
        active |= joining
        idx = np.flatnonzero(active)
        if idx.size == 0:
            continue
        # monthly charge on the customer's billing day
        bill_day = month_start + (start_day[idx] % 30)
        billed = bill_day >= start_day[idx]
        charges.append(
            pd.DataFrame(
                {"owner": idx[billed], "t": bill_day[billed] + 0.5, "plan": plan[idx[billed]]}
            )
        )
        tickets = rng.poisson(ticket_rate[idx])
        tickets_by_month[m, idx] = tickets
        t_idx = np.repeat(idx, tickets)
        t_day = month_start + rng.uniform(0, 30, size=t_idx.size)
        interactions.append(
            pd.DataFrame({"owner": t_idx, "t": t_day, "type": "ticket", "score": np.nan})
        )
        csat_given = rng.uniform(size=t_idx.size) < 0.6
        csat = np.clip(
            np.round(3.6 + 0.6 * satisfaction[t_idx] + rng.normal(0, 0.7, t_idx.size)), 1, 5
        )
        interactions.append(
            pd.DataFrame(
                {
                    "owner": t_idx[csat_given],
                    "t": t_day[csat_given] + rng.uniform(0.1, 3, csat_given.sum()),
                    "type": "csat",
                    "score": csat[csat_given],
                }
            )
        )
        if m % 3 == 0:
            answered = idx[rng.uniform(size=idx.size) < 0.5]
            recent = tickets_by_month[max(m - 2, 0) : m + 1, answered].sum(axis=0)
            nps = np.clip(
                np.round(
                    7.2
                    + 1.6 * satisfaction[answered]
                    - 0.7 * recent
                    + rng.normal(0, 1.2, answered.size)
                ),
                0,
                10,
            )
            latest_nps[answered] = nps
            interactions.append(
                pd.DataFrame(
                    {
                        "owner": answered,
                        "t": month_start + rng.uniform(0, 30, answered.size),
                        "type": "nps",
                        "score": nps,
                    }
                )
            )
        # plan changes: end the current row and start a new one on another plan
        changing = idx[rng.uniform(size=idx.size) < 0.012]
        changing = changing[start_month[changing] < m]
        if changing.size:
            change_day = month_start + rng.integers(0, 30, size=changing.size)
            sub_rows.append(
                _subscription_rows(changing, current_start[changing], change_day, plan[changing])
            )
            plan[changing] = np.clip(plan[changing] + rng.choice([-1, 1], size=changing.size), 0, 2)
            current_start[changing] = change_day
        # cancellations: hazard from plan, channel, recent tickets, latest NPS, satisfaction
        recent_tickets = tickets_by_month[max(m - 2, 0) : m + 1, idx].sum(axis=0)
        detractor = np.nan_to_num(latest_nps[idx], nan=8.0) <= 6
        h = (
            plan_hazard[plan[idx]]
            * channel_hazard[idx]
            * np.exp(0.3 * recent_tickets + 0.8 * detractor - 0.35 * satisfaction[idx])
        )
        leaving = idx[(rng.uniform(size=idx.size) < np.minimum(h, 0.9)) & (start_month[idx] < m)]
        if leaving.size:
            day = month_start + rng.integers(0, 30, size=leaving.size)
            day = np.maximum(day, current_start[leaving] + 1)
            cancelled_day[leaving] = day
            sub_rows.append(_subscription_rows(leaving, current_start[leaving], day, plan[leaving]))
            active[leaving] = False

    still = np.flatnonzero(active)
    sub_rows.append(
        _subscription_rows(still, current_start[still], np.full(still.size, -1), plan[still])
    )
    subs = pd.concat(sub_rows, ignore_index=True).sort_values(["owner", "start"], kind="stable")
    charge = pd.concat(charges, ignore_index=True)
    # price follows the plan in force on the billing day
    charge = charge.merge(
        subs[["owner", "start", "end", "plan"]].rename(columns={"plan": "row_plan"}), on="owner"
    )
    in_force = (charge["t"] >= charge["start"]) & (
        (charge["end"] < 0) | (charge["t"] < charge["end"])
    )
    charge = charge.loc[in_force]
    charge = charge.assign(
        amount=np.asarray([PLAN_PRICE[p] for p in PLANS])[charge["row_plan"].to_numpy()]
    )
    inter = pd.concat(interactions, ignore_index=True).sort_values(["t", "owner"], kind="stable")
    horizon_end = months * 30
    inter = inter.loc[inter["t"] < horizon_end]
    charge = charge.loc[charge["t"] < horizon_end].sort_values(["t", "owner"], kind="stable")

    transactions = pd.DataFrame(
        {
            "customer_id": ids[charge["owner"].to_numpy()],
            "timestamp": _timestamps(t0, charge["t"].to_numpy()),
            "amount": charge["amount"].to_numpy(),
            "order_id": [f"I{i:08d}" for i in range(len(charge))],
        }
    )
    subscriptions = pd.DataFrame(
        {
            "customer_id": ids[subs["owner"].to_numpy()],
            "start_date": _dates(t0, subs["start"].to_numpy()),
            "end_date": _dates(t0, subs["end"].to_numpy()),
            "plan": np.asarray(PLANS)[subs["plan"].to_numpy()],
            "monthly_amount": np.asarray([PLAN_PRICE[p] for p in PLANS])[subs["plan"].to_numpy()],
        }
    )
    interactions_df = pd.DataFrame(
        {
            "customer_id": ids[inter["owner"].to_numpy()],
            "timestamp": _timestamps(t0, inter["t"].to_numpy()),
            "type": inter["type"].to_numpy(),
            "score": inter["score"].to_numpy(),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": _dates(t0, start_day),
            "channel": np.asarray(CHANNELS)[channel],
            "region": np.asarray(REGIONS)[region],
            "company_size": np.asarray(SIZES)[size],
        }
    )
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "start": t0 + pd.to_timedelta(start_day, unit="D"),
            "cancel_date": t0
            + pd.to_timedelta(np.where(cancelled_day >= 0, cancelled_day, np.nan), unit="D"),
            "active_at_end": cancelled_day < 0,
            "satisfaction": satisfaction,
            "ticket_rate_per_month": ticket_rate,
            "channel": np.asarray(CHANNELS)[channel],
        }
    )
    return DemoTables(
        transactions=transactions,
        customers=customers,
        truth=truth,
        subscriptions=subscriptions,
        interactions=interactions_df,
    )


def _subscription_rows(
    owner: np.ndarray, start: np.ndarray, end: np.ndarray, plan: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame({"owner": owner, "start": start, "end": end, "plan": plan.copy()})


def _customer_ids(n: int, prefix: str) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _timestamps(t0: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Fractional days since ``t0`` as ISO text to the second, between 08:00 and 22:00."""
    whole = np.floor(days)
    seconds = (8 * 3600 + (days - whole) * 14 * 3600).astype(np.int64)
    stamps = t0 + pd.to_timedelta(whole, unit="D") + pd.to_timedelta(seconds, unit="s")
    return np.asarray(stamps.strftime("%Y-%m-%dT%H:%M:%S"))


def _dates(t0: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Whole days since ``t0`` as ISO dates; negative means none (empty)."""
    out = (t0 + pd.to_timedelta(np.where(days >= 0, days, np.nan), unit="D")).strftime("%Y-%m-%d")
    return np.asarray(out.fillna(""), dtype=object)


def write_demo(
    out_dir: Path,
    *,
    customers: int = 5000,
    seed: int = 42,
    fmt: str = "csv",
    businesses: Sequence[str] = ("retail", "subscription"),
) -> dict[str, Path]:
    """Write the demo businesses under ``out_dir/<business>/``; return each folder.

    The subscription business gets 60% as many customers as retail and a derived seed.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    unknown = [b for b in businesses if b not in ("retail", "subscription", "crm")]
    if unknown:
        raise ValueError(f"unknown demo business {unknown}; valid: retail, subscription, crm")
    written: dict[str, Path] = {}
    for business in businesses:
        if business == "crm":
            written[business] = write_crm(out_dir / "crm", customers=customers, seed=seed, fmt=fmt)
            continue
        if business == "retail":
            tables = make_retail(customers, seed=seed)
        else:
            tables = make_subscription(max(int(customers * 0.6), 50), seed=seed + 1)
        folder = out_dir / business
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.tables().items():
            _write(frame, folder / f"{name}.{fmt}", fmt)
        tables.truth.to_parquet(folder / "truth.parquet", index=False)
        if tables.campaign_truth is not None:
            tables.campaign_truth.to_parquet(folder / "campaign_truth.parquet", index=False)
        written[business] = folder
    return written


def write_crm(folder: Path, *, customers: int, seed: int, fmt: str) -> Path:
    """The CRM business: one export of a single as_of day (``snapshot``, churn within 90 days,
    no as_of column), six monthly exports of one base (``monthly``, churn within 30 days) and
    an export whose outcome followed a randomized retention offer (``offer_test``, its true
    per-customer effect apart in ``offer_truth.parquet``)."""
    from retain.demo_crm import make_crm, make_crm_offer

    folder.mkdir(parents=True, exist_ok=True)
    single = make_crm(customers, months=1, horizon_days=90, seed=seed + 2)
    _write(single.snapshots.drop(columns=["as_of"]), folder / f"snapshot.{fmt}", fmt)
    single.truth.to_parquet(folder / "snapshot_truth.parquet", index=False)
    monthly = make_crm(customers, months=6, horizon_days=30, seed=seed + 3)
    frame = monthly.snapshots.rename(columns={"as_of": "SnapshotDate"})
    _write(frame.rename(columns={"Revenue90d": "Revenue30d"}), folder / f"monthly.{fmt}", fmt)
    monthly.truth.to_parquet(folder / "monthly_truth.parquet", index=False)
    offer = make_crm_offer(customers, horizon_days=90, seed=seed + 4)
    _write(offer.snapshots.drop(columns=["as_of"]), folder / f"offer_test.{fmt}", fmt)
    offer.truth.to_parquet(folder / "offer_truth.parquet", index=False)
    return folder


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def default_data_dir() -> Path:
    """Where ``retain demo-data`` writes by default: <checkout>/data/demo, else ./data/demo."""
    root = project_root()
    return (root / "data" / "demo") if root else Path.cwd() / "data" / "demo"
