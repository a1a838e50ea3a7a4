"""The monitor's demo: a planted price rise in one region is flagged within one scoring period,
naming the region and the features that moved; its quiet twin raises no drift alarm then.

One small model trained before the change (the session's demo log, whose pre-change part both
twins share) scores the period before and the period after the change on each log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config_file import ConfigFile, load_config
from core.cutoff import Cutoff
from model.cli_options import config_for
from retain.demo_drift import PriceRise, write_twins
from retention.monitor import STILL_RIGHT, monitor
from serving.batch import score_base
from serving.score_history import ScoreHistory
from serving.store import package
from tests.helpers import FAST_LIGHTGBM, write_config
from training.pipeline import train

pytestmark = pytest.mark.slow  # trains a small model

BEFORE_CHANGE = ["2023-06-30", "2023-09-30", "2023-12-31", "2024-03-31"]
CHANGE = PriceRise(start="2024-07-01", region="north")
DRIFT_RULES = {"input_drift", "segment_drift", "score_drift", "multivariate_drift"}


def test_the_planted_change_is_flagged_in_the_first_period_after_it_and_the_twin_is_quiet(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_package_kept: None
) -> None:
    monkeypatch.setenv("RETAIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "home" / "bentoml"))
    planted, twin = write_twins(demo_data / "retail", tmp_path / "twins", CHANGE)
    small = {"churn": {"lightgbm": FAST_LIGHTGBM}, "clv": {"lightgbm": FAST_LIGHTGBM}}
    configs = {
        name: write_config(
            tmp_path / f"{name}.yaml", folder, split={"cutoffs": BEFORE_CHANGE}, **small
        )
        for name, folder in (("planted", planted), ("twin", twin))
    }
    config_for(configs["twin"])
    train(load_config(configs["twin"]), progress=False, log=lambda _: None)
    package(economics=ConfigFile.read(configs["twin"]).economics())
    verdicts = {}
    for name, config in configs.items():
        monkeypatch.setenv("RETAIN_LEDGER_URL", f"sqlite:///{tmp_path / f'{name}.db'}")
        for day in ("2024-06-30", "2024-07-31"):
            score_base(config, Cutoff.parse(day), out_dir=tmp_path / name, progress=False)
        latest = ScoreHistory().generations()[-1].generation_id
        verdicts[name] = monitor(config, generation_id=latest)

    flagged = verdicts["planted"]
    segment = [r for r in flagged.reasons if r.rule == "segment_drift"]
    assert len(segment) == 1, flagged.reasons
    assert segment[0].text.startswith("within region = north (")
    assert flagged.segments[0].segment == "region = north"  # the most moved
    assert {"orders_30d", "active_days_30d", "days_since_last_purchase"} <= set(flagged.moved)
    assert len(flagged.moved) == len(set(flagged.moved))
    quiet = verdicts["twin"]
    assert not {r.rule for r in quiet.reasons} & DRIFT_RULES, quiet.reasons
    assert quiet.segments == []
    assert quiet.moved == []
    assert quiet.multivariate is not None
    assert not quiet.multivariate.drifted
    if not quiet.reasons:
        assert quiet.verdict == STILL_RIGHT
