"""The leakage guard: stop training, before any model is fitted, when a feature gives a label away.

It looks at the training rows only. A feature is flagged when it alone separates churn almost
perfectly (single-feature ROC-AUC), when it is a copy or one-to-one recoding of a label (churn, or
future value up to a monotone map), or, for customer attributes, when its name looks like a label.
The error names every flagged feature, why, and how to proceed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from core.config import LeakageConfig
from core.errors import ConfigError, LeakageError
from core.schema import ATTRIBUTE_PREFIX
from features.labels import CHURN, FUTURE_VALUE
from training.leak_probe import FOLDS, probe

LABEL_STEMS = ("churn", "attrit")
"""A name token starting with one of these is label-like anywhere: churn_flag, IsChurned."""
LABEL_TOKENS = frozenset(
    {"exited", "cancelled", "canceled", "cancellation", "lapsed", "defected", "terminated"}
)
"""Tokens that name an outcome wherever they appear in an attribute's name."""
LABEL_NAMES = frozenset(
    {"label", "target", "y", "outcome", "left", "active", "is_active", "retained"}
)
"""Whole attribute names (tokens joined by '_') that are label-like on their own only."""
MIN_COVERAGE = 0.5
"""The AUC on non-missing rows counts only when they are at least this share of the rows."""
COPY_CORRELATION = 0.999
"""A rank correlation with future value at least this high (in size) is a monotone copy."""


@dataclass(frozen=True)
class Finding:
    """One flagged feature and every reason it was flagged."""

    feature: str
    reasons: tuple[str, ...]

    def line(self) -> str:
        return f"  - {self.feature}: {'; '.join(self.reasons)}"


def check_leakage(
    frame: pd.DataFrame, features: Sequence[str], config: LeakageConfig, seed: int = 0
) -> list[str]:
    """Raise LeakageError naming every feature of ``frame`` (training rows) that leaks a label,
    then every column or pair that carries a cross-validated model far past the others
    (``training.leak_probe``, seeded by ``seed``).

    ``frame`` holds the features and the ``churn`` label (``future_value`` when present). Names in
    ``config.allow_features`` are skipped; one that is not a feature is a ConfigError. Returns a
    warning per feature strong enough alone to deserve a look (``config.warn_auc``), not stopped.
    """
    unknown = [f for f in config.allow_features if f not in features]
    if unknown:
        hints = [f"{ATTRIBUTE_PREFIX}{f}" for f in unknown if f"{ATTRIBUTE_PREFIX}{f}" in features]
        hint = f" (attributes are named with their prefix: {hints})" if hints else ""
        raise ConfigError(
            f"leakage.allow_features names no feature of this run: {unknown}{hint}; "
            f"the features are {list(features)}"
        )
    findings = find_leaks(frame, [f for f in features if f not in config.allow_features], config)
    if findings:
        raise LeakageError(
            f"training stopped before fitting: {len(findings)} feature(s) give the label away on "
            f"the {len(frame):,} training rows, so a model would look near-perfect and be "
            "useless where the label is unknown:\n"
            + "\n".join(f.line() for f in findings)
            + "\nRemove each such column from the data (a customers-table column: drop it, or "
            "leave it out of data.customers.attributes; a snapshots-table column: list it under "
            "data.snapshots.drop); if one is legitimate (known at every cutoff), list it under "
            "leakage.allow_features in the experiment config."
        )
    probed = probe(frame, features, config, seed)
    carried = probed.stopped(config)
    if carried:
        raise LeakageError(
            f"training stopped before fitting: {len(carried)} column(s) or pair(s) carry a "
            "model far past what all the other columns reach together (a small LightGBM, "
            f"{FOLDS}-fold cross-validated on up to {config.probe_rows:,} training rows), as a "
            "field filled in after the outcome does, even when it is right for only some "
            "customers:\n"
            + "\n".join(c.line() for c in carried)
            + "\nRemove such a column from the data, or, if it is known at every cutoff (not "
            "updated after the customer left), list it (for a pair: either column) under "
            "leakage.allow_features in the experiment config (limits: leakage.max_carry "
            f"{config.max_carry:g}, leakage.min_drop {config.min_drop:g})."
        )
    skipped = (
        [f"the cross-validated leak check did not run: {probed.skipped}"]
        if probed.skipped and config.probe_features
        else []
    )
    return [
        *strong_features(frame, [f for f in features if f not in config.allow_features], config),
        *skipped,
    ]


def strong_features(
    frame: pd.DataFrame, features: Sequence[str], config: LeakageConfig
) -> list[str]:
    """A warning for each feature whose single-feature churn ROC-AUC reaches ``warn_auc``."""
    churn = frame[CHURN].to_numpy(dtype=np.float64)
    out = []
    for feature in features:
        codes, numeric = _codes(frame[feature])
        aucs = _aucs(codes, numeric, churn, config.min_level_rows)
        strength = max((max(a, 1 - a) for a in aucs.values()), default=0.0)
        if strength >= config.warn_auc:
            out.append(
                f"{feature} alone reaches churn ROC-AUC {strength:.3f} on the training rows: "
                "check that it is known on the day it describes (a value measured after it, "
                "e.g. over the horizon, leaks the label)"
            )
    return out


