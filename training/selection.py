"""Which servable candidate becomes the challenger, and how every candidate compares with the
best baseline.

* ``choose``: among the servable candidates of a task (those that explain each score), the best
  on the validation cutoff by the gate's metric (``promotion.churn_metric`` / ``clv_metric``)
  wins; the registry gate then decides against the champion on the test cutoff. LightGBM's
  validation scores are those of the cutoff it early-stopped and calibrated on, a small edge in
  its favour: a candidate that still beats it there is better.
* ``compare_with_baseline``: per task, the best baseline (a model that cannot be served, such as
  BG/NBD) on the test cutoff, and for every other candidate a paired bootstrap interval of its
  difference to it, seeded by the experiment's seed, so "beats" means beats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import numpy as np

from model.card import Task
from training.config import ExperimentConfig, ServableChurn, ServableClv
from training.evaluation import ModelResult
from training.metrics import LOWER_IS_BETTER, EMPCParams, metric_function, paired_bootstrap

EXTRA_METRICS: dict[Task, tuple[str, ...]] = {"churn": (), "clv": ("mae",)}
"""Metrics compared with the baseline beside the gate's: CLV is judged on absolute error too."""


def gate_metric(task: Task, config: ExperimentConfig) -> str:
    """The configured metric the gate and the selection use for ``task``."""
    promotion = config.promotion
    return promotion.churn_metric if task == "churn" else promotion.clv_metric


def validation_score(
    task: Task, y: np.ndarray, pred: np.ndarray, config: ExperimentConfig
) -> float:
    """The gate's metric of one candidate's validation predictions."""
    empc = EMPCParams(**config.empc.model_dump())
    return float(metric_function(gate_metric(task, config), empc)(y, pred))


def left_out(task: Task, config: ExperimentConfig) -> set[str]:
    """The servable models of ``task`` the config keeps from competing (``churn.compete``,
    ``clv.compete``)."""
    if task == "churn":
        return set(get_args(ServableChurn)) - set(config.churn.compete)
    return set(get_args(ServableClv)) - set(config.clv.compete)


def choose(results: Sequence[ModelResult], config: ExperimentConfig) -> dict[Task, ModelResult]:
    """Per task, the competing servable result with the best validation score (first in table
    order on a tie; a nan score never wins unless every score is nan)."""
    out: dict[Task, ModelResult] = {}
    for r in results:
        if not r.servable or r.name in left_out(r.task, config):
            continue
        best = out.get(r.task)
        if best is None or _better(r.validation, best.validation, gate_metric(r.task, config)):
            out[r.task] = r
    for r in out.values():
        r.chosen = True
    return out


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
    task's best non-servable model on the test rows, for the gate's metric (and CLV's MAE)."""
    promotion = config.promotion
    empc = EMPCParams(**config.empc.model_dump())
    for task in dict.fromkeys(r.task for r in results):
        metric = gate_metric(task, config)
        rows = [r for r in results if r.task == task]
        baselines = [
            r
            for r in rows
            if not r.servable and not r.comparison and np.isfinite(r.metrics.get(metric, np.nan))
        ]
        if not baselines:
            continue
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        best = max(baselines, key=lambda r: sign * r.metrics[metric])
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
