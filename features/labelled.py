"""Labelled CRM exports (the ``snapshots`` table): churn labels and typed attribute features.

A snapshot row already says what happened after its ``as_of`` day (``churned``, optionally
``future_value``), so no label is derived from events. Its other columns become features
``attr_<column>`` through an ``AttributeSchema``: inferred once on the training table, printed,
overridable in the config, and stored in the model card, so that training, batch scoring and the
service read a CRM row the same way. Event tables, when given, add their features as of each
row's day through ``features.build.build_features``, with the same no-look-ahead guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError, DataValidationError
from core.schema import (
    AS_OF,
    ATTRIBUTE_PREFIX,
    CAMPAIGN_ID,
    CHURNED,
    CONTACTED_AT,
    CUSTOMER_ID,
    FUTURE_VALUE,
    RESPONSE,
    SNAPSHOTS,
    TREATMENT,
)
from core.sources import AttributeType, SnapshotSource
from features.arms import ARM_HELP, parse_arm
from features.build import build_features
from features.loading import (
    CustomerData,
    RowProblem,
    TableReport,
    check_header,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    parse_text,
    read_table,
    validate_table,
)
from features.prepare import PreparedData, prepare

CHURN = "churn"
"""The training label column (as ``features.labels.CHURN``)."""

POSITIVE = ("yes", "y", "true", "t", "1", "churned")
NEGATIVE = ("no", "n", "false", "f", "0", "active")
TRUE_TOKENS = frozenset({"yes", "y", "true", "t", "1", "1.0"})
FALSE_TOKENS = frozenset({"no", "n", "false", "f", "0", "0.0"})
TEST_COLUMNS = (TREATMENT, CAMPAIGN_ID, CONTACTED_AT, RESPONSE)
"""A randomized test's columns: read with the labels, never features, optional when scoring."""
NA_TOKENS = frozenset({"na", "n/a", "nan", "null", "none", "-", "?", "#n/a"})
"""Read as missing in columns inferred numeric or date (never in categorical ones)."""
OTHER = "(other)"
"""The level that rare categories are grouped into."""
NUMERIC_SHARE = 0.98
"""A text column is numeric (or a date) when this share of its filled cells parse as one."""
MAX_LEVELS = 50
"""A text column with more distinct values than this and than half its rows is an identifier."""
_DATE_LIKE = r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|^\d{8}$"


class AttributeColumn(BaseModel):
    """One attribute: its column, its type, and for categorical ones the levels kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: AttributeType
    levels: list[str] = []
    """Categorical: the levels frequent enough to keep; the others read as ``(other)``."""
    date_format: str | None = None
    dayfirst: bool = False

    @property
    def feature(self) -> str:
        return f"{ATTRIBUTE_PREFIX}{self.name}"


class AttributeSchema(BaseModel):
    """How a snapshot table's attribute columns become features; stored with the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: list[AttributeColumn]
    timezone: str = "UTC"
    ignored: list[str] = []
    """Columns of the table that are not features (dropped, labels): a request may send them."""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def feature_names(self) -> list[str]:
        return [c.feature for c in self.columns]

    def features(
        self, raw: pd.DataFrame, as_of: pd.Series | pd.Timestamp, *, require_all: bool = True
    ) -> pd.DataFrame:
        """The attribute features of ``raw`` rows (same index), each row seen as of its day.

        ``require_all``: a column of the schema absent from ``raw`` is an error (a file); when
        False it is missing for every row (a request that did not send it).
        """
        absent = [c for c in self.names if c not in raw.columns]
        if absent and require_all:
            raise DataValidationError(
                f"attribute column(s) {absent} the model was trained on are not in the table; "
                f"it has {list(raw.columns)[:30]}"
            )
        out: dict[str, pd.Series | np.ndarray] = {}
        day = (
            pd.Series(pd.Timestamp(as_of).normalize(), index=raw.index)
            if isinstance(as_of, pd.Timestamp)
            else pd.to_datetime(as_of).dt.normalize()
        )
        for column in self.columns:
            if column.name not in raw.columns:
                missing = pd.Series(np.nan, index=raw.index)
                out[column.feature] = (
                    missing.astype("str").mask(missing.isna()).array
                    if column.kind == "categorical"
                    else missing.to_numpy()
                )
                continue
            out[column.feature] = _feature(raw[column.name], column, day, self.timezone)
        return pd.DataFrame(out, index=raw.index)

    def unknown(self, names: Sequence[str]) -> list[str]:
        """Names that are neither an attribute of the schema nor a column it ignores."""
        known = {*self.names, *self.ignored}
        return [n for n in names if n not in known]

    def lines(self) -> list[str]:
        """The schema as a short table, one line per attribute."""
        out = [f"  {'attribute':<28} {'type':<12} levels"]
        for c in self.columns:
            levels = ""
            if c.kind == "categorical":
                shown = ", ".join(c.levels[:6]) + (" ..." if len(c.levels) > 6 else "")
                levels = f"{len(c.levels)}: {shown}"
            out.append(f"  {c.name:<28} {c.kind:<12} {levels}")
        return out


