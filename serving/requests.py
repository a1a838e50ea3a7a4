"""Request adapters: typed HTTP request items into the tables the scorer scores.

Three ways to name a customer, three adapters:

- ``encode_feature_items``: ``CustomerInput`` items with ``features`` -> an ``EncodedBatch``,
  without pandas (the single-record fast path);
- ``event_features``: items with raw events and ``as_of`` -> a feature frame, through
  ``features.build.build_features`` (the training code) after the same validation as files;
- ``lookup_ids``: customer ids -> rows of a ``serving.lookup.LookupSnapshot``.

``check_attribute_names`` runs first, on the event loop: it refuses attribute names the models do
not read before any table is built, so a request's work is bounded by what the models read.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core.errors import DataValidationError
from core.schema import (
    AS_OF,
    ATTRIBUTE_PREFIX,
    CUSTOMER_ID,
    CUSTOMERS,
    END_DATE,
    INTERACTIONS,
    SIGNUP_DATE,
    START_DATE,
    SUBSCRIPTIONS,
    TRANSACTIONS,
)
from core.sources import TableSource
from features.build import build_features
from features.labelled import AttributeSchema, labelled_features
from features.loading import CustomerData, validate_table
from model.encoding import FeatureEncoding
from serving.lookup import LookupSnapshot, normalise_ids
from serving.schemas import CustomerInput
from serving.scorer import EncodedBatch, Scorer


class FeatureKeyError(ValueError):
    """A by-features request item whose feature keys or values do not fit the model."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


class NonFiniteFeature(FeatureKeyError):
    """A by-features item with a NaN or infinite value: malformed input (400), as the request
    model's other value errors."""


class ItemError(DataValidationError):
    """A request item that cannot be scored as given: its position, the field, and why."""

    def __init__(self, row: int, field: list[str | int], message: str) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


class EventDayError(ItemError):
    """A by-events request item with an event after its ``as_of`` day in the business time zone."""


# ----------------------------------------------------------------------------- attribute names

MAX_ATTRIBUTE_NAME = 256
"""Longest attribute name a request may send; a longer one is refused without comparing it."""
SHOWN_NAMES = 20
"""Known attribute names an error message lists."""


def attribute_names(scorer: Scorer) -> frozenset[str]:
    """The attribute names the models read: a CRM export's columns (with those training
    ignored), or the customers table's columns of a transaction-log model."""
    if scorer.schema is not None:
        return frozenset([*scorer.schema.names, *scorer.schema.ignored])
    prefix = len(ATTRIBUTE_PREFIX)
    return frozenset(c[prefix:] for c in scorer.columns if c.startswith(ATTRIBUTE_PREFIX))


def check_attribute_names(items: Sequence[CustomerInput], known: frozenset[str]) -> None:
    """Refuse the first item that sends an attribute the models do not read.

    Raises ``ItemError`` naming the unknown name, the closest known one and how many were
    unknown. The cost is one set comparison per item, linear in the names sent, so a request
    with 100,000 made-up names is refused as fast as it was parsed.
    """
    for row, item in enumerate(items):
        given = item.attributes
        if not given or given.keys() <= known:
            continue
        unknown = given.keys() - known
        name = next(k for k in given if k in unknown)  # the first, in the request's order
        listed = sorted(known)[:SHOWN_NAMES]
        reads = (
            f"the models read {listed}{' ...' if len(known) > SHOWN_NAMES else ''}"
            if known
            else "the models read no attributes: send none"
        )
        more = (
            f" (and {len(unknown) - 1} more unknown of {len(given)} sent)"
            if len(unknown) > 1
            else ""
        )
        if len(name) > MAX_ATTRIBUTE_NAME:
            problem = (
                f"attribute name {name[:40]!r}... of {len(name)} characters is not one the models "
                f"read (names are at most {MAX_ATTRIBUTE_NAME} characters)"
            )
        else:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problem = f"unknown attribute {name!r}{hint}"
        raise ItemError(
            row,
            ["attributes"],
            f"{problem}{more}: {reads} (POST /model_info lists them; leave out any you do not "
            "have, a missing one is read as missing)",
        )


# ----------------------------------------------------------------------------- by features


def encode_feature_items(scorer: Scorer, items: Sequence[CustomerInput]) -> EncodedBatch:
    """Encode the items' ``features``; every model feature must be present (null allowed).

    Raises ``FeatureKeyError`` naming the first item (position in ``items``) that does not fit;
    a NaN or infinite value anywhere (``NonFiniteFeature``) comes before any other problem, as
    the request model's value errors do.
    """
    rows = [item.features or {} for item in items]
    expected = set(scorer.columns)
    # a C-level comparison per row; the details only for the first row that differs
    first_bad = next((i for i, r in enumerate(rows) if r.keys() != expected), None)
    if first_bad is not None:
        _raise_first_non_finite(rows)  # malformed values first, as the request model's errors
        given = rows[first_bad]
        missing = [c for c in scorer.columns if c not in given]
        if missing:
            raise FeatureKeyError(
                first_bad,
                f"missing feature(s) {missing[:10]}{' ...' if len(missing) > 10 else ''}",
            )
        names = sorted(set(given) - expected)
        raise FeatureKeyError(
            first_bad, f"unknown feature(s) {names[:10]}; POST /model_info lists the features"
        )
    # the usual case: the models share one encoding, encoded in one pass
    return scorer.batch(lambda encoding: _encode_dicts(encoding, rows))


