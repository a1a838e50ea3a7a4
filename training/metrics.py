"""Evaluation metrics for churn classifiers and CLV regressors.

All functions take plain 1-D array-likes (numpy arrays, lists, pandas Series) and are vectorised
over customers.

Conventions
-----------
* Churn: ``y_true`` is binary with ``1`` = churned, ``p`` is the predicted churn probability.
  "Targeting the top share" always means: sort by ``p`` descending with a *stable* sort (ties
  keep their input order) and take the first ``k = ceil(share * n)`` rows.
* Undefined metrics return ``nan`` and never raise: every ranking/profit metric (ROC-AUC, PR-AUC,
  lift, capture, EMPC, MP) is undefined when the evaluation set holds only churners or only
  non-churners (e.g. a test cutoff with no churn), and returns ``float("nan")`` so that callers
  can report it per slice. Brier score and log-loss are per-customer averages and stay defined.
* Invalid *inputs* (length mismatch, NaN/inf, ``p`` outside [0, 1], non-binary ``y_true``,
  negative spend, empty arrays, bad parameters) raise ``ValueError`` naming the argument.
* Profit measures (EMPC, MP) are in currency units *per customer* of the evaluated set.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from scipy.spatial import ConvexHull
from scipy.special import betainc
from sklearn import metrics as skm

from core.config import ExperimentConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "LOWER_IS_BETTER",
    "EMPCParams",
    "PairedInterval",
    "ProfitResult",
    "brier",
    "capture_at",
    "churn_metrics",
    "clv_metrics",
    "decile_mape",
    "decile_table",
    "empc",
    "empc_details",
    "lift_at",
    "log_loss",
    "mae",
    "max_profit",
    "metric_function",
    "metrics_by_slice",
    "normalized_gini",
    "paired_bootstrap",
    "pr_auc",
    "rmse",
    "roc_auc",
    "spearman",
    "top_decile_revenue_share",
]

NAN = float("nan")
LOG_LOSS_EPS = 1e-15


# --------------------------------------------------------------------------- validation


def _as_1d(values: npt.ArrayLike, name: str) -> FloatArray:
    """Convert to a finite, non-empty 1-D float array or raise a ValueError naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise ValueError(f"{name} contains {n_nan} NaN value(s)")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains infinite value(s)")
    return arr


def _check_lengths(a: FloatArray, b: FloatArray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same length, got {a.shape[0]} and {b.shape[0]}"
        )


