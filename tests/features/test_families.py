"""Every feature family on tiny frames whose values are computed by hand in the comments.

The cutoff is 2021-06-30 throughout; "k days before" means cutoff minus the day is k, e.g.
2021-01-10 is 171 days before (21 days to the end of January, then 28 + 31 + 30 + 31 + 30).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError, DataValidationError
from core.families import FAMILIES
from core.schema import TRANSACTIONS
from features.build import available_families, build_features, feature_names, resolve_families
from features.loading import CustomerData
from features.prepare import prepare
from tests.features.tables import (
    DAY0,
    customers,
    interactions,
    load_rows,
    subscriptions,
    tx,
    tx_rows,
)

CUTOFF = "2021-06-30"
NAN = np.nan


def _expect(frame: pd.DataFrame, expected: dict[str, list[object]], ids: list[str]) -> None:
    """The frame equals ``expected`` (columns in that order) for customers ``ids``, to float precision."""
    want = pd.DataFrame(expected, index=pd.Index(ids, name="customer_id", dtype="str"))
    want = want.astype({c: np.float64 for c in want.columns if c not in ("plan", "attr_region")})
    pd.testing.assert_frame_equal(frame, want, check_exact=False, rtol=1e-12, atol=0)


@pytest.fixture(scope="module")
def shop() -> CustomerData:
    """Four customers of a shop; d only appears after the cutoff.

    a: 2021-01-10 orders A1 (10 x1 p1 c1, 20 x2 p2 c1) and A2 (5 x1 p1 c1): one purchase day,
       two orders; 2021-03-01 A3 (40 x1 p3 c2); 2021-03-05 a return of 10 (x-1 p1 c1);
       2021-06-20 A4 (30 x3 p2 c1); 2021-07-05 A5 (100), after the cutoff.
    b: one purchase on the cutoff day itself, 12, no product or category.
    c: only a return, -8 on 2021-05-01 (60 days before).
    d: first purchase 2021-07-10, after the cutoff.
    """
    return CustomerData(
        tx(
            ("a", "2021-01-10T09:00:00", 10.0, "A1", 1, "p1", "c1"),
            ("a", "2021-01-10T09:00:00", 20.0, "A1", 2, "p2", "c1"),
            ("a", "2021-01-10T17:30:00", 5.0, "A2", 1, "p1", "c1"),
            ("a", "2021-03-01T12:00:00", 40.0, "A3", 1, "p3", "c2"),
            ("a", "2021-03-05T12:00:00", -10.0, "A1-R", -1, "p1", "c1"),
            ("a", "2021-06-20T08:00:00", 30.0, "A4", 3, "p2", "c1"),
            ("a", "2021-07-05T08:00:00", 100.0, "A5", 1, "p9", "c9"),
            ("b", "2021-06-30T23:59:00", 12.0, "B1", None, None, None),
            ("c", "2021-05-01T10:00:00", -8.0, "C1", -1, None, None),
            ("d", "2021-07-10T10:00:00", 50.0, "D1", 1, "p1", "c1"),
        )
    )


def test_btyd_family(shop: CustomerData) -> None:
    # a: purchase days Jan 10 (171 before), Mar 1 (121), Jun 20 (10); the return is no purchase.
    #    frequency 3 - 1 = 2; recency 171 - 10 = 161; T = 171;
    #    spend per day 35, 40, 30 -> monetary value (40 + 30) / 2 = 35.
    # b: one purchase day, on the cutoff: 0, 0, T = 0, 0.
    # c: no purchase at all: frequency and recency 0, T empty, monetary 0.
    _expect(
        build_features(shop, CUTOFF, families=["btyd"]),
        {
            "btyd_frequency": [2, 0, 0],
            "btyd_recency": [161, 0, 0],
            "btyd_T": [171, 0, NAN],
            "btyd_monetary_value": [35, 0, 0],
        },
        ["a", "b", "c"],
    )


def test_rfm_family(shop: CustomerData) -> None:
    # a: last purchase 10 days before; orders A1, A2, A3, A4 (the return order A1-R is none);
    #    net spend 35 + 40 - 10 + 30 = 95; gross 105 / 4 orders = 26.25.
    # b: 0 days; 1 order of 12.  c: no purchase day; 0 orders; net -8; no order value.
    _expect(
        build_features(shop, CUTOFF, families=["rfm"]),
        {
            "days_since_last_purchase": [10, 0, NAN],
            "orders_total": [4, 1, 0],
            "spend_total": [95, 12, -8],
            "avg_order_value": [26.25, 12, NAN],
        },
        ["a", "b", "c"],
    )


def test_activity_family(shop: CustomerData) -> None:
    # Windows (cutoff - w, cutoff]: an event k days before is inside when k < w.
    # a: 30 and 90 days hold only A4 (10 before): 1 order, 30 spent, 1 day. 180 and 365 hold
    #    everything: 4 orders, 95 net, 3 days.
    #    trends compare with the window of the same length before (k in [w, 2w)):
    #    30: [30, 60) is empty -> empty.  90: [90, 180) holds A1, A2, A3 and the return:
    #    3 orders, 35 + 40 - 10 = 65 -> 1/3 and 30/65.  180: [180, 360) is empty -> empty.
    # b: 1 order of 12 on one day in every window; nothing before: trends empty.
    # c: the return (60 before) is in 90/180/365 as net spend -8; no orders or days;
    #    30-day trend: [30, 60) excludes 60 -> 0/0, empty; others have nothing before.
    a = [1, 30, 1, 1, 30, 1, 4, 95, 3, 4, 95, 3, NAN, NAN, 1 / 3, 30 / 65, NAN, NAN]
    b = [1, 12, 1] * 4 + [NAN] * 6
    c = [0, 0, 0] + [0, -8, 0] * 3 + [NAN] * 6
    names = feature_names(["activity"])
    frame = build_features(shop, CUTOFF, families=["activity"])
    _expect(frame, {n: [a[i], b[i], c[i]] for i, n in enumerate(names)}, ["a", "b", "c"])
    assert names[:3] == ["orders_30d", "spend_30d", "active_days_30d"]
    assert names[-2:] == ["orders_trend_180d", "spend_trend_180d"]


def test_gaps_family(shop: CustomerData) -> None:
    # a: gaps between purchase days 171 - 121 = 50 and 121 - 10 = 111: mean 80.5, spread
    #    (population) |111 - 50| / 2 = 30.5, last 111, overdue 10 / 80.5.
    # b, c: fewer than two purchase days: all empty.
    _expect(
        build_features(shop, CUTOFF, families=["gaps"]),
        {
            "gap_mean_days": [80.5, NAN, NAN],
            "gap_std_days": [30.5, NAN, NAN],
            "gap_last_days": [111, NAN, NAN],
            "overdue_ratio": [10 / 80.5, NAN, NAN],
        },
        ["a", "b", "c"],
    )


def test_gap_spread_needs_three_purchase_days() -> None:
    # days 0, 10, 40 before... gaps 30 and 10 -> std 10; with two days only one gap -> empty
    data = CustomerData(
        tx(
            ("x", "2021-05-21", 1.0),
            ("x", "2021-06-20", 1.0),
            ("x", "2021-06-30", 1.0),
            ("y", "2021-06-20", 1.0),
            ("y", "2021-06-30", 1.0),
        )
    )
    frame = build_features(data, CUTOFF, families=["gaps"])
    assert frame["gap_std_days"].tolist()[0] == pytest.approx(10.0)
    assert np.isnan(frame.loc["y", "gap_std_days"])
    assert frame.loc["y", "gap_mean_days"] == 10.0


def test_basket_family(shop: CustomerData) -> None:
    # a: bought quantities 1 + 2 + 1 + 1 + 3 = 8 over 4 orders -> 2 per order; products p1, p2,
    #    p3 and categories c1, c2 among purchases; 1 return line of 6 lines; 10 returned of 105.
    # b: 1 line, quantity absent -> 1 item per order; no product or category known: empty.
    # c: no order: items empty; nothing bought: no product known; 1 of 1 lines is a return;
    #    8 returned of 0 bought: empty.
    _expect(
        build_features(shop, CUTOFF, families=["basket"]),
        {
            "items_per_order": [2, 1, NAN],
            "distinct_products": [3, NAN, NAN],
            "distinct_categories": [2, NAN, NAN],
            "return_rows_share": [1 / 6, 0, 1],
            "return_value_share": [10 / 105, 0, NAN],
        },
        ["a", "b", "c"],
    )


def test_distinct_products_are_empty_without_product_ids() -> None:
    data = CustomerData(tx(("x", "2021-06-01", 3.0), ("x", "2021-06-02", 4.0)))
    frame = build_features(data, CUTOFF, families=["basket"])
    assert frame[["distinct_products", "distinct_categories"]].isna().all().all()
    assert frame["items_per_order"].tolist() == [1.0]


def test_orders_without_order_id_are_distinct_customer_timestamps() -> None:
    # e: three lines, two at 10:00 and one at 15:00 on one day -> 2 orders, 1 purchase day.
    data = CustomerData(
        tx(
            ("e", "2021-06-01T10:00:00", 3.0),
            ("e", "2021-06-01T10:00:00", 4.0),
            ("e", "2021-06-01T15:00:00", 5.0),
        )
    )
    frame = build_features(data, CUTOFF, families=["btyd", "rfm", "activity"])
    row = frame.loc["e"]
    assert row["orders_total"] == 2
    assert row["avg_order_value"] == 6.0  # 12 / 2
    assert row["btyd_frequency"] == 0
    assert row["active_days_30d"] == 1
    assert row["orders_30d"] == 2


def test_order_ids_are_per_customer_and_mix_with_rows_without_one() -> None:
    # a: order o1 has lines on May 25 and Jun 3 (it starts May 25, outside the 30-day window);
    #    two id-less lines at Jun 2 12:00 form a second order. b reuses the id o1: its own order.
    data = CustomerData(
        tx(
            ("a", "2021-06-03T09:00:00", 5.0, "o1"),
            ("a", "2021-06-02T12:00:00", 7.0, None),
            ("b", "2021-06-05T08:00:00", 20.0, "o1"),
            ("a", "2021-05-25T10:00:00", 10.0, "o1"),
            ("a", "2021-06-02T12:00:00", 3.0, None),
        )
    )
    frame = build_features(data, CUTOFF, families=["rfm", "activity"])
    assert frame["orders_total"].tolist() == [2, 1]
    assert frame["avg_order_value"].tolist() == [12.5, 20.0]  # (10 + 5 + 7 + 3) / 2
    assert frame["orders_30d"].tolist() == [1, 1]
    assert frame["orders_90d"].tolist() == [2, 1]


def test_profile_family_with_attributes_and_customers_without_transactions(
    shop: CustomerData,
) -> None:
    # a: signed up 2020-12-01, 211 days before (31 in December + 180 to June 30).
    # b: signs up after the cutoff: tenure from its first event, the cutoff day: 0.
    # c: not in the customers table: tenure from its first event (the return): 60; no attributes.
    # f: no transactions, signed up 2021-02-01 (149 days before): present, with attributes.
    # g: no transactions and no signup date: not known at any cutoff.
    data = CustomerData(
        shop.transactions,
        customers=customers(
            {"customer_id": "a", "signup_date": "2020-12-01", "region": "north", "size": "10"},
            {"customer_id": "b", "signup_date": "2021-08-01", "region": "south", "size": "3"},
            {"customer_id": "f", "signup_date": "2021-02-01", "region": "east", "size": ""},
            {"customer_id": "g", "signup_date": "", "region": "west", "size": "1"},
        ),
    )
    frame = build_features(data, CUTOFF, families=["profile"])
    _expect(
        frame,
        {
            "tenure_days": [211, 0, 60, 149],
            "attr_region": ["north", "south", NAN, "east"],
            "attr_size": [10, 3, NAN, NAN],
        },
        ["a", "b", "c", "f"],
    )
    assert list(frame.columns) == feature_names(["profile"], ["region", "size"])
    # f never bought: no purchase days, no age, no orders, nothing spent
    history = build_features(data, CUTOFF, families=["btyd", "rfm"])
    np.testing.assert_array_equal(history.loc["f"].to_numpy(), [0, 0, NAN, 0, NAN, 0, 0, NAN])


def test_tenure_counts_from_the_first_event_of_any_kind() -> None:
    # h has no signup date; its first event is a support ticket on 2021-06-10 (20 days before),
    # before its first purchase on 2021-06-20: tenure 20.
    data = CustomerData(
        tx(("h", "2021-06-20", 5.0)),
        customers=customers({"customer_id": "h", "signup_date": "", "region": "north"}),
        interactions=interactions(("h", "2021-06-10T09:00:00", "ticket", None)),
    )
    assert build_features(data, CUTOFF, families=["profile"]).loc["h", "tenure_days"] == 20


@pytest.fixture(scope="module")
def saas() -> CustomerData:
    """Subscriptions and interactions of a small SaaS business (and one shopper, z).

    s1: basic 2021-01-01 to 2021-04-01, then pro from 2021-04-01 to 2021-08-15 (after the cutoff).
    s2: basic 2021-02-01 to 2021-06-30 (ends on the cutoff day), restarts 2021-07-15 (after).
    s3: enterprise from the cutoff day, open-ended.
    s4: basic 2021-03-01 to 2021-07-01, the day after the cutoff.
    z: transactions only.
    """
    return CustomerData(
        tx(
            ("s1", "2021-01-01", 19.0),
            ("s2", "2021-02-01", 19.0),
            ("s3", "2021-06-30", 199.0),
            ("s4", "2021-03-01", 19.0),
            ("z", "2021-06-01", 7.0),
        ),
        subscriptions=subscriptions(
            ("s1", "2021-04-01", "2021-08-15", "pro", 49.0),
            ("s1", "2021-01-01", "2021-04-01", "basic", 19.0),
            ("s2", "2021-02-01", "2021-06-30", "basic", 19.0),
            ("s2", "2021-07-15", "", "pro", 49.0),
            ("s3", "2021-06-30", "", "enterprise", 199.0),
            ("s4", "2021-03-01", "2021-07-01", "basic", 19.0),
        ),
        interactions=interactions(
            ("s1", "2021-05-01T18:00:00", "nps", 6),
            ("s1", "2021-05-01T09:00:00", "nps", 3),
            ("s1", "2021-03-01T10:00:00", "nps", 9),
            ("s1", "2021-07-01T10:00:00", "nps", 0),
            ("s1", "2021-06-10T10:00:00", "csat", 4),
            ("s1", "2021-06-20T10:00:00", "csat", 2),
            ("s1", "2021-06-25T10:00:00", "ticket", None),
            ("s1", "2021-05-15T10:00:00", "ticket", None),
            ("s1", "2021-01-05T10:00:00", "ticket", None),
            ("s1", "2021-07-02T10:00:00", "ticket", None),
            ("s2", "2021-06-30T23:00:00", "ticket", None),
            ("s2", "2021-04-01T10:00:00", "csat", 5),
        ),
    )


def test_subscription_family(saas: CustomerData) -> None:
    # s1: latest row started by the cutoff is pro (49), started Apr 1 (90 days before: 30 + 31 +
    #     29); it ends after the cutoff, so it runs (its end is unknown then); first start Jan 1,
    #     180 days before; 2 rows -> 1 plan change.
    # s2: the row ending on the cutoff day does not run at the end of it; the restart is in the
    #     future and unseen: basic, 19, not active, 149 days, no change, 149 days.
    # s3: starts on the cutoff: enterprise, running, 0 days.
    # s4: ends the day after the cutoff: still running at it; started Mar 1, 121 days before.
    # z: no subscription: everything empty, not active.
    _expect(
        build_features(saas, CUTOFF, families=["subscription"]),
        {
            "plan": ["pro", "basic", "enterprise", "basic", NAN],
            "monthly_amount": [49, 19, 199, 19, NAN],
            "subscription_active": [1, 0, 1, 1, 0],
            "subscription_tenure_days": [180, 149, 0, 121, NAN],
            "plan_changes": [1, 0, 0, 0, NAN],
            "days_since_plan_change": [90, 149, 0, 121, NAN],
        },
        ["s1", "s2", "s3", "s4", "z"],
    )


def test_voice_family(saas: CustomerData) -> None:
    # s1: NPS 9 (Mar 1), 3 (May 1, 09:00), 6 (May 1, 18:00); the 0 is after the cutoff.
    #     latest by timestamp 6, mean 18 / 3 = 6. CSAT 4 then 2: mean 3, latest 2.
    #     tickets 5, 46 and 176 days before (one after the cutoff is unseen): 1 in 30 days,
    #     2 in 90, 3 in all, 5 days since the last.
    # s2: CSAT 5; a ticket late on the cutoff day: 1, 1, 1, 0 days.
    # s3, s4, z: no interactions: empty answers, no tickets.
    _expect(
        build_features(saas, CUTOFF, families=["voice"]),
        {
            "nps_latest": [6, NAN, NAN, NAN, NAN],
            "nps_mean": [6, NAN, NAN, NAN, NAN],
            "csat_mean": [3, 5, NAN, NAN, NAN],
            "csat_latest": [2, 5, NAN, NAN, NAN],
            "tickets_30d": [1, 1, 0, 0, 0],
            "tickets_90d": [2, 1, 0, 0, 0],
            "tickets_total": [3, 1, 0, 0, 0],
            "days_since_last_ticket": [5, 0, NAN, NAN, NAN],
        },
        ["s1", "s2", "s3", "s4", "z"],
    )


def test_full_frame_index_columns_and_dtypes(saas: CustomerData) -> None:
    data = CustomerData(
        saas.transactions,
        customers=customers(
            {"customer_id": "s2", "signup_date": "2021-01-15", "region": "north", "seats": "5"},
            {"customer_id": "s1", "signup_date": "2020-12-15", "region": "south", "seats": "50"},
        ),
        subscriptions=saas.subscriptions,
        interactions=saas.interactions,
    )
    frame = build_features(data, CUTOFF)
    assert frame.index.name == "customer_id"
    assert frame.index.tolist() == ["s1", "s2", "s3", "s4", "z"]
    assert frame.index.is_monotonic_increasing
    every_table = [f for f in FAMILIES if not FAMILIES[f].needs]  # the log has no product columns
    assert available_families(data) == every_table
    assert list(frame.columns) == feature_names(every_table, ["region", "seats"])
    text = {"plan", "attr_region"}
    for name, dtype in frame.dtypes.items():
        if name in text:
            assert pd.api.types.is_string_dtype(dtype), name
        else:
            assert dtype == np.float64, name


def test_categorical_columns_stay_text_when_every_value_is_empty(saas: CustomerData) -> None:
    # z bought before anyone subscribed: its plan is empty, still a text column, not object
    data = CustomerData(
        tx(("z", "2020-12-01", 7.0)),
        subscriptions=saas.subscriptions,
        customers=customers({"customer_id": "z", "region": None}),
    )
    frame = build_features(data, "2020-12-31")
    assert frame.index.tolist() == ["z"]
    assert frame[["plan", "attr_region"]].isna().all().all()
    assert pd.api.types.is_string_dtype(frame["attr_region"].dtype)
    assert pd.api.types.is_string_dtype(frame["plan"].dtype)
    assert frame["plan"].dtype == build_features(saas, CUTOFF)["plan"].dtype


def test_prepared_data_and_customer_data_give_the_same_features(saas: CustomerData) -> None:
    pd.testing.assert_frame_equal(
        build_features(saas, CUTOFF), build_features(prepare(saas), CUTOFF)
    )


def test_cutoff_time_of_day_is_ignored_and_the_whole_day_counts(shop: CustomerData) -> None:
    # b bought at 23:59 on the cutoff day: included even with an as_of at midnight or noon
    midnight = build_features(shop, "2021-06-30", families=["rfm"])
    noon = build_features(shop, pd.Timestamp("2021-06-30 12:00"), families=["rfm"])
    pd.testing.assert_frame_equal(midnight, noon)
    assert midnight.loc["b", "orders_total"] == 1


@pytest.mark.parametrize("as_of", ["2021-06-30T01:00:00+02:00", "2021-06-30T23:00:00-05:00"])
def test_a_cutoff_with_a_utc_offset_is_the_date_it_shows(shop: CustomerData, as_of: str) -> None:
    # on 2021-06-30 b bought (23:59); its UTC date would be Jun 29 or Jul 1
    pd.testing.assert_frame_equal(
        build_features(shop, pd.Timestamp(as_of), families=["rfm"]),
        build_features(shop, CUTOFF, families=["rfm"]),
    )


def test_customers_appear_from_their_first_event(shop: CustomerData) -> None:
    assert build_features(shop, "2021-01-09", families=["rfm"]).empty
    assert build_features(shop, "2021-01-10", families=["rfm"]).index.tolist() == ["a"]
    assert build_features(shop, "2021-07-10", families=["rfm"]).index.tolist() == list("abcd")


def test_family_selection_errors(shop: CustomerData) -> None:
    with pytest.raises(ConfigError, match=r"unknown feature family \['rmf'\]; valid: \['btyd'"):
        resolve_families(["rmf"], shop)
    with pytest.raises(ConfigError, match=r"\['voice'\] need the interactions table"):
        build_features(shop, CUTOFF, families=["voice"])
    # requested order does not matter: catalogue order
    assert resolve_families(["gaps", "btyd"], shop) == ["btyd", "gaps"]


# ------------------------------------------------------------------------------------------------
# the BTYD summary is lifetimes' summary_data_from_transaction_data(freq="D")
# ------------------------------------------------------------------------------------------------


def test_btyd_summary_by_hand_several_orders_on_one_day() -> None:
    # x: Jan 10 two orders (10 + 5) -> one purchase day of 15; Feb 9 (20), Feb 9 again (4) -> 24;
    #    Jun 30 (0, a zero-value purchase still counts, as in CDNOW): 3 purchase days.
    #    frequency 2; recency Jan 10 -> Jun 30 = 171; T 171; monetary (24 + 0) / 2 = 12.
    data = CustomerData(
        tx(
            ("x", "2021-01-10T09:00:00", 10.0, "o1"),
            ("x", "2021-01-10T18:00:00", 5.0, "o2"),
            ("x", "2021-02-09T10:00:00", 20.0, "o3"),
            ("x", "2021-02-09T11:00:00", 4.0, "o4"),
            ("x", "2021-06-30T11:00:00", 0.0, "o5"),
        )
    )
    frame = build_features(data, CUTOFF, families=["btyd"])
    assert frame.loc["x"].tolist() == [2.0, 171.0, 171.0, 12.0]


def _lifetimes_summary(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """lifetimes' definition, written independently with pandas: one purchase per customer-day."""
    purchases = frame.loc[
        (frame["timestamp"].dt.normalize() <= as_of)
        & (frame["amount"] >= 0)
        & ~(frame["quantity"] < 0)
    ]
    days = (
        purchases.assign(day=purchases["timestamp"].dt.normalize())
        .groupby(["customer_id", "day"], as_index=False)["amount"]
        .sum()
    )
    first = days.groupby("customer_id")["day"].transform("min")
    per_customer = days.groupby("customer_id")
    summary = pd.DataFrame(
        {
            "btyd_frequency": per_customer.size() - 1.0,
            "btyd_recency": (per_customer["day"].max() - per_customer["day"].min()).dt.days,
            "btyd_T": (as_of - per_customer["day"].min()).dt.days,
        }
    ).astype(np.float64)
    repeat = days.loc[days["day"] > first].groupby("customer_id")["amount"].mean()
    summary["btyd_monetary_value"] = repeat.reindex(summary.index).fillna(0.0)
    summary.index = summary.index.astype("str")
    return summary


