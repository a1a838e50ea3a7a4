"""The report draws the trust section from the champion's model card, and says what is missing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from model.card import CalibrationCurve, GainCurve
from retention.report_plots import card_plots
from tests.serving.support import tiny_scorer


@pytest.fixture(scope="module")
def card() -> Any:
    return tiny_scorer().churn.card


def test_curves_metrics_and_dates_come_from_the_card(card: Any) -> None:
    full = card.model_copy(
        update={
            "test_metrics": {"roc_auc": 0.8125, "brier": 0.1},
            "calibration": CalibrationCurve(predicted=[0.1, 0.5, 0.9], observed=[0.12, 0.45, 0.88]),
            "gain": GainCurve(share=[0.0, 0.5, 1.0], reached=[0.0, 0.8, 1.0]),
        }
    )
    figures, info, notes = card_plots({"churn": full})
    assert notes == []
    assert set(figures) == {"calibration", "gain"}
    for png in figures.values():
        assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert info == {
        "trained": "2024-12-31 12:00 UTC",
        "test_cutoff": "2024-09-30",
        "metrics": {"roc_auc": 0.8125, "brier": 0.1},
    }


def test_a_card_without_curves_or_no_card_is_said_on_the_page(card: Any) -> None:
    figures, info, notes = card_plots({"churn": card})
    assert figures == {}
    assert info["test_cutoff"] == "2024-09-30"
    assert notes == [
        "calibration plot unavailable: the churn model's card has no calibration curve",
        "gain plot unavailable: the churn model's card has no gain curve",
    ]
    assert card_plots({}) == (
        {},
        {},
        ["training plots unavailable: no model cards beside the scores; rerun `retain score`"],
    )


def test_calibration_warning_only_beyond_the_limit() -> None:
    from types import SimpleNamespace

    from retention.report_figures import calibration_warning

    assert calibration_warning(None) is None
    assert calibration_warning(SimpleNamespace()) is None  # cards without the field: no slot
    assert calibration_warning(SimpleNamespace(calibration_bias=0.02)) is None
    over = calibration_warning(
        SimpleNamespace(calibration_bias={"bias": 0.109, "mean_predicted": 0.54, "observed": 0.431})
    )
    assert over is not None
    assert "over-predicted leaving by 10.9 points" in over
    assert "(predicted 54.0% on average against 43.1% observed)" in over
    assert "beyond the 3-point limit" in over
    under = calibration_warning(SimpleNamespace(calibration_bias={"bias": -0.04, "limit": 0.05}))
    assert under is None
    assert "under-predicted" in str(calibration_warning(SimpleNamespace(calibration_bias=-0.05)))


def test_extra_sections_and_warnings_are_rendered_in_place() -> None:
    import pandas as pd

    from core.economics import Economics
    from retention.report_html import ReportData, render

    data = ReportData(
        as_of=pd.Timestamp("2024-12-31"),
        kpis=[],
        figures={},
        top=pd.DataFrame(
            columns=["customer_id", "risk_tier", "churn_probability", "value_at_risk"]
        ),
        provenance={},
        economics=Economics(currency="EUR"),
        warnings=["Calibration warning: x"],
        extra_sections=[("Did retention pay?", "<p id='paid'>yes</p>")],
    )
    page = render(data)
    assert '<p class="warning" id="calibration-warning">Calibration warning: x</p>' in page
    assert "<h2 id=\"did-retention-pay\">Did retention pay?</h2><p id='paid'>yes</p>" in page
    assert page.index("did-retention-pay") > page.index('id="top"')
    assert "amounts in EUR" in page
