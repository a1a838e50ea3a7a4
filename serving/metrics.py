"""Model metrics on /metrics, beside BentoML's request counters: what is served and how it scores.

- ``retain_model_info{model, version}``: 1 for each model version the worker serves;
- ``retain_scores_total{endpoint, risk_tier}``: customers scored, by endpoint and risk tier;
- ``retain_feature_table_age_seconds``: seconds since ``retain score`` wrote the feature table
  ``/score_ids`` reads (refreshed at every scrape), and
  ``retain_feature_table_written_timestamp_seconds``, when it was written;
- ``retain_served_churn_probability{quantile}`` and ``retain_served_value{quantile}``: quantiles
  (10, 25, 50, 75, 90%) over the last ``WINDOW`` customers this worker scored with its models,
  ``retain_served_tier_share{risk_tier}`` over the last ``WINDOW`` it answered (precomputed
  ``/score_ids`` answers included), and ``retain_served_window_customers{kind}`` their numbers;
- ``retain_generation_churn_probability{quantile}``, ``retain_generation_value{quantile}``,
  ``retain_generation_tier_share{risk_tier}`` and ``retain_generation_as_of_timestamp_seconds``:
  the latest generation ``retain score`` recorded in the score history (what precomputed
  ``/score_ids`` answers serve);
- ``retain_monitor_retrain_recommended`` (1 or 0; NaN before any ``retain monitor``) and
  ``retain_monitor_verdict_timestamp_seconds``: the last verdict ``retain monitor`` recorded.

The window and history gauges are refreshed at each scrape (the history read-only, so a missing
store stays missing).

The metrics are ``prometheus_client``'s, created in the worker (``ModelMetrics.create``, called
by the service's start-up): BentoML sets ``PROMETHEUS_MULTIPROC_DIR`` when the worker starts, and
its /metrics merges every worker's files, as for its own metrics. A scrape reaches the guard
first, which calls ``before_scrape`` so the table's age is current.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.score_history import CHURN, VALUE, LastSignals, last_signals
from serving.scorer import TIERS
from serving.sql_store import ledger_url

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
WINDOW = 10_000
"""Customers the rolling window of served scores keeps (per worker)."""
logger = logging.getLogger(__name__)

SCRAPE_HOOKS: list[Callable[[], None]] = []
"""Called before each scrape of /metrics (the service registers its table-age update)."""


def before_scrape() -> None:
    """Bring the scrape-time metrics up to date."""
    for hook in SCRAPE_HOOKS:
        hook()


class Window:
    """The last ``size`` values appended (numpy ring buffer; vectorised appends)."""

    def __init__(self, size: int = WINDOW) -> None:
        self.values = np.full(size, np.nan)
        self.filled = 0
        self.at = 0
        self.lock = threading.Lock()

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=float)[-len(self.values) :]
        with self.lock:
            if self.at + len(x) <= len(self.values):  # no wrap (most requests): a slice copy
                self.values[self.at : self.at + len(x)] = x
            else:
                self.values[(self.at + np.arange(len(x))) % len(self.values)] = x
            self.at = (self.at + len(x)) % len(self.values)
            self.filled = min(self.filled + len(x), len(self.values))

    def current(self) -> np.ndarray:
        with self.lock:
            return self.values[: self.filled].copy()


def history_signals() -> LastSignals | None:
    """The score history's last verdict and generation (the workspace's store), None when it
    cannot be read now (logged: the scrape still answers)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return last_signals(ledger_url())
    except (SQLAlchemyError, ValueError) as err:
        logger.warning("score history not readable for /metrics: %s", type(err).__name__)
        return None


