"""Read messy customer exports into clean canonical tables, counting every row that cannot be used.

Each table goes through one path, ``validate_table``, whether it comes from a file or from an HTTP
request, so the service and the batch jobs see exactly the same values. Rows that cannot be used
are excluded and reported with their count, reason and examples; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataValidationError
from core.schema import (
    ARM,
    AS_OF,
    CAMPAIGN_ID,
    CUSTOMER_ID,
    CUSTOMERS,
    END_DATE,
    INTERACTION_TYPE,
    INTERACTION_TYPES,
    INTERACTIONS,
    SCORE,
    SCORE_RANGES,
    SNAPSHOTS,
    START_DATE,
    SUBSCRIPTIONS,
    TABLES,
    TRANSACTIONS,
    TREATMENTS,
    ColumnSpec,
    TableSpec,
)
from core.sources import DataConfig, TableSource, is_url
from features.arms import ARM_HELP, parse_arm
from features.exclusions import exclusion_masks
from features.readings import (
    OUT_OF_RANGE,
    WARNINGS,
    Readings,
    TableEvidence,
    date_evidence,
    day_first,
    decimal_comma,
    fit_ns,
    future_warning,
    number_evidence,
    repeated_names,
)

MAX_EXAMPLES = 3
_OFFSET_PATTERN = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
"""A time of day followed by a UTC offset: such values are converted to the business zone."""
_THOUSANDS_PATTERN = r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
TABULAR_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".parquet", ".pq")
COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")
REPEATED = "retain.repeated_header"
"""Key of ``DataFrame.attrs`` where ``read_table`` leaves repeated header names."""
EVENT_DATES = {"transactions": ("timestamp",), "interactions": ("timestamp",)}
"""Date columns of events, which should not lie in the future."""


@dataclass(frozen=True)
class RowProblem:
    """Rows of one table excluded for one reason, with a few examples to find them by."""

    column: str
    problem: str
    count: int
    examples: tuple[str, ...]

    def describe(self) -> str:
        examples = ", ".join(self.examples)
        return f"{self.count:,} row(s): '{self.column}' {self.problem} (e.g. {examples})"


@dataclass
class TableReport:
    """What loading one table did: rows read and kept, and why the others were excluded."""

    table: str
    source: str
    rows_read: int
    rows_kept: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    duplicates_dropped: int = 0
    left_out: list[RowProblem] = field(default_factory=list)
    """Rows the source's ``exclude`` rules left out, per rule (a row matching two rules counts
    under the first)."""
    warnings: list[str] = field(default_factory=list)
    """Readings kept but worth checking (ambiguous dates or numbers, future dates, ...)."""

    @property
    def rows_excluded(self) -> int:
        """Rows excluded as unusable (not those left out by ``exclude`` or dropped as duplicates)."""
        return self.rows_read - self.rows_kept - self.duplicates_dropped - self.rows_left_out

    @property
    def rows_left_out(self) -> int:
        """Rows the ``exclude`` rules left out."""
        return sum(p.count for p in self.left_out)

    def as_dict(self) -> dict[str, object]:
        """The counts for scripts (``retain train --json``): rows read and kept, and every row
        excluded, left out or dropped, by reason."""
        return {
            "table": self.table,
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "excluded": {f"'{p.column}' {p.problem}": p.count for p in self.problems},
            "left_out": {f"'{p.column}' {p.problem}": p.count for p in self.left_out},
            "duplicates_dropped": self.duplicates_dropped,
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        """Human-readable summary, one line per fact."""
        out = [
            f"{self.table} ({self.source}): read {self.rows_read:,} rows, kept {self.rows_kept:,}"
        ]
        if self.rows_left_out:
            out.append(f"  left out {self.rows_left_out:,} row(s) by the exclude rules:")
            out.extend(f"    - {p.describe()}" for p in self.left_out)
        if self.rows_excluded:
            out.append(f"  excluded {self.rows_excluded:,} unusable row(s):")
            out.extend(f"    - {p.describe()}" for p in self.problems)
        if self.duplicates_dropped:
            out.append(
                f"  dropped {self.duplicates_dropped:,} exact duplicate row(s) "
                "(set drop_duplicates: false to keep them)"
            )
        out.extend(f"  warning: {w}" for w in self.warnings)
        return out


@dataclass(frozen=True)
class CustomerData:
    """The canonical input tables of one business; only transactions are required."""

    transactions: pd.DataFrame
    customers: pd.DataFrame | None = None
    subscriptions: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None

    @property
    def contractual(self) -> bool:
        """True when the business has subscriptions, whose end defines churn."""
        return self.subscriptions is not None


def read_table(source: TableSource) -> pd.DataFrame:
    """Read a CSV or Parquet file as it is; CSV cells stay text so validation sees the raw values.

    Only regular files with a tabular suffix are read; errors name the file, never its content.
    Repeated header names are left in ``attrs`` for ``check_header``, and notes on the reading
    (the text encoding assumed when the file is not UTF-8) for the table's report.
    """
    path = source.path
    exists, is_file = _file_status(path)
    if not exists:
        raise DataValidationError(f"input file not found: {path}")
    if not is_file or not tabular_suffix(PurePosixPath(source.file_name)):
        raise DataValidationError(
            f"{path} is not a CSV or Parquet data file: expected a regular file named "
            f"*{', *'.join(TABULAR_SUFFIXES)} (optionally compressed: {', '.join(COMPRESSED)})"
        )
    fmt = source.format
    if fmt == "auto":
        suffix = PurePosixPath(source.file_name).suffix.lower()
        fmt = "parquet" if suffix in {".parquet", ".pq"} else "csv"
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(_arrow_buffer(path) if is_url(path) else path)
        except (OSError, ValueError) as err:
            raise DataValidationError(
                f"cannot read {path} as parquet ({type(err).__name__}): check that it is a "
                "Parquet file"
            ) from None
        frame.attrs[REPEATED] = repeated_names([str(c) for c in frame.columns])
        return frame
    encodings = [source.encoding] if source.encoding != "auto" else list(AUTO_ENCODINGS)
    for encoding in encodings:
        try:
            frame = _read_csv(source, encoding)
        except UnicodeDecodeError as err:
            if encoding == encodings[-1]:
                raise DataValidationError(
                    f"cannot read {path}: it is not {encoding} text (it holds the byte "
                    f"0x{err.object[err.start]:02x}, which {encoding} cannot decode); set the "
                    "table's encoding key to the export's encoding (e.g. encoding: cp1252)"
                ) from None
            continue
        if encoding != encodings[0]:
            frame.attrs[WARNINGS] = [
                f"{source.file_name} is not UTF-8 text: read as {encoding} ({ENCODING_NAMES[encoding]}); "
                "set the table's encoding key if its names or texts look wrong"
            ]
        return frame
    raise AssertionError("unreachable: the last encoding raises")


AUTO_ENCODINGS = ("utf-8", "cp1252", "latin-1")
"""What ``encoding: auto`` tries, in order: UTF-8, then the Western European encodings of
spreadsheet exports (latin-1 reads any byte)."""
ENCODING_NAMES = {"cp1252": "Windows Western European", "latin-1": "ISO 8859-1"}
MAX_NAME_CHARS = 1_000
"""Longest header name read as a column name: a longer one is a broken header line."""


def _read_csv(source: TableSource, encoding: str) -> pd.DataFrame:
    """Read a CSV as text cells in ``encoding``; UnicodeDecodeError when the bytes are not."""
    path = source.path
    header = None
    try:
        if source.header:
            header = pd.read_csv(
                path,
                sep=source.sep,
                header=None,
                nrows=1,
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
            )
            names = header.iloc[0].tolist() if len(header) else []
            _check_name_lengths(names, path)
            _check_separator(names, source.sep, path)
        engine = "pyarrow" if len(source.sep) == 1 and source.names is None else "c"
        if source.sep == r"\s+":
            engine = "c"
        options: dict[str, Any] = {
            "sep": source.sep,
            "header": 0 if source.header else None,
            "names": source.names,
            "dtype": str,
            "keep_default_na": False,
            "encoding": encoding,
        }
        try:
            # pyarrow's reader threads get the bytes, never a Python file: a thread still calling
            # Python's read after a parse error aborts the interpreter at exit
            source_bytes = _arrow_buffer(path) if engine == "pyarrow" else path
            frame = pd.read_csv(source_bytes, engine=engine, **options)
        except (ValueError, pd.errors.ParserError):
            if engine == "c":
                raise
            # pyarrow stops at bytes that are not UTF-8 and at a line longer than its block;
            # the C parser names the bytes (UnicodeDecodeError) and has no such limit
            frame = pd.read_csv(path, engine="c", **options)
    except (UnicodeDecodeError, DataValidationError):
        raise
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataValidationError(
            f"cannot read {path} as csv ({type(err).__name__}): check that it is a "
            f"{source.sep!r}-separated text file"
        ) from None
    if header is not None:
        frame.attrs[REPEATED] = repeated_names(header.iloc[0].tolist()) if len(header) else {}
    return frame


class SeparatorError(DataValidationError):
    """A CSV whose header is one name holding another separator; ``sep`` is that separator."""

    def __init__(self, message: str, sep: str) -> None:
        super().__init__(message)
        self.sep = sep


def _check_separator(names: list[object], sep: str, path: Path | str) -> None:
    """Refuse a header that is one name holding another separator: the file is not ``sep``-
    separated, and reading it so would give one column (or shifted ones)."""
    if len(names) != 1 or len(sep) != 1:
        return
    other = next((c for c in (";", "\t", "|", ",") if c != sep and c in str(names[0])), None)
    if other is not None:
        raise SeparatorError(
            f"cannot read {path} as a {sep!r}-separated file: its header line has no {sep!r} "
            f"but {other!r}; set the table's sep key to {other!r}",
            other,
        )


def _check_name_lengths(names: list[object], path: Path | str) -> None:
    """Refuse a header whose names are too long to be column names (a broken first line)."""
    long = [(i + 1, len(str(n))) for i, n in enumerate(names) if len(str(n)) > MAX_NAME_CHARS]
    if long:
        where = ", ".join(f"column {i}: {n:,} characters" for i, n in long[:3])
        raise DataValidationError(
            f"{path}: the header has name(s) longer than {MAX_NAME_CHARS:,} characters ({where}): "
            "the first line is not a header of column names; check the file"
        )


def _arrow_buffer(path: Path | str) -> Any:
    """The file's bytes, decompressed, in an Arrow buffer for pyarrow's readers.

    Given a Python file, the readers' threads call back into Python for each block; when a read
    failed and the command exited while a block was in flight, that thread met the finalising
    interpreter and the process aborted ("terminate called without an active exception").
    """
    import fsspec  # type: ignore[import-untyped]
    import pyarrow as pa

    with fsspec.open(str(path), "rb", compression="infer") as handle:
        return pa.BufferReader(handle.read())


def _file_status(path: Path | str) -> tuple[bool, bool]:
    """Whether ``path`` (a local path or an fsspec URL) exists, and whether it is a file."""
    if not is_url(path):
        local = Path(path)
        return local.exists(), local.is_file()
    from fsspec.core import url_to_fs  # type: ignore[import-untyped]

    fs, inner = url_to_fs(str(path))
    return bool(fs.exists(inner)), bool(fs.isfile(inner))


def tabular_suffix(path: PurePath) -> bool:
    """Whether ``path`` is named like a data file (``orders.csv``, ``orders.csv.gz``, ...)."""
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in TABULAR_SUFFIXES


def load_table(source: TableSource, spec: TableSpec) -> tuple[pd.DataFrame, TableReport]:
    """Read one configured table and validate it into canonical form."""
    raw = read_table(source)
    notes = check_header(raw, spec, source)
    frame, report = validate_table(raw, spec, source=source, source_name=str(source.path))
    report.warnings[:0] = notes
    return frame, report


def check_header(raw: pd.DataFrame, spec: TableSpec, source: TableSource) -> list[str]:
    """Refuse a repeated header name of a column the table reads; the notes on the others.

    A table that keeps its extra columns (customers, snapshots) reads every column as an
    attribute, so any repeated name is refused there unless the config leaves it out. The notes
    also carry what ``read_table`` assumed about the file (its text encoding).
    """
    repeated: dict[str, list[int]] = raw.attrs.get(REPEATED, {})
    mapped = {c.name for c in spec.columns} | {
        name for v in source.columns.values() for name in ([v] if isinstance(v, str) else v)
    }
    if spec.keeps_extra_columns:
        left_out = set(getattr(source, "drop", []))
        if source.attributes is not None:
            left_out |= set(repeated) - set(source.attributes)
        mapped |= set(repeated) - left_out
    used = sorted(set(repeated) & mapped)
    if used:
        clash = "; ".join(f"{n!r} in columns {repeated[n]}" for n in used)
        raise DataValidationError(
            f"{spec.name} ({source.path}): the header repeats {clash}, so which column holds "
            "the values is unclear: rename the columns so each name is used once"
        )
    notes = list(raw.attrs.get(WARNINGS, []))
    for name, positions in repeated.items():
        notes.append(
            f"the header repeats {name!r} (columns {positions}): the later one(s) are read as "
            f"{', '.join(repr(f'{name}.{k}') for k in range(1, len(positions)))}"
        )
    return notes


def load_data(config: DataConfig) -> tuple[CustomerData, list[TableReport]]:
    """Load every configured table; under ``config.strict`` any unusable row is an error."""
    frames: dict[str, pd.DataFrame] = {}
    reports: list[TableReport] = []
    errors: list[str] = []  # every table's, so one run shows them all
    for name, source in config.event_sources().items():
        try:
            frame, report = load_table(source, TABLES[name])
        except DataValidationError as err:
            errors.append(str(err))
            continue
        frames[name] = frame
        reports.append(report)
    if errors:
        raise DataValidationError("\n".join(errors))
    if config.strict:
        raise_if_unclean(reports)
    return CustomerData(**frames), reports


def raise_if_unclean(reports: list[TableReport]) -> None:
    """Strict mode: fail with every problem listed if any row was excluded or dropped."""
    bad = [r for r in reports if r.rows_excluded or r.duplicates_dropped]
    if bad:
        lines = [line for r in bad for line in r.lines()]
        raise DataValidationError(
            "strict mode: some rows cannot be used as given\n" + "\n".join(lines)
        )


def validate_table(
    raw: pd.DataFrame,
    spec: TableSpec,
    *,
    source: TableSource | None = None,
    source_name: str = "input",
    readings: Readings | None = None,
) -> tuple[pd.DataFrame, TableReport]:
    """Map, parse and check one table; return the usable rows in canonical form and a report.

    ``readings`` (decided over a whole table of which ``raw`` is a partition) fix the day/month
    order and decimal mark of text columns; without them they are decided from ``raw``.

    The result has the spec's columns in order (optional ones absent from the input are added as
    empty), then for tables that keep extra columns, the attributes. A missing required column is
    an error; a row with an unusable value is excluded and counted in the report.
    """
    options = source or TableSource(path=Path(source_name))
    report = TableReport(spec.name, source_name, rows_read=len(raw))
    raw = raw.reset_index(drop=True)
    columns: dict[str, pd.Series] = {}
    bad_masks: list[tuple[str, str, np.ndarray, pd.Series]] = []
    used_source_columns: set[str] = set()

    absent = []  # every missing column of the table, reported together
    for col in spec.columns:
        mapped = options.columns.get(col.name, col.name)
        sources = [mapped] if isinstance(mapped, str) else list(mapped)
        missing = [s for s in sources if s not in raw.columns]
        if missing:
            if col.required or col.name in options.columns:
                absent.append(_missing_column_message(spec, col, missing, raw, source_name))
            continue
        if absent:
            continue
        used_source_columns.update(sources)
        try:
            if len(sources) == 1:
                values, problems = _parse_column(
                    raw[sources[0]], col, options, report.warnings, readings
                )
                bad_masks.extend((sources[0], p, m, raw[sources[0]]) for p, m in problems)
            else:
                values = pd.Series(1.0, index=raw.index)
                for s in sources:
                    part, problems = _parse_column(raw[s], col, options, report.warnings, readings)
                    bad_masks.extend((s, p, m, raw[s]) for p, m in problems)
                    values = values * part
        except DataValidationError as err:
            raise DataValidationError(f"{spec.name} ({source_name}): {err}") from None
        if col.kind == "datetime" and col.name in EVENT_DATES.get(spec.name, ()):
            note = future_warning(values, sources[0])
            if note:
                report.warnings.append(note)
        columns[col.name] = values

    if absent:
        raise DataValidationError("\n".join(absent))
    frame = pd.DataFrame(columns, index=raw.index)
    bad_masks.extend(_table_rules(frame, spec))
    frame = _add_absent_optional(frame, spec)
    if spec.keeps_extra_columns:
        frame = _with_attributes(frame, raw, options, used_source_columns, spec)

    # rows the exclude rules leave out first, so they are never counted as unusable too
    excluded = np.zeros(len(frame), dtype=bool)
    rules = exclusion_masks(raw, options.exclude, spec, options.columns, source_name)
    for column, matched, mask in rules:
        mask = mask & ~excluded
        if mask.any():
            excluded |= mask
            report.left_out.append(_problem(column, matched, mask, raw[column]))
    left_out = excluded.copy()
    for column, problem, mask, raw_values in bad_masks:
        mask = mask & ~left_out
        if mask.any():
            excluded |= mask
            report.problems.append(_problem(column, problem, mask, raw_values))
    frame = frame.loc[~excluded]
    if options.drop_duplicates:
        # the documented rule: rows identical in every column of the file, not only the
        # columns retain reads (two lines differing in an unmapped description are both kept)
        dupes = raw.loc[frame.index].duplicated().to_numpy()
        report.duplicates_dropped = int(dupes.sum())
        frame = frame.loc[~dupes]
    report.rows_kept = len(frame)
    if report.rows_read and not report.rows_kept:
        raise DataValidationError(
            f"{spec.name} ({source_name}): none of the {report.rows_read:,} rows is usable\n"
            + "\n".join(report.lines()[1:])
        )
    return frame.reset_index(drop=True), report


def text_columns(raw: pd.DataFrame, spec: TableSpec, source: TableSource) -> dict[str, str]:
    """The file columns read as dates or numbers whose values are text, with their kind: the
    ones whose day/month order or decimal mark has to be decided from the values."""
    out: dict[str, str] = {}
    for col in spec.columns:
        if col.kind not in ("datetime", "number"):
            continue
        mapped = source.columns.get(col.name, col.name)
        for name in [mapped] if isinstance(mapped, str) else mapped:
            if (
                name in raw.columns
                and raw[name].dtype.kind not in "biufmM"
                and not isinstance(raw[name].dtype, pd.DatetimeTZDtype)
            ):
                out[name] = col.kind
    return out


def reading_evidence(raw: pd.DataFrame, spec: TableSpec, source: TableSource) -> TableEvidence:
    """What a table's (or a partition's) text dates and numbers say about their reading: the
    counts ``validate_table`` would decide from, over the same values, without validating."""
    evidence = TableEvidence()
    raw = raw.reset_index(drop=True)
    for name, kind in text_columns(raw, spec, source).items():
        if kind == "datetime":
            outside = np.zeros(len(raw), dtype=bool)
            text, result, blank = _iso_datetimes(
                raw[name], source.date_format, source.timezone, outside
            )
            retry = result.isna().to_numpy() & ~blank & ~outside
            if retry.any():
                evidence.dates[name] = date_evidence(text[retry])
        else:
            _, _, retry, text = _plain_numbers(raw[name])
            if retry.any() and source.decimal == "auto":
                evidence.numbers[name] = number_evidence(text)
    return evidence


def _missing_column_message(
    spec: TableSpec, col: ColumnSpec, missing: list[str], raw: pd.DataFrame, source_name: str
) -> str:
    if len(raw.columns) < 2:
        have = (
            "one column only (its name is not shown): is the separator right? Set "
            f"data.{spec.name}.sep"
        )
    else:
        have = ", ".join(repr(str(c)[:40]) for c in raw.columns[:30])
    mapped = missing[0] if missing[0] != col.name else None
    how = (
        f"it is mapped to {mapped!r}, which the file does not have"
        if mapped
        else "the file has no column of that name"
    )
    kind = "required" if col.required else "mapped"
    return (
        f"{spec.name} ({source_name}): {kind} column '{col.name}' is missing: {how}. "
        f"The file has: {have}. Map your column in the experiment config, e.g. "
        f"data.{spec.name}.columns.{col.name}: <your column name>."
    )


def _parse_column(
    raw: pd.Series,
    col: ColumnSpec,
    options: TableSource,
    warnings: list[str],
    readings: Readings | None = None,
) -> tuple[pd.Series, list[tuple[str, np.ndarray]]]:
    """Parse one raw column by its kind; return values and (problem, row mask) pairs."""
    decided = readings or Readings()
    if col.kind == "id":
        values = parse_ids(raw)
        needs = "a customer id" if col.name == CUSTOMER_ID else f"a {col.name}"
        return values, [(f"is empty (every row needs {needs})", values.isna().to_numpy())]
    if col.kind == "datetime":
        outside = np.zeros(len(raw), dtype=bool)
        values, unparseable = parse_datetimes(
            raw,
            date_format=options.date_format,
            dayfirst=options.dayfirst,
            timezone=options.timezone,
            checks=DateChecks(
                str(raw.name),
                "dayfirst" in options.model_fields_set,
                warnings,
                outside,
                decided.dayfirst.get(str(raw.name)),
            ),
        )
        problems = [
            (
                "is not a date (expected e.g. 2024-03-31 or 2024-03-31T14:05:00+01:00)",
                unparseable & ~outside,
            ),
            (OUT_OF_RANGE, outside),
        ]
        if col.required:
            problems.append(("is empty", (values.isna().to_numpy() & ~unparseable)))
        return values, problems
    if col.kind == "number":
        values, not_numeric = parse_numbers(
            raw,
            sep=options.sep,
            decimal=options.decimal,
            column=str(raw.name),
            warnings=warnings,
            comma=decided.comma.get(str(raw.name)),
        )
        problems = [("is not a finite number", not_numeric)]
        if col.required:
            problems.append(("is empty", values.isna().to_numpy() & ~not_numeric))
        return values, problems
    return parse_text(raw), []


def _is_blank(raw: pd.Series) -> np.ndarray:
    if raw.dtype.kind in "biufcmM":
        return raw.isna().to_numpy()
    text = raw.astype("str")
    return (raw.isna() | (text.str.strip() == "")).to_numpy()


def parse_ids(raw: pd.Series) -> pd.Series:
    """Customer ids as text: integers and integral floats (12345.0) become '12345'; blank is NA."""
    if raw.dtype.kind in "iu":
        return raw.astype("str")
    if raw.dtype.kind == "f":
        out = pd.Series(pd.NA, index=raw.index, dtype="str")
        ok = raw.notna() & np.isfinite(raw)
        integral = ok & (raw == np.floor(raw))
        out[integral] = raw[integral].astype(np.int64).astype("str")
        out[ok & ~integral] = raw[ok & ~integral].astype("str")
        return out
    text = _blank_as_na(raw.astype("str").str.strip())
    floaty = text.str.contains(".", regex=False, na=False)
    if floaty.any():
        text[floaty] = text[floaty].str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return text


def parse_numbers(
    raw: pd.Series,
    *,
    sep: str = ",",
    decimal: str = "auto",
    column: str = "",
    warnings: list[str] | None = None,
    comma: bool | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Numbers from text, tolerating currency symbols and thousands separators; flags the rest.

    Commas are decimal marks or thousands separators as ``comma`` says (decided over the whole
    table), else as ``features.readings.decimal_comma`` decides from these values; an ambiguous
    reading is added to ``warnings``.
    """
    if raw.dtype.kind in "biuf":
        values = raw.astype("float64")
        return values, ~np.isfinite(values.fillna(0.0).to_numpy())
    values, blank, retry, text = _plain_numbers(raw)
    if retry.any():
        if comma is None:
            comma, note = decimal_comma(text, sep, decimal, column or str(raw.name))
            if note and warnings is not None:
                warnings.append(note)
        if comma:
            european = text.str.match(r"^-?\d{1,3}(?:\.\d{3})*,\d+$|^-?\d+,\d+$", na=False)
            converted = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            text = text.where(~european, converted)
        else:
            thousands = text.str.match(_THOUSANDS_PATTERN, na=False)
            text = text.where(~thousands, text.str.replace(",", "", regex=False))
        values[retry] = pd.to_numeric(text, errors="coerce").astype("float64")
    finite = np.isfinite(values.fillna(0.0).to_numpy())
    not_numeric = (values.isna().to_numpy() & ~blank) | ~finite
    values[~finite] = np.nan
    return values, not_numeric


