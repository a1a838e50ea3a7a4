"""The model registry gate: a new version becomes ``champion`` only if it beats the current one.

Both are scored on the same test customers (the current run's test cutoff). A gain counts when a
paired bootstrap interval of it lies wholly on the better side of zero, or when it exceeds
``promotion.min_improvement``; churn and CLV move together unless told to move separately. A first
version (no champion yet) must beat the trivial policy instead: the churn rate for everyone
(ROC-AUC 0.5), the training mean for everyone (CLV), random order (uplift, Qini 0), by a paired
interval of the gain wholly on the better side of zero; otherwise it is registered, not promoted. The
decision, the scores and the reason are written as tags on the new version and logged in the
run. Every change of champion is recorded on the registered model, so ``rollback`` can restore
the previous one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import math
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from core.processes import process_alive
from core.settings import retain_home
from model.registry import (
    CHALLENGER,
    CHAMPION,
    TEST_METRIC_PREFIX,
    RegistryError,
    Tag,
    mlflow_client,
    version_by_alias,
)
from training.metrics import LOWER_IS_BETTER, PairedInterval

NO_CHAMPION = "no champion yet"
TRIVIAL = {
    "churn": "one churn rate for everyone",
    "clv": "the training mean for everyone",
    "uplift": "random order",
}
"""The trivial policy a first version of each task must beat, in plain words."""
INTERRUPTED = "interrupted"
"""The decision tag of a version whose training died before the gate decided on it."""
PID_TAG = "retain.pid"
HOST_TAG = "retain.host"
"""Tags on a training's parent run: which process on which machine runs it."""
INTERRUPTED_TAG = "retain.interrupted"


@dataclass(frozen=True)
class Decision:
    """Whether a new version replaces the champion, and why.

    ``qualifies`` is the gate's verdict for this model alone; ``promote`` is the final one, which
    joint promotion (:func:`joint`) may overrule so churn and CLV move together.
    """

    promote: bool
    reason: str
    metric: str
    new_score: float
    champion_version: str | None = None
    champion_score: float | None = None
    interval: PairedInterval | None = None
    qualifies: bool = False
    evidence: str = ""
    """The comparison without the verdict, e.g. 'roc_auc +0.0008 (95% CI ...): not significant'."""
    trivial_failed: bool = False
    """A first version that does not beat the trivial policy: never promoted, even jointly."""

    def tags(self) -> dict[str, str]:
        interval = self.interval
        return {
            Tag.DECISION: CHAMPION if self.promote else CHALLENGER,
            Tag.REASON: self.reason,
            Tag.GATE_METRIC: self.metric,
            Tag.GATE_SCORE: f"{self.new_score:.6g}",
            Tag.GATE_CHAMPION_SCORE: ""
            if self.champion_score is None
            else f"{self.champion_score:.6g}",
            Tag.GATE_INTERVAL: ""
            if interval is None
            else f"{interval.low:.6g} {interval.high:.6g} {interval.level:g}",
        }


MONEY_METRICS = frozenset({"profit_at_budget"})
"""Gate metrics in money: written to the unit, with thousands separators."""


def _signed(value: float, metric: str = "") -> str:
    return f"{value:+,.0f}" if metric in MONEY_METRICS else f"{value:+.4f}"


def _plain(value: float, metric: str) -> str:
    return f"{value:,.0f}" if metric in MONEY_METRICS else f"{round(value, 4) + 0.0:.4f}"


def _ci(interval: PairedInterval) -> str:
    pct = f"{interval.level * 100:g}%"
    if math.isnan(interval.low):
        return f"{pct} CI could not be estimated"
    m = interval.metric
    return f"{pct} CI {_signed(interval.low, m)} to {_signed(interval.high, m)}"


def first_version(
    metric: str, new_score: float, trivial: PairedInterval | None, trivial_name: str
) -> Decision:
    """A version with no champion to beat: promoted only when the paired interval of its gain
    over the trivial policy (``trivial``: new minus trivial, on the same test customers) lies
    wholly on the better side of zero."""
    if trivial is None:
        reason = (
            f"{NO_CHAMPION}, and it could not be compared with {trivial_name}; registered, not "
            "promoted (`retain promote` makes it champion by hand)"
        )
        return Decision(False, reason, metric, new_score, evidence=reason, trivial_failed=True)
    lower = metric in LOWER_IS_BETTER
    better = (trivial.high < 0) if lower else (trivial.low > 0)
    comparison = (
        f"{NO_CHAMPION}; {metric} {_plain(trivial.challenger, metric)} against "
        f"{_plain(trivial.champion, metric)} for "
        f"{trivial_name}, gain {_signed(trivial.diff, metric)} ({_ci(trivial)}"
        f"{'; lower is better' if lower else ''}) on the same {trivial.n:,} test customers"
    )
    if better:
        evidence = f"{comparison}: beats it"
        return Decision(
            True,
            f"{evidence}, promoted",
            metric,
            new_score,
            None,
            trivial.champion,
            trivial,
            True,
            evidence,
        )
    evidence = f"{comparison}: does not beat it"
    return Decision(
        False,
        f"{evidence}, so registered, not promoted (`retain promote` makes it champion by hand)",
        metric,
        new_score,
        None,
        trivial.champion,
        trivial,
        False,
        evidence,
        trivial_failed=True,
    )


