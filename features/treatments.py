"""Past retention campaigns as one canonical table: who was offered a treatment, who was held out.

Two sources feed it: the ``treatments`` table (one row per customer and campaign, as a CRM or
``retain campaign`` records it) and the ``treatment`` column of a labelled ``snapshots`` table (a
randomized test exported with its outcome, one campaign per as_of day). Both go through
``features.loading.validate_table``, so unusable rows are excluded and counted like any other.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pandas as pd

from core.errors import DataValidationError
from core.schema import (
    ARM,
    AS_OF,
    CAMPAIGN_ID,
    CONTACTED_AT,
    CUSTOMER_ID,
    OFFER,
    TREATMENT,
    TREATMENTS,
)
from core.sources import DataConfig, SnapshotSource
from features.labelled import load_snapshots
from features.loading import TableReport, load_table, raise_if_unclean

TREATMENT_COLUMNS = [CUSTOMER_ID, CAMPAIGN_ID, ARM, CONTACTED_AT, OFFER]
"""The columns of ``load_treatments``' result, in order."""


def snapshot_campaign_id(source: SnapshotSource, as_of: pd.Timestamp) -> str:
    """The id of the randomized test a snapshots table records at ``as_of``: file stem and day,
    e.g. ``spring_winback_test-20240301``."""
    return f"{PurePosixPath(source.file_name).stem}-{pd.Timestamp(as_of):%Y%m%d}"


def empty_treatments() -> pd.DataFrame:
    """A treatments table with no rows and the canonical dtypes."""
    return canonical_treatments(pd.DataFrame({c: [] for c in TREATMENT_COLUMNS}))


def canonical_treatments(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical columns and dtypes: ids as text, ``arm`` int8 (1 treatment, 0 control),
    ``contacted_at`` normalized to the day, ``offer`` text or NA."""
    return pd.DataFrame(
        {
            CUSTOMER_ID: frame[CUSTOMER_ID].astype("str"),
            CAMPAIGN_ID: frame[CAMPAIGN_ID].astype("str"),
            ARM: frame[ARM].astype("int8"),
            CONTACTED_AT: pd.to_datetime(frame[CONTACTED_AT])
            .dt.normalize()
            .astype("datetime64[ns]"),
            OFFER: frame[OFFER].astype("str").where(frame[OFFER].notna(), pd.NA)
            if len(frame)
            else pd.Series([], dtype="str"),
        }
    ).reset_index(drop=True)


def load_treatments(data: DataConfig, *, reports: list[TableReport] | None = None) -> pd.DataFrame:
    """Every known campaign assignment, from the treatments table and the snapshots' treatment.

    Returns columns ``customer_id`` (str), ``campaign_id`` (str), ``arm`` (int8: 1 treatment,
    0 control), ``contacted_at`` (datetime64, the day), ``offer`` (str or NA), sorted by campaign
    then customer; no rows when neither source is configured. A snapshot row with a treatment
    flag (``data.snapshots.columns.treatment`` mapped; rows need their churned label too)
    belongs to the campaign ``snapshot_campaign_id(source, as_of)`` contacted on its as_of day.
    The load reports (rows read, kept, excluded with examples) are appended to ``reports``;
    under ``data.strict`` any excluded row is an error.
    """
    parts: list[pd.DataFrame] = []
    found: list[TableReport] = []
    if data.treatments is not None:
        frame, report = load_table(data.treatments, TREATMENTS)
        parts.append(frame)
        found.append(report)
    if data.snapshots is not None and TREATMENT in data.snapshots.columns:
        table = load_snapshots(data.snapshots, labels=True)
        if table.has_treatment:
            tested = table.rows.loc[table.rows[TREATMENT].notna()]
            days = pd.to_datetime(tested[AS_OF]).dt.normalize()
            ids = {d: snapshot_campaign_id(data.snapshots, d) for d in days.unique()}
            parts.append(
                pd.DataFrame(
                    {
                        CUSTOMER_ID: tested[CUSTOMER_ID],
                        CAMPAIGN_ID: days.map(ids),
                        ARM: tested[TREATMENT],
                        CONTACTED_AT: days,
                        OFFER: pd.Series(pd.NA, index=tested.index, dtype="str"),
                    }
                )
            )
            found.append(table.report)
    if reports is not None:
        reports.extend(found)
    if data.strict:
        raise_if_unclean(found)
    if not parts:
        return empty_treatments()
    if len(parts) == 2:
        clash = sorted(set(parts[0][CAMPAIGN_ID]) & set(parts[1][CAMPAIGN_ID]))
        if clash:
            raise DataValidationError(
                f"campaign id(s) {clash[:3]} are both in the treatments table and derived from "
                "the snapshots table's treatment column: rename them in the treatments table"
            )
    frame = canonical_treatments(pd.concat(parts, ignore_index=True))
    return frame.sort_values([CAMPAIGN_ID, CUSTOMER_ID], kind="stable", ignore_index=True)


def campaign_assignments(treatments: pd.DataFrame, campaign_id: str) -> pd.DataFrame:
    """The rows of one campaign; an unknown id is an error listing the known ones."""
    rows = treatments.loc[treatments[CAMPAIGN_ID] == campaign_id]
    if rows.empty:
        known = sorted(treatments[CAMPAIGN_ID].unique())
        shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
        raise DataValidationError(
            f"no campaign {campaign_id!r} in the treatments data; known campaigns: "
            f"{shown or 'none'}"
        )
    return rows.reset_index(drop=True)


__all__ = [
    "TREATMENT_COLUMNS",
    "campaign_assignments",
    "canonical_treatments",
    "empty_treatments",
    "load_treatments",
    "snapshot_campaign_id",
]
