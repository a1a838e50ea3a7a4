"""Scoring candidates on the test cutoff: metrics, per-segment slices, the curves in the model card.

Every candidate's test predictions go through ``evaluate``, so the evaluation table, the MLflow
metrics, the plots and the model card all read the same numbers, computed once here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.schema import CUSTOMER_ID
from features.labels import CHURN, FUTURE_VALUE
from model.bundle import ModelBundle
from model.card import CalibrationCurve, DecileTable, GainCurve, Task
from training.calibration import calibration_metrics
from training.metrics import (
    LOWER_IS_BETTER,
    EMPCParams,
    PairedInterval,
    churn_metrics,
    clv_metrics,
    decile_table,
    metrics_by_slice,
)

SLICE = "segment"
CALIBRATION_BINS = 10
GAIN_POINTS = 101
TARGETS: dict[Task, str] = {"churn": CHURN, "clv": FUTURE_VALUE}
"""The label column each task predicts."""


@dataclass
class ModelResult:
    """One candidate's test-cutoff predictions, metrics, curves and (if servable) its bundle."""

    task: Task
    name: str
    test_pred: np.ndarray
    metrics: dict[str, float]
    slices: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    bundle: ModelBundle | None = None
    importance: dict[str, float] | None = None
    calibration: CalibrationCurve | None = None
    gain: GainCurve | None = None
    deciles: DecileTable | None = None
    cv: dict[str, float] = field(default_factory=dict)
    """Cross-validation on the non-test rows (in-time splits only): mean and sd of each metric."""
    notes: list[str] = field(default_factory=list)
    """Plain lines on the fit: why it is unreliable, warnings its optimiser raised."""
    fit_metrics: dict[str, float] = field(default_factory=dict)
    """Numbers of the fit itself, not of the test cutoff (e.g. calibration backtest biases)."""
    reliable: bool = True
    """False when the fit hit a parameter boundary or did not converge: read its metrics warily."""
    servable: bool = False
    """Whether it explains each score (per-customer reasons), so it can be served."""
    validation: float = float("nan")
    """The gate's metric on the validation cutoff (servable candidates; they compete on it)."""
    validation_pred: np.ndarray | None = None
    """Predictions for the validation rows (servable candidates): a tie is judged on them."""
    selection: str = ""
    """Why the chosen candidate won on validation (best, or a tie the simpler one wins)."""
    chosen: bool = False
    """The servable candidate that won on validation: bundled, registered, gated."""
    comparison: bool = False
    """Evaluated for comparison only (``clv.compare``): never served, never the baseline."""
    baseline: str = ""
    """The best baseline of the task on the test cutoff, which ``versus`` compares with."""
    versus: dict[str, PairedInterval] = field(default_factory=dict)
    """Per metric: this model minus the best baseline on the test rows, paired bootstrap."""


@dataclass
class Evaluation:
    """Every candidate's result on one test cutoff, with the test rows they were scored on."""

    results: list[ModelResult]
    test: pd.DataFrame
    """The test cutoff's rows: customer id, features and labels, as the models saw them."""
    segment: np.ndarray

    @property
    def table(self) -> pd.DataFrame:
        """One row per (task, model) with its test metrics."""
        return evaluation_table(self.results)

    @property
    def predictions(self) -> pd.DataFrame:
        """Test rows: customer_id, churn, future_value, segment and every model's prediction."""
        out = self.test[[CUSTOMER_ID, CHURN, FUTURE_VALUE]].assign(**{SLICE: self.segment})
        for r in self.results:
            out[f"{r.task}.{r.name}"] = r.test_pred
        return out

    @property
    def notes(self) -> list[str]:
        """Every result's notes once each, in table order."""
        return list(dict.fromkeys(n for r in self.results for n in r.notes))

    def labels(self, task: Task) -> np.ndarray:
        """The test labels of ``task`` (churn 0/1 or future spend)."""
        return self.test[TARGETS[task]].to_numpy()


def test_metrics(task: Task, y: np.ndarray, pred: np.ndarray, empc: EMPCParams) -> dict[str, float]:
    """The task's metric set for one set of predictions (churn: with EMPC's economics), then
    calibration-in-the-large (``training.calibration.calibration_metrics``)."""
    ranking = churn_metrics(y, pred, empc_params=empc) if task == "churn" else clv_metrics(y, pred)
    return {**ranking, **calibration_metrics(task, y, pred)}


def segment_slices(
    task: Task, y: np.ndarray, pred: np.ndarray, segment: np.ndarray, empc: EMPCParams
) -> pd.DataFrame:
    """The task's metrics per customer segment ('new', 'established'), indexed by segment."""
    frame = pd.DataFrame({SLICE: segment, "y": y, "p": pred})
    return metrics_by_slice(
        frame, SLICE, lambda g: test_metrics(task, g["y"].to_numpy(), g["p"].to_numpy(), empc)
    )


