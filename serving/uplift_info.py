"""What ``/model_info`` says about the uplift model: its version, learner and held-out Qini.

Read from the uplift model's card (``model.uplift_bundle.UpliftBundle.card``, written by
``retain train``); without an uplift model the service says so in plain words.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np

from serving.schemas import UpliftInfo
from serving.scorer import Scorer

NO_UPLIFT_MODEL = "no uplift model"


def uplift_info(scorer: Scorer) -> UpliftInfo | None:
    """The uplift model's description from its card; None without an uplift model."""
    if scorer.uplift is None or scorer.uplift_label is None:
        return None
    card = scorer.uplift.card
    metrics = {k: float(v) for k, v in (card.get("test_metrics") or {}).items() if _finite(v)}
    risk = (card.get("churn_risk_metrics") or {}).get("qini")
    return UpliftInfo(
        version=scorer.uplift_label,
        learner=scorer.uplift.learner,
        trained_at=card.get("trained_at"),
        campaigns={str(k): str(v) for k, v in (card.get("campaigns") or {}).items()},
        qini=metrics.get("qini"),
        churn_risk_qini=float(risk) if _finite(risk) else None,
        test_metrics=metrics,
        verdict=card.get("verdict"),
        base_value=scorer.uplift.base_value,
        **_policy(card),
    )


def _policy(card: dict[str, Any]) -> dict[str, Any]:
    """The card's chosen targeting policy, its reason and held-out figures (empty if none)."""
    policy = card.get("policy")
    if not isinstance(policy, dict):
        return {}
    name = policy.get("policy")
    figures = (policy.get("figures") or {}).get(name) or {}
    return {
        "policy": name,
        "policy_reason": policy.get("reason"),
        "policy_figures": {k: float(v) if _finite(v) else None for k, v in figures.items()},
    }


def uplift_status(scorer: Scorer) -> str:
    """One line: 'no uplift model', or the model, its learner and held-out Qini."""
    info = uplift_info(scorer)
    if info is None:
        return NO_UPLIFT_MODEL
    qini = "not measured" if info.qini is None else f"{info.qini:.4f}"
    against = (
        "" if info.churn_risk_qini is None else f" (churn-risk order {info.churn_risk_qini:.4f})"
    )
    return f"{info.version} ({info.learner}), held-out Qini {qini}{against}"


def _finite(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))
    )
