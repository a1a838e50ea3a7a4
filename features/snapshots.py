"""Many cutoffs into one training frame keyed by (customer_id, cutoff), ready for out-of-time splits.

Each row holds a customer's features as of one cutoff and its labels from the horizon after it.
The data is prepared once; each cutoff is then a few vectorised passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tqdm.auto import tqdm

from core.errors import CutoffError
from core.schema import CUSTOMER_ID
from features.build import CUTOFF, build_features
from features.labels import LabelReport, check_window, make_labels
from features.loading import CustomerData
from features.prepare import PreparedData, from_day, prepare, to_day


def month_end_cutoffs(
    data: CustomerData | PreparedData,
    horizon_days: int,
    *,
    min_history_days: int = 90,
    every_months: int = 1,
) -> list[pd.Timestamp]:
    """Month ends from ``min_history_days`` after the data starts to the last labellable one."""
    prep = data if isinstance(data, PreparedData) else prepare(data)
    first = from_day(prep.start_day + min_history_days)
    last = from_day(prep.end_day - horizon_days)
    cutoffs = list(pd.date_range(first, last, freq="ME"))[::-1][::every_months][::-1]
    if not cutoffs:
        start, end = prep.date_range
        raise CutoffError(
            f"no month end between {first.date()} and {last.date()} leaves {min_history_days} days "
            f"of history and a full {horizon_days}-day horizon: the data runs from {start.date()} "
            f"to {end.date()}. Use a shorter horizon or more data."
        )
    return cutoffs


def build_snapshots(
    data: CustomerData | PreparedData,
    cutoffs: Sequence[pd.Timestamp | str],
    horizon_days: int,
    *,
    families: Sequence[str] | None = None,
    active_days: int | None = 365,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[LabelReport]]:
    """Features and labels at each cutoff, stacked; rows are labelled customers only.

    Returns a frame with columns ``customer_id``, ``cutoff``, the features, ``churn`` and
    ``future_value``, sorted by cutoff then customer, and one label report per cutoff.
    """
    prep = data if isinstance(data, PreparedData) else prepare(data)
    ordered = sorted(pd.Timestamp(c).normalize() for c in cutoffs)
    for c in ordered:
        check_window(prep, to_day(c), horizon_days)
    frames: list[pd.DataFrame] = []
    reports: list[LabelReport] = []
    for cutoff in tqdm(ordered, desc="snapshots", unit="cutoff", disable=not progress):
        feats = build_features(prep, cutoff, families=families)
        labels, report = make_labels(prep, cutoff, horizon_days, active_days=active_days)
        joined = feats.join(labels, how="inner")
        joined.insert(0, CUTOFF, cutoff)
        frames.append(joined.reset_index())
        reports.append(report)
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values([CUTOFF, CUSTOMER_ID], kind="stable", ignore_index=True), reports
