"""Honest baselines that need no feature engineering: BG/NBD (+ Gamma-Gamma) and last period.

BG/NBD is fitted the way practitioners use it: on every customer's purchase history up to the
cutoff, then asked about the horizon after it. Time is measured in weeks, as in the paper: the
model is scale-free but its optimiser is better conditioned in weeks than in days. Its churn score is the exact
probability of no purchase in the horizon, not just 1 - P(alive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.prepare import PreparedData, to_day
from training.btyd import BetaGeoFitter, GammaGammaFitter

BTYD_COLUMNS = {"btyd_frequency": "frequency", "btyd_recency": "recency", "btyd_T": "T"}
WEEK = 7.0
BOUNDARY = (1e-4, 1e4)
"""A fitted BTYD parameter outside this range has run to the edge of what the data can identify:
the optimiser drove it toward 0 or infinity, and the model's predictions are not to be trusted."""


def probability_no_purchase(bg: BetaGeoFitter, summary: pd.DataFrame, t: float) -> np.ndarray:
    """P(no purchase in the next t periods | frequency, recency, T) under a fitted BG/NBD.

    A dead customer never buys; a living one buys nothing in t with E[exp(-λ t)] under the
    posterior λ ~ Gamma(r + x, α + T). Dropout happens only after a purchase, so it cannot
    intervene before the first one.
    """
    alive = bg.probability_alive(summary)
    x = summary["frequency"].to_numpy(dtype=np.float64)
    age = summary["T"].to_numpy(dtype=np.float64)
    quiet_if_alive = np.exp((bg.r_ + x) * (np.log(bg.alpha_ + age) - np.log(bg.alpha_ + age + t)))
    return np.asarray((1.0 - alive) + alive * quiet_if_alive)


@dataclass
class BtydBaseline:
    """BG/NBD and Gamma-Gamma fitted at one cutoff, with their predictions for chosen customers."""

    bgnbd: BetaGeoFitter
    gamma_gamma: GammaGammaFitter | None
    churn: np.ndarray
    spend: np.ndarray

    def problems(self) -> list[str]:
        """One plain line per unreliable fit (BG/NBD, Gamma-Gamma) saying why; none when sound.

        A fit is unreliable when a parameter left ``BOUNDARY`` (the optimiser drove it toward 0
        or infinity: the data cannot identify it) or the optimiser did not converge.
        """
        out: list[str] = []
        bg = self.bgnbd
        reasons = []
        dropout = {k: bg.params_[k] for k in ("a", "b")}
        rate = {k: bg.params_[k] for k in ("r", "alpha")}
        if not _inside(dropout):
            reasons.append(f"dropout parameters at the boundary ({_show(dropout)})")
        if not _inside(rate):
            reasons.append(f"purchase-rate parameters at the boundary ({_show(rate)})")
        if not bg.converged_:
            reasons.append("the optimiser did not converge")
        if reasons:
            out.append("BG/NBD fit unreliable: " + "; ".join(reasons))
        gg = self.gamma_gamma
        if gg is not None:
            reasons = (
                [] if _inside(gg.params_) else [f"parameters at the boundary ({_show(gg.params_)})"]
            )
            if not gg.converged_:
                reasons.append("the optimiser did not converge")
            if reasons:
                out.append("Gamma-Gamma fit unreliable: " + "; ".join(reasons))
        return out

    def params(self) -> dict[str, float]:
        out = {f"bgnbd.{k}": v for k, v in self.bgnbd.params_.items()}
        out["bgnbd.log_likelihood"] = self.bgnbd.log_likelihood_
        if self.gamma_gamma is not None:
            out.update({f"gamma_gamma.{k}": v for k, v in self.gamma_gamma.params_.items()})
        return out


def _inside(params: dict[str, float]) -> bool:
    low, high = BOUNDARY
    return all(low <= v <= high for v in params.values())


def _show(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in params.items())


def fit_btyd(features: pd.DataFrame, horizon_days: int, ids: pd.Index) -> BtydBaseline:
    """Fit BG/NBD (+ Gamma-Gamma on repeat buyers) on one cutoff's features; predict for ``ids``.

    ``features`` is ``build_features`` at the cutoff for every customer, with the ``btyd`` family
    (the pipeline reuses the test cutoff's frame). Customers in ``ids`` without a purchase by the
    cutoff are scored as brand-new (x = t_x = T = 0).
    """
    summary = features[[*BTYD_COLUMNS, "btyd_monetary_value"]]
    summary = summary.loc[summary["btyd_T"].notna()].rename(
        columns={**BTYD_COLUMNS, "btyd_monetary_value": "monetary_value"}
    )
    summary["recency"] /= WEEK
    summary["T"] /= WEEK
    horizon = horizon_days / WEEK
    bg = BetaGeoFitter().fit(summary[["frequency", "recency", "T"]])
    target = summary.reindex(ids).fillna(
        {"frequency": 0.0, "recency": 0.0, "T": 0.0, "monetary_value": 0.0}
    )
    churn = probability_no_purchase(bg, target, horizon)
    repeaters = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gg = None
    if len(repeaters) >= 20:
        gg = GammaGammaFitter().fit(repeaters[["frequency", "recency", "T", "monetary_value"]])
        spend = gg.expected_spend(
            bg, target.assign(monetary_value=target["monetary_value"].clip(lower=0.0)), horizon
        )
    else:
        spend = bg.expected_purchases(horizon, target) * float(summary["monetary_value"].mean())
    return BtydBaseline(bg, gg, np.asarray(churn), np.asarray(spend, dtype=np.float64))


def last_period_spend(
    prep: PreparedData, cutoff: pd.Timestamp, days: int, ids: pd.Index
) -> np.ndarray:
    """Net spend in the ``days`` up to the cutoff, floored at 0: 'next period = last period'."""
    tx = prep.transactions
    end = to_day(cutoff)
    rows = (tx.day > end - days) & (tx.day <= end)
    spend = np.bincount(tx.customer[rows], weights=tx.amount[rows], minlength=prep.n_customers)
    codes = pd.Index(prep.ids).get_indexer(ids)
    return np.maximum(np.where(codes >= 0, spend[np.maximum(codes, 0)], 0.0), 0.0)
