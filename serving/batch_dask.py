"""``retain score`` on the dask engine: each customer partition is featured and scored on a worker.

Per partition, the pandas path's own functions run unchanged: ``build_features``, ``active_at``
(who is scored) and ``serving.batch.score_features`` (the service's scorer). The scores are
written as partitioned Parquet into the generation (``scores_parts/``), and gathered (one row per
scored customer) for ``scores.parquet``, ``scores.csv`` and the service's by-id lookup table,
which ``serving.batch.write_generation`` writes and commits exactly as the pandas path does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.config_file import ConfigFile
from core.cutoff import Cutoff
from core.errors import CutoffError
from features.build import build_features
from features.labels import active_at
from features.prepare import PreparedData, to_day
from serving.batch import (
    SCORES_PARTS,
    ScoreRun,
    check_packaged,
    finish_run,
    latest_day,
    resolve_as_of,
    score_features,
)
from serving.generation import GENERATION, GENERATIONS, read_meta
from serving.scorer import Scorer
from serving.store import load_packaged_scorer


def generation_of(out_dir: Path) -> str:
    meta_now = read_meta(out_dir) or {}
    return str(meta_now.get(GENERATION, ""))


@dataclass(frozen=True)
class ScoreTask:
    """Features, the active base and scores of one customer partition (picklable for workers)."""

    scorer: Scorer
    day: pd.Timestamp

    def __call__(self, prep: PreparedData) -> tuple[pd.DataFrame, tuple[pd.DataFrame, dict]]:
        features = build_features(prep, self.day, families=self.scorer.families)
        card = self.scorer.churn.card.data
        contractual = card.business == "contractual"
        active, excluded = active_at(
            prep,
            to_day(self.day),
            active_days=None if contractual else int(card.active_days),
            contractual=contractual,
        )
        scored = features.loc[features.index.isin(pd.Index(prep.ids[active]))]
        scores = score_features(self.scorer, scored, self.day, progress=False)
        return scores, (features, excluded)


def _latest(prep: PreparedData) -> pd.Timestamp | None:
    try:
        return latest_day(prep)
    except CutoffError:  # every event of this partition is in the future
        return None


def score_base_dask(
    config: Path,
    as_of: Cutoff,
    *,
    out_dir: Path,
    engine: Any,
    strict: bool = False,
    scorer: Scorer | None = None,
) -> ScoreRun:
    """``serving.batch.score_base`` with features and scores computed per customer partition.

    ``engine`` is an entered ``features.engine.DaskEngine``.
    """
    import dask

    from features.dask_engine import compute, map_partitions, read_parts, refuse_labelled

    started = time.perf_counter()
    file = ConfigFile.read(config)
    data_config = file.data()
    refuse_labelled(data_config)
    if strict:
        data_config = data_config.model_copy(update={"strict": True})
    scorer = scorer or load_packaged_scorer()
    check_packaged(file, scorer)
    parted = engine.load_partitioned(data_config)
    probe = next(p for k in range(parted.npartitions) if (p := parted.partition(k)) is not None)
    if as_of.is_latest:
        days = compute([dask.delayed(_latest_of)(parted, k) for k in range(parted.npartitions)])
        found = [d for d in days if d is not None]
        if not found:
            latest_day(probe)  # raises the pandas path's message
        day = max(found)
    else:
        day = resolve_as_of(probe, as_of)
    out = map_partitions(
        parted, ScoreTask(scorer, day), engine.work_dir / "scores", progress=engine.progress
    )
    features = pd.concat([f for f, _ in out.extras]).sort_index(kind="stable")
    excluded: dict[str, int] = {}
    for _, counts in out.extras:
        for why, n in counts.items():
            excluded[why] = excluded.get(why, 0) + n
    scores = read_parts(out, index=False) if out.paths else pd.DataFrame()
    if scores.empty:
        raise CutoffError(
            f"no customer is active as of {day.date()}: nothing to score; give a later --as-of"
        )
    run = finish_run(
        out_dir,
        scorer,
        scores,
        features,
        day,
        excluded,
        started=started,
        load_lines=[line for r in parted.reports for line in r.lines()],
        parts=out.paths,
        monitoring=file.monitoring(),
    )
    parts_dir = out_dir / GENERATIONS / generation_of(out_dir) / SCORES_PARTS
    run.load_lines.append(f"partitioned scores: {parts_dir}")
    return run


def _latest_of(parted: Any, index: int) -> pd.Timestamp | None:
    prep = parted.partition(index)
    return None if prep is None else _latest(prep)


__all__ = ["ScoreTask", "score_base_dask"]
