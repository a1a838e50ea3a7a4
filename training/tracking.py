"""MLflow tracking of a finished training result: parent run, one nested run per candidate.

``train`` opens the parent run (so its id exists while fitting) and hands the finished
``TrainingRecord`` to ``log_training``, which writes everything users and tests read: config
params, data tags, ``test.<metric>`` metrics, the evaluation tables, plots, test predictions, and
per candidate its params, metrics, slices and importance. Servable candidates are logged and
registered through ``model.registry``, which alone defines the store, names and bundle layout.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from core.config import ExperimentConfig
from core.settings import project_root
from model.registry import CHALLENGER, CHAMPION, TEST_METRIC_PREFIX, artifact_location, log_bundle
from training import plots
from training.evaluation import Evaluation, ModelResult, markdown_table, slices_table
from training.frame import TrainingData
from training.registry import Decision

T = TEST_METRIC_PREFIX


@dataclass
class TrainingRecord:
    """A finished training run as tracking needs it: config, data, evaluation, registry names."""

    config: ExperimentConfig
    data: TrainingData
    evaluation: Evaluation
    registered_names: dict[str, str]
    """Registered model name per task, for the servable results."""


def ensure_experiment(name: str, uri: str) -> str:
    """The id of experiment ``name``, created with artifacts beside a local store if new."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(mlflow.create_experiment(name, artifact_location=artifact_location(uri)))


def git_commit() -> str:
    """The checkout's commit, with '+dirty' if it has uncommitted changes; 'unknown' outside git."""
    root = project_root()
    if root is None:
        return "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def flatten(prefix: str, value: Any) -> dict[str, str]:
    """A nested config as flat MLflow params: {'churn.lightgbm.num_leaves': '31', ...}."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: str(value)[:6000]}


def reports_text(data: TrainingData) -> str:
    """The load and label reports, one line each, as ``data_report.txt`` holds them."""
    lines = [line for r in data.load_reports for line in r.lines()]
    lines += [r.line() for r in data.label_reports]
    return "\n".join(lines) + "\n"


def log_training(record: TrainingRecord) -> dict[str, str]:
    """Log a finished run into the active parent run; returns the registered version per task."""
    config, data, evaluation = record.config, record.data, record.evaluation
    mlflow.set_tags(
        {
            "retain.git_commit": git_commit(),
            "retain.business": "contractual" if config.contractual else "noncontractual",
            **data.tags(),
        }
    )
    mlflow.log_params(flatten("", config.model_dump(mode="json")))
    mlflow.log_text(reports_text(data), "data_report.txt")
    _log_evaluation(evaluation)
    versions: dict[str, str] = {}
    for result in evaluation.results:
        with mlflow.start_run(run_name=f"{result.task}/{result.name}", nested=True):
            _log_model_run(result)
            if result.bundle is not None:
                columns = list(result.bundle.encoding.inputs)
                info = log_bundle(
                    result.bundle,
                    evaluation.test[columns].head(5),
                    registered_name=record.registered_names[result.task],
                )
                versions[result.task] = str(info.registered_model_version)
    return versions


def log_gate(decisions: dict[str, Decision], versions: dict[str, str], seconds: float) -> None:
    """The gate's decision per task and the run's duration, on the parent run."""
    for task, decision in decisions.items():
        mlflow.set_tags(
            {
                f"gate.{task}.decision": CHAMPION if decision.promote else CHALLENGER,
                f"gate.{task}.reason": decision.reason,
                f"gate.{task}.version": versions[task],
            }
        )
    mlflow.log_metric("train_seconds", seconds)


def _finite(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}


def versus_metrics(result: ModelResult) -> dict[str, float]:
    """The validation score and, per metric, the difference to the best baseline with its
    interval: ``vs_baseline.<metric>.diff`` / ``.low`` / ``.high``."""
    out = {"validation": result.validation}
    for metric, interval in result.versus.items():
        key = f"vs_baseline.{metric}"
        out |= {
            f"{key}.diff": interval.diff,
            f"{key}.low": interval.low,
            f"{key}.high": interval.high,
        }
    return out


def _log_evaluation(evaluation: Evaluation) -> None:
    """Parent-run metrics, evaluation tables, plots and test predictions."""
    results = evaluation.results
    for r in results:
        mlflow.log_metrics(_finite(r.metrics, f"{T}{r.task}.{r.name}."))
        mlflow.log_metrics(_finite(r.cv, f"cv.{r.task}.{r.name}."))
    table = evaluation.table
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    mlflow.log_text(buffer.getvalue(), "evaluation.csv")
    mlflow.log_text(markdown_table(table) + "\n", "evaluation.md")
    mlflow.log_text(slices_table(results).to_csv(), "evaluation_by_segment.csv")
    churn = [r for r in results if r.task == "churn"]
    y = evaluation.labels("churn")
    scores = {r.name: r.test_pred for r in churn}
    figures = {
        "roc.png": plots.roc_plot(y, scores),
        "precision_recall.png": plots.pr_plot(y, scores),
        "calibration.png": plots.calibration_plot(
            {r.name: r.calibration for r in churn if r.calibration is not None}
        ),
        "gain.png": plots.gain_plot({r.name: r.gain for r in churn if r.gain is not None}),
    }
    figures |= {
        f"clv_deciles_{r.name}.png": plots.clv_decile_plot(r.deciles, r.name)
        for r in results
        if r.deciles is not None
    }
    for name, fig in figures.items():
        mlflow.log_figure(fig, f"plots/{name}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test_predictions.parquet"
        evaluation.predictions.to_parquet(path, index=False)
        mlflow.log_artifact(str(path))


def _log_model_run(result: ModelResult) -> None:
    """Params, test metrics (overall and per segment) and importance of one model, in its run."""
    mlflow.set_tags({"retain.task": result.task, "retain.model": result.name})
    mlflow.log_params({k: str(v)[:500] for k, v in result.params.items()})
    mlflow.log_metrics(_finite(result.metrics, T))
    mlflow.log_metrics(_finite(result.cv, "cv."))
    mlflow.log_metrics(_finite(versus_metrics(result), ""))
    mlflow.log_metrics(_finite(result.fit_metrics, ""))
    if result.servable:
        mlflow.set_tags({"retain.servable": "yes", "retain.chosen": str(result.chosen).lower()})
    if result.chosen:
        mlflow.set_tag("retain.selection", result.selection[:5000])
    for segment, row in result.slices.iterrows():
        mlflow.log_metrics(_finite(row.to_dict(), f"{T}{segment}."))
    mlflow.log_text(result.slices.to_csv(), "slices.csv")
    if result.importance:
        fig = plots.importance_plot(
            result.importance, f"{result.task} {result.name}: feature importance"
        )
        mlflow.log_figure(fig, "feature_importance.png")
        mlflow.log_dict(result.importance, "feature_importance.json")
