"""Point-in-time correctness and one feature path: what happens after the cutoff is never read, and
a customer's row does not depend on which other customers are in the data.

Random small businesses (every table present) are drawn with hypothesis; the loader builds them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.build import available_families, build_features
from features.loading import CustomerData, tables_of
from features.prepare import prepare
from tests.features.tables import (
    DAY0,
    business,
    interaction_rows,
    stamp,
    subscription_rows,
    tx_rows,
)

PROPERTY = settings(max_examples=60, deadline=None, database=None)  # nothing in the checkout


def _as_of(cutoff: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=cutoff)


def _move_ends(draw: st.DrawFn, rows: list[dict[str, Any]], cutoff: int) -> list[dict[str, Any]]:
    """Subscriptions whose end is after the cutoff (or open) end on another later day, or run on."""
    later = st.one_of(st.none(), st.integers(cutoff + 1, cutoff + 200))
    moved = []
    for row in rows:
        end = row["end_date"]
        if end is None or pd.Timestamp(end) > _as_of(cutoff):
            new_end = draw(later)
            start = (pd.Timestamp(row["start_date"]) - DAY0).days
            row = {**row, "end_date": None if new_end is None else stamp(max(new_end, start))[:10]}
        moved.append(row)
    return moved


@PROPERTY
@given(st.data())
def test_events_after_the_cutoff_never_change_features(data: st.DataObject) -> None:
    cutoff = data.draw(st.integers(0, 100), label="cutoff")
    after = (cutoff + 1, cutoff + 90)
    past_tx = data.draw(tx_rows(0, cutoff, min_size=1), label="past transactions")
    past_inter = data.draw(interaction_rows(0, cutoff), label="past interactions")
    past_subs = data.draw(subscription_rows(0, cutoff), label="past subscriptions")
    versions = []
    for label in ("one future", "another future"):
        versions.append(
            business(
                past_tx + data.draw(tx_rows(*after), label=f"{label}: transactions"),
                _move_ends(data.draw, past_subs, cutoff)
                + data.draw(subscription_rows(*after), label=f"{label}: subscriptions"),
                past_inter + data.draw(interaction_rows(*after), label=f"{label}: interactions"),
            )
        )
    # the families are a schema decision over the whole log (as training makes it once)
    families = sorted({f for v in versions for f in available_families(v)})
    first, second = (build_features(v, _as_of(cutoff), families=families) for v in versions)
    pd.testing.assert_frame_equal(first, second)


def _only(data: CustomerData, ids: list[str]) -> CustomerData:
    """The tables of ``data`` restricted to the customers ``ids`` (as a request would send them)."""
    return CustomerData(
        **{
            name: table.loc[table["customer_id"].isin(ids)].reset_index(drop=True)
            for name, table in tables_of(data).items()
        }
    )


def _has_events(data: CustomerData, customer: str) -> bool:
    tables = [data.transactions, data.subscriptions, data.interactions]
    return any(t is not None and (t["customer_id"] == customer).any() for t in tables)


@PROPERTY
@given(
    st.integers(0, 120),
    tx_rows(0, 120, min_size=1),
    subscription_rows(0, 120),
    interaction_rows(0, 120),
    st.sets(st.sampled_from(["c0", "c1", "c2", "c3", "c4", "c5"]), min_size=1),
)
def test_a_customer_row_does_not_depend_on_the_rest_of_the_base(
    cutoff: int,
    transactions: list[dict[str, Any]],
    subs: list[dict[str, Any]],
    inter: list[dict[str, Any]],
    chosen: set[str],
) -> None:
    data = business(transactions, subs, inter)
    # the families are decided once on the whole base, as the served model fixes them
    families = available_families(data)
    full = build_features(data, _as_of(cutoff), families=families)
    with_events = sorted(c for c in chosen if _has_events(data, c))
    if not with_events:
        return
    part = build_features(_only(data, with_events), _as_of(cutoff), families=families)
    pd.testing.assert_frame_equal(part, full.loc[full.index.isin(with_events)])
    for customer in with_events:
        alone = build_features(_only(data, [customer]), _as_of(cutoff), families=families)
        pd.testing.assert_frame_equal(alone, full.loc[full.index == customer])


def test_single_customers_of_the_demo_business_match_the_whole_base(
    subscription_demo: CustomerData,
) -> None:
    as_of = "2023-06-30"
    full = build_features(subscription_demo, as_of)
    assert len(full) > 100
    for customer in full.index[::40]:
        alone = build_features(_only(subscription_demo, [customer]), as_of)
        pd.testing.assert_frame_equal(alone, full.loc[[customer]])


@PROPERTY
@given(
    st.integers(0, 120),
    tx_rows(0, 120, min_size=1),
    subscription_rows(0, 120),
    interaction_rows(0, 120),
)
def test_prepared_data_and_tables_give_identical_features(
    cutoff: int,
    transactions: list[dict[str, Any]],
    subs: list[dict[str, Any]],
    inter: list[dict[str, Any]],
) -> None:
    data = business(transactions, subs, inter)
    pd.testing.assert_frame_equal(
        build_features(data, _as_of(cutoff)), build_features(prepare(data), _as_of(cutoff))
    )


def test_row_order_of_the_input_changes_nothing(subscription_demo: CustomerData) -> None:
    shuffled = CustomerData(
        **{
            name: table.sample(frac=1.0, random_state=3).reset_index(drop=True)
            for name, table in tables_of(subscription_demo).items()
        }
    )
    pd.testing.assert_frame_equal(
        build_features(shuffled, "2023-06-30"), build_features(subscription_demo, "2023-06-30")
    )


@pytest.fixture(scope="module")
def subscription_demo() -> CustomerData:
    """A small synthetic subscription business, through the loader."""
    from core.schema import TABLES
    from features.loading import validate_table
    from retain.demo_data import make_subscription

    tables = make_subscription(400, seed=11).tables()
    frames = {name: validate_table(frame, TABLES[name])[0] for name, frame in tables.items()}
    return CustomerData(**frames)
