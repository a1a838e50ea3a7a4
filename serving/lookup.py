"""The by-id feature table as an immutable snapshot, swapped whole when ``retain score`` rewrites it.

``retain score`` writes the latest features per customer (``feature_table_path``) atomically (a
temporary file renamed over the old one). ``LookupTable.current`` notices a new file by its stat
(mtime, size, inode), builds a new ``LookupSnapshot`` off to the side and swaps it in with one
reference assignment under a lock. A request takes the current snapshot once and uses only it, so
ids, matrices and dates always come from the same file, whatever happens meanwhile.

Ids are normalised at one place, ``normalise_ids``, both when the table is written or read and
when a request's ids are looked up: the rule ``features.loading.parse_ids`` applies to every
file, so an id written as the export wrote it (``12347``, ``12347.0`` or ``"12347"``) finds its
customer.

The snapshot's arrays (encoded matrices, days, precomputed answers) are shared by the workers:
the first to load a file publishes them beside it and every worker maps them read-only
(``serving.shared_table``), so a second worker costs no second copy of the table.

A new file is checked before the swap (readable, every feature present, numeric columns numeric,
ids present and unique, as-of days valid); a file that fails is logged once and rejected, and the
last good snapshot keeps serving.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from core.errors import DataValidationError
from core.schema import CUSTOMER_ID
from core.settings import Settings
from features.loading import parse_ids
from serving.answers import COLUMNS as ANSWER_COLUMNS
from serving.answers import Answers, read_answers
from serving.scorer import EncodedBatch, Scorer
from serving.shared_table import SharedArrays, shared_arrays, shared_folder

logger = logging.getLogger("bentoml.retain")

AS_OF = "as_of"
"""The feature table's column of the day its features are as of."""


def normalise_ids(ids: Sequence[str | int | float] | pd.Index) -> pd.Index:
    """Customer ids as the feature table keys them (``serving.schemas.ID_RULE``): text, with whole numbers
    written as floats read as integers, through ``features.loading.parse_ids`` (the rule every
    input file's id column follows); a blank id becomes missing."""
    values = pd.Series(np.asarray(ids, dtype=object), dtype=object)
    return pd.Index(parse_ids(values), dtype=object, name=getattr(ids, "name", None))


def feature_table_path() -> Path:
    """Where ``retain score`` writes, and the service reads, the latest features per customer."""
    settings = Settings.read()
    return settings.feature_table or settings.retain_home / "serving" / "features_latest.parquet"


def read_feature_table(path: Path) -> pd.DataFrame:
    """The latest-features table written by ``retain score``, indexed by customer id (without the
    service's precomputed answers, ``serving.answers``)."""
    table = index_feature_table(pd.read_parquet(path))
    return table.drop(columns=[c for c in ANSWER_COLUMNS if c in table.columns])


def index_feature_table(table: pd.DataFrame) -> pd.DataFrame:
    """A feature table as read, indexed by its normalised customer ids."""
    if CUSTOMER_ID in table.columns:
        table = table.set_index(CUSTOMER_ID)
    table.index = normalise_ids(table.index)
    if table.index.hasnans:
        raise DataValidationError("the feature table has rows without a customer id")
    return table


