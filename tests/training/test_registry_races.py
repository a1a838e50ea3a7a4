"""The registry under concurrent and killed trainings: real `retain train` processes on a local
MLflow store. Concurrent runs end with a champion pair from one run; a killed run is marked FAILED
and its versions get a decision at the next start. ``RETAIN_TEST_KILL_AT`` is the test hook
(``core.settings.test_hook``) that makes a training kill itself at a named point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from core.settings import TEST_KILL_AT
from model.registry import CHAMPION, Tag
from tests.helpers import ROOT, write_config
from tests.training.conftest import FAST_LIGHTGBM
from training.registry import INTERRUPTED

pytestmark = pytest.mark.slow  # real trainings


@pytest.fixture
def store(tmp_path: Path, demo_data: Path) -> tuple[dict[str, str], Path]:
    """A fresh state folder and sqlite MLflow store, and a fast experiment config."""
    home = tmp_path / "home"
    env = {**os.environ, "RETAIN_HOME": str(home)}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
    env.pop(TEST_KILL_AT, None)
    config = write_config(
        tmp_path / "race.yaml",
        demo_data / "retail",
        name="race",
        split={"max_train_cutoffs": 2},
        churn={"lightgbm": FAST_LIGHTGBM},
        clv={"lightgbm": FAST_LIGHTGBM},
    )
    return env, config


def start(env: dict[str, str], config: Path, kill_at: str | None = None) -> subprocess.Popen[str]:
    retain = Path(sys.executable).parent / "retain"
    return subprocess.Popen(
        [str(retain), "train", "--config", str(config), "--quiet"],
        cwd=ROOT,
        env={**env, **({TEST_KILL_AT: kill_at} if kill_at else {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=900)
    return process.returncode, out


def client(env: dict[str, str]) -> MlflowClient:
    uri = env["MLFLOW_TRACKING_URI"]  # the registry too: earlier tests set a process-wide one
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def training_run(c: MlflowClient, run_id: str) -> str:
    """The parent (training) run of a registered version's run."""
    return c.get_run(run_id).data.tags.get("mlflow.parentRunId", run_id)


def champion_runs(c: MlflowClient) -> dict[str, str]:
    return {
        name: training_run(c, c.get_model_version_by_alias(name, CHAMPION).run_id)
        for name in ("churn", "clv")
    }


def decisions(c: MlflowClient) -> dict[tuple[str, int], str]:
    return {
        (name, int(v.version)): v.tags.get(Tag.DECISION, "")
        for name in ("churn", "clv")
        for v in c.search_model_versions(f"name='{name}'")
    }


def test_two_concurrent_trainings_end_with_one_runs_champion_pair(
    store: tuple[dict[str, str], Path],
) -> None:
    env, config = store
    first, second = start(env, config), start(env, config)
    (code1, out1), (code2, out2) = finish(first), finish(second)
    assert code1 == 0, out1[-3000:]
    assert code2 == 0, out2[-3000:]
    c = client(env)
    pair = champion_runs(c)
    assert pair["churn"] == pair["clv"]
    found = decisions(c)
    assert sorted(found) == [("churn", 1), ("churn", 2), ("clv", 1), ("clv", 2)]
    assert all(found.values())  # every version has a decision
    statuses = {
        r.info.status for r in c.search_runs([c.get_experiment_by_name("race").experiment_id])
    }
    assert statuses == {"FINISHED"}


def test_a_killed_training_is_failed_and_its_versions_decided_at_the_next_start(
    store: tuple[dict[str, str], Path],
) -> None:
    env, config = store
    code, out = finish(start(env, config, kill_at="train:registered"))
    assert code == -9, out[-3000:]
    c = client(env)
    killed = c.search_runs(
        [c.get_experiment_by_name("race").experiment_id], "tags.`retain.pid` != ''"
    )[0]
    assert killed.info.status == "RUNNING"
    assert decisions(c) == {("churn", 1): "", ("clv", 1): ""}
    code, out = finish(start(env, config))
    assert code == 0, out[-3000:]
    assert f"run {killed.info.run_id} was interrupted: marked FAILED" in out
    assert c.get_run(killed.info.run_id).info.status == "FAILED"
    assert decisions(c) == {
        ("churn", 1): INTERRUPTED,
        ("churn", 2): CHAMPION,
        ("clv", 1): INTERRUPTED,
        ("clv", 2): CHAMPION,
    }
    assert set(champion_runs(c).values()) == {
        training_run(c, c.get_model_version("churn", "2").run_id)
    }


def test_a_training_killed_between_the_two_alias_moves_is_completed_at_the_next_start(
    store: tuple[dict[str, str], Path],
) -> None:
    env, config = store
    code, out = finish(start(env, config, kill_at="train:moved:churn"))
    assert code == -9, out[-3000:]
    c = client(env)
    assert str(c.get_model_version_by_alias("churn", CHAMPION).version) == "1"
    with pytest.raises(Exception, match="alias"):
        c.get_model_version_by_alias("clv", CHAMPION)
    code, out = finish(start(env, config))
    assert code == 0, out[-3000:]
    assert "clv v1: champion (the interrupted training had decided so" in out
    pair = champion_runs(c)
    assert pair["churn"] == pair["clv"]
    assert all(decisions(c).values())
