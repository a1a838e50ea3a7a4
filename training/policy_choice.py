"""Which targeting policy the campaign should use: the best on validation, simplest on a tie.

The one-standard-error rule, as the churn and CLV candidates are chosen (``training.selection``):
the policy with the highest validation Qini is the best; the first policy in simplicity order
(random, churn risk, value at risk, response, the uplift learners, expected incremental profit)
whose Qini is within ``se`` paired-bootstrap standard errors of the best's is chosen, because
a difference the validation customers cannot separate is not worth a more complex policy. When
that first policy is random, nothing beat random on validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.names import plain_name
from training.policy_metrics import PolicyFigures

CHOICE_METRIC = "qini"


@dataclass(frozen=True)
class PolicyChoice:
    """The chosen policy, the best one on validation, and why in one sentence."""

    policy: str
    best: str
    reason: str


def choose_policy(
    validation: PolicyFigures, simplest_first: list[str], se: float = 1.0
) -> PolicyChoice:
    """The first policy of ``simplest_first`` within ``se`` paired standard errors of the best
    validation Qini (see the module docstring)."""
    point = {p: validation.point[p][CHOICE_METRIC] for p in simplest_first}
    finite = {p: v for p, v in point.items() if np.isfinite(v)}
    if not finite:
        raise ValueError("no policy has a finite validation Qini")
    best = max(finite, key=lambda p: finite[p])
    for policy in simplest_first:
        if policy not in finite:
            continue
        gap = finite[best] - finite[policy]
        se_policy = validation.paired_se(policy, best, CHOICE_METRIC)
        if policy == best or gap <= se * se_policy:
            break
    if policy == best:
        reason = (
            f"{_named(best)} has the highest validation Qini of the candidates "
            f"({finite[best]:.4f}), more "
            f"than {se:g} standard error above every simpler policy"
        )
    else:
        reason = (
            f"{_named(policy)} is within {se:g} standard error ({se_policy:.4f}) of the "
            f"best validation Qini, {_named(best)}'s ({finite[policy]:.4f} against "
            f"{finite[best]:.4f}), and is simpler"
        )
    return PolicyChoice(policy, best, reason)


def _named(policy: str) -> str:
    """A policy in words: 'the policy "highest churn risk first"'."""
    return f'the policy "{plain_name(policy)}"'
