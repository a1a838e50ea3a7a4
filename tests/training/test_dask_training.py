"""Training through the dask engine: the same training table, so the same model and test metrics;
and, when the table is too large for memory, a seeded customer sample (``features.sampling``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.config import ExperimentConfig
from core.config_file import parse_config
from core.schema import CUSTOMER_ID
from features.build import CUTOFF
from features.labels import CHURN
from features.sampling import CustomerSample, strata_shares
from training.candidates import Fold, _lightgbm_churn, _prior_rate
from training.dataset import load_training_data
from training.frame import TrainingData

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One local cluster of two workers that every dask run below joins."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, memory_limit="1GB", host="127.0.0.1"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def folder(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo retail transactions split by row into three Parquet files."""
    out = tmp_path_factory.mktemp("transactions")
    raw = pd.read_csv(demo_data / "retail" / "transactions.csv", dtype=str, keep_default_na=False)
    for k, rows in enumerate(np.array_split(np.arange(len(raw)), 3)):
        raw.iloc[rows].to_parquet(out / f"part-{k}.parquet", index=False)
    return out


COMMON: dict[str, Any] = {"name": "dask-parity", "split": {"max_train_cutoffs": 3}}


def pandas_config(demo_data: Path) -> ExperimentConfig:
    business = demo_data / "retail"
    return parse_config(
        {
            **COMMON,
            "data": {
                "transactions": {"path": str(business / "transactions.csv")},
                "customers": {"path": str(business / "customers.csv")},
            },
        }
    )


def dask_config(
    demo_data: Path, folder: Path, work: Path, scheduler: str, seed: int = 42, **train: Any
) -> ExperimentConfig:
    return parse_config(
        {
            **COMMON,
            "seed": seed,
            "data": {
                "transactions": {"path": str(folder)},
                "customers": {"path": str(demo_data / "retail" / "customers.csv")},
            },
            "engine": "dask",
            "dask": {"scheduler": scheduler, "work_dir": str(work), **train},
        }
    )


@pytest.fixture(scope="module")
def runs(
    demo_data: Path, folder: Path, scheduler: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, TrainingData]:
    """Training data of every variant compared below, each loaded once."""
    variants: dict[str, tuple[int, dict[str, Any]]] = {
        "memory": (42, {"train": "memory"}),
        "sample-1.0": (42, {"train": "sample", "sample_fraction": 1.0}),
        "sample-0.5": (42, {"train": "sample", "sample_fraction": 0.5}),
        "sample-0.2": (42, {"train": "sample", "sample_fraction": 0.2}),
        "sample-0.2-seed7": (7, {"train": "sample", "sample_fraction": 0.2}),
    }
    out = {
        name: load_training_data(
            dask_config(demo_data, folder, tmp_path_factory.mktemp(name), scheduler, seed, **train),
            progress=False,
        )
        for name, (seed, train) in variants.items()
    }
    out["pandas"] = load_training_data(pandas_config(demo_data), progress=False)
    return out


def assert_same_data(ours: TrainingData, theirs: TrainingData) -> None:
    pd.testing.assert_frame_equal(ours.frame, theirs.frame, check_exact=True)
    assert ours.test_features is not None
    assert theirs.test_features is not None
    pd.testing.assert_frame_equal(ours.test_features, theirs.test_features, check_exact=True)
    assert [r.line() for r in ours.label_reports] == [r.line() for r in theirs.label_reports]
    assert ours.fingerprint == theirs.fingerprint
    assert (ours.features, ours.categorical) == (theirs.features, theirs.categorical)


def test_dask_engine_gives_the_same_training_data_and_model(
    runs: dict[str, TrainingData], demo_data: Path
) -> None:
    ours, theirs = runs["memory"], runs["pandas"]
    assert_same_data(ours, theirs)
    assert ours.tags()["train.mode"] == "memory"
    assert ours.tags()["train.rows_used"] == ours.tags()["train.rows_total"] == str(len(ours.frame))

    config = pandas_config(demo_data)
    ours_fit = _lightgbm_churn(Fold(config, ours))
    theirs_fit = _lightgbm_churn(Fold(config, theirs))
    np.testing.assert_array_equal(ours_fit.test_pred, theirs_fit.test_pred)
    churn = Fold(config, theirs).y("test", "churn")
    auc = roc_auc_score(churn, theirs_fit.test_pred)
    assert roc_auc_score(churn, ours_fit.test_pred) == auc
    # the model learnt something: better than everyone getting the training churn rate
    prior = _prior_rate(Fold(config, theirs)).test_pred
    assert auc > 0.6
    assert np.ptp(prior) == 0


def test_a_whole_sample_equals_the_whole_table(runs: dict[str, TrainingData]) -> None:
    whole, sampled = runs["memory"], runs["sample-1.0"]
    assert_same_data(sampled, whole)
    assert whole.prep is not None
    assert sampled.prep is not None
    np.testing.assert_array_equal(sampled.prep.ids, whole.prep.ids)
    tags = sampled.tags()
    assert (tags["train.mode"], tags["train.sample_fraction"]) == ("sample", "1")
    assert tags["train.rows_used"] == tags["train.rows_total"] == str(len(whole.frame))


