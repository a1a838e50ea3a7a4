"""Compact distributions of a feature frame, and how far two of them lie apart.

A ``FeatureSketch`` keeps what drift needs of one column in a few hundred numbers, whatever the
number of customers: for a numeric column 101 quantiles, its rows per bin of the reference's
deciles and its missing count; for a text column its category counts. The model card keeps the
sketches of the test cutoff's rows (the model's reference, ``ModelCard.reference``); every score
generation keeps its own (``serving/score_history.py``), binned on the scoring model's deciles so
the population stability index (PSI) is exact. Pure numpy; no I/O.

Distances, both on the same bins (a missing value is a bin of its own):
``PSI = sum_i (g_i - r_i) ln(g_i / r_i)`` and the Jensen-Shannon distance (base 2, 0 to 1);
and the Wasserstein-1 distance ``mean_q |Q_g(q) - Q_r(q)|`` over the quantile levels, in units
of the reference's interquartile range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.stats import chi2

LEVELS = np.linspace(0.0, 1.0, 101)
"""The quantile levels a numeric sketch keeps (0%, 1%, ..., 100%)."""
DECILES = np.linspace(0.1, 0.9, 9)
TOP_CATEGORIES = 50
"""A text column keeps its most frequent categories; the rest are counted as OTHER."""
OTHER = "(other)"
SMOOTH = 1e-4
"""Floor of a bin's share in PSI and Jensen-Shannon, so an empty bin is finite."""


