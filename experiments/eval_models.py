"""The model tables of the README: out-of-time evaluations on CDNOW and on the demo data.

Each experiment trains in its own temporary state folder (a fresh MLflow store, so no earlier
champion changes anything) and writes its table to ``experiments/results/<name>.md`` atomically:

- ``cdnow.md``: ``experiments/cdnow.yaml`` on the CDNOW master log in ``../shared`` (skipped,
  saying so, when it is absent);
- ``demo.md``: ``experiments/demo.yaml`` on the demo retail business of ``make demo``
  (``retain demo-data``: 5,000 customers, seed 42), written into the temporary folder.

Run with ``make results`` (or ``python experiments/eval_models.py [cdnow] [demo]``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
DEMO_CUSTOMERS, DEMO_SEED = 5000, 42
EMPC_NOTE = (
    "EMPC uses Verbraken et al.'s defaults (CLV 200, incentive 10, contact cost 1, acceptance "
    "Beta(6, 14)); CLV metrics are over the horizon's spend."
)


def evaluate(name: str, config_path: Path, home: Path, data_note: str) -> str:
    """Train one experiment in ``home`` and return its Markdown page."""
    from model.registry import load_version
    from training.config import load_config
    from training.evaluation import markdown_table
    from training.pipeline import train

    os.environ["RETAIN_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    config = load_config(config_path)
    started = time.perf_counter()
    result = train(config, progress=False, log=lambda _: None)
    seconds = time.perf_counter() - started
    split = load_version(config.registry.churn, result.versions["churn"]).bundle.card.cutoffs
    command = f"retain train --config experiments/{config_path.name}"
    return "\n".join(
        [
            f"# {name} evaluation",
            "",
            f"`{command}` on {data_note}: {len(split.train)} monthly training cutoffs, validation "
            f"{split.validation}, test {split.test} ({len(result.predictions):,} active customers), "
            f"horizon {config.horizon_days} days. Training took {seconds:.1f} s on this 2-core "
            "machine (`train()` in-process, data loading included). Written by `make results`.",
            "",
            markdown_table(result.evaluation),
            "",
            EMPC_NOTE,
            "",
        ]
    )


def write(name: str, text: str) -> None:
    out = RESULTS / f"{name}.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(text)


def main(which: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from model.settings import disable_telemetry
    from retain.demo_data import write_demo

    disable_telemetry()
    if "cdnow" in which:
        cdnow = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
        if cdnow.exists():
            with tempfile.TemporaryDirectory() as home:
                note = "the full CDNOW master log (23,570 customers, 69,659 transactions)"
                write(
                    "cdnow",
                    evaluate("CDNOW", ROOT / "experiments" / "cdnow.yaml", Path(home), note),
                )
        else:
            print(f"skipped cdnow.md: the CDNOW log is not at {cdnow} (../shared is absent)")
    if "demo" in which:
        with tempfile.TemporaryDirectory() as home:
            data = Path(home) / "demo"
            write_demo(data, customers=DEMO_CUSTOMERS, seed=DEMO_SEED, businesses=("retail",))
            config = Path(home) / "demo.yaml"
            config.write_text(
                (ROOT / "experiments" / "demo.yaml")
                .read_text()
                .replace("../data/demo/retail/", f"{data / 'retail'}/")
            )
            note = f"the demo retail business ({DEMO_CUSTOMERS:,} customers, seed {DEMO_SEED})"
            write("demo", evaluate("Demo", config, Path(home) / "state", note))


if __name__ == "__main__":
    main(sys.argv[1:] or ["cdnow", "demo"])
