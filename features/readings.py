"""Checks of how raw values were read: what cannot be represented and what is ambiguous.

Used by ``features.loading``: dates outside the years pandas can hold, day/month order of dates
like 03/04/2024, decimal commas against thousands separators, repeated header names and rows
dated in the future. Each check is vectorised; a contradiction is an error naming the column and
examples, an ambiguity is read one documented way and reported as a warning with counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from core.errors import DataValidationError

EARLIEST = np.datetime64("1677-09-22")
LATEST = np.datetime64("2262-04-11")
OUT_OF_RANGE = "is outside the years 1677-2262 that dates can have here"
MAX_EXAMPLES = 3
_DAY_MONTH = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}(?:\D|$)"
DECIMAL_COMMA = r"^-?(?:0,\d+|\d+,\d{1,2}|\d+,\d{4,}|\d{1,3}(?:\.\d{3})+,\d+)$"
THOUSANDS = r"^-?(?:\d{1,3}(?:,\d{3})+\.\d+|\d{1,3}(?:,\d{3}){2,})$"
AMBIGUOUS_COMMA = r"^-?[1-9]\d{0,2},\d{3}$"
WARNINGS = "retain.warnings"
"""Key of ``DataFrame.attrs`` where ``read_table`` leaves warnings about the file it read."""


def examples(values: pd.Series, mask: np.ndarray | pd.Series) -> str:
    """'row 3: '25/03/2024', ...' for the first few rows of ``mask`` (1-based row numbers)."""
    return ", ".join(example_list(values, mask))


def fit_ns(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Naive datetimes of any resolution as datetime64[ns]; those outside 1677-2262 become NaT
    and are flagged."""
    array = values.to_numpy()
    if array.dtype == np.dtype("datetime64[ns]"):
        return values, np.zeros(len(values), dtype=bool)
    outside = (array < EARLIEST) | (array > LATEST)
    if outside.any():
        array = array.copy()
        array[outside] = np.datetime64("NaT")
    return pd.Series(array.astype("datetime64[ns]"), index=values.index), outside