class FeatureSketch(BaseModel):
    """One column's distribution in a few hundred numbers (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["numeric", "category"]
    rows: int
    missing: int
    quantiles: list[float] = []
    edges: list[float] = []
    counts: list[int] = []
    categories: dict[str, int] = {}

    @property
    def constant(self) -> bool:
        """One value for every row (e.g. a calendar feature of the cutoff): nothing to compare."""
        if self.kind == "numeric":
            return not self.quantiles or self.quantiles[0] == self.quantiles[-1]
        return len(self.categories) <= 1


class Drift(BaseModel):
    """How far one column of a generation lies from the reference."""

    model_config = ConfigDict(frozen=True)

    psi: float
    js: float
    wasserstein: float | None
    """Numeric columns: in reference interquartile ranges (None for text)."""
    missing_share: float
    reference_missing_share: float


def sketch_column(values: pd.Series, edges: npt.ArrayLike | None = None) -> FeatureSketch:
    """The sketch of one column; ``edges`` (a reference's inner bin edges) bin a numeric one,
    else its own deciles do."""
    missing = int(values.isna().sum())
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        counts = values.dropna().astype(str).value_counts()
        top = counts.iloc[:TOP_CATEGORIES]
        cats = {str(k): int(v) for k, v in top.items()}
        if len(counts) > TOP_CATEGORIES:
            cats[OTHER] = int(counts.iloc[TOP_CATEGORIES:].sum())
        return FeatureSketch(kind="category", rows=len(values), missing=missing, categories=cats)
    x = values.to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    missing = len(values) - len(x)
    if not len(x):
        return FeatureSketch(kind="numeric", rows=len(values), missing=missing)
    inner = np.unique(np.quantile(x, DECILES)) if edges is None else np.asarray(edges, float)
    bins = np.bincount(np.searchsorted(inner, x, side="right"), minlength=len(inner) + 1)
    return FeatureSketch(
        kind="numeric",
        rows=len(values),
        missing=missing,
        quantiles=np.quantile(x, LEVELS).tolist(),
        edges=inner.tolist(),
        counts=bins.tolist(),
    )


def binned_counts(values: pd.Series, edges: list[float]) -> list[int]:
    """Rows per bin of ``edges`` (a reference's inner edges), the missing count last: what a
    segment keeps of a numeric feature (``segment_counts``)."""
    x = values.to_numpy(dtype=float)
    present = np.isfinite(x)
    bins = np.bincount(np.searchsorted(edges, x[present], side="right"), minlength=len(edges) + 1)
    return [*bins.tolist(), int((~present).sum())]


def segment_counts(
    frame: pd.DataFrame, reference: Mapping[str, FeatureSketch], *, max_levels: int = 12
) -> dict[str, dict[str, dict[str, list[int]]]]:
    """Per text column with 2 to ``max_levels`` levels (a segment such as the region), per
    level, each numeric feature's ``binned_counts`` on ``reference``'s bins: enough to see one
    segment move while the whole base barely does."""
    numeric = [
        n
        for n in frame.columns
        if str(n) in reference
        and reference[str(n)].kind == "numeric"
        and reference[str(n)].quantiles
        and not reference[str(n)].constant
    ]
    out: dict[str, dict[str, dict[str, list[int]]]] = {}
    for column in frame.columns:
        ref = reference.get(str(column))
        if ref is None or ref.kind != "category" or not 2 <= len(ref.categories) <= max_levels:
            continue
        levels = frame[column].astype(str)
        out[str(column)] = {
            str(level): {str(n): binned_counts(rows[n], reference[str(n)].edges) for n in numeric}
            for level, rows in frame.groupby(levels, sort=True)
            if str(level) in ref.categories
        }
    return out


def sketch_frame(
    frame: pd.DataFrame, reference: Mapping[str, FeatureSketch] | None = None
) -> dict[str, FeatureSketch]:
    """Sketches of every column of ``frame``, numeric ones binned on ``reference``'s edges
    where it has the column."""
    reference = reference or {}
    out = {}
    for name in frame.columns:
        ref = reference.get(str(name))
        edges = ref.edges if ref is not None and ref.kind == "numeric" and ref.quantiles else None
        out[str(name)] = sketch_column(frame[name], edges)
    return out


def _shares(counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    shares = c / total if total else np.full(len(c), 1.0 / max(len(c), 1))
    return np.maximum(shares, SMOOTH)


def _binned(current: FeatureSketch, reference: FeatureSketch) -> tuple[list[int], list[int]]:
    """Both sketches' counts on the reference's bins, the missing count as a last bin."""
    if current.kind == "category":
        names = sorted(set(reference.categories) | set(current.categories))
        ref = [reference.categories.get(n, 0) for n in names]
        cur = [current.categories.get(n, 0) for n in names]
    elif current.edges == reference.edges and current.counts:
        ref, cur = list(reference.counts), list(current.counts)
    else:  # binned on other edges: read the reference's bins off the quantile function
        cdf = (
            np.interp(reference.edges, current.quantiles, LEVELS, left=0.0, right=1.0)
            if current.quantiles
            else np.zeros(len(reference.edges))
        )
        present = current.rows - current.missing
        cum = np.concatenate([[0.0], cdf, [1.0]]) * present
        ref, cur = list(reference.counts), np.diff(cum).round().astype(int).tolist()
    return [*ref, reference.missing], [*cur, current.missing]


def psi(current: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """Population stability index of two count vectors on the same bins."""
    g, r = _shares(current), _shares(reference)
    return float(np.sum((g - r) * np.log(g / r)))


def psi_critical(
    current_rows: int, reference_rows: int, bins: int, *, alpha: float, tests: int = 1
) -> float:
    """The PSI two samples of the same distribution exceed with probability ``alpha / tests``.

    With ``n_eff = n m / (n + m)``, ``n_eff * PSI`` is about chi-square with ``bins - 1`` degrees
    of freedom when both samples come from one distribution (PSI is then close to the chi-square
    statistic of homogeneity over ``n_eff``), so a small segment's PSI must be larger to mean
    anything; ``tests`` (Bonferroni) keeps the chance of any false alarm among them at ``alpha``.
    Infinite when either sample is empty.
    """
    if current_rows <= 0 or reference_rows <= 0 or bins < 2:
        return float("inf")
    n_eff = current_rows * reference_rows / (current_rows + reference_rows)
    return float(chi2.ppf(1.0 - alpha / max(tests, 1), bins - 1) / n_eff)


def js_distance(current: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (base 2: 0 identical, 1 disjoint) of two count vectors."""
    g, r = _shares(current), _shares(reference)
    g, r = g / g.sum(), r / r.sum()
    m = (g + r) / 2
    div = 0.5 * np.sum(g * np.log2(g / m)) + 0.5 * np.sum(r * np.log2(r / m))
    return float(np.sqrt(max(div, 0.0)))


def wasserstein(current: FeatureSketch, reference: FeatureSketch) -> float | None:
    """Wasserstein-1 distance of two numeric sketches in reference interquartile ranges."""
    if current.kind != "numeric" or not current.quantiles or not reference.quantiles:
        return None
    q_ref, q_cur = np.asarray(reference.quantiles), np.asarray(current.quantiles)
    scale = q_ref[75] - q_ref[25]
    if scale <= 0:
        scale = q_ref[-1] - q_ref[0]
    if scale <= 0:
        return None
    return float(np.mean(np.abs(q_cur - q_ref)) / scale)


def drift(current: FeatureSketch, reference: FeatureSketch) -> Drift:
    """PSI, Jensen-Shannon and Wasserstein distances of ``current`` from ``reference``."""
    ref, cur = _binned(current, reference)
    return Drift(
        psi=psi(cur, ref),
        js=js_distance(cur, ref),
        wasserstein=wasserstein(current, reference),
        missing_share=current.missing / current.rows if current.rows else 0.0,
        reference_missing_share=reference.missing / reference.rows if reference.rows else 0.0,
    )


def frame_drift(
    current: Mapping[str, FeatureSketch], reference: Mapping[str, FeatureSketch]
) -> dict[str, Drift]:
    """Drift of every column both have, but those with one value for every row on either side
    (calendar features of the cutoff, a property of the day, not of the customers) and those
    whose kind changed."""
    return {
        name: drift(sketch, reference[name])
        for name, sketch in current.items()
        if name in reference
        and not reference[name].constant
        and not sketch.constant
        and reference[name].kind == sketch.kind
    }


__all__ = [
    "Drift",
    "FeatureSketch",
    "binned_counts",
    "drift",
    "frame_drift",
    "js_distance",
    "psi",
    "psi_critical",
    "segment_counts",
    "sketch_column",
    "sketch_frame",
    "wasserstein",
]
