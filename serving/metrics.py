"""Model metrics on /metrics, beside BentoML's request counters: what is served and how it scores.

- ``retain_model_info{model, version}``: 1 for each model version the worker serves;
- ``retain_scores_total{endpoint, risk_tier}``: customers scored, by endpoint and risk tier;
- ``retain_feature_table_age_seconds``: seconds since ``retain score`` wrote the feature table
  ``/score_ids`` reads (refreshed at every scrape), and
  ``retain_feature_table_written_timestamp_seconds``, when it was written.

The metrics are ``prometheus_client``'s, created in the worker (``ModelMetrics.create``, called
by the service's start-up): BentoML sets ``PROMETHEUS_MULTIPROC_DIR`` when the worker starts, and
its /metrics merges every worker's files, as for its own metrics. A scrape reaches the guard
first, which calls ``before_scrape`` so the table's age is current.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.scorer import TIERS

SCRAPE_HOOKS: list[Callable[[], None]] = []
"""Called before each scrape of /metrics (the service registers its table-age update)."""


def before_scrape() -> None:
    """Bring the scrape-time metrics up to date."""
    for hook in SCRAPE_HOOKS:
        hook()


@dataclass(frozen=True)
class ModelMetrics:
    """The service's own Prometheus metrics (see the module docstring)."""

    models: Any
    scores: Any
    table_age: Any
    table_written: Any

    @classmethod
    def create(cls) -> ModelMetrics:
        """The metrics, registered in this worker's (multiprocess) registry."""
        from prometheus_client import Counter, Gauge

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
        )

    def served(self, versions: dict[str, str | None]) -> None:
        """Mark the served model versions (a model that is not served is left out)."""
        for model, version in versions.items():
            if version:
                self.models.labels(model, version).set(1)

    def scored(self, endpoint: str, tiers: np.ndarray) -> None:
        """Count scored customers by risk tier (``tiers``: codes into ``scorer.TIERS``)."""
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
