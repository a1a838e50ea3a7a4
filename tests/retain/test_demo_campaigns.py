"""The demo's past campaigns: random arms, effects only after contact, the truth they promise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.sources import DataConfig, TableSource
from features.labels import make_labels
from features.loading import load_data
from features.prepare import PreparedData, prepare
from features.treatments import load_treatments
from retain.demo_campaigns import OFFER_DAYS, treated_residual
from retain.demo_data import write_demo


def test_treated_residual_passes_the_control_life_through_the_changed_hazard() -> None:
    residual = np.array([10.0, 50.0, 200.0, 300.0])
    # hazard x0.2 for 90 days: 20% of the hazard stretches the first 18 control days to 90
    helped = treated_residual(residual, np.full(4, 0.2))
    np.testing.assert_allclose(helped, [50.0, 90 + 50 - 18, 90 + 200 - 18, 90 + 300 - 18])
    # hazard x3: the first 270 control days pass in 90
    hurt = treated_residual(residual, np.full(4, 3.0))
    np.testing.assert_allclose(hurt, [10 / 3, 50 / 3, 200 / 3, 90 + 300 - 270])
    assert OFFER_DAYS == 90
    np.testing.assert_allclose(treated_residual(residual, np.ones(4)), residual)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PreparedData]:
    folder = write_demo(
        tmp_path_factory.mktemp("demo"), customers=5000, seed=42, businesses=("retail",)
    )["retail"]
    config = DataConfig(
        transactions=TableSource(path=folder / "transactions.csv"),
        customers=TableSource(path=folder / "customers.csv"),
    )
    data, _ = load_data(config)
    return folder, prepare(data)


def test_campaigns_are_valid_input_split_at_random_with_a_full_horizon_after_contact(
    demo: tuple[Path, PreparedData],
) -> None:
    folder, prep = demo
    config = DataConfig(
        transactions=TableSource(path=folder / "transactions.csv"),
        treatments=TableSource(path=folder / "treatments.csv"),
        strict=True,
    )
    treatments = load_treatments(config)
    assert sorted(treatments["campaign_id"].unique()) == ["spring_loyalty", "winter_winback"]
    for _, rows in treatments.groupby("campaign_id"):
        assert rows["contacted_at"].nunique() == 1
        assert abs(rows["arm"].mean() - 0.5) < 0.01
        contact = rows["contacted_at"].iloc[0]
        assert prep.date_range[1] - contact >= pd.Timedelta(days=90)
        # randomized: purchases before contact do not differ between the arms
        cutoff = contact - pd.Timedelta(days=1)
        tx = pd.read_csv(folder / "transactions.csv", usecols=["customer_id", "timestamp"])
        before = tx.loc[pd.to_datetime(tx["timestamp"]) <= cutoff].groupby("customer_id").size()
        counts = before.reindex(rows["customer_id"], fill_value=0).to_numpy()
        treated = rows["arm"].to_numpy() == 1
        assert abs(counts[treated].mean() / counts[~treated].mean() - 1) < 0.1


def test_the_planted_effects_show_in_the_transactions_as_the_truth_says(
    demo: tuple[Path, PreparedData],
) -> None:
    folder, prep = demo
    truth = pd.read_parquet(folder / "campaign_truth.parquet")
    assert set(truth["segment"]) == {"persuadable", "sure thing", "lost cause", "sleeping dog"}
    observed, expected = [], []
    for _, rows in truth.groupby("campaign_id"):
        cutoff = pd.Timestamp(rows["contacted_at"].iloc[0]) - pd.Timedelta(days=1)
        labels, _ = make_labels(prep, cutoff, 90)
        joined = rows.join(labels, on="customer_id", how="inner")
        by_arm = joined.groupby(["segment", "arm"])["churn"].mean().unstack()
        observed.append(by_arm["control"] - by_arm["treatment"])
        expected.append(joined.groupby("segment")["true_churn_effect"].mean())
    gap = pd.concat(observed, axis=1).mean(axis=1)
    truth_mean = pd.concat(expected, axis=1).mean(axis=1)
    # measured on seed 42: persuadables +0.22, sleeping dogs -0.20, the others within 0.05 of 0
    assert gap["persuadable"] > 0.1
    assert gap["sleeping dog"] < -0.1
    assert abs(gap["lost cause"]) < 0.1
    assert truth.loc[truth["segment"] == "lost cause", "true_churn_effect"].abs().max() < 1e-12
    # the analytic truth agrees with what the arms show, segment by segment
    assert (gap - truth_mean).abs().max() < 0.08