def find_leaks(
    frame: pd.DataFrame, features: Sequence[str], config: LeakageConfig
) -> list[Finding]:
    """Every feature that leaks a label on ``frame``, in feature order, with its reasons."""
    churn = frame[CHURN].to_numpy(dtype=np.float64)
    value_ranks = None
    if FUTURE_VALUE in frame.columns:
        value = frame[FUTURE_VALUE].to_numpy(dtype=np.float64)
        if len(value) and np.ptp(value) > 0:
            value_ranks = rankdata(value)
    findings = []
    for feature in features:
        reasons = _reasons(frame[feature], churn, value_ranks, config)
        if feature.startswith(ATTRIBUTE_PREFIX) and label_like(
            feature.removeprefix(ATTRIBUTE_PREFIX)
        ):
            reasons.append("named like a label")
        if reasons:
            findings.append(Finding(feature, tuple(reasons)))
    return findings


def label_like(name: str) -> bool:
    """Whether a customers-table column name reads like a label: Churn, is_churned, Exited, y."""
    tokens = [t.lower() for t in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]
    return (
        any(t.startswith(LABEL_STEMS) or t in LABEL_TOKENS for t in tokens)
        or "_".join(tokens) in LABEL_NAMES
    )


def single_feature_auc(
    column: pd.Series, churn: np.ndarray, min_level_rows: int = 20
) -> dict[str, float]:
    """The churn ROC-AUC of one feature, by scoring: raw values, non-missing rows, level rate.

    Numbers are scored as they are with missing values as the lowest value, and also on the
    non-missing rows alone when those are most rows; every feature is scored by each level's
    churn rate, levels under ``min_level_rows`` rows pooled so tiny levels cannot look perfect.
    """
    return _aucs(*_codes(column), churn, min_level_rows)


def _aucs(
    codes: np.ndarray, numeric: bool, churn: np.ndarray, min_level_rows: int
) -> dict[str, float]:
    count = np.bincount(codes).astype(np.float64)
    pos = np.bincount(codes, weights=churn, minlength=len(count))
    aucs: dict[str, float] = {}
    if numeric:
        aucs["raw values"] = _auc(pos, count - pos)
        present = count[1:].sum()
        if count[0] > 0 and present >= MIN_COVERAGE * count.sum():
            aucs[f"non-missing rows ({present / count.sum():.0%})"] = _auc(
                pos[1:], count[1:] - pos[1:]
            )
    big = count >= min_level_rows
    pos_l = np.r_[pos[big], pos[~big].sum()]
    count_l = np.r_[count[big], count[~big].sum()]
    kept = count_l > 0
    pos_l, count_l = pos_l[kept], count_l[kept]
    order = np.argsort(pos_l / count_l, kind="stable")
    aucs["churn rate per level"] = _auc(pos_l[order], count_l[order] - pos_l[order])
    return {k: v for k, v in aucs.items() if not np.isnan(v)}


def _reasons(
    column: pd.Series,
    churn: np.ndarray,
    value_ranks: np.ndarray | None,
    config: LeakageConfig,
) -> list[str]:
    """Why one feature leaks a label (empty if it does not)."""
    reasons = []
    codes, numeric = _codes(column)
    recoding = _churn_recoding(column, codes, churn)
    if recoding:
        reasons.append(f"a copy or one-to-one recoding of churn ({recoding})")
    else:
        aucs = _aucs(codes, numeric, churn, config.min_level_rows)
        extreme = {k: a for k, a in aucs.items() if max(a, 1 - a) >= config.max_auc}
        if extreme:
            how, auc = max(extreme.items(), key=lambda kv: max(kv[1], 1 - kv[1]))
            reasons.append(
                f"alone separates churn: single-feature ROC-AUC {auc:.4f} (scored by {how}; "
                f"the guard stops at >= {config.max_auc} or <= {1 - config.max_auc:.2f})"
            )
    if value_ranks is not None and numeric:
        rho = _rank_correlation(codes, value_ranks)
        if rho is not None and abs(rho) >= COPY_CORRELATION:
            reasons.append(
                f"a copy of {FUTURE_VALUE} up to a monotone map (rank correlation {rho:.4f})"
            )
    return reasons


def _codes(column: pd.Series) -> tuple[np.ndarray, bool]:
    """Level codes, 0 for missing; numbers coded in ascending order. Also: is it numeric?"""
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        codes = np.zeros(len(values), dtype=np.intp)
        codes[~missing] = np.unique(values[~missing], return_inverse=True)[1] + 1
        return codes, True
    return pd.factorize(column)[0].astype(np.intp) + 1, False


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC-AUC from churners and others per level, levels in ascending score; NaN if one class."""
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (n_pos * n_neg))


def _churn_recoding(column: pd.Series, codes: np.ndarray, churn: np.ndarray) -> str:
    """'a ↔ churned, b ↔ stayed' when the column's two levels map one-to-one onto churn, else ''."""
    count = np.bincount(codes)
    levels = np.flatnonzero(count)
    if len(levels) != 2:
        return ""
    rate = np.bincount(codes, weights=churn, minlength=len(count))[levels] / count[levels]
    if set(rate) != {0.0, 1.0}:
        return ""
    churned, stayed = (levels[rate == 1.0][0], levels[rate == 0.0][0])
    first = {c: column.iloc[int(np.argmax(codes == c))] for c in (churned, stayed)}
    return f"{_show(first[churned])} ↔ churned, {_show(first[stayed])} ↔ stayed"


def _show(level: object) -> str:
    if pd.isna(level):
        return "missing"
    return repr(level) if isinstance(level, str) else f"{level:g}"


def _rank_correlation(codes: np.ndarray, value_ranks: np.ndarray) -> float | None:
    """Spearman's correlation of a numeric feature's codes (missing lowest) with future value."""
    count = np.bincount(codes).astype(np.float64)
    if np.count_nonzero(count) < 2:
        return None
    mid_rank = np.cumsum(count) - (count - 1) / 2
    return float(np.corrcoef(mid_rank[codes], value_ranks)[0, 1])