def _feature(
    raw: pd.Series, column: AttributeColumn, day: pd.Series, timezone: str
) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One attribute column as a feature: float64 numbers, or text levels for categorical ones."""
    if column.kind == "numeric":
        values, _ = parse_numbers(_blank_na_tokens(raw))
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if column.kind == "boolean":
        token = parse_text(raw).str.lower()
        out = np.where(
            token.isin(TRUE_TOKENS), 1.0, np.where(token.isin(FALSE_TOKENS), 0.0, np.nan)
        )
        return out.astype(np.float64)
    if column.kind == "date":
        dates, _ = parse_datetimes(
            _blank_na_tokens(raw),
            date_format=column.date_format,
            dayfirst=column.dayfirst,
            timezone=timezone,
        )
        age = (day - dates.dt.normalize()).dt.days
        return age.to_numpy(dtype=np.float64, na_value=np.nan)
    text = parse_ids(raw).astype("str")
    kept = text.isin(column.levels)
    return text.where(kept | text.isna(), OTHER).array


def _blank_na_tokens(raw: pd.Series) -> pd.Series:
    if raw.dtype.kind in "biufM" or isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw
    text = raw.astype("str").str.strip()
    return raw.where(~text.str.lower().isin(NA_TOKENS).to_numpy() | raw.isna(), "")


# ----------------------------------------------------------------------------- inference


@dataclass(frozen=True)
class InferredSchema:
    """A schema and what inference did: one note per column it had to decide about."""

    schema: AttributeSchema
    notes: list[str]
    dropped: dict[str, str] = field(default_factory=dict)


def infer_schema(
    attributes: pd.DataFrame, source: SnapshotSource, customers: int | None = None
) -> InferredSchema:
    """Infer each attribute's type on the training table; ``types`` and ``drop`` override it.

    Numbers stored as text (with blank cells) are numeric; two-valued yes/no, true/false, 1/0 text
    is boolean; integers under a code-like name (``Area code``, ``zip``, ``store_id``: see
    ``code_like``) are categorical; ISO or d/m/y dates become their age in days at each row's
    as_of; other text is
    categorical with levels rarer than ``min_level_rows`` grouped as ``(other)``. Constant
    columns and identifier-like text (more distinct values than half the rows) are dropped, and
    said so, unless a type is given for them. ``customers``: how many distinct customers the
    rows hold (an identifier has about one value per customer).
    """
    distinct = customers or len(attributes)
    unknown = sorted((set(source.types) | set(source.drop)) - set(attributes.columns))
    if unknown:
        raise ConfigError(
            f"data.snapshots: types/drop name column(s) {unknown} that are not attributes of the "
            f"table; its attribute columns are {list(attributes.columns)}"
        )
    columns: list[AttributeColumn] = []
    notes: list[str] = []
    dropped: dict[str, str] = {}
    for name in attributes.columns:
        if name in source.drop:
            dropped[name] = "listed in drop"
            continue
        raw = attributes[name]
        kind = source.types.get(name) or _infer_kind(raw)
        if kind == "numeric" and name not in source.types and code_like(str(name), raw):
            kind = "categorical"
            notes.append(
                f"{name}: read as categorical: a code-like name with "
                f"{parse_ids(raw).nunique()} integer values (set "
                f"data.snapshots.types: {{{name}: numeric}} to read it as a number)"
            )
        column, note, why_dropped = _fit_column(
            str(name), raw, kind, source, forced=name in source.types, customers=distinct
        )
        if why_dropped:
            dropped[name] = why_dropped
            continue
        assert column is not None
        columns.append(column)
        if note:
            notes.append(f"{name}: {note}")
    for name, why in dropped.items():
        notes.append(f"{name}: not a feature ({why})")
    labels = [source.columns.get(c, c) for c in (CHURNED, FUTURE_VALUE)]
    labels += [source.columns[c] for c in TEST_COLUMNS if c in source.columns]
    ignored = sorted({*map(str, dropped), *(c for c in labels if isinstance(c, str))})
    schema = AttributeSchema(columns=columns, timezone=source.timezone, ignored=ignored)
    return InferredSchema(schema, notes, dropped)


CODE_WORDS = frozenset({"code", "zip", "zipcode", "postal", "postcode", "plz", "id"})
"""Words of a column name that make integers in it codes, not amounts (``Area code``, ``zip``,
``store_id``): read as categories when they take few values."""
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def code_like(name: str, raw: pd.Series) -> bool:
    """Whether ``raw`` holds integer codes: a name with a word of ``CODE_WORDS`` (split at
    blanks, punctuation and camel case) and at most ``MAX_LEVELS`` distinct integer values."""
    if not {w.lower() for w in _WORD.findall(name)} & CODE_WORDS:
        return False
    values, _ = parse_numbers(_blank_na_tokens(raw))
    filled = values.dropna().to_numpy(dtype=np.float64)
    if not len(filled) or not np.array_equal(filled, np.floor(filled)):
        return False
    return 1 < len(np.unique(filled)) <= MAX_LEVELS


def _infer_kind(raw: pd.Series) -> AttributeType:
    if raw.dtype.kind == "b":
        return "boolean"
    if raw.dtype.kind in "iuf":
        return "numeric"
    if raw.dtype.kind == "M" or isinstance(raw.dtype, pd.DatetimeTZDtype):
        return "date"
    # decide on the distinct values, weighted by their counts: a category column of 100,000
    # rows has a handful of them, so the parsers run on those only
    cleaned = parse_text(_blank_na_tokens(raw)).value_counts()
    if cleaned.empty:
        return "categorical"
    values = pd.Series(cleaned.index.astype(str), dtype=object)
    counts = cleaned.to_numpy()
    filled = counts.sum()
    tokens = {v.lower() for v in values} if len(values) <= 2 else set()
    if len(tokens) == 2 and len(tokens & TRUE_TOKENS) == 1 and len(tokens & FALSE_TOKENS) == 1:
        return "boolean"
    numbers, _ = parse_numbers(values)
    if counts[numbers.notna().to_numpy()].sum() >= NUMERIC_SHARE * filled:
        return "numeric"
    date_like = values.str.match(_DATE_LIKE).to_numpy()
    if counts[date_like].sum() >= NUMERIC_SHARE * filled:
        dates, _ = parse_datetimes(values)
        if counts[dates.notna().to_numpy()].sum() >= NUMERIC_SHARE * filled:
            return "date"
    return "categorical"


def _fit_column(
    name: str,
    raw: pd.Series,
    kind: AttributeType,
    source: SnapshotSource,
    *,
    forced: bool,
    customers: int,
) -> tuple[AttributeColumn | None, str, str]:
    """The column's schema entry, a note on what was read as missing, or why it is dropped."""
    rows = len(raw)
    blank = int(parse_text(raw).isna().sum()) if raw.dtype.kind not in "biufM" else 0
    if kind == "categorical":
        text = parse_ids(raw).dropna()
        counts = text.value_counts()
        if len(counts) <= 1 and not forced:
            return None, "", "constant: one value or none"
        if len(counts) > max(MAX_LEVELS, 0.5 * min(len(text), customers)) and not forced:
            return (
                None,
                "",
                f"looks like an identifier: {len(counts):,} distinct values in {len(text):,} "
                "rows; give it a type to keep it",
            )
        kept = sorted(counts.index[counts >= source.min_level_rows].astype(str).tolist())
        if not kept and not forced:
            return None, "", f"every level has fewer than {source.min_level_rows} rows"
        grouped = len(counts) - len(kept)
        note = ""
        if grouped:
            rare_rows = int(counts[counts < source.min_level_rows].sum())
            note = f"{grouped} rare level(s) ({rare_rows:,} rows) grouped as '{OTHER}'"
        if blank:
            note += ("; " if note else "") + f"{blank:,} blank cell(s) are missing"
        return AttributeColumn(name=name, kind=kind, levels=kept), note, ""
    column = AttributeColumn(
        name=name,
        kind=kind,
        date_format=source.date_format if kind == "date" else None,
        dayfirst=source.dayfirst if kind == "date" else False,
    )
    values = _feature(raw, column, pd.Series(pd.Timestamp("2000-01-01"), index=raw.index), "UTC")
    values = np.asarray(values, dtype=np.float64)
    missing = int(np.isnan(values).sum())
    if len(np.unique(values[~np.isnan(values)])) <= 1 and not forced:
        return None, "", "constant: one value or none"
    unreadable = missing - blank
    note = ""
    if missing:
        note = f"{kind}, {missing:,} of {rows:,} cell(s) missing"
        if unreadable > 0:
            note += f" ({unreadable:,} not readable as {kind}, e.g. {_examples(raw, values)})"
    return column, note, ""


