"""``retain monitor`` on the session's trained project: realized figures equal hand computations.

Two past generations are scored with the packaged models (real ``retain score`` path) into a
home of the test's own (so the session's lookup table and ledger stay as they were); their
horizons have passed in the demo data, so each gets realized figures, recomputed here from the
recorded scores and ``features.labels.make_labels`` with training's own metric functions.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.config_file import ConfigFile
from core.cutoff import Cutoff
from core.economics import Economics
from core.schema import CUSTOMER_ID
from features.labels import CHURN, make_labels
from features.loading import load_data
from features.prepare import prepare
from retain.cli import app, register_commands
from retention.ledger import CampaignRecord, Ledger
from retention.monitor import RETRAIN, monitor
from retention.monitor_figures import bootstrap, clv_gini, expected_roc_auc
from retention.monitor_section import TITLE
from retention.report import write_report
from serving.batch import score_base
from serving.score_history import ScoreHistory, last_signals
from tests.conftest import TrainedProject
from training.metrics import normalized_gini, roc_auc

DAYS = ("2024-06-30", "2024-09-30")
pytestmark = pytest.mark.slow  # scores the session's trained demo project


@pytest.fixture
def history(trained: TrainedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two generations of the trained project recorded in a home of the test's own."""
    monkeypatch.setenv("RETAIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENTOML_HOME", str(trained.home / "bentoml"))
    monkeypatch.setenv("RETAIN_LEDGER_URL", f"sqlite:///{tmp_path / 'store.db'}")
    for day in DAYS:
        score_base(trained.config, Cutoff.parse(day), out_dir=tmp_path / "scores", progress=False)
    return tmp_path


def test_each_realized_figure_equals_one_recomputed_from_the_recorded_scores_and_labels(
    trained: TrainedProject, history: Path
) -> None:
    store = ScoreHistory()
    first, second = store.generations()
    # a campaign planned as of the first day treated five customers: they are reported apart
    scored = store.scores(first.generation_id)
    treated = scored[CUSTOMER_ID].iloc[:5].tolist()
    Ledger().record(
        CampaignRecord(
            campaign_id="C1",
            created_at=dt.datetime(2024, 7, 1),
            as_of=dt.date(2024, 6, 30),
            horizon_days=90,
            contractual=False,
            policy="risk-value",
            economics=Economics(),
            budget=100.0,
            control_share=0.5,
            seed=0,
            model_versions=first.model_versions,
            scores_generation=first.generation_id,
            n_treatment=5,
            n_control=0,
        ),
        pd.DataFrame(
            {
                CUSTOMER_ID: treated,
                "arm": 1,
                "risk_tier": "high",
                "rank": range(1, 6),
                "churn_probability": 0.5,
                "clv": 1.0,
                "expected_gain": 1.0,
            }
        ),
    )
    result = monitor(trained.config)
    assert [r.as_of for r in result.realized] == list(DAYS)

    data, _ = load_data(ConfigFile.read(trained.config).data())
    prep = prepare(data)
    for record, found in zip((first, second), result.realized, strict=True):
        labels, _ = make_labels(prep, pd.Timestamp(record.as_of), 90, active_days=365)
        rows = store.scores(record.generation_id).join(labels, on=CUSTOMER_ID, how="inner")
        away = rows[CUSTOMER_ID].isin(treated) if record is first else np.zeros(len(rows), bool)
        kept = rows.loc[~away]
        y, p = kept[CHURN].to_numpy(float), kept["churn_probability"].to_numpy()
        spend, value = kept["future_value"].to_numpy(float), kept["clv"].to_numpy()
        figures = found.figures
        assert figures.customers == len(kept) == len(rows) - int(away.sum())
        assert figures.roc_auc.value == pytest.approx(roc_auc(y, p), abs=1e-12)
        assert figures.calibration_bias.value == pytest.approx(p.mean() - y.mean(), abs=1e-12)
        assert figures.clv_gini.value == pytest.approx(normalized_gini(spend, value), abs=1e-12)
        assert figures.clv_bias.value == pytest.approx(value.mean() / spend.mean() - 1, abs=1e-12)
        assert figures.actual_churn == pytest.approx(y.mean())
        for interval in (figures.roc_auc, figures.calibration_bias, figures.clv_gini):
            assert interval.low < interval.value < interval.high
        again = bootstrap(clv_gini, spend, value, replicates=200, seed=42)
        assert again == figures.clv_gini  # same seed, same interval
        if record is first:
            assert found.treated is not None
            assert found.treated.customers == 5
            assert found.treated.actual_churn == pytest.approx(
                rows.loc[away, CHURN].mean(), abs=1e-12
            )
        else:
            assert found.treated is None
    latest = store.scores(second.generation_id)["churn_probability"].to_numpy()
    assert result.estimated["churn_rate"] == pytest.approx(latest.mean())
    assert result.estimated["roc_auc"] == pytest.approx(expected_roc_auc(latest))


