"""The retain scoring service (BentoML 1.4): churn probability, CLV, value at risk and reasons.

Endpoints (all POST, JSON):
  /score        customers given by feature values or raw events (+ as_of)
  /score_ids    customers looked up by id in the feature table written by ``retain score``
  /model_info   model versions, training date, features, risk tiers, test metrics, the uplift
                model's held-out Qini (or "no uplift model")
With an uplift model packaged (``retain-uplift``, from past campaigns) every score adds ``uplift``,
``expected_incremental_value`` and ``uplift_reasons``; without one those are null (empty).
BentoML adds /healthz, /livez, /readyz and /metrics (Prometheus, with the models' metrics of
``serving.metrics``); the guard answers /docs.json and the Swagger page at / (``serving.api_docs``).
Attribute names are checked against the models on the event loop before any table is built
(``serving.requests.check_attribute_names``), so a request's work is bounded by its size.

Settings come from the environment through ``core.settings`` (each documented in its
``VARIABLES``): RETAIN_API_KEY (when set, scoring endpoints need it in the ``X-API-Key`` header),
RETAIN_MAX_BATCH (default 10000), RETAIN_MAX_EVENTS (default 50000), RETAIN_FEATURE_TABLE,
RETAIN_TOP_REASONS, RETAIN_WORKERS, RETAIN_CHURN_MODEL / RETAIN_CLV_MODEL / RETAIN_UPLIFT_MODEL
(BentoML model tags, default the current package's, ``serving.package_manifest``; uplift ``none``
for none); a churn-only package serves churn alone (CLV null); the guard in front
(``serving.guard``) uses RETAIN_ALLOWED_HOSTS, RETAIN_MAX_BODY_BYTES and RETAIN_CORS_ORIGINS. A
model that fails its start-up checks, or a store entry BentoML cannot read, leaves the worker up
and answering 503 with the reason.

Latency: the default BentoML worker's tail is full garbage collections over a heap that keeps
every request's objects alive for 60 s (see ``serving.runtime``). Here the runtime is fixed, the
heap is frozen after start-up, the access log is off, responses skip BentoML's per-request schema
generation, small batches run on the event loop, and single records are encoded without pandas.
A valid ``/score`` or ``/score_ids`` body goes from the guard straight to its method here, past
BentoML's routing and IO layers (``serving.hot_path``); an invalid one takes BentoML's path.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any, cast

import anyio
import bentoml
import numpy as np
from pydantic_core import to_json
from starlette.responses import Response

from core.errors import RetainError
from core.settings import Settings, disable_telemetry
from serving.guard import HEALTH, GuardMiddleware, error
from serving.hot_path import register
from serving.lookup import LookupTable, feature_table_path
from serving.metrics import SCRAPE_HOOKS, ModelMetrics, history_signals
from serving.output import item_error, score_json, score_records
from serving.package_manifest import Manifest
from serving.requests import (
    FeatureKeyError,
    ItemError,
    NonFiniteFeature,
    attribute_names,
    check_attribute_names,
    encode_feature_items,
    event_features,
)
from serving.runtime import (
    check_prompt_timeout,
    install_prompt_timeout,
    lean_path,
    quiet_client_error_tracebacks,
    runtime_tuning,
    tracing_config,
)
from serving.schemas import ID_RULE, CustomerId, CustomerInput, ModelInfo, ScoreResponse
from serving.store import make_scorer, packaged
from serving.store_entries import declared, readable, store_failure, stored
from serving.uplift_info import uplift_info, uplift_status
from serving.uplift_store import NO_UPLIFT, load_uplift_folder, optional_uplift_model

# This module is BentoML's entry point, not a library: importing it is the service's start-up,
# and usage reporting must be off before BentoML builds the app.
disable_telemetry()
RUNTIME_TUNING = runtime_tuning()
if RUNTIME_TUNING:
    install_prompt_timeout()  # before BentoML builds the app from the class below
quiet_client_error_tracebacks()
logger = logging.getLogger("bentoml.retain")

INLINE_ROWS = 64
"""Requests up to this many customers (and ``INLINE_EVENTS`` events) run on the event loop."""
INLINE_EVENTS = 1_000
"""Requests with more raw events than this are scored in a thread, whatever their size."""
SERVING_THREADS = 1
"""LightGBM threads per prediction: the cores are used by workers (``--workers 0``, one per core);
OpenMP threads inside a worker cost up to 3x the CPU per 1,000-row request on a busy machine."""


def error_response(status: int, message: str, loc: list[Any] | None = None) -> Any:
    """A client error in the same shape as BentoML's validation errors: error + detail[loc, msg]."""
    return error(status, message, loc)


