"""The score history: every ``retain score`` generation, kept in the workspace's SQL store.

So that what was predicted for whom on which day can be checked against what happened once the
horizon has passed (``retention/monitor.py``). Two tables in the ledger's database
(``serving/sql_store.py``): ``retain_score_generations`` (one row per generation: as-of date,
horizon, model versions, customers scored, the features' and scores' sketches from
``model.drift`` with their data-quality counts, and their drift from the scoring model's
reference) and ``retain_score_history`` (one row per customer: churn probability, value, tier).

A generation is written in one transaction with its generation id as key: it is in the history
whole or not at all, and two runs at once write two generations that cannot mix. The history is
bounded: after each record only the newest ``keep`` generations stay (``prune``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.errors import DataValidationError
from core.schema import CUSTOMER_ID
from core.settings import test_hook
from model.card import ModelCard
from model.drift import (
    Drift,
    FeatureSketch,
    drift,
    frame_drift,
    segment_counts,
    sketch_column,
    sketch_frame,
)
from serving.sql_store import ledger_url, open_store, shown

CHURN = "churn_probability"
VALUE = "clv"
TIER = "risk_tier"
SCORE_COLUMNS = [CHURN, VALUE, TIER]
"""Per-customer columns a generation keeps, beside the customer id."""
HOOK = "history:rows"
"""Test-hook point after a generation's rows are inserted and before the commit."""