def calibration_curve(
    y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
) -> CalibrationCurve:
    """Mean predicted and observed churn per equal-count bin of score, lowest scores first.

    Rows sorted by score (stable) are cut as ``numpy.array_split`` does: the first ``n % bins``
    bins hold one row more. Empty bins (fewer rows than bins) are left out.
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    n = len(p)
    order = np.argsort(p, kind="stable")
    sizes = np.full(bins, n // bins) + (np.arange(bins) < n % bins)
    sizes = sizes[sizes > 0]
    group = np.repeat(np.arange(len(sizes)), sizes)
    predicted = np.bincount(group, weights=p[order], minlength=len(sizes)) / sizes
    observed = np.bincount(group, weights=y[order], minlength=len(sizes)) / sizes
    return CalibrationCurve(predicted=predicted.tolist(), observed=observed.tolist())


def gain_curve(y: np.ndarray, p: np.ndarray, points: int = GAIN_POINTS) -> GainCurve:
    """Share of churners reached when contacting the top share of customers, highest score first.

    ``points`` evenly spaced shares from 0 to 1; at share ``s`` the top ``floor(s * n)``
    customers by score (stable order) are contacted.
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    share = np.linspace(0.0, 1.0, points)
    reached = np.concatenate([[0.0], np.cumsum(y[np.argsort(-p, kind="stable")])])
    k = np.floor(np.round(share * len(y), 9)).astype(np.int64)
    return GainCurve(share=share.tolist(), reached=(reached[k] / max(y.sum(), 1.0)).tolist())


def decile_curve(y: np.ndarray, pred: np.ndarray) -> DecileTable:
    """Mean predicted and actual future value per decile of predicted value, highest first."""
    table = decile_table(y, pred)
    return DecileTable(predicted=table["mean_pred"].tolist(), actual=table["mean_actual"].tolist())


def evaluate(
    task: Task,
    name: str,
    pred: np.ndarray,
    y: np.ndarray,
    segment: np.ndarray,
    empc: EMPCParams,
    **fitted: Any,
) -> ModelResult:
    """Metrics, slices and curves of one candidate's test predictions.

    ``fitted`` passes through what the candidate returned beside them (params, importance).
    """
    curves: dict[str, Any] = (
        {"calibration": calibration_curve(y, pred), "gain": gain_curve(y, pred)}
        if task == "churn"
        else {"deciles": decile_curve(y, pred)}
    )
    return ModelResult(
        task,
        name,
        pred,
        test_metrics(task, y, pred, empc),
        segment_slices(task, y, pred, segment, empc),
        **fitted,
        **curves,
    )


def evaluation_table(results: list[ModelResult]) -> pd.DataFrame:
    """One row per (task, model) with its test metrics; ``fit`` says 'unreliable' for a fit
    that hit a parameter boundary or did not converge (the evaluation's notes say why)."""
    rows = [
        {
            "task": r.task,
            "model": r.name,
            **r.metrics,
            **{f"cv_{k}": v for k, v in r.cv.items()},
        }
        for r in results
    ]
    fit = ["ok" if r.reliable else "unreliable" for r in results]
    if not rows:
        return pd.DataFrame(rows)
    table = pd.DataFrame(rows).assign(fit=fit)
    if any(r.servable or r.versus for r in results):
        table = table.assign(
            servable=[_servable_cell(r) for r in results],
            validation=[r.validation for r in results],
            chosen=["challenger" if r.chosen else "" for r in results],
        )
        metrics = list(dict.fromkeys(m for r in results for m in r.versus))
        for metric in metrics:
            table[f"vs_baseline_{metric}"] = [versus_cell(r, metric) for r in results]
    return table


def _servable_cell(result: ModelResult) -> str:
    if result.servable:
        return "yes"
    return "no: comparison only" if result.comparison else "no: cannot explain its scores"


def verdict(interval: PairedInterval) -> str:
    """'better', 'worse' or 'cannot be separated' (the interval spans zero) for a paired
    difference, the metric's direction taken into account."""
    if np.isnan(interval.low):
        return "interval not estimable"
    lower = interval.metric in LOWER_IS_BETTER
    if interval.low > 0:
        return "worse" if lower else "better"
    if interval.high < 0:
        return "better" if lower else "worse"
    return "cannot be separated"


def versus_cell(result: ModelResult, metric: str) -> str:
    """'+0.0061 (+0.0021 to +0.0102): better than bgnbd' for the table (the difference and its
    interval); '' without a comparison."""
    interval = result.versus.get(metric)
    if interval is None:
        return ""
    said = verdict(interval)
    joiner = {"better": " than ", "worse": " than ", "cannot be separated": " from "}
    return (
        f"{interval.diff:+.4f} ({interval.low:+.4f} to {interval.high:+.4f}): "
        f"{said}{joiner.get(said, ' vs ')}{result.baseline}"
    )


def slices_table(results: list[ModelResult]) -> pd.DataFrame:
    """Every result's per-segment metrics, indexed by (task, model, segment)."""
    return pd.concat({(r.task, r.name): r.slices for r in results}, names=["task", "model"])


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""

    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
