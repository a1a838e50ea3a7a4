"""The product, category and country families on a tiny order-line log computed by hand.

The cutoff is 2021-06-30; the basket-size trend compares (2021-04-01, 2021-06-30] with
(2020-12-31 + 1, 2021-04-01], i.e. 90 days each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.schema import TRANSACTIONS
from features.build import available_families, build_features, unbuilt_note
from features.loading import CustomerData
from features.prepare import prepare
from tests.features.tables import clean

CUTOFF = "2021-06-30"
NAN = np.nan
FAMILIES = ["products", "categories", "country"]
NAMES = ("customer_id", "timestamp", "amount", "order_id", "quantity", "product_id", "category")


def lines(*rows: tuple[object, ...], country: list[str | None] | None = None) -> pd.DataFrame:
    """Transactions from (customer, timestamp, amount, order, quantity, product, category)."""
    records = [dict(zip(NAMES, r, strict=True)) for r in rows]
    for record, where in zip(records, country or [None] * len(records), strict=True):
        record["country"] = where
    return clean(TRANSACTIONS, records)


@pytest.fixture(scope="module")
def shop() -> CustomerData:
    """a: p1 Tea bought 02-01 (x2), 03-01 (x4), 05-01, 05-11; p2 Soap 02-01, returned 03-10;
    p3 Tea 05-11; an order after the cutoff (07-05, p9 Soap, US) is never read. Orders A1 (2
    lines, 3 items), A2 (1 line, 4 items), A3 (1, 1), A4 (2, 2): lines per order 6 / 4; items
    per order 3 / 2 = 1.5 in the last 90 days, 7 / 2 = 3.5 before, trend 3/7. Products p1, p2,
    p3: p1 repeats after 28 days (02-01 -> 03-01), p2 is returned: 1/3 and 1/3. Tea 45 of 75
    spend: 0.6. Latest country DE (FR before, US after the cutoff).
    b: B1 (p5 Soap 20, p6 Tea 20) 06-01, B2 p5 06-11, B3 p6 06-15, B4 p7 06-25 (no category):
    lines 5 / 4; p5 repeats after 10 days, p6 after 14: median 12, share 2/3; p5 returned
    06-28: 1/3. Soap 40 = Tea 40 (purchases only): the tie goes to Soap by name although Tea
    comes first in the file; share 40 / 80.
    c: one line without product, category or order (FR): only lines per order and country.
    """
    return CustomerData(
        lines(
            ("a", "2021-02-01T10:00", 10.0, "A1", 2, "p1", "Tea"),
            ("a", "2021-02-01T10:00", 30.0, "A1", 1, "p2", "Soap"),
            ("a", "2021-03-01T10:00", 10.0, "A2", 4, "p1", "Tea"),
            ("a", "2021-03-10T10:00", -30.0, "R1", -1, "p2", "Soap"),
            ("a", "2021-05-01T10:00", 10.0, "A3", 1, "p1", "Tea"),
            ("a", "2021-05-11T10:00", 5.0, "A4", 1, "p3", "Tea"),
            ("a", "2021-05-11T10:00", 10.0, "A4", 1, "p1", "Tea"),
            ("a", "2021-07-05T10:00", 500.0, "A5", 10, "p9", "Soap"),
            ("b", "2021-06-01T10:00", 20.0, "B1", 1, "p6", "Tea"),
            ("b", "2021-06-01T10:00", 20.0, "B1", 1, "p5", "Soap"),
            ("b", "2021-06-11T10:00", 20.0, "B2", 1, "p5", "Soap"),
            ("b", "2021-06-15T10:00", 20.0, "B3", 1, "p6", "Tea"),
            ("b", "2021-06-25T10:00", 50.0, "B4", 1, "p7", None),
            ("b", "2021-06-28T10:00", -20.0, "RB", -1, "p5", "Soap"),
            ("c", "2021-06-01T10:00", 15.0, None, None, None, None),
            country=["FR", "FR", "FR", "FR", "DE", "DE", "DE", "US"] + [None] * 6 + ["FR"],
        )
    )


def test_product_features_equal_the_hand_computed_values(shop: CustomerData) -> None:
    frame = build_features(shop, CUTOFF, families=FAMILIES)
    want = pd.DataFrame(
        {
            "lines_per_order": [6 / 4, 5 / 4, 1.0],
            "items_per_order_trend_90d": [3 / 7, NAN, NAN],
            "repeat_product_share": [1 / 3, 2 / 3, NAN],
            "product_repeat_days_median": [28.0, 12.0, NAN],
            "product_return_share": [1 / 3, 1 / 3, NAN],
        },
        index=pd.Index(["a", "b", "c"], name="customer_id", dtype="str"),
    )
    pd.testing.assert_frame_equal(frame[list(want.columns)], want, rtol=1e-12)
    assert frame["top_category"].fillna("-").tolist() == ["Tea", "Soap", "-"]
    assert frame["top_category_spend_share"].tolist() == pytest.approx([0.6, 0.5, NAN], nan_ok=True)
    assert frame["country"].fillna("-").tolist() == ["DE", "-", "FR"]


def test_a_customer_alone_gets_the_values_it_gets_in_the_base(shop: CustomerData) -> None:
    whole = build_features(shop, CUTOFF, families=FAMILIES)
    for customer in ("a", "b", "c"):
        own = shop.transactions.loc[shop.transactions["customer_id"] == customer]
        alone = build_features(CustomerData(own.reset_index(drop=True)), CUTOFF, families=FAMILIES)
        pd.testing.assert_frame_equal(alone, whole.loc[[customer]])


def test_later_lines_never_change_the_features(shop: CustomerData) -> None:
    tx = shop.transactions
    before = CustomerData(tx.loc[tx["timestamp"] <= pd.Timestamp(CUTOFF)].reset_index(drop=True))
    pd.testing.assert_frame_equal(
        build_features(shop, CUTOFF, families=FAMILIES),
        build_features(before, CUTOFF, families=FAMILIES),
    )


def test_families_follow_the_columns_the_log_fills(shop: CustomerData) -> None:
    assert set(FAMILIES) <= set(available_families(shop))
    bare = CustomerData(lines(("x", "2021-06-01T10:00", 3.0, None, None, None, None)))
    built = available_families(bare)
    assert not set(FAMILIES) & set(built)
    assert set(FAMILIES) & set(available_families(prepare(bare))) == set()
    assert unbuilt_note(built, bare) == (
        "the transactions have no category or country or description or product_id values, so "
        "the products, categories, country feature families are not built (map those columns "
        "under data.transactions.columns to use them)"
    )
    demo_like = CustomerData(lines(("x", "2021-06-01T10:00", 3.0, "o1", 1, "p1", "k1")))
    assert unbuilt_note(available_families(demo_like), demo_like) == (
        "the transactions have no country values, so the country feature family is not built "
        "(map those columns under data.transactions.columns to use them)"
    )
    frame = build_features(bare, CUTOFF)
    assert "lines_per_order" not in frame
    assert "country" not in frame


def test_a_description_names_the_product_of_a_line_without_an_id() -> None:
    rows = [
        {"customer_id": "d", "timestamp": day, "amount": 4.0, "description": "TEA REFILL"}
        for day in ("2021-06-01", "2021-06-08", "2021-06-22")
    ]
    data = CustomerData(clean(TRANSACTIONS, rows))
    assert "products" in available_families(data)
    frame = build_features(data, CUTOFF, families=["products"])
    assert frame.loc["d", "repeat_product_share"] == 1.0
    assert frame.loc["d", "product_repeat_days_median"] == 7.0


def test_a_request_of_raw_events_gets_the_batch_values(shop: CustomerData) -> None:
    """The serving path (request events -> canonical tables) carries description and country."""
    from serving.requests import events_to_data
    from serving.schemas import CustomerInput

    tx = shop.transactions.loc[shop.transactions["timestamp"] <= pd.Timestamp(CUTOFF)]
    items = []
    for customer in ("a", "b", "c"):
        own = tx.loc[tx["customer_id"] == customer]
        events = [
            {
                "timestamp": row.timestamp.isoformat(),
                "amount": row.amount,
                "order_id": None if pd.isna(row.order_id) else row.order_id,
                "quantity": None if pd.isna(row.quantity) else row.quantity,
                "product_id": None if pd.isna(row.product_id) else row.product_id,
                "category": None if pd.isna(row.category) else row.category,
                "country": None if pd.isna(row.country) else row.country,
            }
            for row in own.itertuples()
        ]
        items.append(CustomerInput(customer_id=customer, as_of=CUTOFF, transactions=events))
    served = build_features(events_to_data(items), CUTOFF, families=FAMILIES)
    whole = build_features(shop, CUTOFF, families=FAMILIES)
    pd.testing.assert_frame_equal(served.set_axis(whole.index), whole)


def test_a_table_without_the_new_columns_still_builds(shop: CustomerData) -> None:
    """A benchmark's Parquet of the canonical columns of an earlier version (no description,
    no country) builds as if those columns were empty."""
    old = shop.transactions.drop(columns=["description", "country"])
    frame = build_features(CustomerData(old), CUTOFF)
    assert "country" not in frame
    expected = build_features(shop, CUTOFF, families=["products", "categories"])
    pd.testing.assert_frame_equal(frame[list(expected.columns)], expected)
