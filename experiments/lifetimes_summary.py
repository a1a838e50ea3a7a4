"""``summary_data_from_transaction_data`` of lifetimes, on retain's ``summary_arrays``.

Benchmark and parity-test code only: ``make bench-features`` times it against lifetimes on the same
file, and the CDNOW tests check it cell by cell. The product computes the same numbers through the
``btyd`` feature family, which calls ``features.btyd.summary_arrays`` directly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from core.errors import DataValidationError
from features.btyd import summary_arrays

TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
PARALLEL_ROWS = 2_000_000
"""Id columns at least this long are hashed in two threads."""


def summary(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    observation_period_end: str | pd.Timestamp,
    *,
    monetary_value_col: str | None = None,
    time_unit_days: float = 1.0,
) -> pd.DataFrame:
    """lifetimes-compatible summary of a transaction log, indexed by customer id.

    Parameters
    ----------
    transactions
        One row per transaction; every row counts as a purchase (filter returns out first).
    customer_id_col, datetime_col, monetary_value_col
        Column names, as in ``lifetimes.utils.summary_data_from_transaction_data``.
    observation_period_end
        Last day of the calibration period; later rows are ignored.
    time_unit_days
        Length of the time unit for recency and T: 1 for days (lifetimes' ``freq='D'``), 7 for the
        weeks of the BTYD papers. Purchases are always counted by distinct day.

    Returns
    -------
    DataFrame with ``frequency``, ``recency``, ``T`` (and ``monetary_value``) for every customer
    with a purchase on or before the end, sorted by customer id.
    """
    for col in (customer_id_col, datetime_col, monetary_value_col):
        if col is not None and col not in transactions.columns:
            raise DataValidationError(
                f"column {col!r} not in the transactions; it has {list(transactions.columns)}"
            )
    ids_column = transactions[customer_id_col]
    if ids_column.isna().any():
        raise DataValidationError(
            f"column {customer_id_col!r}: {int(ids_column.isna().sum())} rows have no customer id"
        )
    codes, ids = _sorted_codes(ids_column)
    day = _day_numbers(transactions[datetime_col], datetime_col)
    end = int(
        np.datetime64(pd.Timestamp(observation_period_end).normalize().to_datetime64(), "D").astype(
            np.int64
        )
    )
    amount = (
        transactions[monetary_value_col].to_numpy(dtype=np.float64)
        if monetary_value_col is not None
        else np.zeros(len(transactions))
    )
    arrays = summary_arrays(codes, day, amount, len(ids), end)
    out = pd.DataFrame(
        {
            "frequency": arrays.frequency,
            "recency": arrays.recency / time_unit_days,
            "T": arrays.T / time_unit_days,
        },
        index=pd.Index(ids, name=customer_id_col),
    )
    if monetary_value_col is not None:
        out["monetary_value"] = arrays.monetary_value
    return out.loc[arrays.bought]


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's position in the sorted distinct values.

    Hashing the ids is most of the summary's time; on large columns the two halves are hashed in
    two threads (pandas' Arrow and numpy hash tables release the GIL) and their few distinct
    values merged.
    """
    if len(values) < PARALLEL_ROWS:
        codes, ids = pd.factorize(values, sort=True)
        return codes.astype(np.int64), pd.Index(ids)
    half = len(values) // 2
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(pd.factorize, (values.iloc[:half], values.iloc[half:])))
    (first_codes, first_ids), (second_codes, second_ids) = parts
    # one small sorted factorize of both halves' distinct ids maps each half's codes to sorted ones
    merged, ids = pd.factorize(pd.concat([pd.Series(first_ids), pd.Series(second_ids)]), sort=True)
    merged = merged.astype(np.int64)
    split = len(first_ids)
    codes = np.concatenate([merged[:split][first_codes], merged[split:][second_codes]])
    return codes, pd.Index(ids)


def _day_numbers(values: pd.Series, column: str) -> np.ndarray:
    """Days since 1970-01-01 of each timestamp (its local date when it carries a time zone)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    raw = stamps.to_numpy()
    missing = np.isnat(raw)
    if missing.any():
        raise DataValidationError(f"column {column!r}: {int(missing.sum())} rows have no date")
    unit, count = np.datetime_data(raw.dtype)
    per_day = TICKS_PER_DAY[unit] // count
    return raw.view(np.int64) // per_day
