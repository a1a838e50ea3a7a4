"""Which servable candidate becomes the challenger, and how every candidate compares with the
best baseline.

* ``choose``: among the servable candidates of a task (those that explain each score), the best
  on the validation cutoff by the gate's metric (``promotion.churn_metric`` / ``clv_metric``)
  wins, unless a candidate earlier in the task's ``compete`` list (simplest first) is within
  ``promotion.selection_se`` paired-bootstrap standard errors of it: a difference the validation
  rows cannot resolve goes to the simpler model, which holds up better further out of time (the
  one-standard-error rule). The registry gate then decides against the champion on the test
  cutoff. LightGBM's validation scores are those of the cutoff it early-stopped and calibrated
  on, a small edge in its favour.
* ``compare_with_baseline``: per task, the best reliable baseline (a model that cannot be
  served, such as BG/NBD, whose fit did not run to a parameter boundary) on the test cutoff, and
  for every other candidate a paired bootstrap interval of its difference to it, seeded by the
  experiment's seed, so "beats" means beats; an unreliable baseline is said to be left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import numpy as np

from core.config import ExperimentConfig, ServableChurn, ServableClv
from model.card import Task
from training.evaluation import ModelResult
from training.metrics import LOWER_IS_BETTER, EMPCParams, metric_function, paired_bootstrap

EXTRA_METRICS: dict[Task, tuple[str, ...]] = {"churn": (), "clv": ("mae", "rmse")}
"""Metrics compared with the baseline beside the gate's: CLV is judged on absolute error and on
squared error, whose minimiser is the mean a CLV forecasts (absolute error's is the median, near
zero for most customers, so MAE favours forecasts below the mean)."""


def gate_metric(task: Task, config: ExperimentConfig) -> str:
    """The configured metric the gate and the selection use for ``task``."""
    promotion = config.promotion
    return promotion.churn_metric if task == "churn" else promotion.clv_metric


def validation_score(
    task: Task, y: np.ndarray, pred: np.ndarray, config: ExperimentConfig
) -> float:
    """The gate's metric of one candidate's validation predictions."""
    empc = EMPCParams.of(config)
    return float(metric_function(gate_metric(task, config), empc)(y, pred))


def left_out(task: Task, config: ExperimentConfig) -> set[str]:
    """The servable models of ``task`` the config keeps from competing (``churn.compete``,
    ``clv.compete``)."""
    servable = get_args(ServableChurn) if task == "churn" else get_args(ServableClv)
    return set(servable) - set(preference(task, config))


def choose(
    results: Sequence[ModelResult], labels: dict[Task, np.ndarray], config: ExperimentConfig
) -> dict[Task, ModelResult]:
    """Per task, the competing servable result that wins on the validation rows (``labels``):
    the best score, or the earliest in the ``compete`` order within ``promotion.selection_se``
    standard errors of it. A nan score never wins unless every score is nan."""
    out: dict[Task, ModelResult] = {}
    for task in dict.fromkeys(r.task for r in results):
        order = preference(task, config)
        kept_out = left_out(task, config)
        competing = sorted(  # stable: models outside the compete list keep the table order
            (r for r in results if r.task == task and r.servable and r.name not in kept_out),
            key=lambda r: order.index(r.name) if r.name in order else len(order),
        )
        if not competing:
            continue
        metric = gate_metric(task, config)
        best = competing[0]
        for r in competing[1:]:
            if _better(r.validation, best.validation, metric):
                best = r
        winner, why = _tie_break(best, competing, labels[task], metric, config)
        winner.selection = why
        out[task] = winner
    for r in out.values():
        r.chosen = True
    return out


def preference(task: Task, config: ExperimentConfig) -> list[str]:
    """The competing servable models of ``task``, simplest (preferred on a tie) first."""
    compete = config.churn.compete if task == "churn" else config.clv.compete
    return list(dict.fromkeys(compete))


def _tie_break(
    best: ModelResult,
    competing: Sequence[ModelResult],
    y: np.ndarray,
    metric: str,
    config: ExperimentConfig,
) -> tuple[ModelResult, str]:
    """The first model before ``best`` in preference order whose validation score is within
    ``selection_se`` paired-bootstrap standard errors of the best's, else ``best``; with why."""
    tolerance = config.promotion.selection_se
    outright = (best, f"best on the validation cutoff by {metric}")
    if tolerance <= 0 or best.validation_pred is None:
        return outright
    for r in competing:
        if r is best:
            break
        if r.validation_pred is None or not np.isfinite(r.validation):
            continue
        interval = paired_bootstrap(
            metric,
            y,
            best.validation_pred,
            r.validation_pred,
            replicates=config.promotion.bootstrap_replicates,
            level=config.promotion.confidence_level,
            seed=config.seed,
            empc_params=EMPCParams.of(config),
        )
        gap = abs(best.validation - r.validation)
        if np.isfinite(interval.se) and gap <= tolerance * interval.se:
            return r, (
                f"within {gap / interval.se:.1f} standard errors of {best.name} on the validation "
                f"cutoff ({r.validation:.4f} against {best.validation:.4f}, SE {interval.se:.4f}): "
                f"a tie, and {r.name} comes first in the compete order "
                f"(promotion.selection_se={tolerance:g})"
            )
    return outright


def _better(score: float, than: float, metric: str) -> bool:
    if np.isnan(score):
        return False
    if np.isnan(than):
        return True
    return score < than if metric in LOWER_IS_BETTER else score > than


def compare_with_baseline(
    results: Sequence[ModelResult], labels: dict[Task, np.ndarray], config: ExperimentConfig
) -> None:
    """Set ``baseline`` and ``versus`` of every result: its paired bootstrap difference to the
    task's best reliable non-servable model on the test rows, for the gate's metric (and CLV's
    MAE). A baseline whose fit is unreliable is never the yardstick: a note on it says so and
    names the one used instead (none when no baseline of the task is reliable)."""
    promotion = config.promotion
    empc = EMPCParams.of(config)
    for task in dict.fromkeys(r.task for r in results):
        metric = gate_metric(task, config)
        rows = [r for r in results if r.task == task]
        baselines = [
            r
            for r in rows
            if not r.servable and not r.comparison and np.isfinite(r.metrics.get(metric, np.nan))
        ]
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        best = max(
            (r for r in baselines if r.reliable),
            key=lambda r: sign * r.metrics[metric],
            default=None,
        )
        for r in baselines:
            if not r.reliable:
                r.notes.append(_not_the_yardstick(r, best, metric))
        if best is None:
            continue
        for r in rows:
            if r is best:
                continue
            r.baseline = best.name
            for m in dict.fromkeys((metric, *EXTRA_METRICS[task])):
                r.versus[m] = paired_bootstrap(
                    m,
                    labels[task],
                    r.test_pred,
                    best.test_pred,
                    replicates=promotion.bootstrap_replicates,
                    level=promotion.confidence_level,
                    seed=config.seed,
                    empc_params=empc,
                )


def _not_the_yardstick(unreliable: ModelResult, best: ModelResult | None, metric: str) -> str:
    """The note on an unreliable baseline: what the other models are compared with instead."""
    instead = (
        f"the intervals 'vs baseline' are against {best.name}, the best reliable baseline "
        f"({metric} {best.metrics[metric]:.4f} on the test cutoff; {unreliable.name} "
        f"{unreliable.metrics[metric]:.4f})"
        if best is not None
        else "no baseline of the task is reliable, so no interval 'vs baseline' is given"
    )
    return f"{unreliable.task}/{unreliable.name} is not the yardstick (its fit is unreliable): {instead}"
