"""The input contract: messy exports become canonical tables, and every unusable row is reported.

Each problem must give one clear message naming the column, the number of bad rows and a few
examples; rows are excluded and counted, never dropped silently, and strict mode makes them fatal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from core.config_file import ConfigFile
from core.errors import ConfigError, DataValidationError
from core.schema import CUSTOMERS, INTERACTIONS, SUBSCRIPTIONS, TRANSACTIONS
from core.sources import DataConfig, TableSource
from features.loading import (
    MAX_EXAMPLES,
    load_data,
    load_table,
    parse_datetimes,
    raise_if_unclean,
    validate_table,
)


def _tx(**columns: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "customer_id": ["a", "b", "c", "d"],
        "timestamp": ["2021-01-01"] * 4,
        "amount": ["1", "2", "3", "4"],
    }
    base.update(columns)
    return pd.DataFrame(base)


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------------
# missing columns and bad values: one message each, with column, count and examples
# ------------------------------------------------------------------------------------------------


def test_missing_required_column_names_it_lists_the_file_columns_and_how_to_map_it() -> None:
    raw = pd.DataFrame({"client": ["a"], "timestamp": ["2021-01-01"], "amount": ["1"]})
    with pytest.raises(DataValidationError) as err:
        validate_table(raw, TRANSACTIONS, source_name="orders.csv")
    message = str(err.value)
    assert "transactions (orders.csv): required column 'customer_id' is missing" in message
    assert "the file has no column of that name" in message
    assert "The file has: 'client', 'timestamp', 'amount'." in message
    assert "data.transactions.columns.customer_id: <your column name>" in message


def test_missing_mapped_column_says_which_user_column_was_expected() -> None:
    raw = pd.DataFrame({"client": ["a"], "timestamp": ["2021-01-01"], "amount": ["1"]})
    source = TableSource(path=Path("orders.csv"), columns={"customer_id": "Kunde"})
    with pytest.raises(
        DataValidationError, match="it is mapped to 'Kunde', which the file does not"
    ):
        validate_table(raw, TRANSACTIONS, source=source)


def test_an_optional_column_mapped_to_a_missing_column_is_an_error_not_ignored() -> None:
    # a typo in the mapping of an optional column must not silently drop it
    raw = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2021-01-01"], "amount": ["1"]})
    source = TableSource(path=Path("orders.csv"), columns={"order_id": "Invioce"})
    with pytest.raises(DataValidationError) as err:
        validate_table(raw, TRANSACTIONS, source=source, source_name="orders.csv")
    assert str(err.value).startswith(
        "transactions (orders.csv): mapped column 'order_id' is missing: it is mapped to "
        "'Invioce', which the file does not have."
    )
    # unmapped optional columns may be absent: they are added empty
    frame, _ = validate_table(raw, TRANSACTIONS)
    assert frame["order_id"].isna().all()


def test_unparseable_dates_are_excluded_and_reported_with_count_and_examples() -> None:
    raw = _tx(timestamp=["2021-01-01", "yesterday", "2021-02-30", "2021-01-03"])
    frame, report = validate_table(raw, TRANSACTIONS)
    assert frame["customer_id"].tolist() == ["a", "d"]
    assert report.rows_read == 4
    assert report.rows_kept == 2
    assert report.rows_excluded == 2
    [problem] = report.problems
    assert problem.describe() == (
        "2 row(s): 'timestamp' is not a date (expected e.g. 2024-03-31 or "
        "2024-03-31T14:05:00+01:00) (e.g. row 2: 'yesterday', row 3: '2021-02-30')"
    )


def test_non_numeric_amounts_are_excluded_and_at_most_a_few_examples_are_shown() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "timestamp": ["2021-01-01"] * 6,
            "amount": ["1", "one", "two", "inf", "n/a", "3"],
        }
    )
    frame, report = validate_table(raw, TRANSACTIONS)
    assert frame["amount"].tolist() == [1.0, 3.0]
    [problem] = report.problems
    assert (problem.column, problem.count) == ("amount", 4)
    assert len(problem.examples) == MAX_EXAMPLES
    assert problem.describe() == (
        "4 row(s): 'amount' is not a finite number (e.g. row 2: 'one', row 3: 'two', row 4: 'inf')"
    )


@pytest.mark.parametrize("blank", ["", "   ", None, np.nan])
def test_blank_customer_ids_are_excluded_and_named(blank: object) -> None:
    raw = _tx(customer_id=["a", blank, "c", "d"])
    frame, report = validate_table(raw, TRANSACTIONS)
    assert frame["customer_id"].tolist() == ["a", "c", "d"]
    [problem] = report.problems
    assert problem.describe() == (
        "1 row(s): 'customer_id' is empty (every row needs a customer id) (e.g. row 2: empty)"
    )


def test_report_counts_every_excluded_row_once_and_lists_each_reason() -> None:
    # row 2 has a bad date and a bad amount: two problems, but one excluded row
    raw = _tx(
        timestamp=["2021-01-01", "never", "2021-01-01", "2021-01-01"], amount=["1", "x", "", "4"]
    )
    frame, report = validate_table(raw, TRANSACTIONS, source_name="tx.csv")
    assert len(frame) == 2
    assert (report.rows_read, report.rows_kept, report.rows_excluded) == (4, 2, 2)
    assert report.lines() == [
        "transactions (tx.csv): read 4 rows, kept 2",
        "  excluded 2 unusable row(s):",
        "    - 1 row(s): 'timestamp' is not a date (expected e.g. 2024-03-31 or "
        "2024-03-31T14:05:00+01:00) (e.g. row 2: 'never')",
        "    - 1 row(s): 'amount' is not a finite number (e.g. row 2: 'x')",
        "    - 1 row(s): 'amount' is empty (e.g. row 3: empty)",
    ]


def test_strict_mode_makes_excluded_rows_fatal(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "tx.csv",
        "customer_id,timestamp,amount\na,2021-01-01,1\nb,not a date,2\nc,2021-01-02,3\n",
    )
    lenient = DataConfig(transactions=TableSource(path=path))
    data, [report] = load_data(lenient)
    assert data.transactions["customer_id"].tolist() == ["a", "c"]
    assert report.rows_excluded == 1

    with pytest.raises(DataValidationError) as err:
        load_data(DataConfig(transactions=TableSource(path=path), strict=True))
    message = str(err.value)
    assert message.startswith("strict mode: some rows cannot be used as given")
    assert "read 3 rows, kept 2" in message
    assert "1 row(s): 'timestamp' is not a date" in message
    assert "row 2: 'not a date'" in message

    with pytest.raises(DataValidationError, match="strict mode"):
        raise_if_unclean([report])


def test_strict_mode_also_refuses_dropped_duplicates(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "tx.csv", "customer_id,timestamp,amount\na,2021-01-01,1\na,2021-01-01,1\n"
    )
    _, [report] = load_data(DataConfig(transactions=TableSource(path=path)))
    assert report.duplicates_dropped == 1
    raise_if_unclean([])  # nothing to complain about
    with pytest.raises(DataValidationError, match="dropped 1 exact duplicate row"):
        raise_if_unclean([report])


def test_a_table_without_any_usable_row_is_an_error() -> None:
    raw = _tx(amount=["x", "", "y", "z"])
    with pytest.raises(DataValidationError) as err:
        validate_table(raw, TRANSACTIONS, source_name="tx.csv")
    message = str(err.value)
    assert message.startswith("transactions (tx.csv): none of the 4 rows is usable")
    assert "3 row(s): 'amount' is not a finite number" in message
    assert "1 row(s): 'amount' is empty" in message


def test_missing_input_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"input file not found: .*nope\.csv"):
        load_table(TableSource(path=tmp_path / "nope.csv"), TRANSACTIONS)


# ------------------------------------------------------------------------------------------------
# messy exports
# ------------------------------------------------------------------------------------------------


def test_float_typed_ids_and_surrounding_blanks_become_clean_text(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "tx.csv",
        "customer_id,timestamp,amount,category\n"
        "12345.0,2021-01-01,1, books \n"
        " 12345 ,2021-01-02,2,books\n"
        "  777.00,2021-01-03,3,\n",
    )
    frame, report = load_table(TableSource(path=path), TRANSACTIONS)
    assert report.rows_kept == 3
    assert frame["customer_id"].tolist() == ["12345", "12345", "777"]
    assert frame["category"].tolist()[:2] == ["books", "books"]
    assert frame["category"].isna().tolist() == [False, False, True]


def test_float_dtype_ids_in_parquet_become_integers_as_text(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    pd.DataFrame(
        {
            "customer_id": [12345.0, 7.0, np.nan],
            "timestamp": pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03"]),
            "amount": [1.0, 2.0, 3.0],
        }
    ).to_parquet(path)
    frame, report = load_table(TableSource(path=path), TRANSACTIONS)
    assert frame["customer_id"].tolist() == ["12345", "7"]
    assert report.problems[0].describe().startswith("1 row(s): 'customer_id' is empty")


def test_duplicates_are_dropped_and_counted_or_kept_when_asked(tmp_path: Path) -> None:
    text = (
        "customer_id,timestamp,amount\n"
        "a,2021-01-01,5\na,2021-01-01,5\na,2021-01-01,5\na,2021-01-02,5\n"
    )
    path = _write_csv(tmp_path / "tx.csv", text)
    frame, report = load_table(TableSource(path=path), TRANSACTIONS)
    assert len(frame) == 2
    assert (report.rows_read, report.rows_kept, report.duplicates_dropped) == (4, 2, 2)
    assert report.rows_excluded == 0
    assert report.lines()[-1] == (
        "  dropped 2 exact duplicate row(s) (set drop_duplicates: false to keep them)"
    )
    kept, report = load_table(TableSource(path=path, drop_duplicates=False), TRANSACTIONS)
    assert len(kept) == 4
    assert report.duplicates_dropped == 0


def test_mixed_date_formats_in_one_column() -> None:
    raw = _tx(
        timestamp=[
            "2021-03-04",
            "2021-03-04T10:30:00+02:00",
            "03/04/2021",
            "2021-03-04 23:15:00",
        ]
    )
    month_first, _ = validate_table(raw, TRANSACTIONS)
    assert month_first["timestamp"].tolist() == [
        pd.Timestamp("2021-03-04"),
        pd.Timestamp("2021-03-04 08:30"),  # +02:00 converted to the default zone, UTC
        pd.Timestamp("2021-03-04"),  # 03/04 read month first: 4 March
        pd.Timestamp("2021-03-04 23:15"),
    ]
    source = TableSource(path=Path("x.csv"), dayfirst=True)
    day_first, _ = validate_table(raw, TRANSACTIONS, source=source)
    assert day_first["timestamp"].iloc[2] == pd.Timestamp("2021-04-03")  # day first: 3 April
    assert day_first["timestamp"].iloc[0] == pd.Timestamp("2021-03-04")  # ISO is never ambiguous


def test_offsets_are_converted_to_the_business_zone_and_naive_times_are_local() -> None:
    raw = _tx(
        timestamp=[
            "2021-03-04T10:00:00+02:00",  # 08:00 UTC = 09:00 in Paris (CET, UTC+1 in March)
            "2021-03-04T10:00:00",  # no offset: already Paris time
            "2021-07-04T23:30:00Z",  # 23:30 UTC = 01:30 next day in Paris (CEST, UTC+2)
            "2021-03-04 10:00:00 -05:00",  # 15:00 UTC = 16:00 in Paris
        ]
    )
    source = TableSource(path=Path("x.csv"), timezone="Europe/Paris")
    frame, report = validate_table(raw, TRANSACTIONS, source=source)
    assert report.rows_kept == 4
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2021-03-04 09:00"),
        pd.Timestamp("2021-03-04 10:00"),
        pd.Timestamp("2021-07-05 01:30"),
        pd.Timestamp("2021-03-04 16:00"),
    ]
    assert str(frame["timestamp"].dtype) == "datetime64[ns]"


def test_time_zone_aware_parquet_column_is_converted_to_the_business_zone() -> None:
    aware = pd.Series(pd.to_datetime(["2021-01-01T23:30:00Z"], utc=True))
    values, bad = parse_datetimes(aware, timezone="Asia/Tokyo")  # UTC+9
    assert values.tolist() == [pd.Timestamp("2021-01-02 08:30")]
    assert not bad.any()


def test_currency_strings_and_thousands_separators_are_numbers() -> None:
    raw = _tx(amount=["$1,234.50", "€ 12", "-$5.00", "1,000,000"])
    frame, report = validate_table(raw, TRANSACTIONS)
    assert report.rows_kept == 4
    assert frame["amount"].tolist() == [1234.5, 12.0, -5.0, 1_000_000.0]


def test_amount_is_quantity_times_price_through_a_list_mapping() -> None:
    raw = pd.DataFrame(
        {
            "Customer": ["a", "b", "c"],
            "InvoiceDate": ["2021-01-01"] * 3,
            "Quantity": ["2", "-1", "3"],
            "UnitPrice": ["2.50", "4", "oops"],
        }
    )
    source = TableSource(
        path=Path("x.csv"),
        columns={
            "customer_id": "Customer",
            "timestamp": "InvoiceDate",
            "amount": ["Quantity", "UnitPrice"],
            "quantity": "Quantity",
        },
    )
    frame, report = validate_table(raw, TRANSACTIONS, source=source)
    # 2 x 2.50 = 5.0; a return: -1 x 4 = -4.0; row 3 has no usable price
    assert frame["amount"].tolist() == [5.0, -4.0]
    assert frame["quantity"].tolist() == [2.0, -1.0]
    assert frame["customer_id"].tolist() == ["a", "b"]
    [problem] = report.problems
    assert problem.describe() == "1 row(s): 'UnitPrice' is not a finite number (e.g. row 3: 'oops')"


def test_user_column_names_are_mapped_and_other_columns_ignored(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "orders.csv",
        "Client;Date;Total;Invoice;Comment\nA1;2021-05-01;10;I-1;hello\nA2;2021-05-02;20;I-2;\n",
    )
    source = TableSource(
        path=path,
        sep=";",
        columns={
            "customer_id": "Client",
            "timestamp": "Date",
            "amount": "Total",
            "order_id": "Invoice",
        },
    )
    frame, _ = load_table(source, TRANSACTIONS)
    assert list(frame.columns) == [c.name for c in TRANSACTIONS.columns]
    assert frame["order_id"].tolist() == ["I-1", "I-2"]
    assert frame["amount"].tolist() == [10.0, 20.0]


def test_csv_and_parquet_inputs_give_the_same_table(tmp_path: Path) -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b"],
            "timestamp": ["2021-01-01T10:00:00", "2021-01-02T00:00:00", "2021-01-05T12:00:00"],
            "amount": [1.5, -2.0, 3.25],
            "order_id": ["o1", "o2", None],
        }
    )
    raw.to_csv(tmp_path / "tx.csv", index=False)
    typed = raw.assign(timestamp=pd.to_datetime(raw["timestamp"]))
    typed.to_parquet(tmp_path / "tx.parquet")
    from_csv, _ = load_table(TableSource(path=tmp_path / "tx.csv"), TRANSACTIONS)
    from_parquet, _ = load_table(TableSource(path=tmp_path / "tx.parquet"), TRANSACTIONS)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert from_csv["order_id"].isna().tolist() == [False, False, True]


def test_headerless_whitespace_separated_file_with_names(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "log.txt",
        " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n"
        " 00021 0002 19970101  3   63.34\n",
    )
    source = TableSource(
        path=path,
        sep=r"\s+",
        header=False,
        names=["master", "sample", "date", "cds", "dollars"],
        date_format="%Y%m%d",
        columns={
            "customer_id": "master",
            "timestamp": "date",
            "amount": "dollars",
            "quantity": "cds",
        },
    )
    frame, report = load_table(source, TRANSACTIONS)
    assert report.rows_kept == 3
    assert frame["customer_id"].tolist() == ["00004", "00004", "00021"]  # ids stay text
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("1997-01-01"),
        pd.Timestamp("1997-01-18"),
        pd.Timestamp("1997-01-01"),
    ]
    assert frame["amount"].tolist() == [29.33, 29.73, 63.34]
    assert frame["quantity"].tolist() == [2.0, 2.0, 3.0]


# ------------------------------------------------------------------------------------------------
# table-specific rules
# ------------------------------------------------------------------------------------------------


def test_interaction_rules_unknown_type_and_score_ranges() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["a"] * 8,
            "timestamp": [f"2021-01-0{d}" for d in range(1, 9)],
            "type": ["ticket", "NPS", "nps", "csat", "csat", "chat", "nps", " Ticket "],
            "score": ["", "10", "11", "0", "5", "", "-1", ""],
        }
    )
    frame, report = validate_table(raw, INTERACTIONS)
    # kept: ticket, NPS 10 (type read case-insensitively), csat 5, Ticket
    assert frame["type"].tolist() == ["ticket", "nps", "csat", "ticket"]
    assert frame["score"].tolist()[1:3] == [10.0, 5.0]
    described = [p.describe() for p in report.problems]
    assert described == [
        "1 row(s): 'type' is not one of ['ticket', 'nps', 'csat'] (e.g. row 6: 'chat')",
        "2 row(s): 'score' is outside [0, 10] for a nps answer (e.g. row 3: '11.0', row 7: '-1.0')",
        "1 row(s): 'score' is outside [1, 5] for a csat answer (e.g. row 4: '0.0')",
    ]


def test_survey_answers_without_a_score_column_are_excluded() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": ["2021-01-01"] * 3,
            "type": ["ticket", "nps", "csat"],
        }
    )
    frame, report = validate_table(raw, INTERACTIONS)
    assert frame["type"].tolist() == ["ticket"]
    assert frame["score"].isna().all()
    [problem] = report.problems
    assert problem.describe() == (
        "2 row(s): 'score' is missing: survey answers (nps, csat) need a score column "
        "(e.g. row 2: 'nps', row 3: 'csat')"
    )


def test_subscription_ending_before_it_starts_is_excluded() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "start_date": ["2021-01-01", "2021-03-01", "2021-03-01"],
            "end_date": ["2021-02-01", "2021-02-28", ""],
        }
    )
    frame, report = validate_table(raw, SUBSCRIPTIONS)
    assert frame["customer_id"].tolist() == ["a", "c"]
    assert frame["end_date"].isna().tolist() == [False, True]  # empty end: still running
    [problem] = report.problems
    assert (
        problem.describe()
        == "1 row(s): 'end_date' is before start_date (e.g. row 2: '2021-02-28 00:00:00')"
    )


def test_duplicate_customer_rows_keep_the_first_and_attributes_keep_their_kind() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "signup_date": ["2021-01-01", "", "2022-01-01"],
            "region": ["north", " south ", "east"],
            "employees": ["10", "", "3"],
        }
    )
    frame, report = validate_table(raw, CUSTOMERS)
    assert frame["customer_id"].tolist() == ["a", "b"]
    assert frame["signup_date"].tolist()[0] == pd.Timestamp("2021-01-01")
    assert pd.isna(frame["signup_date"].iloc[1])  # optional date may be empty
    assert frame["region"].tolist() == ["north", "south"]
    assert frame["employees"].dtype == np.float64
    assert frame["employees"].iloc[0] == 10.0
    [problem] = report.problems
    assert problem.describe() == (
        "1 row(s): 'customer_id' appears again (one row per customer; the first is kept) "
        "(e.g. row 3: 'a')"
    )


def test_customer_attributes_can_be_chosen_and_a_missing_one_is_named() -> None:
    raw = pd.DataFrame({"customer_id": ["a"], "region": ["north"], "secret": ["x"]})
    source = TableSource(path=Path("c.csv"), attributes=["region"])
    frame, _ = validate_table(raw, CUSTOMERS, source=source)
    assert list(frame.columns) == ["customer_id", "signup_date", "region"]
    with pytest.raises(
        DataValidationError, match=r"attribute column\(s\) \['tier'\] not in the file"
    ):
        validate_table(raw, CUSTOMERS, source=TableSource(path=Path("c.csv"), attributes=["tier"]))


# ------------------------------------------------------------------------------------------------
# configuration errors
# ------------------------------------------------------------------------------------------------


def test_unknown_canonical_column_in_a_mapping_names_the_valid_ones() -> None:
    source = TableSource(path=Path("tx.csv"), columns={"customer": "Client"})
    with pytest.raises(ValidationError) as err:
        DataConfig(transactions=source)
    message = str(err.value)
    assert "transactions.columns: unknown canonical column(s) ['customer']" in message
    assert "valid: ['customer_id', 'timestamp', 'amount', 'order_id', 'quantity'," in message


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"customer_id": ["First", "Last"]},
            r"\['customer_id'\] map to a list of columns, which are",
        ),
        ({"amount": []}, r"\['amount'\] map to an empty list of columns"),
    ],
)
def test_list_mappings_only_multiply_number_columns(
    columns: dict[str, str | list[str]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        DataConfig(transactions=TableSource(path=Path("tx.csv"), columns=columns))
    DataConfig(transactions=TableSource(path=Path("tx.csv"), columns={"amount": ["Q", "P"]}))


def test_names_need_a_headerless_file() -> None:
    with pytest.raises(ValidationError, match="'names' is only for CSV files without a header"):
        TableSource(path=Path("x.csv"), names=["a", "b"])


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        TableSource(path=Path("x.csv"), timezone="Mars/Olympus")


def test_attributes_only_for_the_customers_table() -> None:
    with pytest.raises(ValidationError, match="'attributes' is only valid for the customers"):
        DataConfig(transactions=TableSource(path=Path("x.csv"), attributes=["region"]))


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="seperator"):
        TableSource.model_validate({"path": "x.csv", "seperator": ";"})


def test_config_file_errors_name_the_offending_key(tmp_path: Path) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("data:\n  transactions:\n    path: tx.csv\n    columns: {customer: Client}\n")
    with pytest.raises(ConfigError) as err:
        ConfigFile.read(config).data()
    assert "exp.yaml is invalid" in str(err.value)
    assert "unknown canonical column(s) ['customer']" in str(err.value)
    with pytest.raises(ConfigError, match="config file not found"):
        ConfigFile.read(tmp_path / "missing.yaml")


def test_config_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    config = tmp_path / "sub" / "exp.yaml"
    config.write_text("data:\n  transactions:\n    path: ../tx.csv\nfamilies: [btyd, rfm]\n")
    file = ConfigFile.read(config)
    data, families = file.data(), file.families()
    assert data.transactions.path == (tmp_path / "tx.csv").resolve()
    assert families == ["btyd", "rfm"]
