"""``exclude`` rules and the duplicate rule of the loader, on small literal exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from core.errors import ConfigError
from core.schema import TRANSACTIONS
from core.sources import DataConfig, TableSource
from features.loading import load_data, validate_table

RETAIL_COLUMNS = {
    "customer_id": "Customer ID",
    "timestamp": "InvoiceDate",
    "amount": ["Quantity", "Price"],
    "quantity": "Quantity",
    "order_id": "Invoice",
    "product_id": "StockCode",
}


def _export() -> pd.DataFrame:
    """Rows 1-7 of an Online-Retail-like export: three products, postage, a manual adjustment,
    a bank charge without a customer, and a row with a bad date that is also postage."""
    return pd.DataFrame(
        {
            "Invoice": ["A1", "A1", "A1", "A2", "A3", "A4", "A5"],
            "StockCode": ["P1", "POST", "P2", "M", "BANK CHARGES", "P3", "POST"],
            "Description": ["MUG", "POSTAGE", "JUG", "Manual", "Bank Charges", "CUP", "postage"],
            "Quantity": ["1", "1", "2", "1", "1", "3", "1"],
            "InvoiceDate": ["2024-01-02"] * 6 + ["not a date"],
            "Price": ["5", "18", "3", "40", "15", "2", "18"],
            "Customer ID": ["c1", "c1", "c1", "c2", "", "c3", "c3"],
        }
    )


def _source(**fields: object) -> TableSource:
    return TableSource.model_validate({"path": "export.csv", "columns": RETAIL_COLUMNS, **fields})


def test_values_and_patterns_leave_rows_out_counted_per_rule() -> None:
    source = _source(
        exclude={
            "product_id": ["POST", "BANK CHARGES"],
            "Description": {"pattern": "(?i)manual"},
        }
    )
    frame, report = validate_table(_export(), TRANSACTIONS, source=source)
    assert frame["product_id"].tolist() == ["P1", "P2", "P3"]
    assert report.rows_read == 7
    assert report.rows_kept == 3
    assert report.rows_left_out == 4  # POST x2 (one with a bad date), BANK CHARGES, manual
    assert report.rows_excluded == 0  # the bad date and the missing id were left out first
    by_rule = [(p.column, p.count) for p in report.left_out]
    assert by_rule == [("StockCode", 3), ("Description", 1)]
    lines = report.lines()
    assert "left out 4 row(s) by the exclude rules:" in lines[1]
    assert "'StockCode' is one of the excluded values 'POST', 'BANK CHARGES'" in lines[2]
    assert "row 2: 'POST'" in lines[2]
    assert "'Description' matches the exclude pattern '(?i)manual'" in lines[3]


def test_a_pattern_searches_anywhere_and_numbers_in_yaml_compare_as_text() -> None:
    raw = _export().assign(StockCode=["22", "POST", "85123A", "M", "BANK CHARGES", "22", "POST"])
    source = _source(exclude={"product_id": [22], "Description": {"pattern": "(?i)post"}})
    frame, report = validate_table(raw, TRANSACTIONS, source=source)
    assert frame["product_id"].tolist() == ["85123A", "M"]  # row 5 has no customer: unusable
    assert [p.count for p in report.left_out] == [2, 2]
    assert report.rows_excluded == 1


def test_unknown_exclude_column_is_a_config_error_listing_the_columns() -> None:
    source = _source(exclude={"descrption": ["x"]})
    with pytest.raises(
        ConfigError, match=r"data.transactions.exclude: unknown column 'descrption'"
    ) as err:
        validate_table(_export(), TRANSACTIONS, source=source, source_name="export.csv")
    assert "export.csv has the columns Invoice, StockCode, Description" in str(err.value)
    with pytest.raises(ConfigError, match="product of the columns"):
        validate_table(_export(), TRANSACTIONS, source=_source(exclude={"amount": ["1"]}))


def test_a_bad_pattern_is_rejected_when_the_config_is_read() -> None:
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        _source(exclude={"Description": {"pattern": "(postage"}})


def test_left_out_rows_do_not_trip_strict_mode(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    _export().iloc[:6].to_csv(path, index=False)
    config = DataConfig.model_validate(
        {
            "transactions": {
                "path": str(path),
                "columns": RETAIL_COLUMNS,
                "exclude": {"product_id": ["POST", "M", "BANK CHARGES"]},
            },
            "strict": True,
        }
    )
    data, (report,) = load_data(config)
    assert data.transactions["product_id"].tolist() == ["P1", "P2", "P3"]
    assert report.rows_left_out == 3


def test_duplicates_are_rows_identical_in_every_column_of_the_file() -> None:
    """The documented rule both ways: an exact repeat of a line is dropped; two lines that differ
    only in a column retain does not read (the description) are both kept."""
    raw = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c2"],
            "timestamp": ["2024-01-02T10:00:00"] * 4,
            "amount": ["5", "5", "5", "5"],
            "Description": ["MUG", "MUG", "MUG, RED", "MUG"],
        }
    )
    frame, report = validate_table(raw, TRANSACTIONS)
    assert report.duplicates_dropped == 1  # row 2 repeats row 1 in every column
    assert len(frame) == 3
    assert frame["customer_id"].tolist() == ["c1", "c1", "c2"]
    _, keep = validate_table(
        raw, TRANSACTIONS, source=TableSource(path=Path("x.csv"), drop_duplicates=False)
    )
    assert keep.duplicates_dropped == 0
    assert keep.rows_kept == 4
