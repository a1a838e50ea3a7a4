"""The derived BTYD features: point-in-time, equal to the fitters, empty where unreliable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.schema import TRANSACTIONS
from features.build import btyd_summary_at
from features.catalogue import BTYD_DERIVED_NAMES
from features.loading import CustomerData
from features.prepare import prepare
from model.btyd_features import BTYD_SUMMARY, WEEK, BtydParams, derive_btyd
from model.encoding import FeatureEncoding
from tests.features.tables import load_rows, stamp
from training.baselines import cutoff_btyd_params
from training.btyd import BetaGeoFitter, GammaGammaFitter

PROPERTY = settings(max_examples=20, deadline=None, database=None)
HORIZON = 90
BASE_IDS = [f"b{i:02d}" for i in range(80)]
NEW_IDS = ["n0", "n1", "n2"]


def _base_rows() -> list[dict[str, Any]]:
    """A seeded history of 80 customers, BG/NBD-like (gamma purchase rates, dropout after each
    purchase, a spend level per customer): the population fits are sound at the tested cutoffs."""
    rng = np.random.default_rng(2)
    rows = []
    for cid in BASE_IDS:
        day, mean = int(rng.integers(0, 120)), rng.gamma(3.0, 10.0)
        rate, dropout = rng.gamma(1.0, 1 / 20), rng.beta(1, 4)
        while day <= 330:
            amount = round(float(rng.gamma(6.0, mean / 6.0)), 2)
            rows.append({"customer_id": cid, "timestamp": stamp(day, 10), "amount": amount})
            if rng.random() < dropout:
                break
            day += int(np.ceil(rng.exponential(1 / rate)))
    return rows


BASE = _base_rows()


def btyd_at(rows: list[dict[str, Any]], cutoff: pd.Timestamp) -> tuple[pd.DataFrame, list[str]]:
    """The four BTYD features at ``cutoff`` as training builds them: the summary of every buyer,
    the cutoff's population fit, the derivation."""
    frame = load_rows(TRANSACTIONS, rows, ["customer_id", "timestamp", "amount"])
    prep = prepare(CustomerData(transactions=frame))
    summary = btyd_summary_at(prep, cutoff)
    params, notes = cutoff_btyd_params(summary, HORIZON, cutoff)
    derived = derive_btyd(summary[list(BTYD_SUMMARY)].to_numpy(), params)
    return pd.DataFrame(derived, summary.index, BTYD_DERIVED_NAMES).sort_index(), notes


later_rows = st.lists(
    st.fixed_dictionaries(
        {
            "customer_id": st.sampled_from(BASE_IDS[:10] + NEW_IDS),
            "offset": st.integers(1, 200),
            "amount": st.sampled_from([-10.0, 0.0, 5.0, 25.0, 400.0]),
        }
    ),
    min_size=1,
    max_size=15,
)


@PROPERTY
@given(cutoff_day=st.sampled_from([200, 240, 280, 320]), later=later_rows)
def test_events_after_the_cutoff_never_change_the_btyd_features(
    cutoff_day: int, later: list[dict[str, Any]]
) -> None:
    cutoff = pd.Timestamp(stamp(cutoff_day)[:10])
    before = [r for r in BASE if pd.Timestamp(r["timestamp"]) < cutoff + pd.Timedelta(days=1)]
    extra = [
        {
            "customer_id": r["customer_id"],
            "timestamp": stamp(cutoff_day + r["offset"], 9),
            "amount": r["amount"],
        }
        for r in later
    ]
    expected, notes = btyd_at(before, cutoff)
    got, got_notes = btyd_at(before + extra, cutoff)
    pd.testing.assert_frame_equal(got, expected)
    assert got_notes == notes
    assert expected.notna().all().all()  # the fit is sound: the property is not vacuous


def _simulated_summary(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A BTYD summary in days from BG/NBD-like purchasing (Poisson rates, geometric dropout)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 400, n).astype(float)
    x = rng.poisson(rng.gamma(0.8, 2.5, n)).astype(float)
    recency = np.where(x > 0, np.ceil(rng.uniform(0.2, 1.0, n) * age), 0.0)
    monetary = np.where(x > 0, rng.gamma(4.0, 10.0, n), 0.0)
    return pd.DataFrame(
        {
            "btyd_frequency": x,
            "btyd_recency": recency,
            "btyd_T": age,
            "btyd_monetary_value": monetary,
        }
    )


