"""``train(config)``: fit churn and CLV models beside baselines, evaluate out of time, track in MLflow.

One parent MLflow run per call, one nested run per model. Every model, baselines included, is
scored on the same test cutoff; the LightGBM models are logged as bundles, registered, and pass
through the promotion gate against the current champion on that same test data.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features.build import CUTOFF, build_features
from features.prepare import to_day
from features.schema import CUSTOMER_ID
from model.bundle import ModelBundle
from model.card import Cutoffs, DataSummary, ModelCard
from model.encoding import FeatureEncoding
from training import plots
from training.baselines import BtydBaseline, fit_btyd, last_period_spend
from training.config import ExperimentConfig
from training.dataset import CHURN, FUTURE_VALUE, TrainingData, load_training_data
from training.metrics import EMPCParams, churn_metrics, clv_metrics, metrics_by_slice
from training.models import LightGBMChurn, LightGBMSpend, RecencyRule, logistic_baseline
from training.registry import Decision, apply_decision, champion, decide, load_bundle
from training.tracking import configure_tracking, ensure_experiment, flatten, git_commit, log_bundle

Log = Callable[[str], None]
SLICE = "segment"


@dataclass
class ModelResult:
    """One fitted model's test-cutoff predictions and metrics."""

    task: str
    name: str
    test_pred: np.ndarray
    metrics: dict[str, float]
    slices: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    bundle: ModelBundle | None = None
    importance: dict[str, float] | None = None


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
    uri = configure_tracking(tracking_uri)
    step = _Clock(log)
    experiment_id = ensure_experiment(config.name, uri)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs and logged models go here too
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train {config.name}") as run:
        mlflow.set_tags(
            {
                "retain.git_commit": git_commit(),
                "retain.business": "contractual" if config.contractual else "noncontractual",
            }
        )
        mlflow.log_params(flatten("", config.model_dump(mode="json")))
        step("loading data and building snapshots")
        data = load_training_data(config, progress=progress)
        for report in data.load_reports:
            for line in report.lines():
                log("  " + line)
        for label_report in data.label_reports:
            log("  " + label_report.line())
        mlflow.set_tags(data.tags())
        mlflow.log_text(_reports_text(data), "data_report.txt")

        train_df, valid_df, test_df = data.part("train"), data.part("validation"), data.part("test")
        step(
            f"{len(train_df):,} training rows over {len(data.split.train)} cutoffs, "
            f"{len(valid_df):,} validation rows ({data.split.validation.date()}), "
            f"{len(test_df):,} test rows ({data.split.test.date()})"
        )
        encoding = FeatureEncoding.fit(train_df, data.features)
        matrices = {
            name: encoding.transform(df)
            for name, df in (("train", train_df), ("valid", valid_df), ("test", test_df))
        }
        segment = _segments(data, test_df, config.new_customer_days)

        step("fitting BG/NBD and Gamma-Gamma baselines")
        btyd = fit_btyd(
            data.prep, data.split.test, config.horizon_days, pd.Index(test_df[CUSTOMER_ID])
        )
        step("fitting churn models")
        fold = Fold(
            config, data, encoding, matrices, train_df, valid_df, test_df, segment, btyd, progress
        )
        churn_results = _churn_models(fold)
        step("fitting CLV models")
        clv_results = _clv_models(fold)
        results = churn_results + clv_results
        evaluation = evaluation_table(results)
        predictions = test_df[[CUSTOMER_ID, CHURN, FUTURE_VALUE]].assign(segment=segment)
        for r in results:
            predictions[f"{r.task}.{r.name}"] = r.test_pred
        log("\n" + markdown_table(evaluation))

        step("logging to MLflow, registering and gating the LightGBM models")
        _log_parent(evaluation, results, test_df)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "test_predictions.parquet"
            predictions.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
        decisions: dict[str, Decision] = {}
        versions: dict[str, str] = {}
        gates = {
            "churn": (config.registry.churn, config.promotion.churn_metric),
            "clv": (config.registry.clv, config.promotion.clv_metric),
        }
        for result in results:
            with mlflow.start_run(run_name=f"{result.task}/{result.name}", nested=True):
                _log_model_run(result)
                if result.bundle is None:
                    continue
                name, metric = gates[result.task]
                version, decision = _register(result, name, metric, config, data, test_df)
            versions[result.task], decisions[result.task] = version, decision
            mlflow.set_tags(
                {
                    f"gate.{result.task}.decision": "champion"
                    if decision.promote
                    else "challenger",
                    f"gate.{result.task}.reason": decision.reason,
                    f"gate.{result.task}.version": version,
                }
            )
            log(
                f"  {name} v{version}: {'champion' if decision.promote else 'challenger'} ({decision.reason})"
            )
        seconds = time.perf_counter() - step.start
        mlflow.log_metric("train_seconds", seconds)
        step(f"done: run {run.info.run_id} in experiment '{config.name}' at {uri}")
    return TrainResult(
        run.info.run_id,
        experiment_id,
        uri,
        evaluation,
        decisions,
        versions,
        data.split.test,
        seconds,
        predictions,
    )


