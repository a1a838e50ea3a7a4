"""The targeting policy chosen and served from a randomized test in CRM form, through the real CLI.

Three planted tests exported as CRM tables (one row per customer: attributes, the offer's arm,
churn and the next 90 days' revenue), each trained, packaged, scored and planned as a user would:
where the customers likeliest to stay when offered are exactly those the offer moves, the response
model is chosen, served (``offer_response``) and the campaign ranks by it; where customers who stay
anyway mislead the response model, an uplift policy is chosen and the campaign ranks by expected
incremental profit; where the offer does nothing, no uplift version is promoted and the campaign
says what it falls back to. The gate's record (``retain models --json``), the scores and the
campaign's named policy agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import expit

from core.names import RESPONSE
from model.registry import CHALLENGER, CHAMPION, Tag
from model.uplift_bundle import OFFER_RESPONSE
from retention.targeting import FALLBACK_WHY, RISK_VALUE
from tests.helpers import FAST_LIGHTGBM, workspace_of
from tests.serving.test_snapshot_service import cli
from training.uplift import SERVABLE

pytestmark = pytest.mark.slow  # three trainings, packages, scorings and campaigns: about 90 s

N = 3000
NOISE = 4
REGISTRY = {"churn": "offer-churn", "clv": "offer-clv", "uplift": "offer-uplift"}


def planted_export(kind: str, seed: int = 0) -> pd.DataFrame:
    """A CRM export of one randomized offer whose retention under each arm is planted by ``kind``.

    ``response``: the offer moves exactly the customers likeliest to stay when offered (x1);
    ``uplift``: sure things (x2) stay anyway, the offer moves x1 > 0 and drives x1 < 0 away;
    ``none``: the offer does nothing. x3 moves churn in every arm, so a churn model has a signal.
    """
    rng = np.random.default_rng(seed)
    x1, x2, x3, *noise = rng.normal(size=(3 + NOISE, N))
    if kind == "response":
        p_control = 0.2 + 0.1 * expit(2 * x3)
        p_treated = p_control + 0.6 * expit(4 * x1)
    elif kind == "uplift":
        p_control = expit(3 * x2 + x3)
        p_treated = np.clip(p_control + np.where(x1 > 0, 0.35, -0.15), 0, 1)
    else:
        p_control = p_treated = expit(x2 + x3)
    treated = rng.random(N) < 0.5
    stays = rng.random(N) < np.where(treated, p_treated, p_control)
    return pd.DataFrame(
        {
            "Customer ID": [f"K-{i:05d}" for i in range(N)],
            "Tenure months": np.round(12 + 6 * x3, 1),
            "Plan.spend": np.round(50 + 10 * x1, 2),
            "Support calls": np.round(3 + x2, 2),
            **{f"attr {i}": column for i, column in enumerate(noise)},
            "Offer": np.where(treated, "treatment", "control"),
            "Churn": np.where(stays, "No", "Yes"),
            "Revenue 90d": np.round(stays * rng.gamma(4.0, 25.0, N), 2),
        }
    )


@dataclass
class PolicyRun:
    """What the CLI printed at each step, and what it wrote."""

    train: str
    campaign: str
    versions: list[dict[str, object]]
    scores: pd.DataFrame
    contacted: pd.DataFrame
    export: pd.DataFrame

    def uplift_version(self) -> dict[str, object]:
        (version,) = [v for v in self.versions if v["model"] == REGISTRY["uplift"]]
        return version


def run(kind: str, tmp: Path) -> PolicyRun:
    """Train, package, score and plan a campaign on the planted export ``kind`` in its own home."""
    home = tmp / "home"
    env = {**os.environ, "RETAIN_HOME": str(home)}
    env.pop("BENTOML_HOME", None)  # the workspace's own store
    export = planted_export(kind)
    export.to_csv(tmp / "offer test.csv", index=False)
    config = {
        "name": f"offer-{kind}",
        "data": {
            "snapshots": {
                "path": str(tmp / "offer test.csv"),
                "columns": {
                    "customer_id": "Customer ID",
                    "churned": "Churn",
                    "future_value": "Revenue 90d",
                    "treatment": "Offer",
                },
                "as_of": "2024-06-30",
                "positive": ["Yes"],
            }
        },
        "horizon_days": 90,
        "seed": 7,
        "economics": {"gross_margin": 0.6, "offer_cost": 5.0, "contact_cost": 1.0},
        "tuning": {"enabled": False},
        "split": {"cv_folds": 0},
        "churn": {"lightgbm": FAST_LIGHTGBM},
        "clv": {"lightgbm": FAST_LIGHTGBM},
        "promotion": {"bootstrap_replicates": 300},
        # the planted churn hazard rests on one column, which the leak check would rightly stop
        # as carrying the model alone: the test says it is known before the outcome
        "leakage": {"allow_features": ["attr_Support calls"]},
        "registry": REGISTRY,
    }
    path = tmp / "offer.yaml"
    path.write_text(yaml.safe_dump(config))
    trained = cli(env, "train", "--config", str(path))
    cli(env, "package", "--config", str(path))
    cli(env, "score", "--config", str(path))
    campaign = cli(env, "campaign", "--budget", "5000", "--config", str(path))
    versions = json.loads(cli(env, "models", "--json", "--config", str(path)))
    _, state = workspace_of(home, path)
    return PolicyRun(
        trained,
        campaign,
        versions,
        pd.read_parquet(state / "scores" / "scores.parquet"),
        pd.read_csv(state / "scores" / "campaign.csv", dtype={"customer_id": str}),
        export,
    )


@pytest.fixture(scope="module")
def response_run(tmp_path_factory: pytest.TempPathFactory) -> PolicyRun:
    return run("response", tmp_path_factory.mktemp("policy_response"))


@pytest.fixture(scope="module")
def uplift_run(tmp_path_factory: pytest.TempPathFactory) -> PolicyRun:
    return run("uplift", tmp_path_factory.mktemp("policy_uplift"))


@pytest.fixture(scope="module")
def none_run(tmp_path_factory: pytest.TempPathFactory) -> PolicyRun:
    return run("none", tmp_path_factory.mktemp("policy_none"))


def test_where_the_response_model_is_the_better_policy_it_is_chosen_and_served(
    response_run: PolicyRun,
) -> None:
    version = response_run.uplift_version()
    tags = version["tags"]
    assert isinstance(tags, dict)
    assert tags[Tag.POLICY] == RESPONSE, tags[Tag.POLICY_REASON]
    assert version["decision"] == CHAMPION, version["reason"]
    assert version["gate_metric"] == "profit_at_budget"
    assert "random order" in str(version["reason"])
    assert "targeting policy chosen on validation: response" in response_run.train
    # the scores carry the served response model, and the campaign ranks by it
    scores = response_run.scores
    assert scores[OFFER_RESPONSE].between(0, 1).all()
    assert "targeting policy: response model (response), ranked by the scores' offer_response" in (
        response_run.campaign
    )
    assert "campaign C" in response_run.campaign
    assert "policy response model (response)" in response_run.campaign
    contacted = response_run.contacted
    assert len(contacted) > 0
    ranked = contacted.sort_values("rank")[OFFER_RESPONSE].to_numpy()
    assert (np.diff(ranked) <= 0).all()  # contacted in order of the response model's score
    # nobody beyond the top budget share it was measured at
    top = scores[OFFER_RESPONSE].rank(ascending=False) <= round(0.2 * len(scores))
    assert set(contacted["customer_id"]) <= set(scores.loc[top, "customer_id"].astype(str))
    # the planted signal: the contacted are the customers the offer moves (high x1)
    spend = response_run.export.set_index("Customer ID")["Plan.spend"]
    assert spend.loc[contacted["customer_id"]].mean() > spend.quantile(0.75)


def test_where_an_uplift_learner_is_the_better_policy_it_is_chosen_and_served(
    uplift_run: PolicyRun,
) -> None:
    version = uplift_run.uplift_version()
    tags = version["tags"]
    assert isinstance(tags, dict)
    assert tags[Tag.POLICY] in (*SERVABLE, "incremental_profit"), tags[Tag.POLICY_REASON]
    assert version["decision"] == CHAMPION, version["reason"]
    assert OFFER_RESPONSE not in uplift_run.scores
    assert "ranked by the uplift model's expected incremental profit" in uplift_run.campaign
    assert "policy uplift (expected incremental profit)" in uplift_run.campaign
    contacted = uplift_run.contacted
    assert len(contacted) > 0
    assert (contacted["uplift"] > 0).all()  # never a sleeping dog
    spend = uplift_run.export.set_index("Customer ID")["Plan.spend"]
    assert (spend.loc[contacted["customer_id"]] > 50).mean() > 0.8  # the moved: x1 > 0


def test_where_no_policy_beats_random_nothing_is_promoted_and_the_campaign_says_so(
    none_run: PolicyRun,
) -> None:
    version = none_run.uplift_version()
    assert version["decision"] == CHALLENGER
    assert CHALLENGER in version["aliases"]
    assert "random order" in str(version["reason"])
    assert "uplift_model" not in none_run.scores
    assert f"policy {RISK_VALUE}" in none_run.campaign
    assert f"{FALLBACK_WHY} {RISK_VALUE}" in none_run.campaign
    tags = version["tags"]
    assert isinstance(tags, dict)
    head = (
        "no targeting policy beat random order on past campaigns"
        if tags[Tag.POLICY] == "random"
        else "the targeting policy chosen on past campaigns was not promoted"
    )
    assert f"{head} (uplift version {REGISTRY['uplift']}:{version['version']}" in (
        none_run.campaign
    )
    assert "which no past test supports" in none_run.campaign
