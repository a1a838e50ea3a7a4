"""The targeting policies compete on planted randomized campaigns, and the right one is chosen.

Three tiny campaigns (3,000 customers, two attributes) with a known truth: where the customers
likeliest to stay when offered are exactly those the offer moves, the response model (simpler
than any uplift learner) is chosen and served; where who stays anyway (sure things) differs from whom the
offer moves, an uplift policy is chosen; where the offer does nothing, random order is chosen
and the gate promotes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from core.config import ExperimentConfig, UpliftConfig
from core.config_file import load_config
from core.names import RANDOM, RESPONSE
from core.schema import CAMPAIGN_ID, CUSTOMER_ID, FUTURE_VALUE
from features.build import CUTOFF
from features.labels import CHURN
from tests.helpers import write_config
from training.registry import first_version
from training.uplift_data import RETAINED, TREATED, CampaignRows
from training.uplift_eval import SERVED, UpliftEvaluation, evaluate_uplift
from training.uplift_policy import policy_not_served, policy_table, versus_random

pytestmark = pytest.mark.slow  # three evaluations of every learner: about 30 s

N = 3000
QINI = UpliftConfig(choose_by="qini")
NOISE = 8
"""Attributes with no bearing on anything: the two-model learners overfit them, the response
model (one model of one arm) less so."""


def planted(kind: str, seed: int = 0) -> CampaignRows:
    """One randomized campaign whose retention under each arm is planted by ``kind``."""
    rng = np.random.default_rng(seed)
    x1, x2, *noise = rng.normal(size=(2 + NOISE, N))
    if kind == "response":  # stays when offered <=> moved by the offer; no one stays otherwise
        p_control = np.full(N, 0.2)
        p_treated = 0.2 + 0.7 * expit(4 * x1)
    elif kind == "uplift":  # sure things by x2 stay anyway; the offer moves those with x1 > 0
        p_control = expit(3 * x2)
        p_treated = np.clip(p_control + np.where(x1 > 0, 0.35, -0.15), 0, 1)
    else:  # the offer does nothing
        p_control = p_treated = expit(x2)
    treated = (rng.random(N) < 0.5).astype(np.int64)
    retained = (rng.random(N) < np.where(treated == 1, p_treated, p_control)).astype(np.int64)
    frame = pd.DataFrame(
        {
            CUSTOMER_ID: [f"c{i}" for i in range(N)],
            CAMPAIGN_ID: "spring",
            CUTOFF: pd.Timestamp("2024-03-30"),
            "x1": x1,
            "x2": x2,
            **{f"noise{i}": column for i, column in enumerate(noise)},
            CHURN: 1 - retained,
            FUTURE_VALUE: retained * rng.gamma(4.0, 25.0, N),
            TREATED: treated,
            RETAINED: retained,
        }
    )
    return CampaignRows(frame, ["x1", "x2", *(f"noise{i}" for i in range(NOISE))])


@pytest.fixture(scope="module")
def config(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ExperimentConfig:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    return load_config(
        write_config(path, demo_data / "retail", promotion={"bootstrap_replicates": 300})
    )


@pytest.fixture(scope="module")
def evaluations(config: ExperimentConfig) -> dict[str, UpliftEvaluation]:
    return {kind: evaluate_uplift(planted(kind), config) for kind in ("response", "uplift", "none")}


def test_where_the_response_model_finds_the_moved_customers_it_is_chosen(
    evaluations: dict[str, UpliftEvaluation],
) -> None:
    evaluation = evaluations["response"]
    assert evaluation.choice is not None
    assert evaluation.choice.policy == RESPONSE, evaluation.choice.reason
    assert policy_not_served(evaluation, 0.0) is None  # the bundle carries the response model
    card = evaluation.policy_card()
    assert card["policy"] == RESPONSE
    assert card["served"] is True
    assert card["chosen_by"] == "profit_at_budget"
    assert card["figures"][RESPONSE]["qini_low"] > 0  # and it beats random on held-out customers
    trivial = versus_random(evaluation)
    assert trivial is not None
    assert trivial.metric == "profit_at_budget"
    assert trivial.low > 0  # a first version serving it is promoted
    assert trivial.champion == pytest.approx(card["random_order"]["profit_at_budget"])


def test_where_sure_things_mislead_the_response_model_an_uplift_policy_is_chosen(
    evaluations: dict[str, UpliftEvaluation],
) -> None:
    evaluation = evaluations["uplift"]
    assert evaluation.choice is not None
    assert evaluation.choice.policy in SERVED, evaluation.choice.reason
    assert policy_not_served(evaluation, 0.0) is None
    figures = evaluation.policy_card()["figures"]
    chosen = figures[evaluation.choice.policy]
    assert chosen["qini_low"] > figures[RESPONSE]["qini"]
    trivial = versus_random(evaluation)
    assert trivial is not None
    assert trivial.low > 0  # a first version of it would be promoted


def test_where_the_offer_does_nothing_nothing_is_promoted(
    evaluations: dict[str, UpliftEvaluation], config: ExperimentConfig
) -> None:
    evaluation = evaluations["none"]
    assert evaluation.choice is not None
    trivial = versus_random(evaluation)
    assert trivial is not None
    decision = policy_not_served(evaluation, trivial.challenger) or first_version(
        trivial.metric, trivial.challenger, trivial, "random order"
    )
    assert not decision.promote, decision.reason
    assert decision.trivial_failed
    if evaluation.choice.policy == RANDOM:
        assert decision.reason.startswith("no targeting policy beats random order")
        assert "falls back to risk-value targeting" in decision.reason
    else:  # a policy tied with random on validation does not beat it held out
        assert "does not beat it" in decision.reason
    # chosen on Qini instead, nothing is promoted either: whatever validation picks out of noise
    # does not beat random order held out
    qini = evaluate_uplift(planted("none"), config.model_copy(update={"uplift": QINI}))
    trivial = versus_random(qini)
    assert trivial is not None
    assert trivial.metric == "qini"
    decision = policy_not_served(qini, trivial.challenger) or first_version(
        trivial.metric, trivial.challenger, trivial, "random order"
    )
    assert not decision.promote, decision.reason


def test_the_console_table_marks_the_chosen_policy_within_100_columns(
    evaluations: dict[str, UpliftEvaluation],
) -> None:
    evaluation = evaluations["uplift"]
    assert evaluation.choice is not None
    lines = policy_table(evaluation).splitlines()
    assert len(lines) == 1 + len(evaluation.scores)
    assert max(len(line) for line in lines) <= 100
    (chosen,) = [line for line in lines if line.startswith("*")]
    assert chosen.split()[1] == evaluation.choice.policy
    figures = evaluation.policy_card()["figures"][evaluation.choice.policy]
    assert f"{figures['qini']:.4f} ({figures['qini_low']:.4f} to {figures['qini_high']:.4f})" in (
        chosen
    )
