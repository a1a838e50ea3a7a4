"""``retain monitor`` on a labelled CRM export: a generation's realized figures come from the
export's own churned flags of its as_of day, and equal the ones recomputed from them by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from core.config_file import ConfigFile, load_config
from core.cutoff import Cutoff
from core.schema import CUSTOMER_ID
from features.labelled import load_snapshots
from features.labels import CHURN
from model.cli_options import config_for
from retain.demo_data import write_demo
from retention.monitor import monitor
from serving.batch import score_base
from serving.score_history import ScoreHistory
from serving.store import package
from tests.helpers import FAST_LIGHTGBM, ROOT
from training.metrics import roc_auc
from training.pipeline import train

pytestmark = pytest.mark.slow  # trains a small labelled project


def test_realized_figures_of_a_labelled_export_come_from_its_churned_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_package_kept: None
) -> None:
    monkeypatch.setenv("RETAIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "home" / "bentoml"))
    data = write_demo(tmp_path / "demo", customers=800, seed=3, businesses=("crm",))["crm"]
    raw = yaml.safe_load((ROOT / "experiments" / "crm_monthly.yaml").read_text())
    raw["data"]["snapshots"]["path"] = str(data / "monthly.csv")
    raw["churn"] = {"lightgbm": FAST_LIGHTGBM}
    raw["clv"] = {"lightgbm": FAST_LIGHTGBM}
    raw["tuning"] = {"enabled": False}
    config = tmp_path / "crm.yaml"
    config.write_text(yaml.safe_dump(raw))
    config_for(config)
    train(load_config(config), progress=False, log=lambda _: None)
    names = ConfigFile.read(config).registry()
    package(names.churn, names.clv, economics=ConfigFile.read(config).economics())
    day = "2024-08-31"
    score_base(config, Cutoff.parse(day), out_dir=tmp_path / "scores", progress=False)

    result = monitor(config)
    (found,) = result.realized
    assert found.as_of == day
    rows = load_snapshots(ConfigFile.read(config).data().snapshots, labels=True).rows  # type: ignore[arg-type]
    rows = rows.loc[pd.to_datetime(rows["as_of"]) == pd.Timestamp(day)]
    scores = ScoreHistory().scores(found.generation_id)
    joined = scores.join(rows.set_index(rows[CUSTOMER_ID].astype(str))[[CHURN]], on=CUSTOMER_ID)
    joined = joined.dropna(subset=[CHURN])
    y, p = joined[CHURN].to_numpy(float), joined["churn_probability"].to_numpy()
    assert found.figures.customers == len(joined) > 0
    assert found.figures.roc_auc.value == pytest.approx(roc_auc(y, p), abs=1e-12)
    assert found.figures.calibration_bias.value == pytest.approx(p.mean() - y.mean(), abs=1e-12)