def _examples(raw: pd.Series, values: np.ndarray) -> str:
    text = parse_text(raw)
    bad = text[np.isnan(values) & text.notna().to_numpy()]
    return ", ".join(repr(v) for v in bad.unique()[:3])


# ----------------------------------------------------------------------------- labels


def parse_churned(values: pd.Series, source: SnapshotSource) -> tuple[np.ndarray, np.ndarray]:
    """The churned flag as 0/1 (NaN where blank) and a mask of values that are no known label."""
    positive = {v.strip().lower() for v in (source.positive or POSITIVE)}
    negative = {v.strip().lower() for v in (source.negative or NEGATIVE)} - positive
    token = parse_text(values).str.lower()
    is_pos = token.isin(positive).to_numpy()
    is_neg = token.isin(negative).to_numpy()
    blank = token.isna().to_numpy()
    label = np.where(is_pos, 1.0, np.where(is_neg, 0.0, np.nan))
    return label, ~(is_pos | is_neg | blank)


# ----------------------------------------------------------------------------- loading


@dataclass
class LabelledTable:
    """A snapshots table read and checked: canonical columns, labels, and raw attributes."""

    rows: pd.DataFrame
    """customer_id, as_of, churn (0/1, when labelled), future_value (when given), attributes."""
    attributes: list[str]
    report: TableReport
    has_churn: bool
    has_value: bool
    notes: list[str] = field(default_factory=list)
    has_treatment: bool = False
    """The rows carry ``treatment`` (nullable 1/0): a randomized test run at their as_of day."""

    @property
    def as_of_days(self) -> list[pd.Timestamp]:
        return sorted(pd.Timestamp(d) for d in self.rows[AS_OF].unique())


