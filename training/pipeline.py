"""``train(config)``: fit every candidate on one out-of-time fold, evaluate, track, gate.

The data is prepared once and each cutoff's features built once (``training.dataset``); every
candidate in ``training.candidates.CANDIDATES`` is fitted by one loop and scored on the same test
cutoff (``training.evaluation``). Servable candidates become bundles with a complete model card
and pass the promotion gate against the current champion on that same test data. The finished
result is then logged to MLflow in one go (``training.tracking``): one parent run, a nested run
per candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from core.config import ExperimentConfig
from core.names import LIGHTGBM, LIGHTGBM_BTYD
from core.schema import CUSTOMER_ID
from core.settings import test_hook
from features.build import CUTOFF, build_features
from model.bundle import ModelBundle
from model.card import Cutoffs, DataSummary, ModelCard, Refit, Task
from model.drift import sketch_column, sketch_frame
from model.registry import (
    load_version,
    set_process_tracking_uri,
    version_by_alias,
)
from training.calibration import calibration_check
from training.candidates import CANDIDATES, Candidate, Fitted, Fold
from training.console_table import console_table
from training.crossval import add_cross_validation
from training.dataset import load_training_data
from training.evaluation import (
    TARGETS,
    Evaluation,
    ModelResult,
    evaluate,
    evaluation_table,
    markdown_table,
    versus_cell,
)
from training.fit_notes import captured_warnings
from training.frame import TrainingData
from training.metrics import EMPCParams, PairedInterval, paired_bootstrap
from training.registry import (
    TRIVIAL,
    Decision,
    decide,
    joint,
    move_alias,
    recover_interrupted,
    registry_lock,
    run_tags,
    tag_decision,
    tag_undecided,
)
from training.selection import choose, compare_with_baseline, validation_score
from training.tracking import TrainingRecord, ensure_experiment, log_gate, log_training
from training.tuning import describe, log_tuning, tune
from training.uplift_train import UpliftResult, fit_uplift, has_campaigns, register_uplift

TUNED_MODELS = (LIGHTGBM, LIGHTGBM_BTYD)
"""The candidates fitted with ``Fold.lightgbm``, so with the tuned parameters."""

Log = Callable[[str], None]


@dataclass
class TrainResult:
    """What a training run produced: where it is tracked, how each model did, what was promoted."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    evaluation: pd.DataFrame
    decisions: dict[str, Decision]
    versions: dict[str, str]
    test_cutoff: pd.Timestamp
    seconds: float
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Test rows: customer_id, segment, churn, future_value and every model's prediction."""
    uplift: UpliftResult | None = None
    """The uplift models' evaluation and registration, when the data lists past campaigns."""
    loading: list[dict[str, Any]] = field(default_factory=list)
    """Per input table: rows read and kept, and the rows excluded by reason (``TableReport``)."""

    def as_dict(self) -> dict[str, Any]:
        """The run for scripts (``retain train --json``): the whole evaluation table, every
        metric and interval (the printed table shows a few), the gate's decisions, the versions."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "tracking_uri": self.tracking_uri,
            "test_cutoff": str(self.test_cutoff.date()),
            "seconds": round(self.seconds, 1),
            "evaluation": self.evaluation.to_dict(orient="records"),
            "decisions": {t: _decision_dict(d) for t, d in self.decisions.items()},
            "versions": self.versions,
            "loading": self.loading,
        }
        if self.uplift is not None:
            out["uplift"] = {
                "evaluation": self.uplift.fit.evaluation.table.to_dict(orient="records"),
                "decision": _decision_dict(self.uplift.decision),
                "version": self.uplift.version,
                "policy": self.uplift.fit.evaluation.policy_card(),
            }
        return _json_ready(out)


def _json_ready(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN or infinity as None (JSON null)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _decision_dict(decision: Decision) -> dict[str, Any]:
    """A gate decision as JSON-ready values (its interval as a mapping)."""
    out = asdict(decision)
    if decision.interval is not None:
        out["interval"] = decision.interval._asdict()
    return out


class _Clock:
    def __init__(self, log: Log) -> None:
        self.start = time.perf_counter()
        self.log = log

    def __call__(self, message: str) -> None:
        self.log(f"[{time.perf_counter() - self.start:6.1f}s] {message}")


def train(
    config: ExperimentConfig,
    *,
    tracking_uri: str | None = None,
    progress: bool = True,
    log: Log = print,
) -> TrainResult:
    """Run one experiment end to end and return its result; see the module docstring."""
    uri = set_process_tracking_uri(tracking_uri)  # the fluent runs below log there
    step = _Clock(log)
    names = {"churn": config.registry.churn, "clv": config.registry.clv}
    with registry_lock(uri, log):  # also serialises creating the store and the experiment
        experiment_id = ensure_experiment(config.name, uri)
        for line in recover_interrupted([*names.values(), config.registry.uplift], uri=uri):
            log("  " + line)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs and logged models go here too
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train {config.name}", tags=run_tags()
    ) as run:
        step("loading data and building snapshots")
        data = load_training_data(config, progress=progress)
        for report in data.load_reports:
            for line in report.lines():
                log("  " + line)
        for label_report in data.label_reports:
            log("  " + label_report.line())
        if data.schema is not None:
            log(
                "  attributes of the snapshots table, as read (override with data.snapshots.types):"
            )
            for line in data.schema.lines():
                log("  " + line)
        for note in data.notes:
            log("  note: " + note)
        fold = Fold(config, data, progress)
        step(describe_split(fold))
        if config.tuning.enabled:
            step(f"tuning LightGBM: {config.tuning.trials} trials per task")
            tuned = tune(config, data, progress=progress, log=log)
            log_tuning(tuned)
            fold.tuning = {task: t.summary for task, t in tuned.items()}
            for t in tuned.values():
                log("  " + describe(t))
        for task in ("churn", "clv") if data.has_value else ("churn",):
            for line in fold.category_notes(task):
                log("  " + line)
        evaluation = evaluate_candidates(fold, CANDIDATES, step)
        if data.split.in_time and config.split.cv_folds:
            step(f"{config.split.cv_folds}-fold cross-validation on the non-test rows")
            add_cross_validation(evaluation, fold, CANDIDATES, config.split.cv_folds)
        log("\n" + console_table(evaluation.results))
        for line in evaluation_warnings(evaluation, config):
            log("  " + line)

        uplift_fit = fit_uplift(config, data, step, log) if has_campaigns(config) else None
        step("gating the servable models against the current champions")
        with registry_lock(uri, log):  # from reading the champions to moving the aliases
            decisions = joint(
                {
                    r.task: _gate(r, names[r.task], config, data, evaluation, uri)
                    for r in evaluation.results
                    if r.bundle is not None
                },
                separately=config.promotion.separately,
            )
            test_hook("train:gated")
            step("logging to MLflow and registering the servable models")
            versions = log_training(TrainingRecord(config, data, evaluation, names))
            test_hook("train:registered")
            decided: set[str] = set()
            try:
                for task, decision in decisions.items():
                    tag_decision(names[task], versions[task], decision, uri=uri)
                    decided.add(task)
            except Exception:
                for task in set(versions) - decided:
                    tag_undecided(names[task], versions[task], uri=uri)
                raise
            test_hook("train:tagged")
            for task, decision in decisions.items():
                move_alias(names[task], versions[task], decision, uri=uri)
                test_hook(f"train:moved:{task}")
                verdict = "champion" if decision.promote else "challenger"
                log(f"  {names[task]} v{versions[task]}: {verdict} ({decision.reason})")
            uplift = register_uplift(uplift_fit, config, log, uri) if uplift_fit else None
        seconds = time.perf_counter() - step.start
        log_gate(decisions, versions, seconds)
        step(f"done: run {run.info.run_id} in experiment '{config.name}' at {uri}")
    return TrainResult(
        run.info.run_id,
        experiment_id,
        uri,
        evaluation.table,
        decisions,
        versions,
        data.split.test,
        seconds,
        evaluation.predictions,
        uplift,
        [r.as_dict() for r in data.load_reports],
    )


def describe_split(fold: Fold) -> str:
    """One line on the split; an in-time split says plainly that it is one."""
    split, n = fold.data.split, {p: len(f) for p, f in fold.frames.items()}
    if split.in_time:
        return (
            f"IN-TIME split of the single as_of day {split.test.date()}: customers drawn at "
            f"random (stratified by churn, seeded): {n['train']:,} training, "
            f"{n['validation']:,} validation, {n['test']:,} test rows. The metrics say how the "
            "model ranks customers of that day, not how it holds up on a later day: export "
            "several as_of days for an out-of-time test"
        )
    return (
        f"{n['train']:,} training rows over {len(split.train)} cutoffs, "
        f"{n['validation']:,} validation rows ({split.validation.date()}), "
        f"{n['test']:,} test rows ({split.test.date()})"
    )


def evaluate_candidates(
    fold: Fold, candidates: Sequence[Candidate], step: Log = lambda _: None
) -> Evaluation:
    """Fit every candidate that applies, score it on the test cutoff, compare it with the best
    baseline, and bundle the servable candidate of each task that wins on validation."""
    empc = EMPCParams.of(fold.config)
    results: list[ModelResult] = []
    fits: dict[int, Fitted] = {}
    for candidate in candidates:
        step(f"fitting {candidate.task}/{candidate.name}")
        with captured_warnings(f"{candidate.task}/{candidate.name}") as raised:
            fitted = candidate.fit(fold)
        if fitted is None:
            continue
        # a fit that explains its own trouble says it once; otherwise its optimiser's warnings
        notes = [*fitted.notes, *(fitted.problems or raised)]
        reliable = not fitted.problems and not any("ConvergenceWarning" in n for n in raised)
        result = evaluate(
            candidate.task,
            candidate.name,
            fitted.test_pred,
            fold.y("test", candidate.task),
            fold.segment,
            empc,
            params=fitted.params,
            importance=fitted.importance,
            notes=notes,
            fit_metrics=fitted.fit_metrics,
            reliable=reliable,
            servable=fitted.servable is not None,
        )
        result.comparison = fitted.comparison
        if fitted.servable is not None and fitted.validation_pred is not None:
            result.validation = validation_score(
                candidate.task,
                fold.y("validation", candidate.task),
                fitted.validation_pred,
                fold.config,
            )
            result.validation_pred = fitted.validation_pred
        fits[id(result)] = fitted
        results.append(result)
    tasks = dict.fromkeys(r.task for r in results)
    chosen = choose(results, {t: fold.y("validation", t) for t in tasks}, fold.config)
    compare_with_baseline(results, {r.task: fold.y("test", r.task) for r in results}, fold.config)
    evaluation = Evaluation(results, fold.frames["test"], fold.segment)
    for result in chosen.values():  # after every fit, so each card carries all the notes
        notes = [
            *evaluation.notes,
            *fold.category_notes(result.task),
            *comparison_notes(result, evaluation.results),
        ]
        result.bundle = _bundle(result, fits[id(result)], fold, notes)
    return evaluation


def comparison_notes(chosen: ModelResult, results: Sequence[ModelResult]) -> list[str]:
    """Lines for the card: why this model was chosen, and how it compares with the best
    baseline on the test cutoff (difference and interval; 'cannot be separated' when it spans 0).
    """
    rivals = [r for r in results if r.task == chosen.task and r.servable and r is not chosen]
    lines = (
        [
            f"chosen over {', '.join(f'{r.name} ({r.validation:.4f})' for r in rivals)} on the "
            f"validation cutoff: {chosen.validation:.4f}, {chosen.selection}"
        ]
        if rivals
        else []
    )
    for metric in chosen.versus:
        lines.append(f"test {metric} vs the best baseline: {versus_cell(chosen, metric)}")
    return lines


def evaluation_warnings(evaluation: Evaluation, config: ExperimentConfig) -> list[str]:
    """Lines for the training output under the table: unreliable fits, then calibration on the
    test cutoff: every servable model's, and a warning for any candidate beyond the configured
    limit (``calibration`` in the config)."""
    lines = [f"note: {n}" for n in evaluation.notes]
    lines += [f"chosen: {r.task}/{r.name}, {r.selection}" for r in evaluation.results if r.chosen]
    for r in evaluation.results:
        check = calibration_check(r.task, r.metrics, _bias_limit(r.task, config))
        if check.exceeded:
            lines.append(
                f"warning: {r.task}/{r.name} is biased on the test cutoff: {check.summary()}"
            )
        elif r.bundle is not None:
            lines.append(f"calibration of {r.task}/{r.name} on the test cutoff: {check.summary()}")
    return lines


def _bias_limit(task: Task, config: ExperimentConfig) -> float:
    limits = config.calibration
    return limits.max_churn_bias if task == "churn" else limits.max_clv_bias


def model_card(
    result: ModelResult,
    fold: Fold,
    best_iteration: int | None,
    notes: Sequence[str] = (),
    refit: Refit | None = None,
) -> ModelCard:
    """The complete card of a servable result: what it is, its data, cutoffs, metrics, curves."""
    config, data = fold.config, fold.data
    start, end = data.date_range
    return ModelCard(
        task=result.task,
        model=result.name,
        experiment=config.name,
        trained_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        horizon_days=config.horizon_days,
        features=list(fold.encoding.columns),
        data=DataSummary(
            fingerprint=data.fingerprint,
            rows=data.rows,
            customers=data.customers,
            start=str(start.date()),
            end=str(end.date()),
            timezone=config.data.timezone,
            business=(
                "labelled"
                if data.schema is not None
                else "contractual"
                if config.contractual
                else "noncontractual"
            ),
            active_days=config.active_days,
        ),
        cutoffs=Cutoffs(
            train=[str(c.date()) for c in data.split.train],
            validation=str(data.split.validation.date()),
            test=str(data.split.test.date()),
            in_time=data.split.in_time,
        ),
        test_metrics=result.metrics,
        calibration=result.calibration,
        gain=result.gain,
        deciles=result.deciles,
        best_iteration=best_iteration,
        tuning=fold.tuning.get(result.task) if result.name in TUNED_MODELS else None,
        calibration_check=calibration_check(
            result.task, result.metrics, _bias_limit(result.task, config)
        ),
        notes=list(notes),
        refit=refit,
        attribute_schema=data.schema,
        reference=sketch_frame(data.part("test")[data.features]),
        reference_prediction=sketch_column(pd.Series(result.test_pred, dtype=float)),
    )


def _bundle(
    result: ModelResult, fitted: Fitted, fold: Fold, notes: Sequence[str] = ()
) -> ModelBundle:
    """The deployable bundle of a servable result, with its card built once, complete."""
    servable = fitted.servable
    assert servable is not None
    return ModelBundle(
        kind=result.task,
        model=servable.model,
        encoding=fold.encoding,
        horizon_days=fold.config.horizon_days,
        families=fold.data.families,
        card=model_card(result, fold, servable.best_iteration, notes, servable.refit),
        attributes=fold.data.attributes,
        platt=servable.platt,
        risk_tiers=servable.risk_tiers,
        base_margin=servable.base_margin,
    )


def _gate(
    result: ModelResult,
    name: str,
    config: ExperimentConfig,
    data: TrainingData,
    evaluation: Evaluation,
    uri: str,
) -> Decision:
    """The promotion decision for a servable result against the current champion of ``name``.

    Both are scored on this run's test customers and compared by a paired bootstrap seeded by
    the experiment's seed, so the same run gives the same decision.
    """
    promotion = config.promotion
    metric = promotion.churn_metric if result.task == "churn" else promotion.clv_metric
    version, champion_pred = _champion_predictions(name, result.task, config, data, evaluation, uri)
    interval = None
    if champion_pred is not None:
        interval = paired_bootstrap(
            metric,
            evaluation.labels(result.task),
            result.test_pred,
            champion_pred,
            replicates=promotion.bootstrap_replicates,
            level=promotion.confidence_level,
            seed=config.seed,
            empc_params=EMPCParams.of(config),
        )
    trivial = None if version is not None else _versus_trivial(result, config, data, evaluation)
    return decide(
        metric,
        result.metrics[metric],
        version,
        interval,
        promotion.min_improvement,
        trivial=trivial,
        trivial_name=TRIVIAL[result.task],
    )


def _versus_trivial(
    result: ModelResult, config: ExperimentConfig, data: TrainingData, evaluation: Evaluation
) -> PairedInterval:
    """The paired bootstrap of a first version's gain over the trivial policy on the test rows:
    churn by ROC-AUC against one rate for everyone (0.5), CLV by its gate metric against the
    training mean for everyone."""
    promotion = config.promotion
    y = evaluation.labels(result.task)
    if result.task == "churn":
        metric, trivial = "roc_auc", np.zeros(len(y))
    else:
        mean = float(data.part("train")[TARGETS["clv"]].mean())
        metric, trivial = promotion.clv_metric, np.full(len(y), mean)
    return paired_bootstrap(
        metric,
        y,
        result.test_pred,
        trivial,
        replicates=promotion.bootstrap_replicates,
        level=promotion.confidence_level,
        seed=config.seed,
        empc_params=EMPCParams.of(config),
    )


def _champion_predictions(
    name: str,
    task: Task,
    config: ExperimentConfig,
    data: TrainingData,
    evaluation: Evaluation,
    uri: str,
) -> tuple[str | None, np.ndarray | None]:
    """The current champion's predictions for this run's test rows, or None if it cannot score.

    The champion is scored on the test cutoff's features already built for this run when they
    hold its columns; only a champion of other feature families has them built again.
    """
    current = version_by_alias(name, tracking_uri=uri)
    if current is None:
        return None, None
    version = str(current.version)
    bundle = load_version(name, version, tracking_uri=uri).bundle
    if bundle.horizon_days != config.horizon_days:
        return version, None
    if bundle.card.attribute_schema != data.schema:
        return version, None  # its attributes are read another way (or it has none)
    if not bundle.encoding.missing_from(evaluation.test.columns):
        return version, np.asarray(bundle.predict(evaluation.test), dtype=np.float64)
    if data.prep is None or data.test_features is None:
        return version, None
    feats = data.test_features
    if bundle.encoding.missing_from(feats.columns):
        try:
            feats = build_features(data.prep, data.split.test, families=bundle.families)
        except ValueError:
            return version, None
        if bundle.encoding.missing_from(feats.columns):
            return version, None
    pred = bundle.predict(feats.reindex(pd.Index(evaluation.test[CUSTOMER_ID])))
    return version, np.asarray(pred, dtype=np.float64)


__all__ = [
    "CUTOFF",
    "ModelResult",
    "TrainResult",
    "evaluate_candidates",
    "evaluation_table",
    "markdown_table",
    "model_card",
    "train",
]
