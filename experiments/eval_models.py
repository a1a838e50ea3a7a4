"""The model tables of the README: out-of-time evaluations on CDNOW and on the demo data.

Each experiment trains in its own temporary state folder (a fresh MLflow store, so no earlier
champion changes anything) and writes its table to ``experiments/results/<name>.md`` atomically:

- ``cdnow.md``: ``experiments/cdnow.yaml`` on the CDNOW master log in ``../shared`` (skipped,
  saying so, when it is absent);
- ``demo.md``: ``experiments/demo.yaml`` on the demo retail business of ``make demo``
  (``retain demo-data``: 5,000 customers, seed 42), written into the temporary folder;
- ``crm.md``: ``experiments/crm.yaml`` (one as_of day, in-time) and ``crm_monthly.yaml`` (six
  month ends, out of time) on the demo CRM exports, with each churn model's calibration;
- ``calibration.md``: calibration-in-the-large of the LightGBM models on the test cutoff, before
  and after the season features and with the churn calibrator Platt (``standard``) or chosen by
  backtests (``auto``), on the demo retail business and on CDNOW.

Run with ``make results`` (or ``python experiments/eval_models.py [cdnow] [demo] [crm]
[calibration]``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
DEMO_CUSTOMERS, DEMO_SEED = 5000, 42
CHECKS = ("chosen:", "calibration of", "warning:", "note:")
"""Training output lines quoted under a table: calibration checks, warnings, fit notes."""
EMPC_NOTE = (
    "EMPC uses Verbraken et al.'s defaults (CLV 200, incentive 10, contact cost 1, acceptance "
    "Beta(6, 14)); CLV metrics are over the horizon's spend."
)


def evaluate(name: str, config_path: Path, home: Path, data_note: str) -> str:
    """Train one experiment in ``home`` and return its Markdown page."""
    from core.config_file import load_config
    from model.registry import load_version
    from training.evaluation import markdown_table
    from training.pipeline import train

    os.environ["RETAIN_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    config = load_config(config_path)
    started = time.perf_counter()
    said: list[str] = []
    result = train(config, progress=False, log=said.append)
    seconds = time.perf_counter() - started
    checks = [f"- {line.strip()}" for line in said if line.strip().startswith(CHECKS)]
    churn = load_version(
        config.registry.churn, result.versions["churn"], tracking_uri=result.tracking_uri
    )
    split = churn.bundle.card.cutoffs
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
            "Candidates compete: the servable models (those that explain each score) are compared "
            "on the validation cutoff by the gate's metric and the best becomes the challenger, "
            "unless a model listed before it in `compete` (simplest first: logistic before "
            "LightGBM, lightgbm_btyd before lightgbm) is within one paired-bootstrap standard "
            "error of it there (`promotion.selection_se`); every model's difference to the best "
            "baseline (the best model that cannot be served) on the test cutoff has a 95% paired "
            "bootstrap interval (1,000 replicates, seeded), and 'cannot be separated' when it spans zero:",
            "",
            markdown_table(competition(result.evaluation)),
            "",
            "Every metric:",
            "",
            markdown_table(result.evaluation.drop(columns=COMPETITION, errors="ignore")),
            "",
            EMPC_NOTE,
            "",
            *absolute_error_lines(result.predictions),
            "Calibration on the test cutoff and fit notes, as `retain train` prints them "
            "(churn bias in probability points, CLV bias relative):",
            "",
            *checks,
            "",
        ]
    )


COMPETITION = ["servable", "validation", "chosen"]


def competition(table: pd.DataFrame) -> pd.DataFrame:
    """The evaluation table's competition columns: per model its gate metric on validation,
    whether it was chosen, and its difference to the best baseline with the interval."""
    versus = [c for c in table.columns if c.startswith("vs_baseline_")]
    keep = ["task", "model", "roc_auc", "gini", "mae", "rmse", *COMPETITION, *versus]
    return table[[c for c in keep if c in table.columns]]


def absolute_error_lines(predictions: pd.DataFrame) -> list[str]:
    """What absolute error rewards: each CLV forecast's test MAE and RMSE as made and at half
    the forecast, beside forecasting 0 for everyone. MAE is minimised by the median, which is 0
    for a customer more likely than not to buy nothing; RMSE by the mean a CLV forecasts."""
    from core.schema import FUTURE_VALUE

    y = predictions[FUTURE_VALUE].to_numpy(dtype=float)
    rows = [
        "| forecast | mean | MAE | MAE at half | RMSE | RMSE at half |",
        "|---|---|---|---|---|---|",
    ]
    for column in [c for c in predictions.columns if c.startswith("clv.")]:
        p = predictions[column].to_numpy(dtype=float)
        mae = [float(np.abs(y - k * p).mean()) for k in (1.0, 0.5)]
        rmse = [float(np.sqrt(((y - k * p) ** 2).mean())) for k in (1.0, 0.5)]
        rows.append(
            f"| {column.removeprefix('clv.')} | {p.mean():.2f} | {mae[0]:.2f} | {mae[1]:.2f} | "
            f"{rmse[0]:.2f} | {rmse[1]:.2f} |"
        )
    rows.append(
        f"| 0 for everyone | 0.00 | {np.abs(y).mean():.2f} | | {np.sqrt((y**2).mean()):.2f} | |"
    )
    return [
        "What absolute error rewards: MAE is minimised by each customer's median spend, which is "
        f"0 for anyone more likely than not to buy nothing ({(y == 0).mean():.0%} of these test "
        f"customers bought nothing; actual mean {y.mean():.2f}). Halving a forecast, or "
        "forecasting 0, can lower MAE while it breaks the total a CLV exists to give; squared "
        "error (RMSE) is minimised by the mean, so it is the error to judge a CLV's amounts by:",
        "",
        *rows,
        "",
    ]


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
    from core.config_file import load_config
    from model.registry import load_version
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
    churn = load_version(
        config.registry.churn, result.versions["churn"], tracking_uri=result.tracking_uri
    )
    cutoffs = churn.bundle.card.cutoffs
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
        "`mean_predicted`, `observed`, `calibration_bias` and `ece` (expected calibration error "
        "over 10 equal-width bins) are each model's calibration on the test rows.",
        "",
    ]


SEASON_VARIANTS = (
    ("before: no season features, 12 training cutoffs", 12, False, "standard"),
    ("season features, 12 training cutoffs", 12, True, "standard"),
    ("season features, 24 training cutoffs", 24, True, "standard"),
    ("season features, 24 training cutoffs, calibration auto", 24, True, "auto"),
)
"""(label, training cutoffs, season features, churn.calibration.method): ``standard`` is Platt
scaling on the validation cutoff, ``auto`` the calibrator chosen by replaying past origins."""
CDNOW_VARIANTS = (
    SEASON_VARIANTS[0],
    SEASON_VARIANTS[1],
    ("season features, 12 training cutoffs, calibration auto", 12, True, "auto"),
)


def calibration_rows(
    config_path: Path, variants: tuple[tuple[str, int, bool, str], ...]
) -> tuple[list[str], list[str]]:
    """The LightGBM churn and CLV models' calibration on the test cutoff, one row per variant,
    and the lines in which ``auto`` says what it chose and why.

    Each variant fits only the LightGBM candidates on the experiment's data (no MLflow): the
    same fold, features and calibration as ``retain train``.
    """
    from core.config_file import load_config
    from features.build import resolve_families
    from training.candidates import CANDIDATES, Fold
    from training.dataset import load_training_data
    from training.pipeline import evaluate_candidates

    base = load_config(config_path)
    rows, choices = [], []
    for label, cutoffs, season, method in variants:
        split = base.split.model_copy(update={"max_train_cutoffs": cutoffs})
        calibration = base.churn.calibration.model_copy(update={"method": method})
        churn_config = base.churn.model_copy(update={"calibration": calibration})
        config = base.model_copy(update={"split": split, "churn": churn_config})
        data = load_training_data(config, progress=False)
        if not season:
            assert data.prep is not None
            families = [f for f in resolve_families(None, data.prep) if f != "season"]
            config = config.model_copy(update={"families": families})
            data = load_training_data(config, progress=False)
        lightgbm = [c for c in CANDIDATES if c.name == "lightgbm"]
        results = evaluate_candidates(Fold(config, data), lightgbm).results
        churn, clv = (r.metrics for r in results)
        choices += [f"- {label}: {note}" for note in results[0].notes]
        rows.append(
            f"| {label} | {churn['mean_predicted']:.1%} | {churn['observed']:.1%} | "
            f"{churn['calibration_bias'] * 100:+.1f} | {churn['ece']:.3f} | {churn['roc_auc']:.4f} | "
            f"{clv['mean_predicted']:.0f} | {clv['observed']:.0f} | "
            f"{clv['calibration_bias']:+.1%} |"
        )
    return rows, choices


CALIBRATION_HEADER = [
    "| approach | churn: mean predicted | observed | bias (points) | ECE | ROC-AUC "
    "| CLV: mean predicted | actual | bias |",
    "|---|---|---|---|---|---|---|---|---|",
]


def demo_retail_config(home: Path) -> Path:
    """Writes the seeded demo retail data under ``home`` and experiments/demo.yaml pointing at it."""
    from retain.demo_data import write_demo

    data = home / "demo"
    write_demo(data, customers=DEMO_CUSTOMERS, seed=DEMO_SEED, businesses=("retail",))
    config = home / "demo.yaml"
    config.write_text(
        (ROOT / "experiments" / "demo.yaml")
        .read_text()
        .replace("../data/demo/retail/", f"{data / 'retail'}/")
    )
    return config


def write(name: str, text: str) -> None:
    from experiments.publish import write_result

    write_result(RESULTS / f"{name}.md", text)


def main(which: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from core.settings import disable_telemetry
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
            config = demo_retail_config(Path(home))
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
    if "calibration" in which:
        lines = [
            "# Calibration through the season",
            "",
            "The LightGBM churn and CLV models on the test cutoff: mean predicted against observed "
            "(calibration-in-the-large), expected calibration error over 10 equal-width bins and "
            "ROC-AUC. Churn probabilities are a line on the booster's log-odds fitted on the "
            "validation cutoff, the most recent one whose horizon has ended by the test cutoff: "
            "Platt scaling (`churn.calibration.method: standard`, the rows without 'auto') or "
            "the calibrator that `auto` chooses by replaying past origins (none, intercept or "
            "platt; the lines under each table say which and why). Written by `make results`.",
            "",
        ]
        with tempfile.TemporaryDirectory() as home:
            config = demo_retail_config(Path(home))
            rows, choices = calibration_rows(config, SEASON_VARIANTS)
            lines += [
                f"## Demo retail ({DEMO_CUSTOMERS:,} customers, seed {DEMO_SEED}): validation "
                "2024-06-30 (the summer lull), test 2024-09-30 (before the Christmas peak)",
                "",
                *CALIBRATION_HEADER,
                *rows,
                "",
                *choices,
                "",
            ]
        cdnow = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
        if cdnow.exists():
            rows, choices = calibration_rows(ROOT / "experiments" / "cdnow.yaml", CDNOW_VARIANTS)
            lines += [
                "## CDNOW master log (`experiments/cdnow.yaml`)",
                "",
                *CALIBRATION_HEADER,
                *rows,
                "",
                *choices,
                "",
            ]
        write("calibration", "\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:] or ["cdnow", "demo", "crm", "calibration"])
