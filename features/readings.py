"""Checks of how raw values were read: what cannot be represented and what is ambiguous.

Used by ``features.loading``: dates outside the years pandas can hold, day/month order of dates
like 03/04/2024, decimal commas against thousands separators, repeated header names and rows
dated in the future. Each check is vectorised; a contradiction is an error naming the column and
examples, an ambiguity is read one documented way and reported as a warning with counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.errors import DataValidationError

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
    rows = np.flatnonzero(np.asarray(mask, dtype=bool))[:MAX_EXAMPLES]
    return ", ".join(f"row {i + 1}: {str(values.iloc[i])[:40]!r}" for i in rows)


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


def day_first(text: pd.Series, dayfirst: bool, explicit: bool, column: str) -> tuple[bool, str]:
    """The day/month order of non-ISO dates such as 03/04/2024, and a warning ('' if none).

    Values with a day above 12 show the order; if some show day-first and others month-first,
    or they contradict an explicit ``dayfirst``, it is an error.
    """
    parts = text.str.extract(_DAY_MONTH)
    first = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    second = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
    only_day_first = (first > 12) & (second <= 12)
    only_month_first = (second > 12) & (first <= 12)
    ambiguous = (first <= 12) & (second <= 12) & (first != second)
    if only_day_first.any() and only_month_first.any():
        raise DataValidationError(
            f"column '{column}' mixes day-first dates ({only_day_first.sum():,}, e.g. "
            f"{examples(text, only_day_first)}) and month-first dates "
            f"({only_month_first.sum():,}, e.g. {examples(text, only_month_first)}), so "
            f"{ambiguous.sum():,} date(s) like 03/04 cannot be read safely: export ISO dates "
            "(2024-03-25) or one order"
        )
    shown = only_day_first.any() or only_month_first.any()
    order = bool(only_day_first.any()) if shown else dayfirst
    name = "day-first" if order else "month-first"
    if shown and explicit and order != dayfirst:
        evidence = only_day_first if order else only_month_first
        raise DataValidationError(
            f"column '{column}': dayfirst is {str(dayfirst).lower()} but {evidence.sum():,} "
            f"date(s) can only be {name} (e.g. {examples(text, evidence)}): fix dayfirst"
        )
    if not ambiguous.any() or explicit:
        return order, ""
    why = (
        f"as {only_day_first.sum() + only_month_first.sum():,} other date(s) can only be {name}"
        if shown
        else "by default"
    )
    return order, (
        f"'{column}': {ambiguous.sum():,} date(s) have a day and month both up to 12 (e.g. "
        f"{examples(text, ambiguous)}); read {name} {why}; set dayfirst: "
        f"{str(order).lower()} to confirm or {str(not order).lower()} to read them the other way"
    )


def decimal_comma(text: pd.Series, sep: str, decimal: str, column: str) -> tuple[bool, str]:
    """Whether commas in ``text`` (numbers pandas could not read) are decimal marks, and a warning.

    ``decimal`` ',' or '.' decides; 'auto' decides from values only one reading fits ('2,5' or
    '1,234.50'), else by the separator (';'-files use decimal commas). Both kinds together is an
    error.
    """
    if decimal != "auto":
        return decimal == ",", ""
    comma = text.str.match(DECIMAL_COMMA, na=False).to_numpy()
    thousands = text.str.match(THOUSANDS, na=False).to_numpy()
    ambiguous = text.str.match(AMBIGUOUS_COMMA, na=False).to_numpy()
    if comma.any() and thousands.any():
        raise DataValidationError(
            f"column '{column}' mixes decimal commas (e.g. {examples(text, comma)}) and "
            f"thousands separators (e.g. {examples(text, thousands)}): set decimal: ',' or '.' "
            "for the table, or fix the column"
        )
    if comma.any():
        use, why = True, f"as {comma.sum():,} other value(s) have a decimal comma"
    elif thousands.any():
        use, why = False, f"as {thousands.sum():,} other value(s) use ',' between thousands"
    else:
        use = sep == ";"
        why = "as the file is ';'-separated" if use else f"as the file is {sep!r}-separated"
    if not ambiguous.any():
        return use, ""
    first = text.iloc[int(np.flatnonzero(ambiguous)[0])]
    reading = first.replace(",", ".") if use else first.replace(",", "")
    return use, (
        f"'{column}': {ambiguous.sum():,} value(s) like {first!r} could be a decimal comma or a "
        f"thousands separator (e.g. {examples(text, ambiguous)}); read with a "
        f"{'decimal comma' if use else 'thousands separator'} ({first!r} = {reading}) {why}; "
        "set decimal: ',' or '.' to confirm"
    )


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
