"""The report's "Did retention pay?" section: exact figures in the HTML, "so far" when young."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from retention.campaign_results import campaign_results
from retention.campaign_section import measure_all, retention_paid_html
from retention.ledger import Ledger
from tests.retention.test_campaign_results import ECONOMICS, hand_made, write_business


def test_the_fragment_shows_the_hand_computed_figures_and_a_plot() -> None:
    assignments, outcomes = hand_made()
    young = campaign_results(
        assignments, outcomes, ECONOMICS, campaign_id="hand", horizon_days=90, days_observed=30
    )
    page = retention_paid_html([young], ["old-one: not measured: no data after contact"])
    assert "<h2" not in page  # the report renders the section's TITLE
    assert 'data-campaign="hand" data-mature="false"' in page
    assert "so far: 30 of 90 days" in page
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', page)]
    assert values == pytest.approx([2.0, 0.2, 155.0, 32.5, 32.5 / 45])
    assert "+2.0 (95% CI -2.5 to +6.5)" in page
    assert "€155 (95% CI -€58 to €368)" in page
    (b64,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "old-one: not measured" in page


def test_without_campaigns_the_section_says_how_to_get_one() -> None:
    assert "No campaign with a control group has outcomes yet" in retention_paid_html([])


def test_every_campaign_of_the_data_is_measured(tmp_path: Path) -> None:
    config = write_business(tmp_path / "data")
    results, notes = measure_all(config, Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"))
    assert [r.campaign_id for r in results] == ["autumn"]
    assert notes == []
    assert results[0].incremental_customers.estimate == pytest.approx(100.0)
