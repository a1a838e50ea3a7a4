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
from model.btyd_features import WEEK, BtydParams
from training.btyd import BetaGeoFitter, GammaGammaFitter
from training.fit_notes import captured_warnings

BTYD_COLUMNS = {"btyd_frequency": "frequency", "btyd_recency": "recency", "btyd_T": "T"}
MIN_REPEATERS = 20
"""Fewer repeat buyers than this cannot identify Gamma-Gamma (nor fewer buyers BG/NBD)."""
BOUNDARY = (1e-4, 1e4)
"""A fitted BTYD parameter outside this range has run to the edge of what the data can identify:
the optimiser drove it toward 0 or infinity, and the model's predictions are not to be trusted."""
NOT_CONVERGED = "the fit did not converge (no sound optimum)"
"""The reason given for a fit whose result fails ``training.btyd.unsound_reason``."""


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
        """One plain line per unreliable fit (BG/NBD, Gamma-Gamma) saying why; none when sound."""
        return fit_problems(self.bgnbd, self.gamma_gamma)

    def churn_problems(self) -> list[str]:
        """The line on BG/NBD's fit if unreliable: the churn score needs no Gamma-Gamma."""
        return fit_problems(self.bgnbd, None)

    def params(self) -> dict[str, float]:
        out = {f"bgnbd.{k}": v for k, v in self.bgnbd.params_.items()}
        out["bgnbd.log_likelihood"] = self.bgnbd.log_likelihood_
        if self.gamma_gamma is not None:
            out.update({f"gamma_gamma.{k}": v for k, v in self.gamma_gamma.params_.items()})
        return out


def fit_problems(bg: BetaGeoFitter, gg: GammaGammaFitter | None) -> list[str]:
    """One plain line per unreliable fit (BG/NBD, Gamma-Gamma) saying why; none when sound.

    A fit is unreliable when a parameter left ``BOUNDARY`` (the optimiser drove it toward 0
    or infinity: the data cannot identify it) or its result is not sound (``converged_``).
    """
    out: list[str] = []
    reasons = bgnbd_problems(bg)
    if reasons:
        out.append("BG/NBD fit unreliable: " + "; ".join(reasons))
    reasons = [] if gg is None else gamma_gamma_problems(gg)
    if reasons:
        out.append("Gamma-Gamma fit unreliable: " + "; ".join(reasons))
    return out


def bgnbd_problems(bg: BetaGeoFitter) -> list[str]:
    """Why a BG/NBD fit is unreliable (parameters at the boundary, no sound optimum); [] if sound."""
    reasons = []
    dropout = {k: bg.params_[k] for k in ("a", "b")}
    rate = {k: bg.params_[k] for k in ("r", "alpha")}
    if not _inside(dropout):
        reasons.append(f"dropout parameters at the boundary ({_show(dropout)})")
    if not _inside(rate):
        reasons.append(f"purchase-rate parameters at the boundary ({_show(rate)})")
    if not bg.converged_:
        reasons.append(NOT_CONVERGED)
    return reasons


def gamma_gamma_problems(gg: GammaGammaFitter) -> list[str]:
    """Why a Gamma-Gamma fit is unreliable; [] if sound."""
    reasons = [] if _inside(gg.params_) else [f"parameters at the boundary ({_show(gg.params_)})"]
    if not gg.converged_:
        reasons.append(NOT_CONVERGED)
    return reasons


def _inside(params: dict[str, float]) -> bool:
    low, high = BOUNDARY
    return all(low <= v <= high for v in params.values())


def _show(params: dict[str, float]) -> str:
    """Which parameters left ``BOUNDARY`` and which way: on a ridge the values themselves
    depend on the optimiser's path (and so on the CPU), the direction does not."""
    low, _ = BOUNDARY
    return ", ".join(
        f"{k} toward {'0' if v < low else 'infinity'}"
        for k, v in params.items()
        if not _inside({k: v})
    )


def btyd_summary(features: pd.DataFrame) -> pd.DataFrame:
    """The BTYD summary in weeks (frequency, recency, T, monetary_value) of every customer with
    a purchase, from a frame with the ``btyd`` family."""
    summary = features[[*BTYD_COLUMNS, "btyd_monetary_value"]]
    summary = summary.loc[summary["btyd_T"].notna()].rename(
        columns={**BTYD_COLUMNS, "btyd_monetary_value": "monetary_value"}
    )
    summary["recency"] /= WEEK
    summary["T"] /= WEEK
    return summary


def fit_population(summary: pd.DataFrame) -> tuple[BetaGeoFitter, GammaGammaFitter | None]:
    """BG/NBD on every customer's summary, Gamma-Gamma on the repeat buyers (None: under 20)."""
    bg = BetaGeoFitter().fit(summary[["frequency", "recency", "T"]])
    repeaters = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeaters) < MIN_REPEATERS:
        return bg, None
    gg = GammaGammaFitter().fit(repeaters[["frequency", "recency", "T", "monetary_value"]])
    return bg, gg


