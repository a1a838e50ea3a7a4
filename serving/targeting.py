"""Whom to offer: by the offer's measured effect when an uplift model exists, else by risk and value.

* **Uplift targeting** (the scores carry ``uplift``, from the uplift champion): each customer's
  expected incremental profit (``model.incremental``),

      incremental value x gross margin - contact cost - offer cost x P(retained | offered),

  where the incremental value is ``expected_incremental_value`` (the uplift model's value effect)
  or, without it, ``uplift x clv``. Customers whose predicted effect is not positive are never
  contacted, whatever their value: for a "sleeping dog" the offer *raises* churn (Ascarza et al.
  2016 measured 6.4% -> 10.0%).
* **Risk-value targeting** otherwise (``serving.campaign.risk_value_targeting``): churn risk x an
  *assumed* acceptance x value. ``control_advice`` says how large a control group the campaign
  needs for its effect to be measured, so that an uplift model can be learned from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from model.economics import Economics
from model.incremental import expected_incremental_profit
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT
from serving.campaign import Targeting, risk_value_targeting

UPLIFT_POLICY = "uplift (expected incremental profit)"
"""The policy name campaigns targeted by an uplift model are recorded under."""


def has_uplift(scores: pd.DataFrame) -> bool:
    """Whether the scores carry an uplift model's effect for at least one customer."""
    return UPLIFT in scores and bool(scores[UPLIFT].notna().any())


def uplift_targeting(scores: pd.DataFrame, economics: Economics) -> Targeting:
    """Expected incremental profit (gain) and expected spend per customer, in the scores' order.

    The gain of a customer with no positive predicted effect is at most 0, so ``select`` never
    contacts one; a customer without an uplift score (missing) is treated the same way.
    """
    uplift = scores[UPLIFT].to_numpy(dtype=np.float64, na_value=np.nan)
    p = scores["churn_probability"].to_numpy(dtype=np.float64)
    if INCREMENTAL_VALUE in scores:
        value = scores[INCREMENTAL_VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        value = uplift * scores["clv"].to_numpy(dtype=np.float64)
    known = np.isfinite(uplift) & np.isfinite(value)
    u = np.where(known, uplift, 0.0)
    profit = expected_incremental_profit(u, np.where(known, value, 0.0), p, economics)
    helps = known & (u > 0)
    gain = np.where(helps, profit, np.minimum(profit, 0.0))
    redeemed = np.clip(1.0 - p + u, 0.0, 1.0)
    spend = economics.contact_cost + economics.offer_cost * redeemed
    return Targeting(UPLIFT_POLICY, gain, spend)


def choose_targeting(scores: pd.DataFrame, economics: Economics) -> Targeting:
    """Uplift targeting when the scores carry an uplift model's effect, else risk-value."""
    if has_uplift(scores):
        return uplift_targeting(scores, economics)
    return risk_value_targeting(scores, economics)


@dataclass(frozen=True)
class ControlAdvice:
    """The control share a campaign needs to detect its expected effect, and why."""

    share: float
    """Smallest share (0.05 to 0.5) with the wanted power; 0.5 when none suffices."""
    effect: float
    """Expected reduction in churn (percentage points as a fraction)."""
    enough: bool
    """Whether a control group of ``share`` reaches the power at all."""
    min_customers: int
    """Customers needed with a 50% control group, the most informative split."""

    def line(self) -> str:
        if self.enough:
            return (
                f"recommended control share: {self.share:.0%}, enough to detect the assumed "
                f"effect ({self.effect:.1%} less churn) with 80% power at the 5% level, so the "
                "campaign's results can train an uplift model"
            )
        return (
            f"recommended control share: 50%, and even that cannot detect the assumed effect "
            f"({self.effect:.1%} less churn) on this many customers; it needs at least "
            f"{self.min_customers:,} selected customers"
        )


def control_advice(
    n_selected: int,
    churn_rate: float,
    effect: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> ControlAdvice:
    """The smallest control share for a two-sided two-proportion test to detect ``effect``.

    Control churn is ``churn_rate``, treated churn ``churn_rate - effect``; with ``n`` selected
    customers split ``(1 - s) n`` treated and ``s n`` control, the test detects the effect with
    ``power`` when ``effect >= z * sqrt(a / ((1 - s) n) + b / (s n))``, ``z = z_(1-alpha/2) +
    z_power``, ``a`` and ``b`` the treated and control Bernoulli variances.
    """
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    p0 = float(np.clip(churn_rate, 1e-6, 1 - 1e-6))
    p1 = float(np.clip(churn_rate - effect, 1e-6, 1 - 1e-6))
    a, b = p1 * (1 - p1), p0 * (1 - p0)
    needed = (effect / z) ** 2 if effect > 0 else 0.0
    shares = np.round(np.arange(0.05, 0.501, 0.01), 2)
    n = max(n_selected, 1)
    variance = a / ((1 - shares) * n) + b / (shares * n)
    ok = variance <= needed
    min_customers = int(np.ceil(2 * (a + b) / needed)) if needed > 0 else 0
    if ok.any():
        return ControlAdvice(float(shares[ok][0]), effect, True, min_customers)
    return ControlAdvice(0.5, effect, False, min_customers)


def assumed_effect_advice(table: pd.DataFrame, economics: Economics) -> ControlAdvice:
    """Control advice for a risk-value campaign: its assumed effect is acceptance x the selected
    customers' mean churn probability (the policy assumes the offer retains that share of would-be
    churners). ``table`` is a campaign table with ``churn_probability`` and an ``arm`` column."""
    selected = table.loc[table["arm"].notna()]
    if selected.empty:
        return ControlAdvice(0.0, 0.0, False, 0)
    churn = float(selected["churn_probability"].mean())
    return control_advice(len(selected), churn, economics.acceptance * churn)
