"""``retain retrain``: the retraining loop a scheduler runs: monitor, then train, gate, package, score.

Asks ``retention.monitor.monitor`` whether the model is still right; when it recommends
retraining (or ``--force``), trains with the config (``training.pipeline.train``: the registry
gate decides whether the challenger becomes champion), tags the MLflow run with the verdict that
caused it, and, when a new champion was promoted, packages it and scores the base as of the
latest day, as ``retain package`` and ``retain score`` do. The exit code tells a scheduler what
happened (``EXIT_CODES``); a user error exits 2 like every command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retention.monitor import MonitorResult, monitor, record_verdict

NOTHING_TO_DO = 0
RETRAINED = 0
RECOMMENDED_NOT_RUN = 3
KEPT_CHAMPION = 4
EXIT_CODES = {
    NOTHING_TO_DO: "nothing to do (the model is still right), or retrained: a new champion "
    "is packaged and has scored the base",
    RECOMMENDED_NOT_RUN: "retraining is recommended but was not run (--check)",
    KEPT_CHAMPION: "retrained, but the registry gate kept the champion: nothing was packaged; "
    "look at `retain models`",
}
"""What each exit code of ``retain retrain`` means (user errors exit 2)."""
VERDICT_TAG = "retrain.verdict"
REASONS_TAG = "retrain.reasons"
GENERATION_TAG = "retrain.generation"
"""Tags of the MLflow run ``retain retrain`` started: the monitor verdict that caused it."""


@dataclass(frozen=True)
class Retrain:
    """What ``retain retrain`` decided and did."""

    verdict: MonitorResult
    ran: bool
    promoted: bool
    run_id: str | None
    code: int
    lines: list[str]


def retrain(
    config: Path,
    *,
    force: bool = False,
    check: bool = False,
    log: Callable[[str], None] = print,
) -> Retrain:
    """Monitor, then retrain when recommended or forced (module docstring)."""
    verdict = monitor(config)
    record_verdict(verdict)  # the service exports the last verdict on /metrics
    lines = [
        f"monitor: {verdict.verdict} (generation {verdict.generation_id}, as of {verdict.as_of})",
        *[f"  - {r.text}" for r in verdict.reasons],
    ]
    if not verdict.reasons and not force:
        return Retrain(verdict, False, False, None, NOTHING_TO_DO, [*lines, "nothing to do"])
    if check:
        return Retrain(
            verdict,
            False,
            False,
            None,
            RECOMMENDED_NOT_RUN,
            [*lines, "retraining recommended, not run (--check)"],
        )
    from core.config_file import load_config
    from model.registry import mlflow_client
    from training.pipeline import train

    for line in lines:
        log(line)
    result = train(load_config(config), progress=False, log=log)
    client = mlflow_client(result.tracking_uri)
    reasons = [r.text for r in verdict.reasons] or ["forced (--force)"]
    client.set_tag(
        result.run_id, VERDICT_TAG, "forced" if force and not verdict.reasons else verdict.verdict
    )
    client.set_tag(result.run_id, REASONS_TAG, json.dumps(reasons)[:5000])
    client.set_tag(result.run_id, GENERATION_TAG, verdict.generation_id)
    promoted = any(d.promote for d in result.decisions.values())
    done = [f"trained: MLflow run {result.run_id} (tagged with the verdict)"]
    if not promoted:
        reasons_kept = "; ".join(f"{k}: {d.reason}" for k, d in result.decisions.items())
        return Retrain(
            verdict,
            True,
            False,
            result.run_id,
            KEPT_CHAMPION,
            [*done, f"the gate kept the champion ({reasons_kept}); nothing packaged"],
        )
    from serving.cli import package_command, score_command

    package_command(config=config)  # as `retain package --config` and `retain score` do
    score_command(config=config)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(result.versions.items()))
    return Retrain(
        verdict,
        True,
        True,
        result.run_id,
        RETRAINED,
        [*done, f"new champion ({versions}) packaged; the base is scored with it (above)"],
    )


__all__ = ["EXIT_CODES", "KEPT_CHAMPION", "RECOMMENDED_NOT_RUN", "Retrain", "retrain"]