class _Evidence:
    """Counts and examples that add up over partitions: counts sum, examples concatenate (the
    first ``MAX_EXAMPLES`` kept), text keeps the first non-empty value."""

    def __add__(self, other: Self) -> Self:
        summed: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, tuple):
                summed[f.name] = (mine + theirs)[:MAX_EXAMPLES]
            elif isinstance(mine, str):
                summed[f.name] = mine or theirs
            else:
                summed[f.name] = mine + theirs
        return dataclasses.replace(self, **summed)  # type: ignore[type-var]

    def labelled(self, where: str) -> Self:
        """The same evidence with its examples prefixed by ``where`` (e.g. 'partition 2')."""
        examples = {
            f.name: tuple(f"{where} {e}" for e in getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name.endswith("_examples")
        }
        return dataclasses.replace(self, **examples)  # type: ignore[type-var]


@dataclass(frozen=True)
class DateEvidence(_Evidence):
    """What a column's non-ISO dates say about day/month order: counts and a few examples.

    Counts add up over partitions, so one decision can be taken for a whole table."""

    day_first: int = 0
    month_first: int = 0
    ambiguous: int = 0
    day_first_examples: tuple[str, ...] = ()
    month_first_examples: tuple[str, ...] = ()
    ambiguous_examples: tuple[str, ...] = ()


def date_evidence(text: pd.Series) -> DateEvidence:
    """Count the dates like 25/03/2024 that can only be day-first, only month-first, or either."""
    parts = text.str.extract(_DAY_MONTH)
    first = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    second = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
    only_day_first = (first > 12) & (second <= 12)
    only_month_first = (second > 12) & (first <= 12)
    ambiguous = (first <= 12) & (second <= 12) & (first != second)
    return DateEvidence(
        int(only_day_first.sum()),
        int(only_month_first.sum()),
        int(ambiguous.sum()),
        example_list(text, only_day_first),
        example_list(text, only_month_first),
        example_list(text, ambiguous),
    )


def day_first(text: pd.Series, dayfirst: bool, explicit: bool, column: str) -> tuple[bool, str]:
    """The day/month order of non-ISO dates such as 03/04/2024, and a warning ('' if none)."""
    return decide_day_first(date_evidence(text), dayfirst, explicit, column)


def decide_day_first(
    evidence: DateEvidence, dayfirst: bool, explicit: bool, column: str
) -> tuple[bool, str]:
    """The day/month order the evidence shows, and a warning ('' if none).

    Values with a day above 12 show the order; if some show day-first and others month-first,
    or they contradict an explicit ``dayfirst``, it is an error.
    """
    e = evidence
    if e.day_first and e.month_first:
        raise DataValidationError(
            f"column '{column}' mixes day-first dates ({e.day_first:,}, e.g. "
            f"{', '.join(e.day_first_examples)}) and month-first dates "
            f"({e.month_first:,}, e.g. {', '.join(e.month_first_examples)}), so "
            f"{e.ambiguous:,} date(s) like 03/04 cannot be read safely: export ISO dates "
            "(2024-03-25) or one order"
        )
    shown = bool(e.day_first or e.month_first)
    order = bool(e.day_first) if shown else dayfirst
    name = "day-first" if order else "month-first"
    if shown and explicit and order != dayfirst:
        count, shown_examples = (
            (e.day_first, e.day_first_examples)
            if order
            else (e.month_first, e.month_first_examples)
        )
        raise DataValidationError(
            f"column '{column}': dayfirst is {str(dayfirst).lower()} but {count:,} "
            f"date(s) can only be {name} (e.g. {', '.join(shown_examples)}): fix dayfirst"
        )
    if not e.ambiguous or explicit:
        return order, ""
    why = (
        f"as {e.day_first + e.month_first:,} other date(s) can only be {name}"
        if shown
        else "by default"
    )
    return order, (
        f"'{column}': {e.ambiguous:,} date(s) have a day and month both up to 12 (e.g. "
        f"{', '.join(e.ambiguous_examples)}); read {name} {why}; set dayfirst: "
        f"{str(order).lower()} to confirm or {str(not order).lower()} to read them the other way"
    )


@dataclass(frozen=True)
class NumberEvidence(_Evidence):
    """What a column's numbers with commas say about the decimal mark: counts and examples.

    Counts add up over partitions, so one decision can be taken for a whole table."""

    comma: int = 0
    thousands: int = 0
    ambiguous: int = 0
    comma_examples: tuple[str, ...] = ()
    thousands_examples: tuple[str, ...] = ()
    ambiguous_examples: tuple[str, ...] = ()
    first_ambiguous: str = ""


def number_evidence(text: pd.Series) -> NumberEvidence:
    """Count the numbers only a decimal comma fits ('2,5'), only thousands separators fit
    ('1,234.50'), or either fits ('1,234')."""
    comma = text.str.match(DECIMAL_COMMA, na=False).to_numpy()
    thousands = text.str.match(THOUSANDS, na=False).to_numpy()
    ambiguous = text.str.match(AMBIGUOUS_COMMA, na=False).to_numpy()
    first = str(text.iloc[int(np.flatnonzero(ambiguous)[0])]) if ambiguous.any() else ""
    return NumberEvidence(
        int(comma.sum()),
        int(thousands.sum()),
        int(ambiguous.sum()),
        example_list(text, comma),
        example_list(text, thousands),
        example_list(text, ambiguous),
        first,
    )


def decimal_comma(text: pd.Series, sep: str, decimal: str, column: str) -> tuple[bool, str]:
    """Whether commas in ``text`` (numbers pandas could not read) are decimal marks, and a warning."""
    if decimal != "auto":
        return decimal == ",", ""
    return decide_decimal_comma(number_evidence(text), sep, decimal, column)


def decide_decimal_comma(
    evidence: NumberEvidence, sep: str, decimal: str, column: str
) -> tuple[bool, str]:
    """Whether the commas the evidence counts are decimal marks, and a warning ('' if none).

    ``decimal`` ',' or '.' decides; 'auto' decides from values only one reading fits ('2,5' or
    '1,234.50'), else by the separator (';'-files use decimal commas). Both kinds together is an
    error.
    """
    if decimal != "auto":
        return decimal == ",", ""
    e = evidence
    if e.comma and e.thousands:
        raise DataValidationError(
            f"column '{column}' mixes decimal commas (e.g. {', '.join(e.comma_examples)}) and "
            f"thousands separators (e.g. {', '.join(e.thousands_examples)}): set decimal: ',' "
            "or '.' for the table, or fix the column"
        )
    if e.comma:
        use, why = True, f"as {e.comma:,} other value(s) have a decimal comma"
    elif e.thousands:
        use, why = False, f"as {e.thousands:,} other value(s) use ',' between thousands"
    else:
        use = sep == ";"
        why = "as the file is ';'-separated" if use else f"as the file is {sep!r}-separated"
    if not e.ambiguous:
        return use, ""
    first = e.first_ambiguous
    reading = first.replace(",", ".") if use else first.replace(",", "")
    return use, (
        f"'{column}': {e.ambiguous:,} value(s) like {first!r} could be a decimal comma or a "
        f"thousands separator (e.g. {', '.join(e.ambiguous_examples)}); read with a "
        f"{'decimal comma' if use else 'thousands separator'} ({first!r} = {reading}) {why}; "
        "set decimal: ',' or '.' to confirm"
    )


@dataclass(frozen=True)
class Readings:
    """Readings decided once over a whole table, by file column: whether non-ISO dates are
    day-first and whether commas in numbers are decimal marks. A partition's loader given them
    reads its values the same way as every other partition (``features.loading``)."""

    dayfirst: dict[str, bool] = field(default_factory=dict)
    comma: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class TableEvidence:
    """The reading evidence of one table (or partition), by file column."""

    dates: dict[str, DateEvidence] = field(default_factory=dict)
    numbers: dict[str, NumberEvidence] = field(default_factory=dict)

    @staticmethod
    def merge(parts: Sequence[TableEvidence]) -> TableEvidence:
        """Counts summed over partitions; examples named by their partition."""
        dates: dict[str, DateEvidence] = {}
        numbers: dict[str, NumberEvidence] = {}
        for k, part in enumerate(parts):
            for name, d in part.dates.items():
                dates[name] = dates.get(name, DateEvidence()) + d.labelled(f"partition {k}")
            for name, n in part.numbers.items():
                numbers[name] = numbers.get(name, NumberEvidence()) + n.labelled(f"partition {k}")
        return TableEvidence(dates, numbers)

    def decide(
        self, *, dayfirst: bool, explicit: bool, sep: str, decimal: str
    ) -> tuple[Readings, list[str]]:
        """One reading per column for the whole table, and the warnings it gives."""
        warnings: list[str] = []
        orders: dict[str, bool] = {}
        commas: dict[str, bool] = {}
        for name, d in self.dates.items():
            orders[name], note = decide_day_first(d, dayfirst, explicit, name)
            warnings.extend([note] if note else [])
        for name, n in self.numbers.items():
            commas[name], note = decide_decimal_comma(n, sep, decimal, name)
            warnings.extend([note] if note else [])
        return Readings(orders, commas), warnings


def example_list(values: pd.Series, mask: np.ndarray | pd.Series) -> tuple[str, ...]:
    """``examples`` as a tuple of "row 3: '25/03/2024'" strings."""
    rows = np.flatnonzero(np.asarray(mask, dtype=bool))[:MAX_EXAMPLES]
    return tuple(f"row {i + 1}: {str(values.iloc[i])[:40]!r}" for i in rows)


def repeated_names(names: list[str]) -> dict[str, list[int]]:
    """Header names that occur more than once, with their 1-based column positions."""
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(str(name).strip(), []).append(i + 1)
    return {name: where for name, where in seen.items() if len(where) > 1}


def future_after() -> pd.Timestamp:
    """Events after this day are dated in the future (today in UTC plus a day for time zones)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=1)


def future_warning(values: pd.Series, column: str) -> str:
    """A warning counting the values of a datetime column dated after ``future_after()``."""
    limit = future_after()
    ahead = (values > limit).to_numpy()
    if not ahead.any():
        return ""
    rows = np.flatnonzero(ahead)
    shown = ", ".join(f"row {i + 1}: {values.iloc[i].date()}" for i in rows[:MAX_EXAMPLES])
    today = (limit - pd.Timedelta(days=1)).date()
    return (
        f"'{column}': {ahead.sum():,} row(s) are dated after today ({today}), up to "
        f"{values[ahead].max().date()} (e.g. {shown}); kept, but `--as-of latest` ignores them"
    )
