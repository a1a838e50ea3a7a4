"""Whom to offer: by the offer's measured effect when an uplift model exists, else by risk and value.

* **Uplift targeting** (the scores carry ``uplift``, from the uplift champion): each customer's
  expected incremental profit (``model.incremental``),

      incremental value x gross margin - contact cost - offer cost x P(retained | offered),

  where the incremental value is ``expected_incremental_value`` (the uplift model's value effect)
  or, without it, ``uplift x clv``. Customers whose predicted effect is not positive are never
  contacted, whatever their value: for a "sleeping dog" the offer *raises* churn (Ascarza et al.
  2016 measured 6.4% -> 10.0%).
* **Risk-value targeting** otherwise (``risk_value_targeting``): churn risk x an *assumed*
  acceptance x value (the expected gain and spend of ``retention.campaign``'s docstring); the
  campaign output gives the control share a power calculation needs to measure that assumed
  effect (``CampaignPlan.power_line``), so that the campaign's results can train an uplift model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.economics import Economics
from core.names import INCREMENTAL_PROFIT, plain_name
from model.incremental import expected_incremental_profit
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT

RISK_VALUE = "risk-value (assumed acceptance)"
"""The policy of ``risk_value_targeting``: churn risk x value x an assumed acceptance."""
RISK_ONLY = "churn risk (value unknown)"
"""The policy when the scores carry no value (a churn-only package without a recurring charge):
the likeliest leavers first, the expected gain being the churn probability, not money."""
UPLIFT_POLICY = "uplift (expected incremental profit)"
"""The policy name campaigns targeted by an uplift model are recorded under."""

UNSCORED = "without a churn probability or value in the scores"
"""Why a customer whose expected gain cannot be computed is never contacted."""
SLEEPING_DOGS = (
    "whose predicted effect of the offer is not positive (sleeping dogs among them: the offer "
    "would not lower their churn)"
)
"""Why the uplift policy never contacts a customer whatever their value."""


@dataclass(frozen=True)
class Targeting:
    """Whom a policy would contact: per customer (in the scores' order) the expected gain and
    spend of a contact, and the policy's name as the ledger and outputs state it."""

    policy: str
    gain: np.ndarray
    spend: np.ndarray
    why_not: tuple[tuple[str, np.ndarray], ...] = ()
    """Why a customer is not worth contacting, as (reason, mask) pairs in order: a customer left
    out counts under the first reason whose mask holds it, else under ``unprofitable``."""
    unprofitable: str = "whose expected gain is not positive"
    """The reason of a customer left out whom no ``why_not`` mask names."""

    def left_out(self, worth: np.ndarray) -> dict[str, int]:
        """How many customers are not contacted (``worth`` False), by reason; none: empty."""
        left = ~np.asarray(worth, dtype=bool)
        out: dict[str, int] = {}
        for reason, mask in self.why_not:
            counted = left & mask
            if counted.any():
                out[reason] = int(counted.sum())
            left &= ~counted
        if left.any():
            out[self.unprofitable] = int(left.sum())
        return out


def expected_economics(
    p: np.ndarray, value: np.ndarray, economics: Economics
) -> tuple[np.ndarray, np.ndarray]:
    """Expected gain and expected spend of each contact (the formulas of ``retention.campaign``)."""
    d, f, g = economics.offer_cost, economics.contact_cost, economics.acceptance
    margin = value * economics.gross_margin
    gain = p * g * (margin - d) - (1 - p) * d - f
    spend = f + d * (p * g + 1 - p)
    return gain, spend


def risk_value_targeting(scores: pd.DataFrame, economics: Economics) -> Targeting:
    """Today's policy: churn probability x assumed acceptance x value x margin, less costs.

    The value is the CLV or, for a churn-only package, the value if staying (recurring charge x
    the horizon's months); scores with neither are ranked by churn risk (``RISK_ONLY``).
    """
    p = scores["churn_probability"].to_numpy(dtype=np.float64)
    value = known_value(scores)
    if value is None:
        _, spend = expected_economics(p, np.zeros_like(p), economics)
        return Targeting(RISK_ONLY, p.copy(), spend)
    gain, spend = expected_economics(p, value, economics)
    return Targeting(
        RISK_VALUE,
        gain,
        spend,
        ((UNSCORED, ~np.isfinite(gain)),),
        "whose expected gain is not positive (at the assumed acceptance their retained value "
        "does not cover the offer and the contact)",
    )


def known_value(scores: pd.DataFrame) -> np.ndarray | None:
    """The customers' value for targeting: the CLV, else (churn-only) the value if staying, else
    None when the scores carry no value at all."""
    for column in ("clv", "value_if_staying"):
        if column in scores:
            value = pd.to_numeric(scores[column], errors="coerce").to_numpy(dtype=np.float64)
            if np.isfinite(value).any():
                return value
    return None


Policy = Callable[[pd.DataFrame, Economics], Targeting]
"""A targeting policy: from the scores table and the economics, each customer's expected gain and
spend (``risk_value_targeting``; an uplift policy plugs in the same way)."""


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
    return Targeting(
        UPLIFT_POLICY,
        gain,
        spend,
        (
            (UNSCORED, ~np.isfinite(gain)),
            ("without an uplift score", ~known),
            (SLEEPING_DOGS, ~helps),
        ),
        "whose expected incremental profit is not positive (the offer's effect is worth less "
        "than the offer and the contact)",
    )


def choose_targeting(scores: pd.DataFrame, economics: Economics) -> Targeting:
    """Uplift targeting when the scores carry an uplift model's effect, else risk-value."""
    if has_uplift(scores):
        return uplift_targeting(scores, economics)
    return risk_value_targeting(scores, economics)


FALLBACK_WHY = (
    "no uplift model is served (none was trained, or none passed the gate: `retain models "
    "--json` gives each uplift version's reason), so the campaign falls back to"
)


def policy_lines(card: dict[str, Any] | None, policy: str) -> list[str]:
    """Which targeting policy the campaign used and why, with its held-out figures.

    ``card`` is the served uplift model's card (``score_meta.json``), None without one; its
    ``policy`` section is the competition's record (``training.uplift_eval``).
    """
    if policy != UPLIFT_POLICY:
        return [f"{FALLBACK_WHY} {policy}"]
    chosen = (card or {}).get("policy")
    if not isinstance(chosen, dict):
        return [
            "targeting policy: the uplift model's expected incremental profit (its card "
            "records no policy competition: train again to compare the policies)"
        ]
    name = str(chosen.get("policy", ""))
    if chosen.get("served"):
        why = (
            f"targeting policy: {plain_name(name)} ({name}), ranked by the uplift model's "
            f"expected incremental profit; chosen on validation: {chosen.get('reason', '')}"
        )
    else:  # promoted by hand although another policy won
        why = (
            "targeting policy: the uplift model's expected incremental profit "
            f"({INCREMENTAL_PROFIT}), although on validation {plain_name(name)} ({name}) was "
            f"chosen ({chosen.get('reason', '')}): the uplift model was promoted by hand"
        )
        name = INCREMENTAL_PROFIT
    figures = (chosen.get("figures") or {}).get(name) or {}
    return [
        why,
        f"its held-out figures on {int(chosen.get('test_rows', 0)):,} past campaign customers "
        f"({float(chosen.get('level', 0.95)):.0%} intervals): "
        + ", ".join(_figure(figures, m, f) for m, f in FIGURES),
    ]


FIGURES = (("qini", ".4f"), ("auuc", ".4f"), ("profit_at_budget", ",.0f"))
"""The held-out figures a campaign quotes, and how each is written."""


def _figure(figures: dict[str, Any], metric: str, fmt: str) -> str:
    value, low, high = (figures.get(k) for k in (metric, f"{metric}_low", f"{metric}_high"))
    if value is None:
        return f"{metric} not measurable"
    ci = "" if low is None or high is None else f" ({low:{fmt}} to {high:{fmt}})"
    return f"{metric} {value:{fmt}}{ci}"