def decide(
    metric: str,
    new_score: float,
    champion_version: str | None,
    interval: PairedInterval | None,
    min_improvement: float = 0.0,
    *,
    trivial: PairedInterval | None = None,
    trivial_name: str = "the trivial policy",
) -> Decision:
    """Promote when the paired interval of the gain over the champion lies wholly on the better
    side of zero, or when the observed gain exceeds ``min_improvement`` (if > 0). Without a
    champion, ``trivial`` (the gain over the trivial policy) decides (:func:`first_version`)."""
    if champion_version is None:
        return first_version(metric, new_score, trivial, trivial_name)
    if interval is None or math.isnan(interval.champion):
        reason = (
            f"champion v{champion_version} could not be scored on this run's test data; "
            "compare by hand and use `retain promote`"
        )
        return Decision(False, reason, metric, new_score, champion_version, evidence=reason)
    lower = metric in LOWER_IS_BETTER
    diff, low, high = interval.diff, interval.low, interval.high
    gain = -diff if lower else diff
    comparison = (
        f"{metric} {_signed(diff)} ({_ci(interval)}{'; lower is better' if lower else ''}) "
        f"vs champion v{champion_version} on the same {interval.n:,} test customers"
    )
    better_side = (high < 0) if lower else (low > 0)
    worse_side = (low > 0) if lower else (high < 0)
    margin = min_improvement > 0 and gain > min_improvement
    if better_side:
        verdict = "significant"
    elif margin:
        verdict = f"not significant but above promotion.min_improvement {min_improvement:g}"
    elif worse_side:
        verdict = "significantly worse"
    else:
        verdict = "not significant"
    qualifies = better_side or margin
    return Decision(
        qualifies,
        f"{comparison}: {verdict}, " + ("promoted" if qualifies else "champion kept"),
        metric,
        new_score,
        champion_version,
        interval.champion,
        interval,
        qualifies,
        f"{comparison}: {verdict}",
    )


def joint(decisions: dict[str, Decision], *, separately: bool = False) -> dict[str, Decision]:
    """Move churn and CLV champions together, so the served pair comes from one training run.

    When some models qualify and others do not, none is promoted and each reason says why; when
    some model has no champion yet (and beats the trivial policy), all are promoted. A first
    version that does not beat the trivial policy is never promoted, nor is another "with" it.
    ``separately`` keeps each model's verdict.
    """
    failed = {task: d for task, d in decisions.items() if d.trivial_failed}
    rest = {task: d for task, d in decisions.items() if task not in failed}
    if separately or len(rest) < 2:
        return decisions
    joined = _joint(rest)
    return {task: failed.get(task) or joined[task] for task in decisions}


def _joint(decisions: dict[str, Decision]) -> dict[str, Decision]:
    """Joint promotion of models that all have a champion or beat the trivial policy."""
    if all(d.promote for d in decisions.values()) or not any(
        d.qualifies for d in decisions.values()
    ):
        return decisions
    empty = [task for task, d in decisions.items() if d.champion_version is None]
    if empty:
        first = empty[0]
        return {
            task: d
            if d.promote
            else replace(
                d,
                promote=True,
                reason=f"promoted with {first}, which has no champion yet, so both champions "
                f"come from one run ({task} alone: {d.evidence})",
            )
            for task, d in decisions.items()
        }
    qualified = [task for task, d in decisions.items() if d.qualifies]
    failed = [task for task, d in decisions.items() if not d.qualifies]
    evidence = "; ".join(f"{task}: {d.evidence}" for task, d in decisions.items())
    reason = (
        f"{' and '.join(qualified)} {'qualifies' if len(qualified) == 1 else 'qualify'} but "
        f"{' and '.join(failed)} {'does' if len(failed) == 1 else 'do'} not ({evidence}); "
        "neither promoted, so the served models keep one feature set "
        "(`retain train --promote-separately` or promotion.separately: true moves them alone)"
    )
    return {task: replace(d, promote=False, reason=reason) for task, d in decisions.items()}


