"""The model tables of the README: out-of-time evaluations on CDNOW and on the demo data.

Each experiment trains in its own temporary state folder (a fresh MLflow store, so no earlier
champion changes anything) and writes its table to ``experiments/results/<name>.md`` atomically:

- ``cdnow.md``: ``experiments/cdnow.yaml`` on the CDNOW master log in ``../shared`` (skipped,
  saying so, when it is absent);
- ``demo.md``: ``experiments/demo.yaml`` on the demo retail business of ``make demo``
  (``retain demo-data``: 5,000 customers, seed 42), written into the temporary folder;
- ``crm.md``: ``experiments/crm.yaml`` (one as_of day, in-time) and ``crm_monthly.yaml`` (six
  month ends, out of time) on the demo CRM exports, with each churn model's calibration, and
  the served churn model before issue 28 (restored by config overrides) and now against the
  Bayes ceiling (the generator's true churn probability), with paired intervals;
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core.config import ExperimentConfig
    from model.card import Cutoffs
    from training.metrics import PairedInterval
    from training.pipeline import TrainResult

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


@dataclass(frozen=True)
class CrmRun:
    """One training of a CRM config: its result, config and ``train()`` wall seconds."""

    result: TrainResult
    config: ExperimentConfig
    seconds: float

    def served(self) -> tuple[str, np.ndarray]:
        """The churn model the run chose to serve and its test-row probabilities."""
        table = self.result.evaluation
        chosen = table[(table["task"] == "churn") & (table["chosen"] == "challenger")]
        name = str(chosen["model"].iloc[0])
        return name, self.result.predictions[f"churn.{name}"].to_numpy(dtype=float)

    def cutoffs(self) -> Cutoffs:
        """The registered churn model's split, as its card records it."""
        from model.registry import load_version

        result = self.result
        churn = load_version(
            self.config.registry.churn, result.versions["churn"], tracking_uri=result.tracking_uri
        )
        return churn.bundle.card.cutoffs


def train_crm(
    config_path: Path, home: Path, data: Path, overrides: dict[str, Any] | None = None
) -> CrmRun:
    """Train one CRM config on the demo exports in ``data``, in a fresh state folder ``home``,
    with dotted-key ``overrides`` (``{"churn.refit": "never"}``) on top of the file's keys."""
    from core.config_file import ConfigFile
    from training.pipeline import train

    text = config_path.read_text().replace("../data/demo/crm/", f"{data}/")
    local = home / config_path.name
    home.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    os.environ["RETAIN_HOME"] = str(home)
    file = ConfigFile.read(local)
    config = file.experiment(nested(file.raw, overrides or {}))
    started = time.perf_counter()
    result = train(
        config, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", progress=False, log=lambda _: None
    )
    return CrmRun(result, config, time.perf_counter() - started)


