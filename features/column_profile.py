"""What each column of an export's sample holds: counts, and how many cells read as numbers or
dates, with the column name split into words. Pure functions over a frame; ``features.mapping``
chooses the columns' roles from these profiles."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.loading import parse_datetimes, parse_numbers, parse_text
from features.readings import date_evidence

READ_SHARE = 0.95
"""Share of a column's filled cells that must read as numbers (or dates) for it to be one."""


@dataclass(frozen=True)
class Profile:
    """What one column's sampled values are: counts, and how many read as numbers or dates."""

    name: str
    tokens: tuple[str, ...]
    rows: int
    filled: int
    distinct: int
    numbers: int
    dates: int
    negative: int
    levels: tuple[str, ...]
    """The distinct filled values when there are at most two, else ()."""

    @property
    def numeric(self) -> bool:
        return self.filled > 0 and self.numbers >= READ_SHARE * self.filled

    @property
    def dated(self) -> bool:
        return self.filled > 0 and not self.numeric and self.dates >= READ_SHARE * self.filled

    @property
    def binary(self) -> bool:
        return len(self.levels) == 2

    @property
    def blank(self) -> int:
        return self.rows - self.filled


def name_tokens(name: str) -> tuple[str, ...]:
    """A column name as lower-case words, then all of them joined: ``CustomerID`` -> (customer,
    id, customerid), ``Revenue90d`` -> (revenue, 90d, revenue90d), ``tenure`` -> (tenure,)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    spaced = re.sub(r"([A-Za-z])(\d)", r"\1 \2", spaced)
    words = tuple(w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w)
    joined = "".join(words)
    return words + ((joined,) if len(words) > 1 else ())


def profile(sample: pd.DataFrame) -> list[Profile]:
    """Profile every column of a sample read as text (``read_table``'s cells)."""
    out = []
    for name in sample.columns:
        raw = sample[name]
        typed_date = raw.dtype.kind == "M" or isinstance(raw.dtype, pd.DatetimeTZDtype)
        if raw.dtype.kind in "biufM" or typed_date:  # a Parquet column keeps its type
            text = raw.astype(str).where(raw.notna())
            filled = raw.notna().to_numpy()
            numbers = pd.Series(np.nan, index=raw.index) if typed_date else raw.astype("float64")
            dates = filled if typed_date else np.zeros(len(raw), dtype=bool)
        else:
            text = parse_text(raw)
            filled = text.notna().to_numpy()
            numbers, _ = parse_numbers(raw)
            dates = _date_mask(text, filled)
        number_mask = numbers.notna().to_numpy() & filled
        counts = text.value_counts()
        out.append(
            Profile(
                name=str(name),
                tokens=name_tokens(str(name)),
                rows=len(raw),
                filled=int(filled.sum()),
                distinct=len(counts),
                numbers=int(number_mask.sum()),
                dates=int(dates.sum()),
                negative=int((numbers.to_numpy()[number_mask] < 0).sum()),
                levels=tuple(sorted(counts.index.astype(str))) if len(counts) <= 2 else (),
            )
        )
    return out


def _date_mask(text: pd.Series, filled: np.ndarray) -> np.ndarray:
    """The cells that read as dates (ISO, or day/month/year in either order)."""
    like = text.str.match(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", na=False)
    like = like.to_numpy() & filled
    if not like.any():
        return like
    values, bad = parse_datetimes(text.where(like), dayfirst=bool(_day_first_shown(text)))
    return like & values.notna().to_numpy() & ~bad


def _day_first_shown(text: pd.Series) -> bool:
    """Whether some dates can only be day-first and none only month-first."""
    e = date_evidence(text.dropna().astype(str))
    return e.day_first > 0 and e.month_first == 0


__all__ = ["Profile", "name_tokens", "profile"]
