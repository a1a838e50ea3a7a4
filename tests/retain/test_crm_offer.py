"""The CRM demo's past randomized offer, through the real CLI: the snapshot trains an uplift model,
it is registered (on 3,000 customers the gate finds too little evidence to promote it, and says
so), promoted by hand and packaged, the campaign carries out the policy it records, and on held-out
customers targeting by its expected incremental profit earns more true incremental profit than
targeting by churn risk (the planted truth says so)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from core.config_file import parse_config
from core.economics import Economics
from core.names import plain_name
from core.schema import CAMPAIGN_ID, CUSTOMER_ID
from features.build import CUTOFF
from model.incremental import expected_incremental_profit
from model.registry import Tag
from retention.targeting import RANKED
from tests.helpers import FAST_LIGHTGBM, ROOT, workspace_of
from tests.serving.test_snapshot_service import cli
from training.uplift_data import RETAINED, TREATED, CampaignRows, split_rows
from training.uplift_metrics import true_incremental_profit

pytestmark = pytest.mark.slow


@dataclass
class OfferRun:
    """What the CLI printed at each step, the scores it wrote and the planted data."""

    train: str
    uplift: dict[str, Any]
    """The uplift version as `retain models --json` gives it, before it was promoted by hand."""
    promote: str
    package: str
    campaign: str
    scores: pd.DataFrame
    export: pd.DataFrame
    truth: pd.DataFrame
    config: dict[str, object]


@pytest.fixture(scope="module")
def offer(tmp_path_factory: pytest.TempPathFactory) -> OfferRun:
    """3,000 customers of the demo export, trained small (no tuning, short boosting)."""
    home = tmp_path_factory.mktemp("offer_home")
    env = {**os.environ, "RETAIN_HOME": str(home)}
    env.pop("BENTOML_HOME", None)  # the workspace's own store
    data = tmp_path_factory.mktemp("offer_data")
    cli(env, "demo-data", "--business", "crm", "--customers", "3000", "--out", str(data))
    config = yaml.safe_load((ROOT / "experiments" / "crm_campaign.yaml").read_text())
    config["data"]["snapshots"]["path"] = str(data / "crm" / "offer_test.csv")
    config.update(
        tuning={"enabled": False},
        split={"cv_folds": 0},
        churn={"lightgbm": FAST_LIGHTGBM},
        clv={"lightgbm": FAST_LIGHTGBM},
    )
    path = data / "crm_campaign.yaml"
    path.write_text(yaml.safe_dump(config))
    trained = cli(env, "train", "--config", str(path))
    versions = json.loads(cli(env, "models", "--json", "--config", str(path)))
    (uplift,) = [v for v in versions if v["model"] == "crm-campaign-uplift"]
    # 3,000 customers are too few evidence for the gate (five seeds of 5,000: the chosen policy's
    # held-out profit over random order's has an interval of about +-2,800 around a gain of
    # 2,000): the version is registered, not promoted; the user promotes it by hand
    promoted = cli(env, "promote", "crm-campaign-uplift", "1", "--config", str(path))
    packaged = cli(env, "package", "--config", str(path))
    cli(env, "score", "--config", str(path))
    campaign = cli(env, "campaign", "--budget", "1000", "--config", str(path))
    _, state = workspace_of(home, path)
    return OfferRun(
        trained,
        uplift,
        promoted,
        packaged,
        campaign,
        pd.read_parquet(state / "scores" / "scores.parquet"),
        pd.read_csv(data / "crm" / "offer_test.csv", dtype={"customerID": str}),
        pd.read_parquet(data / "crm" / "offer_truth.parquet"),
        config,
    )


def test_the_snapshot_test_trains_registers_and_the_campaign_targets_by_uplift(
    offer: OfferRun,
) -> None:
    # both waves of the one table are campaigns, every tested customer used
    tested = offer.export.loc[offer.export["RetentionOffer"].notna()]
    for wave, rows in tested.groupby("Campaign"):
        treated = int((rows["RetentionOffer"] == "treatment").sum())
        assert (
            f"campaign {wave} (snapshot test, contacted {rows['OfferDate'].min()}): "
            f"{len(rows):,} customers ({treated:,} treated, {len(rows) - treated:,} control)"
        ) in offer.train
    assert "crm-campaign-uplift v1: challenger (" in offer.train
    assert offer.uplift["decision"] == "challenger"
    assert "random order" in offer.uplift["reason"]
    assert offer.uplift["gate_metric"] == "profit_at_budget"
    assert "champion is now v1" in offer.promote
    assert "uplift: crm-campaign-uplift v1" in offer.package
    # the campaign carries out the policy the version records, and names it
    policy = offer.uplift["tags"][Tag.POLICY]
    if policy in RANKED:
        assert f"policy {plain_name(policy)} ({policy})" in offer.campaign
    else:
        assert "policy uplift (expected incremental profit)" in offer.campaign
    # the test's columns are never features: the offer, its wave and day are not model inputs
    scores = offer.scores
    assert scores["uplift_model"].eq("crm-campaign-uplift:1").all()
    assert len(scores) == len(offer.export)  # every customer of the snapshot-only workspace


def test_held_out_targeting_by_the_uplift_model_beats_churn_risk_in_true_profit(
    offer: OfferRun,
) -> None:
    config = parse_config(offer.config)
    truth = offer.truth
    # the uplift step's own held-out customers: its split on its rows, in training's row order
    # (tested customers sorted by id, one as_of day)
    frame = truth.sort_values(CUSTOMER_ID, kind="stable", ignore_index=True)
    arms = offer.export.set_index("customerID")["RetentionOffer"]
    churned = offer.export.set_index("customerID")["Churn"]
    frame = frame.assign(
        **{
            CUTOFF: pd.Timestamp("2024-06-30"),
            TREATED: (arms[frame[CUSTOMER_ID]] == "treatment").to_numpy().astype(int),
            RETAINED: (churned[frame[CUSTOMER_ID]] == "No").to_numpy().astype(int),
        }
    )
    parts = split_rows(
        CampaignRows(frame, [], by_outcome=True),
        config.uplift.test_share,
        config.uplift.split_seed,
    )
    held = frame.loc[parts == "test"].reset_index(drop=True)
    served = offer.scores.set_index(CUSTOMER_ID).loc[held[CUSTOMER_ID]]
    economics: Economics = config.economics
    profit = expected_incremental_profit(
        served["uplift"].to_numpy(),
        served["expected_incremental_value"].to_numpy(),
        served["churn_probability"].to_numpy(),
        economics,
    )
    contacts = round(config.uplift.budget_share * len(held))
    worth = int((profit > 0).sum())
    by_uplift = true_incremental_profit(
        np.where(profit > 0, profit, -np.inf), held, economics, min(contacts, worth)
    )
    by_risk = true_incremental_profit(
        served["churn_probability"].to_numpy(), held, economics, contacts
    )
    best = true_incremental_profit(
        held["true_value_effect"].to_numpy() * economics.gross_margin, held, economics, contacts
    )
    # in-process, five seeds of 3,000 customers: x-learner $59 to $803, churn risk -$215 to
    # -$102 (perfect knowledge about $1,400)
    assert by_uplift > by_risk + 100
    assert by_risk < 0 < by_uplift < best
    assert held[CAMPAIGN_ID].nunique() == 2
