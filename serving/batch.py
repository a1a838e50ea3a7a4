"""``retain score``: score every active customer as of a date, and refresh the id lookup table.

Features come from ``features.build_features`` and scores from ``serving.scorer.Scorer``, the code
the HTTP service runs, so a customer's row here equals the service's answer for the same as-of
date. The active base is the one the models were trained on (``features.labels.active_at``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic_core import to_json
from tqdm.auto import tqdm

from core.config_file import ConfigFile
from core.cutoff import Cutoff
from core.errors import ConfigError, CutoffError
from core.monitoring import MonitoringConfig
from core.schema import ATTRIBUTE_PREFIX, CUSTOMER_ID
from core.settings import test_hook
from features.build import build_features
from features.labels import active_at
from features.loading import load_data, raise_if_unclean
from features.prepare import PreparedData, from_day, prepare, to_day
from features.readings import future_after
from serving.answers import ANSWER, ANSWER_TIER, ANSWERS_KEY, COLUMNS, answer_basis
from serving.files import (
    fsync_dir,
    fsync_file,
    remove_stale_temporaries,
    spreadsheet_safe,
    temporary_path,
)
from serving.generation import (
    GENERATION,
    GENERATIONS,
    PREVIOUS,
    SCORE_META,
    GenerationError,
    new_generation_id,
    prune,
    publish,
    read_meta,
    write_parquet,
)
from serving.labelled import snapshot_base
from serving.lookup import AS_OF, feature_table_path, normalise_ids
from serving.output import score_records, scores_table
from serving.score_history import record_generation
from serving.scorer import TIERS, EncodedBatch, ScoreArrays, Scorer
from serving.store import ECONOMICS, RISK_TIERS, load_packaged_scorer
from serving.uplift_store import (
    UPLIFT_CARD,
    UPLIFT_MODEL,
    load_packaged_uplift,
    with_served_uplift,
    with_uplift,
)

CHUNK_ROWS = 100_000
SCORES_PARTS = "scores_parts"
"""A generation's folder of partitioned scores (the dask engine's, one file per partition)."""
VALUE_BASIS = "value_basis"
"""The key of ``SCORE_META`` stating what value at risk rests on (``serving.scorer.ValueBasis``)."""
CARDS = "cards"
"""The key of ``SCORE_META`` holding the churn and CLV models' cards (``model.card``)."""


@dataclass
class ScoreRun:
    """What ``retain score`` wrote and how the base was counted."""

    as_of: pd.Timestamp
    scored: int
    known: int
    excluded: dict[str, int]
    scores_parquet: Path
    scores_csv: Path
    feature_table: Path
    versions: dict[str, str | None]
    seconds: float
    load_lines: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        left_out = ", ".join(f"{n:,} {why}" for why, n in self.excluded.items() if n)
        return [
            *self.load_lines,
            f"as of {self.as_of.date()}: scored {self.scored:,} active customers of {self.known:,} "
            f"known ({left_out or 'none left out'})",
            f"models: churn {self.versions['churn']}, "
            f"clv {self.versions['clv'] or 'none (churn only)'}",
            f"scores: {self.scores_parquet} and {self.scores_csv}",
            f"lookup table for the service: {self.feature_table}",
            f"took {self.seconds:.1f}s",
        ]


def resolve_as_of(prep: PreparedData, as_of: Cutoff) -> pd.Timestamp:
    """'latest' means the data's last day not in the future; a date must lie within the data."""
    start, end = prep.date_range
    day = latest_day(prep) if as_of.day is None else pd.Timestamp(as_of.day)
    if not start <= day <= end:
        raise CutoffError(
            f"--as-of {day.date()} is outside the data, which runs from {start.date()} to "
            f"{end.date()}; give a date in that range or 'latest'"
        )
    return day


def latest_day(prep: PreparedData) -> pd.Timestamp:
    """The last day with an event that is not dated in the future (``future_after``)."""
    limit = to_day(future_after())
    days = [prep.transactions.day]
    if prep.interactions is not None:
        days.append(prep.interactions.day)
    if prep.subscriptions is not None:
        days.append(prep.subscriptions.start_day)
    every = np.concatenate(days)
    past = every[every <= limit]
    if not len(past):
        raise CutoffError(
            f"every event is dated after today ({(future_after() - pd.Timedelta(days=1)).date()}):"
            " `--as-of latest` has no day to use; give --as-of a date"
        )
    return from_day(min(int(past.max()), prep.end_day))


