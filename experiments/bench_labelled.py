"""Training time on a labelled CRM export of 100,000 rows with 40 attribute columns.

The export is the synthetic telecom base of ``retain demo-data --business crm`` widened with 25
more columns of the kinds real exports carry (usage counts stored as text with blanks, yes/no
flags, categories, dates, noise). ``train()`` runs end to end in a fresh state folder (reading,
type inference, the leakage guard, LightGBM, the baselines, 5-fold cross-validation, MLflow
tracking and registration); the median of three runs is written to
``experiments/results/labelled.md``. Run with ``make bench-labelled``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
ROWS, RUNS, SEED = 100_000, 3, 42


def wide_export(rows: int, seed: int) -> pd.DataFrame:
    """The CRM export with 25 extra attribute columns (40 in all besides id and labels)."""
    from retain.demo_crm import make_crm

    frame = make_crm(rows, months=1, horizon_days=90, seed=seed).snapshots.drop(columns=["as_of"])
    rng = np.random.default_rng(seed + 1)
    for k in range(10):
        counts = rng.poisson(3 + k, rows).astype(str)
        frame[f"Usage{k}"] = np.where(rng.random(rows) < 0.03, "", counts)
    for k in range(5):
        frame[f"Flag{k}"] = rng.choice(["Yes", "No"], rows)
    for k in range(5):
        levels = [f"L{j}" for j in range(3 + 6 * k)]
        frame[f"Segment{k}"] = rng.choice(levels, rows)
    for k in range(3):
        days = rng.integers(0, 2000, rows)
        frame[f"Date{k}"] = (pd.Timestamp("2024-06-30") - pd.to_timedelta(days, unit="D")).strftime(
            "%Y-%m-%d"
        )
    frame["Noise0"] = rng.normal(0, 1, rows).round(4)
    frame["Noise1"] = rng.lognormal(3, 1, rows).round(2)
    return frame


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from core.config_file import parse_config
    from core.settings import disable_telemetry
    from training.pipeline import train

    disable_telemetry()
    os.environ["MLFLOW_LOG_UV_FILES"] = "false"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm_wide.csv"
        frame = wide_export(ROWS, SEED)
        frame.to_csv(path, index=False)
        attributes = len(frame.columns) - 3  # id, Churn, Revenue90d
        seconds, aucs = [], []
        for run in range(RUNS):
            state = Path(tmp) / f"state{run}"
            state.mkdir()
            os.environ["RETAIN_HOME"] = str(state)
            config = parse_config(
                {
                    "name": "bench-labelled",
                    "data": {
                        "snapshots": {
                            "path": str(path),
                            "columns": {
                                "customer_id": "customerID",
                                "churned": "Churn",
                                "future_value": "Revenue90d",
                            },
                            "as_of": "2024-06-30",
                        }
                    },
                    "horizon_days": 90,
                    "seed": SEED,
                }
            )
            started = time.perf_counter()
            result = train(
                config,
                tracking_uri=f"sqlite:///{state / 'mlflow.db'}",
                progress=False,
                log=print if run == 0 else lambda _: None,
            )
            seconds.append(time.perf_counter() - started)
            table = result.evaluation.set_index(["task", "model"])
            aucs.append(float(table.loc[("churn", "lightgbm"), "roc_auc"]))
            print(f"run {run + 1}: {seconds[-1]:.1f} s, ROC-AUC {aucs[-1]:.4f}", flush=True)
    text = "\n".join(
        [
            "# Training on a labelled CRM export",
            "",
            f"`train()` on a snapshots table of {ROWS:,} rows x {attributes} attribute columns "
            f"(one as_of day: in-time split 64/16/20 and 5-fold cross-validation), end to end "
            "with MLflow tracking, on this 2-core machine. Written by `make bench-labelled`.",
            "",
            "| rows | attribute columns | median seconds (3 runs) | runs | lightgbm ROC-AUC |",
            "|---|---|---|---|---|",
            f"| {ROWS:,} | {attributes} | {statistics.median(seconds):.1f} | "
            f"{', '.join(f'{s:.1f}' for s in seconds)} | {aucs[0]:.4f} |",
            "",
        ]
    )
    from experiments.publish import write_result

    write_result(RESULTS / "labelled.md", text)


if __name__ == "__main__":
    main()