def write_feature_table(features: pd.DataFrame, as_of: pd.Timestamp, path: Path) -> Path:
    """Write features (indexed by customer id) with their as-of day, atomically: temp + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    features = features.set_axis(normalise_ids(features.index))
    features.assign(**{AS_OF: as_of}).reset_index().to_parquet(tmp, index=False)
    tmp.replace(path)  # atomic: the service never reads a half-written table
    return path


FileStamp = tuple[int, int, int]
"""(mtime in ns, size, inode) of a file: a rename over it or a rewrite changes it."""


FEW_IDS = 16
"""Up to this many ids are looked up one by one (0.2 us each), more with one vectorised call
(65 us for an Index of one id, before its lookup)."""


def _row(ids: pd.Index, key: str | int | float) -> int:
    """The row position of ``key`` in the unique index ``ids``, -1 when absent (as ``get_indexer``)."""
    try:
        return int(ids.get_loc(key))
    except KeyError:
        return -1


def _stamp(path: Path) -> FileStamp | None:
    try:
        s = path.stat()
    except FileNotFoundError:
        return None
    return (s.st_mtime_ns, s.st_size, s.st_ino)


@dataclass(frozen=True, eq=False)
class LookupSnapshot:
    """One feature table as the scorer needs it; never changed after it is built.

    ``ids`` index the rows of ``encoded``; ``days`` (datetime64, or None without an as-of
    column) are the rows' as-of days.
    """

    path: Path
    stamp: FileStamp
    ids: pd.Index
    encoded: EncodedBatch
    days: np.ndarray | None
    answers: Answers | None = None
    """The answers ``retain score`` precomputed for the served models (``serving.answers``)."""
    answers_note: str = ""

    @property
    def customers(self) -> int:
        return len(self.ids)

    @property
    def as_of(self) -> str | None:
        """The latest as-of day of the table (ISO), or None without an as-of column."""
        if self.days is None or not len(self.days):
            return None
        return str(self.days.max())[:10]

    def as_of_days(self, rows: np.ndarray) -> list[dt.date | None]:
        """The as-of day of each row position."""
        if self.days is None:
            return [None] * len(rows)
        return [d.date() for d in pd.to_datetime(self.days[rows])]

    def positions(self, ids: Sequence[str | int | float]) -> tuple[np.ndarray, list[Any]]:
        """Each id's row position (-1 when unknown) and its key as the table keys it.

        Ids given exactly as the table keys them are found without normalising (a key is its own
        normal form); only the others go through ``normalise_ids``.
        """
        if len(ids) <= FEW_IDS:  # a hash lookup each: building an Index costs 300x one lookup
            positions = np.array([_row(self.ids, key) for key in ids], dtype=np.intp)
        else:
            positions = self.ids.get_indexer(pd.Index(ids, dtype=object))
        keys: list[Any] = list(ids)  # the found ones are keys as given
        missed = np.flatnonzero(positions < 0)
        if len(missed):
            normal = normalise_ids([ids[i] for i in missed.tolist()])
            positions[missed] = self.ids.get_indexer(normal)
            for i, key in zip(missed.tolist(), normal.tolist(), strict=True):
                keys[i] = key
        return positions, keys

    @classmethod
    def build(cls, path: Path, scorer: Scorer) -> LookupSnapshot:
        """The table at ``path`` as the workers share it (``serving.shared_table``): mapped from
        the folder another worker published for this file and these models, or read, checked,
        encoded and published; raises ``DataValidationError`` if unusable."""
        stamp = _stamp(path) or (0, 0, 0)
        folder = shared_folder(path, stamp, scorer)
        arrays = shared_arrays(folder, lambda: _read_arrays(path, scorer))
        return cls(
            path, stamp, arrays.ids, arrays.encoded, arrays.days, arrays.answers, arrays.note
        )


def _read_arrays(path: Path, scorer: Scorer) -> SharedArrays:
    """Read, check and encode the table at ``path``, in this worker's memory."""
    try:
        arrow = pq.read_table(path)
        table = index_feature_table(arrow.to_pandas())
    except DataValidationError:
        raise
    except Exception as err:  # a damaged or foreign file: pyarrow's own error, named
        raise DataValidationError(
            f"the feature table cannot be read ({type(err).__name__}: {err})"
        ) from err
    answers, note = read_answers(table, arrow.schema.metadata or {}, scorer)
    check_feature_table(table, scorer)
    encoded = scorer.encode(table)
    for matrix in (encoded.churn, encoded.clv, encoded.uplift):
        if matrix is not None:
            matrix.setflags(write=False)
    days = _as_of_days(table) if AS_OF in table else None
    if days is not None:
        days.setflags(write=False)
    return SharedArrays(pd.Index(table.index), encoded, days, answers, note)


