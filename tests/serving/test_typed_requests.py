"""A by-events request's tables equal the same rows read as a text export would be.

``events_to_data`` hands ``validate_table`` typed columns (days as timestamps, text attributes as
text), which take its fast paths; the same rows written as text, as a CSV gives them, take the
general parsers. Mixed inputs (numbers and texts in one attribute, numeric texts, blanks, UTC
offsets and naive times, open subscriptions) must give equal tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt

from core.schema import CUSTOMERS, SUBSCRIPTIONS, TRANSACTIONS
from core.sources import TableSource
from features.loading import validate_table
from serving.requests import events_to_data
from serving.schemas import CustomerInput

ZONE = "Europe/Stockholm"
ITEMS: list[dict[str, Any]] = [
    {
        "customer_id": "a",
        "as_of": "2024-06-30",
        "signup_date": "2023-02-01",
        "attributes": {"region": "north", "size": "12", "tier": "gold", "score": 3.5},
        "transactions": [
            {"timestamp": "2024-06-01T10:00:00", "amount": 12.5, "order_id": "o1"},
            {"timestamp": "2024-06-02T23:30:00+00:00", "amount": -3.0, "quantity": -1.0},
            {"timestamp": "2024-05-02", "amount": 7.0, "product_id": " p9 ", "category": "toys"},
        ],
        "subscriptions": [
            {"start_date": "2023-03-01", "end_date": "2024-01-01", "plan": "basic"},
            {"start_date": "2024-01-02", "monthly_amount": 9.5},
        ],
    },
    {
        "customer_id": "b",
        "as_of": "2024-06-30",
        "attributes": {"region": 5.0, "size": "1,234.5", "tier": None, "score": None},
        "transactions": [{"timestamp": "2024-01-01T00:00:00-05:00", "amount": 1.0}],
    },
    {
        "customer_id": "c",
        "as_of": "2024-06-30",
        "signup_date": "2024-01-31",
        "attributes": {"region": " ", "size": None, "tier": "silver", "score": 1.0},
        "transactions": [{"timestamp": "2024-02-29T12:00:00+01:00", "amount": 100.0}],
    },
]


def _as_text(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a text export holds them: every value written as text, missing as empty."""

    def text(value: Any) -> str:
        if value is None:
            return ""
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    return pd.DataFrame([{k: text(v) for k, v in row.items()} for row in rows], dtype="str")


def _general(rows: list[dict[str, Any]], spec: Any) -> pd.DataFrame:
    source = TableSource(path=Path("request"), timezone=ZONE, drop_duplicates=False)
    frame, _ = validate_table(_as_text(rows), spec, source=source, source_name="request")
    return frame


def test_request_tables_equal_the_text_export_reading() -> None:
    for request in (ITEMS, ITEMS[1:2]):  # the second sends no optional field at all
        _check_equal([CustomerInput.model_validate(item) for item in request])
    data = events_to_data([CustomerInput.model_validate(item) for item in ITEMS], timezone=ZONE)
    assert data.customers is not None
    # the readings the rows ask for: numbers stay numbers, a mixed column is text, offsets convert
    assert data.customers["size"].tolist()[:2] == [12.0, 1234.5]
    assert data.customers["region"].tolist()[:2] == ["north", "5.0"]
    assert data.transactions["timestamp"].iloc[1] == pd.Timestamp("2024-06-03 01:30")


def _check_equal(items: list[CustomerInput]) -> None:
    data = events_to_data(items, timezone=ZONE)
    keys = [str(i) for i in range(len(items))]
    tx = [
        {"customer_id": k, **t.model_dump()}
        for k, item in zip(keys, items, strict=True)
        for t in item.transactions or []
    ]
    subs = [
        {"customer_id": k, **s.model_dump()}
        for k, item in zip(keys, items, strict=True)
        for s in item.subscriptions or []
    ]
    customers = [
        {"customer_id": k, "signup_date": item.signup_date, **(item.attributes or {})}
        for k, item in zip(keys, items, strict=True)
    ]
    assert data.customers is not None
    pdt.assert_frame_equal(data.transactions, _general(tx, TRANSACTIONS))
    pdt.assert_frame_equal(data.customers, _general(customers, CUSTOMERS))
    if subs:
        assert data.subscriptions is not None
        pdt.assert_frame_equal(data.subscriptions, _general(subs, SUBSCRIPTIONS))
