"""Training through the dask engine: the same training table, so the same model and test metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from training.candidates import Fold, _lightgbm_churn, _prior_rate
from training.config import parse_config
from training.dataset import load_training_data

pytestmark = pytest.mark.slow


def test_dask_engine_gives_the_same_training_data_and_model(
    demo_data: Path, tmp_path: Path
) -> None:
    business = demo_data / "retail"
    folder = tmp_path / "transactions"
    folder.mkdir()
    raw = pd.read_csv(business / "transactions.csv", dtype=str, keep_default_na=False)
    for k, rows in enumerate(np.array_split(np.arange(len(raw)), 3)):
        raw.iloc[rows].to_parquet(folder / f"part-{k}.parquet", index=False)
    common = {"name": "dask-parity", "split": {"max_train_cutoffs": 3}}
    customers = {"path": str(business / "customers.csv")}
    pandas_config = parse_config(
        {
            **common,
            "data": {
                "transactions": {"path": str(business / "transactions.csv")},
                "customers": customers,
            },
        }
    )
    dask_config = parse_config(
        {
            **common,
            "data": {"transactions": {"path": str(folder)}, "customers": customers},
            "engine": "dask",
            "dask": {"workers": 2, "memory_limit": "1GB", "work_dir": str(tmp_path / "work")},
        }
    )
    ours = load_training_data(dask_config, progress=False)
    theirs = load_training_data(pandas_config, progress=False)

    pd.testing.assert_frame_equal(ours.frame, theirs.frame, check_exact=True)
    assert ours.test_features is not None
    assert theirs.test_features is not None
    pd.testing.assert_frame_equal(ours.test_features, theirs.test_features, check_exact=True)
    assert [r.line() for r in ours.label_reports] == [r.line() for r in theirs.label_reports]
    assert ours.fingerprint == theirs.fingerprint
    assert (ours.features, ours.categorical) == (theirs.features, theirs.categorical)

    ours_fit = _lightgbm_churn(Fold(pandas_config, ours))
    theirs_fit = _lightgbm_churn(Fold(pandas_config, theirs))
    np.testing.assert_array_equal(ours_fit.test_pred, theirs_fit.test_pred)
    churn = Fold(pandas_config, theirs).y("test", "churn")
    auc = roc_auc_score(churn, theirs_fit.test_pred)
    assert roc_auc_score(churn, ours_fit.test_pred) == auc
    # the model learnt something: better than everyone getting the training churn rate
    prior = _prior_rate(Fold(pandas_config, theirs)).test_pred
    assert auc > 0.6
    assert np.ptp(prior) == 0
