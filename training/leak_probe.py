"""The model-based leak check: a column (or a pair's ratio or product) that carries a model far
past what every other column reaches together is a partial or combination leak.

A single-column ROC-AUC misses a post-outcome field that is right for most customers but not all
(alone 0.83, under any single-column limit), and a leak hidden in a combination (revenue divided
by the monthly charge). Both show in a cheap cross-validated model: a small LightGBM, 3 folds, on
a seeded stratified row sample of the training rows. For the top features by gain, the check
compares the model with all columns, the model without the column (drop-column effect) and the
column alone; for the top numeric pairs, the same with their ratio or product. A column carries
the model when adding it to the others closes a large share (``LeakageConfig.max_carry``) of the
ROC-AUC gap to 1 they leave: an honest strong feature overlaps with the others (the customer's
story shows in several columns); a field written after the outcome adds what no other column
knows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from core.config import LeakageConfig, LightGBMTrees
from core.schema import CUSTOMER_ID
from features.labels import CHURN

FOLDS = 3
PROBE_TREES = LightGBMTrees(
    n_estimators=50,
    learning_rate=0.15,
    num_leaves=15,
    max_depth=5,
    min_child_samples=20,
    subsample=1.0,
    colsample_bytree=1.0,
    n_jobs=1,
)
"""The probe's small booster: enough to learn a leak and its combination, a second to fit."""
PAIR_FEATURES = 4
"""Numeric features among the top ones whose pairs are combined (4 give 6 pairs)."""
MIN_COMBINED_GAIN = 0.03
"""A pair's ratio or product is tried only if alone it beats both its columns by this ROC-AUC."""
BEYOND_ALONE = 0.02
"""A column stops training only when the model with it beats it alone by this ROC-AUC."""
MIN_CLASS_ROWS = 30
"""Fewer churners (or stayers) in the sample than this: no cross-validated ROC-AUC to trust."""


@dataclass(frozen=True)
class Carry:
    """How far one column (or one pair's combination) carries the cross-validated model."""

    name: str
    columns: tuple[str, ...]
    full_auc: float
    """ROC-AUC of the model with every column (and, for a pair, its combination)."""
    rest_auc: float
    """ROC-AUC of the model without it (for a pair: without both columns)."""
    own_auc: float
    """ROC-AUC of the column (or combination) alone, in its better direction."""

    @property
    def drop_effect(self) -> float:
        """How much ROC-AUC the model loses without it."""
        return self.full_auc - self.rest_auc

    @property
    def share(self) -> float:
        """The share of the ROC-AUC gap to 1 left by the other columns together that it closes."""
        return 0.0 if self.rest_auc >= 1.0 else self.drop_effect / (1.0 - self.rest_auc)

    def stopped(self, config: LeakageConfig) -> bool:
        """Whether it carries the model far past the others: it closes ``max_carry`` of their
        gap, by at least ``min_drop``, and the model is more than it alone (a sole honest driver
        among uninformative columns is the single-column limits' business)."""
        return (
            self.share >= config.max_carry
            and self.drop_effect >= config.min_drop
            and self.full_auc >= self.own_auc + BEYOND_ALONE
        )

    def line(self) -> str:
        return (
            f"  - {self.name}: cross-validated ROC-AUC {self.full_auc:.3f} with it, "
            f"{self.rest_auc:.3f} with the other columns only, {self.own_auc:.3f} alone: it "
            f"closes {self.share:.0%} of the gap the others leave to a perfect score"
        )


@dataclass
class Probe:
    """What the check measured on the training rows: every column and pair it tested."""

    rows: int
    full_auc: float
    carries: list[Carry] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""
    """Why the check did not run (too few rows of a class), or ''."""

    def stopped(self, config: LeakageConfig) -> list[Carry]:
        """The columns and pairs that carry the model far past the others; a column also named
        by a stopped pair is said once, with the pair."""
        out = [c for c in self.carries if c.stopped(config)]
        paired = {col for c in out if len(c.columns) > 1 for col in c.columns}
        return [c for c in out if len(c.columns) > 1 or c.columns[0] not in paired]


def probe(frame: pd.DataFrame, features: Sequence[str], config: LeakageConfig, seed: int) -> Probe:
    """The cross-validated carry of the top features and pairs of ``frame`` (training rows with
    the ``churn`` label); features in ``config.allow_features`` take part but are not tested."""
    start = time.perf_counter()
    if config.probe_features == 0:
        return Probe(0, float("nan"), skipped="turned off (leakage.probe_features: 0)")
    sample = _sample(frame[CHURN].to_numpy(dtype=np.int64), config.probe_rows, seed)
    churn = frame[CHURN].to_numpy(dtype=np.int64)[sample]
    fewer = int(min(churn.sum(), len(churn) - churn.sum()))
    if fewer < MIN_CLASS_ROWS or not features:
        return Probe(
            len(sample),
            float("nan"),
            skipped=f"only {fewer} training rows of the rarer class (churned or stayed), under "
            f"the {MIN_CLASS_ROWS} a cross-validated ROC-AUC needs"
            if features
            else "no features",
        )
    columns = {f: _numeric(frame[f].iloc[sample]) for f in features}
    categorical = {f for f in features if not pd.api.types.is_numeric_dtype(frame[f])}
    customers = (
        pd.factorize(frame[CUSTOMER_ID].iloc[sample])[0] if CUSTOMER_ID in frame.columns else None
    )
    folds = cv_folds(churn, customers, seed)
    cv = _CrossValidation(churn, folds, categorical, seed)
    full_auc, gain = cv.auc(columns)
    allowed = set(config.allow_features)
    top = [f for f in sorted(gain, key=lambda f: -gain[f]) if gain[f] > 0 and f not in allowed]
    out = Probe(len(sample), full_auc)
    for f in top[: config.probe_features]:
        rest = {k: v for k, v in columns.items() if k != f}
        alone = own_auc(columns[f], churn, f in categorical, config.min_level_rows)
        out.carries.append(Carry(f, (f,), full_auc, cv.auc(rest)[0], alone))
    numeric = [f for f in top if f not in categorical][:PAIR_FEATURES]
    for a, b, how, combined in _promising_pairs(numeric, columns, churn):
        rest = {k: v for k, v in columns.items() if k not in (a, b)}
        with_combined = cv.auc({**columns, how: combined})[0]
        out.carries.append(
            Carry(
                how, (a, b), max(full_auc, with_combined), cv.auc(rest)[0], own_auc(combined, churn)
            )
        )
    out.seconds = time.perf_counter() - start
    return out


