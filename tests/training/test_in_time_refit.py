"""An in-time split (one as_of day) uses every labelled row: tuned on stratified folds of the
non-test rows, rounds by their early stopping, and the served model refit on all of them; the
test customers are never seen before they score it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import ExperimentConfig
from core.config_file import parse_config
from core.schema import CUSTOMER_ID
from features.labels import CHURN
from retain.demo_crm import make_crm
from tests.helpers import FAST_LIGHTGBM
from training.candidates import CANDIDATES, Fold
from training.frame import TrainingData
from training.labelled_data import load_labelled_training_data
from training.tuning import StratifiedFold, TaskTuning, tune

K = 3


@pytest.fixture(scope="module")
def in_time(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentConfig, TrainingData]:
    """A 1,200-customer CRM export of one as_of day, loaded and split in time."""
    path = tmp_path_factory.mktemp("crm") / "snapshot.csv"
    make_crm(1200, months=1, seed=7).snapshots.drop(columns=["as_of"]).to_csv(path, index=False)
    config = parse_config(
        {
            "name": "in-time",
            "data": {
                "snapshots": {
                    "path": str(path),
                    "columns": {
                        "customer_id": "customerID",
                        "churned": "Churn",
                        "future_value": "Revenue90d",
                    },
                    "as_of": "2024-06-30",
                }
            },
            "horizon_days": 90,
            "seed": 42,
            "registry": {"churn": "in-time-churn", "clv": "in-time-clv"},
            "churn": {"lightgbm": FAST_LIGHTGBM},
            "tuning": {"trials": 2, "stratified_folds": K, "tasks": ["churn"]},
        }
    )
    return config, load_labelled_training_data(config, progress=False)


@pytest.fixture(scope="module")
def tuned(in_time: tuple[ExperimentConfig, TrainingData]) -> TaskTuning:
    config, data = in_time
    lines: list[str] = []
    found = tune(config, data, log=lines.append)
    assert lines[0] == f"  tuning on {K} stratified folds of the non-test rows (an in-time split)"
    return found["churn"]


def test_in_time_tuning_folds_partition_the_non_test_rows(
    in_time: tuple[ExperimentConfig, TrainingData], tuned: TaskTuning
) -> None:
    _, data = in_time
    assert data.split.in_time
    assert tuned.summary.folds == [f"stratified {i}/{K}" for i in range(1, K + 1)]
    non_test = set(data.frame.loc[data.parts != "test", CUSTOMER_ID])
    test = set(data.part("test")[CUSTOMER_ID])
    held = [f.frames(data)["validation"][CUSTOMER_ID] for f in tuned.folds]
    assert sorted(pd.concat(held)) == sorted(non_test)  # each non-test row held out once
    for fold in tuned.folds:
        rows = fold.frames(data)
        assert not set(rows["train"][CUSTOMER_ID]) & set(rows["validation"][CUSTOMER_ID])
        assert not (set(rows["train"][CUSTOMER_ID]) | set(rows["validation"][CUSTOMER_ID])) & test
        churn = rows["validation"][CHURN].mean()  # stratified: each fold's churn rate
        assert churn == pytest.approx(data.frame.loc[data.parts != "test", CHURN].mean(), abs=0.02)
    assert isinstance(tuned.folds[0], StratifiedFold)
    best = max(tuned.trials, key=lambda t: (t.value, -t.number))
    assert len(best.rounds) == K
    assert tuned.summary.rounds == max(round(float(np.mean(best.rounds))), 1)


def test_the_in_time_refit_uses_every_non_test_row_and_the_k_fold_rounds(
    in_time: tuple[ExperimentConfig, TrainingData], tuned: TaskTuning
) -> None:
    config, data = in_time
    fold = Fold(config, data, tuning={"churn": tuned.summary})
    lightgbm = next(c for c in CANDIDATES if c.task == "churn" and c.name == "lightgbm")
    fitted = lightgbm.fit(fold)
    assert fitted is not None
    assert fitted.servable is not None
    refit = fitted.servable.refit
    assert refit is not None
    assert refit.rows == int((data.parts != "test").sum())
    assert refit.first_rows == int((data.parts == "train").sum())
    assert refit.rounds == tuned.summary.rounds
    assert refit.rounds_from == f"{K}-fold early stopping"
    assert fitted.servable.best_iteration == tuned.summary.rounds
    # the test part is the held-out customers, untouched, and the refit model scores them
    assert len(fitted.test_pred) == int((data.parts == "test").sum())
