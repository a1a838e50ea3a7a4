"""Measure the monitor on the demo twins: detection delay of a planted price rise, false alarms.

Trains one small model on the demo retail log before the change (explicit cutoffs whose horizon
ends before it), then scores monthly generations on the planted log and on its quiet twin
(``retain/demo_drift.py``) and asks ``retention.monitor.monitor`` for each period's verdict.
Detection delay: periods from the change to the first "retrain recommended" on the planted log.
False-alarm rate: the share of the twin's periods with that verdict.

    python experiments/monitor_twins.py [--customers 2000] [--seed 7] [--out EMPTY_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CUTOFFS = [
    *[
        str(d.date())
        for d in __import__("pandas").date_range("2022-10-31", "2023-09-30", freq="ME")
    ],
    "2023-12-31",
    "2024-03-31",
]
"""A year of monthly training cutoffs (every season in the reference), a validation cutoff, and the
test cutoff, whose 90-day horizon ends before the change."""
CHANGE = "2024-07-01"
PERIODS = [
    "2024-06-30",
    "2024-07-31",
    "2024-08-31",
    "2024-09-30",
    "2024-10-31",
    "2024-11-30",
    "2024-12-31",
]


def twin_config(path: Path, data_dir: Path) -> Path:
    """A small, untuned experiment YAML for one twin's retail log: the same for both twins."""
    import yaml

    short = {"n_estimators": 60, "early_stopping_rounds": 20}
    config = {
        "name": f"twin-{path.stem}",
        "data": {
            "transactions": {"path": str(data_dir / "transactions.csv")},
            "customers": {"path": str(data_dir / "customers.csv")},
        },
        "horizon_days": 90,
        "seed": 42,
        "tuning": {"enabled": False},
        "split": {"cutoffs": TRAIN_CUTOFFS},
        "churn": {"lightgbm": short},
        "clv": {"lightgbm": short},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def run_twins(out: Path, customers: int, seed: int, periods: list[str] = PERIODS) -> dict[str, Any]:
    """Train before the change, score every period on both logs; each period's verdict."""
    from core.config_file import ConfigFile, load_config
    from core.cutoff import Cutoff
    from retain.demo_data import write_demo
    from retain.demo_drift import PriceRise, write_twins
    from retention.monitor import monitor
    from serving.batch import score_base
    from serving.score_history import ScoreHistory
    from serving.store import package
    from training.pipeline import train

    source = write_demo(out / "demo", customers=customers, seed=seed, businesses=("retail",))
    planted, twin = write_twins(source["retail"], out / "twins", PriceRise(start=CHANGE))
    configs = {
        name: twin_config(out / f"{name}.yaml", folder)
        for name, folder in (("planted", planted), ("twin", twin))
    }
    train(load_config(configs["twin"]), progress=False, log=lambda _: None)
    package(economics=ConfigFile.read(configs["twin"]).economics())
    found: dict[str, Any] = {}
    for name, config in configs.items():
        os.environ["RETAIN_LEDGER_URL"] = f"sqlite:///{out / f'{name}.db'}"
        rows = []
        for day in periods:
            started = time.perf_counter()
            score_base(config, Cutoff.parse(day), out_dir=out / name / "scores", progress=False)
            latest = ScoreHistory().generations()[-1].generation_id
            result = monitor(config, generation_id=latest)  # as the monitor saw it that day
            rows.append(
                {
                    "as_of": day,
                    "verdict": result.verdict,
                    "rules": [r.rule for r in result.reasons],
                    "moved": result.moved[:5],
                    "domain_auc": (
                        round(result.multivariate.current.roc_auc.value, 3)
                        if result.multivariate
                        else None
                    ),
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
        found[name] = rows
    after = [p for p in periods if p >= CHANGE]
    alarms = [r["as_of"] for r in found["planted"] if r["rules"] and r["as_of"] in after]
    found["detection_delay_periods"] = after.index(alarms[0]) + 1 if alarms else None
    drift = {"input_drift", "segment_drift", "score_drift", "multivariate_drift"}
    found["twin_false_alarm_rate"] = sum(bool(r["rules"]) for r in found["twin"]) / len(periods)
    found["twin_drift_false_alarm_rate"] = sum(
        bool(set(r["rules"]) & drift) for r in found["twin"]
    ) / len(periods)
    per_column = {"input_drift", "segment_drift", "score_drift"}
    found["twin_per_feature_false_alarm_rate"] = sum(
        bool(set(r["rules"]) & per_column) for r in found["twin"]
    ) / len(periods)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out", type=Path, default=None, help="an empty folder for its state (default: a new one)"
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="twins-"))
    elif args.out.exists() and any(args.out.iterdir()):  # an earlier run's history would mix in
        raise SystemExit(f"error: --out {args.out} is not empty: give an empty or new folder")
    home = args.out / "home"
    os.environ.update(
        {"RETAIN_HOME": str(home), "BENTOML_HOME": str(home / "bentoml"), "DO_NOT_TRACK": "1"}
    )
    found = run_twins(args.out, args.customers, args.seed)
    print(json.dumps(found, indent=2))
    (ROOT / "experiments" / "results" / "monitor_twins.json").write_text(
        json.dumps(found, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
