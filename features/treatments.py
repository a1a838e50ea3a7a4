"""Past retention campaigns as one canonical table: who was offered a treatment, who was held out.

Two sources feed it: the ``treatments`` table (one row per customer and campaign, as a CRM or
``retain campaign`` records it) and the ``treatment`` column of a labelled ``snapshots`` table (a
randomized test exported with its outcome: one campaign per ``campaign_id`` when the table maps
one, else per as_of day; contacted on ``contacted_at`` when mapped, else on the as_of day). Both go through
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
    RESPONSE,
    TREATMENT,
    TREATMENTS,
)
from core.sources import DataConfig, SnapshotSource
from features.labelled import LabelledTable, load_snapshots
from features.loading import TableReport, load_table, raise_if_unclean

TREATMENT_COLUMNS = [CUSTOMER_ID, CAMPAIGN_ID, ARM, CONTACTED_AT, OFFER]
"""The columns of ``load_treatments``' result, in order."""


def snapshot_campaign_id(source: SnapshotSource, as_of: pd.Timestamp) -> str:
    """The id of the randomized test a snapshots table records at ``as_of``: file stem and day,
    e.g. ``spring_winback_test-20240301``."""
    return f"{PurePosixPath(source.file_name).stem}-{pd.Timestamp(as_of):%Y%m%d}"


SNAPSHOT_TEST_COLUMNS = [CUSTOMER_ID, AS_OF, CAMPAIGN_ID, ARM, CONTACTED_AT, RESPONSE]
"""The columns of ``snapshot_tests``' result, in order."""


def snapshot_tests(table: LabelledTable, source: SnapshotSource) -> pd.DataFrame:
    """The rows of a snapshots table that are in a randomized test, one per customer and as_of.

    Returns ``customer_id`` (str), ``as_of`` and ``contacted_at`` (datetime64 days; an empty
    contact day is the as_of day), ``campaign_id`` (the mapped id, or for an empty one
    ``snapshot_campaign_id`` of the as_of day), ``arm`` (int8) and ``response`` (float 1/0, NaN
    when the table maps none).
    """
    if not table.has_treatment:
        return pd.DataFrame({c: [] for c in SNAPSHOT_TEST_COLUMNS})
    tested = table.rows.loc[table.rows[TREATMENT].notna()]
    days = pd.to_datetime(tested[AS_OF]).dt.normalize().astype("datetime64[ns]")
    derived = days.map({d: snapshot_campaign_id(source, d) for d in days.unique()})
    given = tested[CAMPAIGN_ID].astype(object)
    contacted = pd.to_datetime(tested[CONTACTED_AT], utc=True).dt.tz_localize(None)
    response = (
        tested[RESPONSE].astype("float64")
        if RESPONSE in tested.columns
        else pd.Series(float("nan"), index=tested.index)
    )
    return pd.DataFrame(
        {
            CUSTOMER_ID: tested[CUSTOMER_ID].astype("str"),
            AS_OF: days,
            CAMPAIGN_ID: given.where(given.notna(), derived).astype("str"),
            ARM: tested[TREATMENT].astype("int8"),
            CONTACTED_AT: contacted.dt.normalize().fillna(days).astype("datetime64[ns]"),
            RESPONSE: response,
        }
    ).reset_index(drop=True)


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
            tested = snapshot_tests(table, data.snapshots)
            parts.append(tested[TREATMENT_COLUMNS[:-1]].assign(**{OFFER: pd.NA}))
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
    "snapshot_tests",
]
