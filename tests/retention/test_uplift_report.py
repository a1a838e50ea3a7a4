"""The report's uplift section from a model card's Qini curves."""

from __future__ import annotations

import base64
import re

from retention.uplift_report import qini_section


def card(model: list[float], risk: list[float]) -> dict[str, object]:
    return {
        "qini_curves": {
            "x_learner": model,
            "churn_risk": risk,
            "random": [i / 10 * 0.01 for i in range(11)],
        },
        "test_rows": 1324,
        "campaigns": {"spring_winback": "2024-02-29"},
    }


def test_section_states_both_rankings_at_20_percent_and_inlines_the_plot() -> None:
    model = [0, 0.01, 0.02, 0.025, 0.027, 0.028, 0.028, 0.027, 0.025, 0.02, 0.01]
    risk = [0, 0.0, 0.001, 0.002, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01]
    html = qini_section(card(model, risk))
    # at 20% (index 2 of 11 points): 0.02 and 0.001 of the base, per 100 customers
    assert "keeps 2.0 more customers per 100" in html
    assert "churn risk keeps 0.1." in html
    assert "finds the customers the offer actually moves" in html
    assert "1,324 customers" in html
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert png is not None
    assert base64.b64decode(png.group(1)).startswith(b"\x89PNG")


def test_section_says_so_when_the_model_does_not_beat_churn_risk_and_is_empty_without_curves() -> (
    None
):
    flat = [0.0] * 11
    risk = [0, 0.005, 0.01, 0.012, 0.013, 0.014, 0.014, 0.013, 0.012, 0.011, 0.01]
    assert "does not beat targeting by churn risk" in qini_section(card(flat, risk))
    assert qini_section({}) == ""


def policy_card(
    response_qini: tuple[float, float, float], served: bool = False
) -> dict[str, object]:
    """A card of the policy competition: random, churn risk, response, X-learner."""

    def row(qini: tuple[float, float, float], profit: float) -> dict[str, float | None]:
        return {
            "qini": qini[0],
            "qini_low": qini[1],
            "qini_high": qini[2],
            "auuc": qini[0] / 2,
            "auuc_low": qini[1] / 2,
            "auuc_high": qini[2] / 2,
            "profit_at_budget": profit,
            "profit_at_budget_low": profit - 900.0,
            "profit_at_budget_high": profit + 900.0,
        }

    figures = {
        "random": row((0.0004, -0.006, 0.007), -120.0),
        "churn_risk": row((0.002, -0.004, 0.008), 80.0),
        "response": row(response_qini, 2500.0),
        "x_learner": row((0.004, -0.002, 0.010), 1200.0),
    }
    line = [i / 10 * 0.01 for i in range(11)]
    return {
        "qini_curves": {name: line for name in figures},
        "policy": {
            "policy": "response",
            "best_on_validation": "x_learner",
            "reason": "the response model is within 1 standard error of the best",
            "served": served,
            "level": 0.95,
            "contacts": 95,
            "test_rows": 477,
            "figures": figures,
        },
    }


def test_the_policy_section_tables_every_policy_with_intervals_and_names_the_choice() -> None:
    html = qini_section(policy_card((0.03, 0.02, 0.04)))
    assert "No policy beat random order; the uplift model was promoted by hand" in html
    served = qini_section(policy_card((0.03, 0.02, 0.04), served=True))
    assert "The campaign targets by response model, chosen on incremental profit" in served
    assert "the response model is within 1 standard error of the best" in html
    assert "<td>response model (chosen)</td><td>0.0300 (0.0200 to 0.0400)</td>" in html
    assert "<td>2,500 (1,600 to 3,400)</td>" in html
    assert "477 customers" in html
    assert "top 95 of them" in html
    assert "Warning" not in html  # its interval is above 0 and apart from random's
    assert html.count("data:image/png;base64,") == 1  # every curve in one plot


def test_the_policy_section_warns_when_the_intervals_cannot_separate_the_policies() -> None:
    html = qini_section(policy_card((0.003, -0.003, 0.009), served=True))
    assert "The campaign targets by response model" in html
    assert "includes 0: on these customers it cannot be told from random targeting" in html
    assert "overlaps every other policy&#x27;s" in html