def load_snapshots(source: SnapshotSource, *, labels: bool = True) -> LabelledTable:
    """Read a snapshots table; with ``labels``, rows without a usable churned flag are excluded.

    Every excluded row is counted in the report by reason; label values that are none of the
    accepted ones are errors counted there, never guessed.
    """
    raw = read_table(source)
    notes = check_header(raw, SNAPSHOTS, source)
    table = read_snapshots(raw, source, labels=labels, source_name=str(source.path))
    table.report.warnings[:0] = notes
    return table


def read_snapshots(
    raw: pd.DataFrame, source: SnapshotSource, *, labels: bool = True, source_name: str = "input"
) -> LabelledTable:
    """``load_snapshots`` on a frame already read (the rows as the file holds them)."""
    raw = _with_row_ids(_with_as_of(raw, source, source_name), source, source_name)
    if not labels:  # an export to score may no longer have its label columns
        mapping = {
            k: v
            for k, v in source.columns.items()
            if k not in (CHURNED, FUTURE_VALUE, *TEST_COLUMNS)
            or (isinstance(v, str) and v in raw.columns)
        }
        source = source.model_copy(update={"columns": mapping})
    source, lapse_note = _churn_from_response(raw, source) if labels else (source, "")
    label_col = source.columns.get(CHURNED, CHURNED)
    if labels and label_col not in raw.columns:
        raise DataValidationError(
            f"snapshots ({source_name}): no churned label column "
            f"({'mapped to ' + repr(label_col) if CHURNED in source.columns else 'none named churned'}). "
            f"Map your churn flag, e.g. data.snapshots.columns: {{churned: Churn}}. The file has: "
            f"{', '.join(repr(c) for c in list(raw.columns)[:30])}"
        )
    frame, report = validate_table(raw, SNAPSHOTS, source=source, source_name=source_name)
    canonical = [c.name for c in SNAPSHOTS.columns]
    attributes = [c for c in frame.columns if c not in canonical]
    has_churn = label_col in raw.columns
    value_col = source.columns.get(FUTURE_VALUE, FUTURE_VALUE)
    has_value = isinstance(value_col, str) and value_col in raw.columns
    notes: list[str] = []
    if labels:
        churn, unknown = parse_churned(frame[CHURNED], source)
        accepted = (
            ", ".join(source.positive or POSITIVE) + " / " + ", ".join(source.negative or NEGATIVE)
        )
        bad = [
            (
                unknown,
                f"is not a known label value (churned: {accepted}; set data.snapshots.positive "
                "and negative for other values)",
            ),
            (np.isnan(churn) & ~unknown, "is empty (training needs a label on every row)"),
        ]
        if has_value:
            bad.append((frame[FUTURE_VALUE].isna().to_numpy(), "is empty (future_value label)"))
        frame = _exclude(frame, report, bad, str(label_col), raw_values=frame[CHURNED])
        frame[CHURN] = parse_churned(frame[CHURNED], source)[0].astype(np.int64)
        if has_value:
            negative = frame[FUTURE_VALUE] < 0
            if negative.any():
                notes.append(
                    f"future_value: {int(negative.sum()):,} negative value(s) (net refunds) "
                    "counted as 0"
                )
            frame[FUTURE_VALUE] = frame[FUTURE_VALUE].clip(lower=0.0)
    keep = [CUSTOMER_ID, AS_OF]
    if labels:
        keep += [CHURN] + ([FUTURE_VALUE] if has_value else [])
    treatment_col = source.columns.get(TREATMENT, TREATMENT)
    # a test's assignment matters with its outcome: an export to score keeps every row
    has_treatment = labels and isinstance(treatment_col, str) and treatment_col in raw.columns
    if has_treatment:
        arm, _, unknown = parse_arm(frame[TREATMENT])
        frame = _exclude(
            frame,
            report,
            [(unknown, f"is not a treatment flag (expected {ARM_HELP}, or empty)")],
            str(treatment_col),
            raw_values=frame[TREATMENT],
        )
        frame[TREATMENT] = arm[~unknown].reset_index(drop=True)
        keep += [TREATMENT, CAMPAIGN_ID, CONTACTED_AT]
        response_col = source.columns.get(RESPONSE, RESPONSE)
        if isinstance(response_col, str) and response_col in raw.columns:
            frame = _with_response(frame, report, str(response_col))
            keep.append(RESPONSE)
    rows = frame[keep + attributes].reset_index(drop=True)
    notes += [lapse_note] if lapse_note else []
    unused = [c for c in TEST_COLUMNS[1:] if source.columns.get(c, c) in raw.columns]
    if labels and unused and not has_treatment:
        notes.append(
            f"{', '.join(str(source.columns.get(c, c)) for c in unused)}: a randomized test's "
            "column(s), not features; unused without a treatment column "
            "(data.snapshots.columns.treatment)"
        )
    table = LabelledTable(rows, attributes, report, has_churn, has_value and labels, notes)
    table.has_treatment = has_treatment
    return table


