"""Hyperparameter search out of time: a seeded, budgeted Optuna search on time-series folds.

The folds are drawn only from the training cutoffs: fold k's origin is one of the latest training
cutoffs, its model trains on the earlier training cutoffs whose horizon ends by the origin (labels
matured there; the latest ``tuning.train_cutoffs`` of them, so a trial costs a fraction of the
final fit), and is early-stopped and scored at the origin by the task's promotion metric. The
validation and test cutoffs are never seen, so the selection on validation and the gate on test
stay honest. The first trial is the configured parameters; the TPE sampler, seeded by the
config's ``seed``, draws the rest. The best trial's parameters replace the configured ones in the
fold every candidate shares (``Fold.tuning``), and go on the model card. ``max_depth`` is not
searched: shallow trees keep the TreeSHAP reasons fast.

An in-time split (a labelled table with one as_of day) has no later cutoff to score folds on:
its search runs on ``tuning.stratified_folds`` stratified folds of the non-test rows instead
(``StratifiedFold``), and the best trial's mean early-stopped rounds over those folds become the
rounds of the served model's refit on every non-test row (``Tuning.rounds``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd
from tqdm.auto import tqdm

from core.config import ExperimentConfig, LightGBMParams
from core.names import LIGHTGBM
from features.build import CUTOFF
from features.labels import CHURN
from model.card import Task, Tuning
from training.candidates import CANDIDATES, Fitted, Fold
from training.crossval import stratified_folds
from training.frame import TrainingData
from training.metrics import LOWER_IS_BETTER
from training.selection import gate_metric, validation_score

Log = Callable[[str], None]
Params = dict[str, float | int]

SEARCHED = (
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "colsample_bytree",
    "subsample",
    "reg_lambda",
)
"""The LightGBM parameters the search varies; the others keep their configured values."""
CATEGORICAL_SEARCHED = ("cat_smooth", "min_data_per_group")
"""Searched besides when a categorical column has many levels (``Fold.high_cardinality``): the
smoothing of LightGBM's native categorical splits, chosen on the folds like the rest."""

_FIT: dict[Task, Callable[[Fold], Fitted | None]] = {
    c.task: c.fit for c in CANDIDATES if c.name == LIGHTGBM
}


@dataclass(frozen=True)
class TimeFold:
    """One time-series fold of the training cutoffs: train before the origin, score at it."""

    train: list[pd.Timestamp]
    origin: pd.Timestamp

    @property
    def label(self) -> str:
        """The fold's name on the card: its origin."""
        return str(self.origin.date())

    def frames(self, data: TrainingData) -> dict[str, pd.DataFrame]:
        """The fold's rows: train at its training cutoffs; validation and test at its origin."""
        cutoff = data.frame[CUTOFF]
        train = data.frame.loc[cutoff.isin(self.train)].reset_index(drop=True)
        origin = data.frame.loc[cutoff == self.origin].reset_index(drop=True)
        return {"train": train, "validation": origin, "test": origin}

    def record(self) -> dict[str, Any]:
        """The fold as MLflow's ``folds.json`` lists it."""
        return {"train": [str(c.date()) for c in self.train], "origin": self.label}


@dataclass(frozen=True)
class StratifiedFold:
    """Fold ``index`` of ``k`` stratified folds of an in-time split's non-test rows: trained on
    the other folds, early-stopped and scored on this one; the test rows are never seen."""

    index: int
    k: int
    seed: int

    @property
    def label(self) -> str:
        """The fold's name on the card."""
        return f"stratified {self.index + 1}/{self.k}"

    def frames(self, data: TrainingData) -> dict[str, pd.DataFrame]:
        """The fold's rows out of the training and validation rows (seeded, by churn)."""
        rest = pd.concat([data.part("train"), data.part("validation")], ignore_index=True)
        fold = stratified_folds(rest[CHURN].to_numpy(), self.k, self.seed)
        held = rest.loc[fold == self.index].reset_index(drop=True)
        return {
            "train": rest.loc[fold != self.index].reset_index(drop=True),
            "validation": held,
            "test": held,
        }

    def record(self) -> dict[str, Any]:
        """The fold as MLflow's ``folds.json`` lists it."""
        return {"stratified": self.label, "seed": self.seed}


