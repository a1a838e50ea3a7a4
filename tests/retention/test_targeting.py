"""Targeting by the offer's effect: hand-computed profits, sleeping dogs left alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.economics import Economics
from retention.campaign import CONTACT, NO_ACTION, CampaignParams, plan
from retention.targeting import RISK_VALUE, UPLIFT_POLICY, uplift_targeting

ECONOMICS = Economics(gross_margin=0.5, offer_cost=10.0, contact_cost=1.0, acceptance=0.3)


def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["persuadable", "sleeping_dog", "sure_thing", "big_dog"],
            "churn_probability": [0.6, 0.5, 0.1, 0.9],
            "clv": [200.0, 300.0, 400.0, 5000.0],
            "uplift": [0.2, -0.1, 0.01, -0.3],
            "expected_incremental_value": [80.0, -40.0, 4.0, 900.0],
            "risk_tier": ["high", "medium", "low", "high"],
        }
    )


def test_incremental_profit_by_hand_and_no_contact_without_a_positive_effect() -> None:
    targeting = uplift_targeting(scores(), ECONOMICS)
    assert targeting.policy == UPLIFT_POLICY
    # persuadable: 80 x 0.5 - 1 - 10 x (1 - 0.6 + 0.2) = 40 - 1 - 6 = 33
    # sure thing: 4 x 0.5 - 1 - 10 x (1 - 0.1 + 0.01) = 2 - 1 - 9.1 = -8.1
    # big dog: its value effect says +900, but the offer raises its churn: gain capped at 0
    np.testing.assert_allclose(targeting.gain, [33.0, -40 * 0.5 - 1 - 10 * 0.4, -8.1, 0.0])
    np.testing.assert_allclose(targeting.spend, [7.0, 1 + 10 * 0.4, 10.1, 1.0])
    result = plan(scores(), CampaignParams.checked(budget=1e6, no_control=True))
    assert result.policy == UPLIFT_POLICY
    actions = result.table.set_index("customer_id")["recommended_action"]
    assert actions["persuadable"] == CONTACT
    assert (actions[["sleeping_dog", "big_dog", "sure_thing"]] == NO_ACTION).all()
    assert "uplift" in result.table
    assert "2 customers whose predicted effect of the offer is not positive" in "\n".join(
        result.lines()
    )


def test_uplift_times_value_when_the_model_gives_no_value_effect() -> None:
    frame = scores().drop(columns=["expected_incremental_value"])
    # persuadable: 0.2 x 200 x 0.5 - 1 - 6 = 13
    assert uplift_targeting(frame, ECONOMICS).gain[0] == pytest.approx(13.0)


def test_without_uplift_the_risk_value_policy_is_labelled_an_assumption_with_advice() -> None:
    frame = scores().drop(columns=["uplift", "expected_incremental_value"])
    result = plan(frame, CampaignParams.checked(budget=1e6))
    assert result.policy == RISK_VALUE
    lines = "\n".join(result.lines())
    assert "assumption, not a measurement" in lines
    assert "power: the assumed effect" in lines


def planted_scores() -> pd.DataFrame:
    """Two persuadables worth contacting, two sleeping dogs, a customer whose small effect does
    not pay for the offer, and one the scores give no churn probability."""
    return pd.DataFrame(
        {
            "customer_id": ["p1", "p2", "dog1", "dog2", "small", "unscored"],
            "churn_probability": [0.6, 0.5, 0.5, 0.9, 0.1, np.nan],
            "clv": [200.0, 150.0, 300.0, 5000.0, 400.0, 100.0],
            "uplift": [0.2, 0.15, -0.04, -0.3, 0.01, 0.1],
            "expected_incremental_value": [80.0, 60.0, -31.7, 900.0, 4.0, 10.0],
            "risk_tier": ["high", "medium", "medium", "high", "low", "low"],
        }
    )


def run_campaign(tmp_path: Path, *flags: str) -> tuple[str, pd.DataFrame]:
    """`retain campaign` on the planted scores; its output and its contact list."""
    from retain.cli import app, register_commands

    register_commands()
    scores = tmp_path / "scores.parquet"
    planted_scores().to_parquet(scores)
    args = ["campaign", "--budget", "1000", "--scores", str(scores), "--no-control"]
    ledger = ["--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--offer-cost", "10"]
    done = CliRunner().invoke(app, [*args, *ledger, "--contact-cost", "1", *flags])
    assert done.exit_code == 0, done.output
    listed = re.search(r"contact list \(treatment arm only\): (\S+)", done.output)
    assert listed is not None, done.output
    return done.output, pd.read_csv(listed.group(1), dtype={"customer_id": str})


def test_a_campaign_never_contacts_a_negative_incremental_profit_and_says_how_many(
    tmp_path: Path,
) -> None:
    output, contacted = run_campaign(tmp_path)
    assert contacted["customer_id"].tolist() == ["p1", "p2"]
    assert (contacted["expected_gain"] > 0).all()
    assert "left out: 2 customers whose predicted effect of the offer is not positive" in output
    assert (
        "left out: 1 customer whose expected incremental profit is not positive (the offer's "
        "effect is worth less than the offer and the contact)"
    ) in output
    assert "left out: 1 customer without a churn probability or value in the scores" in output


def test_include_negative_contacts_them_after_the_profitable_ones(tmp_path: Path) -> None:
    output, contacted = run_campaign(tmp_path, "--include-negative")
    ids = contacted["customer_id"].tolist()
    assert ids[:2] == ["p1", "p2"]
    assert sorted(ids[2:]) == ["dog1", "dog2", "small"]  # never the one without a score
    assert (contacted["expected_gain"].iloc[2:] <= 0).all()
    assert contacted["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (
        "--include-negative: 3 customers whose expected gain is not positive are ranked after "
        "the profitable ones and contacted if the budget allows (3 are)"
    ) in output
    assert "left out: 1 customer without a churn probability or value in the scores" in output
    settings = json.loads((tmp_path / "campaign.json").read_text())
    assert settings["include_negative"] is True  # recorded: the report plans alike


def test_the_campaign_names_its_policy_with_held_out_figures_or_what_it_falls_back_to() -> None:
    from retention.targeting import FALLBACK_WHY, RISK_VALUE, UPLIFT_POLICY, policy_lines

    assert policy_lines(None, RISK_VALUE) == [f"{FALLBACK_WHY} {RISK_VALUE}"]
    figures = {
        "qini": 0.0312,
        "qini_low": 0.0221,
        "qini_high": 0.0417,
        "auuc": 0.0101,
        "auuc_low": 0.0052,
        "auuc_high": 0.0150,
        "profit_at_budget": 1234.4,
        "profit_at_budget_low": -50.0,
        "profit_at_budget_high": 2500.0,
    }
    card = {
        "policy": {
            "policy": "x_learner",
            "reason": "it has the highest validation Qini",
            "served": True,
            "level": 0.95,
            "test_rows": 900,
            "figures": {"x_learner": figures, "incremental_profit": {"qini": None}},
        }
    }
    assert policy_lines(card, UPLIFT_POLICY) == [
        "targeting policy: uplift model (X-learner) (x_learner), ranked by the uplift model's "
        "expected incremental profit; chosen on validation: it has the highest validation Qini",
        "its held-out figures on 900 past campaign customers (95% intervals): qini 0.0312 "
        "(0.0221 to 0.0417), auuc 0.0101 (0.0052 to 0.0150), profit_at_budget 1,234 (-50 to "
        "2,500)",
    ]
    by_hand = {"policy": {**card["policy"], "served": False, "policy": "response"}}
    first, second = policy_lines(by_hand, UPLIFT_POLICY)
    assert first.endswith("the uplift model was promoted by hand")
    assert "on validation response model (response) was chosen" in first
    assert second.endswith(
        "qini not measurable, auuc not measurable, profit_at_budget not measurable"
    )


def response_card(profit: float) -> dict[str, object]:
    """An uplift card whose competition the response model won: `profit` over 20 of 100."""
    figures = {"profit_at_budget": profit, "profit_at_budget_low": None, "qini": 0.01}
    return {
        "policy": {
            "policy": "response",
            "reason": "simplest within one standard error",
            "served": True,
            "budget_share": 0.4,
            "contacts": 20,
            "test_rows": 100,
            "level": 0.95,
            "figures": {"response": figures},
        }
    }


def test_a_winning_response_model_ranks_the_campaign_within_the_share_it_was_measured_at() -> None:
    from retention.targeting import choose_targeting

    table = scores().assign(offer_response=[0.3, 0.9, 0.5, np.nan])
    targeting = choose_targeting(table, ECONOMICS, response_card(200.0))
    assert targeting.policy == "response model (response)"
    # the top 40% of 4 scored (2 customers) by offer_response, each worth 200 / 20 = 10
    np.testing.assert_array_equal(targeting.gain, [np.nan, 10.0, 10.0, np.nan])
    # spend: contact + offer x P(retained | offered), the response model's probability
    assert targeting.spend[1] == pytest.approx(1.0 + 10.0 * 0.9)
    result = plan(table, CampaignParams(budget=1000.0, economics=ECONOMICS, control_share=0.0))
    assert result.policy == UPLIFT_POLICY  # without the card: the uplift model's profit
    result = plan(
        table,
        CampaignParams(budget=1000.0, economics=ECONOMICS, control_share=0.0),
        lambda s, e: choose_targeting(s, e, response_card(200.0)),
    )
    assert result.contacted["customer_id"].tolist() == ["sleeping_dog", "sure_thing"]
    assert result.contacted["rank"].tolist() == [1, 2]  # by offer_response, not by gain
    assert result.left_out == {
        "with no offer_response in the scores": 1,
        "ranked below the top 40% by offer_response, the share at which the policy's profit "
        "was measured": 1,
    }
    # a policy that lost money where it was measured contacts nobody
    losing = plan(
        table,
        CampaignParams(budget=1000.0, economics=ECONOMICS, control_share=0.0),
        lambda s, e: choose_targeting(s, e, response_card(-40.0)),
    )
    assert losing.contacted.empty
    assert list(losing.left_out.values())[-1] == 2


def test_unpromoted_lines_say_why_the_campaign_falls_back() -> None:
    from model.registry import Tag
    from retention.targeting import unpromoted_lines

    assert unpromoted_lines({Tag.DECISION: "champion", Tag.POLICY: "random"}, "u:1") == []
    assert unpromoted_lines({}, "u:1") == []
    (line,) = unpromoted_lines(
        {Tag.DECISION: "challenger", Tag.POLICY: "random", Tag.REASON: "nothing beat it"}, "u:2"
    )
    assert line.startswith(
        "no targeting policy beat random order on past campaigns (uplift version u:2: "
        "nothing beat it); the campaign ranks by risk-value"
    )
    (line,) = unpromoted_lines({Tag.DECISION: "challenger", Tag.POLICY: "response"}, "u:3")
    assert line.startswith("the targeting policy chosen on past campaigns was not promoted")
