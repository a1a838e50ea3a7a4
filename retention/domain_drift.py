"""Multivariate drift: can a classifier tell the latest customers from the model's reference?

A small LightGBM is trained to separate two feature frames (reference rows labelled 0, current
rows 1; a seeded sample of at most ``max_rows`` each). Its held-out ROC-AUC over stratified
folds is the drift score: 0.5 when the two are one population, 1 when every customer betrays
which side they come from (the mean of the folds' held-out ROC-AUC: scores of models fitted
on other folds are not pooled). It sees what each column alone misses (a joint move, such as the
orders of one region falling). The interval is Hanley and McNeil's:

``SE^2 = (A(1-A) + (n1-1)(Q1-A^2) + (n0-1)(Q2-A^2)) / (n1 n0)``, ``Q1 = A/(2-A)``,
``Q2 = 2A^2/(1+A)``; 95%: ``A +- 1.96 SE``.

The features that separate most are ranked by the classifier's total gain, each told in plain
words (``features.catalogue``) with the direction of its median. Pure: frames in, figures out.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from features.catalogue import CATALOGUE
from retention.monitor_figures import Interval, roc_auc

DESCRIPTIONS = {spec.name: spec.description.rstrip(".") for spec in CATALOGUE}
TOP = 5
"""Separating features named in the result."""


@dataclass(frozen=True)
class Separating:
    """One feature the classifier leaned on, its share of the total gain, and how it moved."""

    feature: str
    share: float
    words: str


@dataclass(frozen=True)
class DomainDrift:
    """The domain classifier's out-of-fold ROC-AUC with its interval, and what separates."""

    roc_auc: Interval
    reference_rows: int
    current_rows: int
    separating: list[Separating]

    def text(self) -> str:
        named = "; ".join(s.words for s in self.separating[:3]) or "nothing in particular"
        return f"ROC-AUC {self.roc_auc.text()}; separates most: {named}"


def auc_interval(auc: float, positives: int, negatives: int) -> Interval:
    """Hanley and McNeil's 95% interval of a ROC-AUC (module docstring), clipped to [0, 1]."""
    if np.isnan(auc) or not positives or not negatives:
        return Interval(float("nan"), float("nan"), float("nan"))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    half = 1.96 * float(np.sqrt(max(var, 0.0)))
    return Interval(auc, max(auc - half, 0.0), min(auc + half, 1.0))


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= max_rows else frame.sample(max_rows, random_state=seed)


def _encoded(reference: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Both frames stacked, text columns as categories over both sides' levels, columns renamed
    ``f0, f1, ...`` (an export's column names may hold characters LightGBM refuses)."""
    both = pd.concat([reference, current], ignore_index=True)
    for name in both.columns:
        if not pd.api.types.is_numeric_dtype(both[name]) or pd.api.types.is_bool_dtype(both[name]):
            both[name] = both[name].astype("string").astype("category")
    both.columns = [f"f{i}" for i in range(both.shape[1])]
    return both


def _words(name: str, reference: pd.Series, current: pd.Series) -> str:
    """``name`` in plain words and which way its median (or most common level) moved."""
    what = DESCRIPTIONS.get(name, name.replace("_", " "))
    if pd.api.types.is_numeric_dtype(current) and not pd.api.types.is_bool_dtype(current):
        before, now = float(reference.median()), float(current.median())
        way = "higher" if now > before else "lower" if now < before else "spread differently"
        return f"{name} ({what}): {way} now, median {now:.3g} vs {before:.3g}"
    before_share = reference.astype(str).value_counts(normalize=True)
    now_share = current.astype(str).value_counts(normalize=True)
    change = now_share.sub(before_share, fill_value=0.0)
    level = str(change.abs().idxmax()) if len(change) else "?"
    return (
        f"{name} ({what}): {level} {now_share.get(level, 0.0):.0%} of customers now vs "
        f"{before_share.get(level, 0.0):.0%}"
    )


def domain_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    folds: int = 3,
    max_rows: int = 5000,
    seed: int = 0,
) -> DomainDrift:
    """How well a classifier tells ``current`` rows from ``reference`` rows (module docstring);
    both frames hold the same feature columns."""
    ref, cur = _sample(reference, max_rows, seed), _sample(current, max_rows, seed + 1)
    x = _encoded(ref, cur)
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    folds = min(folds, len(ref), len(cur))
    if folds < 2:
        nan = Interval(float("nan"), float("nan"), float("nan"))
        return DomainDrift(nan, len(ref), len(cur), [])
    aucs = []
    gain = np.zeros(x.shape[1])
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held in split.split(x, y):
        model = lgb.LGBMClassifier(
            n_estimators=40,
            learning_rate=0.1,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(x.iloc[fit_rows], y[fit_rows])
        held_p = np.asarray(model.predict_proba(x.iloc[held]))[:, 1]
        aucs.append(roc_auc(y[held], held_p))
        gain += model.booster_.feature_importance(importance_type="gain")
    auc = float(np.mean(aucs))
    order = np.argsort(-gain, kind="stable")[:TOP]
    total = gain.sum()
    separating = [
        Separating(
            feature=str(ref.columns[i]),
            share=float(gain[i] / total),
            words=_words(str(ref.columns[i]), ref.iloc[:, i], cur.iloc[:, i]),
        )
        for i in order
        if total > 0 and gain[i] > 0
    ]
    return DomainDrift(auc_interval(auc, len(cur), len(ref)), len(ref), len(cur), separating)


__all__ = ["DomainDrift", "Separating", "auc_interval", "domain_drift"]
