"""The hyperparameter search: seeded and reproducible, on folds of the training cutoffs only,
tracked as nested MLflow runs, and off means the configured parameters exactly."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from core.config import ExperimentConfig
from model.registry import load_version
from tests.training.conftest import FAST_LIGHTGBM, small_config
from training.candidates import Fold
from training.dataset import load_training_data
from training.frame import TrainingData
from training.pipeline import TUNED_MODELS, train
from training.tuning import SEARCHED, TaskTuning, TimeFold, log_tuning, time_series_folds, tune

TUNING = {"enabled": True, "trials": 3, "startup_trials": 2, "folds": 1}
QUIET = {"progress": False, "log": lambda _: None}


@pytest.fixture(scope="module")
def tuning_data(
    demo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ExperimentConfig, TrainingData]:
    """The small demo experiment on six training cutoffs: enough for a time-series fold."""
    config = small_config(
        tmp_path_factory.mktemp("tuning"),
        demo_data / "retail",
        "tuning",
        split={"max_train_cutoffs": 6},
        tuning=TUNING,
    )
    return config, load_training_data(config, progress=False)


@pytest.fixture(scope="module")
def tuned(tuning_data: tuple[ExperimentConfig, TrainingData]) -> dict[str, TaskTuning]:
    """The search of the small experiment, run once for the tests that only read it."""
    config, data = tuning_data
    return tune(config, data, **QUIET)


def _trials(result: dict[str, TaskTuning]) -> dict[str, list[tuple[int, dict, float]]]:
    return {
        task: [(t.number, t.params, t.value) for t in tuned.trials]
        for task, tuned in result.items()
    }


def test_same_seed_gives_the_same_trials_and_best_params(
    tuning_data: tuple[ExperimentConfig, TrainingData], tuned: dict[str, TaskTuning]
) -> None:
    config, data = tuning_data
    first, again = tuned, tune(config, data, **QUIET)
    assert set(first) == {"churn", "clv"}
    assert _trials(first) == _trials(again)
    for task in first:
        assert len(first[task].trials) == TUNING["trials"]
        assert first[task].summary == again[task].summary
        assert set(first[task].summary.best_params) == set(SEARCHED)


def test_another_seed_draws_other_trials_after_the_configured_one(
    tuning_data: tuple[ExperimentConfig, TrainingData], tuned: dict[str, TaskTuning]
) -> None:
    config, data = tuning_data
    first = tuned
    other = tune(config.model_copy(update={"seed": 7}), data, **QUIET)
    for task in first:
        ours, theirs = first[task].trials, other[task].trials
        assert ours[0].params == theirs[0].params  # trial 0: the configured parameters
        section = config.churn if task == "churn" else config.clv
        assert ours[0].params == {k: section.lightgbm.model_dump()[k] for k in SEARCHED}
        assert [t.params for t in ours[1:]] != [t.params for t in theirs[1:]]


def test_the_best_trial_is_the_best_score_in_the_metric_direction(
    tuned: dict[str, TaskTuning],
) -> None:
    for task, result in tuned.items():
        values = [t.value for t in result.trials]
        summary = result.summary
        assert summary.direction == "maximize"  # roc_auc and gini
        assert summary.metric == ("roc_auc" if task == "churn" else "gini")
        assert summary.best_value == max(values)
        assert summary.configured_value == values[0]
        assert summary.best_params == result.trials[values.index(max(values))].params


def test_folds_use_only_training_cutoffs_with_matured_labels(
    tuning_data: tuple[ExperimentConfig, TrainingData], tuned: dict[str, TaskTuning]
) -> None:
    config, data = tuning_data
    split, horizon = data.split, pd.Timedelta(days=config.horizon_days)
    folds = time_series_folds(split.train, config.horizon_days, 3)
    assert folds, "six monthly training cutoffs hold at least one 90-day fold"
    assert [f.origin for f in folds] == split.train[-len(folds) :]
    for fold in folds:
        used = {*fold.train, fold.origin}
        assert used <= set(split.train)
        assert split.validation not in used
        assert split.test not in used
        assert all(c + horizon <= fold.origin for c in fold.train)
        assert fold.train == [c for c in split.train if c + horizon <= fold.origin]
    for result in tuned.values():
        assert result.folds == folds[-1:]  # tuning.folds = 1: the latest origin
        assert result.summary.folds == [str(split.train[-1].date())]


def test_time_series_folds_on_exact_cutoffs() -> None:
    cutoffs = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31", "2024-05-31")]
    folds = time_series_folds(cutoffs, 60, 5)
    assert (
        [(f.train, f.origin) for f in folds]
        == [
            (cutoffs[:1], cutoffs[2]),  # 2024-02-29 + 60 days is 2024-04-29, after 2024-03-31
            (cutoffs[:3], cutoffs[3]),  # 2024-03-31 + 60 days is 2024-05-30
        ]
    )
    assert time_series_folds(cutoffs, 60, 1, max_train=2) == [TimeFold(cutoffs[1:3], cutoffs[3])]
    assert time_series_folds(cutoffs, 200, 2) == []


def test_disabled_tuning_keeps_the_configured_params_exactly(
    tuning_data: tuple[ExperimentConfig, TrainingData],
) -> None:
    config, data = tuning_data
    off = config.model_copy(update={"tuning": config.tuning.model_copy(update={"enabled": False})})
    assert tune(off, data, **QUIET) == {}
    fold = Fold(off, data)
    for task in ("churn", "clv"):
        section = off.churn if task == "churn" else off.clv
        assert fold.lightgbm(task) == section.lightgbm
        assert fold.lightgbm_estimator(task) == {
            "lightgbm": section.lightgbm,
            "random_state": off.seed,
            "verbose": 0,
        }


def test_tuning_is_tracked_as_nested_runs(tuned: dict[str, TaskTuning], tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)  # log_tuning logs in the active run (same_start puts it back)
    experiment = mlflow.create_experiment("tuning-runs")
    with mlflow.start_run(experiment_id=experiment) as parent:
        log_tuning(tuned)
    client = MlflowClient(uri)
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert {r.data.tags["mlflow.runName"] for r in children} == {"tuning/churn", "tuning/clv"}
    for child in children:
        task = child.data.tags["retain.task"]
        summary = tuned[task].summary
        assert child.data.metrics[f"best.{summary.metric}"] == summary.best_value
        assert {k: child.data.params[k] for k in SEARCHED} == {
            k: str(v) for k, v in summary.best_params.items()
        }
        trials = client.search_runs(
            [experiment], f"tags.mlflow.parentRunId = '{child.info.run_id}'"
        )
        assert sorted(r.data.tags["mlflow.runName"] for r in trials) == [
            f"tuning/{task}/trial {n}" for n in range(TUNING["trials"])
        ]
        for run in trials:
            trial = tuned[task].trials[int(run.data.tags["retain.trial"])]
            assert run.data.metrics[summary.metric] == trial.value
            assert run.data.params == {k: str(v) for k, v in trial.params.items()}


@pytest.mark.slow
def test_train_fits_the_tuned_params_and_records_them_on_the_card(
    demo_data: Path, tmp_path: Path
) -> None:
    config = small_config(
        tmp_path,
        demo_data / "retail",
        "tuned-train",
        split={"max_train_cutoffs": 6},
        tuning=TUNING,
        registry={"churn": "tuned-churn", "clv": "tuned-clv"},
        # the tuned boosters alone compete: the card under test is a tuned model's
        churn={"lightgbm": FAST_LIGHTGBM, "compete": ["lightgbm"]},
    )
    result = train(config, **QUIET)
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.run_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    by_name = {r.data.tags["mlflow.runName"]: r for r in children}
    assert {"tuning/churn", "tuning/clv", "churn/lightgbm", "clv/lightgbm"} <= set(by_name)
    for task, name in (("churn", "tuned-churn"), ("clv", "tuned-clv")):
        card = load_version(
            name, result.versions[task], tracking_uri=result.tracking_uri
        ).bundle.card
        assert card.model in TUNED_MODELS  # CLV may choose the booster started from BTYD
        assert card.tuning is not None
        assert card.tuning.trials == TUNING["trials"]
        assert card.tuning.folds == [card.cutoffs.train[-1]]
        fitted = by_name[f"{task}/{card.model}"].data.params
        assert {k: fitted[k] for k in SEARCHED} == {
            k: str(v) for k, v in card.tuning.best_params.items()
        }