def nested(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The top-level sections ``overrides`` touches, each the file's section with the dotted
    keys set in it (``{"churn.refit": "never"}`` keeps the file's other churn keys)."""
    sections: dict[str, Any] = {}
    for key, value in overrides.items():
        *path, leaf = key.split(".")
        node = sections
        for depth, part in enumerate(path):
            given = raw
            for above in path[: depth + 1]:
                given = given.get(above) or {}
            node = node.setdefault(part, dict(given))
        node[leaf] = value
    return sections


def evaluate_crm(name: str, run: CrmRun) -> list[str]:
    """One CRM config's section of ``crm.md``: every model's test metrics and gains."""
    from training.evaluation import markdown_table

    result = run.result
    cutoffs = run.cutoffs()
    split = (
        f"in-time: one as_of day ({cutoffs.test}), customers split 64/16/20 at random "
        "(stratified, seeded), 5-fold cross-validation on the 80% (cv_ columns)"
        if cutoffs.in_time
        else f"out of time: {len(cutoffs.train)} training as_of days, validation "
        f"{cutoffs.validation}, test {cutoffs.test}"
    )
    return [
        f"## `retain train --config experiments/{name}`",
        "",
        f"{split}; {len(result.predictions):,} test rows, horizon {run.config.horizon_days} "
        f"days; {run.seconds:.1f} s.",
        "",
        markdown_table(result.evaluation.dropna(axis=1, how="all")),
        "",
        *gain_lines(result),
        "",
        "`mean_predicted`, `observed`, `calibration_bias` and `ece` (expected calibration error "
        "over 10 equal-width bins) are each model's calibration on the test rows.",
        "",
    ]


PRE_ISSUE_28 = {"churn.refit": "never", "churn.high_cardinality": "native"}
"""Config overrides that restore the served churn model of before issue 28: no refit on the
training and validation rows (the first fit is served) and LightGBM's native categorical splits
(no column of these exports has over 12 levels, so this one changes nothing here). Unchanged by
the issue and left as they are: ``clv.refit`` (true before and after), ``split.round_origins``
(0, the validation cutoff's rounds, as before) and code-like integer columns (none here)."""
PRE_ISSUE_28_IN_TIME = {**PRE_ISSUE_28, "tuning.enabled": False}
"""In time also no tuning: before issue 28 an in-time split skipped it ("no later cutoff to
score folds on"); out of time tuning ran before and after, so it stays on there."""
TRUTH = {"crm.yaml": "snapshot_truth.parquet", "crm_monthly.yaml": "monthly_truth.parquet"}
"""Each config's truth table as ``retain demo-data`` writes it beside the export: per
``customerID`` and ``as_of`` the generator's true churn probability ``p_churn`` and ``churned``."""


def set_truth_apart(export: Path, apart: Path) -> Path:
    """Move the truth tables out of the export folder before any training, so nothing a config
    reads can see them; returns their new folder."""
    apart.mkdir(parents=True, exist_ok=True)
    for name in TRUTH.values():
        (export / name).replace(apart / name)
    return apart


def true_probability(truth_path: Path, run: CrmRun) -> np.ndarray:
    """The generator's true churn probability of each test row of ``run``, in its order; the
    truth's own churn flag must equal each row's label (the rows are the same customers)."""
    result = run.result
    day = result.test_cutoff.date().isoformat()
    truth = pd.read_parquet(truth_path)
    truth = truth[truth["as_of"] == day].rename(columns={"customerID": "customer_id"})
    truth["customer_id"] = truth["customer_id"].astype(str)
    rows = result.predictions[["customer_id", "churn"]].astype({"customer_id": str})
    rows = rows.merge(truth, on="customer_id", how="left", validate="one_to_one")
    if rows["p_churn"].isna().any():
        missing = int(rows["p_churn"].isna().sum())
        raise ValueError(f"{truth_path.name}: {missing} test rows have no truth on {day}")
    disagree = int((rows["churned"] != rows["churn"]).sum())
    if disagree:
        raise ValueError(f"{truth_path.name}: {disagree} test rows' churn differs from the truth")
    return rows["p_churn"].to_numpy(dtype=float)


@dataclass(frozen=True)
class Ceiling:
    """The served churn model before and after issue 28 and the Bayes ceiling, on one export."""

    name: str
    in_time: bool
    rows: int
    churn_rate: float
    before: str
    now: str
    change: PairedInterval
    """ROC-AUC of the served model now minus before, on the same test rows."""
    gap: PairedInterval
    """ROC-AUC of the served model now minus the true probability's (the ceiling)."""
    seconds: tuple[float, float]
    """``train()`` wall seconds before and now."""


def ceiling_of(name: str, before: CrmRun, now: CrmRun, truth_path: Path) -> Ceiling:
    """Both served models and the true probability scored on the same test rows, with paired
    bootstrap intervals (1,000 replicates, seed 42)."""
    from training.metrics import paired_bootstrap

    y = now.result.predictions["churn"].to_numpy()
    same = before.result.predictions["customer_id"].equals(now.result.predictions["customer_id"])
    if not same:
        raise ValueError(f"{name}: the two trainings scored different test rows")
    before_name, before_p = before.served()
    now_name, now_p = now.served()
    truth = true_probability(truth_path, now)
    return Ceiling(
        name=name,
        in_time=now.cutoffs().in_time,
        rows=len(y),
        churn_rate=float(y.mean()),
        before=before_name,
        now=now_name,
        change=paired_bootstrap("roc_auc", y, now_p, before_p, seed=42),
        gap=paired_bootstrap("roc_auc", y, now_p, truth, seed=42),
        seconds=(before.seconds, now.seconds),
    )


def interval(ci: PairedInterval) -> str:
    """A paired difference as the tables print it: ``+0.0012 (-0.0020 to +0.0041)``."""
    return f"{ci.diff:+.4f} ({ci.low:+.4f} to {ci.high:+.4f})"


def overrides_text(overrides: dict[str, Any]) -> str:
    """Dotted overrides as YAML keys in backticks: ``churn.refit: never``."""
    return ", ".join(
        f"`{key}: {str(value).lower() if isinstance(value, bool) else value}`"
        for key, value in overrides.items()
    )


def room_lines(ceilings: list[Ceiling]) -> list[str]:
    """What the room under the ceiling lets these exports show, beside the intervals' size."""
    room = max(-c.gap.diff for c in ceilings)
    moved = [c for c in ceilings if c.change.high > c.change.low]
    if not moved:
        return []
    half = [(c.change.high - c.change.low) / 2 for c in moved]
    widths = ", ".join(
        f"±{h:.4f} on `{c.name}` ({c.rows:,} test rows)" for h, c in zip(half, moved, strict=True)
    )
    said = (
        f"- The room left on these exports is at most {room:.4f} of ROC-AUC; a paired interval "
        f"of now - before spans {widths}, "
    )
    if room < 3 * max(half):
        return [
            said + "so only a model that closed most of the room could show a gain separable "
            "from noise: these exports can show that issue 28's changes cost nothing here, "
            "hardly that they help."
        ]
    return [said + "so a real gain could be separated from noise here."]


def ceiling_section(ceilings: list[Ceiling]) -> list[str]:
    """The before/after table of the served churn model against the Bayes ceiling, and what
    it means for a user in plain words."""
    rows = [
        "| export | split | test rows | churn rate | before: served | ROC-AUC | now: served "
        "| ROC-AUC | now - before (95% paired) | Bayes ceiling | now - ceiling (95% paired) "
        "| training s before / now |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    reading = []
    for c in ceilings:
        ceiling = c.gap.champion
        rows.append(
            f"| `{c.name}` | {'in time' if c.in_time else 'out of time'} | {c.rows:,} | "
            f"{c.churn_rate:.3f} | {c.before} | {c.change.champion:.4f} | {c.now} | "
            f"{c.change.challenger:.4f} | {interval(c.change)} | {ceiling:.4f} | "
            f"{interval(c.gap)} | {c.seconds[0]:.1f} / {c.seconds[1]:.1f} |"
        )
        moved = (
            "an interval excluding 0"
            if not c.change.low <= 0 <= c.change.high
            else "an interval spanning 0: no change separable from noise"
            if c.change.low < c.change.high
            else "none: the same scores (out of time the default `churn.refit: in_time` serves "
            "the first fit, as before)"
        )
        where = (
            f"within {-c.gap.diff:.4f} ({-c.gap.high:.4f} to {-c.gap.low:.4f}) of"
            if c.gap.diff <= 0
            else f"{c.gap.diff:.4f} above (by chance: no model beats it in expectation)"
        )
        reading.append(
            f"- `{c.name}`: the served model reaches {c.change.challenger:.4f} where the true "
            f"probability reaches {ceiling:.4f}, so it is {where} the best any model of this "
            f"export can do; issue 28's changes move it by {interval(c.change)}, {moved}."
        )
    return [
        "## Before and after issue 28, against the Bayes ceiling",
        "",
        "Each config is trained twice in the same run, each in a fresh state folder: as it is "
        "now, and in the configuration of before issue 28 (the served churn model fitted on the "
        "training rows only and, in time, not tuned), restored by config overrides: "
        f"{overrides_text(PRE_ISSUE_28)} on both, and {overrides_text({'tuning.enabled': False})} "
        "on the in-time `crm.yaml` (before issue 28 an in-time split skipped tuning; out of time "
        "tuning ran before and runs now). `clv.refit`, `split.round_origins` and the reading of "
        "code-like integer columns are as before issue 28 (true, 0, none here). The Bayes "
        "ceiling is the test ROC-AUC of the generator's true churn probability (`p_churn` in "
        "the truth table `retain demo-data` writes beside each export, moved out of the "
        "export's folder before any training, never in the export): no model of the export can "
        "beat it in expectation. Differences are ROC-AUC on the same test rows with a 95% "
        "paired bootstrap interval (1,000 replicates, seed 42). Training seconds are "
        "`train()` wall time on this shared 2-core machine, the current config first; out of "
        "time both sides train the same models, so that pair shows how much the machine's load "
        "alone moves a time.",
        "",
        *rows,
        "",
        "What it means:",
        "",
        *reading,
        *room_lines(ceilings),
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
            truth = set_truth_apart(data / "crm", Path(home) / "truth")
            sections, ceilings = [], []
            for name in ("crm.yaml", "crm_monthly.yaml"):
                config_path = ROOT / "experiments" / name
                state = Path(home) / name.removesuffix(".yaml")
                now = train_crm(config_path, state, data / "crm")
                sections += evaluate_crm(name, now)
                pre = PRE_ISSUE_28_IN_TIME if now.cutoffs().in_time else PRE_ISSUE_28
                before = train_crm(config_path, Path(f"{state}_before"), data / "crm", pre)
                ceilings.append(ceiling_of(name, before, now, truth / TRUTH[name]))
            lines = [
                "# Labelled CRM exports",
                "",
                f"The demo CRM exports (`retain demo-data --business crm`: {DEMO_CUSTOMERS:,} "
                f"customers, seed {DEMO_SEED}), a telecom base whose churn hazard has planted "
                "drivers, thresholds and interactions (`retain/demo_crm.py`). `prior_rate` and "
                "`prior_mean` give everyone the training churn rate and mean value. Written by "
                "`make results`.",
                "",
                *ceiling_section(ceilings),
                *sections,
            ]
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
