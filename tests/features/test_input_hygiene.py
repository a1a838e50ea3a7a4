"""Every input table refuses a repeated header it reads, and a file's encoding or a broken header
line gets a true message (not a misleading separator error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import DataValidationError
from core.sources import DataConfig, SnapshotSource, TableSource
from features.labelled import load_snapshots
from features.loading import load_data
from features.treatments import load_treatments

TRANSACTIONS = "customer_id,timestamp,amount\nA,2024-01-05,10\nB,2024-02-01,5\n"
TABLE_FILES = {
    "transactions": "customer_id,timestamp,amount,amount\nA,2024-01-05,10,3\n",
    "customers": "customer_id,signup_date,region,region\nA,2023-01-01,north,south\n",
    "subscriptions": "customer_id,start_date,start_date,plan\nA,2023-01-01,2023-02-01,basic\n",
    "interactions": "customer_id,timestamp,type,type\nA,2024-01-01,ticket,nps\n",
    "treatments": "customer_id,campaign_id,arm,contacted_at,arm\nA,c1,treatment,2024-01-01,x\n",
}
REPEATED = {
    "transactions": "'amount' in columns [3, 4]",
    "customers": "'region' in columns [3, 4]",
    "subscriptions": "'start_date' in columns [2, 3]",
    "interactions": "'type' in columns [3, 4]",
    "treatments": "'arm' in columns [3, 5]",
}


def _load(table: str, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TRANSACTIONS)
    path = tmp_path / f"{table}.csv"
    path.write_text(TABLE_FILES[table])
    tables = {"transactions": TableSource(path=tmp_path / "t.csv"), table: TableSource(path=path)}
    data = DataConfig.model_validate(tables)
    if table == "treatments":
        load_treatments(data)
    else:
        load_data(data)


@pytest.mark.parametrize("table", sorted(TABLE_FILES))
def test_every_table_refuses_a_repeated_header_it_reads(tmp_path: Path, table: str) -> None:
    with pytest.raises(DataValidationError) as err:
        _load(table, tmp_path)
    assert str(err.value) == (
        f"{table} ({tmp_path / (table + '.csv')}): the header repeats {REPEATED[table]}, so "
        "which column holds the values is unclear: rename the columns so each name is used once"
    )


SNAPSHOT = "customerID,tenure,Contract,tenure,Churn\n" + "".join(
    f"C{i},{i},{'Month' if i % 2 else 'Year'},{i + 1},{'Yes' if i % 3 else 'No'}\n"
    for i in range(30)
)


def test_a_snapshot_export_refuses_a_repeated_attribute(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(SNAPSHOT)
    source = SnapshotSource(
        path=path, columns={"customer_id": "customerID", "churned": "Churn"}, as_of="2024-06-30"
    )
    with pytest.raises(
        DataValidationError, match=r"the header repeats 'tenure' in columns \[2, 4\]"
    ):
        load_snapshots(source)
    # left out of the features by drop, the repeated column is no longer read
    dropped = source.model_copy(update={"drop": ["tenure"]})
    assert load_snapshots(dropped).report.warnings[0] == (
        "the header repeats 'tenure' (columns [2, 4]): the later one(s) are read as 'tenure.1'"
    )


def test_a_repeated_label_column_is_refused_before_its_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("customerID,Churn,tenure,Churn\nC1,Yes,3,No\n")
    source = SnapshotSource(
        path=path, columns={"customer_id": "customerID", "churned": "Churn"}, as_of="2024-06-30"
    )
    with pytest.raises(DataValidationError, match=r"repeats 'Churn' in columns \[2, 4\]"):
        load_snapshots(source)


def test_a_latin1_file_is_read_and_says_which_encoding_was_assumed(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    body = "customer_id,ville\nA,Montréal\nB,Zürich\n"
    path.write_bytes(body.encode("latin-1"))
    (tmp_path / "t.csv").write_text(TRANSACTIONS)
    data = DataConfig(
        transactions=TableSource(path=tmp_path / "t.csv"), customers=TableSource(path=path)
    )
    loaded, reports = load_data(data)
    assert loaded.customers is not None
    assert loaded.customers["ville"].tolist() == ["Montréal", "Zürich"]
    assert reports[1].warnings == [
        "customers.csv is not UTF-8 text: read as cp1252 (Windows Western European); set the "
        "table's encoding key if its names or texts look wrong"
    ]
    # an encoding given is used as given, without a warning; a wrong one names the encoding
    given = data.model_copy(update={"customers": TableSource(path=path, encoding="latin-1")})
    assert load_data(given)[1][1].warnings == []
    wrong = data.model_copy(update={"customers": TableSource(path=path, encoding="utf-8")})
    with pytest.raises(DataValidationError) as err:
        load_data(wrong)
    assert str(err.value) == (
        f"cannot read {path}: it is not utf-8 text (it holds the byte 0xe9, which utf-8 cannot "
        "decode); set the table's encoding key to the export's encoding (e.g. encoding: cp1252)"
    )


def test_an_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown text encoding 'klingon'; use auto or a codec"):
        TableSource(path=Path("x.csv"), encoding="klingon")


def test_a_huge_column_name_is_called_a_broken_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("customer_id,timestamp,amount," + "x" * 2_000_000 + "\nA,2024-01-05,10,1\n")
    with pytest.raises(DataValidationError) as err:
        load_data(DataConfig(transactions=TableSource(path=path)))
    assert str(err.value) == (
        f"{path}: the header has name(s) longer than 1,000 characters (column 4: 2,000,000 "
        "characters): the first line is not a header of column names; check the file"
    )


def test_every_missing_column_of_every_table_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("client,when,total\nA,2024-01-05,10\n")
    (tmp_path / "c.csv").write_text("id,region\nA,north\n")
    data = DataConfig(
        transactions=TableSource(path=tmp_path / "t.csv", columns={"amount": "Amt"}),
        customers=TableSource(path=tmp_path / "c.csv"),
    )
    with pytest.raises(DataValidationError) as err:
        load_data(data)
    lines = str(err.value).splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [
        "required column 'customer_id' is missing",
        "required column 'timestamp' is missing",
        "required column 'amount' is missing",
        "required column 'customer_id' is missing",
    ]
    assert lines[2].startswith(
        f"transactions ({tmp_path / 't.csv'}): required column 'amount' is missing: it is "
        "mapped to 'Amt', which the file does not have. The file has: 'client', 'when', 'total'"
    )
    assert lines[3].startswith(f"customers ({tmp_path / 'c.csv'}): required column 'customer_id'")