def future_rows(prep: PreparedData) -> int:
    """Transactions dated after today, which ``--as-of latest`` ignores."""
    return int((prep.transactions.day > to_day(future_after())).sum())


def score_features(
    scorer: Scorer,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    progress: bool = True,
    answers: bool = False,
) -> pd.DataFrame:
    """Scores, tiers, top reasons and segments for a feature frame indexed by customer id.

    Vectorised in chunks (bounded memory for millions of customers) through ``Scorer.encode`` and
    ``Scorer.score``, the service's path; rows shaped by ``serving.output.scores_table``. With
    ``answers`` each row also carries the service's answer for it (``serving.answers``), which
    ``finish_run`` moves into the lookup table.
    """
    parts = []
    chunks = range(0, len(features), CHUNK_ROWS)
    for start in tqdm(
        chunks, desc="scoring", unit="chunk", disable=not progress or len(chunks) < 2
    ):
        part = features.iloc[start : start + CHUNK_ROWS]
        batch = scorer.encode(part)
        arrays = scorer.score(batch)
        table = scores_table(scorer, part.index, arrays, batch, as_of)
        if answers:
            table[ANSWER] = answer_bytes(scorer, part.index, arrays, batch, as_of)
            table[ANSWER_TIER] = arrays.tier
        parts.append(table)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    for column in features.columns:
        if column.startswith(ATTRIBUTE_PREFIX) or column == "plan":
            frame[column.removeprefix(ATTRIBUTE_PREFIX)] = features[column].to_numpy()
    frame["churn_model"] = scorer.versions["churn"]
    frame["clv_model"] = scorer.versions["clv"] or ""
    return frame


def answer_bytes(
    scorer: Scorer,
    ids: pd.Index,
    arrays: ScoreArrays,
    batch: EncodedBatch,
    as_of: pd.Timestamp,
) -> list[bytes]:
    """Each customer's ``/score_ids`` answer, serialised as the service serialises it."""
    keys = normalise_ids(ids).tolist()
    day = from_day(to_day(as_of)).date()
    records = score_records(scorer, keys, arrays, batch, [day] * len(keys))
    return [to_json(r, inf_nan_mode="null") for r in records]


def answers_by_id(scores: pd.DataFrame) -> pd.DataFrame | None:
    """The answer columns popped from ``scores``, indexed by normalised customer id (or None)."""
    if ANSWER not in scores.columns:
        return None
    keys = normalise_ids(scores[CUSTOMER_ID])
    return pd.DataFrame({c: scores.pop(c).to_numpy() for c in COLUMNS}, index=keys)


def score_base(
    config: Path,
    as_of: Cutoff,
    *,
    out_dir: Path,
    strict: bool = False,
    scorer: Scorer | None = None,
    progress: bool = True,
) -> ScoreRun:
    """Load the data, build features as of ``as_of``, score the active base and write outputs."""
    started = time.perf_counter()
    file = ConfigFile.read(config)
    data_config = file.data()
    scorer = with_served_uplift(scorer or load_packaged_scorer())
    check_packaged(file, scorer)
    notes = []
    if data_config.labelled:
        base = snapshot_base(data_config, as_of, scorer, strict=strict)
        day, features, reports = base.day, base.features, base.reports
        active_ids = features.index
        excluded = {"rows of other as_of days": base.other_days}
        contractual, active_days = False, scorer.churn.card.data.active_days
    else:
        if scorer.schema is not None:
            raise ConfigError(
                "the packaged models were trained on a CRM snapshots table: score with a config "
                "whose data has that snapshots table"
            )
        data, reports = load_data(data_config)
        if strict:
            raise_if_unclean(reports)
        prep = prepare(data)
        day = resolve_as_of(prep, as_of)
        ahead = future_rows(prep)
        if as_of.is_latest and ahead:
            notes.append(
                f"--as-of latest is {day.date()}: {ahead:,} transaction(s) dated after today are "
                "ignored for it (see the warning above)"
            )
        features = build_features(prep, day, families=scorer.families, progress=progress)
        contractual = scorer.churn.card.data.business == "contractual"
        active_days = scorer.churn.card.data.active_days
        active, excluded = active_at(
            prep,
            to_day(day),
            active_days=None if contractual else int(active_days),
            contractual=contractual,
        )
        if not active.any():
            window = (
                "a running subscription"
                if contractual
                else f"a purchase in the last {active_days} days"
            )
            raise CutoffError(
                f"no customer is active as of {day.date()} ({window}): nothing to score; "
                "give a later --as-of"
            )
        active_ids = pd.Index(prep.ids[active])
    scores = score_features(
        scorer,
        features.loc[features.index.isin(active_ids)],
        day,
        progress=progress,
        answers=True,
    )
    return finish_run(
        out_dir,
        scorer,
        scores,
        features,
        day,
        excluded,
        started=started,
        load_lines=[line for r in reports for line in r.lines()] + notes,
        monitoring=file.monitoring(),
    )