def _segments(data: TrainingData, test_df: pd.DataFrame, new_days: int) -> np.ndarray:
    """'new' or 'established' per test row, by days since the customer's first event."""
    codes = pd.Index(data.prep.ids).get_indexer(test_df[CUSTOMER_ID])
    age = to_day(data.split.test) - data.prep.first_day[codes]
    return np.where(age < new_days, "new", "established")


def _bundle(
    kind: str,
    model: LightGBMChurn | LightGBMSpend,
    encoding: FeatureEncoding,
    config: ExperimentConfig,
    data: TrainingData,
) -> ModelBundle:
    return ModelBundle(
        kind="churn" if kind == "churn" else "clv",
        booster=model.booster_,
        encoding=encoding,
        horizon_days=config.horizon_days,
        families=data.families,
        attributes=data.attributes,
        platt=getattr(model, "platt_", None),
        card=ModelCard(
            task="churn" if kind == "churn" else "clv",
            model="lightgbm",
            experiment=config.name,
            trained_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            horizon_days=config.horizon_days,
            features=list(encoding.columns),
            data=DataSummary(
                fingerprint=data.fingerprint,
                rows=data.rows,
                customers=data.prep.n_customers,
                start=str(data.prep.date_range[0].date()),
                end=str(data.prep.date_range[1].date()),
                timezone=config.data.transactions.timezone,
                business="contractual" if config.contractual else "noncontractual",
                active_days=config.active_days,
            ),
            cutoffs=Cutoffs(
                train=[str(c.date()) for c in data.split.train],
                validation=str(data.split.validation.date()),
                test=str(data.split.test.date()),
            ),
            best_iteration=model.best_iteration_,
        ),
    )


def _lgb_kwargs(config: ExperimentConfig, task: str, progress: bool) -> dict[str, Any]:
    params = (config.churn.lightgbm if task == "churn" else config.clv.lightgbm).model_dump()
    return {**params, "random_state": config.seed, "verbose": int(progress)}


@dataclass
class Fold:
    """One out-of-time split with everything the model fits share."""

    config: ExperimentConfig
    data: TrainingData
    encoding: FeatureEncoding
    matrices: dict[str, np.ndarray]
    train_df: pd.DataFrame
    valid_df: pd.DataFrame
    test_df: pd.DataFrame
    segment: np.ndarray
    btyd: BtydBaseline
    progress: bool = False


