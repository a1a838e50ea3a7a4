"""The model tables of the README: out-of-time evaluations on CDNOW and on the demo data.

Each experiment trains in its own temporary state folder (a fresh MLflow store, so no earlier
champion changes anything) and writes its table to ``experiments/results/<name>.md`` atomically:

- ``cdnow.md``: ``experiments/cdnow.yaml`` on the CDNOW master log in ``../shared`` (skipped,
  saying so, when it is absent);
- ``demo.md``: ``experiments/demo.yaml`` on the demo retail business of ``make demo``
  (``retain demo-data``: 5,000 customers, seed 42), written into the temporary folder;
- ``crm.md``: ``experiments/crm.yaml`` (one as_of day, in-time) and ``crm_monthly.yaml`` (six
  month ends, out of time) on the demo CRM exports, with each churn model's calibration.

Run with ``make results`` (or ``python experiments/eval_models.py [cdnow] [demo] [crm]``).
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


def calibration_rows(result: object) -> list[str]:
    """Per churn model: mean predicted vs observed churn and the expected calibration error."""
    import numpy as np

    predictions = result.predictions  # type: ignore[attr-defined]
    observed = predictions["churn"].to_numpy(dtype=float)
    rows = []
    for column in [c for c in predictions if c.startswith("churn.")]:
        p = predictions[column].to_numpy(dtype=float)
        bins = np.minimum((p * 10).astype(int), 9)
        ece = sum(
            abs(p[bins == b].mean() - observed[bins == b].mean()) * (bins == b).mean()
            for b in np.unique(bins)
        )
        rows.append(
            f"| {column.removeprefix('churn.')} | {p.mean():.4f} | {observed.mean():.4f} | "
            f"{p.mean() - observed.mean():+.4f} | {ece:.4f} |"
        )
    return rows


def gain_lines(result: object) -> list[str]:
    """The LightGBM churn model's ROC-AUC gain over each baseline, with a paired 95% interval."""
    from training.metrics import paired_bootstrap

    predictions = result.predictions  # type: ignore[attr-defined]
    y = predictions["churn"].to_numpy()
    lines = []
    for baseline in ("logistic", "prior_rate"):
        ci = paired_bootstrap(
            "roc_auc", y, predictions["churn.lightgbm"], predictions[f"churn.{baseline}"], seed=42
        )
        lines.append(
            f"- ROC-AUC gain of lightgbm over {baseline}: {ci.diff:+.4f} "
            f"(95% paired bootstrap interval {ci.low:+.4f} to {ci.high:+.4f})"
        )
    return lines


def evaluate_crm(config_path: Path, home: Path, data: Path) -> list[str]:
    """Train one CRM config on the demo exports in ``data``; its section of ``crm.md``."""
    from model.registry import load_version
    from training.config import load_config
    from training.evaluation import markdown_table
    from training.pipeline import train

    text = config_path.read_text().replace("../data/demo/crm/", f"{data}/")
    local = home / config_path.name
    home.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    os.environ["RETAIN_HOME"] = str(home)
    config = load_config(local)
    started = time.perf_counter()
    result = train(
        config, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", progress=False, log=lambda _: None
    )
    seconds = time.perf_counter() - started
    cutoffs = load_version(config.registry.churn, result.versions["churn"]).bundle.card.cutoffs
    split = (
        f"in-time: one as_of day ({cutoffs.test}), customers split 64/16/20 at random "
        "(stratified, seeded), 5-fold cross-validation on the 80% (cv_ columns)"
        if cutoffs.in_time
        else f"out of time: {len(cutoffs.train)} training as_of days, validation "
        f"{cutoffs.validation}, test {cutoffs.test}"
    )
    return [
        f"## `retain train --config experiments/{config_path.name}`",
        "",
        f"{split}; {len(result.predictions):,} test rows, horizon {config.horizon_days} days; "
        f"{seconds:.1f} s.",
        "",
        markdown_table(result.evaluation.dropna(axis=1, how="all")),
        "",
        *gain_lines(result),
        "",
        "Calibration on the test rows (ECE: expected calibration error over 10 equal-width bins):",
        "",
        "| churn model | mean predicted | observed | bias | ECE |",
        "|---|---|---|---|---|",
        *calibration_rows(result),
        "",
    ]


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
    if "crm" in which:
        with tempfile.TemporaryDirectory() as home:
            data = Path(home) / "demo"
            write_demo(data, customers=DEMO_CUSTOMERS, seed=DEMO_SEED, businesses=("crm",))
            lines = [
                "# Labelled CRM exports",
                "",
                f"The demo CRM exports (`retain demo-data --business crm`: {DEMO_CUSTOMERS:,} "
                f"customers, seed {DEMO_SEED}), a telecom base whose churn hazard has planted "
                "drivers, thresholds and interactions (`retain/demo_crm.py`). `prior_rate` and "
                "`prior_mean` give everyone the training churn rate and mean value. Written by "
                "`make results`.",
                "",
            ]
            for name in ("crm.yaml", "crm_monthly.yaml"):
                state = Path(home) / name.removesuffix(".yaml")
                lines += evaluate_crm(ROOT / "experiments" / name, state, data / "crm")
            write("crm", "\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:] or ["cdnow", "demo", "crm"])