@settings(max_examples=60, deadline=None, database=None)
@given(st.integers(0, 120), tx_rows(0, 160, min_size=1))
def test_btyd_summary_equals_lifetimes_definition(cutoff: int, rows: list[dict[str, Any]]) -> None:
    data = CustomerData(load_rows(TRANSACTIONS, rows))
    as_of = DAY0 + pd.Timedelta(days=cutoff)
    ours = build_features(data, as_of, families=["btyd"])
    reference = _lifetimes_summary(data.transactions, as_of)
    buyers = ours.loc[ours.index.isin(reference.index)]
    pd.testing.assert_frame_equal(buyers, reference, check_exact=False, rtol=1e-9)
    # customers known but without a purchase (returns only): no age, nothing else
    others = ours.loc[~ours.index.isin(reference.index)]
    assert others["btyd_T"].isna().all()
    assert (others[["btyd_frequency", "btyd_recency", "btyd_monetary_value"]] == 0).all().all()


def test_a_hand_built_table_with_a_missing_id_is_refused_not_misassigned() -> None:
    frame = tx(("a", "2021-06-01", 3.0), ("b", "2021-06-02", 4.0))
    frame.loc[1, "customer_id"] = None  # the loaders never let this through; a caller might
    with pytest.raises(DataValidationError, match="1 rows of the transactions table have no"):
        build_features(CustomerData(frame), CUTOFF)
