"""``retain retrain`` end to end on a tiny project of its own: monitor, train, gate, package, score.

A model trained before a planted price rise (``retain/demo_drift.py``) scores three generations;
``--check`` only reports (exit 3 when retraining is recommended); a forced retrain on recent
cutoffs tags its MLflow run with the verdict that caused it and, through the gate, packages the
new champion and scores the base with it (exit 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.config_file import ConfigFile, load_config
from core.cutoff import Cutoff
from core.settings import retain_home
from model.cli_options import config_for
from model.registry import mlflow_client, tracking_store
from retain.cli import app, register_commands
from retain.demo_data import write_demo
from retain.demo_drift import PriceRise, write_twins
from retain.retrain import (
    GENERATION_TAG,
    REASONS_TAG,
    RECOMMENDED_NOT_RUN,
    VERDICT_TAG,
)
from retention.monitor import monitor
from serving.batch import score_base
from serving.score_history import ScoreHistory
from serving.store import package
from tests.helpers import FAST_LIGHTGBM, write_config
from training.pipeline import train

pytestmark = pytest.mark.slow  # trains a small project twice

BEFORE_CHANGE = ["2023-06-30", "2023-09-30", "2023-12-31", "2024-03-31"]


def test_retrain_checks_then_retrains_through_the_gate_and_records_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_package_kept: None
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("RETAIN_HOME", str(home))
    monkeypatch.setenv("BENTOML_HOME", str(home / "bentoml"))
    monkeypatch.delenv("RETAIN_LEDGER_URL", raising=False)
    source = write_demo(tmp_path / "demo", customers=600, seed=5, businesses=("retail",))
    planted, _ = write_twins(source["retail"], tmp_path / "twins", PriceRise(start="2024-07-01"))
    small = {"churn": {"lightgbm": FAST_LIGHTGBM}, "clv": {"lightgbm": FAST_LIGHTGBM}}
    # the first champion: trained before the change and deliberately crude (one shallow tree),
    # so that the retrained model beats it through the gate on the same test customers
    crude = {"n_estimators": 1, "num_leaves": 2, "max_depth": 1}
    first = write_config(
        tmp_path / "shop.yaml",
        planted,
        split={"cutoffs": BEFORE_CHANGE},
        churn={"lightgbm": crude, "compete": ["lightgbm"]},
        clv={"lightgbm": crude, "compete": ["lightgbm"]},
    )
    config_for(first)  # its workspace becomes the current one, as the CLI's --config does
    register_commands()
    runner = CliRunner()
    result = train(load_config(first), progress=False, log=lambda _: None)
    package(economics=ConfigFile.read(first).economics())
    for day in ("2024-06-30", "2024-09-30", "2024-12-31"):
        score_base(first, Cutoff.parse(day), out_dir=retain_home() / "scores", progress=False)
    verdict = monitor(first)

    check = runner.invoke(app, ["retrain", "--check", "--config", str(first)])
    assert check.exit_code == (RECOMMENDED_NOT_RUN if verdict.reasons else 0), check.output
    assert f"monitor: {verdict.verdict}" in check.output

    # the same business, now trained on the latest cutoffs (two of them, short boosting)
    latest = write_config(tmp_path / "shop.yaml", planted, split={"max_train_cutoffs": 2}, **small)
    forced = runner.invoke(app, ["retrain", "--force", "--config", str(latest)])
    assert forced.exit_code == 0, forced.output
    client = mlflow_client(tracking_store())
    (run,) = client.search_runs(
        [result.experiment_id], f"tags.`{GENERATION_TAG}` = '{verdict.generation_id}'"
    )
    assert run.info.run_id in forced.output
    assert run.info.run_id != result.run_id
    assert run.data.tags[VERDICT_TAG] == ("forced" if not verdict.reasons else verdict.verdict)
    expected = [r.text for r in verdict.reasons] or ["forced (--force)"]
    assert json.loads(run.data.tags[REASONS_TAG]) == expected
    assert "new champion (churn 2, clv 2) packaged" in forced.output
    generations = ScoreHistory().generations()
    assert len(generations) == 4  # the new champion scored the base as of the latest day
    assert generations[-1].model_versions == {"churn": "churn:2", "clv": "clv:2"}
    assert generations[-2].model_versions == {"churn": "churn:1", "clv": "clv:1"}