def test_a_sample_keeps_whole_customers_of_every_stratum(runs: dict[str, TrainingData]) -> None:
    whole, sampled = runs["memory"], runs["sample-0.2"]
    fraction = 0.2
    keep = CustomerSample(fraction, 42).keep
    # the same rows as filtering the whole table by customer: the sample is a function of the id
    expected = whole.frame.loc[keep(whole.frame[CUSTOMER_ID])].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled.frame, expected, check_exact=True)
    assert whole.test_features is not None
    assert sampled.test_features is not None
    assert set(sampled.test_features.index) == set(
        whole.test_features.index[keep(whole.test_features.index)]
    )
    # the history the baselines read holds the sampled customers only, each one whole
    assert sampled.prep is not None
    assert whole.prep is not None
    assert set(sampled.prep.ids) == set(np.asarray(whole.prep.ids)[keep(pd.Index(whole.prep.ids))])
    assert (sampled.prep.start_day, sampled.prep.end_day) == (
        whole.prep.start_day,
        whole.prep.end_day,
    )
    # every (cutoff, churn) stratum keeps about the fraction: within 4 binomial SEs
    shares = strata_shares(whole.frame, sampled.frame, [CUTOFF, CHURN])
    tolerance = 4 * np.sqrt(fraction * (1 - fraction) / shares["rows"])
    assert (np.abs(shares["share"] - fraction) <= tolerance).all(), shares
    tags = sampled.tags()
    assert (tags["train.mode"], tags["train.sample_fraction"]) == ("sample", "0.2")
    assert tags["train.rows_used"] == str(len(sampled.frame))
    assert tags["train.rows_total"] == str(len(whole.frame))
    # the label reports describe the whole data, as with the whole table
    assert [r.line() for r in sampled.label_reports] == [r.line() for r in whole.label_reports]


def test_another_seed_samples_other_customers(runs: dict[str, TrainingData]) -> None:
    one = set(runs["sample-0.2"].frame[CUSTOMER_ID])
    other = set(runs["sample-0.2-seed7"].frame[CUSTOMER_ID])
    assert one != other
    # independent draws: the overlap is about fraction squared of all customers
    everyone = runs["memory"].frame[CUSTOMER_ID].nunique()
    assert abs(len(one & other) / everyone - 0.04) < 4 * np.sqrt(0.04 * 0.96 / everyone)


def test_auto_samples_what_fits_a_small_budget_and_says_so(
    demo_data: Path,
    folder: Path,
    scheduler: str,
    tmp_path: Path,
    runs: dict[str, TrainingData],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fits = load_training_data(
        dask_config(demo_data, folder, tmp_path / "fits", scheduler, train="auto"),
        progress=False,
    )
    assert fits.tags()["train.mode"] == "memory"
    said = capsys.readouterr().err
    assert "training table: loaded whole (estimated" in said
    estimate = float(said.split("estimated ")[1].split(" GB")[0]) * 1e9
    budget = int(estimate * 0.3)
    small = load_training_data(
        dask_config(
            demo_data, folder, tmp_path / "small", scheduler, train="auto", memory_budget=budget
        ),
        progress=False,
    )
    said = capsys.readouterr().err
    assert "customer sample, seed 42" in said
    assert "the fraction that fits" in said
    fraction = float(small.tags()["train.sample_fraction"])
    assert small.tags()["train.mode"] == "sample"
    assert 0.25 <= fraction <= 0.3
    keep = CustomerSample(fraction, 42).keep
    whole = runs["memory"].frame
    expected = whole.loc[keep(whole[CUSTOMER_ID])].reset_index(drop=True)
    pd.testing.assert_frame_equal(small.frame, expected, check_exact=True)


def test_a_half_sample_model_scores_within_noise_of_the_whole_table(
    runs: dict[str, TrainingData], demo_data: Path
) -> None:
    config = pandas_config(demo_data)
    whole, half = runs["memory"], runs["sample-0.5"]
    whole_pred = _lightgbm_churn(Fold(config, whole)).test_pred
    # the half-sample model, scored on the whole table's test customers
    parts = {"train": half.part("train"), "validation": half.part("validation")}
    half_pred = _lightgbm_churn(Fold(config, half, parts={**parts, "test": whole.part("test")}))
    churn = Fold(config, whole).y("test", "churn")
    gap = roc_auc_score(churn, whole_pred) - roc_auc_score(churn, half_pred.test_pred)
    # paired bootstrap of the AUC difference over test customers: its SE is the noise
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(200):
        rows = rng.integers(0, len(churn), len(churn))
        diffs.append(
            roc_auc_score(churn[rows], whole_pred[rows])
            - roc_auc_score(churn[rows], half_pred.test_pred[rows])
        )
    se = float(np.std(diffs, ddof=1))
    assert 0 < se < 0.05
    assert abs(gap) <= 3 * se, (gap, se)


def test_a_sampled_training_run_records_the_decision_in_mlflow(
    demo_data: Path, folder: Path, scheduler: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from training.pipeline import train

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = dask_config(
        demo_data, folder, tmp_path / "work", scheduler, train="sample", sample_fraction=0.5
    )
    result = train(config, tracking_uri=uri, progress=False, log=lambda _: None)
    tags = MlflowClient(tracking_uri=uri).get_run(result.run_id).data.tags
    assert (tags["train.mode"], tags["train.sample_fraction"]) == ("sample", "0.5")
    used, total = int(tags["train.rows_used"]), int(tags["train.rows_total"])
    assert abs(used / total - 0.5) < 0.05
    assert int(tags["data.customers"]) < 2000 * 0.55