def _plain_numbers(raw: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray, pd.Series]:
    """The vectorised pass of ``parse_numbers`` over text: the values plain parsing reads, the
    blank mask, the rows it could not read and their text without currency symbols."""
    blank = _is_blank(raw)
    values = pd.to_numeric(raw.where(~blank), errors="coerce").astype("float64")
    retry = values.isna().to_numpy() & ~blank
    text = raw[retry].astype("str").str.strip()
    text = text.str.replace(r"^(-?)[\$€£¥]\s*", r"\1", regex=True).str.replace(
        "\u00a0", "", regex=False
    )
    return values, blank, retry, text


@dataclass
class DateChecks:
    """Where ``parse_datetimes`` reports readings: the column, whether ``dayfirst`` was given,
    warnings, and a mask it fills with the values outside 1677-2262."""

    column: str
    explicit_dayfirst: bool
    warnings: list[str]
    outside: np.ndarray
    decided: bool | None = None
    """The day/month order decided over the whole table (``features.readings.Readings``);
    None: decide from this column's values."""


def parse_datetimes(
    raw: pd.Series,
    *,
    date_format: str | None = None,
    dayfirst: bool = False,
    timezone: str = "UTC",
    checks: DateChecks | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Timestamps as naive local time in ``timezone``; returns values and an unparseable mask.

    Values with a UTC offset are converted to the business time zone; values without one are
    taken as already in it. ISO 8601 (or ``date_format``) is tried first, vectorised; only the
    values that fail it are parsed one by one in any recognisable format, in one day/month order
    (``features.readings.day_first``). Values outside 1677-2262 are unparseable (and flagged in
    ``checks.outside``).
    """
    outside = checks.outside if checks is not None else np.zeros(len(raw), dtype=bool)
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        local, out = fit_ns(raw.dt.tz_convert(timezone).dt.tz_localize(None))
        outside |= out
        return local, out
    if raw.dtype.kind == "M":
        values, out = fit_ns(raw)
        outside |= out
        return values, out
    text, result, blank = _iso_datetimes(raw, date_format, timezone, outside)
    retry = result.isna().to_numpy() & ~blank & ~outside
    if retry.any():
        order = dayfirst
        if checks is not None and checks.decided is not None:
            order = checks.decided
        elif checks is not None:
            order, note = day_first(text[retry], dayfirst, checks.explicit_dayfirst, checks.column)
            if note:
                checks.warnings.append(note)
        parsed, out = _parse_any_format(text[retry], dayfirst=order, timezone=timezone)
        result[retry] = parsed
        outside[np.flatnonzero(retry)[out]] = True
    return result, result.isna().to_numpy() & ~blank


def _iso_datetimes(
    raw: pd.Series, date_format: str | None, timezone: str, outside: np.ndarray
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """The vectorised pass of ``parse_datetimes`` over text: the stripped text, the values ISO
    8601 (or ``date_format``) reads (NaT elsewhere) and the blank mask; fills ``outside``."""
    blank = _is_blank(raw)
    text = raw.astype("str").str.strip().where(~blank)
    result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    with_offset = text.str.contains(_OFFSET_PATTERN, regex=True, na=False).to_numpy()
    naive = ~with_offset & ~blank
    if naive.any():
        fmt = date_format or "ISO8601"
        parsed, out = fit_ns(pd.to_datetime(text[naive], format=fmt, errors="coerce"))
        result[naive] = parsed
        outside[np.flatnonzero(naive)[out]] = True
    if with_offset.any():
        aware = pd.to_datetime(
            text[with_offset], format=date_format or "ISO8601", errors="coerce", utc=True
        )
        parsed, out = fit_ns(aware.dt.tz_convert(timezone).dt.tz_localize(None))
        result[with_offset] = parsed
        outside[np.flatnonzero(with_offset)[out]] = True
    return text, result, blank


def _parse_any_format(
    text: pd.Series, *, dayfirst: bool, timezone: str
) -> tuple[pd.Series, np.ndarray]:
    """Slow path for the values ISO 8601 could not read: each parsed on its own."""
    parsed = pd.to_datetime(text, format="mixed", dayfirst=dayfirst, errors="coerce", utc=True)
    has_offset = text.str.contains(_OFFSET_PATTERN, regex=True, na=False) | text.str.contains(
        r"\b(?:UTC|GMT)\b", regex=True, na=False
    )
    local = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
    naive = parsed.dt.tz_localize(None)
    return fit_ns(naive.where(~has_offset, local))


def parse_text(raw: pd.Series) -> pd.Series:
    """Text values stripped of surrounding blanks; blank becomes NA."""
    if raw.dtype.kind in "iuf":
        return parse_ids(raw)
    return _blank_as_na(raw.astype("str").str.strip())


def _blank_as_na(text: pd.Series) -> pd.Series:
    """Stripped text with the empty values as NA; masks only when one is empty (the mask is
    most of the cost of a short column, as in a request)."""
    empty = (text == "").to_numpy(dtype=bool, na_value=False)
    return text.mask(empty) if empty.any() else text


def _table_rules(
    frame: pd.DataFrame, spec: TableSpec
) -> list[tuple[str, str, np.ndarray, pd.Series]]:
    """Checks across columns or specific to one table (interaction types, score ranges, dates)."""
    out: list[tuple[str, str, np.ndarray, pd.Series]] = []
    if spec is INTERACTIONS and INTERACTION_TYPE in frame:
        kind = frame[INTERACTION_TYPE].str.lower()
        frame[INTERACTION_TYPE] = kind
        unknown = ~kind.isin(INTERACTION_TYPES).to_numpy()
        out.append((INTERACTION_TYPE, f"is not one of {list(INTERACTION_TYPES)}", unknown, kind))
        if SCORE in frame:
            for survey, (low, high) in SCORE_RANGES.items():
                is_survey = (kind == survey).to_numpy()
                score = frame[SCORE].to_numpy()
                outside = is_survey & ~((score >= low) & (score <= high))
                out.append(
                    (
                        SCORE,
                        f"is outside [{low:g}, {high:g}] for a {survey} answer",
                        outside,
                        frame[SCORE],
                    )
                )
        else:
            surveys = kind.isin(list(SCORE_RANGES)).to_numpy()
            out.append(
                (SCORE, "is missing: survey answers (nps, csat) need a score column", surveys, kind)
            )
    if spec is CUSTOMERS:
        again = (
            frame[CUSTOMER_ID].duplicated(keep="first").to_numpy()
            & frame[CUSTOMER_ID].notna().to_numpy()
        )
        out.append(
            (
                CUSTOMER_ID,
                "appears again (one row per customer; the first is kept)",
                again,
                frame[CUSTOMER_ID],
            )
        )
    if spec is SNAPSHOTS:
        again = (
            frame.duplicated([CUSTOMER_ID, AS_OF], keep="first").to_numpy()
            & frame[CUSTOMER_ID].notna().to_numpy()
        )
        out.append(
            (
                CUSTOMER_ID,
                "appears again for the same as_of (one row per customer and day; the first is "
                "kept)",
                again,
                frame[CUSTOMER_ID],
            )
        )
    if spec is TREATMENTS:
        out.extend(_treatment_rules(frame))
    if spec is SUBSCRIPTIONS and END_DATE in frame:
        ends_first = (frame[END_DATE] < frame[START_DATE]).to_numpy()
        out.append((END_DATE, "is before start_date", ends_first, frame[END_DATE]))
    return out


def _treatment_rules(frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray, pd.Series]]:
    """The treatments table: a known arm (parsed in place to 1/0), one row per customer and
    campaign, and never the same customer in both arms of one campaign."""
    raw_arm = frame[ARM]
    arm, blank, unknown = parse_arm(raw_arm)
    frame[ARM] = arm
    usable = ~blank & ~unknown & frame[CUSTOMER_ID].notna().to_numpy()
    usable &= frame[CAMPAIGN_ID].notna().to_numpy()
    keys = frame.loc[usable, [CUSTOMER_ID, CAMPAIGN_ID]].assign(**{ARM: arm[usable]})
    arms = keys.groupby([CUSTOMER_ID, CAMPAIGN_ID])[ARM].transform("nunique")
    both = np.zeros(len(frame), dtype=bool)
    both[usable] = arms.to_numpy() > 1
    again = np.zeros(len(frame), dtype=bool)
    again[usable] = keys.duplicated([CUSTOMER_ID, CAMPAIGN_ID], keep="first").to_numpy()
    again &= ~both
    return [
        (ARM, "is empty", blank, raw_arm),
        (ARM, f"is not an arm (expected {ARM_HELP})", unknown, raw_arm),
        (
            CUSTOMER_ID,
            "is in both arms of one campaign (every such row is excluded: the assignment is "
            "unknown)",
            both,
            frame[CUSTOMER_ID],
        ),
        (
            CUSTOMER_ID,
            "appears again in the same campaign (one row per customer and campaign; the first is "
            "kept)",
            again,
            frame[CUSTOMER_ID],
        ),
    ]


def _add_absent_optional(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    dtypes = {"id": "str", "datetime": "datetime64[ns]", "number": "float64", "text": "str"}
    for col in spec.columns:
        if col.name not in frame:
            frame[col.name] = pd.Series(
                pd.NA if col.kind in ("id", "text") else np.nan,
                index=frame.index,
                dtype=dtypes[col.kind],
            )
    return frame[[c.name for c in spec.columns]]


def _with_attributes(
    frame: pd.DataFrame,
    raw: pd.DataFrame,
    options: TableSource,
    used: set[str],
    spec: TableSpec,
) -> pd.DataFrame:
    """Keep the customers table's other columns as attributes: numbers stay numbers, rest text."""
    if options.attributes is not None:
        missing = [a for a in options.attributes if a not in raw.columns]
        if missing:
            raise DataValidationError(
                f"{spec.name}: attribute column(s) {missing} not in the file; it has {list(raw.columns)}"
            )
        names = list(options.attributes)
    else:
        names = [c for c in raw.columns if c not in used and c not in frame.columns]
    for name in names:
        # a snapshots table's attributes stay as read: ``features.labelled`` infers their types
        frame[str(name)] = raw[name] if spec is SNAPSHOTS else _attribute_values(raw[name])
    return frame


def _attribute_values(raw: pd.Series) -> pd.Series:
    """An attribute column: numeric if every non-blank value is a number, otherwise text."""
    if raw.dtype.kind in "biuf":
        return raw.astype("float64")
    if _has_digitless_value(raw):
        return parse_text(raw)  # the rule's answer, decided without the number parser
    values, not_numeric = parse_numbers(raw)
    if not not_numeric.any() and values.notna().any():
        return values
    return parse_text(raw)


def _has_digitless_value(raw: pd.Series) -> bool:
    """Whether a non-blank value has no digit: such a value ("north", "inf") is never a finite
    number, so ``parse_numbers`` would flag it and the column is text; one vectorised pass
    instead of the number parser's several (a customer's request pays them per column). Text
    columns without commas only: an object column may hold values whose text is no guide
    (``True``), and commas go to the parser, whose mixed-reading error stands."""
    if not isinstance(raw.dtype, pd.StringDtype):
        return False
    if raw.str.contains(",", regex=False, na=False).any():
        return False
    digit = raw.str.contains(r"\d", regex=True, na=True).to_numpy(dtype=bool)
    return bool((~digit & ~_is_blank(raw)).any())


def _problem(column: str, problem: str, mask: np.ndarray, raw_values: pd.Series) -> RowProblem:
    rows = np.flatnonzero(mask)
    examples = tuple(f"row {i + 1}: {_show(raw_values.iloc[i])}" for i in rows[:MAX_EXAMPLES])
    return RowProblem(column, problem, int(mask.sum()), examples)


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "empty"
    text = str(value)
    return "empty" if not text.strip() else repr(text[:40])


def tables_of(data: CustomerData) -> dict[str, pd.DataFrame]:
    """The present tables of ``data`` by canonical name."""
    tables = {
        TRANSACTIONS.name: data.transactions,
        CUSTOMERS.name: data.customers,
        SUBSCRIPTIONS.name: data.subscriptions,
        INTERACTIONS.name: data.interactions,
    }
    return {k: v for k, v in tables.items() if v is not None}


__all__ = [
    "CUSTOMER_ID",
    "CustomerData",
    "RowProblem",
    "TableReport",
    "check_header",
    "load_data",
    "load_table",
    "parse_datetimes",
    "parse_ids",
    "parse_numbers",
    "raise_if_unclean",
    "read_table",
    "reading_evidence",
    "tables_of",
    "validate_table",
]
