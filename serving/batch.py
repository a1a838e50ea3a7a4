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

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from features.build import build_features
from features.errors import CutoffError
from features.labels import active_at
from features.loading import load_data, raise_if_unclean
from features.prepare import PreparedData, from_day, prepare, to_day
from features.schema import ATTRIBUTE_PREFIX, CUSTOMER_ID
from features.sources import read_data_section
from serving.scorer import AS_OF, TIERS, Scorer
from serving.store import feature_table_path, load_packaged_scorer

CHUNK_ROWS = 100_000
SCORE_META = "score_meta.json"


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

    Vectorised in chunks (bounded memory for millions of customers); one row per customer with
    ``reason_<k>`` (feature), ``reason_<k>_value`` and ``reason_<k>_direction`` columns.
    """
    parts = []
    chunks = range(0, len(features), CHUNK_ROWS)
    for start in tqdm(
        chunks, desc="scoring", unit="chunk", disable=not progress or len(chunks) < 2
    ):
        part = features.iloc[start : start + CHUNK_ROWS]
        churn_m = scorer.churn.encoding.transform(part)
        scores = scorer.score_matrices(churn_m, scorer.clv.encoding.transform(part))
        out = pd.DataFrame(
            {
                CUSTOMER_ID: part.index.astype("str"),
                AS_OF: as_of,
                "churn_probability": scores.churn,
                "risk_tier": np.asarray(TIERS)[scores.tier],
                "clv": scores.clv,
                "value_at_risk": scores.value_at_risk,
            }
        )
        names = np.asarray(scorer.churn.encoding.columns, dtype=object)
        for k in range(scores.reason_index.shape[1]):
            idx = scores.reason_index[:, k]
            contrib = scores.reason_contribution[:, k]
            out[f"reason_{k + 1}"] = names[idx]
            out[f"reason_{k + 1}_value"] = _display(scorer, churn_m, idx)
            out[f"reason_{k + 1}_direction"] = np.where(contrib > 0, "raises risk", "lowers risk")
        parts.append(out)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    for column in features.columns:
        if column.startswith(ATTRIBUTE_PREFIX) or column == "plan":
            frame[column.removeprefix(ATTRIBUTE_PREFIX)] = features[column].to_numpy()
    frame["churn_model"] = scorer.versions["churn"]
    frame["clv_model"] = scorer.versions["clv"]
    return frame


def _display(scorer: Scorer, matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Reason values as text: numbers compactly (%g), categories by their level name."""
    rows = np.arange(len(idx))
    values = matrix[rows, idx]
    # format each distinct value once: reason values repeat (day counts, tiers, levels)
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    formatted = np.array([f"{v:.6g}" for v in distinct] + [""], dtype=object)
    text = formatted[codes]  # NaN has code -1: the trailing ""
    for j, name in enumerate(scorer.churn.encoding.columns):
        levels = scorer.churn.encoding.categories.get(name)
        if levels is None:
            continue
        hit = (idx == j) & ~np.isnan(values)
        text[hit] = np.asarray(levels, dtype=object)[values[hit].astype(int)]
    return text


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
    data, reports = load_data(data_config)
    if strict:
        raise_if_unclean(reports)
    prep = prepare(data)
    day = resolve_as_of(prep, as_of)
    scorer = scorer or load_packaged_scorer()
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
    scores.to_parquet(scores_parquet, index=False)
    scores.to_csv(scores_csv, index=False)
    table_path = feature_table_path()
    table_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = table_path.with_suffix(".tmp")
    features.assign(**{AS_OF: day}).reset_index().to_parquet(tmp, index=False)
    tmp.replace(table_path)  # atomic: the service never reads a half-written table
    meta = {
        "as_of": str(day.date()),
        "horizon_days": scorer.churn.horizon_days,
        "contractual": contractual,
        "active_days": int(active_days),
        "churn_model": scorer.versions["churn"],
        "clv_model": scorer.versions["clv"],
        "scored": len(scores),
    }
    (out_dir / SCORE_META).write_text(json.dumps(meta, indent=2))
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
