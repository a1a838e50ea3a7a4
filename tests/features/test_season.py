"""The season family on a tiny hand-computed frame.

Cutoff 2021-06-30 (ISO week 26). The year-ago window is (2020-06-30, 2020-09-28]: it starts 365
days before the cutoff and lasts 90 days, all of it long before the cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.catalogue import BY_NAME, SEASON_WINDOW, family_features
from features.loading import CustomerData
from tests.features.tables import tx

CUTOFF = "2021-06-30"
ANGLE = 2 * np.pi * 26 / 52.1775


@pytest.fixture(scope="module")
def shop() -> CustomerData:
    """a: bought 2020-03-01 (a year of history); in the window order Y1 (30) on 2020-07-01 and
    a return of 5 on 2020-09-28 (its last day); 100 on 2020-09-29 (one day after the window);
    50 on 2021-06-01.
    b: first purchase on 2020-06-30, the window's start, which the window excludes: known, but
    nothing bought in it.
    c: first purchase 2020-07-15, less than a year before the cutoff: no year-ago values.
    """
    return CustomerData(
        tx(
            ("a", "2020-03-01T10:00:00", 10.0, "A0", 1),
            ("a", "2020-07-01T10:00:00", 30.0, "Y1", 1),
            ("a", "2020-09-28T10:00:00", -5.0, "Y1-R", -1),
            ("a", "2020-09-29T10:00:00", 100.0, "A2", 1),
            ("a", "2021-06-01T10:00:00", 50.0, "A3", 1),
            ("b", "2020-06-30T10:00:00", 20.0, "B1", 1),
            ("c", "2020-07-15T10:00:00", 15.0, "C1", 1),
        )
    )


def test_season_family_by_hand(shop: CustomerData) -> None:
    frame = build_features(shop, CUTOFF, families=["season"])
    assert list(frame.columns) == family_features("season")
    want = pd.DataFrame(
        {
            "cutoff_week_sin": [np.sin(ANGLE)] * 3,
            "cutoff_week_cos": [np.cos(ANGLE)] * 3,
            f"orders_year_ago_{SEASON_WINDOW}d": [1.0, 0.0, np.nan],
            f"spend_year_ago_{SEASON_WINDOW}d": [25.0, 0.0, np.nan],
        },
        index=pd.Index(["a", "b", "c"], name="customer_id", dtype="str"),
    )
    pd.testing.assert_frame_equal(frame, want, check_exact=False, rtol=1e-12, atol=0)


def test_late_december_sits_next_to_early_january(shop: CustomerData) -> None:
    """The cyclic encoding: ISO week 52 of 2020 and week 1 of 2021 are neighbours on the circle,
    far from week 26."""

    def point(day: str) -> np.ndarray:
        row = build_features(shop, day, families=["season"]).iloc[0]
        return np.array([row["cutoff_week_sin"], row["cutoff_week_cos"]])

    december, january, june = point("2020-12-27"), point("2021-01-05"), point(CUTOFF)
    assert np.linalg.norm(december - january) < 0.15
    assert np.linalg.norm(december - june) > 1.9


def test_year_ago_window_ignores_everything_after_it(shop: CustomerData) -> None:
    """Leakage-safe: purchases after the window (and after the cutoff) change nothing."""
    later = CustomerData(
        pd.concat(
            [
                shop.transactions,
                tx(("b", "2021-06-30T20:00:00", 999.0, "B9", 1), ("b", "2021-08-01", 5.0)),
            ],
            ignore_index=True,
        )
    )
    cols = [f"orders_year_ago_{SEASON_WINDOW}d", f"spend_year_ago_{SEASON_WINDOW}d"]
    before = build_features(shop, CUTOFF, families=["season"])[cols]
    after = build_features(later, CUTOFF, families=["season"])[cols]
    pd.testing.assert_frame_equal(before, after)


def test_catalogue_describes_the_season_family() -> None:
    assert family_features("season") == [
        "cutoff_week_sin",
        "cutoff_week_cos",
        f"orders_year_ago_{SEASON_WINDOW}d",
        f"spend_year_ago_{SEASON_WINDOW}d",
    ]
    assert all(BY_NAME[n].source == "transactions" for n in family_features("season"))


def test_season_reasons_read_in_plain_words() -> None:
    from features.catalogue import reason_label

    assert reason_label("cutoff_week_sin", 0.3) == "the time of year"
    assert reason_label(f"orders_year_ago_{SEASON_WINDOW}d", 1.0) == (
        f"1 order in the same {SEASON_WINDOW} days last year"
    )
    assert reason_label(f"spend_year_ago_{SEASON_WINDOW}d", None) == "less than a year of history"
