"""Scoring shared by the HTTP service and batch scoring: features in, scores and reasons out.

``Scorer`` holds the champion churn and CLV bundles. It scores an encoded matrix (vectorised:
one ``predict`` per model and one TreeSHAP pass for the reasons), builds features from raw events
with ``features.build_features`` (the training code), and looks customers up in the feature table
written by ``retain score``. Batch scoring and the service call the same methods, so a customer's
score is the same whichever way it is asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from features.build import build_features
from features.errors import DataValidationError
from features.loading import CustomerData, validate_table
from features.schema import (
    CUSTOMER_ID,
    CUSTOMERS,
    INTERACTIONS,
    SIGNUP_DATE,
    SUBSCRIPTIONS,
    TRANSACTIONS,
)
from features.sources import TableSource
from model.bundle import ModelBundle

TIERS = ("high", "medium", "low")
AS_OF = "as_of"


@dataclass(frozen=True)
class ScoreArrays:
    """Scores of a batch as arrays (the fast form; ``records`` makes the JSON form)."""

    churn: np.ndarray
    clv: np.ndarray
    tier: np.ndarray
    reason_index: np.ndarray
    reason_contribution: np.ndarray

    @property
    def value_at_risk(self) -> np.ndarray:
        return self.churn * self.clv


@dataclass
class Scorer:
    """Champion churn and CLV bundles plus the precomputed feature table for lookups by id."""

    churn: ModelBundle
    clv: ModelBundle
    versions: dict[str, str]
    top_k: int = 3
    feature_table: pd.DataFrame | None = None
    feature_table_path: Path | None = None
    _table_rows: pd.Index | None = field(default=None, repr=False)
    _table_matrices: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _table_mtime: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.churn.check_schema()
        self.clv.check_schema()
        if self.churn.horizon_days != self.clv.horizon_days:
            raise DataValidationError(
                f"churn model horizon {self.churn.horizon_days} days differs from CLV model "
                f"horizon {self.clv.horizon_days} days; package models trained with the same horizon"
            )
        _ = self.churn.explainer  # build the TreeSHAP tables now, not in the first request
        self.families = sorted(set(self.churn.families) | set(self.clv.families))
        self.timezone = self.churn.card.data.timezone
        self.columns = list(
            dict.fromkeys([*self.churn.encoding.columns, *self.clv.encoding.columns])
        )
        self.tier_cutoffs = self.churn.risk_tiers or (0.5, 0.25)
        self._levels = {
            name: {level: i for i, level in enumerate(levels)}
            for name, levels in self.churn.encoding.categories.items()
        }
        if self.feature_table is not None:
            self._index_table(self.feature_table)

    # ----------------------------------------------------------------- scoring

    def score_matrices(self, churn_matrix: np.ndarray, clv_matrix: np.ndarray) -> ScoreArrays:
        """Probabilities, CLV, tiers and top-k reasons (by |contribution|) for encoded rows."""
        churn = self.churn.predict_matrix(churn_matrix)
        clv = self.clv.predict_matrix(clv_matrix)
        high, medium = self.tier_cutoffs
        tier = np.where(churn >= high, 0, np.where(churn >= medium, 1, 2))
        contrib = self.churn.contributions(churn_matrix)[:, :-1]
        k = min(self.top_k, contrib.shape[1])
        magnitude = np.abs(contrib)
        top = (
            np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
            if k
            else np.zeros((len(churn), 0), int)
        )
        order = np.argsort(-np.take_along_axis(magnitude, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return ScoreArrays(churn, clv, tier, top, np.take_along_axis(contrib, top, axis=1))

    def score_frame(self, frame: pd.DataFrame) -> ScoreArrays:
        """Score a feature frame (columns by name, as ``build_features`` returns them)."""
        return self.score_matrices(
            self.churn.encoding.transform(frame), self.clv.encoding.transform(frame)
        )

    def records(
        self,
        ids: Sequence[str],
        scores: ScoreArrays,
        churn_matrix: np.ndarray,
        raw_values: pd.DataFrame | None,
        as_of: Sequence[dt.date | None],
    ) -> list[dict[str, Any]]:
        """JSON-ready dicts, one per customer, with reasons showing the feature values."""
        names = self.churn.encoding.columns
        versions = {"churn": self.versions["churn"], "clv": self.versions["clv"]}
        out = []
        churn_l, clv_l = scores.churn.tolist(), scores.clv.tolist()
        tiers = scores.tier.tolist()
        idx_l, contrib_l = scores.reason_index.tolist(), scores.reason_contribution.tolist()
        rows = np.arange(len(ids))[:, None]
        encoded_l = churn_matrix[rows, scores.reason_index].tolist()  # the reasons' values
        categorical = [name in self.churn.encoding.categories for name in names]
        for i, cid in enumerate(ids):
            reasons = []
            for j, c, v in zip(idx_l[i], contrib_l[i], encoded_l[i], strict=True):
                name = names[j]
                reasons.append(
                    {
                        "feature": name,
                        "value": (
                            self._display_value(name, v, raw_values, i)
                            if categorical[j]
                            else (None if v != v else v)  # NaN is missing
                        ),
                        "contribution": round(c, 6),
                        "direction": "raises risk" if c > 0 else "lowers risk",
                    }
                )
            day = as_of[i]
            out.append(
                {
                    "customer_id": cid,
                    "churn_probability": churn_l[i],
                    "risk_tier": TIERS[tiers[i]],
                    "clv": clv_l[i],
                    "value_at_risk": churn_l[i] * clv_l[i],
                    "reasons": reasons,
                    "as_of": day.isoformat() if day is not None else None,
                    "model_versions": versions,
                    "error": None,
                }
            )
        return out

    def _display_value(self, name: str, encoded: float, raw: pd.DataFrame | None, row: int) -> Any:
        if name in self.churn.encoding.categories:
            if np.isnan(encoded):
                return None if raw is None or name not in raw else _plain(raw[name].iloc[row])
            return self.churn.encoding.categories[name][int(encoded)]
        return None if np.isnan(encoded) else float(encoded)

    # ----------------------------------------------------------------- inputs

    def matrices_from_features(
        self, rows: Sequence[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode caller-given feature dicts; every model feature must be present (null allowed)."""
        expected = set(self.columns)
        # a C-level comparison per row; the details only for the first row that differs
        first_bad = next((i for i, r in enumerate(rows) if r.keys() != expected), None)
        if first_bad is not None:
            given = rows[first_bad]
            missing = [c for c in self.columns if c not in given]
            if missing:
                raise FeatureKeyError(
                    first_bad,
                    f"missing feature(s) {missing[:10]}{' ...' if len(missing) > 10 else ''}",
                )
            names = sorted(set(given) - expected)
            raise FeatureKeyError(
                first_bad, f"unknown feature(s) {names[:10]}; GET /model_info lists the features"
            )
        churn = self._encode_records(self.churn, rows)
        if self.clv.encoding == self.churn.encoding:  # the usual case: one encoding, one pass
            return churn, churn
        return churn, self._encode_records(self.clv, rows)

    def _encode_records(self, bundle: ModelBundle, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Feature dicts to the model matrix without pandas (the single-record fast path)."""
        out = np.empty((len(rows), len(bundle.encoding.columns)), dtype=np.float64)
        for j, name in enumerate(bundle.encoding.columns):
            levels = bundle.encoding.categories.get(name)
            if levels is None:
                column = [r[name] for r in rows]
                # checked, not just converted: numpy would turn the text "5" into 5.0
                if not set(map(type, column)) <= NUMBER_TYPES:
                    i = next(i for i, v in enumerate(column) if not _is_number(v))
                    raise FeatureKeyError(
                        i, f"feature {name!r} must be a number or null, got {column[i]!r}"
                    )
                out[:, j] = np.array(column, dtype=np.float64)  # None becomes NaN
            else:
                lookup = {level: float(k) for k, level in enumerate(levels)}
                texts = [_category_text(r[name]) for r in rows]
                out[:, j] = [np.nan if t is None else lookup.get(t, np.nan) for t in texts]
        return out

    def features_from_events(self, customers: Sequence[Any]) -> tuple[pd.DataFrame, list[dt.date]]:
        """Compute features from the raw events in requests, with the training feature code.

        Customers are grouped by ``as_of``; each group goes through ``validate_table`` and
        ``build_features`` exactly as a batch would. Returns features in request order.
        """
        check_event_days(customers, self.timezone)
        frames = []
        by_day: dict[dt.date, list[int]] = {}
        for i, c in enumerate(customers):
            by_day.setdefault(c.as_of, []).append(i)
        for day, positions in by_day.items():
            group = [customers[i] for i in positions]
            data = events_to_data(group, timezone=self.timezone)
            feats = build_features(data, pd.Timestamp(day), families=self.families)
            keys = [f"{i}" for i in positions]
            # attributes nobody in the request gave are missing values, not missing columns
            feats = feats.reindex(index=keys, columns=self.columns)
            feats.index = pd.Index(positions)
            frames.append(feats)
        frame = pd.concat(frames).sort_index()
        return frame, [c.as_of for c in customers]

    # ----------------------------------------------------------------- lookups

    def _index_table(self, table: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise DataValidationError(
                f"the feature table lacks features the models need: {missing}; "
                "rerun `retain score` with the current champion models"
            )
        self.feature_table = table
        self._table_rows = pd.Index(table.index.astype("str"))
        self._table_matrices = {
            "churn": self.churn.encoding.transform(table),
            "clv": self.clv.encoding.transform(table),
        }

    def refresh_table(self) -> None:
        """Reload the feature table if ``retain score`` rewrote it since it was loaded."""
        path = self.feature_table_path
        if path is None or not path.exists():
            return
        mtime = path.stat().st_mtime
        if mtime != self._table_mtime:
            self._index_table(read_feature_table(path))
            self._table_mtime = mtime

    def lookup(self, ids: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Row positions of ``ids`` in the feature table (-1 if unknown) and its matrices."""
        self.refresh_table()
        if self._table_rows is None:
            raise DataValidationError(
                "no feature table is loaded: run `retain score --as-of DATE` to write one"
            )
        return self._table_rows.get_indexer(list(ids)), self._table_matrices

    def table_as_of(self, positions: np.ndarray) -> list[dt.date | None]:
        assert self.feature_table is not None
        if AS_OF not in self.feature_table:
            return [None] * len(positions)
        days = pd.to_datetime(self.feature_table[AS_OF].to_numpy()[positions])
        return [d.date() for d in days]


class FeatureKeyError(ValueError):
    """A by-features request item whose feature keys or values do not fit the model."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


class EventDayError(DataValidationError):
    """A by-events request item with an event after its ``as_of`` day in the business time zone."""

    def __init__(self, row: int, field: list[str | int], message: str) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


def check_event_days(customers: Sequence[Any], timezone: str) -> None:
    """Events with a UTC offset must fall on or before ``as_of`` in the business time zone.

    The request schema checks timestamps without an offset (they are business time already);
    those with one are converted as ``features.loading.parse_datetimes`` converts them, so an
    event is rejected here rather than silently left out of the features.
    """
    zone = ZoneInfo(timezone)
    for row, c in enumerate(customers):
        for name in ("transactions", "interactions"):
            for j, event in enumerate(getattr(c, name) or []):
                stamp = event.timestamp
                if stamp.tzinfo is None:
                    continue
                local = stamp.astimezone(zone)
                if local.date() > c.as_of:
                    raise EventDayError(
                        row,
                        [name, j, "timestamp"],
                        f"{name}[{j}].timestamp {stamp.isoformat()} is {local:%Y-%m-%d %H:%M} in "
                        f"the business time zone ({timezone}), after as_of {c.as_of}: only "
                        "events up to the scoring date may be sent",
                    )


NUMBER_TYPES = {float, int, type(None)}


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _category_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    return v.item() if isinstance(v, np.generic) else v


def events_to_data(customers: Sequence[Any], *, timezone: str = "UTC") -> CustomerData:
    """Request customers' raw events as canonical tables, through the same validation as files.

    Customers are keyed by their position in the request (so two items with the same id stay
    apart); callers map positions back to ids.
    """
    tx_rows: list[dict[str, Any]] = []
    inter_rows: list[dict[str, Any]] = []
    sub_rows: list[dict[str, Any]] = []
    cust_rows: list[dict[str, Any]] = []
    for key, c in zip(_keys(customers), customers, strict=True):
        tx_rows += [{CUSTOMER_ID: key, **t.model_dump()} for t in c.transactions or []]
        inter_rows += [{CUSTOMER_ID: key, **e.model_dump()} for e in c.interactions or []]
        sub_rows += [{CUSTOMER_ID: key, **s.model_dump()} for s in c.subscriptions or []]
        # every customer gets a customers row, as in a batch: attributes and signup date may be
        # absent (missing values), and the profile features still have their table
        cust_rows.append({CUSTOMER_ID: key, SIGNUP_DATE: c.signup_date, **(c.attributes or {})})

    def table(rows: list[dict[str, Any]], spec: Any, columns: list[str]) -> pd.DataFrame:
        raw = pd.DataFrame(rows, columns=columns if not rows else None)
        source = TableSource(path=Path("request"), timezone=timezone, drop_duplicates=False)
        frame, _ = validate_table(raw, spec, source=source, source_name="request")
        return frame

    tx_cols = [CUSTOMER_ID, "timestamp", "amount", "order_id", "quantity", "product_id", "category"]
    return CustomerData(
        transactions=table(tx_rows, TRANSACTIONS, tx_cols) if tx_rows else _empty_transactions(),
        customers=table(cust_rows, CUSTOMERS, [CUSTOMER_ID, SIGNUP_DATE]) if cust_rows else None,
        subscriptions=table(sub_rows, SUBSCRIPTIONS, []) if sub_rows else None,
        interactions=table(inter_rows, INTERACTIONS, []) if inter_rows else None,
    )


def _keys(customers: Sequence[Any]) -> list[str]:
    return [f"{i}" for i in range(len(customers))]


def _empty_transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            CUSTOMER_ID: pd.Series([], dtype="str"),
            "timestamp": pd.Series([], dtype="datetime64[ns]"),
            "amount": pd.Series([], dtype="float64"),
            "order_id": pd.Series([], dtype="str"),
            "quantity": pd.Series([], dtype="float64"),
            "product_id": pd.Series([], dtype="str"),
            "category": pd.Series([], dtype="str"),
        }
    )


def read_feature_table(path: Path) -> pd.DataFrame:
    """The latest-features table written by ``retain score``, indexed by customer id."""
    table = pd.read_parquet(path)
    if CUSTOMER_ID in table.columns:
        table = table.set_index(CUSTOMER_ID)
    table.index = table.index.astype("str")
    return table