def _churn_models(fold: Fold) -> list[ModelResult]:
    """LightGBM (first) and the churn baselines, scored on the test cutoff."""
    config, data, encoding, m = fold.config, fold.data, fold.encoding, fold.matrices
    train_df, valid_df, test_df, segment, btyd = (
        fold.train_df,
        fold.valid_df,
        fold.test_df,
        fold.segment,
        fold.btyd,
    )
    y_train, y_valid, y_test = (df[CHURN].to_numpy() for df in (train_df, valid_df, test_df))
    empc = EMPCParams(**config.empc.model_dump())

    def result(name: str, p: np.ndarray, params: dict[str, Any], **extra: Any) -> ModelResult:
        frame = pd.DataFrame({SLICE: segment, "y": y_test, "p": p})
        slices = metrics_by_slice(
            frame, SLICE, lambda g: churn_metrics(g["y"], g["p"], empc_params=empc)
        )
        return ModelResult(
            "churn", name, p, churn_metrics(y_test, p, empc_params=empc), slices, params, **extra
        )

    lgbm = LightGBMChurn(
        **_lgb_kwargs(config, "churn", fold.progress),
        balance_classes=config.churn.balance_classes,
        calibrate=config.churn.calibrate,
        monotone_increasing=tuple(
            c for c in config.churn.monotone_increasing if c in encoding.columns
        ),
    )
    lgbm.fit(
        m["train"],
        y_train,
        eval_set=(m["valid"], y_valid),
        feature_names=list(encoding.columns),
        categorical=encoding.categorical_indices,
    )
    bundle = _bundle("churn", lgbm, encoding, config, data)
    valid_p = bundle.predict_matrix(m["valid"])
    # top 20% of validation scores 'high', next 30% 'medium'
    bundle.risk_tiers = (float(np.quantile(valid_p, 0.8)), float(np.quantile(valid_p, 0.5)))
    out = [
        result(
            "lightgbm",
            bundle.predict_matrix(m["test"]),
            {**lgbm.get_params(), "best_iteration": lgbm.best_iteration_, "platt": lgbm.platt_},
            bundle=bundle,
            importance=lgbm.feature_importance(),
        )
    ]

    numeric = [c for c in data.features if c not in data.categorical]
    logistic = logistic_baseline(numeric, data.categorical, seed=config.seed)
    logistic.fit(train_df[data.features], y_train)
    out.append(result("logistic", logistic.predict_proba(test_df[data.features])[:, 1], {"C": 1.0}))

    if "days_since_last_purchase" in train_df:
        rule = RecencyRule().fit(train_df[["days_since_last_purchase"]].to_numpy(), y_train)
        out.append(
            result(
                "recency_rule",
                rule.predict_proba(test_df[["days_since_last_purchase"]].to_numpy())[:, 1],
                {},
            )
        )

    out.append(result("bgnbd", btyd.churn, btyd.params()))
    bundle.card = bundle.card.model_copy(update={"test_metrics": out[0].metrics})
    return out


def _clv_models(fold: Fold) -> list[ModelResult]:
    """LightGBM (first) and the CLV baselines, scored on the test cutoff."""
    config, data, encoding, m = fold.config, fold.data, fold.encoding, fold.matrices
    train_df, valid_df, test_df, segment, btyd = (
        fold.train_df,
        fold.valid_df,
        fold.test_df,
        fold.segment,
        fold.btyd,
    )
    y_train, y_valid, y_test = (df[FUTURE_VALUE].to_numpy() for df in (train_df, valid_df, test_df))

    def result(name: str, pred: np.ndarray, params: dict[str, Any], **extra: Any) -> ModelResult:
        frame = pd.DataFrame({SLICE: segment, "y": y_test, "p": pred})
        slices = metrics_by_slice(frame, SLICE, lambda g: clv_metrics(g["y"], g["p"]))
        return ModelResult("clv", name, pred, clv_metrics(y_test, pred), slices, params, **extra)

    lgbm = LightGBMSpend(
        **_lgb_kwargs(config, "clv", fold.progress),
        tweedie_variance_power=config.clv.tweedie_variance_power,
    )
    lgbm.fit(
        m["train"],
        y_train,
        eval_set=(m["valid"], y_valid),
        feature_names=list(encoding.columns),
        categorical=encoding.categorical_indices,
    )
    bundle = _bundle("clv", lgbm, encoding, config, data)
    out = [
        result(
            "lightgbm",
            bundle.predict_matrix(m["test"]),
            {**lgbm.get_params(), "best_iteration": lgbm.best_iteration_},
            bundle=bundle,
            importance=lgbm.feature_importance(),
        )
    ]
    out.append(result("bgnbd_gamma_gamma", btyd.spend, btyd.params()))
    last = last_period_spend(
        data.prep, data.split.test, config.horizon_days, pd.Index(test_df[CUSTOMER_ID])
    )
    out.append(result("last_period", last, {"days": config.horizon_days}))
    bundle.card = bundle.card.model_copy(update={"test_metrics": out[0].metrics})
    return out


def evaluation_table(results: list[ModelResult]) -> pd.DataFrame:
    """One row per (task, model) with its test metrics."""
    rows = [{"task": r.task, "model": r.name, **r.metrics} for r in results]
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""

    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _reports_text(data: TrainingData) -> str:
    lines = [line for r in data.load_reports for line in r.lines()]
    lines += [r.line() for r in data.label_reports]
    return "\n".join(lines) + "\n"


