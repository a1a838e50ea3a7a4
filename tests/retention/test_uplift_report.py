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
