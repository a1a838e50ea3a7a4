"""The request's fast paths through ``validate_table`` answer exactly as the general parser does.

A request's columns arrive typed (text as text, days as dates); the loader then skips work whose
answer it already knows. Each test feeds the same mixed values through the fast path and through
the general one (the same values as an untyped object column, or as ISO text) and compares.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandas.testing as pdt

from core.errors import DataValidationError
from core.schema import CUSTOMERS, SUBSCRIPTIONS
from features.loading import parse_ids, validate_table

MIXED = ["north", " 1,234.5 ", "", None, "inf", "٣", "$12", "5", "nan", " ", "7.5", "1,5"]
"""Text, numbers in several writings, blanks, and digitless values that are not numbers."""


def _customers(attribute: list[object], dtype: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(attribute))],
            "region": pd.Series(attribute, dtype=dtype),  # type: ignore[call-overload]
        }
    )


def _validated(raw: pd.DataFrame, spec: object = CUSTOMERS) -> pd.DataFrame:
    frame, _ = validate_table(raw, spec)  # type: ignore[arg-type]
    return frame


def _mixes() -> list[list[str | None]]:
    """Seeded subsets of MIXED, and the mixes each reading needs."""
    rng = np.random.default_rng(0)
    keep = rng.random((60, len(MIXED))) < 0.5
    mixes = [[v for v, k in zip(MIXED, row, strict=True) if k] for row in keep]
    mixes += [["5", "$12", None, " "], ["7.5"], ["٣", "5"], ["north", "5"], ["inf", None]]
    mixes += [["5", "1,234.5", None], ["north", None], ["", " "], MIXED]
    return [m for m in mixes if m]


def _reading(values: list[str | None], dtype: object) -> pd.Series | str:
    """The attribute column read from ``values`` as ``dtype``, or the error's text."""
    try:
        return _validated(_customers(values, dtype))["region"]
    except DataValidationError as err:  # a mixed comma reading fails on either path
        return str(err)


def test_text_attributes_read_alike_typed_or_untyped() -> None:
    """Every mix of one column gives the same attribute values (or the same error) through the
    text fast path (str dtype) and the number parser (object dtype)."""
    readings = [(_reading(m, "str"), _reading(m, object)) for m in _mixes()]
    for fast, general in readings:
        if isinstance(general, str):
            assert fast == general
        else:
            assert isinstance(fast, pd.Series)
            pdt.assert_series_equal(fast, general)
    kinds = [g if isinstance(g, str) else str(g.dtype) for _, g in readings]
    assert {"float64", "str"} <= set(kinds)  # both readings were met
    assert any("mixes decimal commas" in k for k in kinds)  # and the error


def test_digitless_text_is_text_and_numbers_stay_numbers() -> None:
    numbers = _validated(_customers(["5", " 1,234.5 ", None], "str"))["region"]
    assert numbers.tolist()[:2] == [5.0, 1234.5]
    assert np.isnan(numbers[2])
    text = _validated(_customers(["5", "inf", None], "str"))["region"]
    assert text.tolist()[:2] == ["5", "inf"]
    assert text.isna().tolist() == [False, False, True]


def test_typed_days_read_as_their_iso_text() -> None:
    """Signup and subscription days sent as timestamps (the request's typed columns) equal the
    same days as ISO text or date objects, blanks included."""
    days = [dt.date(2024, 3, 31), None, dt.date(1999, 1, 2)]
    as_text = [d.isoformat() if d else None for d in days]
    as_stamp = [pd.Timestamp(d) if d else None for d in days]
    frames = [
        _validated(pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_date": v}))
        for v in (as_text, days, as_stamp)
    ]
    assert frames[2]["signup_date"].dtype == "datetime64[ns]"
    for other in frames[1:]:
        pdt.assert_frame_equal(other, frames[0])
    subs = [
        _validated(
            pd.DataFrame({"customer_id": ["a", "b"], "start_date": s, "end_date": [None, e]}),
            SUBSCRIPTIONS,
        )
        for s, e in (
            (["2024-01-01", "2023-05-06"], "2024-02-01"),
            ([pd.Timestamp(2024, 1, 1), pd.Timestamp(2023, 5, 6)], pd.Timestamp(2024, 2, 1)),
        )
    ]
    pdt.assert_frame_equal(subs[1], subs[0])


def test_text_ids_with_and_without_blanks_equal_the_masked_reading() -> None:
    for values in (["a", " b ", "c"], ["a", " ", None, "2.0"], ["", ""]):
        raw = pd.Series(values, dtype="str")
        text = raw.str.strip()
        expected = text.mask(text == "").str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
        pdt.assert_series_equal(parse_ids(raw), expected)