def _log_model_run(result: ModelResult) -> None:
    """Params, test metrics (overall and per segment) and importance of one model, in its run."""
    mlflow.set_tags({"retain.task": result.task, "retain.model": result.name})
    mlflow.log_params({k: str(v)[:500] for k, v in result.params.items()})
    mlflow.log_metrics({f"test.{k}": v for k, v in result.metrics.items() if np.isfinite(v)})
    for segment, row in result.slices.iterrows():
        mlflow.log_metrics(
            {f"test.{segment}.{k}": float(v) for k, v in row.items() if np.isfinite(v)}
        )
    mlflow.log_text(result.slices.to_csv(), "slices.csv")
    if result.importance:
        fig = plots.importance_plot(
            result.importance, f"{result.task} {result.name}: feature importance"
        )
        mlflow.log_figure(fig, "feature_importance.png")
        plots.close(fig)
        mlflow.log_dict(result.importance, "feature_importance.json")


def _log_parent(
    evaluation: pd.DataFrame, results: list[ModelResult], test_df: pd.DataFrame
) -> None:
    for r in results:
        mlflow.log_metrics(
            {f"test.{r.task}.{r.name}.{k}": v for k, v in r.metrics.items() if np.isfinite(v)}
        )
    buffer = io.StringIO()
    evaluation.to_csv(buffer, index=False)
    mlflow.log_text(buffer.getvalue(), "evaluation.csv")
    mlflow.log_text(markdown_table(evaluation) + "\n", "evaluation.md")
    slices = pd.concat({(r.task, r.name): r.slices for r in results}, names=["task", "model"])
    mlflow.log_text(slices.to_csv(), "evaluation_by_segment.csv")
    y = test_df[CHURN].to_numpy()
    churn_scores = {r.name: r.test_pred for r in results if r.task == "churn"}
    for name, fig in (
        ("roc.png", plots.roc_plot(y, churn_scores)),
        ("precision_recall.png", plots.pr_plot(y, churn_scores)),
        ("calibration.png", plots.calibration_plot(y, churn_scores)),
        ("gain.png", plots.gain_plot(y, churn_scores)),
    ):
        mlflow.log_figure(fig, f"plots/{name}")
        plots.close(fig)
    spend = test_df[FUTURE_VALUE].to_numpy()
    for r in results:
        if r.task == "clv":
            fig = plots.clv_decile_plot(spend, r.test_pred, r.name)
            mlflow.log_figure(fig, f"plots/clv_deciles_{r.name}.png")
            plots.close(fig)


def _champion_score(
    name: str,
    metric: str,
    result: ModelResult,
    config: ExperimentConfig,
    data: TrainingData,
    test_df: pd.DataFrame,
) -> tuple[str | None, float | None]:
    """The current champion's score on this run's test rows, or None if it cannot be scored."""
    current = champion(name)
    if current is None:
        return None, None
    bundle = load_bundle(name, str(current.version))
    if bundle.horizon_days != config.horizon_days:
        return str(current.version), None
    try:
        feats = build_features(data.prep, data.split.test, families=bundle.families)
    except ValueError:
        return str(current.version), None
    feats = feats.reindex(pd.Index(test_df[CUSTOMER_ID]))
    if bundle.encoding.missing_from(feats.columns):
        return str(current.version), None
    pred = bundle.predict(feats)
    if result.task == "churn":
        empc = EMPCParams(**config.empc.model_dump())
        metrics = churn_metrics(test_df[CHURN].to_numpy(), pred, empc_params=empc)
    else:
        metrics = clv_metrics(test_df[FUTURE_VALUE].to_numpy(), pred)
    return str(current.version), float(metrics[metric])


def _register(
    result: ModelResult,
    name: str,
    metric: str,
    config: ExperimentConfig,
    data: TrainingData,
    test_df: pd.DataFrame,
) -> tuple[str, Decision]:
    """In the model's run: log and register the bundle, then apply the promotion gate."""
    assert result.bundle is not None
    champ_version, champ_score = _champion_score(name, metric, result, config, data, test_df)
    example = test_df[list(result.bundle.encoding.columns)].head(5)
    info = log_bundle(result.bundle, example, registered_name=name)
    version = str(info.registered_model_version)
    decision = decide(
        metric, result.metrics[metric], champ_version, champ_score, config.promotion.min_improvement
    )
    apply_decision(name, version, decision)
    return version, decision


__all__ = ["CUTOFF", "ModelResult", "TrainResult", "evaluation_table", "markdown_table", "train"]