NUMBER_TYPES = {float, int, type(None)}


def _encode_dicts(encoding: FeatureEncoding, rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """Feature dicts to the model matrix without pandas: the numeric features of every row
    gathered by name and converted in one C-level pass (checked first, not just converted: numpy
    would turn the text "5" into 5.0), categories by a level lookup per column."""
    names = encoding.inputs
    out = np.empty((len(rows), len(encoding.columns)), dtype=np.float64)
    numeric = [j for j, name in enumerate(names) if name not in encoding.categories]
    if rows and numeric:
        gather = itemgetter(*(names[j] for j in numeric))
        values = list(map(gather, rows)) if len(numeric) > 1 else [(gather(r),) for r in rows]
        flat = list(chain.from_iterable(values))
        if not set(map(type, flat)) <= NUMBER_TYPES:
            _raise_first_non_finite(rows)
            _raise_first_non_number([names[j] for j in numeric], values)
        matrix = np.array(values, dtype=np.float64)  # None becomes NaN
        # non-finite input, checked in C: an infinity, or more NaN than the nulls sent
        if np.isinf(matrix).any() or int(np.isnan(matrix).sum()) > flat.count(None):
            _raise_first_non_finite(rows)
        out[:, numeric] = matrix
    for j, name in enumerate(names):
        levels = encoding.categories.get(name)
        if levels is not None:
            given = [r[name] for r in rows]
            if not math.isfinite(sum([v for v in given if type(v) is float])):
                _raise_first_non_finite(rows)
            lookup = encoding.level_codes[name]
            texts = [_category_text(v) for v in given]
            out[:, j] = [np.nan if t is None else lookup.get(t, np.nan) for t in texts]
    return encoding.complete(out)


def _raise_first_non_finite(rows: Sequence[dict[str, Any]]) -> None:
    """Raise ``NonFiniteFeature`` for the first row given a NaN or infinite value, naming its
    first such feature in the request's order."""
    for i, row in enumerate(rows):
        for key, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise NonFiniteFeature(i, f"feature {key!r} must be finite or null, got {v}")


def _raise_first_non_number(names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Raise ``FeatureKeyError`` for the first of ``names`` (model order) given a non-number in
    ``rows`` (their values by row), naming its first row."""
    for j, name in enumerate(names):
        bad = next((i for i, row in enumerate(rows) if not _is_number(row[j])), None)
        if bad is not None:
            raise FeatureKeyError(
                bad, f"feature {name!r} must be a number or null, got {rows[bad][j]!r}"
            )


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _category_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


# ----------------------------------------------------------------------------- by events


def event_features(scorer: Scorer, items: Sequence[CustomerInput]) -> pd.DataFrame:
    """Features of items given by raw events, computed with the training feature code.

    Items are grouped by ``as_of``; each group goes through ``validate_table`` and
    ``build_features`` exactly as a batch would. Returns one row per item, indexed by position,
    with ``scorer.columns`` (attributes nobody in the request gave are missing values).
    """
    check_attribute_names(items, attribute_names(scorer))
    check_event_days(items, scorer.timezone)
    if scorer.schema is not None:
        return _snapshot_row_features(scorer, scorer.schema, items)
    for row, item in enumerate(items):
        if all(x is None for x in (item.transactions, item.interactions, item.subscriptions)):
            raise ItemError(
                row,
                ["transactions"],
                "the models were trained on a transaction log, not on a CRM snapshots table: "
                "send the customer's transactions (with as_of), or its features",
            )
    frames = []
    by_day: dict[dt.date, list[int]] = {}
    for i, item in enumerate(items):
        assert item.as_of is not None  # the request model requires it with events
        by_day.setdefault(item.as_of, []).append(i)
    for day, positions in by_day.items():
        data = events_to_data([items[i] for i in positions], timezone=scorer.timezone)
        feats = build_features(data, pd.Timestamp(day), families=scorer.families)
        feats = feats.reindex(index=_keys(len(positions)), columns=scorer.columns)
        feats.index = pd.Index(positions)
        frames.append(feats)
    return pd.concat(frames).sort_index()


def _snapshot_row_features(
    scorer: Scorer, schema: AttributeSchema, items: Sequence[CustomerInput]
) -> pd.DataFrame:
    """Features of CRM rows (``attributes`` with ``as_of``) for a model trained on a snapshots
    table, through ``features.labelled.labelled_features`` as in training and batch scoring;
    an attribute a row does not send is missing (names are checked by ``check_attribute_names``
    first)."""
    keys = _keys(len(items))
    rows = pd.DataFrame.from_records([dict(item.attributes or {}) for item in items])
    rows.index = pd.RangeIndex(len(items))
    rows.insert(0, CUSTOMER_ID, keys)
    rows.insert(1, AS_OF, pd.to_datetime([item.as_of for item in items]))
    data = events_to_data(items, timezone=scorer.timezone) if scorer.families else None
    feats = labelled_features(rows, schema, data, scorer.families, require_all=False)
    return feats.reindex(columns=scorer.columns)


def check_event_days(items: Sequence[CustomerInput], timezone: str) -> None:
    """Events with a UTC offset must fall on or before ``as_of`` in the business time zone.

    The request schema checks timestamps without an offset (they are business time already);
    those with one are converted as ``features.loading.parse_datetimes`` converts them, so an
    event is rejected here rather than silently left out of the features.
    """
    zone = ZoneInfo(timezone)
    for row, item in enumerate(items):
        events: list[tuple[str, Sequence[Any]]] = [
            ("transactions", item.transactions or []),
            ("interactions", item.interactions or []),
        ]
        for name, seq in events:
            for j, event in enumerate(seq):
                stamp = event.timestamp
                if stamp.tzinfo is None or item.as_of is None:
                    continue
                local = stamp.astimezone(zone)
                if local.date() > item.as_of:
                    raise EventDayError(
                        row,
                        [name, j, "timestamp"],
                        f"{name}[{j}].timestamp {stamp.isoformat()} is {local:%Y-%m-%d %H:%M} in "
                        f"the business time zone ({timezone}), after as_of {item.as_of}: only "
                        "events up to the scoring date may be sent",
                    )


def events_to_data(items: Sequence[CustomerInput], *, timezone: str = "UTC") -> CustomerData:
    """Request items' raw events as canonical tables, through the same validation as files.

    Customers are keyed by their position in ``items`` (so two items with the same id stay
    apart); callers map positions back to ids.
    """
    tx_rows: list[dict[str, Any]] = []
    inter_rows: list[dict[str, Any]] = []
    sub_rows: list[dict[str, Any]] = []
    cust_rows: list[dict[str, Any]] = []
    for key, c in zip(_keys(len(items)), items, strict=True):
        tx_rows += [{CUSTOMER_ID: key, **t.model_dump()} for t in c.transactions or []]
        inter_rows += [{CUSTOMER_ID: key, **e.model_dump()} for e in c.interactions or []]
        sub_rows += [
            {
                CUSTOMER_ID: key,
                **s.model_dump(),
                START_DATE: _day(s.start_date),
                END_DATE: _day(s.end_date),
            }
            for s in c.subscriptions or []
        ]
        # every customer gets a customers row, as in a batch: attributes and signup date may be
        # absent (missing values), and the profile features still have their table
        cust_rows.append(
            {CUSTOMER_ID: key, SIGNUP_DATE: _day(c.signup_date), **(c.attributes or {})}
        )

    def table(rows: list[dict[str, Any]], spec: Any, columns: list[str]) -> pd.DataFrame:
        raw = pd.DataFrame(rows, columns=columns if not rows else None)
        source = TableSource(path=Path("request"), timezone=timezone, drop_duplicates=False)
        frame, _ = validate_table(raw, spec, source=source, source_name="request")
        return frame

    tx_cols = [c.name for c in TRANSACTIONS.columns]
    return CustomerData(
        transactions=table(tx_rows, TRANSACTIONS, tx_cols) if tx_rows else _empty_transactions(),
        customers=table(cust_rows, CUSTOMERS, [CUSTOMER_ID, SIGNUP_DATE]) if cust_rows else None,
        subscriptions=table(sub_rows, SUBSCRIPTIONS, []) if sub_rows else None,
        interactions=table(inter_rows, INTERACTIONS, []) if inter_rows else None,
    )


def _day(day: dt.date | None) -> pd.Timestamp | None:
    """A request's day as a timestamp, so its column is typed (datetime64) and ``validate_table``
    reads it as a typed export's dates, without parsing its text."""
    return None if day is None else pd.Timestamp(day)


def _keys(n: int) -> list[str]:
    return [f"{i}" for i in range(n)]


def _empty_transactions() -> pd.DataFrame:
    dtypes = {"id": "str", "datetime": "datetime64[ns]", "number": "float64", "text": "str"}
    return pd.DataFrame({c.name: pd.Series([], dtype=dtypes[c.kind]) for c in TRANSACTIONS.columns})


# ----------------------------------------------------------------------------- by id


@dataclass(frozen=True)
class IdRows:
    """The rows of requested ids in one lookup snapshot: the ids as the table keys them, which
    were found, their batch and day."""

    ids: list[str]
    found: np.ndarray
    batch: EncodedBatch
    as_of: list[dt.date | None]


def lookup_ids(snapshot: LookupSnapshot, ids: Sequence[str | int | float]) -> IdRows:
    """The found ids' encoded rows and as-of days, all from the one ``snapshot`` given; ids are
    normalised as the table's were (``serving.lookup.normalise_ids``)."""
    keys = normalise_ids(ids)
    positions = snapshot.ids.get_indexer(keys)
    found = positions >= 0
    rows = positions[found]
    return IdRows(keys.tolist(), found, snapshot.encoded.take(rows), snapshot.as_of_days(rows))
