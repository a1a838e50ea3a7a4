"""Benchmark: the cost of recording one score generation in the score history, for 1M customers.

Synthetic scores and a 40-feature frame (38 numeric, 2 text segments) of ``--customers`` rows;
the reference is sketched from a 100,000-row sample, as a model card's would be. Measures the
time to describe the generation (sketches, drift, segment counts) and to write it in one
transaction to a fresh sqlite store, and the bytes the store grows by.

    python experiments/bench_history.py [--customers 1000000] [--out .retain/bench_history]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` customers: a feature frame and their scores."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"C{i:08d}" for i in range(n)], name="customer_id")
    features = pd.DataFrame(
        {f"f{k:02d}": rng.gamma(1.0 + k % 5, 10.0, n) for k in range(38)}, index=ids
    )
    features["attr_region"] = rng.choice(["north", "south", "east", "west"], n)
    features["attr_channel"] = rng.choice(["organic", "paid", "social", "referral", "market"], n)
    p = rng.uniform(0, 1, n)
    scores = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "churn_probability": p,
            "clv": rng.gamma(2.0, 30.0, n),
            "risk_tier": np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low")),
        }
    )
    return features, scores


def main() -> None:
    from model.drift import sketch_column, sketch_frame
    from serving.score_history import ScoreHistory, describe_generation
    from tests.helpers import card_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / ".retain" / "bench_history")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "history.db"
    db.unlink(missing_ok=True)
    features, scores = frames(args.customers, seed=0)
    sample = features.sample(100_000, random_state=0)
    card = card_for(
        "churn",
        list(features.columns),
        reference=sketch_frame(sample),
        reference_prediction=sketch_column(scores["churn_probability"].sample(100_000)),
    )
    meta = {
        "as_of": "2024-12-31",
        "horizon_days": 90,
        "contractual": False,
        "active_days": 365,
        "churn_model": "churn:1",
        "clv_model": "clv:1",
    }
    history = ScoreHistory(f"sqlite:///{db}")
    empty = db.stat().st_size
    started = time.perf_counter()
    record = describe_generation("G1", scores, features, meta, card, ["high", "medium", "low"])
    described = time.perf_counter() - started
    history.record(record, scores, keep=60)
    total = time.perf_counter() - started
    summary_bytes = len(json.dumps(record.row(), default=str))
    result = {
        "customers": args.customers,
        "describe_seconds": round(described, 2),
        "record_seconds": round(total - described, 2),
        "total_seconds": round(total, 2),
        "store_bytes": db.stat().st_size - empty,
        "bytes_per_customer": round((db.stat().st_size - empty) / args.customers, 1),
        "generation_row_bytes": summary_bytes,
    }
    print(json.dumps(result, indent=2))
    (ROOT / "experiments" / "results" / "bench_history.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