def check_feature_table(table: pd.DataFrame, scorer: Scorer) -> None:
    """Schema and ids of a feature table, before it may serve: raises ``DataValidationError``."""
    fix = "rerun `retain score` with the current champion models"
    missing = [c for c in scorer.columns if c not in table.columns]
    if missing:
        raise DataValidationError(
            f"the feature table lacks features the models need: {missing}; {fix}"
        )
    categorical = set(scorer.churn.encoding.categories)
    if scorer.clv is not None:
        categorical |= set(scorer.clv.encoding.categories)
    for name in scorer.columns:
        dtype = table[name].dtype
        if name not in categorical and (
            not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            raise DataValidationError(
                f"the feature table's column {name!r} must be numeric, found {dtype}; {fix}"
            )
    ids = table.index
    if (ids == "").any():
        raise DataValidationError(f"the feature table has rows without a customer id; {fix}")
    if not ids.is_unique:
        dupes = ids[ids.duplicated()].unique()[:5].tolist()
        raise DataValidationError(
            f"the feature table has duplicated customer ids (e.g. {dupes}); {fix}"
        )


def _as_of_days(table: pd.DataFrame) -> np.ndarray:
    column = table[AS_OF]
    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        raise DataValidationError(
            f"the feature table's {AS_OF} column is not a column of dates (found {column.dtype})"
        )
    if column.dt.tz is not None:
        column = column.dt.tz_localize(None)
    days = column.to_numpy()
    if np.isnat(days).any():
        raise DataValidationError(f"the feature table's {AS_OF} column has missing days")
    return days


class LookupTable:
    """The current snapshot of the feature table at ``path``, refreshed when the file changes."""

    def __init__(self, path: Path, scorer: Scorer) -> None:
        self.path = path
        self.scorer = scorer
        self._lock = threading.Lock()
        self._snapshot: LookupSnapshot | None = None
        self._rejected: FileStamp | None = None
        self.rejection: str | None = None
        """Why the file as it is now was rejected (None when it serves, or there is none)."""
        stamp = _stamp(path)
        if stamp is not None:
            self._snapshot = self._try_build(stamp)

    @property
    def loaded(self) -> LookupSnapshot | None:
        """The snapshot loaded last, without looking at the file."""
        return self._snapshot

    def current(self) -> LookupSnapshot:
        """The snapshot of the file as it is now: rebuilt and swapped in if the file changed.

        A missing or rejected file keeps the last snapshot; with none loaded at all it is a clear
        error.
        """
        snapshot = self._snapshot
        stamp = _stamp(self.path)
        if (
            stamp is not None
            and stamp != self._rejected
            and (snapshot is None or snapshot.stamp != stamp)
        ):
            with self._lock:
                snapshot = self._snapshot
                stamp = _stamp(self.path)
                if (
                    stamp is not None
                    and stamp != self._rejected
                    and (snapshot is None or snapshot.stamp != stamp)
                ):
                    built = self._try_build(stamp)
                    if built is not None:
                        snapshot = self._snapshot = built  # the swap: one reference assignment
        if snapshot is None:
            why = f" (the file there was rejected: {self.rejection})" if self.rejection else ""
            raise DataValidationError(
                f"no feature table is loaded{why}: run `retain score --as-of DATE` to write one"
            )
        return snapshot

    def _try_build(self, stamp: FileStamp) -> LookupSnapshot | None:
        """A snapshot of the file, or None after logging why it was rejected (once per file)."""
        try:
            snapshot = LookupSnapshot.build(self.path, self.scorer)
        except DataValidationError as err:
            self._rejected, self.rejection = stamp, str(err)
            kept = "the last good table keeps serving" if self._snapshot else "no table serves"
            logger.error("feature table %s rejected, %s: %s", self.path, kept, err)
            return None
        self._rejected = self.rejection = None
        logger.info("feature table %s: %s", self.path.name, snapshot.answers_note)
        return snapshot
