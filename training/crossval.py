"""Cross-validation for in-time splits: a labelled table with one as_of day has no later day to
test on, so besides the held-out test customers, every churn candidate is refitted on k stratified
folds of the other rows and its ROC-AUC reported as mean and spread over the folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.labels import CHURN
from training.candidates import Candidate, Fold
from training.evaluation import Evaluation
from training.metrics import roc_auc


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A fold number 0..k-1 per row, each class dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        out[rows] = np.arange(len(rows)) % k
    return out


def add_cross_validation(
    evaluation: Evaluation, fold: Fold, candidates: Sequence[Candidate], k: int
) -> None:
    """Add ``roc_auc`` and ``roc_auc_sd`` over ``k`` folds to each churn result's ``cv``.

    In each fold the candidates train on the other folds (a stratified fifth of those validates,
    for early stopping and calibration) and are scored on the held-out fold; the test customers
    are never used.
    """
    rest = pd.concat([fold.frames["train"], fold.frames["validation"]], ignore_index=True)
    y = rest[CHURN].to_numpy()
    seed = fold.config.seed
    folds = stratified_folds(y, k, seed)
    churn = {c.name: c for c in candidates if c.task == "churn"}
    scores: dict[str, list[float]] = {name: [] for name in churn}
    for i in range(k):
        inner = rest.loc[folds != i].reset_index(drop=True)
        validate = stratified_folds(inner[CHURN].to_numpy(), 5, seed + i + 1) == 0
        parts = {
            "train": inner.loc[~validate].reset_index(drop=True),
            "validation": inner.loc[validate].reset_index(drop=True),
            "test": rest.loc[folds == i].reset_index(drop=True),
        }
        sub = Fold(fold.config, fold.data, parts=parts)
        for name, candidate in churn.items():
            fitted = candidate.fit(sub)
            if fitted is not None:
                scores[name].append(roc_auc(parts["test"][CHURN].to_numpy(), fitted.test_pred))
    for result in evaluation.results:
        if result.task == "churn" and scores.get(result.name):
            values = np.asarray(scores[result.name])
            result.cv = {"roc_auc": float(values.mean()), "roc_auc_sd": float(values.std(ddof=1))}
