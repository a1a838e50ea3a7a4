"""The base to score from a labelled CRM export: each customer's row of one as_of day.

A model trained on a snapshots table scores the rows of the chosen as_of day (default the latest
in the table) with the attribute schema stored in its card, through
``features.labelled.labelled_features``, the code training used; label columns, if the export
still has them, are not read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.cutoff import Cutoff
from core.errors import ConfigError, CutoffError
from core.schema import AS_OF, CUSTOMER_ID
from core.sources import DataConfig
from features.labelled import labelled_features, load_snapshots
from features.loading import TableReport, load_data, raise_if_unclean
from serving.scorer import Scorer


@dataclass(frozen=True)
class SnapshotBase:
    """The rows of one as_of day, as features indexed by customer id, and how they were read."""

    day: pd.Timestamp
    features: pd.DataFrame
    other_days: int
    reports: list[TableReport]


def snapshot_base(
    config: DataConfig, as_of: Cutoff, scorer: Scorer, *, strict: bool = False
) -> SnapshotBase:
    """Read the snapshots table (and event tables the models use) and build the day's features."""
    source = config.snapshots
    assert source is not None
    if scorer.schema is None:
        raise ConfigError(
            "the packaged models were trained on a transaction log, but this config gives a "
            "snapshots table: score with the config the models were trained on"
        )
    table = load_snapshots(source, labels=False)
    reports = [table.report]
    data = None
    if scorer.families:
        if config.transactions is None:
            raise ConfigError(
                f"the models use event features ({', '.join(scorer.families)}): the config "
                "needs the transactions table they were trained with"
            )
        data, event_reports = load_data(config)
        reports += event_reports
    if strict:
        raise_if_unclean(reports)
    days = table.as_of_days
    day = _pick_day(as_of, days)
    rows = table.rows.loc[pd.to_datetime(table.rows[AS_OF]).dt.normalize() == day]
    rows = rows.reset_index(drop=True)
    features = labelled_features(rows, scorer.schema, data, scorer.families)
    features.index = pd.Index(rows[CUSTOMER_ID].astype("str"), name=CUSTOMER_ID)
    return SnapshotBase(day, features, len(table.rows) - len(rows), reports)


def _pick_day(as_of: Cutoff, days: list[pd.Timestamp]) -> pd.Timestamp:
    shown = ", ".join(str(d.date()) for d in days[-10:])
    if as_of.day is None:
        return days[-1]
    day = pd.Timestamp(as_of.day)
    if day not in days:
        raise CutoffError(
            f"--as-of {day.date()}: the snapshots table has no rows of that day; its as_of days "
            f"are {shown}{' (the last 10)' if len(days) > 10 else ''}"
        )
    return day