def own_auc(
    values: np.ndarray, churn: np.ndarray, categorical: bool = False, min_level_rows: int = 20
) -> float:
    """ROC-AUC of one column alone in its better direction: numbers as they are (missing
    lowest), level codes by each level's churn rate (missing a level of its own; levels under
    ``min_level_rows`` rows pooled, so an id-like column cannot look perfect)."""
    if categorical:
        codes = np.where(np.isnan(values), -1, values).astype(np.int64) + 1
        count = np.bincount(codes)
        codes = np.where(count[codes] >= min_level_rows, codes, len(count))
        rate = np.bincount(codes, weights=churn) / np.maximum(np.bincount(codes), 1)
        score = rate[codes]
    else:
        score = np.where(np.isnan(values), np.nanmin(values, initial=0.0) - 1.0, values)
    auc = rank_auc(churn, score)
    return max(auc, 1.0 - auc)


def rank_auc(churn: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    positives = int(churn.sum())
    negatives = len(churn) - positives
    ranks = rankdata(score)
    return float(
        (ranks[churn == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def _promising_pairs(
    numeric: list[str], columns: dict[str, np.ndarray], churn: np.ndarray
) -> list[tuple[str, str, str, np.ndarray]]:
    """Pairs whose ratio or product alone beats both columns alone by ``MIN_COMBINED_GAIN``:
    (a, b, its name, its values), the best combination per pair."""
    out = []
    for a, b in combinations(numeric, 2):
        x, y = columns[a], columns[b]
        alone = max(own_auc(x, churn), own_auc(y, churn))
        with np.errstate(divide="ignore", invalid="ignore"):
            tries = {f"{a} ÷ {b}": np.where(y != 0, x / y, np.nan), f"{a} × {b}": x * y}
        scores = {k: own_auc(np.where(np.isfinite(v), v, np.nan), churn) for k, v in tries.items()}
        best = max(scores, key=lambda k: scores[k])
        if scores[best] >= alone + MIN_COMBINED_GAIN:
            out.append((a, b, best, np.where(np.isfinite(tries[best]), tries[best], np.nan)))
    return out


@dataclass
class _CrossValidation:
    """Out-of-fold ROC-AUC of the probe's booster on given columns, folds fixed once."""

    churn: np.ndarray
    folds: np.ndarray
    categorical: set[str]
    seed: int

    def auc(self, columns: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
        """The pooled out-of-fold ROC-AUC, and each column's total gain over the folds."""
        names = list(columns)
        x = np.column_stack([columns[n] for n in names])
        cats = [i for i, n in enumerate(names) if n in self.categorical]
        params = PROBE_TREES.lightgbm_kwargs(self.seed)
        rounds = params.pop("n_estimators")
        pred = np.zeros(len(self.churn))
        gain = np.zeros(len(names))
        for k in range(FOLDS):
            fit = self.folds != k
            data = lgb.Dataset(
                x[fit], self.churn[fit], categorical_feature=cats, free_raw_data=False
            )
            booster = lgb.train(
                {**params, "objective": "binary"},
                data,
                num_boost_round=rounds,
                keep_training_booster=True,
            )
            pred[~fit] = booster.predict(x[~fit], num_threads=1)
            gain += booster.feature_importance("gain")
        return rank_auc(self.churn, pred), dict(zip(names, gain.tolist(), strict=True))


def _sample(churn: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Row positions of a seeded sample of at most ``rows``, stratified by churn, in order."""
    if len(churn) <= rows:
        return np.arange(len(churn))
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(np.flatnonzero(churn == label), round(rows * np.mean(churn == label)), False)
        for label in (0, 1)
    ]
    return np.sort(np.concatenate(keep))


def cv_folds(churn: np.ndarray, customers: np.ndarray | None, seed: int) -> np.ndarray:
    """A fold number per row, seeded: stratified by churn, or by customer when one has rows at
    several cutoffs (so no customer is learned in one fold and scored in another)."""
    rng = np.random.default_rng(seed)
    if customers is not None and len(customers) and np.bincount(customers).max() > 1:
        return (rng.permutation(customers.max() + 1) % FOLDS)[customers]
    folds = np.empty(len(churn), dtype=np.int64)
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(churn == label))
        folds[rows] = np.arange(len(rows)) % FOLDS
    return folds


def _numeric(column: pd.Series) -> np.ndarray:
    """Numbers as floats (missing: NaN); other columns as level codes (missing: NaN)."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    codes = pd.factorize(column)[0].astype(np.float64)
    return np.where(codes < 0, np.nan, codes)
