"""The derived BTYD features: point-in-time, equal to the fitters, degraded where unreliable."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
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
from training.baselines import BGNBD_PAIRS, clipped_params, cutoff_btyd_params
from training.btyd import BetaGeoFitter, GammaGammaFitter

PROPERTY = settings(max_examples=20, deadline=timedelta(seconds=20), database=None)
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


CUTOFF_DAYS = (200, 240, 280, 320)


@cache
def base_btyd_at(cutoff_day: int) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The BTYD features of the base history up to ``cutoff_day``, computed once per cutoff."""
    cutoff = pd.Timestamp(stamp(cutoff_day)[:10])
    before = [r for r in BASE if pd.Timestamp(r["timestamp"]) < cutoff + pd.Timedelta(days=1)]
    features, notes = btyd_at(before, cutoff)
    return features, tuple(notes)


def _later(cutoff_day: int, later: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Generated rows as transactions ``offset`` days after the cutoff."""
    return [
        {
            "customer_id": r["customer_id"],
            "timestamp": stamp(cutoff_day + r["offset"], 9),
            "amount": r["amount"],
        }
        for r in later
    ]


@pytest.mark.parametrize("cutoff_day", CUTOFF_DAYS)
def test_the_base_history_gives_sound_fits_and_every_feature(cutoff_day: int) -> None:
    # the precondition of the property below, checked once per cutoff rather than per example
    features, notes = base_btyd_at(cutoff_day)
    assert notes == ()
    assert len(features) > 40
    assert features.notna().all().all()


@PROPERTY
@given(cutoff_day=st.sampled_from(CUTOFF_DAYS), later=later_rows)
def test_events_after_the_cutoff_never_change_the_btyd_features(
    cutoff_day: int, later: list[dict[str, Any]]
) -> None:
    expected, notes = base_btyd_at(cutoff_day)
    cutoff = pd.Timestamp(stamp(cutoff_day)[:10])
    before = [r for r in BASE if pd.Timestamp(r["timestamp"]) < cutoff + pd.Timedelta(days=1)]
    got, got_notes = btyd_at(before + _later(cutoff_day, later), cutoff)
    pd.testing.assert_frame_equal(got, expected)
    assert tuple(got_notes) == notes


def test_the_same_events_before_the_cutoff_do_change_the_btyd_features() -> None:
    # the property above can fail: moved 30 days earlier, the same rows change the features
    rows = [{"customer_id": c, "offset": 1, "amount": 25.0} for c in (*BASE_IDS[:5], "n0")]
    expected, _ = base_btyd_at(240)
    cutoff = pd.Timestamp(stamp(240)[:10])
    before = [r for r in BASE if pd.Timestamp(r["timestamp"]) < cutoff + pd.Timedelta(days=1)]
    got, _ = btyd_at(before + _later(240 - 31, rows), cutoff)
    assert "n0" in got.index
    assert "n0" not in expected.index
    assert not np.allclose(got.loc[expected.index], expected)


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


def test_a_degenerate_bgnbd_fit_degrades_with_a_note_instead_of_emptying() -> None:
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
    assert params.bgnbd is not None
    assert params.gamma_gamma is None
    assert all(1e-4 <= v <= 1e4 for v in params.bgnbd)
    assert notes[0].startswith("BTYD features at 2024-01-31: BG/NBD fit unreliable")
    assert "purchase-rate parameters at the boundary" in notes[0]
    assert notes[0].endswith("the features use its parameters moved into [0.0001, 10000]")
    assert "fewer than 20 repeat buyers" in notes[1]
    got = derive_btyd(summary.to_numpy(), params)
    assert np.isfinite(got[:, :2]).all()
    np.testing.assert_array_equal(got[:, 0], 1.0)  # no repeat purchase: nobody has dropped out
    assert np.isnan(got[:, 2:]).all()  # no repeat spend at all: nothing to derive spend from


def test_degenerate_bgnbd_and_gamma_gamma_fits_still_give_every_feature() -> None:
    # everyone buys every week (nobody drops out: a -> 0) and always spends 25 (no spread
    # between customers): both fits are unreliable, every feature is still there, ordered
    rng = np.random.default_rng(0)
    age = rng.integers(200, 400, 400).astype(float)
    summary = pd.DataFrame(
        {
            "btyd_frequency": np.floor(age / 7),
            "btyd_recency": age,
            "btyd_T": age,
            "btyd_monetary_value": np.full(400, 25.0),
        }
    )
    params, notes = cutoff_btyd_params(summary, HORIZON, pd.Timestamp("2024-01-31"))
    assert notes[0].startswith("BTYD features at 2024-01-31: BG/NBD fit unreliable (dropout")
    assert notes[0].endswith("the features use its parameters moved into [0.0001, 10000]")
    got = derive_btyd(summary.to_numpy(), params)
    assert np.isfinite(got).all()
    # more purchases over the same age never lowers the expected purchases
    order = np.lexsort((summary["btyd_frequency"], summary["btyd_T"]))
    same_age = np.diff(summary["btyd_T"].to_numpy()[order]) == 0
    assert np.all(np.diff(got[order, 1])[same_age] >= 0)


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


def test_a_pair_that_runs_off_together_keeps_its_ratio_when_moved_into_range() -> None:
    # a and b toward infinity with a / (a + b) = 1 / 476: both scaled so b is 10,000
    moved = clipped_params((0.5, 8.0, 1320.0, 627_000.0), BGNBD_PAIRS)
    assert moved is not None
    np.testing.assert_allclose(moved, (0.5, 8.0, 1320.0 * 10_000 / 627_000, 10_000.0), rtol=1e-12)
    # a toward 0: scaled with b, then raised to the lower bound; r and alpha untouched
    assert clipped_params((0.5, 8.0, 3e-6, 20_000.0), BGNBD_PAIRS) == (0.5, 8.0, 1e-4, 10_000.0)
    assert clipped_params((0.5, np.inf, 1.0, 2.0), BGNBD_PAIRS) is None