def finish_run(
    out_dir: Path,
    scorer: Scorer,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    day: pd.Timestamp,
    excluded: dict[str, int],
    *,
    started: float,
    load_lines: list[str],
    parts: list[Path] | None = None,
    monitoring: MonitoringConfig | None = None,
) -> ScoreRun:
    """Rank the scores by value at risk, add uplift when packaged, write the generation atomically
    and describe the run: the part every scoring engine shares after its scores exist."""
    rank_by = "value_at_risk" if scorer.value.known else "churn_probability"
    answers = answers_by_id(scores)
    scores = scores.sort_values(rank_by, ascending=False, kind="stable").reset_index(drop=True)
    notes = []
    uplift = load_packaged_uplift()
    if uplift is not None:
        scores, note = with_uplift(scores, features, uplift)
        notes += [note] if note else [f"uplift: {uplift.label} (expected incremental value)"]
    info = meta(scorer, day, len(scores))
    extra = None if answers is None else {ANSWERS_KEY: json.dumps(answer_basis(scorer)).encode()}
    if uplift is not None and UPLIFT_MODEL in scores:
        info[UPLIFT_MODEL] = uplift.label
        info[UPLIFT_CARD] = uplift.bundle.card  # the report's Qini section reads its curves
    scores_parquet, scores_csv, table_path = write_generation(
        out_dir,
        scores,
        features,
        day,
        feature_table_path(),
        info,
        parts=parts,
        answers=answers,
        answers_basis=extra,
    )
    committed = read_meta(out_dir) or {}
    record = record_generation(
        str(committed[GENERATION]),
        scores,
        features,
        info,
        scorer.churn.card,
        list(TIERS),
        keep=(monitoring or MonitoringConfig()).keep_generations,
    )
    notes.append(
        f"score history: generation {record.generation_id} recorded ({record.customers:,} "
        "customers; `retain monitor` compares it with the model's reference)"
    )
    return ScoreRun(
        as_of=from_day(to_day(day)),
        scored=len(scores),
        known=len(features),
        excluded={k: v for k, v in excluded.items() if "after the cutoff" not in k},
        scores_parquet=scores_parquet,
        scores_csv=scores_csv,
        feature_table=table_path,
        versions=scorer.versions,
        seconds=time.perf_counter() - started,
        load_lines=load_lines + notes,
    )


def check_economics(config: ConfigFile, scorer: Scorer) -> None:
    """The config's ``economics`` section, if it has one, must be the packaged models' economics.

    The service computes value at risk with the economics ``retain package --config`` recorded;
    batch scores computed with others would disagree with it, so that is an error, not a choice.
    """
    wanted = config.economics()  # a clear error for a bad section
    if not config.has(ECONOMICS):
        return
    if wanted != scorer.economics:
        raise ConfigError(
            f"{config.path}: economics {wanted.model_dump()} differ from those packaged with the "
            f"models ({scorer.economics.model_dump()}); run `retain package --config {config.path}` "
            "so the service and batch scores compute value at risk alike"
        )


def check_risk_tiers(config: ConfigFile, scorer: Scorer) -> None:
    """The config's ``risk_tiers`` section, if it has one, must be the packaged models' tiers,
    so that a customer's tier in the batch scores is the service's."""
    wanted = config.risk_tiers()  # a clear error for a bad section
    if config.has(RISK_TIERS) and wanted != scorer.risk_tiers:
        raise ConfigError(
            f"{config.path}: risk_tiers ({wanted.words()}) differ from those packaged with the "
            f"models ({scorer.risk_tiers.words()}); run `retain package --config {config.path}` "
            "so the service and batch scores put customers in the same tiers"
        )


