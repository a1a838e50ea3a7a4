"""The report's figures for a churn-only package: a value from the recurring charge is stated as
such; without one, no amount appears (no "n/a", no 0), and the campaign (whose contacted list
is the report's call list) ranks by churn risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.economics import Economics
from retention.at_risk import summarise_at_risk
from retention.report_figures import compute_kpis, headlines


def scores(value: bool) -> pd.DataFrame:
    """Four customers; values (when known) ranked against churn risk on purpose."""
    p = np.array([0.9, 0.7, 0.4, 0.1])
    staying = np.array([12.0, 40.0, 60.0, 40.0]) if value else np.full(4, np.nan)
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churn_probability": p,
            "risk_tier": ["high", "high", "medium", "low"],
            "clv": np.nan,
            "value_if_staying": staying,
            "value_at_risk": p * staying * 0.5,
        }
    )


def kpis(table: pd.DataFrame) -> tuple[dict[str, str], list[str]]:
    found, notes = compute_kpis(
        table,
        None,
        pd.Timestamp("2024-06-30"),
        90,
        contractual=False,
        active_days=365,
        economics=Economics(gross_margin=0.5),
    )
    return {k.key: k.shown() for k in found}, notes


def test_value_from_the_recurring_charge_is_shown_and_stated() -> None:
    shown, notes = kpis(scores(value=True))
    assert "mean_clv" not in shown
    assert "total_clv" not in shown
    # p x staying x 0.5: a 5.4, b 14, c 12 (medium and high risk), d 2
    assert shown["at_risk_value"] == "$31"
    assert shown["total_value_at_risk"] == "$33"
    assert any("recurring charge" in n for n in notes)


def test_without_value_no_amount_is_shown_and_accounts_rank_by_risk() -> None:
    table = scores(value=False)
    shown, notes = kpis(table)
    assert not {"mean_clv", "total_clv", "at_risk_value", "total_value_at_risk"} & set(shown)
    observed = ("churn_rate", "retention_rate")  # no labels are given to this test
    assert not any("n/a" in v for k, v in shown.items() if k not in observed)
    assert any(n.startswith("value unknown") for n in notes)
    assert np.isnan(summarise_at_risk(table).value_at_risk)
    lines = headlines(table, [], Economics(), 90, None)
    assert lines[0].text.startswith("{at_risk_customers} medium- and high-risk customers could")
    assert "value is unknown" in lines[0].text
    assert lines[0].numbers["at_risk_customers"] == (3.0, "3")


def test_a_campaign_without_value_ranks_by_risk_and_claims_no_profit() -> None:
    from retention.campaign import CampaignParams, plan
    from retention.targeting import RISK_ONLY

    table = scores(value=False)
    # spend per contact 1 + 10 x (0.3 p + 1 - p): a 4.7, b 6.1, c 8.2; a budget of 12 takes a, b
    result = plan(table, CampaignParams.checked(budget=12.0, no_control=True))
    assert result.policy == RISK_ONLY
    assert result.contacted["customer_id"].tolist() == ["a", "b"]
    lines = result.lines()
    assert any(line.startswith("value unknown (no CLV model") for line in lines)
    assert any("1.6 expected would-be churners reached" in line for line in lines)
    assert not any("expected profit $" in line or "optimum" in line for line in lines)