def fit_btyd(features: pd.DataFrame, horizon_days: int, ids: pd.Index) -> BtydBaseline:
    """Fit BG/NBD (+ Gamma-Gamma on repeat buyers) on one cutoff's features; predict for ``ids``.

    ``features`` is ``build_features`` at the cutoff for every customer, with the ``btyd`` family
    (the pipeline reuses the test cutoff's frame). Customers in ``ids`` without a purchase by the
    cutoff are scored as brand-new (x = t_x = T = 0).
    """
    summary = btyd_summary(features)
    horizon = horizon_days / WEEK
    bg, gg = fit_population(summary)
    target = summary.reindex(ids).fillna(
        {"frequency": 0.0, "recency": 0.0, "T": 0.0, "monetary_value": 0.0}
    )
    churn = probability_no_purchase(bg, target, horizon)
    if gg is not None:
        spend = gg.expected_spend(
            bg, target.assign(monetary_value=target["monetary_value"].clip(lower=0.0)), horizon
        )
    else:
        spend = bg.expected_purchases(horizon, target) * float(summary["monetary_value"].mean())
    return BtydBaseline(bg, gg, np.asarray(churn), np.asarray(spend, dtype=np.float64))


def cutoff_btyd_params(
    features: pd.DataFrame, horizon_days: int, cutoff: pd.Timestamp
) -> tuple[BtydParams, list[str]]:
    """The population fit the BTYD features of one cutoff are derived with, and notes on it.

    ``features`` holds the ``btyd`` family of every customer known at the cutoff (data up to
    the cutoff only). An unreliable fit degrades, it does not vanish: its parameters, moved into
    ``BOUNDARY``, still give every feature, and a note says so. Only a fit that cannot be made
    (too few buyers or repeat buyers, a non-finite parameter) empties the columns that need it.
    """
    summary = btyd_summary(features)
    where = f"BTYD features at {cutoff.date()}"
    if len(summary) < MIN_REPEATERS:
        return BtydParams(horizon_days, None, None), [
            f"{where}: only {len(summary)} customers have bought, too few to fit BG/NBD; "
            "the BTYD features are empty"
        ]
    with captured_warnings(where, deprecations=False) as raised:
        bg, gg = fit_population(summary)
    # an unsound fit is said once below, with what it does to the features
    notes = [line for line in raised if "ConvergenceWarning" not in line]
    bgnbd = clipped_params((bg.r_, bg.alpha_, bg.a_, bg.b_), BGNBD_PAIRS)
    bg_reasons = bgnbd_problems(bg)
    if bg_reasons:
        notes.append(
            f"{where}: BG/NBD fit unreliable ({'; '.join(bg_reasons)}); "
            + (DEGRADED if bgnbd is not None else "all four empty")
        )
    gamma_gamma = None if gg is None else clipped_params((gg.p_, gg.q_, gg.v_), GAMMA_GAMMA_PAIRS)
    if gg is None:
        notes.append(
            f"{where}: fewer than {MIN_REPEATERS} repeat buyers to fit Gamma-Gamma; "
            "btyd_expected_spend and btyd_expected_value are empty"
        )
    gg_reasons = [] if gg is None else gamma_gamma_problems(gg)
    if gg_reasons:
        notes.append(
            f"{where}: Gamma-Gamma fit unreliable ({'; '.join(gg_reasons)}); "
            + (DEGRADED if gamma_gamma is not None else SPEND_EMPTY)
        )
    return BtydParams(horizon_days, _four(bgnbd), _three(gamma_gamma)), notes


DEGRADED = f"the features use its parameters moved into [{BOUNDARY[0]:g}, {BOUNDARY[1]:g}]"
SPEND_EMPTY = "btyd_expected_spend and btyd_expected_value are empty"


def clipped_params(
    values: tuple[float, ...], pairs: tuple[tuple[int, int], ...]
) -> tuple[float, ...] | None:
    """Fitted parameters moved into ``BOUNDARY``, or None when one is not finite.

    Each pair (a shape and its scale, e.g. BG/NBD's a and b) that runs off together keeps its
    ratio, which is what the data identify (the mean dropout a / (a + b)): both are scaled down
    until the larger is at the upper bound; then every value is clipped into the range.
    """
    if not all(np.isfinite(values)):
        return None
    low, high = BOUNDARY
    out = list(values)
    for i, j in pairs:
        shrink = min(1.0, high / max(out[i], out[j]))
        out[i], out[j] = out[i] * shrink, out[j] * shrink
    return tuple(float(min(max(v, low), high)) for v in out)


BGNBD_PAIRS = ((0, 1), (2, 3))
"""BG/NBD's (r, alpha): the mean purchase rate r / alpha; (a, b): the mean dropout."""
GAMMA_GAMMA_PAIRS = ((1, 2),)
"""Gamma-Gamma's (q, v): the scale of the mean spend v / (q - 1)."""


def _four(values: tuple[float, ...] | None) -> tuple[float, float, float, float] | None:
    """The BG/NBD parameters (r, alpha, a, b) as ``BtydParams`` holds them."""
    return None if values is None else (values[0], values[1], values[2], values[3])


def _three(values: tuple[float, ...] | None) -> tuple[float, float, float] | None:
    """The Gamma-Gamma parameters (p, q, v) as ``BtydParams`` holds them."""
    return None if values is None else (values[0], values[1], values[2])


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