def _churn_from_response(raw: pd.DataFrame, source: SnapshotSource) -> tuple[SnapshotSource, str]:
    """A test exported with only its response (visited 1/0) and no churned column: churn is
    read as no response, said in a note; any other source is returned as it is."""
    response = source.columns.get(RESPONSE)
    if CHURNED in source.columns or CHURNED in raw.columns or not isinstance(response, str):
        return source, ""
    if response not in raw.columns:
        return source, ""
    lapse = source.model_copy(
        update={
            "columns": {**source.columns, CHURNED: response},
            "positive": sorted(FALSE_TOKENS),
            "negative": sorted(TRUE_TOKENS),
        }
    )
    return lapse, (
        f"churned: no column mapped; a customer without a response ({response!r} = no) is "
        "counted as churned, so the churn model predicts the lack of a response"
    )


def _with_response(frame: pd.DataFrame, report: TableReport, column: str) -> pd.DataFrame:
    """The rows with ``response`` as 1.0/0.0 (NaN outside the test); a tested row whose response
    is empty or no yes/no, 1/0, true/false value is excluded and counted."""
    token = parse_text(frame[RESPONSE]).str.lower()
    token = token.str.replace(r"^([01])\.0+$", r"\1", regex=True)
    value = np.where(token.isin(TRUE_TOKENS), 1.0, np.where(token.isin(FALSE_TOKENS), 0.0, np.nan))
    tested = frame[TREATMENT].notna().to_numpy()
    blank = token.isna().to_numpy()
    frame = _exclude(
        frame,
        report,
        [
            (
                tested & ~blank & np.isnan(value),
                "is not a response flag (expected yes/no, 1/0 or true/false)",
            ),
            (tested & blank, "is empty (a row in the test needs its response)"),
        ],
        column,
        raw_values=frame[RESPONSE],
    )
    kept = ~(tested & np.isnan(value))
    frame[RESPONSE] = value[kept]
    return frame