metadata = sa.MetaData()
generations_table = sa.Table(
    "retain_score_generations",
    metadata,
    sa.Column("generation_id", sa.String(64), primary_key=True),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("horizon_days", sa.Integer, nullable=False),
    sa.Column("contractual", sa.Boolean, nullable=False),
    sa.Column("active_days", sa.Integer, nullable=False),
    sa.Column("model_versions", sa.Text, nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("features", sa.Text, nullable=False),
    sa.Column("scores", sa.Text, nullable=False),
    sa.Column("drift", sa.Text, nullable=False),
)
history_table = sa.Table(
    "retain_score_history",
    metadata,
    sa.Column(
        "generation_id",
        sa.String(64),
        sa.ForeignKey("retain_score_generations.generation_id"),
        primary_key=True,
    ),
    sa.Column(CUSTOMER_ID, sa.String(128), primary_key=True),
    sa.Column(CHURN, sa.Float, nullable=False),
    sa.Column(VALUE, sa.Float, nullable=True),  # null: a churn-only package values no one
    sa.Column(TIER, sa.String(32), nullable=False),
)
verdicts_table = sa.Table(
    "retain_monitor_verdicts",
    metadata,
    sa.Column("checked_at", sa.DateTime, primary_key=True),
    sa.Column("generation_id", sa.String(64), nullable=False),
    sa.Column("retrain", sa.Boolean, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
)
"""Each ``retain monitor`` verdict (the service exports the last one on /metrics)."""


class HistoryError(DataValidationError):
    """The score history refused a write (rolled back whole) or has no such generation."""


@dataclass(frozen=True)
class GenerationRecord:
    """What the history keeps about one generation besides its customers' scores."""

    generation_id: str
    recorded_at: dt.datetime
    as_of: dt.date
    horizon_days: int
    contractual: bool
    active_days: int
    model_versions: dict[str, str]
    customers: int
    features: dict[str, FeatureSketch]
    scores: dict[str, Any]
    """``churn_probability`` and ``clv`` sketches, and ``tier_shares``."""
    drift: dict[str, Any]
    """``features``: each feature's ``Drift`` from the churn model's reference; ``prediction``:
    the churn probability's from the model's test predictions (None without a reference);
    ``card``: the scoring churn model's test figures (``card_figures``); ``segments``: per
    segment level, each feature's counts on the reference's bins (``model.drift.segment_counts``)."""

    @property
    def horizon_end(self) -> dt.date:
        """The last day of the generation's horizon: its outcomes are known after it."""
        return self.as_of + dt.timedelta(days=self.horizon_days)

    def row(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "model_versions": json.dumps(self.model_versions, sort_keys=True),
            "features": json.dumps({k: v.model_dump() for k, v in self.features.items()}),
            "scores": json.dumps(self.scores),
            "drift": json.dumps(self.drift),
        }

    @classmethod
    def from_row(cls, row: Any) -> GenerationRecord:
        values = dict(row._mapping)
        values["model_versions"] = json.loads(values["model_versions"])
        values["features"] = {
            k: FeatureSketch.model_validate(v) for k, v in json.loads(values["features"]).items()
        }
        values["scores"] = json.loads(values["scores"])
        values["drift"] = json.loads(values["drift"])
        return cls(**values)

    def feature_drift(self) -> dict[str, Drift]:
        """Each feature's drift from the scoring model's reference (empty without one)."""
        return {k: Drift.model_validate(v) for k, v in self.drift.get("features", {}).items()}

    def prediction_drift(self) -> Drift | None:
        """The churn probability's drift from the model's test predictions."""
        value = self.drift.get("prediction")
        return Drift.model_validate(value) if value else None


def describe_generation(
    generation_id: str,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    meta: Mapping[str, Any],
    card: ModelCard,
    tiers: list[str],
) -> GenerationRecord:
    """The record of one scored generation: sketches of its features (binned on ``card``'s
    reference) and scores, and their drift from that reference."""
    inputs = features.loc[features.index.isin(scores[CUSTOMER_ID])]
    sketches = sketch_frame(inputs, card.reference)
    churn = sketch_column(
        scores[CHURN].astype(float),
        card.reference_prediction.edges if card.reference_prediction else None,
    )
    shares = scores[TIER].value_counts(normalize=True)
    summary = {
        CHURN: churn.model_dump(),
        VALUE: sketch_column(scores[VALUE].astype(float)).model_dump(),
        "tier_shares": {t: float(shares.get(t, 0.0)) for t in tiers},
    }
    moved = {
        "features": {k: v.model_dump() for k, v in frame_drift(sketches, card.reference).items()},
        "prediction": (
            drift(churn, card.reference_prediction).model_dump()
            if card.reference_prediction
            else None
        ),
        "card": card_figures(card),
        "segments": segment_counts(inputs, card.reference),
    }
    return GenerationRecord(
        generation_id=generation_id,
        recorded_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        as_of=dt.date.fromisoformat(str(meta["as_of"])),
        horizon_days=int(meta["horizon_days"]),
        contractual=bool(meta["contractual"]),
        active_days=int(meta["active_days"]),
        model_versions={"churn": str(meta["churn_model"]), "clv": str(meta["clv_model"])},
        customers=len(scores),
        features=sketches,
        scores=summary,
        drift=moved,
    )


def card_figures(card: ModelCard) -> dict[str, Any]:
    """What the monitor compares a generation with from the churn model's card: its test
    ROC-AUC and churn rate, the calibration limit, the test cutoff."""
    check = card.calibration_check
    return {
        "roc_auc": card.test_metrics.get("roc_auc"),
        "observed_churn": check.observed if check else None,
        "calibration_limit": check.limit if check else None,
        "test_cutoff": card.cutoffs.test,
    }


class ScoreHistory:
    """The score history at one SQLAlchemy URL (the ledger's); tables created on first use."""

    def __init__(self, url: str | None = None) -> None:
        self.url = ledger_url(url)
        self.engine: Engine = open_store(self.url, metadata, "score history")

    def record(self, record: GenerationRecord, scores: pd.DataFrame, *, keep: int) -> None:
        """Write a generation and its customers' scores in one transaction, then keep only the
        newest ``keep`` generations."""
        rows = pd.DataFrame(
            {
                "generation_id": record.generation_id,
                CUSTOMER_ID: scores[CUSTOMER_ID].astype(str).to_numpy(),
                CHURN: scores[CHURN].to_numpy(dtype=float),
                VALUE: scores[VALUE].to_numpy(dtype=float),
                TIER: scores[TIER].astype(str).to_numpy(),
            }
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(generations_table.insert(), [record.row()])
                if len(rows):  # pandas' executemany of tuples: a third faster than dicts
                    rows.to_sql(
                        history_table.name, conn, if_exists="append", index=False, chunksize=100_000
                    )
                test_hook(HOOK)
        except (SQLAlchemyError, pd.errors.DatabaseError) as err:
            cause = err.__cause__ if isinstance(err, pd.errors.DatabaseError) else err
            cause = getattr(cause, "orig", cause) or err
            raise HistoryError(
                f"generation {record.generation_id} was not recorded in the score history at "
                f"{shown(self.url)} ({type(cause).__name__}: {str(cause)[:200]}); nothing of it "
                "was written"
            ) from None
        self.prune(keep)

    def generations(self) -> list[GenerationRecord]:
        """Every recorded generation, oldest as-of first (then by time recorded)."""
        query = sa.select(generations_table).order_by(
            generations_table.c.as_of, generations_table.c.recorded_at
        )
        with self.engine.connect() as conn:
            return [GenerationRecord.from_row(r) for r in conn.execute(query)]

    def scores(self, generation_id: str) -> pd.DataFrame:
        """One generation's scores: customer id, churn probability, value, tier."""
        columns = [CUSTOMER_ID, *SCORE_COLUMNS]
        query = sa.select(*[history_table.c[c] for c in columns]).where(
            history_table.c.generation_id == generation_id
        )
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).fetchall(), columns=columns)
        if frame.empty and not self.has(generation_id):
            raise HistoryError(
                f"no generation {generation_id!r} in the score history at {shown(self.url)} "
                "(`retain monitor` lists them)"
            )
        return frame.astype({CUSTOMER_ID: "str", CHURN: "float64", VALUE: "float64"})

    def record_verdict(self, generation_id: str, retrain: bool, rules: list[str]) -> None:
        """Record a monitor verdict on ``generation_id`` (its time is now, UTC)."""
        row = {
            "checked_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "generation_id": generation_id,
            "retrain": retrain,
            "rules": json.dumps(rules),
        }
        with self.engine.begin() as conn:
            conn.execute(verdicts_table.insert(), [row])

    def has(self, generation_id: str) -> bool:
        query = sa.select(generations_table.c.generation_id).where(
            generations_table.c.generation_id == generation_id
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def prune(self, keep: int) -> list[str]:
        """Remove every generation but the newest ``keep`` (by as-of date, then time recorded),
        in one transaction; returns the removed ids."""
        if keep < 1:
            raise HistoryError(f"--keep must be at least 1, not {keep}")
        old = [g.generation_id for g in self.generations()][:-keep]
        if old:
            with self.engine.begin() as conn:
                conn.execute(history_table.delete().where(history_table.c.generation_id.in_(old)))
                conn.execute(
                    generations_table.delete().where(generations_table.c.generation_id.in_(old))
                )
        return old


@dataclass(frozen=True)
class LastSignals:
    """What the service exports of the history: the last verdict and the latest generation."""

    verdict_at: dt.datetime | None
    retrain: bool | None
    generation_as_of: dt.date | None
    scores: dict[str, Any]
    """The latest generation's ``churn_probability`` and ``clv`` sketches and ``tier_shares``."""


def last_signals(url: str) -> LastSignals | None:
    """The last verdict and latest generation at ``url``, read only (no table or file is
    created); None when the store or its tables do not exist yet."""
    parsed = sa.engine.make_url(url)
    if parsed.drivername.startswith("sqlite") and not (
        parsed.database and os.path.exists(parsed.database)
    ):
        return None
    engine = sa.create_engine(parsed)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            verdict = (
                conn.execute(
                    sa.select(verdicts_table).order_by(verdicts_table.c.checked_at.desc()).limit(1)
                ).first()
                if verdicts_table.name in names
                else None
            )
            latest = (
                conn.execute(
                    sa.select(generations_table.c.as_of, generations_table.c.scores)
                    .order_by(
                        generations_table.c.as_of.desc(), generations_table.c.recorded_at.desc()
                    )
                    .limit(1)
                ).first()
                if generations_table.name in names
                else None
            )
    finally:
        engine.dispose()
    return LastSignals(
        verdict_at=verdict.checked_at if verdict else None,
        retrain=bool(verdict.retrain) if verdict else None,
        generation_as_of=latest.as_of if latest else None,
        scores=json.loads(latest.scores) if latest else {},
    )


def record_generation(
    generation_id: str,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    meta: Mapping[str, Any],
    card: ModelCard,
    tiers: list[str],
    *,
    keep: int,
) -> GenerationRecord:
    """Describe a scored generation and record it in the workspace's history (the hook
    ``retain score`` calls once the generation is committed)."""
    record = describe_generation(generation_id, scores, features, meta, card, tiers)
    try:
        ScoreHistory().record(record, scores, keep=keep)
    except HistoryError as err:
        raise HistoryError(
            f"{err}. The scores files of this run were written; rerun `retain score` once the "
            "store is reachable so `retain monitor` can follow this generation"
        ) from None
    return record


__all__ = [
    "GenerationRecord",
    "HistoryError",
    "LastSignals",
    "ScoreHistory",
    "describe_generation",
    "last_signals",
    "record_generation",
]