SETTINGS = Settings.read()
try:
    PACKAGED: Manifest | None = packaged()
    NOT_PACKAGED = ""
except RetainError as _err:  # nothing to declare: the worker starts and /readyz says why
    PACKAGED, NOT_PACKAGED = None, str(_err)
except Exception as _err:  # a damaged package entry: likewise, without server paths
    PACKAGED, NOT_PACKAGED = None, store_failure("retain-package", _err)
CHURN_TAG = PACKAGED.churn if PACKAGED else ""
CLV_TAG = PACKAGED.clv if PACKAGED else None
UPLIFT_TAG = (PACKAGED.uplift if PACKAGED else None) or NO_UPLIFT


SERVICE_NAME = "retain"


@bentoml.service(
    name=SERVICE_NAME,
    workers=SETTINGS.workers,
    traffic={"timeout": 60, "max_concurrency": 512},
    logging={"access": {"enabled": False}},
    tracing=tracing_config(),
    metrics={"enabled": True},
)
class Retain:
    """Champion churn and CLV models, and the uplift model when one is packaged, behind a typed
    HTTP API."""

    churn_model = declared(CHURN_TAG) if CHURN_TAG else None  # None: damaged or absent
    clv_model = declared(CLV_TAG) if CLV_TAG else None  # None: a churn-only package
    uplift_model = optional_uplift_model(UPLIFT_TAG) if readable(UPLIFT_TAG) else None
    package_model = declared(PACKAGED.tag) if PACKAGED and PACKAGED.tag else None  # for a bento

    def __init__(self) -> None:
        self.max_batch = SETTINGS.max_batch
        self.max_events = SETTINGS.max_events
        folders: list[tuple[Path, str]] = []
        try:
            if HEALTH.failure is not None:  # the store failed while the service was declared
                raise RetainError(HEALTH.failure)
            if self.churn_model is None:
                raise RetainError(NOT_PACKAGED or "no packaged churn model: run `retain package`")
            churn_dir, churn_meta = stored(self.churn_model, CHURN_TAG)
            folders.append((churn_dir, CHURN_TAG))
            clv_dir: Path | None = None
            clv_meta: dict[str, Any] | None = None
            if self.clv_model is not None and CLV_TAG:
                clv_dir, clv_meta = stored(self.clv_model, CLV_TAG)
                folders.append((clv_dir, CLV_TAG))
            uplift = None
            if self.uplift_model is not None:
                uplift_dir, uplift_meta = stored(self.uplift_model, UPLIFT_TAG)
                folders.append((uplift_dir, UPLIFT_TAG))
                uplift = load_uplift_folder(uplift_dir, uplift_meta)
            self.scorer = make_scorer(
                churn_dir,
                churn_meta,  # resolved to the stored model here
                clv_dir,
                clv_meta,
                top_k=SETTINGS.top_reasons,
                threads=SERVING_THREADS,
                uplift=None if uplift is None else uplift.bundle,
                uplift_label=None if uplift is None else uplift.label,
            )
        except Exception as err:  # any failure: the worker stays up, /readyz says why
            reason = str(err) if isinstance(err, RetainError) else f"{type(err).__name__}: {err}"
            for folder, tag in folders:
                reason = reason.replace(str(folder), tag)  # no server paths in answers
            HEALTH.failure = reason
            logger.error(
                "retain start-up check failed, the service will not become ready: %s", reason
            )
            return
        self.attributes = attribute_names(self.scorer)
        self.lookup = LookupTable(feature_table_path(), self.scorer)
        if self.lookup.loaded is None:
            logger.warning(
                "no usable feature table at %s: /score_ids answers 400 until `retain score` "
                "writes one",
                self.lookup.path,
            )
        versions = self.scorer.versions
        self.metrics = ModelMetrics.create()
        self.metrics.served({**versions, "uplift": self.scorer.uplift_label})
        SCRAPE_HOOKS.append(self._table_metrics)
        self.models = ["churn", *(["clv"] if self.scorer.clv else [])]
        self.models += ["uplift"] if self.scorer.uplift else []
        logger.info(
            "retain models loaded: churn %s, clv %s, uplift %s",
            versions["churn"],
            versions["clv"] or "none (churn only)",
            self.scorer.uplift_label or "none",
        )
        if lean_path():  # valid bodies skip BentoML's layers
            register(self, SERVICE_NAME, ("score", "score_ids"))
        if RUNTIME_TUNING:
            gc.collect()
            gc.freeze()  # start-up objects (models, imports) leave the collector's view

    def _table_metrics(self) -> None:
        snapshot = self.lookup.loaded
        self.metrics.table(None if snapshot is None else snapshot.stamp[0])
        self.metrics.window()
        self.metrics.history(history_signals())

    async def _run(self, rows: int, events: int, work: Any, *args: Any) -> Any:
        """Small requests run inline (no thread hop); large ones in a thread, not blocking the loop."""
        if rows <= INLINE_ROWS and events <= INLINE_EVENTS:
            return work(*args)
        return await anyio.to_thread.run_sync(work, *args)

    @bentoml.api(route="/score")
    async def score(self, customers: list[CustomerInput]) -> ScoreResponse:
        """Score customers given by feature values or by raw events with an as_of date."""
        if len(customers) > self.max_batch:
            return self._too_many(len(customers), "customers")
        events = sum(
            len(c.transactions or ()) + len(c.interactions or ()) + len(c.subscriptions or ())
            for c in customers
        )
        if events > self.max_events:
            return error_response(
                413,
                f"request of {events} events exceeds the maximum of {self.max_events} "
                "(RETAIN_MAX_EVENTS)",
                ["customers"],
            )
        try:  # on the loop, before any table: the work a request causes is bounded by its size
            check_attribute_names(customers, self.attributes)
        except ItemError as err:
            return error_response(422, str(err), ["customers", err.row, *err.field])
        return await self._run(len(customers), events, self._score, customers)

    def _score(self, customers: list[CustomerInput]) -> Any:
        by_features = [i for i, c in enumerate(customers) if c.features is not None]
        by_events = [i for i, c in enumerate(customers) if c.features is None]
        out = np.full(len(customers), None, dtype=object)  # each customer's answer, JSON bytes
        scorer = self.scorer
        if by_features:
            items = [customers[i] for i in by_features]
            try:
                batch = encode_feature_items(scorer, items)
            except FeatureKeyError as err:
                status = 400 if isinstance(err, NonFiniteFeature) else 422
                return error_response(
                    status, str(err), ["customers", by_features[err.row], "features"]
                )
            arrays = scorer.score(batch)
            self.metrics.scored("/score", arrays.tier, arrays.churn, arrays.clv)
            out[by_features] = score_json(
                scorer, [c.customer_id for c in items], arrays, batch, [c.as_of for c in items]
            )
        if by_events:
            items = [customers[i] for i in by_events]
            try:
                frame = event_features(scorer, items)
            except ItemError as err:
                return error_response(422, str(err), ["customers", by_events[err.row], *err.field])
            except RetainError as err:
                return error_response(422, str(err), ["customers"])
            overflow = _first_overflow(frame)
            if overflow is not None:
                row, column = overflow
                return error_response(
                    422,
                    f"feature {column!r} computed from the events is not finite (amounts too "
                    "large to add up)",
                    ["customers", by_events[row]],
                )
            known = frame.notna().any(axis=1).to_numpy()
            batch = scorer.encode(frame)
            arrays = scorer.score(batch)
            clv = None if arrays.clv is None else arrays.clv[known]
            self.metrics.scored("/score", arrays.tier[known], arrays.churn[known], clv)
            recs = score_records(
                scorer,
                [c.customer_id for c in items],
                arrays,
                batch,
                [c.as_of for c in items],
                raw=frame,
            )
            for j, (i, rec) in enumerate(zip(by_events, recs, strict=True)):
                out[i] = to_json(
                    rec
                    if known[j]
                    else item_error(
                        customers[i].customer_id,
                        "no transaction, subscription or signup on or before as_of",
                    ),
                    inf_nan_mode="null",
                )
        # the ``ScoreResponse`` shape serialised here, as /score_ids' answers: BentoML would
        # regenerate a list return type's JSON schema on every response
        body = b'{"scores":[' + b",".join(out.tolist()) + b"]}"
        return Response(body, media_type="application/json")

    @bentoml.api(route="/score_ids")
    async def score_ids(self, customer_ids: list[CustomerId]) -> ScoreResponse:
        """Score customers by id from the latest feature table; an unknown id is an item error."""
        if len(customer_ids) > self.max_batch:
            return self._too_many(len(customer_ids), "customer_ids")
        return await self._run(len(customer_ids), 0, self._score_ids, customer_ids)

    def _score_ids(self, customer_ids: list[str | int | float]) -> Any:
        try:
            snapshot = self.lookup.current()  # this request uses this snapshot only
        except RetainError as err:
            path = self.lookup.path  # the file name only: no server paths in answers
            return error_response(400, str(err).replace(str(path), path.name), ["customer_ids"])
        positions, keys = snapshot.positions(customer_ids)
        parts = np.full(len(positions), None, dtype=object)
        unanswered = positions >= 0
        tiers, live = [], None
        answers = snapshot.answers
        if answers is not None:  # precomputed by `retain score` for these models: no scoring
            found = np.flatnonzero(positions >= 0)
            rows = positions[found]
            ready = answers.tiers[rows] >= 0
            parts[found[ready]] = answers.take(rows[ready])
            unanswered[found[ready]] = False
            tiers.append(answers.tiers[rows[ready]])
        todo = np.flatnonzero(unanswered)
        if len(todo):  # in the table but not in the batch (lapsed), or no usable answers: score now
            rows = positions[todo]
            batch = snapshot.encoded.take(rows)
            arrays = live = self.scorer.score(batch)
            tiers.append(arrays.tier)
            ids = [keys[i] for i in todo.tolist()]
            parts[todo] = score_json(self.scorer, ids, arrays, batch, snapshot.as_of_days(rows))
        if tiers:
            churn, clv = (None, None) if live is None else (live.churn, live.clv)
            self.metrics.scored("/score_ids", np.concatenate(tiers), churn, clv)
        for i in np.flatnonzero(positions < 0).tolist():
            message = f"unknown customer_id: not in the feature table ({ID_RULE})"
            parts[i] = to_json(item_error(str(customer_ids[i]), message))
        body = b'{"scores":[' + b",".join(parts.tolist()) + b"]}"
        return Response(body, media_type="application/json")

    def _too_many(self, n: int, field: str) -> Any:
        return error_response(
            413, f"batch of {n} exceeds the maximum of {self.max_batch} (RETAIN_MAX_BATCH)", [field]
        )

    @bentoml.api(route="/model_info")
    def model_info(self) -> ModelInfo:
        """Model versions, training date, features, risk tiers and test metrics (model cards)."""
        s = self.scorer
        table = self.lookup.loaded
        return ModelInfo(
            churn_version=str(s.versions["churn"]),
            clv_version=s.versions["clv"],
            models=self.models,
            value_basis=s.value.text,
            horizon_days=s.churn.horizon_days,
            trained_at=s.churn.card.trained_at,
            features=s.columns,
            derived_features=s.derived,
            categorical_features={k: list(v) for k, v in s.churn.encoding.categories.items()},
            risk_tiers=s.risk_tiers.model_dump(mode="json"),
            test_metrics={
                kind: {m: float(x) for m, x in bundle.card.test_metrics.items() if np.isfinite(x)}
                for kind, bundle in (("churn", s.churn), ("clv", s.clv))
                if bundle is not None
            },
            feature_table={
                "path": self.lookup.path.name,  # the file name only: no server paths
                "customers": None if table is None else table.customers,
                "as_of": None if table is None else table.as_of,
            },
            max_batch=self.max_batch,
            attributes=(None if s.schema is None else {c.name: c.kind for c in s.schema.columns}),
            split="in_time" if s.churn.card.cutoffs.in_time else "out_of_time",
            economics=s.economics.model_dump(mode="json"),
            uplift_version=s.uplift_label,
            uplift=uplift_info(s),
            uplift_status=uplift_status(s),
        )


cast(Any, Retain).add_asgi_middleware(GuardMiddleware)
if RUNTIME_TUNING:  # start-up check: the app BentoML builds really runs the prompt timeout
    check_prompt_timeout(cast(Any, Retain).to_asgi())


def _first_overflow(frame: Any) -> tuple[int, str] | None:
    """(row position, column) of the first infinite feature value, or None."""
    numbers = frame.select_dtypes("number")
    bad = ~np.isfinite(numbers.to_numpy(dtype=np.float64)) & numbers.notna().to_numpy()
    if not bad.any():
        return None
    row, col = np.argwhere(bad)[0]
    return int(row), str(numbers.columns[col])