def _with_as_of(raw: pd.DataFrame, source: SnapshotSource, source_name: str) -> pd.DataFrame:
    """The table with its as_of column: the configured date for every row, or the mapped column."""
    mapped = source.columns.get(AS_OF, AS_OF)
    if source.as_of is not None:
        if AS_OF in raw.columns:
            raise DataValidationError(
                f"snapshots ({source_name}): the file has an 'as_of' column and the config gives "
                f"as_of: {source.as_of}; remove one of them"
            )
        return raw.assign(**{AS_OF: source.as_of.isoformat()})
    if mapped not in raw.columns:
        raise DataValidationError(
            f"snapshots ({source_name}): no as_of day. Give the day the export describes, "
            "data.snapshots.as_of: 2024-06-30, or map a column holding it, "
            f"data.snapshots.columns: {{as_of: <your column>}}. The file has: "
            f"{', '.join(repr(c) for c in list(raw.columns)[:30])}"
        )
    return raw


def _with_row_ids(raw: pd.DataFrame, source: SnapshotSource, source_name: str) -> pd.DataFrame:
    """The table with row numbers (1, 2, ...) as customer ids when ``row_ids`` says it has none."""
    if not source.row_ids:
        return raw
    if CUSTOMER_ID in raw.columns:
        raise DataValidationError(
            f"snapshots ({source_name}): the file has a 'customer_id' column and the config "
            "gives row_ids: true; remove row_ids to read the ids from the column"
        )
    ids = pd.Series(np.arange(1, len(raw) + 1), index=raw.index).astype(str)
    return raw.assign(**{CUSTOMER_ID: ids})


