"""The synthetic demo businesses: reproducible, valid input, and carrying the effects they promise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.sources import DataConfig, TableSource
from features.loading import load_data
from retain.demo_data import DemoTables, make_retail, make_subscription, write_demo


@pytest.fixture(scope="module")
def retail() -> DemoTables:
    return make_retail(3000, seed=3)


@pytest.fixture(scope="module")
def saas() -> DemoTables:
    return make_subscription(2000, seed=3)


def _all_frames(tables: DemoTables) -> dict[str, pd.DataFrame]:
    return {**tables.tables(), "truth": tables.truth}


@pytest.mark.parametrize("make", [make_retail, make_subscription])
def test_same_seed_same_tables_other_seed_other_tables(make: Callable[..., DemoTables]) -> None:
    one, again, other = make(300, seed=1), make(300, seed=1), make(300, seed=2)
    for name, frame in _all_frames(one).items():
        pd.testing.assert_frame_equal(frame, _all_frames(again)[name])
    assert not one.transactions.equals(other.transactions)
    assert not one.truth.equals(other.truth)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_demo_writes_every_table_and_the_truth_as_valid_input(
    tmp_path: Path, fmt: str
) -> None:
    written = write_demo(tmp_path, customers=300, seed=5, fmt=fmt)
    assert set(written) == {"retail", "subscription"}
    files = {name: sorted(p.name for p in folder.iterdir()) for name, folder in written.items()}
    assert files == {
        "retail": sorted(
            [f"{t}.{fmt}" for t in ("customers", "transactions", "treatments")]
            + ["truth.parquet", "campaign_truth.parquet"]
        ),
        "subscription": sorted(
            [f"{t}.{fmt}" for t in ("customers", "interactions", "subscriptions", "transactions")]
            + ["truth.parquet"]
        ),
    }
    truth = pd.read_parquet(written["retail"] / "truth.parquet")
    pd.testing.assert_frame_equal(truth, make_retail(300, seed=5).truth, check_freq=False)
    assert len(pd.read_parquet(written["subscription"] / "truth.parquet")) == 180  # 60% of 300
    for folder in written.values():
        tables = {
            name: TableSource(path=folder / f"{name}.{fmt}")
            for name in ("transactions", "customers", "subscriptions", "interactions")
            if (folder / f"{name}.{fmt}").exists()
        }
        # strict: every demo row is usable as given, with no duplicates
        data, reports = load_data(DataConfig(**tables, strict=True))
        assert all(r.rows_kept == r.rows_read for r in reports)
        assert data.customers is not None


def test_write_demo_rejects_unknown_format_or_business(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be csv or parquet, got 'xlsx'"):
        write_demo(tmp_path, fmt="xlsx")
    with pytest.raises(ValueError, match=r"unknown demo business \['bakery'\]"):
        write_demo(tmp_path, businesses=("bakery",))
    assert not any(tmp_path.iterdir())


def test_retail_truth_carries_the_planted_dropout_effects(retail: DemoTables) -> None:
    truth = retail.truth
    hazard = truth.groupby("channel")["dropout_hazard_per_day"].median()
    # channel hazards 2.2 (paid_social) and 1.5 (marketplace) against 0.45 (referral)
    assert hazard["paid_social"] > 2 * hazard["referral"]
    assert hazard["marketplace"] > 2 * hazard["referral"]
    # south x marketplace: 4 times the hazard of marketplace customers elsewhere
    market = truth.loc[truth["channel"] == "marketplace"]
    south = market["region"] == "south"
    by_region = market.groupby(south)["dropout_hazard_per_day"].median()
    assert by_region[True] > 2 * by_region[False]
    # outside the marketplace, the south is no worse than elsewhere
    other = truth.loc[truth["channel"] != "marketplace"]
    other_by_region = other.groupby(other["region"] == "south")["dropout_hazard_per_day"].median()
    assert other_by_region[True] < 1.5 * other_by_region[False]
    # alive at the end exactly when there is no death date, and deaths follow acquisition
    assert (truth["alive_at_end"] == truth["death_date"].isna()).all()
    died = truth.loc[~truth["alive_at_end"]]
    assert (died["death_date"] >= died["acquired"].dt.floor("D")).all()
    assert 0.2 < truth["alive_at_end"].mean() < 0.9


def test_retail_data_has_returns_and_no_purchases_after_death(retail: DemoTables) -> None:
    tx = retail.transactions
    returns = tx.loc[tx["amount"] < 0]
    assert 0.01 < len(returns) / len(tx) < 0.15
    assert (returns["quantity"] < 0).all()
    assert returns["order_id"].str.endswith("-R").all()
    purchases = tx.loc[tx["amount"] >= 0]
    last = pd.to_datetime(purchases.groupby("customer_id")["timestamp"].max())
    death = retail.truth.set_index("customer_id")["death_date"].reindex(last.index)
    dead = death.notna()
    assert (last[dead].dt.floor("D") <= death[dead]).all()
    # everyone has a first purchase on or after signing up
    first = pd.to_datetime(purchases.groupby("customer_id")["timestamp"].min())
    signup = pd.to_datetime(retail.customers.set_index("customer_id")["signup_date"])
    assert (first >= signup.reindex(first.index)).all()
    assert first.index.equals(pd.Index(sorted(retail.customers["customer_id"])))


def test_subscription_cancellations_rise_with_support_tickets(saas: DemoTables) -> None:
    assert saas.subscriptions is not None
    assert saas.interactions is not None
    subs = saas.subscriptions.assign(end=pd.to_datetime(saas.subscriptions["end_date"]))
    still_running = subs.groupby("customer_id")["end"].apply(lambda e: e.isna().any())
    signup = pd.to_datetime(saas.customers.set_index("customer_id")["signup_date"])
    data_end = pd.to_datetime(saas.transactions["timestamp"]).max()
    stop = subs.groupby("customer_id")["end"].max().where(~still_running, data_end)
    months = ((stop - signup.reindex(stop.index)).dt.days / 30).clip(lower=1)
    tickets = saas.interactions.loc[saas.interactions["type"] == "ticket"]
    per_month = tickets.groupby("customer_id").size().reindex(stop.index, fill_value=0) / months
    cancelled = ~still_running
    quartile = pd.qcut(per_month.rank(method="first"), 4, labels=False)
    share = cancelled.groupby(quartile).mean()
    assert share[3] > share[0] + 0.15
    assert share[3] > share[1]
    # the truth agrees: customers with a higher ticket rate are less often active at the end
    truth = saas.truth
    high = truth["ticket_rate_per_month"] > truth["ticket_rate_per_month"].median()
    assert truth.loc[high, "active_at_end"].mean() < truth.loc[~high, "active_at_end"].mean()


def test_subscription_tables_are_consistent(saas: DemoTables) -> None:
    subs, interactions = saas.subscriptions, saas.interactions
    assert subs is not None
    assert interactions is not None
    start = pd.to_datetime(subs["start_date"])
    end = pd.to_datetime(subs["end_date"])
    assert (end.isna() | (end >= start)).all()
    assert set(subs["plan"]) == {"basic", "pro", "enterprise"}
    # at most one open subscription per customer, and cancelled customers have none
    open_rows = subs.loc[end.isna()].groupby("customer_id").size()
    assert (open_rows == 1).all()
    active = saas.truth.set_index("customer_id")["active_at_end"]
    assert set(open_rows.index) == set(active.index[active.to_numpy()])
    scores = interactions.dropna(subset=["score"])
    nps = scores.loc[scores["type"] == "nps", "score"]
    csat = scores.loc[scores["type"] == "csat", "score"]
    assert nps.between(0, 10).all()
    assert csat.between(1, 5).all()
    assert np.isnan(interactions.loc[interactions["type"] == "ticket", "score"]).all()


def test_the_crm_offer_plants_four_segments_and_keeps_the_truth_apart() -> None:
    from retain.demo_crm import SEGMENT_EFFECT, make_crm_offer

    export = make_crm_offer(4000, seed=3)
    truth, rows = export.truth, export.snapshots
    # no column of the export carries the effect or the segment
    assert not {"segment", "true_churn_effect", "p_churn_treated"} & set(rows.columns)
    tested = rows.loc[rows["RetentionOffer"] != ""]
    assert truth["customer_id"].tolist() == tested["customerID"].tolist()
    assert set(tested["RetentionOffer"]) == {"treatment", "control"}
    assert (
        set(truth["campaign_id"])
        == set(tested["Campaign"])
        == {
            "june_save_wave1",
            "june_save_wave2",
        }
    )
    by = truth.groupby("segment")
    effect = by["true_churn_effect"]
    assert effect.min()["persuadable"] > 0
    assert effect.max()["sleeping dog"] < 0
    assert effect.max()[["lost cause", "sure thing"]].tolist() == [0.0, 0.0]
    assert set(SEGMENT_EFFECT) == set(truth["segment"])
    # the response a response model learns (staying when offered) is highest for sure things,
    # the churn risk for lost causes: neither ranks the persuadables first
    stay_if_offered = 1 - by["p_churn_treated"].mean()
    assert stay_if_offered.idxmax() == "sure thing"
    assert by["p_churn_control"].mean().idxmax() == "lost cause"
    # the planted effect shows in the realized outcomes: offered persuadables churn less
    outcome = tested.set_index("customerID")
    joined = truth.join(outcome[["RetentionOffer", "Churn"]], on="customer_id")
    persuadable = joined.loc[joined["segment"] == "persuadable"]
    churn = persuadable.groupby("RetentionOffer")["Churn"].apply(lambda s: (s == "Yes").mean())
    assert churn["control"] - churn["treatment"] > 0.1
