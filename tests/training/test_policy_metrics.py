"""Targeting policies' figures, their paired bootstrap and the one-standard-error choice."""

from __future__ import annotations

import numpy as np
import pytest

from core.economics import Economics
from training.policy_choice import choose_policy
from training.policy_metrics import (
    CHUNK,
    Campaign,
    figures,
    policy_figures,
    random_order,
    resamples,
)
from training.uplift_metrics import auuc, qini_coefficient

ECONOMICS = Economics(gross_margin=0.5, offer_cost=10.0, contact_cost=1.0)


def _campaign(n: int = 2000, seed: int = 0) -> tuple[Campaign, np.ndarray]:
    """A randomized campaign where the offer helps exactly the customers with x > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.random(n) < 0.5
    p_stay = 0.6 + 0.25 * (x > 0) * t
    y = (rng.random(n) < p_stay).astype(np.int64)
    v = y * rng.gamma(2.0, 50.0, n)
    return Campaign(y, t.astype(np.int64), v, contacts=n // 5, economics=ECONOMICS), x


def test_the_figures_equal_the_qini_and_auuc_functions_on_every_resample() -> None:
    campaign, x = _campaign(600)
    score = np.round(x, 1)  # coarse: many ties, broken the same way by both paths
    identity = np.arange(600)[None, :]
    got = figures(score, campaign, identity)
    y, t = campaign.retained, campaign.treated
    assert got["qini"][0] == pytest.approx(qini_coefficient(score, y, t), abs=1e-12)
    assert got["auuc"][0] == pytest.approx(auuc(score, y, t), abs=1e-12)
    rows = resamples(t, CHUNK, seed=3)[0]
    reps = figures(score, campaign, rows)
    for r in range(0, CHUNK, 7):
        i = rows[r]
        assert reps["qini"][r] == pytest.approx(qini_coefficient(score[i], y[i], t[i]), abs=1e-12)
        assert (t[i] == 1).sum() == (t == 1).sum()  # arm sizes kept


def test_profit_at_the_budget_by_hand() -> None:
    # ranked by score: A(T, stays, 100), B(C, stays, 40), C(T, leaves, 0), D(C, leaves, 0)
    campaign = Campaign(
        retained=np.array([1, 1, 0, 0]),
        treated=np.array([1, 0, 1, 0]),
        value=np.array([100.0, 40.0, 0.0, 0.0]),
        contacts=2,
        economics=ECONOMICS,
    )
    got = figures(np.array([4.0, 3.0, 2.0, 1.0]), campaign, np.arange(4)[None, :])
    # top 2: treated mean value 100, control 40; treated retention 1
    assert got["profit_at_budget"][0] == pytest.approx(2 * ((100 - 40) * 0.5 - 1.0 - 10.0 * 1))
    campaign = Campaign(campaign.retained, campaign.treated, campaign.value, 1, ECONOMICS)
    top_one = figures(np.array([4.0, 3.0, 2.0, 1.0]), campaign, np.arange(4)[None, :])
    assert np.isnan(top_one["profit_at_budget"][0])  # one arm only: not measurable


def test_a_planted_effect_is_found_and_its_interval_excludes_random() -> None:
    campaign, x = _campaign()
    noise = np.random.default_rng(9).uniform(size=x.size)
    result = policy_figures({"random": noise, "planted": x}, campaign, replicates=300, seed=1)
    low, high = result.interval("planted", "qini")
    assert 0 < low < result.point["planted"]["qini"] < high
    low, high = result.interval("random", "qini")
    assert low < 0 < high
    assert result.point["planted"]["profit_at_budget"] > result.point["random"]["profit_at_budget"]
    again = policy_figures({"random": noise, "planted": x}, campaign, replicates=300, seed=1)
    assert again.interval("planted", "qini") == result.interval("planted", "qini")


def test_the_simplest_policy_within_one_standard_error_wins() -> None:
    campaign, x = _campaign()
    rng = np.random.default_rng(2)
    scores = {
        "random": rng.uniform(size=x.size),
        "churn_risk": -x + rng.normal(0, 5, x.size),  # about random, slightly wrong
        "response": x,
        "x_learner": x + rng.normal(0, 0.01, x.size),  # the same ranking, a hair different
    }
    validation = policy_figures(scores, campaign, replicates=300, seed=1)
    choice = choose_policy(validation, list(scores), metric="qini")
    assert choice.policy == "response"
    assert choice.best in ("response", "x_learner")
    assert 'the policy "response model"' in choice.reason
    # with nothing but noise, random (the simplest) is chosen
    flat = {"random": scores["random"], "x_learner": rng.uniform(size=x.size)}
    assert choose_policy(policy_figures(flat, campaign, replicates=300), list(flat)).policy == (
        "random"
    )
    # with the rule off (0 standard errors) the best wins outright
    assert choose_policy(validation, list(scores), 0.0, "qini").policy == choice.best


def test_the_validation_folds_keep_every_campaign_arm_and_outcome_in_proportion() -> None:
    import pandas as pd

    from training.uplift_eval import validation_folds

    rng = np.random.default_rng(0)
    n = 1000
    frame = pd.DataFrame(
        {
            "campaign_id": np.where(rng.random(n) < 0.3, "spring", "winter"),
            "treated": (rng.random(n) < 0.5).astype(int),
            "retained": (rng.random(n) < 0.8).astype(int),
        }
    )
    fold = validation_folds(frame, 3, seed=1)
    assert sorted(np.bincount(fold)) == [333, 333, 334]
    keys = ["campaign_id", "treated", "retained"]
    strata = frame.groupby(keys).size()
    for k in range(3):
        in_fold = frame.loc[fold == k].groupby(keys).size()
        assert ((in_fold - strata / 3).abs() <= 1).all()
    np.testing.assert_array_equal(fold, validation_folds(frame, 3, seed=1))
    # one customer alone in its campaign and arm: the folds fall back to coarser strata
    lonely = pd.concat([frame, frame.head(1).assign(campaign_id="autumn")], ignore_index=True)
    assert np.bincount(validation_folds(lonely, 3, seed=1)).sum() == 1001


def test_random_order_by_hand_and_the_gain_over_it() -> None:
    # everyone: treated mean value (100 + 0) / 2 = 50, control (40 + 0) / 2 = 20, treated
    # retention 1/2; random contacts of 2 of 4 are expected to earn 2/4 of contacting everyone
    campaign = Campaign(
        retained=np.array([1, 1, 0, 0]),
        treated=np.array([1, 0, 1, 0]),
        value=np.array([100.0, 40.0, 0.0, 0.0]),
        contacts=2,
        economics=ECONOMICS,
    )
    expected = 2 * ((50 - 20) * 0.5 - 1.0 - 10.0 * 0.5)
    got = random_order(campaign, np.arange(4)[None, :])
    assert got["profit_at_budget"][0] == pytest.approx(expected)
    assert got["qini"][0] == 0.0
    everyone = Campaign(campaign.retained, campaign.treated, campaign.value, 4, ECONOMICS)
    whole = figures(np.zeros(4), everyone, np.arange(4)[None, :])["profit_at_budget"][0]
    assert got["profit_at_budget"][0] == pytest.approx(whole * 2 / 4)
    result = policy_figures({"p": np.array([4.0, 3.0, 2.0, 1.0])}, campaign, replicates=50)
    gain, low, high, se = result.versus_random("p", "profit_at_budget")
    assert gain == pytest.approx(2 * ((100 - 40) * 0.5 - 1.0 - 10.0) - expected)
    assert low <= high
    assert se >= 0


def test_profit_and_qini_choose_differently_when_the_moved_customers_are_worth_little() -> None:
    # the offer moves retention most where x > 0, but those customers are worth almost nothing;
    # where x < 0 it moves retention less but the retained are worth a lot
    rng = np.random.default_rng(4)
    n = 6000
    x = rng.normal(size=n)
    t = rng.random(n) < 0.5
    y = (rng.random(n) < 0.5 + np.where(x > 0, 0.3, 0.1) * t).astype(np.int64)
    v = y * np.where(x > 0, 1.0, 400.0)
    campaign = Campaign(y, t.astype(np.int64), v, contacts=n // 5, economics=ECONOMICS)
    scores = {"random": rng.uniform(size=n), "response": x, "x_learner": -x}
    validation = policy_figures(scores, campaign, replicates=200, seed=1)
    assert choose_policy(validation, list(scores), metric="qini").policy == "response"
    assert choose_policy(validation, list(scores), metric="profit_at_budget").policy == "x_learner"