@contextmanager
def registry_lock(uri: str, log: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold the registry lock of the tracking store at ``uri`` (a file lock under the state folder).

    Serialises, between processes of this machine, every read of a champion that leads to moving
    an alias: the gate (from reading the champions to the last alias), promote and rollback.
    """
    folder = retain_home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"registry-{hashlib.sha256(uri.encode()).hexdigest()[:16]}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process to finish with the registry ({path})")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run_tags() -> dict[str, str]:
    """The tags a training's parent run carries so that a later one can tell it died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def recover_interrupted(names: list[str], *, uri: str) -> list[str]:
    """Mark runs of dead trainings FAILED and tag versions left without a decision.

    Call under ``registry_lock``: no live training is then between registering and deciding.
    A run counts as dead when it is RUNNING, was started on this machine and its process is
    gone (runs from other machines are left alone). Returns one line per change.
    """
    c = mlflow_client(uri)
    lines: list[str] = []
    experiments = [e.experiment_id for e in c.search_experiments()]
    running = (
        c.search_runs(experiments, "attributes.status = 'RUNNING'", max_results=5000)
        if experiments
        else []
    )
    host = socket.gethostname()
    dead = {
        r.info.run_id
        for r in running
        if r.data.tags.get(HOST_TAG) == host
        and r.data.tags.get(PID_TAG, "").isdigit()
        and not process_alive(int(r.data.tags[PID_TAG]))
    }
    for r in running:
        parent = r.data.tags.get("mlflow.parentRunId")
        if r.info.run_id in dead or parent in dead:
            c.set_tag(r.info.run_id, INTERRUPTED_TAG, "its process ended before the run did")
            c.set_terminated(r.info.run_id, status="FAILED")
            if r.info.run_id in dead:
                lines.append(f"run {r.info.run_id} was interrupted: marked FAILED")
    for name in names:
        try:
            versions = c.search_model_versions(f"name='{name}'")
        except MlflowException:
            continue
        for v in sorted(versions, key=lambda v: int(v.version)):
            decision = (v.tags or {}).get(Tag.DECISION)
            if decision not in (None, "", CHAMPION) or _training_running(c, v.run_id):
                continue
            if not decision:
                lines.append(tag_undecided(name, str(v.version), uri=uri))
            elif str(v.version) not in _history(c, name):
                # decided champion, killed before the alias moved: finish the joint move
                set_champion(name, str(v.version), (v.tags or {}).get(Tag.REASON, ""), uri=uri)
                lines.append(
                    f"{name} v{v.version}: champion (the interrupted training had decided so; "
                    "the alias is now moved)"
                )
    return lines


def _training_running(c: MlflowClient, run_id: str | None) -> bool:
    """Whether the training run behind a version (its parent run) is still running."""
    if not run_id:
        return False
    run = c.get_run(run_id)
    parent = run.data.tags.get("mlflow.parentRunId")
    if parent:
        run = c.get_run(parent)
    return bool(run.info.status == "RUNNING")


def tag_undecided(name: str, version: str, *, uri: str) -> str:
    """Give a version whose training ended before the gate decided the 'interrupted' decision."""
    reason = (
        "its training ended before the gate decided; never promoted "
        "(`retain promote` makes it champion by hand)"
    )
    c = mlflow_client(uri)
    c.set_model_version_tag(name, version, Tag.DECISION, INTERRUPTED)
    c.set_model_version_tag(name, version, Tag.REASON, reason)
    return f"{name} v{version}: {INTERRUPTED} ({reason})"


def _history(c: MlflowClient, name: str) -> list[str]:
    tags = c.get_registered_model(name).tags
    return list(json.loads(tags.get(Tag.CHAMPION_HISTORY, "[]")))


def set_champion(name: str, version: str, reason: str, *, uri: str) -> None:
    """Give ``version`` the champion alias and record it in the champion history."""
    c = mlflow_client(uri)
    previous = version_by_alias(name, tracking_uri=uri)
    c.set_registered_model_alias(name, CHAMPION, version)
    history = [v for v in _history(c, name) if v != version] + [version]
    c.set_registered_model_tag(name, Tag.CHAMPION_HISTORY, json.dumps(history))
    c.set_model_version_tag(name, version, Tag.DECISION, CHAMPION)
    c.set_model_version_tag(name, version, Tag.REASON, reason)
    if previous is not None and str(previous.version) != version:
        c.set_model_version_tag(name, str(previous.version), Tag.DECISION, "retired")


def apply_decision(name: str, version: str, decision: Decision, *, uri: str) -> None:
    """Tag the new version with the decision and move the aliases accordingly."""
    tag_decision(name, version, decision, uri=uri)
    move_alias(name, version, decision, uri=uri)


def tag_decision(name: str, version: str, decision: Decision, *, uri: str) -> None:
    """Write the gate's decision on the new version (before any alias moves)."""
    c = mlflow_client(uri)
    for key, value in decision.tags().items():
        c.set_model_version_tag(name, version, key, value)


def move_alias(name: str, version: str, decision: Decision, *, uri: str) -> None:
    """Move the champion (or challenger) alias to the new version as decided."""
    if decision.promote:
        set_champion(name, version, decision.reason, uri=uri)
    else:
        mlflow_client(uri).set_registered_model_alias(name, CHALLENGER, version)


def promote(name: str, version: str, *, uri: str) -> str:
    """Make ``version`` the champion by hand; returns the version it replaced (or '')."""
    with registry_lock(uri):
        _check_version(mlflow_client(uri), name, version)
        previous = version_by_alias(name, tracking_uri=uri)
        set_champion(name, version, "promoted by hand with `retain promote`", uri=uri)
    return str(previous.version) if previous is not None else ""


def rollback(name: str, *, uri: str) -> tuple[str, str]:
    """Give the champion alias back to the previous champion; returns (from, to) versions."""
    with registry_lock(uri):
        return _rollback(name, uri)


def _rollback(name: str, uri: str) -> tuple[str, str]:
    c = mlflow_client(uri)
    current = version_by_alias(name, tracking_uri=uri)
    if current is None:
        raise RegistryError(f"model {name!r} has no champion to roll back")
    history = [v for v in _history(c, name) if v != str(current.version)]
    if not history:
        raise RegistryError(
            f"model {name!r}: v{current.version} is the only champion there has been"
        )
    target = history[-1]
    c.set_registered_model_alias(name, CHAMPION, target)
    c.set_registered_model_tag(name, Tag.CHAMPION_HISTORY, json.dumps(history))
    c.set_model_version_tag(name, str(current.version), Tag.DECISION, "rolled back")
    c.set_model_version_tag(
        name, target, Tag.REASON, f"restored by `retain rollback` from v{current.version}"
    )
    return str(current.version), target


def _check_version(c: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return c.get_model_version(name, version)
    except MlflowException as err:
        raise RegistryError(f"model {name!r} has no version {version!r}") from err


@dataclass(frozen=True)
class VersionInfo:
    """One registered version as ``retain models`` shows it."""

    model: str
    version: int
    aliases: list[str]
    created: str
    decision: str
    gate_metric: str
    gate_value: float | None
    """The gate metric's test value (from the version's run, else its gate tag)."""
    reason: str
    run_id: str
    metrics: dict[str, float]
    tags: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_versions(names: list[str], *, uri: str) -> list[VersionInfo]:
    """Every version of the named models with aliases, gate decision, test metrics and tags."""
    c = mlflow_client(uri)
    rows: list[VersionInfo] = []
    for name in names:
        try:
            versions = c.search_model_versions(f"name='{name}'")
            aliases = c.get_registered_model(name).aliases  # search results may omit them
        except MlflowException:
            continue
        for v in versions:
            run = c.get_run(v.run_id) if v.run_id else None
            metrics = {
                k.removeprefix(TEST_METRIC_PREFIX): float(val)
                for k, val in (run.data.metrics if run else {}).items()
                if k.startswith(TEST_METRIC_PREFIX)
            }
            tags = dict(v.tags or {})
            metric = tags.get(Tag.GATE_METRIC, "")
            value = metrics.get(metric)
            if value is None and tags.get(Tag.GATE_SCORE):
                value = float(tags[Tag.GATE_SCORE])
            rows.append(
                VersionInfo(
                    model=name,
                    version=int(v.version),
                    aliases=sorted(
                        {a for a, version in aliases.items() if str(version) == str(v.version)}
                        | set(v.aliases or [])
                    ),
                    created=_utc(v.creation_timestamp),
                    decision=tags.get(Tag.DECISION, ""),
                    gate_metric=metric,
                    gate_value=value,
                    reason=tags.get(Tag.REASON, ""),
                    run_id=v.run_id or "",
                    metrics=dict(sorted(metrics.items())),
                    tags=tags,
                )
            )
    return sorted(rows, key=lambda r: (r.model, r.version))


def _utc(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


VERSION_COLUMNS = {
    "model": 14,
    "version": 7,
    "aliases": 19,
    "decision": 11,
    "gate metric": 23,
    "created (UTC)": 16,
}
"""The compact listing's columns and their widest cells: 100 characters with the gaps."""


def versions_table(rows: list[VersionInfo]) -> str:
    """One line per version, at most 100 characters wide; reasons are left to ``--json``."""

    def clip(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "~"

    cells = [
        [
            r.model,
            f"v{r.version}",
            ",".join(r.aliases),
            r.decision,
            f"{r.gate_metric} {r.gate_value:.4f}" if r.gate_value is not None else r.gate_metric,
            r.created,
        ]
        for r in rows
    ]
    limits = list(VERSION_COLUMNS.values())
    header = list(VERSION_COLUMNS)
    widths = [
        min(limit, max([len(header[i])] + [len(row[i]) for row in cells]))
        for i, limit in enumerate(limits)
    ]
    lines = [header, *cells]
    return "\n".join(
        "  ".join(clip(cell, w).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