def _quantiles(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    return np.quantile(finite, QUANTILES).tolist() if len(finite) else [float("nan")] * 5


def _sketch_quantiles(sketch: dict[str, Any] | None) -> list[float]:
    """Quantiles read off a history sketch's 101 quantiles (``model.drift.LEVELS``)."""
    levels = (sketch or {}).get("quantiles") or []
    if len(levels) != 101:
        return [float("nan")] * len(QUANTILES)
    return [float(levels[round(q * 100)]) for q in QUANTILES]


@dataclass(frozen=True)
class ModelMetrics:
    """The service's own Prometheus metrics (see the module docstring)."""

    models: Any
    scores: Any
    table_age: Any
    table_written: Any
    served_scores: Any
    generation: Any
    tier_shares: Any
    window_size: Any
    generation_as_of: Any
    retrain: Any
    verdict_at: Any
    windows: dict[str, Window]

    @classmethod
    def create(cls) -> ModelMetrics:
        """The metrics, registered in this worker's (multiprocess) registry."""
        from prometheus_client import Counter, Gauge

        def gauge(name: str, text: str, labels: list[str] | None = None) -> Any:
            return Gauge(name, text, labels or [], multiprocess_mode="livemostrecent")

        served = {
            kind: gauge(
                f"retain_served_{kind}",
                f"Quantiles of the {words} this worker served "
                f"(its last {WINDOW:,} scored customers)",
                ["quantile"],
            )
            for kind, words in ((CHURN, "churn probabilities"), ("value", "values (CLV)"))
        }
        generation = {
            kind: gauge(
                f"retain_generation_{kind}",
                f"Quantiles of the {words} of the latest generation `retain score` recorded",
                ["quantile"],
            )
            for kind, words in ((CHURN, "churn probabilities"), ("value", "values (CLV)"))
        }
        return cls(
            models=Gauge(
                "retain_model_info",
                "1 for each model version the service serves",
                ["model", "version"],
                multiprocess_mode="livemax",
            ),
            scores=Counter(
                "retain_scores",
                "Customers scored, by endpoint and risk tier",
                ["endpoint", "risk_tier"],
            ),
            table_age=Gauge(
                "retain_feature_table_age_seconds",
                "Seconds since `retain score` wrote the feature table /score_ids reads",
                multiprocess_mode="livemostrecent",
            ),
            table_written=Gauge(
                "retain_feature_table_written_timestamp_seconds",
                "When `retain score` wrote the feature table /score_ids reads (Unix time)",
                multiprocess_mode="livemostrecent",
            ),
            served_scores=served,
            generation=generation,
            tier_shares=gauge(
                "retain_served_tier_share",
                f"Share of each risk tier among the last {WINDOW:,} customers this worker "
                "answered (source: served), or in the latest generation (source: generation)",
                ["source", "risk_tier"],
            ),
            window_size=gauge(
                "retain_served_window_customers",
                "Customers in the rolling windows (kind: scored by the models, or answered)",
                ["kind"],
            ),
            generation_as_of=gauge(
                "retain_generation_as_of_timestamp_seconds",
                "The as-of day of the latest generation `retain score` recorded (Unix time)",
            ),
            retrain=gauge(
                "retain_monitor_retrain_recommended",
                "1 when the last `retain monitor` recommended retraining, 0 when not, NaN before any",
            ),
            verdict_at=gauge(
                "retain_monitor_verdict_timestamp_seconds",
                "When the last `retain monitor` verdict was recorded (Unix time)",
            ),
            windows={"churn": Window(), "value": Window(), "tier": Window()},
        )

    def served(self, versions: dict[str, str | None]) -> None:
        """Mark the served model versions (a model that is not served is left out)."""
        for model, version in versions.items():
            if version:
                self.models.labels(model, version).set(1)

    def scored(
        self,
        endpoint: str,
        tiers: np.ndarray,
        churn: np.ndarray | None = None,
        value: np.ndarray | None = None,
    ) -> None:
        """Count answered customers by risk tier (``tiers``: codes into ``scorer.TIERS``) and keep
        them, with the scores of those the models scored now (``churn``, ``value``), in the
        rolling windows."""
        self.windows["tier"].add(np.asarray(tiers, dtype=float))
        if churn is not None:
            self.windows["churn"].add(churn)
            self.windows["value"].add(
                np.full(len(churn), np.nan) if value is None else np.asarray(value, dtype=float)
            )
        counts = np.bincount(np.asarray(tiers, dtype=np.int64), minlength=len(TIERS))
        for name, count in zip(TIERS, counts.tolist(), strict=False):
            if count:
                self.scores.labels(endpoint, name).inc(count)

    def table(self, written_ns: int | None) -> None:
        """The feature table's write time (file mtime in ns) and age now; NaN without one."""
        if written_ns is None:
            self.table_written.set(float("nan"))
            self.table_age.set(float("nan"))
            return
        written = written_ns / 1e9
        self.table_written.set(written)
        self.table_age.set(max(time.time() - written, 0.0))

    def window(self) -> None:
        """Set the served quantiles and tier shares from the rolling windows."""
        churn, value = self.windows["churn"].current(), self.windows["value"].current()
        tiers = self.windows["tier"].current().astype(np.int64)
        for kind, values in ((CHURN, churn), ("value", value)):
            for q, x in zip(QUANTILES, _quantiles(values), strict=True):
                self.served_scores[kind].labels(str(q)).set(x)
        shares = np.bincount(tiers, minlength=len(TIERS)) / max(len(tiers), 1)
        for name, share in zip(TIERS, shares.tolist(), strict=False):
            self.tier_shares.labels("served", name).set(share if len(tiers) else float("nan"))
        self.window_size.labels("scored").set(len(churn))
        self.window_size.labels("answered").set(len(tiers))

    def history(self, signals: LastSignals | None) -> None:
        """Set the latest generation's and last verdict's gauges (NaN where there is none)."""
        nan = float("nan")
        signals = signals or LastSignals(None, None, None, {})
        for kind, key in ((CHURN, CHURN), ("value", VALUE)):
            for q, x in zip(QUANTILES, _sketch_quantiles(signals.scores.get(key)), strict=True):
                self.generation[kind].labels(str(q)).set(x)
        shares = signals.scores.get("tier_shares", {})
        for name in TIERS:
            self.tier_shares.labels("generation", name).set(shares.get(name, nan))
        day = signals.generation_as_of
        self.generation_as_of.set(
            nan
            if day is None
            else dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
        )
        self.retrain.set(nan if signals.retrain is None else float(signals.retrain))
        self.verdict_at.set(
            nan
            if signals.verdict_at is None
            else signals.verdict_at.replace(tzinfo=dt.UTC).timestamp()
        )