TuningFold = TimeFold | StratifiedFold


@dataclass(frozen=True)
class Trial:
    """One trial: its parameters and the metric at each fold's origin (mean in ``value``)."""

    number: int
    params: Params
    value: float
    fold_values: tuple[float, ...]
    rounds: tuple[int, ...] = ()
    """Each fold's early-stopped number of rounds."""


@dataclass(frozen=True)
class TaskTuning:
    """The search of one task: every trial, the folds, and the card's summary of the best."""

    task: Task
    summary: Tuning
    trials: list[Trial]
    folds: list[TuningFold]


def time_series_folds(
    train_cutoffs: list[pd.Timestamp],
    horizon_days: int,
    folds: int,
    max_train: int | None = None,
) -> list[TimeFold]:
    """Up to ``folds`` folds, oldest first: the latest training cutoffs as origins, each with the
    (latest ``max_train``) earlier training cutoffs whose horizon ends by it."""
    horizon = pd.Timedelta(days=horizon_days)
    ordered = sorted(pd.Timestamp(c) for c in train_cutoffs)
    out: list[TimeFold] = []
    for origin in reversed(ordered):
        train = [c for c in ordered if c + horizon <= origin]
        if not train or len(out) == folds:
            break
        out.append(TimeFold(train[-max_train:] if max_train else train, origin))
    return out[::-1]


def search_space(
    trial: optuna.Trial, configured: LightGBMParams, categorical: bool = False
) -> Params:
    """The trial's parameters. Leaves are capped by what the fixed depth holds; each range is
    widened to hold the configured value, which the first trial tries. ``categorical``: the
    categorical smoothing too (``CATEGORICAL_SEARCHED``)."""
    depth = configured.max_depth
    max_leaves = min(2**depth, 63) if depth > 0 else 63

    def floats(name: str, low: float, high: float, log: bool = False) -> float:
        value = getattr(configured, name)
        low = min(low, value) if value > 0 or not log else low
        return trial.suggest_float(name, low, max(high, value), log=log)

    def ints(name: str, low: int, high: int, log: bool = False) -> int:
        value = getattr(configured, name)
        return trial.suggest_int(name, min(low, value), max(high, value), log=log)

    smoothing: Params = {}
    if categorical:
        smoothing = {
            "cat_smooth": floats("cat_smooth", 1.0, 100.0, log=True),
            "min_data_per_group": ints("min_data_per_group", 10, 200, log=True),
        }
    return {
        **smoothing,
        # from 0.05: slower rates need many more rounds, in every trial and in the final fit
        "learning_rate": floats("learning_rate", 0.05, 0.3, log=True),
        "num_leaves": ints("num_leaves", 2, max(max_leaves, 2)),
        "min_child_samples": ints("min_child_samples", 5, 300, log=True),
        "colsample_bytree": floats("colsample_bytree", 0.4, 1.0),
        "subsample": floats("subsample", 0.4, 1.0),
        "reg_lambda": floats("reg_lambda", 1e-3, 30.0, log=True),
    }


def lightgbm_section(config: ExperimentConfig, task: Task) -> LightGBMParams:
    """The configured LightGBM parameters of ``task``."""
    return config.churn.lightgbm if task == "churn" else config.clv.lightgbm


def with_params(config: ExperimentConfig, task: Task, params: Params) -> ExperimentConfig:
    """``config`` with ``params`` in place of the configured LightGBM parameters of ``task``."""
    section = config.churn if task == "churn" else config.clv
    lightgbm = section.lightgbm.model_copy(update=params)
    return config.model_copy(update={task: section.model_copy(update={"lightgbm": lightgbm})})


