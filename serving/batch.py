"""``retain score``: score every active customer as of a date, and refresh the id lookup table.

Features come from ``features.build_features`` and scores from ``serving.scorer.Scorer``, the code
the HTTP service runs, so a customer's row here equals the service's answer for the same as-of
date. The active base is the one the models were trained on (``features.labels.active_at``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from features.build import build_features
from features.errors import ConfigError, CutoffError
from features.labels import active_at
from features.loading import load_data, raise_if_unclean
from features.prepare import PreparedData, from_day, prepare, to_day
from features.schema import ATTRIBUTE_PREFIX
from features.sources import read_data_section
from serving.labelled import snapshot_base
from serving.lookup import feature_table_path, write_feature_table
from serving.output import scores_table
from serving.scorer import Scorer
from serving.store import load_packaged_scorer

CHUNK_ROWS = 100_000
SCORE_META = "score_meta.json"
"""What ``retain score`` records beside the scores: as-of day, horizon, base, models' cards."""
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
    versions: dict[str, str]
    seconds: float
    load_lines: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        left_out = ", ".join(f"{n:,} {why}" for why, n in self.excluded.items() if n)
        return [
            *self.load_lines,
            f"as of {self.as_of.date()}: scored {self.scored:,} active customers of {self.known:,} "
            f"known ({left_out or 'none left out'})",
            f"models: churn {self.versions['churn']}, clv {self.versions['clv']}",
            f"scores: {self.scores_parquet} and {self.scores_csv}",
            f"lookup table for the service: {self.feature_table}",
            f"took {self.seconds:.1f}s",
        ]


def resolve_as_of(prep: PreparedData, as_of: str) -> pd.Timestamp:
    """'latest' means the data's last day; a date must lie within the data's range."""
    start, end = prep.date_range
    if as_of == "latest":
        day = end
    else:
        try:
            parsed = pd.Timestamp(as_of)
        except ValueError:
            parsed = pd.NaT
        if pd.isna(parsed) or parsed.tzinfo is not None:
            raise CutoffError(
                f"--as-of {as_of!r} is not a date: give a day such as {end.date()} (the data runs "
                f"from {start.date()} to {end.date()}) or 'latest'"
            )
        day = parsed.normalize()
    if not start <= day <= end:
        raise CutoffError(
            f"--as-of {day.date()} is outside the data, which runs from {start.date()} to "
            f"{end.date()}; give a date in that range or 'latest'"
        )
    return day


def score_features(
    scorer: Scorer, features: pd.DataFrame, as_of: pd.Timestamp, *, progress: bool = True
) -> pd.DataFrame:
    """Scores, tiers, top reasons and segments for a feature frame indexed by customer id.

    Vectorised in chunks (bounded memory for millions of customers) through ``Scorer.encode`` and
    ``Scorer.score``, the service's path; rows shaped by ``serving.output.scores_table``.
    """
    parts = []
    chunks = range(0, len(features), CHUNK_ROWS)
    for start in tqdm(
        chunks, desc="scoring", unit="chunk", disable=not progress or len(chunks) < 2
    ):
        part = features.iloc[start : start + CHUNK_ROWS]
        batch = scorer.encode(part)
        parts.append(scores_table(scorer, part.index, scorer.score(batch), batch, as_of))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    for column in features.columns:
        if column.startswith(ATTRIBUTE_PREFIX) or column == "plan":
            frame[column.removeprefix(ATTRIBUTE_PREFIX)] = features[column].to_numpy()
    frame["churn_model"] = scorer.versions["churn"]
    frame["clv_model"] = scorer.versions["clv"]
    return frame


def score_base(
    config: Path,
    as_of: str,
    *,
    out_dir: Path,
    strict: bool = False,
    scorer: Scorer | None = None,
    progress: bool = True,
) -> ScoreRun:
    """Load the data, build features as of ``as_of``, score the active base and write outputs."""
    started = time.perf_counter()
    data_config, _ = read_data_section(config)
    scorer = scorer or load_packaged_scorer()
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
        features = build_features(prep, day, families=scorer.families, progress=progress)
        contractual = scorer.churn.card.data.business == "contractual"
        active_days = scorer.churn.card.data.active_days
        active, excluded = active_at(
            prep,
            to_day(day),
            active_days=None if contractual else int(active_days),
            contractual=contractual,
        )
        active_ids = pd.Index(prep.ids[active])
    scores = score_features(
        scorer, features.loc[features.index.isin(active_ids)], day, progress=progress
    )
    scores = scores.sort_values("value_at_risk", ascending=False, kind="stable").reset_index(
        drop=True
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    scores_parquet, scores_csv = out_dir / "scores.parquet", out_dir / "scores.csv"
    write_atomically(scores_parquet, lambda tmp: scores.to_parquet(tmp, index=False))
    write_atomically(scores_csv, lambda tmp: scores.to_csv(tmp, index=False))
    table_path = write_feature_table(features, day, feature_table_path())
    meta = {
        "as_of": str(day.date()),
        "horizon_days": scorer.churn.horizon_days,
        "contractual": contractual,
        "active_days": int(active_days),
        "churn_model": scorer.versions["churn"],
        "clv_model": scorer.versions["clv"],
        "scored": len(scores),
        CARDS: {
            "churn": scorer.churn.card.model_dump(mode="json"),
            "clv": scorer.clv.card.model_dump(mode="json"),
        },
    }
    write_atomically(out_dir / SCORE_META, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))
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
        load_lines=[line for r in reports for line in r.lines()],
    )


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    A crash mid-write leaves the previous file whole (and at worst a stray temporary file).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)
