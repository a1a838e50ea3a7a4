"""The evaluation table `retain train` prints fits 100 columns; the full one goes to --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ROOT, SMALL_TRAINING, write_config
from training.candidates import CANDIDATES, Fold
from training.console_table import WIDTH, console_table
from training.evaluation import Evaluation, ModelResult, markdown_table, versus_cell
from training.metrics import PairedInterval
from training.pipeline import evaluate_candidates

RETAIN = str(Path(sys.executable).parent / "retain")


@pytest.fixture(scope="module")
def evaluation(small_fold: Fold) -> Evaluation:
    """Every candidate of a real (small) training, as `retain train` evaluates them."""
    return evaluate_candidates(small_fold, CANDIDATES)


def test_the_table_of_a_real_training_fits_100_columns(evaluation: Evaluation) -> None:
    printed = console_table(evaluation.results).splitlines()
    assert max(len(line) for line in markdown_table(evaluation.table).splitlines()) > 300
    assert max(len(line) for line in printed) <= WIDTH
    assert not any(line.endswith("~") for line in printed)  # nothing had to be clipped
    assert " ".join(printed[0].split()) == (
        "churn roc_auc pr_auc brier served roc_auc vs bgnbd, 95% interval"
    )
    blocks = [b.splitlines() for b in "\n".join(printed).split("\n\n")]
    for r in evaluation.results:
        block = next(b for b in blocks if b[0].startswith(f"{r.task} "))
        [row] = [line for line in block if line.split()[0] == r.name]
        assert (row.split()[1] == "*") == r.chosen
        first = "roc_auc" if r.task == "churn" else "gini"
        assert f"{r.metrics[first]:.4f}" in row
        gap = r.versus.get(first)
        if gap is not None:  # the difference and interval of the full table's cell
            assert f"{gap.diff:+.4f} [{gap.low:+.4f}, {gap.high:+.4f}]" in row
            assert versus_cell(r, first).startswith(f"{gap.diff:+.4f} ({gap.low:+.4f} to ")
    assert sum(r.chosen for r in evaluation.results) == sum(
        line.split()[1:2] == ["*"] for line in printed
    )


def result(task: str, name: str, metrics: dict[str, float], **fields: object) -> ModelResult:
    return ModelResult(task, name, np.zeros(1), metrics, pd.DataFrame(), **fields)  # type: ignore[arg-type]


def interval(metric: str, diff: float, low: float, high: float) -> PairedInterval:
    return PairedInterval(metric, 0.5 + diff, 0.5, low, high, 0.95, 1000, 400)


def test_rows_say_chosen_unreliable_served_and_the_interval_exactly() -> None:
    churn = {"roc_auc": 0.90304, "pr_auc": 0.8, "brier": 0.15}
    results = [
        result(
            "churn",
            "lightgbm",
            churn,
            servable=True,
            chosen=True,
            baseline="bgnbd",
            versus={"roc_auc": interval("roc_auc", 0.0131, 0.0086, 0.0179)},
        ),
        result(
            "churn",
            "logistic",
            {**churn, "brier": np.nan},
            servable=True,
            reliable=False,
            baseline="bgnbd",
            versus={"roc_auc": interval("roc_auc", -0.001, np.nan, np.nan)},
        ),
        result("churn", "bgnbd", {**churn, "roc_auc": 0.8898, "brier": -0.00001}),
    ]
    assert console_table(results).splitlines()[:4] == [
        "churn       roc_auc  pr_auc   brier  served  roc_auc vs bgnbd, 95% interval",
        "lightgbm *   0.9030  0.8000  0.1500  yes     +0.0131 [+0.0086, +0.0179] better",
        "logistic !   0.9030  0.8000          yes     -0.0010 (interval not estimable)",
        "bgnbd        0.8898  0.8000  0.0000  no",
    ]


def test_the_widest_names_and_money_sized_errors_still_fit() -> None:
    clv = {"gini": 0.81, "spearman": 0.73, "mae": 132_456.78}
    wide = interval("gini", -0.8081, -0.8336, 0.7786)
    results = [
        result("clv", "bgnbd_gamma_gamma", clv),
        *(
            result(
                "clv",
                name,
                clv,
                servable=True,
                chosen=True,
                reliable=False,
                baseline="bgnbd_gamma_gamma",
                versus={"gini": wide},
            )
            for name in ("lightgbm_btyd", "a_candidate_named_at_length")
        ),
    ]
    lines = console_table(results).splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    assert lines[1].startswith("bgnbd_gamma_gamma")
    assert "132,457" in lines[1]
    assert lines[2].startswith("lightgbm_btyd * !  0.8100")
    assert lines[3].startswith("a_candidate_~ * !  0.8100")  # a long name gives way
    assert lines[3].endswith("cannot be separated")


@pytest.mark.slow  # a small real training through the CLI
def test_train_json_holds_the_full_table_and_the_printed_one_fits(
    demo_data: Path, tmp_path: Path
) -> None:
    import shutil

    data = shutil.copytree(demo_data / "retail", tmp_path / "retail")
    with (data / "transactions.csv").open("a") as f:  # planted bad rows: counted, never silent
        f.write(",2024-01-02T10:00:00,12.5,X1,1,P0001,games\n" * 2)
        f.write("R000001,2024-01-02T10:00:00,twelve,X2,1,P0001,games\n")
    config = write_config(tmp_path / "t.yaml", data, **SMALL_TRAINING)
    env = {**os.environ, "RETAIN_HOME": str(tmp_path / "home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [RETAIN, "train", "--config", str(config), "--quiet", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout)
    table = pd.DataFrame(run["evaluation"])
    assert len(table.columns) > 20  # every metric, not the printed few
    assert {"roc_auc", "pr_auc", "brier", "gini", "mae", "vs_baseline_roc_auc"} <= set(table)
    assert set(table["model"]) >= {"lightgbm", "bgnbd", "bgnbd_gamma_gamma"}
    assert run["versions"] == {"churn": "1", "clv": "1"}
    assert run["decisions"]["churn"]["promote"] is True
    loaded = {t["table"]: t for t in run["loading"]}
    events = loaded["transactions"]
    assert events["rows_read"] - events["rows_kept"] == 3
    assert sorted(events["excluded"].values()) == [1, 2]
    assert f"read {events['rows_read']:,} rows, kept {events['rows_kept']:,}" in done.stderr
    for reason, count in events["excluded"].items():
        assert f"{count:,} row(s): {reason}" in done.stderr
    import mlflow.artifacts

    logged = mlflow.artifacts.download_artifacts(
        run_id=run["run_id"],
        artifact_path="evaluation.md",
        tracking_uri=run["tracking_uri"],
        dst_path=str(tmp_path / "artifacts"),
    )
    header = Path(logged).read_text().splitlines()[0]
    assert header == "| " + " | ".join(table.columns) + " |"  # MLflow holds the full table too
    lines = done.stderr.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("churn ") and "roc_auc" in line
    )
    table_lines = lines[start : start + 16]
    assert max(len(line) for line in table_lines) <= WIDTH
    assert "Every metric and" in "\n".join(table_lines)