def test_closed_forms_equal_the_fitters_predictions() -> None:
    summary = _simulated_summary()
    weeks = pd.DataFrame(
        {
            "frequency": summary["btyd_frequency"],
            "recency": summary["btyd_recency"] / WEEK,
            "T": summary["btyd_T"] / WEEK,
            "monetary_value": summary["btyd_monetary_value"],
        }
    )
    bg = BetaGeoFitter().fit(weeks[["frequency", "recency", "T"]])
    repeat = weeks.loc[weeks["frequency"] > 0]
    gg = GammaGammaFitter().fit(repeat)
    params = BtydParams(HORIZON, (bg.r_, bg.alpha_, bg.a_, bg.b_), (gg.p_, gg.q_, gg.v_))
    got = derive_btyd(summary.to_numpy(), params)
    horizon = HORIZON / WEEK
    np.testing.assert_array_equal(got[:, 0], bg.probability_alive(weeks))
    np.testing.assert_array_equal(got[:, 1], bg.expected_purchases(horizon, weeks))
    spend = gg.conditional_expected_average_profit(weeks["frequency"], weeks["monetary_value"])
    np.testing.assert_array_equal(got[:, 2], spend)
    np.testing.assert_array_equal(got[:, 3], gg.expected_spend(bg, weeks, horizon))


def test_unreliable_fit_gives_empty_columns_and_a_note() -> None:
    # nobody ever repeats: the purchase rate runs to the boundary, Gamma-Gamma has no data
    summary = pd.DataFrame(
        {
            "btyd_frequency": np.zeros(40),
            "btyd_recency": np.zeros(40),
            "btyd_T": np.linspace(10.0, 300.0, 40),
            "btyd_monetary_value": np.zeros(40),
        }
    )
    params, notes = cutoff_btyd_params(summary, HORIZON, pd.Timestamp("2024-01-31"))
    assert params == BtydParams(HORIZON, None, None)
    assert notes[0].startswith("BTYD features at 2024-01-31: BG/NBD fit unreliable")
    assert "purchase-rate parameters at the boundary" in notes[0]
    assert "fewer than 20 repeat buyers" in notes[1]
    assert np.isnan(derive_btyd(summary.to_numpy(), params)).all()


def test_without_gamma_gamma_only_spend_and_value_are_empty() -> None:
    summary = _simulated_summary(60)
    bg_only = BtydParams(HORIZON, (0.8, 10.0, 0.5, 3.0), None)
    got = derive_btyd(summary.to_numpy(), bg_only)
    assert np.isfinite(got[:, :2]).all()
    assert np.isnan(got[:, 2:]).all()


def test_customers_without_a_purchase_or_an_impossible_summary_are_empty() -> None:
    params = BtydParams(HORIZON, (0.8, 10.0, 0.5, 3.0), (6.0, 4.0, 15.0))
    rows = np.array(
        [
            [2.0, 30.0, 60.0, 20.0],  # a sound summary
            [0.0, 0.0, np.nan, 0.0],  # never bought: T missing
            [2.0, 70.0, 60.0, 20.0],  # recency beyond T
            [1.5, 30.0, 60.0, 20.0],  # fractional frequency
            [-1.0, 0.0, 60.0, 0.0],  # negative frequency
            [np.nan, 30.0, 60.0, 20.0],  # frequency missing
        ]
    )
    got = derive_btyd(rows, params)
    assert np.isfinite(got[0]).all()
    assert np.isnan(got[1:]).all()


def test_the_encoding_derives_the_columns_after_its_inputs_and_round_trips() -> None:
    summary = _simulated_summary(50).assign(orders_total=3.0)
    params = BtydParams(HORIZON, (0.8, 10.0, 0.5, 3.0), (6.0, 4.0, 15.0))
    encoding = FeatureEncoding.fit(summary, btyd=params)
    assert encoding.columns == (*summary.columns, *BTYD_DERIVED_NAMES)
    assert encoding.inputs == tuple(summary.columns)
    matrix = encoding.transform(summary)
    expected = derive_btyd(summary[list(BTYD_SUMMARY)].to_numpy(), params)
    np.testing.assert_array_equal(matrix[:, -4:], expected)
    again = FeatureEncoding.from_dict(encoding.to_dict())
    assert again == encoding
    np.testing.assert_array_equal(again.transform(summary), matrix)


def test_the_encoding_needs_the_btyd_summary() -> None:
    frame = pd.DataFrame({"orders_total": [1.0, 2.0]})
    with pytest.raises(Exception, match=r"btyd summary columns .*btyd_frequency"):
        FeatureEncoding.fit(frame, btyd=BtydParams(HORIZON, None, None))
