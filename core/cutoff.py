"""The cutoff: the day features are built and customers scored as of, with its one parser.

A cutoff is a calendar day, or ``latest`` (the data's last day) where a command allows it. Days are
written the ISO way, ``YYYY-MM-DD`` (an ISO date-time without a UTC offset gives its day). Every
other form is refused, never guessed: ``09/12/2011`` is 9 December or 12 September depending on
the writer's country, so the message gives both readings and the ISO forms to use; an unambiguous
one such as ``25/12/2011`` is refused too, with its one reading in ISO form, so that the same
command line never means two days.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core.errors import CutoffError

LATEST = "latest"
"""The word for the data's last day (the commands that allow it say so)."""
FIRST_YEAR, LAST_YEAR = 1678, 2261
"""The years a cutoff may fall in: the range of the day timestamps the features are computed on."""
EXAMPLE = "2024-06-30"

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_FIRST_OR_MONTH_FIRST = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_YEAR_FIRST = re.compile(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class CutoffFormatError(CutoffError):
    """A cutoff written in a form that is not an ISO day (or ``latest`` where allowed)."""


@dataclass(frozen=True)
class Cutoff:
    """A day to build features and score as of; ``day`` None means the data's latest day."""

    day: dt.date | None = None

    @property
    def is_latest(self) -> bool:
        """Whether this cutoff is the data's last day, to be resolved against the data."""
        return self.day is None

    def __str__(self) -> str:
        return LATEST if self.day is None else self.day.isoformat()

    @classmethod
    def parse(cls, text: str, *, allow_latest: bool = True) -> Cutoff:
        """The cutoff written as ``text``: an ISO day, or ``latest`` when ``allow_latest``."""
        value = text.strip()
        if value.lower() == LATEST:
            if not allow_latest:
                raise CutoffFormatError(
                    f"'{LATEST}' is not allowed here: give a day such as {EXAMPLE}"
                )
            return cls()
        return cls(_parse_day(value, allow_latest))


def _parse_day(value: str, allow_latest: bool) -> dt.date:
    """The day of an ISO date or offset-free ISO date-time; any other form is refused."""
    if _ISO_DAY.match(value):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            stamp = None
        if stamp is not None and stamp.tzinfo is None:
            return _in_range(stamp.date(), value)
        if stamp is not None:
            raise CutoffFormatError(
                f"{value!r} is not a date: give a day without a UTC offset, such as {value[:10]}"
            )
    readings = _readings(value)
    if len(readings) == 2:
        first, second = readings
        raise CutoffFormatError(
            f"{value!r} is ambiguous ({_spoken(first)} or {_spoken(second)}): give the ISO form, "
            f"{first.isoformat()} or {second.isoformat()}"
        )
    if len(readings) == 1:
        (day,) = readings
        raise CutoffFormatError(
            f"{value!r} is not an ISO date: for {_spoken(day)} give {day.isoformat()}"
        )
    alternative = f" or '{LATEST}'" if allow_latest else ""
    raise CutoffFormatError(
        f"{value!r} is not a date: give a day as YYYY-MM-DD, such as {EXAMPLE}{alternative}"
    )


def _readings(value: str) -> list[dt.date]:
    """The distinct valid days a day/month or month/day (or year/month/day) form can mean."""
    if match := _YEAR_FIRST.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
        candidates = [(year, month, day)]
    elif match := _DAY_FIRST_OR_MONTH_FIRST.fullmatch(value):
        a, b, year = (int(g) for g in match.groups())
        candidates = [(year, b, a), (year, a, b)]  # day first, then month first
    else:
        return []
    days: list[dt.date] = []
    for year, month, day in candidates:
        try:
            reading = dt.date(year, month, day)
        except ValueError:
            continue
        if reading not in days:
            days.append(reading)
    return days


def _in_range(day: dt.date, value: str) -> dt.date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CutoffFormatError(
            f"{value!r} is outside the years {FIRST_YEAR} to {LAST_YEAR} a cutoff can fall in"
        )
    return day


def _spoken(day: dt.date) -> str:
    """A day in words that no reader can take for another, e.g. 9 December 2011."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


__all__ = ["LATEST", "Cutoff", "CutoffFormatError"]
