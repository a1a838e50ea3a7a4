"""serving.report draws the trust section from the champion's model card, and says what is missing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from model.card import CalibrationCurve, GainCurve
from serving.report import card_plots
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
