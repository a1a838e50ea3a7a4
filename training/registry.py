"""The model registry gate: a new version becomes ``champion`` only if it beats the current one.

Both are scored on the same test data (the current run's test cutoff); the decision, the two
scores and the reason are written as tags on the new version and logged in the run. Every change
of champion is recorded on the registered model, so ``rollback`` can restore the previous one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from model.registry import (
    CHALLENGER,
    CHAMPION,
    TEST_METRIC_PREFIX,
    RegistryError,
    Tag,
    version_by_alias,
)

LOWER_IS_BETTER = frozenset({"brier", "log_loss", "mae", "rmse", "decile_mape"})


@dataclass(frozen=True)
class Decision:
    """Whether a new version replaces the champion, and why."""

    promote: bool
    reason: str
    metric: str
    new_score: float
    champion_version: str | None = None
    champion_score: float | None = None

    def tags(self) -> dict[str, str]:
        return {
            Tag.DECISION: CHAMPION if self.promote else CHALLENGER,
            Tag.REASON: self.reason,
            Tag.GATE_METRIC: self.metric,
            Tag.GATE_SCORE: f"{self.new_score:.6g}",
            Tag.GATE_CHAMPION_SCORE: ""
            if self.champion_score is None
            else f"{self.champion_score:.6g}",
        }


def decide(
    metric: str,
    new_score: float,
    champion_version: str | None,
    champion_score: float | None,
    min_improvement: float = 0.0,
) -> Decision:
    """Promote when there is no champion, or when the new score beats it by ``min_improvement``."""
    if champion_version is None:
        return Decision(True, "no champion yet", metric, new_score)
    if champion_score is None or math.isnan(champion_score):
        return Decision(
            False,
            f"champion v{champion_version} could not be scored on this run's test data; "
            "compare by hand and use `retain promote`",
            metric,
            new_score,
            champion_version,
            None,
        )
    lower = metric in LOWER_IS_BETTER
    gain = (champion_score - new_score) if lower else (new_score - champion_score)
    better = gain > min_improvement if min_improvement > 0 else gain > 0
    word = "lower" if lower else "higher"
    comparison = (
        f"{metric} {new_score:.4f} vs champion v{champion_version} {champion_score:.4f} "
        f"on the same test data ({word} is better"
        + (f", margin required {min_improvement:g})" if min_improvement > 0 else ")")
    )
    return Decision(
        better,
        ("beats" if better else "does not beat") + f" the champion: {comparison}",
        metric,
        new_score,
        champion_version,
        champion_score,
    )


def client() -> MlflowClient:
    return MlflowClient()


def _history(name: str) -> list[str]:
    tags = client().get_registered_model(name).tags
    return list(json.loads(tags.get(Tag.CHAMPION_HISTORY, "[]")))


def set_champion(name: str, version: str, reason: str) -> None:
    """Give ``version`` the champion alias and record it in the champion history."""
    c = client()
    previous = version_by_alias(name)
    c.set_registered_model_alias(name, CHAMPION, version)
    history = [v for v in _history(name) if v != version] + [version]
    c.set_registered_model_tag(name, Tag.CHAMPION_HISTORY, json.dumps(history))
    c.set_model_version_tag(name, version, Tag.DECISION, CHAMPION)
    c.set_model_version_tag(name, version, Tag.REASON, reason)
    if previous is not None and str(previous.version) != version:
        c.set_model_version_tag(name, str(previous.version), Tag.DECISION, "retired")


def apply_decision(name: str, version: str, decision: Decision) -> None:
    """Tag the new version with the decision and move the aliases accordingly."""
    c = client()
    for key, value in decision.tags().items():
        c.set_model_version_tag(name, version, key, value)
    if decision.promote:
        set_champion(name, version, decision.reason)
    else:
        c.set_registered_model_alias(name, CHALLENGER, version)


def promote(name: str, version: str) -> str:
    """Make ``version`` the champion by hand; returns the version it replaced (or '')."""
    _check_version(name, version)
    previous = version_by_alias(name)
    set_champion(name, version, "promoted by hand with `retain promote`")
    return str(previous.version) if previous is not None else ""


def rollback(name: str) -> tuple[str, str]:
    """Give the champion alias back to the previous champion; returns (from, to) versions."""
    current = version_by_alias(name)
    if current is None:
        raise RegistryError(f"model {name!r} has no champion to roll back")
    history = [v for v in _history(name) if v != str(current.version)]
    if not history:
        raise RegistryError(
            f"model {name!r}: v{current.version} is the only champion there has been"
        )
    target = history[-1]
    c = client()
    c.set_registered_model_alias(name, CHAMPION, target)
    c.set_registered_model_tag(name, Tag.CHAMPION_HISTORY, json.dumps(history))
    c.set_model_version_tag(name, str(current.version), Tag.DECISION, "rolled back")
    c.set_model_version_tag(
        name, target, Tag.REASON, f"restored by `retain rollback` from v{current.version}"
    )
    return str(current.version), target


def _check_version(name: str, version: str) -> ModelVersion:
    try:
        return client().get_model_version(name, version)
    except MlflowException as err:
        raise RegistryError(f"model {name!r} has no version {version!r}") from err


def list_versions(names: list[str]) -> pd.DataFrame:
    """Every version of the named models with aliases, gate decision and test metrics."""
    c = client()
    rows = []
    for name in names:
        try:
            versions = c.search_model_versions(f"name='{name}'")
        except MlflowException:
            continue
        for v in versions:
            run = c.get_run(v.run_id) if v.run_id else None
            metrics = run.data.metrics if run else {}
            tags = v.tags or {}
            rows.append(
                {
                    "model": name,
                    "version": int(v.version),
                    "aliases": ",".join(sorted(v.aliases)),
                    "created": pd.Timestamp(v.creation_timestamp, unit="ms").strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                    "decision": tags.get(Tag.DECISION, ""),
                    "gate": f"{tags.get(Tag.GATE_METRIC, '')}={tags.get(Tag.GATE_SCORE, '')}",
                    **{
                        k.removeprefix(TEST_METRIC_PREFIX): round(val, 4)
                        for k, val in metrics.items()
                        if k.startswith(TEST_METRIC_PREFIX)
                    },
                    "reason": tags.get(Tag.REASON, ""),
                }
            )
    if not rows:
        return pd.DataFrame(columns=["model", "version", "aliases"])
    return pd.DataFrame(rows).sort_values(["model", "version"]).reset_index(drop=True)
