"""How well a ranking finds the customers a campaign moves, measured on a randomized campaign.

Rank customers by a score (highest first) and walk down the list. At each depth ``k`` the
treated and control customers among the top ``k`` tell how much better the treated did:

* the **Qini curve** (Radcliffe 2007): ``Q(k) = Y_T(k) - Y_C(k) * N_T(k) / N_C(k)``, the
  incremental number of good outcomes (retained customers) had the top ``k`` all been treated,
  divided by the number of customers so that it is a share of the base;
* the **Qini coefficient**: the mean height of the Qini curve above the straight line of random
  targeting (same end point), over depths ``k = 1..N``; 0 is random, higher is better;
* the **uplift curve** ``(mean_T(k) - mean_C(k)) * k / N`` and its mean, the **AUUC**;
* **uplift at the top p%**: treated minus control mean outcome among the top ``p`` share.

Outcomes are "good" outcomes (1 = retained, or spend), so a positive effect means the offer helps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from core.economics import Economics

TOP_SHARES = (0.1, 0.2, 0.3)


def _ranked(score: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    return np.asarray(y, dtype=np.float64)[order], np.asarray(t).astype(bool)[order]


def qini_curve(score: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``Q(k) / N`` for ``k = 0..N`` (starts at 0): incremental good outcomes as a base share."""
    ys, ts = _ranked(score, y, t)
    n_t = np.cumsum(ts)
    n_c = np.cumsum(~ts)
    y_t = np.cumsum(ys * ts)
    y_c = np.cumsum(ys * ~ts)
    scaled = np.divide(y_c * n_t, n_c, out=np.zeros(len(ys)), where=n_c > 0)
    return np.r_[0.0, (y_t - scaled) / max(len(ys), 1)]


def qini_coefficient(score: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    """Mean height of the Qini curve above random targeting (see the module docstring)."""
    curve = qini_curve(score, y, t)
    n = len(curve) - 1
    if n == 0:
        return float("nan")
    random_line = curve[-1] * np.arange(1, n + 1) / n
    return float(np.mean(curve[1:] - random_line))


def uplift_curve(score: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(mean_T(k) - mean_C(k)) * k / N`` for ``k = 1..N``; 0 while an arm is still empty."""
    ys, ts = _ranked(score, y, t)
    n_t, n_c = np.cumsum(ts), np.cumsum(~ts)
    mean_t = np.divide(np.cumsum(ys * ts), n_t, out=np.zeros(len(ys)), where=n_t > 0)
    mean_c = np.divide(np.cumsum(ys * ~ts), n_c, out=np.zeros(len(ys)), where=n_c > 0)
    both = (n_t > 0) & (n_c > 0)
    return np.where(both, mean_t - mean_c, 0.0) * np.arange(1, len(ys) + 1) / max(len(ys), 1)


def auuc(score: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    """Area under the uplift curve (its mean over depths)."""
    curve = uplift_curve(score, y, t)
    return float(curve.mean()) if len(curve) else float("nan")


def uplift_at(score: np.ndarray, y: np.ndarray, t: np.ndarray, share: float) -> float:
    """Treated minus control mean outcome among the top ``share`` of the ranking."""
    ys, ts = _ranked(score, y, t)
    top = max(round(share * len(ys)), 1)
    ys, ts = ys[:top], ts[:top]
    if ts.all() or not ts.any():
        return float("nan")
    return float(ys[ts].mean() - ys[~ts].mean())


def uplift_metrics(score: np.ndarray, y: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """Qini coefficient, AUUC and uplift at the top 10/20/30% of one ranking."""
    out = {"qini": qini_coefficient(score, y, t), "auuc": auuc(score, y, t)}
    for share in TOP_SHARES:
        out[f"uplift_top_{int(share * 100)}"] = uplift_at(score, y, t, share)
    return out


def bootstrap_qini_gain(
    new: np.ndarray,
    old: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    *,
    replicates: int = 1000,
    level: float = 0.95,
    seed: int = 42,
) -> tuple[float, float, float]:
    """Paired bootstrap of ``qini(new) - qini(old)`` over the same customers: (gain, low, high).

    Customers are resampled within each arm, so every replicate keeps the campaign's arm sizes.
    """
    rng = np.random.default_rng(seed)
    t = np.asarray(t).astype(bool)
    arms = [np.flatnonzero(t), np.flatnonzero(~t)]
    gains = np.empty(replicates)
    for r in range(replicates):
        rows = np.concatenate([rng.choice(a, size=a.size, replace=True) for a in arms])
        gains[r] = qini_coefficient(new[rows], y[rows], t[rows]) - qini_coefficient(
            old[rows], y[rows], t[rows]
        )
    gain = qini_coefficient(new, y, t) - qini_coefficient(old, y, t)
    alpha = (1 - level) / 2
    low, high = np.quantile(gains, [alpha, 1 - alpha])
    return float(gain), float(low), float(high)


def spearman(score: np.ndarray, truth: np.ndarray) -> float:
    """Spearman rank correlation of a score with the true effect."""
    return float(spearmanr(score, truth).statistic)


def true_incremental_profit(
    score: np.ndarray, truth: pd.DataFrame, economics: Economics, contacts: int
) -> float:
    """The true profit of contacting the ``contacts`` highest-scored customers (planted data).

    Per contacted customer: the true gain in spend times the gross margin, less the contact cost
    and the offer cost for each customer who is retained under the offer (who redeems it).
    ``truth`` needs ``true_value_effect`` and ``p_churn_treated`` (``retain.demo_campaigns``).
    """
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")[:contacts]
    chosen = truth.iloc[order]
    value = chosen["true_value_effect"].to_numpy() * economics.gross_margin
    redeemed = 1.0 - chosen["p_churn_treated"].to_numpy()
    profit = value - economics.contact_cost - economics.offer_cost * redeemed
    return float(profit.sum())
