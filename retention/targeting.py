"""Whom to offer: by the offer's measured effect when an uplift model exists, else by risk and value.

* **Uplift targeting** (the scores carry ``uplift``, from the uplift champion): each customer's
  expected incremental profit (``model.incremental``),

      incremental value x gross margin - contact cost - offer cost x P(retained | offered),

  where the incremental value is ``expected_incremental_value`` (the uplift model's value effect)
  or, without it, ``uplift x clv``. Customers whose predicted effect is not positive are never
  contacted, whatever their value: for a "sleeping dog" the offer *raises* churn (Ascarza et al.
  2016 measured 6.4% -> 10.0%).
* **Ranked targeting** (``ranked_targeting``) when the served uplift version records that a
  simpler policy won the competition of past campaigns (``training.uplift_eval``): the response
  model (the scores' ``offer_response``), churn risk or value at risk ranks the customers, and
  the top ``budget_share`` (the share it was measured at) is worth contacting at the held-out
  incremental profit per contact it earned there; nobody beyond that share, where it was never
  measured, and nobody at all when that profit is not positive (``--include-negative``
  contacts them anyway).
* **Risk-value targeting** otherwise (``risk_value_targeting``): churn risk x an *assumed*
  acceptance x value (the expected gain and spend of ``retention.campaign``'s docstring); the
  campaign output gives the control share a power calculation needs to measure that assumed
  effect (``CampaignPlan.power_line``), so that the campaign's results can train an uplift model.
  When the latest uplift version was not promoted (no policy beat random order), the campaign
  says so (``unpromoted_lines``): risk-value targeting is then an assumption the control group
  tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.economics import Economics
from core.names import CHURN_RISK, INCREMENTAL_PROFIT, RANDOM, RESPONSE, VALUE_AT_RISK, plain_name
from model.incremental import expected_incremental_profit
from model.registry import CHAMPION, Tag
from model.uplift_bundle import INCREMENTAL_VALUE, OFFER_RESPONSE, UPLIFT

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
    priority: np.ndarray | None = None
    """Contact order (higher first) when the policy ranks by a score rather than by gain per
    unit spent; None: by gain per unit spent."""

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


RANKED = {
    RESPONSE: OFFER_RESPONSE,
    CHURN_RISK: "churn_probability",
    VALUE_AT_RISK: "value_at_risk",
}
"""The policies ``ranked_targeting`` carries out, and the score column each ranks by."""


def ranked_targeting(
    scores: pd.DataFrame, economics: Economics, chosen: dict[str, Any]
) -> Targeting | None:
    """Targeting by the score of the policy the uplift card records (``RANKED``); None when the
    card records another policy or the scores or figures it needs are missing.

    The top ``budget_share`` of the scored customers by that score are worth the held-out
    incremental profit per contact the policy earned at that share; the rest were never measured.
    """
    name = str(chosen.get("policy", ""))
    column = RANKED.get(name)
    figures = (chosen.get("figures") or {}).get(name) or {}
    profit, contacts = figures.get("profit_at_budget"), int(chosen.get("contacts") or 0)
    share = chosen.get("budget_share")
    if column is None or column not in scores or profit is None or not contacts or not share:
        return None
    score = pd.to_numeric(scores[column], errors="coerce").to_numpy(dtype=np.float64)
    known = np.isfinite(score)
    top = np.zeros(len(score), dtype=bool)
    ranked = np.flatnonzero(known)[np.argsort(-score[known], kind="stable")]
    top[ranked[: max(round(float(share) * len(score)), 1)]] = True
    per_contact = float(profit) / contacts
    gain = np.where(top, per_contact, np.nan)
    p = scores["churn_probability"].to_numpy(dtype=np.float64)
    redeemed = score if name == RESPONSE else 1.0 - p
    spend = economics.contact_cost + economics.offer_cost * np.clip(redeemed, 0.0, 1.0)
    return Targeting(
        f"{plain_name(name)} ({name})",
        gain,
        np.where(np.isfinite(spend), spend, economics.contact_cost + economics.offer_cost),
        (
            (f"with no {column} in the scores", ~known),
            (
                f"ranked below the top {float(share):.0%} by {column}, the share at which the "
                "policy's profit was measured",
                ~top,
            ),
        ),
        f"in the top {float(share):.0%}, but the policy's held-out incremental profit per "
        f"contact there is not positive ({economics.money(per_contact, 2)})",
        priority=np.where(known, score, -np.inf),
    )


def choose_targeting(
    scores: pd.DataFrame, economics: Economics, card: dict[str, Any] | None = None
) -> Targeting:
    """The policy the served uplift version records (its card, ``card``): ranked targeting by
    the response model, churn risk or value at risk, else by the uplift model's expected
    incremental profit; without an uplift model, risk-value targeting."""
    chosen = (card or {}).get("policy")
    if isinstance(chosen, dict) and chosen.get("served") and has_uplift(scores):
        ranked = ranked_targeting(scores, economics, chosen)
        if ranked is not None:
            return ranked
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
    chosen = (card or {}).get("policy")
    if policy in (RISK_VALUE, RISK_ONLY):
        return [f"{FALLBACK_WHY} {policy}"]
    if not isinstance(chosen, dict):
        return [
            "targeting policy: the uplift model's expected incremental profit (its card "
            "records no policy competition: train again to compare the policies)"
        ]
    name = str(chosen.get("policy", ""))
    why = f"chosen on validation: {chosen.get('reason', '')}"
    if policy != UPLIFT_POLICY:  # ranked_targeting by the chosen policy's score
        why = (
            f"targeting policy: {plain_name(name)} ({name}), ranked by the scores' "
            f"{RANKED.get(name, name)}, contacting at most the top "
            f"{float(chosen.get('budget_share', 0)):.0%}; " + why
        )
    elif chosen.get("served") and name not in RANKED:
        why = (
            f"targeting policy: {plain_name(name)} ({name}), ranked by the uplift model's "
            f"expected incremental profit; " + why
        )
    else:  # promoted by hand although random order won, or its scores lack the policy's column
        why = (
            "targeting policy: the uplift model's expected incremental profit "
            f"({INCREMENTAL_PROFIT}), although on validation {plain_name(name)} ({name}) was "
            f"chosen ({chosen.get('reason', '')}): "
            + (
                "the uplift model was promoted by hand"
                if not chosen.get("served")
                else f"the scores carry no {RANKED[name]} to rank by (`retain score` again)"
            )
        )
        name = INCREMENTAL_PROFIT
    figures = (chosen.get("figures") or {}).get(name) or {}
    return [
        why,
        f"its held-out figures on {int(chosen.get('test_rows', 0)):,} past campaign customers "
        f"({float(chosen.get('level', 0.95)):.0%} intervals): "
        + ", ".join(_figure(figures, m, f) for m, f in FIGURES),
    ]


def unpromoted_lines(tags: dict[str, str], version: str) -> list[str]:
    """What a campaign without a served uplift model says when the latest uplift version (its
    tags ``tags``) was not promoted: why, and that risk-value targeting is then an assumption no
    past test supports; nothing when that version is the champion or records no decision."""
    if Tag.DECISION not in tags or tags[Tag.DECISION] == CHAMPION:
        return []
    head = (
        "no targeting policy beat random order on past campaigns"
        if tags.get(Tag.POLICY) == RANDOM
        else "the targeting policy chosen on past campaigns was not promoted"
    )
    return [
        f"{head} (uplift version {version}: {tags.get(Tag.REASON, '')}); the campaign ranks by "
        "risk-value at an assumed acceptance, which no past test supports: keep the control "
        "group, `retain campaign-results` measures whether it pays"
    ]


FIGURES = (("qini", ".4f"), ("auuc", ".4f"), ("profit_at_budget", ",.0f"))
"""The held-out figures a campaign quotes, and how each is written."""


def _figure(figures: dict[str, Any], metric: str, fmt: str) -> str:
    value, low, high = (figures.get(k) for k in (metric, f"{metric}_low", f"{metric}_high"))
    if value is None:
        return f"{metric} not measurable"
    ci = "" if low is None or high is None else f" ({low:{fmt}} to {high:{fmt}})"
    return f"{metric} {value:{fmt}}{ci}"