def _exclude(
    frame: pd.DataFrame,
    report: TableReport,
    bad: list[tuple[np.ndarray, str]],
    column: str,
    raw_values: pd.Series,
) -> pd.DataFrame:
    """Drop rows flagged in ``bad``, each reason counted in ``report`` with examples."""
    excluded = np.zeros(len(frame), dtype=bool)
    for mask, problem in bad:
        mask = mask & ~excluded
        if mask.any():
            rows = np.flatnonzero(mask)
            examples = tuple(f"row {i + 1}: {raw_values.iloc[i]!r}" for i in rows[:3])
            report.problems.append(RowProblem(column, problem, int(mask.sum()), examples))
            excluded |= mask
    report.rows_kept -= int(excluded.sum())
    if report.rows_read and not report.rows_kept:
        raise DataValidationError(
            f"snapshots ({report.source}): none of the {report.rows_read:,} rows is usable\n"
            + "\n".join(report.lines()[1:])
        )
    return frame.loc[~excluded].reset_index(drop=True)


# ----------------------------------------------------------------------------- features


def labelled_features(
    rows: pd.DataFrame,
    schema: AttributeSchema,
    data: CustomerData | PreparedData | None = None,
    families: Sequence[str] = (),
    *,
    require_all: bool = True,
) -> pd.DataFrame:
    """Features of snapshot rows (same index): event families as of each row's day, then attributes.

    ``rows`` holds ``customer_id``, ``as_of`` and the raw attribute columns. Event features come
    from ``build_features`` on ``data`` at each distinct as_of day, so no event after a row's day
    is read; a customer without events by then has missing event features.
    """
    day = pd.to_datetime(rows[AS_OF]).dt.normalize()
    parts = [schema.features(rows, day, require_all=require_all)]
    if families:
        if data is None:
            raise ConfigError(f"feature families {list(families)} need event tables")
        prep = data if isinstance(data, PreparedData) else prepare(data)
        events = []
        for when, at in rows.groupby(day, sort=True).groups.items():
            feats = build_features(prep, pd.Timestamp(when), families=families)
            ids = rows.loc[at, CUSTOMER_ID].astype("str")
            block = feats.reindex(pd.Index(ids))
            block.index = at
            events.append(block)
        parts.insert(0, pd.concat(events).reindex(rows.index))
    return pd.concat(parts, axis=1)


def check_no_collision(schema: AttributeSchema, event_features: Sequence[str]) -> None:
    """A snapshot attribute may not share its feature name with a customers-table attribute."""
    clash = sorted(set(schema.feature_names) & set(event_features))
    if clash:
        raise ConfigError(
            f"{clash} come both from the snapshots table and from the customers table; "
            "keep each attribute in one table (or drop it from one with data.snapshots.drop)"
        )


__all__ = [
    "CHURN",
    "OTHER",
    "AttributeColumn",
    "AttributeSchema",
    "InferredSchema",
    "LabelledTable",
    "check_no_collision",
    "infer_schema",
    "labelled_features",
    "load_snapshots",
    "parse_churned",
    "read_snapshots",
]
