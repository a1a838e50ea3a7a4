"""Uplift rows from a snapshots table's randomized tests: joined, counted, split by outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build import CUTOFF
from training.uplift_data import RETAINED, TREATED, snapshot_campaign_rows, split_rows

DAY = pd.Timestamp("2024-06-30")


def _frame(n: int) -> pd.DataFrame:
    """A labelled training frame of ``n`` customers on one as_of day."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            CUTOFF: DAY,
            "attr_plan": rng.choice(["a", "b"], n),
            "attr_tenure": rng.integers(0, 60, n).astype(float),
            "churn": rng.integers(0, 2, n),
            "future_value": rng.uniform(0, 100, n),
        }
    )


def _tests(frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    n = len(frame)
    base = {
        "customer_id": frame["customer_id"],
        "as_of": DAY,
        "campaign_id": np.where(np.arange(n) % 2 == 0, "wave1", "wave2"),
        "arm": (np.arange(n) // 2 % 2).astype("int8"),
        "contacted_at": DAY + pd.Timedelta(days=1),
        "response": np.nan,
    }
    return pd.DataFrame({**base, **columns})


def test_rows_contacted_before_their_as_of_are_counted_and_left_out() -> None:
    frame = _frame(40)
    contacted = np.where(np.arange(40) < 3, DAY - pd.Timedelta(days=5), DAY + pd.Timedelta(days=1))
    tests = _tests(frame, contacted_at=contacted)
    rows = snapshot_campaign_rows(frame, ["attr_plan", "attr_tenure"], tests, has_value=True)
    assert len(rows.frame) == 37
    # customers 0 and 2 are in wave1, 1 in wave2 (even rows wave1)
    assert rows.lines[0] == (
        "campaign wave1 (snapshot test, contacted 2024-07-01): 18 customers (9 treated, "
        "9 control); 2 contacted before their as_of day, not used (attributes may show the offer)"
    )
    assert rows.lines[1].startswith("campaign wave2 (snapshot test, contacted 2024-07-01): 19 ")
    # without a response the outcome is staying
    np.testing.assert_array_equal(rows.frame[RETAINED], 1 - rows.frame["churn"])
    assert rows.features == ["attr_plan", "attr_tenure"]
    assert rows.by_outcome


def test_a_mapped_response_is_the_outcome_and_no_value_label_is_said() -> None:
    frame = _frame(40)
    response = np.arange(40) % 3 == 0
    tests = _tests(frame, response=response.astype(float))
    rows = snapshot_campaign_rows(frame, ["attr_plan"], tests, has_value=True)
    np.testing.assert_array_equal(rows.frame[RETAINED], response.astype(int))
    assert "outcome: the mapped response (1 = the good outcome), not churn" in rows.lines
    none = snapshot_campaign_rows(frame, ["attr_plan"], tests, has_value=False)
    assert none.frame.empty
    assert not none.usable
    assert "map the spend after as_of (data.snapshots.columns.future_value)" in none.lines[-1]


def test_the_split_keeps_each_campaign_arm_and_outcome_share() -> None:
    frame = _frame(400)
    rows = snapshot_campaign_rows(frame, ["attr_plan"], _tests(frame), has_value=True)
    parts = split_rows(rows, 0.3, seed=0)
    keys = [rows.frame["campaign_id"], rows.frame[TREATED], rows.frame[RETAINED]]
    share = pd.Series(parts == "test").groupby(keys).mean()
    assert len(share) == 8  # two campaigns x two arms x two outcomes
    assert share.between(0.25, 0.35).all()