def _objective(
    task: Task, config: ExperimentConfig, folds: list[Fold]
) -> Callable[[optuna.Trial], float]:
    """The mean metric at the folds' origins of the task's LightGBM fit with the trial's params."""
    fit = _FIT[task]
    configured = lightgbm_section(config, task)
    trial_only = {
        "early_stopping_rounds": config.tuning.early_stopping_rounds,
        "n_jobs": config.tuning.n_jobs,
    }

    categorical = bool(folds[0].high_cardinality)

    def objective(trial: optuna.Trial) -> float:
        params = search_space(trial, configured, categorical)
        values, rounds = [], []
        for fold in folds:
            trial_fold = copy.copy(fold)
            trial_fold.config = with_params(config, task, {**params, **trial_only})
            fitted = fit(trial_fold)
            assert fitted is not None
            assert fitted.validation_pred is not None
            values.append(
                validation_score(task, fold.y("validation", task), fitted.validation_pred, config)
            )
            rounds.append(int(fitted.params["best_iteration"]))
        trial.set_user_attr("fold_values", values)
        trial.set_user_attr("rounds", rounds)
        return float(np.mean(values))

    return objective


def tune_task(
    task: Task,
    config: ExperimentConfig,
    data: TrainingData,
    folds: Sequence[TuningFold],
    bar: Callable[[], object] = lambda: None,
) -> TaskTuning | None:
    """Search ``task``'s LightGBM parameters on ``folds``; None when no trial gives a score."""
    settings = config.tuning
    metric = gate_metric(task, config)
    direction = "minimize" if metric in LOWER_IS_BETTER else "maximize"
    fold_objects = [Fold(config, data, parts=f.frames(data), refit=False) for f in folds]
    sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=settings.startup_trials)
    study = optuna.create_study(direction=direction, sampler=sampler)
    configured = lightgbm_section(config, task).model_dump()
    searched = SEARCHED + (CATEGORICAL_SEARCHED if fold_objects[0].high_cardinality else ())
    study.enqueue_trial({name: configured[name] for name in searched})
    study.optimize(
        _objective(task, config, fold_objects),
        n_trials=settings.trials,
        callbacks=[lambda _study, _trial: bar()],
    )
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return None
    trials = [
        Trial(
            t.number,
            dict(t.params),
            float(t.value),
            tuple(t.user_attrs["fold_values"]),
            tuple(t.user_attrs["rounds"]),
        )
        for t in done
        if t.value is not None
    ]
    sign = -1.0 if direction == "minimize" else 1.0
    best = max(trials, key=lambda t: (sign * t.value, -t.number))
    first = next((t for t in trials if t.number == 0), None)
    summary = Tuning(
        metric=metric,
        direction=direction,
        trials=len(study.trials),
        folds=[f.label for f in folds],
        best_value=best.value,
        configured_value=first.value if first else None,
        best_params=best.params,
        seed=config.seed,
        rounds=_in_time_rounds(folds, best),
    )
    return TaskTuning(task, summary, trials, list(folds))


def _in_time_rounds(folds: Sequence[TuningFold], best: Trial) -> int | None:
    """The refit's rounds on an in-time split: the best trial's mean early-stopped rounds over
    its stratified folds, each trained on (k-1)/k of the rows the refit uses. Time-series folds
    give none: the refit there keeps the rounds early-stopped on the validation cutoff."""
    if not folds or not all(isinstance(f, StratifiedFold) for f in folds):
        return None
    return max(round(float(np.mean(best.rounds))), 1)


