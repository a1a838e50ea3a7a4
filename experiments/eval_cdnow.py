"""The CDNOW evaluation table of the README: `retain train --config experiments/cdnow.yaml`, out of time.

Trains in a temporary state folder (its own MLflow store, so no earlier champion changes anything)
and writes ``experiments/results/cdnow.md`` atomically. Needs the CDNOW log in ``../shared``.
Run with ``make results`` (or ``python experiments/eval_cdnow.py``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "cdnow.yaml"
OUT = ROOT / "experiments" / "results" / "cdnow.md"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from model.registry import load_version
    from model.settings import disable_telemetry
    from training.config import load_config
    from training.evaluation import markdown_table
    from training.pipeline import train

    config = load_config(CONFIG)
    if not config.data.transactions.path.exists():
        sys.exit(f"the CDNOW log is not at {config.data.transactions.path} (../shared is absent)")
    disable_telemetry()
    with tempfile.TemporaryDirectory() as home:
        os.environ["RETAIN_HOME"] = home
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        started = time.perf_counter()
        result = train(config, progress=False, log=lambda _: None)
        seconds = time.perf_counter() - started
        card = load_version(config.registry.churn, result.versions["churn"]).bundle.card
    test = result.predictions
    split = card.cutoffs
    text = "\n".join(
        [
            "# CDNOW evaluation",
            "",
            f"`{' '.join(['retain', 'train', '--config', 'experiments/cdnow.yaml'])}` on the full "
            "CDNOW master log (23,570 customers, 69,659 transactions, 1997-01 to 1998-06): "
            f"{len(split.train)} monthly training cutoffs, validation {split.validation}, "
            f"test {split.test} ({len(test):,} active customers), horizon "
            f"{config.horizon_days} days. Training took {seconds:.1f} s on this 2-core machine "
            "(`train()` in-process, data loading included). Written by `make results`.",
            "",
            markdown_table(result.evaluation),
            "",
            "EMPC uses Verbraken et al.'s defaults (CLV 200, incentive 10, contact cost 1, "
            "acceptance Beta(6, 14)); CLV metrics are over the 90-day horizon's spend.",
            "",
        ]
    )
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(OUT)
    print(text)


if __name__ == "__main__":
    main()
