"""Whom to offer: by the offer's measured effect when an uplift model exists, else by risk and value.

* **Uplift targeting** (the scores carry ``uplift``, from the uplift champion): each customer's
  expected incremental profit (``model.incremental``),

      incremental value x gross margin - contact cost - offer cost x P(retained | offered),

  where the incremental value is ``expected_incremental_value`` (the uplift model's value effect)
  or, without it, ``uplift x clv``. Customers whose predicted effect is not positive are never
  contacted, whatever their value: for a "sleeping dog" the offer *raises* churn (Ascarza et al.
  2016 measured 6.4% -> 10.0%).
* **Risk-value targeting** otherwise (``retention.campaign.risk_value_targeting``): churn risk x an
  *assumed* acceptance x value; the campaign output gives the control share a power calculation
  needs to measure that assumed effect (``CampaignPlan.power_line``), so that the campaign's
  results can train an uplift model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.economics import Economics
from model.incremental import expected_incremental_profit
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT
from retention.campaign import Targeting, risk_value_targeting

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