def tune(
    config: ExperimentConfig, data: TrainingData, *, progress: bool = False, log: Log = print
) -> dict[Task, TaskTuning]:
    """Search the LightGBM parameters of every configured task that applies; see the module."""
    settings = config.tuning
    if not settings.enabled:
        return {}
    folds: list[TuningFold] = []
    if data.split.in_time:
        churn = data.frame.loc[data.parts != "test", CHURN]
        k = min(settings.stratified_folds, int(churn.sum()), int((churn == 0).sum()))
        if k < 2:
            log(
                "  tuning skipped: the non-test rows hold fewer than 2 churners or stayers, so "
                "no stratified fold has both; the configured parameters are used"
            )
            return {}
        folds = [StratifiedFold(i, k, config.seed) for i in range(k)]
        log(f"  tuning on {k} stratified folds of the non-test rows (an in-time split)")
    else:
        folds = [
            *time_series_folds(
                data.split.train, config.horizon_days, settings.folds, settings.train_cutoffs
            )
        ]
    if not folds:
        log(
            "  tuning skipped: no training cutoff ends its horizon by a later training cutoff, "
            "so there is no time-series fold; the configured parameters are used"
        )
        return {}
    if not data.split.in_time and len(folds) < settings.folds:
        log(f"  tuning on {len(folds)} time-series fold(s): the training cutoffs hold no more")
    tasks = [t for t in dict.fromkeys(settings.tasks) if t == "churn" or data.has_value]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict[Task, TaskTuning] = {}
    with tqdm(
        total=settings.trials * len(tasks), desc="tuning", unit="trial", disable=not progress
    ) as bar:
        for task in tasks:
            found = tune_task(task, config, data, folds, lambda: bar.update(1))
            if found is None:
                log(f"  tuning {task}: no trial gave a score; the configured parameters are used")
                continue
            out[task] = found
    return out


def describe(result: TaskTuning) -> str:
    """One line for the training output: the best trial against the configured parameters."""
    s = result.summary
    configured = (
        f" (configured: {s.configured_value:.4f})" if s.configured_value is not None else ""
    )
    params = ", ".join(f"{k}={_short(v)}" for k, v in s.best_params.items())
    if s.rounds is not None:
        params += f"; refit rounds {s.rounds} (mean of the folds' early stopping)"
    return (
        f"tuned {result.task}/lightgbm over {s.trials} trials on {len(s.folds)} fold(s) "
        f"({', '.join(s.folds)}): {s.metric} {s.best_value:.4f}{configured}; {params}"
    )


def _short(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def log_tuning(results: dict[Task, TaskTuning]) -> None:
    """Into the active run: a nested ``tuning/<task>`` run per task with its best params and
    value, and under it a nested run per trial with its params and metric."""
    active = mlflow.active_run()
    assert active is not None, "log_tuning logs into the training run"
    nested = {"nested": True, "experiment_id": active.info.experiment_id}
    for task, result in results.items():
        s = result.summary
        with mlflow.start_run(run_name=f"tuning/{task}", **nested):
            mlflow.set_tags(
                {
                    "retain.task": task,
                    "retain.tuning": "search",
                    "tuning.metric": s.metric,
                    "tuning.direction": s.direction,
                    "tuning.folds": ",".join(s.folds),
                }
            )
            rounds = {} if s.rounds is None else {"rounds": s.rounds}
            mlflow.log_params({**s.best_params, "trials": s.trials, "seed": s.seed, **rounds})
            mlflow.log_metric(f"best.{s.metric}", s.best_value)
            if s.configured_value is not None:
                mlflow.log_metric(f"configured.{s.metric}", s.configured_value)
            mlflow.log_dict(_fold_cutoffs(result.folds), "folds.json")
            for trial in result.trials:
                with mlflow.start_run(run_name=f"tuning/{task}/trial {trial.number}", **nested):
                    mlflow.set_tags({"retain.task": task, "retain.trial": str(trial.number)})
                    mlflow.log_params(trial.params)
                    mlflow.log_metric(s.metric, trial.value)
                    for i, value in enumerate(trial.fold_values):
                        mlflow.log_metric(f"{s.metric}.fold{i}", value)


def _fold_cutoffs(folds: list[TuningFold]) -> dict[str, Any]:
    return {"folds": [f.record() for f in folds]}