def check_packaged(config: ConfigFile, scorer: Scorer) -> None:
    """The config's economics and risk tiers, where it sets them, are the packaged ones."""
    check_economics(config, scorer)
    check_risk_tiers(config, scorer)


def meta(scorer: Scorer, day: pd.Timestamp, scored: int) -> dict[str, Any]:
    """What ``score_meta.json`` records about a run besides its generation and files."""
    contractual = scorer.churn.card.data.business == "contractual"
    return {
        "as_of": str(day.date()),
        "horizon_days": scorer.churn.horizon_days,
        "contractual": contractual,
        "active_days": int(scorer.churn.card.data.active_days),
        "churn_model": scorer.versions["churn"],
        "clv_model": scorer.versions["clv"],
        VALUE_BASIS: scorer.value.text,
        "scored": scored,
        ECONOMICS: scorer.economics.model_dump(mode="json"),
        RISK_TIERS: scorer.risk_tiers.model_dump(mode="json"),
        CARDS: {
            "churn": scorer.churn.card.model_dump(mode="json"),
            "clv": None if scorer.clv is None else scorer.clv.card.model_dump(mode="json"),
        },
    }


def write_generation(
    out_dir: Path,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    day: pd.Timestamp,
    table_path: Path,
    info: dict[str, Any],
    *,
    parts: list[Path] | None = None,
    answers: pd.DataFrame | None = None,
    answers_basis: dict[bytes, bytes] | None = None,
) -> tuple[Path, Path, Path]:
    """Write one generation (see ``serving.generation``): files, commit, publish, prune.

    ``parts`` (the dask engine's partitioned scores) are moved into the generation's
    ``SCORES_PARTS`` folder before the commit, so they come and go with it.

    Test-hook points (``RETAIN_TEST_KILL_AT``) sit after each file is written and before the
    next step: ``score:scores.parquet``, ``score:scores.csv``, ``score:lookup``,
    ``score:meta`` (before the commit rename), ``score:committed``, ``score:published``.
    """
    generation = new_generation_id()
    try:
        previous = read_meta(out_dir)
    except GenerationError:
        previous = None
    previous_id = str((previous or {}).get(GENERATION, ""))
    gen_dir = out_dir / GENERATIONS / generation
    gen_dir.mkdir(parents=True)
    write_parquet(scores, gen_dir / "scores.parquet", generation)
    test_hook("score:scores.parquet")
    safe = spreadsheet_safe(scores)
    safe.to_csv(gen_dir / "scores.csv", index=False)
    fsync_file(gen_dir / "scores.csv")
    test_hook("score:scores.csv")
    table_path.parent.mkdir(parents=True, exist_ok=True)
    staged = temporary_path(table_path, generation)
    table = features.assign(**{AS_OF: day})
    if answers is not None:  # the service's answers of the scored customers (serving.answers)
        keyed = answers.reindex(normalise_ids(features.index))
        table[ANSWER] = keyed[ANSWER].to_numpy()
        table[ANSWER_TIER] = keyed[ANSWER_TIER].fillna(-1).to_numpy(dtype=np.int8)
    write_parquet(table.reset_index(), staged, generation, answers_basis)
    test_hook("score:lookup")
    if parts is not None:
        (gen_dir / SCORES_PARTS).mkdir()
        for part in parts:
            part.replace(gen_dir / SCORES_PARTS / part.name)
        fsync_dir(gen_dir / SCORES_PARTS)
    fsync_dir(gen_dir)
    files = {name: (gen_dir / name).stat().st_size for name in ("scores.parquet", "scores.csv")}
    record = {
        GENERATION: generation,
        PREVIOUS: previous_id or None,
        **info,
        "files": files,
        "feature_table": str(table_path),
    }
    remove_stale_temporaries(out_dir / SCORE_META)
    tmp_meta = temporary_path(out_dir / SCORE_META)
    tmp_meta.write_text(json.dumps(record, indent=2))
    fsync_file(tmp_meta)
    test_hook("score:meta")
    tmp_meta.replace(out_dir / SCORE_META)  # the commit
    fsync_dir(out_dir)
    test_hook("score:committed")
    staged.replace(table_path)
    remove_stale_temporaries(table_path)
    fsync_dir(table_path.parent)
    for name in ("scores.parquet", "scores.csv"):
        publish(gen_dir / name, out_dir / name)
    test_hook("score:published")
    prune(out_dir, {generation, previous_id})
    return out_dir / "scores.parquet", out_dir / "scores.csv", table_path
