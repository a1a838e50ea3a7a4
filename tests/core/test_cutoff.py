"""core.cutoff: ISO days and ``latest`` are read; every other form is refused, never guessed."""

from __future__ import annotations

import datetime as dt

import pytest

from core.cutoff import Cutoff, CutoffFormatError


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2011-12-09", dt.date(2011, 12, 9)),
        (" 2011-12-09 ", dt.date(2011, 12, 9)),
        ("2024-06-30T18:45:00", dt.date(2024, 6, 30)),
        ("2024-06-30 18:45", dt.date(2024, 6, 30)),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_iso_days_and_offset_free_date_times_give_their_day(text: str, day: dt.date) -> None:
    cutoff = Cutoff.parse(text)
    assert cutoff == Cutoff(day)
    assert not cutoff.is_latest
    assert str(cutoff) == day.isoformat()


@pytest.mark.parametrize("text", ["latest", "LATEST", " Latest "])
def test_latest_is_the_data_last_day_where_allowed(text: str) -> None:
    assert Cutoff.parse(text) == Cutoff()
    assert Cutoff.parse(text).is_latest
    assert str(Cutoff()) == "latest"
    with pytest.raises(CutoffFormatError) as refused:
        Cutoff.parse(text, allow_latest=False)
    assert str(refused.value) == "'latest' is not allowed here: give a day such as 2024-06-30"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "09/12/2011",
            "'09/12/2011' is ambiguous (9 December 2011 or 12 September 2011): give the ISO "
            "form, 2011-12-09 or 2011-09-12",
        ),
        (
            "9.12.2011",
            "'9.12.2011' is ambiguous (9 December 2011 or 12 September 2011): give the ISO "
            "form, 2011-12-09 or 2011-09-12",
        ),
        ("25/12/2011", "'25/12/2011' is not an ISO date: for 25 December 2011 give 2011-12-25"),
        ("12/25/2011", "'12/25/2011' is not an ISO date: for 25 December 2011 give 2011-12-25"),
        ("05/05/2011", "'05/05/2011' is not an ISO date: for 5 May 2011 give 2011-05-05"),
        ("2011/12/9", "'2011/12/9' is not an ISO date: for 9 December 2011 give 2011-12-09"),
    ],
)
def test_day_month_forms_are_refused_with_every_reading(text: str, message: str) -> None:
    with pytest.raises(CutoffFormatError) as refused:
        Cutoff.parse(text)
    assert str(refused.value) == message


@pytest.mark.parametrize("text", ["", "notadate", "2024-02-30", "13/13/2011", "2011-12"])
def test_text_that_is_no_day_is_refused_with_the_form_to_use(text: str) -> None:
    with pytest.raises(CutoffFormatError) as refused:
        Cutoff.parse(text)
    assert str(refused.value) == (
        f"{text!r} is not a date: give a day as YYYY-MM-DD, such as 2024-06-30 or 'latest'"
    )
    with pytest.raises(CutoffFormatError) as refused:
        Cutoff.parse(text, allow_latest=False)
    assert "'latest'" not in str(refused.value)


def test_offsets_and_days_outside_the_timestamp_range_are_refused() -> None:
    with pytest.raises(CutoffFormatError, match="without a UTC offset, such as 2024-06-30"):
        Cutoff.parse("2024-06-30T10:00:00+02:00")
    with pytest.raises(CutoffFormatError, match="outside the years 1678 to 2261"):
        Cutoff.parse("1492-10-12")
    with pytest.raises(CutoffFormatError, match="outside the years 1678 to 2261"):
        Cutoff.parse("2999-01-01")
