"""serving.batch (`retain score`): the as-of date, the scores table and the feature table it writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config_file import ConfigFile
from core.cutoff import Cutoff
from core.errors import CutoffError
from features.loading import load_data
from features.prepare import prepare
from serving.batch import resolve_as_of, score_base
from serving.scorer import Scorer
from tests.conftest import TrainedProject
from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # trains, packages and scores the demo project

SCORE_COLUMNS = [
    "customer_id",
    "as_of",
    "churn_probability",
    "risk_tier",
    "clv",
    "value_if_staying",
    "value_at_risk",
    "currency",
    *[f"reason_{k}{part}" for k in (1, 2, 3) for part in ("", "_value", "_direction")],
    "channel",
    "region",
    "churn_model",
    "clv_model",
]


@pytest.fixture(scope="module")
def raw(trained: TrainedProject) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo CSVs as written (transactions with parsed timestamps, customers)."""
    tx = pd.read_csv(trained.data / "transactions.csv", parse_dates=["timestamp"])
    customers = pd.read_csv(trained.data / "customers.csv", dtype={"customer_id": str})
    return tx, customers


def _run_score(*args: str) -> subprocess.CompletedProcess[str]:
    retain = Path(sys.executable).parent / "retain"
    return subprocess.run(
        [str(retain), "score", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("as_of", ["2030-01-01", "2021-12-31"])
def test_cli_as_of_outside_the_data_names_the_range(
    trained: TrainedProject, raw: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, as_of: str
) -> None:
    tx, _ = raw
    first, last = tx["timestamp"].min().date(), tx["timestamp"].max().date()
    done = _run_score("--config", str(trained.config), "--as-of", as_of, "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: --as-of {as_of} is outside the data")
    assert f"from {first} to {last}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("as_of", ["not-a-date", "2024-02-30", ""])
def test_cli_as_of_that_is_not_a_date_is_a_clear_error(
    trained: TrainedProject, tmp_path: Path, as_of: str
) -> None:
    done = _run_score("--config", str(trained.config), "--as-of", as_of, "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith(f"error: --as-of {as_of!r} is not a date")
    assert "'latest'" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_scores_as_of_an_iso_day_and_refuses_a_day_month_form(
    trained: TrainedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETAIN_FEATURE_TABLE", str(tmp_path / "features.parquet"))
    out = tmp_path / "scores"
    done = _run_score("--config", str(trained.config), "--as-of", "06/05/2024", "--out", str(out))
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr == (
        "error: --as-of '06/05/2024' is ambiguous (6 May 2024 or 5 June 2024): give the ISO "
        "form, 2024-05-06 or 2024-06-05\n"
    )
    assert not out.exists()
    done = _run_score("--config", str(trained.config), "--as-of", "2024-06-05", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "as of 2024-06-05: scored " in done.stdout
    assert (pd.to_datetime(pd.read_parquet(out / "scores.parquet")["as_of"]) == "2024-06-05").all()


def test_latest_is_the_data_last_day(trained: TrainedProject) -> None:
    data, _ = load_data(ConfigFile.read(trained.config).data())
    prep = prepare(data)
    start, end = prep.date_range
    assert resolve_as_of(prep, Cutoff.parse("latest")) == end == trained.as_of
    assert resolve_as_of(prep, Cutoff(start.date())) == start
    assert resolve_as_of(prep, Cutoff.parse("2024-06-30T18:45:00")) == pd.Timestamp("2024-06-30")
    with pytest.raises(CutoffError, match="outside the data"):
        resolve_as_of(prep, Cutoff((end + pd.Timedelta(days=1)).date()))


def test_scores_table_columns_and_order(scores: pd.DataFrame, trained: TrainedProject) -> None:
    assert sorted(scores.columns) == sorted(SCORE_COLUMNS)
    assert scores["value_at_risk"].is_monotonic_decreasing
    assert scores["customer_id"].is_unique
    assert (pd.to_datetime(scores["as_of"]) == trained.as_of).all()
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["clv"] >= 0).all()
    # value at risk is gross profit: p x clv / max(1 - p, 0.02) x the packaged 40% margin
    p, clv = scores["churn_probability"], scores["clv"]
    staying = clv / (1 - p).clip(lower=0.02)
    assert np.allclose(scores["value_if_staying"], staying, rtol=1e-12, atol=0)
    assert np.allclose(scores["value_at_risk"], p * staying * 0.4, rtol=1e-12, atol=0)
    assert (scores["currency"] == "GBP").all()
    assert set(scores["risk_tier"]) <= {"high", "medium", "low"}
    for k in (1, 2, 3):
        assert set(scores[f"reason_{k}_direction"]) <= {"raises risk", "lowers risk"}
    assert scores["churn_model"].nunique() == scores["clv_model"].nunique() == 1


def test_scored_customers_are_the_active_base(
    scores: pd.DataFrame, raw: tuple[pd.DataFrame, pd.DataFrame], trained: TrainedProject
) -> None:
    """Active = a purchase (not a return) in the 365 days up to the as-of date."""
    tx, customers = raw
    day = tx["timestamp"].dt.normalize()
    window = (day > trained.as_of - pd.Timedelta(days=365)) & (day <= trained.as_of)
    bought = window & (tx["amount"] >= 0) & (tx["quantity"] >= 0)
    assert set(scores["customer_id"]) == set(tx.loc[bought, "customer_id"])
    segments = customers.set_index("customer_id").loc[scores["customer_id"]]
    assert scores["region"].tolist() == segments["region"].tolist()
    assert scores["channel"].tolist() == segments["channel"].tolist()


def test_feature_table_holds_every_known_customer(
    feature_table: pd.DataFrame, raw: tuple[pd.DataFrame, pd.DataFrame], trained: TrainedProject
) -> None:
    tx, customers = raw
    known = set(customers["customer_id"]) | set(tx["customer_id"])
    assert set(feature_table.index) == known
    assert (pd.to_datetime(feature_table["as_of"]) == trained.as_of).all()


def test_score_base_at_an_earlier_date(
    trained: TrainedProject,
    raw: tuple[pd.DataFrame, pd.DataFrame],
    local_scorer: Scorer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the service reads the session's feature table: this run writes its own elsewhere
    table = tmp_path / "features.parquet"
    monkeypatch.setenv("RETAIN_FEATURE_TABLE", str(table))
    run = score_base(
        trained.config,
        Cutoff.parse("2024-06-30"),
        out_dir=tmp_path / "scores",
        scorer=local_scorer,
        progress=False,
    )
    assert run.as_of == pd.Timestamp("2024-06-30")
    assert run.feature_table == table
    scores = pd.read_parquet(run.scores_parquet)
    assert (pd.to_datetime(scores["as_of"]) == run.as_of).all()
    assert scores["value_at_risk"].is_monotonic_decreasing
    assert len(scores) == run.scored
    assert run.scored < run.known
    tx, customers = raw
    signed = customers.loc[pd.to_datetime(customers["signup_date"]) <= run.as_of, "customer_id"]
    bought = tx.loc[tx["timestamp"].dt.normalize() <= run.as_of, "customer_id"]
    written = pd.read_parquet(table)
    assert set(written["customer_id"]) == set(signed) | set(bought)
    assert (pd.to_datetime(written["as_of"]) == run.as_of).all()
    assert any("scored" in line for line in run.lines())