def _churn_inputs(y_true: npt.ArrayLike, p: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    y = _as_1d(y_true, "y_true")
    s = _as_1d(p, "p")
    _check_lengths(y, s, "y_true", "p")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        examples = np.unique(y[bad])[:5].tolist()
        raise ValueError(f"y_true must be binary (0 = stayed, 1 = churned); found {examples}")
    if s.min() < 0.0 or s.max() > 1.0:
        raise ValueError(f"p must be probabilities in [0, 1]; found range [{s.min()}, {s.max()}]")
    return y, s


def _clv_inputs(y: npt.ArrayLike, pred: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    actual = _as_1d(y, "y")
    predicted = _as_1d(pred, "pred")
    _check_lengths(actual, predicted, "y", "pred")
    if actual.min() < 0.0:
        raise ValueError(f"y (realised spend) must be >= 0; found minimum {actual.min()}")
    return actual, predicted


def _single_class(y: FloatArray) -> bool:
    return bool(y.min() == y.max())


def _top_k(n: int, share: float) -> int:
    """``ceil(share * n)`` rows, at least 1, robust to float noise (0.1 * 30 -> 3, not 4)."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    return max(1, min(n, math.ceil(share * n * (1.0 - 1e-12))))


def _desc_order(scores: FloatArray) -> npt.NDArray[np.intp]:
    """Indices sorting ``scores`` descending; ties keep input order (stable)."""
    return np.argsort(-scores, kind="stable")


# --------------------------------------------------------------------------- churn: sklearn


def roc_auc(y_true: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Area under the ROC curve.

    Probability that a random churner is ranked above a random non-churner; threshold-free
    ranking quality. Returns ``nan`` when ``y_true`` has a single class (undefined).
    """
    y, s = _churn_inputs(y_true, p)
    if _single_class(y):
        return NAN
    return float(skm.roc_auc_score(y, s))


def pr_auc(y_true: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Area under the precision-recall curve (sklearn's average precision).

    Focuses on the churner class, so it is more informative than ROC-AUC when churn is rare.
    Returns ``nan`` when ``y_true`` has a single class.
    """
    y, s = _churn_inputs(y_true, p)
    if _single_class(y):
        return NAN
    return float(skm.average_precision_score(y, s))


def brier(y_true: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Brier score: mean squared error of the churn probabilities (lower is better).

    Measures calibration and sharpness together; defined even for a single class.
    """
    y, s = _churn_inputs(y_true, p)
    return float(skm.brier_score_loss(y, s, pos_label=1))


def log_loss(y_true: npt.ArrayLike, p: npt.ArrayLike, eps: float = LOG_LOSS_EPS) -> float:
    """Binary cross-entropy of the churn probabilities (lower is better).

    Punishes confident mistakes heavily; ``p`` is clipped to ``[eps, 1 - eps]`` so that a
    hard 0/1 prediction gives a large finite loss instead of ``inf``. Defined for a single class.
    """
    y, s = _churn_inputs(y_true, p)
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    return float(skm.log_loss(y, np.clip(s, eps, 1.0 - eps), labels=[0, 1]))


# --------------------------------------------------------------------------- churn: targeting


def lift_at(y_true: npt.ArrayLike, p: npt.ArrayLike, share: float = 0.1) -> float:
    """Lift in the top ``share`` of customers by ``p``.

    Churn rate among the ``ceil(share * n)`` highest-scored customers (stable sort, ties in
    input order) divided by the overall churn rate: how much better than random targeting a
    campaign of that size is. Returns ``nan`` when ``y_true`` has a single class.
    """
    y, s = _churn_inputs(y_true, p)
    k = _top_k(y.size, share)
    if _single_class(y):
        return NAN
    top = y[_desc_order(s)[:k]]
    return float(top.mean() / y.mean())


def capture_at(y_true: npt.ArrayLike, p: npt.ArrayLike, share: float = 0.1) -> float:
    """Share of all churners found in the top ``share`` of customers by ``p``.

    The recall of a campaign contacting ``ceil(share * n)`` customers (stable sort, ties in
    input order). Returns ``nan`` when ``y_true`` has a single class.
    """
    y, s = _churn_inputs(y_true, p)
    k = _top_k(y.size, share)
    if _single_class(y):
        return NAN
    return float(y[_desc_order(s)[:k]].sum() / y.sum())


# --------------------------------------------------------------------------- churn: profit


class ProfitResult(NamedTuple):
    """A profit measure and the fraction of customers targeted to achieve it."""

    profit: float
    """Profit per customer (expected profit for EMPC), in the currency unit of ``clv``."""
    fraction: float
    """Fraction of customers to target (expected fraction ``eta`` for EMPC)."""


@dataclass(frozen=True)
class EMPCParams:
    """Cost-benefit parameters of the EMPC measure (defaults from Verbraken et al. 2013)."""

    clv: float = 200.0
    incentive: float = 10.0
    contact_cost: float = 1.0
    alpha: float = 6.0
    beta: float = 14.0

    @classmethod
    def of(cls, config: ExperimentConfig) -> "EMPCParams":
        """The config's EMPC assumptions, its costs taken from ``economics`` (their one home)."""
        return cls(
            clv=config.empc.clv,
            incentive=config.economics.offer_cost,
            contact_cost=config.economics.contact_cost,
            alpha=config.empc.alpha,
            beta=config.empc.beta,
        )


def _check_costs(clv: float, incentive: float, contact_cost: float) -> tuple[float, float]:
    """Validate the campaign costs and return ``(delta, phi)``."""
    if not (math.isfinite(clv) and clv > 0):
        raise ValueError(f"clv must be a positive finite number, got {clv}")
    if not (math.isfinite(incentive) and 0 <= incentive < clv):
        raise ValueError(f"incentive must be in [0, clv) = [0, {clv}), got {incentive}")
    if not (math.isfinite(contact_cost) and contact_cost >= 0):
        raise ValueError(f"contact_cost must be a non-negative finite number, got {contact_cost}")
    return incentive / clv, contact_cost / clv


def _roc_counts(y: FloatArray, s: FloatArray) -> tuple[IntArray, IntArray]:
    """Cumulative (true positive, false positive) counts at every distinct threshold.

    Point ``j`` targets every customer whose score is >= the ``j``-th largest distinct score;
    point 0 targets nobody and the last point everybody. Tied scores form one step.
    """
    order = _desc_order(s)
    s_sorted = s[order]
    churned = y[order].astype(np.int64)
    last_of_block = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True))
    tp = np.cumsum(churned)[last_of_block]
    fp = (last_of_block + 1) - tp
    zero = np.zeros(1, dtype=np.int64)
    return np.concatenate([zero, tp]), np.concatenate([zero, fp])


def _roc_upper_hull(tp: IntArray, fp: IntArray) -> npt.NDArray[np.intp]:
    """Indices of the vertices of the ROC convex hull, from (0, 0) to (n_fp, n_tp).

    Qhull (compiled, O(n log n)) proposes the hull vertices; the corner (n_fp, 0) is added so
    the point set is never degenerate. A vectorised pass then drops any point that is not a
    strict concave turn (collinear points, precision leftovers), using exact integer cross
    products. Removing all such points at once is safe: a run of non-concave turns lies below
    the chord between its neighbours.
    """
    m = tp.size
    points = np.column_stack([fp, tp]).astype(np.float64)
    corner = np.array([[float(fp[-1]), 0.0]])
    hull = ConvexHull(np.vstack([points, corner]))
    candidates = np.unique(hull.vertices[hull.vertices < m])
    # (0, 0) and (n_fp, n_tp) are always hull vertices; keep them even if qhull merged them.
    idx = np.union1d(candidates, [0, m - 1]).astype(np.intp)
    while idx.size > 2:
        x, h = fp[idx], tp[idx]
        dx1, dy1 = x[1:-1] - x[:-2], h[1:-1] - h[:-2]
        dx2, dy2 = x[2:] - x[1:-1], h[2:] - h[1:-1]
        not_concave = dx1 * dy2 - dy1 * dx2 >= 0
        if not not_concave.any():
            break
        keep = np.ones(idx.size, dtype=bool)
        keep[1:-1] = ~not_concave
        idx = idx[keep]
    return idx


def empc_details(
    y_true: npt.ArrayLike,
    p: npt.ArrayLike,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> ProfitResult:
    """Expected Maximum Profit for customer churn (EMPC) and the expected targeted fraction.

    Verbraken, Wouters & Baesens (2013), IEEE TKDE 25(5): the profit of a retention campaign
    that targets the optimal top fraction of customers, averaged over an uncertain offer
    acceptance rate ``gamma ~ Beta(alpha, beta)``. It scores a churn model in money per
    customer, which is what the business optimises, instead of a ranking proxy.

    With ``delta = incentive / clv`` and ``phi = contact_cost / clv``, targeting a set with
    ``TP`` churners and ``FP`` non-churners out of ``n`` customers earns per customer
    ``clv * ((gamma * (1 - delta) - phi) * TP - (delta + phi) * FP) / n`` (paper: class 0 =
    churners with prior ``pi0``, ``pi0 * F0 = TP / n``, ``pi1 * F1 = FP / n``). For each gamma
    the best threshold lies on the ROC convex hull; hull vertex ``i`` is optimal for
    ``gamma`` in ``[gamma_i, gamma_{i+1})`` with
    ``gamma_i = ((delta + phi) * dFP_i / dTP_i + phi) / (1 - delta)`` (clipped to [0, 1]),
    so the integral over the Beta density has the closed form (``I`` = regularised incomplete
    beta function)::

        EMPC = clv / n * sum_i [ (1 - delta) * TP_i * alpha / (alpha + beta) * dI(alpha + 1, beta)
                                 - (phi * TP_i + (delta + phi) * FP_i) * dI(alpha, beta) ]
        eta  = 1 / n * sum_i (TP_i + FP_i) * dI(alpha, beta)

    Parameters
    ----------
    y_true, p
        Binary churn labels (1 = churned) and predicted churn probabilities. Only the ranking
        of ``p`` matters; tied scores are targeted together.
    clv
        Customer lifetime value of a retained churner (> 0).
    incentive
        Cost of the retention offer, paid out to every targeted customer who accepts it:
        targeted churners accept with probability ``gamma``, targeted non-churners are
        assumed to always accept (0 <= incentive < clv).
    contact_cost
        Cost of contacting one customer (>= 0).
    alpha, beta
        Parameters of the Beta distribution of the churners' acceptance rate (> 0).

    Returns
    -------
    ProfitResult
        ``profit`` = EMPC (expected profit per customer, >= 0 since targeting nobody is
        allowed) and ``fraction`` = expected fraction of customers targeted (``eta_empc``).
        Both are ``nan`` when ``y_true`` has a single class.
    """
    y, s = _churn_inputs(y_true, p)
    delta, phi = _check_costs(clv, incentive, contact_cost)
    if not (math.isfinite(alpha) and alpha > 0 and math.isfinite(beta) and beta > 0):
        raise ValueError(f"alpha and beta must be positive, got alpha={alpha}, beta={beta}")
    if _single_class(y):
        return ProfitResult(NAN, NAN)

    tp_all, fp_all = _roc_counts(y, s)
    hull = _roc_upper_hull(tp_all, fp_all)
    tp = tp_all[hull].astype(np.float64)
    fp = fp_all[hull].astype(np.float64)
    d_tp, d_fp = np.diff(tp), np.diff(fp)
    # Vertical hull segments (d_fp = 0) switch on at phi / (1 - delta); horizontal ones
    # (d_tp = 0, only non-churners added) never pay off: gamma = +inf, clipped to 1.
    gamma = np.full_like(d_tp, np.inf)
    np.divide((delta + phi) * d_fp + phi * d_tp, (1.0 - delta) * d_tp, out=gamma, where=d_tp > 0)
    bounds = np.clip(np.concatenate([[0.0], gamma, [1.0]]), 0.0, 1.0)
    d_i0 = np.diff(betainc(alpha, beta, bounds))
    d_i1 = np.diff(betainc(alpha + 1.0, beta, bounds))
    n = float(y.size)
    mean_gamma = alpha / (alpha + beta)
    gain = (1.0 - delta) * tp * mean_gamma * d_i1  # E[gamma * 1{vertex optimal}] terms
    cost = (phi * tp + (delta + phi) * fp) * d_i0
    profit = clv * float(np.sum(gain - cost)) / n
    fraction = float(np.sum((tp + fp) * d_i0)) / n
    return ProfitResult(profit, fraction)


def empc(
    y_true: npt.ArrayLike,
    p: npt.ArrayLike,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> float:
    """Expected Maximum Profit for customer churn (EMPC), per customer.

    Money-denominated model quality: expected profit of the best retention campaign the
    scores allow, averaging over a Beta(alpha, beta) offer-acceptance rate. See
    :func:`empc_details` (which also returns the expected targeted fraction) for the formula.
    Returns ``nan`` when ``y_true`` has a single class.
    """
    return empc_details(y_true, p, clv, incentive, contact_cost, alpha, beta).profit


def max_profit(
    y_true: npt.ArrayLike,
    p: npt.ArrayLike,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    acceptance: float = 0.3,
) -> ProfitResult:
    """Maximum Profit (MP) for customer churn at a fixed offer acceptance rate.

    The profit per customer of the best cutoff on ``p`` when a fraction ``acceptance`` of the
    targeted churners accept the offer; the deterministic counterpart of EMPC (same profit
    function as :func:`empc_details`, evaluated at every distinct threshold, tied scores
    targeted together).

    Returns
    -------
    ProfitResult
        ``profit`` = maximum profit per customer (>= 0, targeting nobody is allowed) and
        ``fraction`` = the fraction of customers targeted at that optimum (the smallest such
        fraction when several cutoffs tie). Both ``nan`` when ``y_true`` has a single class.
    """
    y, s = _churn_inputs(y_true, p)
    delta, phi = _check_costs(clv, incentive, contact_cost)
    if not (math.isfinite(acceptance) and 0.0 <= acceptance <= 1.0):
        raise ValueError(f"acceptance must be in [0, 1], got {acceptance}")
    if _single_class(y):
        return ProfitResult(NAN, NAN)
    tp, fp = _roc_counts(y, s)
    n = float(y.size)
    profits = clv / n * ((acceptance * (1.0 - delta) - phi) * tp - (delta + phi) * fp)
    best = int(np.argmax(profits))
    return ProfitResult(float(profits[best]), float(tp[best] + fp[best]) / n)


# --------------------------------------------------------------------------- CLV


def normalized_gini(y: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Normalised Gini of realised spend ordered by predicted CLV (Kaggle/insurance definition).

    ``gini(y, pred) / gini(y, y)`` where ``gini`` is the area between the cumulative share of
    ``y`` (customers sorted by the ranking, descending) and the diagonal: 1 = perfect ranking,
    0 = random, -1 = reversed. Measures how well the model ranks valuable customers, which is
    what targeting uses. Ties in ``pred`` are averaged: tied customers get their group's mean
    spend, which equals the expected Gini over all orderings of the tie (so the result does not
    depend on input order). Returns ``nan`` when ``y`` is constant (incl. all zero).
    """
    actual, predicted = _clv_inputs(y, pred)
    if actual.max() == actual.min():
        return NAN
    order = _desc_order(predicted)
    p_sorted = predicted[order]
    y_sorted = actual[order]
    group = np.cumsum(np.append(True, p_sorted[1:] != p_sorted[:-1])) - 1
    y_tied = (np.bincount(group, weights=y_sorted) / np.bincount(group))[group]
    return _gini_area(y_tied) / _gini_area(np.sort(actual)[::-1])


def _gini_area(values_in_rank_order: FloatArray) -> float:
    """Unnormalised Kaggle Gini of values already sorted by a ranking (best first)."""
    n = values_in_rank_order.size
    cum_share = np.cumsum(values_in_rank_order) / values_in_rank_order.sum()
    return float((cum_share.sum() - (n + 1) / 2.0) / n)


def spearman(y: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Spearman rank correlation between realised spend and predicted CLV.

    Ranking agreement over all customers (ties get average ranks); ``nan`` if either input is
    constant.
    """
    actual, predicted = _clv_inputs(y, pred)
    if actual.max() == actual.min() or predicted.max() == predicted.min():
        return NAN
    return float(stats.spearmanr(actual, predicted).statistic)


def mae(y: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Mean absolute error of predicted spend, in currency units (robust to a few whales)."""
    actual, predicted = _clv_inputs(y, pred)
    return float(skm.mean_absolute_error(actual, predicted))


def rmse(y: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Root mean squared error of predicted spend, in currency units (sensitive to whales)."""
    actual, predicted = _clv_inputs(y, pred)
    return float(skm.root_mean_squared_error(actual, predicted))


def _deciles(actual: FloatArray, predicted: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per-decile (count, sum of pred, sum of actual) with decile 0 = highest pred.

    Customers are sorted by ``pred`` descending (stable, ties in input order) and the customer
    at position ``r`` goes to decile ``floor(10 * r / n)``, so decile sizes differ by at most
    one and the top decile holds ``ceil(n / 10)`` customers; a tie straddling a boundary is
    split by input order. With fewer than 10 customers some deciles are empty.
    """
    n = actual.size
    order = _desc_order(predicted)
    decile = np.empty(n, dtype=np.int64)
    decile[order] = (np.arange(n, dtype=np.int64) * 10) // n
    counts = np.bincount(decile, minlength=10).astype(np.int64)
    sum_pred = np.bincount(decile, weights=predicted, minlength=10).astype(np.float64)
    sum_actual = np.bincount(decile, weights=actual, minlength=10).astype(np.float64)
    return counts, sum_pred, sum_actual


def decile_table(y: npt.ArrayLike, pred: npt.ArrayLike) -> pd.DataFrame:
    """Calibration/lift table of predicted vs realised spend per decile of predicted CLV.

    Decile 1 holds the highest predictions (top ``ceil(n / 10)`` customers by ``pred``, stable
    sort). Used for calibration and revenue-concentration plots.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty decile with columns ``decile`` (1..10), ``n``, ``mean_pred``,
        ``mean_actual``, ``sum_actual`` and ``share_of_revenue`` (``sum_actual`` / total
        realised spend, ``nan`` if total spend is 0).
    """
    actual, predicted = _clv_inputs(y, pred)
    counts, sum_pred, sum_actual = _deciles(actual, predicted)
    present = counts > 0
    cnt = counts[present]
    total = float(actual.sum())
    share = sum_actual / total if total > 0 else np.full(10, np.nan)
    return pd.DataFrame(
        {
            "decile": np.arange(1, 11, dtype=np.int64)[present],
            "n": cnt,
            "mean_pred": sum_pred[present] / cnt,
            "mean_actual": sum_actual[present] / cnt,
            "sum_actual": sum_actual[present],
            "share_of_revenue": share[present],
        }
    )


def decile_mape(y: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Mean absolute percentage error of mean predicted vs mean realised spend per decile.

    Decile-level calibration of a CLV model (customer-level MAPE is useless with many zero
    spenders). Deciles as in :func:`decile_table`; the error is
    ``mean_d |mean_pred_d - mean_actual_d| / mean_actual_d`` as a fraction (0.1 = 10 %).
    Deciles whose realised mean is 0 (and empty deciles) are skipped because the percentage
    error is undefined there; returns ``nan`` if every decile is skipped.
    """
    actual, predicted = _clv_inputs(y, pred)
    counts, sum_pred, sum_actual = _deciles(actual, predicted)
    usable = (counts > 0) & (sum_actual > 0)
    if not usable.any():
        return NAN
    mean_pred = sum_pred[usable] / counts[usable]
    mean_actual = sum_actual[usable] / counts[usable]
    return float(np.mean(np.abs(mean_pred - mean_actual) / mean_actual))


def top_decile_revenue_share(y: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Share of total realised spend generated by the top 10 % of customers by ``pred``.

    The revenue a campaign on the model's top decile (``ceil(n / 10)`` customers, stable sort)
    would reach; equals ``share_of_revenue`` of decile 1 in :func:`decile_table`. ``nan`` if
    total realised spend is 0.
    """
    actual, predicted = _clv_inputs(y, pred)
    total = actual.sum()
    if total <= 0:
        return NAN
    k = -(-actual.size // 10)
    return float(actual[_desc_order(predicted)[:k]].sum() / total)


# --------------------------------------------------------------------------- aggregates


def churn_metrics(
    y_true: npt.ArrayLike, p: npt.ArrayLike, *, empc_params: EMPCParams | None = None
) -> dict[str, float]:
    """All churn metrics with stable keys, for logging and reports.

    Keys: ``roc_auc``, ``pr_auc``, ``brier``, ``log_loss``, ``lift_10``, ``capture_10`` (top
    10 %), ``empc`` and ``empc_fraction`` (with ``empc_params``, default
    :class:`EMPCParams`). Ranking/profit entries are ``nan`` for a single-class ``y_true``.
    """
    params = empc_params if empc_params is not None else EMPCParams()
    y, s = _churn_inputs(y_true, p)
    profit = empc_details(
        y, s, params.clv, params.incentive, params.contact_cost, params.alpha, params.beta
    )
    return {
        "roc_auc": roc_auc(y, s),
        "pr_auc": pr_auc(y, s),
        "brier": brier(y, s),
        "log_loss": log_loss(y, s),
        "lift_10": lift_at(y, s, 0.1),
        "capture_10": capture_at(y, s, 0.1),
        "empc": profit.profit,
        "empc_fraction": profit.fraction,
    }


def clv_metrics(y: npt.ArrayLike, pred: npt.ArrayLike) -> dict[str, float]:
    """All CLV metrics with stable keys, for logging and reports.

    Keys: ``gini`` (normalised), ``spearman``, ``mae``, ``rmse``, ``decile_mape`` and
    ``top_decile_share``.
    """
    actual, predicted = _clv_inputs(y, pred)
    return {
        "gini": normalized_gini(actual, predicted),
        "spearman": spearman(actual, predicted),
        "mae": mae(actual, predicted),
        "rmse": rmse(actual, predicted),
        "decile_mape": decile_mape(actual, predicted),
        "top_decile_share": top_decile_revenue_share(actual, predicted),
    }


def metrics_by_slice(
    frame: pd.DataFrame,
    slice_col: str,
    fn: Callable[[pd.DataFrame], Mapping[str, float]],
    *,
    min_rows: int = 10,
) -> pd.DataFrame:
    """Compute a metrics dict per value of ``slice_col`` (e.g. new vs established customers).

    Shows whether a model works for every segment rather than only on average.

    Parameters
    ----------
    frame
        Evaluation rows (labels, predictions and the slice column).
    slice_col
        Column whose values define the slices; missing values form their own slice.
    fn
        Maps one slice's rows to a metrics dict, e.g.
        ``lambda g: churn_metrics(g["churned"], g["p"])``.
    min_rows
        Slices with fewer rows get an all-NaN row and ``fn`` is not called. Slices with a
        single class are passed to ``fn``; the metrics here return NaN for what is undefined.

    Returns
    -------
    pandas.DataFrame
        Indexed by slice value (sorted), with an ``n`` column followed by the union of the
        metric keys in first-seen order.
    """
    if slice_col not in frame.columns:
        raise ValueError(f"slice_col {slice_col!r} is not a column of frame")
    if min_rows < 1:
        raise ValueError(f"min_rows must be >= 1, got {min_rows}")
    values: list[object] = []
    sizes: list[int] = []
    results: list[Mapping[str, float]] = []
    for value, group in frame.groupby(slice_col, sort=True, dropna=False, observed=True):
        values.append(value)
        sizes.append(len(group))
        results.append(fn(group) if len(group) >= min_rows else {})
    keys = list(dict.fromkeys(key for result in results for key in result))
    table = pd.DataFrame(
        [[float(result.get(key, NAN)) for key in keys] for result in results],
        columns=keys,
        index=pd.Index(values, name=slice_col),
        dtype=np.float64,
    )
    table.insert(0, "n", np.asarray(sizes, dtype=np.int64))
    return table


# --------------------------------------------------------------------------- paired comparison

LOWER_IS_BETTER = frozenset({"brier", "log_loss", "mae", "rmse", "decile_mape"})
"""Metric keys of ``churn_metrics`` / ``clv_metrics`` where a smaller value is better."""

Metric = Callable[[npt.ArrayLike, npt.ArrayLike], float]


def metric_function(name: str, empc_params: EMPCParams | None = None) -> Metric:
    """The one function behind a ``churn_metrics`` or ``clv_metrics`` key, e.g. ``'roc_auc'``."""
    params = empc_params if empc_params is not None else EMPCParams()
    functions: dict[str, Metric] = {
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "brier": brier,
        "log_loss": log_loss,
        "lift_10": lambda y, p: lift_at(y, p, 0.1),
        "capture_10": lambda y, p: capture_at(y, p, 0.1),
        "empc": lambda y, p: empc(
            y, p, params.clv, params.incentive, params.contact_cost, params.alpha, params.beta
        ),
        "gini": normalized_gini,
        "spearman": spearman,
        "mae": mae,
        "rmse": rmse,
        "decile_mape": decile_mape,
        "top_decile_share": top_decile_revenue_share,
    }
    if name not in functions:
        raise ValueError(f"unknown metric {name!r}; valid: {sorted(functions)}")
    return functions[name]


class PairedInterval(NamedTuple):
    """A metric of two models on the same rows and a bootstrap interval of their difference."""

    metric: str
    challenger: float
    champion: float
    low: float
    """Lower end of the interval of ``challenger - champion`` (nan if it cannot be estimated)."""
    high: float
    level: float
    replicates: int
    n: int
    """Rows (customers) both models were scored on."""
    se: float = NAN
    """Standard deviation of the replicates' differences: the bootstrap standard error."""

    @property
    def diff(self) -> float:
        """The observed ``challenger - champion`` on all rows."""
        return self.challenger - self.champion


BOOTSTRAP_CHUNK = 100
"""Replicates drawn at a time: bounds memory to ``BOOTSTRAP_CHUNK x n`` resampled indices."""


def paired_bootstrap(
    metric: str,
    y: npt.ArrayLike,
    challenger: npt.ArrayLike,
    champion: npt.ArrayLike,
    *,
    replicates: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    empc_params: EMPCParams | None = None,
) -> PairedInterval:
    """Percentile bootstrap interval of ``metric(challenger) - metric(champion)`` over rows.

    Each replicate resamples the rows with replacement and scores both models on the *same*
    resample (paired), so what the two share (the customers' difficulty) cancels out. The
    metric is :func:`metric_function`'s, called per replicate; ROC-AUC and Gini (the default
    gate metrics), MAE and RMSE are computed for all replicates at once from how often each row
    was drawn, which equals the metric function on the resampled rows (a test checks it).
    Replicates where the metric is undefined are dropped; the interval is nan when fewer than half
    remain. Same ``seed``, same interval.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    fn = metric_function(metric, empc_params)
    y_arr = _as_1d(y, "y")
    a = _as_1d(challenger, "challenger")
    b = _as_1d(champion, "champion")
    _check_lengths(y_arr, a, "y", "challenger")
    _check_lengths(y_arr, b, "y", "champion")
    n = y_arr.size
    rng = np.random.default_rng(seed)
    diffs = np.empty(replicates, dtype=np.float64)
    counted = _COUNTED.get(metric)
    if counted is not None:
        check = _churn_inputs if metric == "roc_auc" else _clv_inputs
        check(y_arr, a)
        check(y_arr, b)
    for start in range(0, replicates, BOOTSTRAP_CHUNK):
        m = min(BOOTSTRAP_CHUNK, replicates - start)
        idx = rng.integers(0, n, size=(m, n))
        if counted is not None:
            counts = np.bincount(
                (idx + (np.arange(m) * n)[:, None]).ravel(), minlength=m * n
            ).reshape(m, n)
            chunk = counted(y_arr, a, counts) - counted(y_arr, b, counts)
        else:
            chunk = np.array([fn(y_arr[i], a[i]) - fn(y_arr[i], b[i]) for i in idx])
        diffs[start : start + m] = chunk
    finite = diffs[np.isfinite(diffs)]
    if finite.size * 2 < replicates:
        low = high = se = NAN
    else:
        tail = (1.0 - level) / 2.0
        low, high = (float(q) for q in np.quantile(finite, [tail, 1.0 - tail]))
        se = float(finite.std(ddof=1)) if finite.size > 1 else NAN
    return PairedInterval(metric, fn(y_arr, a), fn(y_arr, b), low, high, level, replicates, n, se)


def _roc_auc_counts(y: FloatArray, s: FloatArray, counts: npt.NDArray[np.intp]) -> FloatArray:
    """ROC-AUC of ``s`` for every row of ``counts`` (how often each customer was resampled).

    Mann-Whitney with ties as one half: for each distinct score, its resampled churners times
    (non-churners scored lower + half the non-churners scored equal), over churners x
    non-churners. nan where a resample holds one class only.
    """
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.append(True, s_sorted[1:] != s_sorted[:-1]))
    weights = counts[:, order].astype(np.float64)
    pos = weights * y[order]
    neg = weights - pos
    pos_g = np.add.reduceat(pos, starts, axis=1)
    neg_g = np.add.reduceat(neg, starts, axis=1)
    below = np.cumsum(neg_g, axis=1) - neg_g
    pairs = pos_g.sum(axis=1) * neg_g.sum(axis=1)
    wins = np.sum(pos_g * (below + 0.5 * neg_g), axis=1)
    out = np.full(counts.shape[0], NAN)
    np.divide(wins, pairs, out=out, where=pairs > 0)
    return out


def _gini_counts(y: FloatArray, pred: FloatArray, counts: npt.NDArray[np.intp]) -> FloatArray:
    """Normalised Gini of ``pred`` for every row of ``counts`` (how often each row was drawn).

    A row drawn ``w`` times fills ``w`` consecutive ranks, and tied predictions share their
    group's mean spend, as in :func:`normalized_gini`. nan where a resample's spend is constant.
    """
    weights = counts.astype(np.float64)
    by_pred = _desc_order(pred)
    by_spend = _desc_order(y)
    model = _gini_areas(y[by_pred], pred[by_pred], weights[:, by_pred])
    best = _gini_areas(y[by_spend], y[by_spend], weights[:, by_spend])
    drawn = counts > 0
    constant = np.where(drawn, y, np.inf).min(axis=1) == np.where(drawn, y, -np.inf).max(axis=1)
    out = np.full(counts.shape[0], NAN)
    np.divide(model, best, out=out, where=~constant & (best != 0))
    return out


def _gini_areas(values: FloatArray, keys: FloatArray, weights: FloatArray) -> FloatArray:
    """:func:`_gini_area` of every weighted resample of rows sorted best first, ties in ``keys``
    averaged: a group of ``W`` draws with spend ``S`` adds ``W * (spend before) + S * (W + 1) / 2``
    to the sum of cumulative spend."""
    n = weights[0].sum()
    starts = np.flatnonzero(np.append(True, keys[1:] != keys[:-1]))
    drawn = np.add.reduceat(weights, starts, axis=1)
    spend = np.add.reduceat(weights * values, starts, axis=1)
    before = np.cumsum(spend, axis=1) - spend
    total = spend.sum(axis=1)
    cumulative = np.sum(drawn * before + spend * (drawn + 1.0) / 2.0, axis=1)
    share = np.divide(cumulative, total, out=np.full(total.size, NAN), where=total > 0)
    return (share - (n + 1.0) / 2.0) / n


def _mae_counts(y: FloatArray, pred: FloatArray, counts: npt.NDArray[np.intp]) -> FloatArray:
    """Mean absolute error of every resample: each row's error weighted by its draws."""
    return np.asarray(counts @ np.abs(y - pred) / y.size, dtype=np.float64)


def _rmse_counts(y: FloatArray, pred: FloatArray, counts: npt.NDArray[np.intp]) -> FloatArray:
    """Root mean squared error of every resample: each row's squared error weighted by draws."""
    return np.asarray(np.sqrt(counts @ np.square(y - pred) / y.size), dtype=np.float64)


_COUNTED: dict[str, Callable[[FloatArray, FloatArray, npt.NDArray[np.intp]], FloatArray]] = {
    "roc_auc": _roc_auc_counts,
    "gini": _gini_counts,
    "mae": _mae_counts,
    "rmse": _rmse_counts,
}
"""Metrics computed for a whole chunk of replicates at once from resample counts."""
