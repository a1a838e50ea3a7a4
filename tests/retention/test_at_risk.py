"""Accounts at risk: medium and high risk only, their value at risk summed; reasons that raise risk."""

from __future__ import annotations

import pandas as pd

from retention.at_risk import risk_raising_labels, summarise_at_risk


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["big-low", "a", "b", "c", "d", "tie"],
            "risk_tier": ["low", "high", "medium", "high", "low", "medium"],
            "value_at_risk": [900.0, 50.0, 70.0, 10.0, 5.0, 50.0],
            "reason_1": ["days_since_last_purchase"] * 6,
            "reason_1_value": ["133", "40", "", "7", "3", "12"],
            "reason_1_direction": ["raises risk"] * 3 + ["lowers risk"] * 3,
            "reason_2": ["spend_trend_90d"] * 6,
            "reason_2_value": ["0.4"] * 6,
            "reason_2_direction": ["lowers risk", "raises risk"] * 3,
        }
    )


def test_low_risk_customers_are_left_out_however_valuable() -> None:
    summary = summarise_at_risk(_scores())
    assert (summary.customers, summary.value_at_risk) == (4, 180.0)


def test_only_risk_raising_reasons_are_labelled() -> None:
    labels = risk_raising_labels(_scores(), lambda x: f"${x:,.0f}")
    assert labels == [
        ["no purchase for 133 days"],
        ["no purchase for 40 days", "spend down 60% on the previous 90 days"],
        ["never bought"],
        ["spend down 60% on the previous 90 days"],
        [],
        ["spend down 60% on the previous 90 days"],
    ]
