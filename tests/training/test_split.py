"""Out-of-time splits: no label used for training or tuning overlaps the test horizon."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import CutoffError
from training.frame import out_of_time_split

MONTH_ENDS = list(pd.date_range("2023-01-31", "2024-09-30", freq="ME"))


def test_test_is_latest_validation_ends_before_it_and_training_before_that() -> None:
    split = out_of_time_split(MONTH_ENDS, 90)
    assert split.test == pd.Timestamp("2024-09-30")
    # 2024-06-30 + 90 days = 2024-09-28 <= test; 2024-07-31 + 90 > test
    assert split.validation == pd.Timestamp("2024-06-30")
    # training horizons end by the validation cutoff: 2024-03-31 + 90 = 2024-06-29
    assert split.train[-1] == pd.Timestamp("2024-03-31")
    assert split.train[0] == pd.Timestamp("2023-01-31")
    horizon = pd.Timedelta(days=90)
    assert all(c + horizon <= split.validation for c in split.train)
    assert split.validation + horizon <= split.test


def test_max_train_keeps_the_latest_cutoffs() -> None:
    split = out_of_time_split(MONTH_ENDS, 30, max_train=3)
    assert split.train == [
        pd.Timestamp("2024-05-31"),
        pd.Timestamp("2024-06-30"),
        pd.Timestamp("2024-07-31"),
    ]
    assert split.validation == pd.Timestamp("2024-08-31")


def test_order_of_the_given_cutoffs_does_not_matter() -> None:
    assert out_of_time_split(MONTH_ENDS[::-1], 60) == out_of_time_split(MONTH_ENDS, 60)


@pytest.mark.parametrize(
    ("cutoffs", "horizon", "message"),
    [
        ([], 90, "no cutoffs to split"),
        (MONTH_ENDS[-2:], 90, "no cutoff ends its 90-day horizon by the test cutoff 2024-09-30"),
        (
            MONTH_ENDS[-5:],
            90,
            "no training cutoff ends its 90-day horizon by the validation cutoff 2024-06-30",
        ),
    ],
)
def test_too_little_history_is_an_error_that_says_what_to_change(cutoffs, horizon, message) -> None:
    with pytest.raises(CutoffError, match=message):
        out_of_time_split(cutoffs, horizon)