def test_the_expected_roc_auc_is_the_mean_auc_over_outcomes_drawn_from_the_probabilities() -> None:
    rng = np.random.default_rng(0)
    p = np.round(rng.beta(2, 3, 400), 2)  # ties on purpose
    draws = rng.random((3000, len(p))) < p
    simulated = np.mean([roc_auc(d.astype(float), p) for d in draws])
    assert expected_roc_auc(p) == pytest.approx(simulated, abs=0.003)


def test_retain_monitor_prints_the_table_and_json_with_the_verdict(
    trained: TrainedProject, history: Path
) -> None:
    register_commands()
    runner = CliRunner()
    table = runner.invoke(app, ["monitor", "--config", str(trained.config)])
    assert table.exit_code == 0, table.output
    assert "realized (generations whose horizon has passed" in table.output
    assert "2024-06-30 (to 2024-09-28)" in table.output
    assert "verdict: " in table.output
    out = runner.invoke(app, ["monitor", "--config", str(trained.config), "--json"])
    found = json.loads(out.output)
    assert found["as_of"] == "2024-09-30"
    assert [r["as_of"] for r in found["realized"]] == list(DAYS)
    assert found["verdict"] in (RETRAIN, "no retraining needed")
    assert bool(found["reasons"]) == (found["verdict"] == RETRAIN)
    assert len(found["reference_months"]) == 12  # rebuilt from the log before the test cutoff
    assert all(d["psi_limit"] >= 0.25 and d["js_limit"] >= 0.2 for d in found["drift"])
    many = found["multivariate"]
    auc = many["current"]["roc_auc"]
    assert 0.0 <= auc["low"] <= auc["value"] <= auc["high"] <= 1.0
    assert many["current"]["separating"]
    assert many["step"] is not None
    sudden = many["step"]["roc_auc"]["low"] > 0.6
    assert many["drifted"] == (auc["low"] > many["limit"] and sudden)
    assert ("multivariate_drift" in [r["rule"] for r in found["reasons"]]) == many["drifted"]
    last = last_signals(ScoreHistory().url)  # each verdict is recorded for the service
    assert last is not None
    assert last.retrain == (found["verdict"] == RETRAIN)
    pruned = runner.invoke(app, ["history", "--keep", "1"])
    assert pruned.exit_code == 0, pruned.output
    assert "removed 1 generation(s)" in pruned.output
    assert [g.as_of.isoformat() for g in ScoreHistory().generations()] == ["2024-09-30"]


def test_monitor_without_a_recorded_generation_says_what_to_run(
    trained: TrainedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETAIN_LEDGER_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    register_commands()
    out = CliRunner().invoke(app, ["monitor", "--config", str(trained.config)])
    assert out.exit_code != 0
    assert "has no generation yet: run `retain score` first" in str(out.exception)


def test_the_report_shows_predicted_against_actual_churn_per_generation_and_the_verdict(
    trained: TrainedProject, history: Path
) -> None:
    result = monitor(trained.config)
    out = write_report(trained.scores, trained.config, history / "report.html")
    page = out.read_text()
    assert TITLE in page
    verdict = "Retraining is recommended." if result.reasons else "no retraining needed"
    assert verdict in page
    for r in result.realized:
        f = r.figures
        assert (
            f"<td>{r.as_of}</td><td>{r.horizon_end}</td><td>{f.customers:,}</td>"
            f"<td>{f.predicted_churn:.1%}</td><td>{f.actual_churn:.1%}</td>"
        ) in page
        assert html.escape(f.roc_auc.text()) in page
    assert 'alt="Predicted and actual churn of each past scoring"' in page
