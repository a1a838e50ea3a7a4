"""One targeting decision: the report's call list is the campaign's contact list, and the tiers
a customer is put in are the thresholds packaged with the models, the same in every output.

A real trained, packaged and scored demo project (``tests/conftest.py``), the real CLI
(``retain campaign``, ``retain report``) on a copy of its scores folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cutoff import Cutoff
from core.errors import ConfigError
from retention.campaign import read_contact_list
from serving.scorer import Scorer
from tests.conftest import TrainedProject
from tests.retention.test_report import Page, cheap_offer_scores

pytestmark = pytest.mark.slow  # trains, packages and scores the demo project


def cli(*args: str) -> str:
    """Run a `retain` command in-process; its output (the command must succeed)."""
    from retain.cli import app, register_commands

    register_commands()
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def report_page(scores: Path, config: Path, out: Path) -> Page:
    """`retain report` on ``scores``, parsed."""
    written = re.search(
        r"report: (\S+)",
        cli("report", "--scores", str(scores), "--config", str(config), "--out", str(out)),
    )
    assert written is not None
    page = Page()
    page.feed(Path(written.group(1)).read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture
def own_scores(trained: TrainedProject, tmp_path: Path) -> Path:
    """A copy of the session's scores folder, so the campaigns planned here stay here, with an
    offer cheap enough for many customers to be worth contacting (``CHEAP_OFFER``)."""
    return cheap_offer_scores(trained, tmp_path / "scores")


def test_after_a_campaign_the_reports_call_list_is_its_contact_list(
    own_scores: Path, trained: TrainedProject, tmp_path: Path
) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    output = cli("campaign", "--budget", "400", "--scores", str(own_scores), "--ledger", ledger)
    campaign_id = re.search(r"^campaign (C\S+): policy", output, re.M)
    listed = re.search(r"contact list \(treatment arm only\): (\S+)", output)
    assert campaign_id is not None, output
    assert listed is not None, output
    contacted = read_contact_list(Path(listed.group(1)))
    assert len(contacted) >= 20  # enough rows for the order to mean something
    assert "high: 60% or more; medium: 30% to under 60%; low: under 30%" in output

    page = report_page(own_scores, trained.config, tmp_path / "report.html")
    head = contacted.head(50)
    assert page.sections["top"] == f"The {len(head)} to call first: campaign {campaign_id[1]}"
    assert page.top_ids == head["customer_id"].tolist()
    assert page.top_ranks == head["rank"].tolist()  # the campaign's ranks, control gaps included
    for field in ("churn_probability", "clv", "expected_gain"):
        assert [f[field] for f in page.top_fields] == head[field].tolist(), field
    assert all(f["expected_gain"] > 0 for f in page.top_fields)
    assert page.rules["top"].startswith(f"The contact list of campaign {campaign_id[1]}")
    assert f"{len(contacted):,} customers" in page.rules["top"]

    # scored again after the campaign: the page still shows the list the CRM was sent, and says so
    from serving.batch import score_base

    score_base(trained.config, Cutoff.parse("latest"), out_dir=own_scores.parent, progress=False)
    later = report_page(own_scores, trained.config, tmp_path / "later.html")
    assert later.top_ids == page.top_ids
    assert later.top_fields == page.top_fields
    assert any(
        n.startswith(f"Campaign {campaign_id[1]} was planned on scores generation")
        for n in later.notes
    )


def test_without_a_campaign_the_report_lists_what_a_campaign_would_contact_first(
    own_scores: Path, trained: TrainedProject, tmp_path: Path
) -> None:
    before = report_page(own_scores, trained.config, tmp_path / "before.html")
    assert before.sections["top"] == "The 50 to call first"
    output = cli(
        "campaign",
        "--budget",
        "1e9",
        "--no-control",
        "--scores",
        str(own_scores),
        "--ledger",
        f"sqlite:///{tmp_path / 'ledger.db'}",
    )
    listed = re.search(r"contact list \(treatment arm only\): (\S+)", output)
    assert listed is not None, output
    head = read_contact_list(Path(listed.group(1))).head(50)
    assert before.top_ids == head["customer_id"].tolist()
    assert before.top_ranks == head["rank"].tolist() == list(range(1, 51))
    for field in ("churn_probability", "clv", "expected_gain"):
        assert [f[field] for f in before.top_fields] == head[field].tolist(), field


def test_tiers_are_the_packaged_thresholds_in_scores_campaign_and_report(
    trained: TrainedProject, local_scorer: Scorer, tmp_path: Path
) -> None:
    scores = pd.read_parquet(trained.scores)
    tiers = local_scorer.risk_tiers
    assert (tiers.high, tiers.medium) == (0.6, 0.3)  # the defaults, packaged by the fixture
    p = scores["churn_probability"]
    expected = ["high" if x >= 0.6 else "medium" if x >= 0.3 else "low" for x in p]
    assert scores["risk_tier"].tolist() == expected
    assert (scores["risk_tier"] == "medium").any()
    assert (scores["risk_tier"] == "low").any()
    page = report_page(trained.scores, trained.config, tmp_path / "report.html")
    assert page.provenance["risk tiers"] == (
        "high: 60% or more; medium: 30% to under 60%; low: under 30% chance of leaving "
        "(recorded with the scored models)"
    )


def test_batch_scores_refuse_a_config_whose_tiers_differ_from_the_packaged_ones(
    trained: TrainedProject, tmp_path: Path
) -> None:
    from serving.batch import score_base

    config = tmp_path / "demo.yaml"
    config.write_text(
        trained.config.read_text() + "risk_tiers: {high: 0.5, medium: 0.2}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        score_base(config, Cutoff.parse("latest"), out_dir=tmp_path / "scores", progress=False)
    assert "risk_tiers (high: 50% or more; medium: 20% to under 50%" in str(err.value)
    assert f"run `retain package --config {config}`" in str(err.value)
