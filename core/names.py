"""The registry of task and model names: the keys training, configs and cards write, defined once.

Each model key has the tasks it is a candidate for and its plain name, which the report and the
Qini plot show a business reader instead of the key. A test fails when a training candidate, an
uplift learner or a policy has no entry here, so the report never falls back to a raw key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CHURN: Final = "churn"
CLV: Final = "clv"
UPLIFT: Final = "uplift"
TASKS: Final = (CHURN, CLV, UPLIFT)
"""What a model predicts: churn probability, customer value, or an offer's effect on churn."""

LIGHTGBM: Final = "lightgbm"
LOGISTIC: Final = "logistic"
RECENCY_RULE: Final = "recency_rule"
BGNBD: Final = "bgnbd"
PRIOR_RATE: Final = "prior_rate"
LIGHTGBM_BTYD: Final = "lightgbm_btyd"
HURDLE_GAMMA: Final = "hurdle_gamma"
HURDLE_LOGNORMAL: Final = "hurdle_lognormal"
BGNBD_GAMMA_GAMMA: Final = "bgnbd_gamma_gamma"
LAST_PERIOD: Final = "last_period"
PRIOR_MEAN: Final = "prior_mean"
T_LEARNER: Final = "t_learner"
X_LEARNER: Final = "x_learner"
DR_LEARNER: Final = "dr_learner"
TRANSFORMED_OUTCOME: Final = "transformed_outcome"
RANDOM: Final = "random"
CHURN_RISK: Final = "churn_risk"
RESPONSE: Final = "response"
VALUE_AT_RISK: Final = "value_at_risk"
INCREMENTAL_PROFIT: Final = "incremental_profit"


@dataclass(frozen=True)
class ModelName:
    """A model key as training writes it, the tasks it serves, and its name in plain words."""

    key: str
    tasks: tuple[str, ...]
    plain: str


MODELS: Final = {
    m.key: m
    for m in (
        ModelName(LIGHTGBM, (CHURN, CLV), "gradient-boosted trees (LightGBM)"),
        ModelName(LOGISTIC, (CHURN,), "logistic regression"),
        ModelName(
            RECENCY_RULE,
            (CHURN,),
            "rule of thumb: the longer since the last purchase, the likelier to leave",
        ),
        ModelName(BGNBD, (CHURN,), "classic repeat-purchase model (BG/NBD)"),
        ModelName(PRIOR_RATE, (CHURN,), "everyone at last period's churn rate"),
        ModelName(
            LIGHTGBM_BTYD,
            (CLV,),
            "gradient-boosted trees correcting the classic repeat-purchase and spend model "
            "(LightGBM on BG/NBD with Gamma-Gamma)",
        ),
        ModelName(
            HURDLE_GAMMA,
            (CLV,),
            "two-step trees: the chance of buying, then the spend of buyers (Gamma)",
        ),
        ModelName(
            HURDLE_LOGNORMAL,
            (CLV,),
            "two-step trees: the chance of buying, then the spend of buyers (log-normal)",
        ),
        ModelName(
            BGNBD_GAMMA_GAMMA,
            (CLV,),
            "classic repeat-purchase and spend model (BG/NBD with Gamma-Gamma)",
        ),
        ModelName(LAST_PERIOD, (CLV,), "each customer spends what they spent last period"),
        ModelName(PRIOR_MEAN, (CLV,), "everyone at last period's average spend"),
        ModelName(T_LEARNER, (UPLIFT,), "uplift model (T-learner)"),
        ModelName(X_LEARNER, (UPLIFT,), "uplift model (X-learner)"),
        ModelName(DR_LEARNER, (UPLIFT,), "uplift model (DR-learner)"),
        ModelName(TRANSFORMED_OUTCOME, (UPLIFT,), "uplift model (transformed outcome)"),
        ModelName(RANDOM, (UPLIFT,), "random targeting"),
        ModelName(CHURN_RISK, (UPLIFT,), "highest churn risk first"),
        ModelName(RESPONSE, (UPLIFT,), "response model"),
        ModelName(VALUE_AT_RISK, (UPLIFT,), "highest value at risk first"),
        ModelName(INCREMENTAL_PROFIT, (UPLIFT,), "highest expected incremental profit first"),
    )
}
"""Every model key training can produce (candidates, uplift learners and policies)."""


def plain_name(key: str) -> str:
    """A model's plain name, e.g. ``bgnbd`` -> "classic repeat-purchase model (BG/NBD)".

    A key without an entry is returned as it is (a card written by another version still shows).
    """
    entry = MODELS.get(key)
    return entry.plain if entry is not None else key


def task_models(task: str) -> tuple[str, ...]:
    """The keys of the models registered for ``task``, in the registry's order."""
    return tuple(m.key for m in MODELS.values() if task in m.tasks)
