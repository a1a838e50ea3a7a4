"""Training on a customer sample through the dask engine: test ROC-AUC whole vs 50% vs 10%.

The demo retail business (``retain demo-data``: 20,000 customers, seed 42) is written as three
Parquet files and loaded by ``training.dataset.load_training_data`` with ``engine: dask`` on a
local cluster of two workers, once per ``dask.train`` setting: ``memory`` (the whole table), then
``sample`` at 50% and 10% of customers. Each LightGBM churn model (the configured one, early
stopped on its own validation rows) is scored on the *whole* table's test customers, so the three
ROC-AUCs are comparable; SEs and the difference to the whole table's model come from a paired
bootstrap of those test customers (1,000 resamples, seed 0).

Writes ``experiments/results/dask_sample.md``. Run with ``make results-dask-sample`` (or
``python experiments/eval_dask_sample.py [--customers N]``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
SEED = 42
FRACTIONS = (0.5, 0.1)
RESAMPLES = 1000


def parquet_folder(business: Path, out: Path, files: int = 3) -> Path:
    """The business's transactions split by row into ``files`` Parquet files."""
    out.mkdir(parents=True, exist_ok=True)
    raw = pd.read_csv(business / "transactions.csv", dtype=str, keep_default_na=False)
    for k, rows in enumerate(np.array_split(np.arange(len(raw)), files)):
        raw.iloc[rows].to_parquet(out / f"part-{k}.parquet", index=False)
    return out


def config_for(business: Path, folder: Path, work: Path, scheduler: str, **train: Any) -> Any:
    from core.config_file import parse_config

    demo = (ROOT / "experiments" / "demo.yaml").read_text()
    import yaml

    raw = yaml.safe_load(demo)
    raw["data"] = {
        "transactions": {"path": str(folder)},
        "customers": {"path": str(business / "customers.csv")},
    }
    raw["engine"] = "dask"
    raw["dask"] = {"scheduler": scheduler, "work_dir": str(work), **train}
    return parse_config(raw)


def bootstrap(churn: np.ndarray, preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Paired bootstrap ROC-AUCs of every prediction over the same resampled test customers."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    out: dict[str, list[float]] = {name: [] for name in preds}
    for _ in range(RESAMPLES):
        rows = rng.integers(0, len(churn), len(churn))
        if churn[rows].min() == churn[rows].max():
            continue
        for name, pred in preds.items():
            out[name].append(float(roc_auc_score(churn[rows], pred[rows])))
    return {name: np.asarray(v) for name, v in out.items()}


def main(customers: int) -> None:
    sys.path.insert(0, str(ROOT))
    from distributed import LocalCluster
    from sklearn.metrics import roc_auc_score

    from core.settings import disable_telemetry
    from retain.demo_data import write_demo
    from training.candidates import Fold, _lightgbm_churn
    from training.dataset import load_training_data
    from training.frame import TrainingData

    disable_telemetry()
    with (
        tempfile.TemporaryDirectory() as home,
        LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit="2GB", host="127.0.0.1"
        ) as cluster,
    ):
        write_demo(Path(home) / "demo", customers=customers, seed=SEED, businesses=("retail",))
        business = Path(home) / "demo" / "retail"
        folder = parquet_folder(business, Path(home) / "transactions")
        variants: list[tuple[str, dict[str, Any]]] = [("whole table", {"train": "memory"})]
        variants += [
            (f"{f:.0%} sample", {"train": "sample", "sample_fraction": f}) for f in FRACTIONS
        ]
        runs: dict[str, TrainingData] = {}
        seconds: dict[str, float] = {}
        config = None
        for k, (name, train) in enumerate(variants):
            config = config_for(
                business, folder, Path(home) / f"work{k}", cluster.scheduler_address, **train
            )
            started = time.perf_counter()
            runs[name] = load_training_data(config, progress=False)
            seconds[name] = time.perf_counter() - started
        assert config is not None
        whole = runs["whole table"]
        test = whole.part("test")
        preds: dict[str, np.ndarray] = {}
        for name, data in runs.items():
            parts = {"train": data.part("train"), "validation": data.part("validation")}
            preds[name] = _lightgbm_churn(
                Fold(config, data, parts={**parts, "test": test})
            ).test_pred
        churn = Fold(config, whole).y("test", "churn")
        boots = bootstrap(churn, preds)
        lines = [
            "# Training on a customer sample (dask engine)",
            "",
            f"The demo retail business ({customers:,} customers, seed {SEED}; "
            "`experiments/demo.yaml`: 90-day horizon, up to 24 training cutoffs) as three Parquet "
            "files, loaded by `load_training_data` with `engine: dask` on a local cluster of two "
            "workers, once per `dask.train` setting. Each LightGBM churn model is scored on the "
            f"whole table's {len(test):,} test customers (cutoff {whole.split.test.date()}); SEs "
            f"and differences from a paired bootstrap of those customers ({RESAMPLES:,} "
            "resamples). Load times include building the snapshots on the cluster.",
            "",
            "| training table | customers | training rows | test ROC-AUC | SE | difference to "
            "whole (SE) | load (s) |",
            "|---|---|---|---|---|---|---|",
        ]
        base = boots["whole table"]
        for name, data in runs.items():
            auc = roc_auc_score(churn, preds[name])
            train_rows = len(data.part("train"))
            diff = boots[name] - base
            gap = auc - roc_auc_score(churn, preds["whole table"])
            difference = "" if name == "whole table" else f"{gap:+.4f} ({diff.std(ddof=1):.4f})"
            lines.append(
                f"| {name} | {data.frame['customer_id'].nunique():,} | {train_rows:,} | "
                f"{auc:.4f} | {boots[name].std(ddof=1):.4f} | {difference} | "
                f"{seconds[name]:.0f} |"
            )
        lines += ["", f"Measured with `make results-dask-sample` ({customers:,} customers).", ""]
    text = "\n".join(lines)
    from experiments.publish import write_result

    write_result(RESULTS / "dask_sample.md", text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    main(parser.parse_args().customers)
