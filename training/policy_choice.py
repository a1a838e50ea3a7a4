"""Which targeting policy the campaign should use: the best on validation, simplest on a tie.

The one-standard-error rule, as the churn and CLV candidates are chosen (``training.selection``),
on the metric of ``uplift.choose_by``: the incremental profit at the budget (the campaign's
objective, the default) or the Qini coefficient. The policy with the highest validation figure is
the best; the first policy in simplicity order (random, churn risk, value at risk, response, the
uplift learners, expected incremental profit) within ``se`` paired-bootstrap standard errors of
the best's is chosen, because a difference the validation customers cannot separate is not worth
a more complex policy. When that first policy is random, nothing beat random on validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.names import plain_name
from training.policy_metrics import PolicyFigures

CHOICE_METRICS = {"profit": "profit_at_budget", "qini": "qini"}
"""``uplift.choose_by`` -> the figure of ``training.policy_metrics`` the policies compete on."""
WORDS = {"profit_at_budget": "incremental profit at the budget", "qini": "Qini"}
"""Each competing figure in words."""


@dataclass(frozen=True)
class PolicyChoice:
    """The chosen policy, the best one on validation, and why in one sentence."""

    policy: str
    best: str
    reason: str


def choose_policy(
    validation: PolicyFigures,
    simplest_first: list[str],
    se: float = 1.0,
    metric: str = "profit_at_budget",
) -> PolicyChoice:
    """The first policy of ``simplest_first`` within ``se`` paired standard errors of the best
    validation ``metric`` (see the module docstring)."""
    point = {p: validation.point[p][metric] for p in simplest_first}
    finite = {p: v for p, v in point.items() if np.isfinite(v)}
    words = WORDS.get(metric, metric)
    if not finite:
        raise ValueError(f"no policy has a finite validation {words}")
    fmt = ",.0f" if metric == "profit_at_budget" else ".4f"
    best = max(finite, key=lambda p: finite[p])
    for policy in simplest_first:
        if policy not in finite:
            continue
        gap = finite[best] - finite[policy]
        se_policy = validation.paired_se(policy, best, metric)
        if policy == best or gap <= se * se_policy:
            break
    if policy == best:
        reason = (
            f"{_named(best)} has the highest validation {words} of the candidates "
            f"({finite[best]:{fmt}}), more "
            f"than {se:g} standard error above every simpler policy"
        )
    else:
        reason = (
            f"{_named(policy)} is within {se:g} standard error ({se_policy:{fmt}}) of the "
            f"best validation {words}, {_named(best)}'s ({finite[policy]:{fmt}} against "
            f"{finite[best]:{fmt}}), and is simpler"
        )
    return PolicyChoice(policy, best, reason)


def _named(policy: str) -> str:
    """A policy in words: 'the policy "highest churn risk first"'."""
    return f'the policy "{plain_name(policy)}"'
