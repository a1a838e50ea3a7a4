"""Planted product-level churn drivers are found by the product features.

``retain.demo_basket`` plants two drivers in *what* customers buy (a discontinued favourite
category, a repeat-bought consumable). The log goes through the real loader (its own column
names, float customer ids) and the real snapshot builder; a small LightGBM on the snapshots
must rank product features at the top by gain, and they must carry the drivers' direction.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest

from core.families import FAMILIES
from core.sources import DataConfig
from features.catalogue import BY_NAME
from features.loading import load_data
from features.snapshots import build_snapshots
from retain.demo_basket import COLUMNS, basket_log, write_basket_log

PRODUCT_FAMILIES = {f for f, fam in FAMILIES.items() if fam.needs}
CUTOFFS = pd.date_range("2024-01-31", "2024-09-30", freq="ME")


def basket_snapshots(folder: Path, *, planted: bool) -> pd.DataFrame:
    """Snapshot rows of the log through the real loader, with or without the drivers."""
    path = write_basket_log(folder, customers=1500, seed=7, planted=planted)
    config = DataConfig.model_validate({"transactions": {"path": str(path), "columns": COLUMNS}})
    data, reports = load_data(config)
    assert reports[0].rows_kept == reports[0].rows_read  # an honest export: nothing excluded
    frame, _ = build_snapshots(data, CUTOFFS, 90, active_days=60, progress=False)
    return frame


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return basket_snapshots(tmp_path_factory.mktemp("basket"), planted=True)


def gain_shares(snapshots: pd.DataFrame) -> pd.Series:
    """Each feature's share of a small seeded LightGBM's total gain, largest first."""
    x = snapshots.drop(columns=["customer_id", "cutoff", "churn", "future_value"])
    x = x.astype({c: "category" for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])})
    model = lgb.LGBMClassifier(
        n_estimators=150,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        importance_type="gain",
        random_state=0,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        verbose=-1,
    ).fit(x, snapshots["churn"])
    gain = pd.Series(model.feature_importances_, index=x.columns).sort_values(ascending=False)
    return gain / gain.sum()


def product_share(share: pd.Series) -> float:
    return float(share[share.index.map(lambda n: BY_NAME[n].family).isin(PRODUCT_FAMILIES)].sum())


@pytest.mark.slow  # two logs, two boosters: about 10 s on a busy machine
def test_the_product_features_carry_the_most_gain_after_recency(
    snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    share = gain_shares(snapshots)
    assert {BY_NAME[name].family for name in share.index[:3]} & PRODUCT_FAMILIES, share.head(10)
    assert product_share(share) > 0.2, share.head(10)
    # the control: the same purchases, nobody's leaving tied to products
    control = gain_shares(basket_snapshots(tmp_path, planted=False))
    assert not {BY_NAME[name].family for name in control.index[:3]} & PRODUCT_FAMILIES
    assert product_share(control) < 0.6 * product_share(share), control.head(10)  # 0.12 vs 0.26


def test_the_features_point_the_way_the_drivers_were_planted(snapshots: pd.DataFrame) -> None:
    truth = basket_log(1500, seed=7).truth.set_index("customer_id")
    rows = snapshots.join(truth, on="customer_id")
    candles = rows["top_category"] == "Candles"
    after = rows["cutoff"] >= pd.Timestamp("2024-04-30")  # Candles went on day 450 (2024-03-26)
    # customers whose top category is the discontinued one leave more once it is gone
    assert (
        rows.loc[candles & after, "churn"].mean() > 2 * rows.loc[~candles & after, "churn"].mean()
    )
    # consumable buyers repeat-buy a product, and stay
    repeat = rows["repeat_product_share"] >= rows["repeat_product_share"].median()
    assert (
        rows.loc[rows["consumable"], "repeat_product_share"].mean()
        > rows.loc[~rows["consumable"], "repeat_product_share"].mean()
    )
    assert rows.loc[repeat, "churn"].mean() < rows.loc[~repeat, "churn"].mean()
