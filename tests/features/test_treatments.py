"""The treatments contract: messy campaign exports become one canonical assignment table.

Arms are read from every spelling CRMs use; unusable rows (unknown arm, missing id, campaign or
date, a customer in both arms of one campaign) are excluded and counted with examples; a labelled
snapshot table's treatment column is a campaign too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from core.errors import DataValidationError
from core.schema import TREATMENTS
from core.sources import DataConfig, SnapshotSource
from features.arms import parse_arm
from features.labelled import load_snapshots
from features.treatments import campaign_assignments, load_treatments, snapshot_tests

MESSY = """cust,camp,group,date,offer
1.0,7.0,Treatment,2024-03-01,10% off
2,7,control,2024-03-01T23:30:00-02:00,
3,7,1,2024-03-01,
3,7,0,2024-03-01,
4,7,yes,2024-03-01,
4,7,TRUE,2024-03-02,
5,7,maybe,2024-03-01,
6,,1,2024-03-01,
7,7,,2024-03-01,
8,8,no,,
9,8,N,2024-03-05 23:30,x
9,8,N,2024-03-05 23:30,x
10,8,0.0,2024-03-05,
"""


def _config(tmp_path: Path, text: str = MESSY, **extra: object) -> DataConfig:
    treatments = tmp_path / "treatments.csv"
    treatments.write_text(text)
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,timestamp,amount\n1,2024-01-01,5\n")
    mapping = {"customer_id": "cust", "campaign_id": "camp", "arm": "group", "contacted_at": "date"}
    return DataConfig.model_validate(
        {
            "transactions": {"path": str(tx)},
            "treatments": {"path": str(treatments), "columns": mapping, "timezone": "Europe/Paris"},
            **extra,
        }
    )


def test_arm_spellings_are_read_case_insensitively() -> None:
    raw = pd.Series(["Treatment", "CONTROL", " yes ", "n", "1", "0.0", "True", "f", "", "x", None])
    arm, blank, unknown = parse_arm(raw)
    assert arm.tolist()[:8] == [1, 0, 1, 0, 1, 0, 1, 0]
    assert blank.tolist() == [False] * 8 + [True, False, True]
    assert unknown.tolist() == [False] * 9 + [True, False]
    numbers, _, bad = parse_arm(pd.Series([1.0, 0.0, 2.0]))
    assert numbers.tolist()[:2] == [1, 0]
    assert bad.tolist() == [False, False, True]
    booleans, _, _ = parse_arm(pd.Series([True, False]))
    assert booleans.tolist() == [1, 0]


def test_messy_treatments_become_canonical_rows_and_every_exclusion_is_counted(
    tmp_path: Path,
) -> None:
    reports: list = []
    frame = load_treatments(_config(tmp_path), reports=reports)
    assert list(frame.columns) == ["customer_id", "campaign_id", "arm", "contacted_at", "offer"]
    assert frame[["customer_id", "campaign_id", "arm"]].values.tolist() == [
        ["1", "7", 1],
        ["2", "7", 0],
        ["4", "7", 1],
        ["10", "8", 0],
        ["9", "8", 0],
    ]
    assert str(frame["arm"].dtype) == "int8"
    assert str(frame["contacted_at"].dtype) == "datetime64[ns]"
    # 23:30 at UTC-2 is 02:30 the next day in Paris: the day of contact is the business's day
    contacted = dict(
        zip(frame["customer_id"], frame["contacted_at"].dt.strftime("%Y-%m-%d"), strict=True)
    )
    assert contacted == {
        "1": "2024-03-01",
        "2": "2024-03-02",
        "4": "2024-03-01",
        "10": "2024-03-05",
        "9": "2024-03-05",
    }
    assert frame["offer"].tolist()[0] == "10% off"
    assert frame["offer"].isna().sum() == 3
    (report,) = reports
    assert (report.rows_read, report.rows_kept, report.rows_excluded) == (13, 5, 8)
    text = "\n".join(report.lines())
    assert "1 row(s): 'camp' is empty (every row needs a campaign_id) (e.g. row 8: empty)" in text
    assert "1 row(s): 'date' is empty (e.g. row 10: empty)" in text
    assert "1 row(s): 'arm' is empty (e.g. row 9: empty)" in text
    assert "1 row(s): 'arm' is not an arm" in text
    assert "row 7: 'maybe'" in text
    assert "2 row(s): 'customer_id' is in both arms of one campaign" in text
    assert "(e.g. row 3: '3', row 4: '3')" in text
    assert "2 row(s): 'customer_id' appears again in the same campaign" in text


def test_strict_mode_makes_an_excluded_treatment_row_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"(?s)strict mode.*'maybe'"):
        load_treatments(_config(tmp_path, strict=True))


def test_a_missing_arm_column_names_the_config_key(tmp_path: Path) -> None:
    config = _config(tmp_path, MESSY.replace("group", "grp"))
    with pytest.raises(DataValidationError, match=r"data\.treatments\.columns\.arm"):
        load_treatments(config)


def test_unknown_canonical_treatment_column_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"treatments\.columns: unknown canonical"):
        DataConfig.model_validate(
            {
                "transactions": {"path": "tx.csv"},
                "treatments": {"path": "t.csv", "columns": {"group": "arm"}},
            }
        )
    assert [c.name for c in TREATMENTS.columns if c.required] == [
        "customer_id",
        "campaign_id",
        "arm",
        "contacted_at",
    ]


def test_a_snapshot_treatment_column_is_a_campaign_at_its_as_of_day(tmp_path: Path) -> None:
    path = tmp_path / "spring_winback_test.csv"
    path.write_text(
        "id,lapsed,got_offer,plan\n1,Yes,1,a\n2,No,0,b\n3,No,,a\n4,Yes,Yes,b\n5,No,maybe,a\n"
    )
    source = {
        "path": str(path),
        "columns": {"customer_id": "id", "churned": "lapsed", "treatment": "got_offer"},
        "as_of": "2024-03-01",
    }
    config = DataConfig.model_validate({"snapshots": source})
    reports: list = []
    frame = load_treatments(config, reports=reports)
    assert frame[["customer_id", "campaign_id", "arm"]].values.tolist() == [
        ["1", "spring_winback_test-20240301", 1],
        ["2", "spring_winback_test-20240301", 0],
        ["4", "spring_winback_test-20240301", 1],
    ]
    assert (frame["contacted_at"] == pd.Timestamp("2024-03-01")).all()
    assert "row 5: 'maybe'" in "\n".join(reports[0].lines())
    # the treatment flag is no attribute feature, and an untested row keeps its label
    table = load_snapshots(config.snapshots)  # type: ignore[arg-type]
    assert table.attributes == ["plan"]
    assert table.has_treatment
    assert table.rows["treatment"].tolist()[:3] == [1, 0, pd.NA]
    assert table.rows["customer_id"].tolist() == ["1", "2", "3", "4"]


def test_no_treatment_source_gives_an_empty_canonical_table(tmp_path: Path) -> None:
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,timestamp,amount\n1,2024-01-01,5\n")
    frame = load_treatments(DataConfig.model_validate({"transactions": {"path": str(tx)}}))
    assert frame.empty
    assert str(frame["arm"].dtype) == "int8"


def test_an_unknown_campaign_lists_the_known_ones(tmp_path: Path) -> None:
    frame = load_treatments(_config(tmp_path))
    assert len(campaign_assignments(frame, "8")) == 2
    with pytest.raises(DataValidationError, match="known campaigns: 7, 8"):
        campaign_assignments(frame, "spring")


def test_a_snapshot_table_holds_several_campaigns_with_contact_days_and_a_response(
    tmp_path: Path,
) -> None:
    path = tmp_path / "email test.csv"
    path.write_text(
        "Kunde Nr.,Tag,lapsed,arm,welle,gesendet,besucht,plan\n"
        "1,2024-03-01,Yes,1,A,2024-03-04,ja,a\n"  # an unknown response: row excluded
        "2,2024-03-01,No,0,A,,0,b\n"  # no contact day: the as_of day
        "3,2024-03-01,No,,,,,a\n"  # not in the test: kept, no response needed
        "4,2024-03-01,Yes,1,,2024-03-02,1.0,b\n"  # no wave: the file's test of its day
        "5,2024-04-01,No,0,B,2024-04-03,,a\n"  # in the test without a response: excluded
        "6,2024-04-01,No,1,B,2024-04-03,yes,b\n"
    )
    columns = {
        "customer_id": "Kunde Nr.",
        "as_of": "Tag",
        "churned": "lapsed",
        "treatment": "arm",
        "campaign_id": "welle",
        "contacted_at": "gesendet",
        "response": "besucht",
    }
    config = DataConfig.model_validate({"snapshots": {"path": str(path), "columns": columns}})
    table = load_snapshots(config.snapshots)  # type: ignore[arg-type]
    assert table.attributes == ["plan"]  # the test's columns are never features
    lines = "\n".join(table.report.lines())
    assert "1 row(s): 'besucht' is not a response flag" in lines
    assert "row 1: 'ja'" in lines
    assert "1 row(s): 'besucht' is empty (a row in the test needs its response)" in lines
    tests = snapshot_tests(table, config.snapshots)  # type: ignore[arg-type]
    assert tests[["customer_id", "campaign_id", "arm", "response"]].values.tolist() == [
        ["2", "A", 0, 0.0],
        ["4", "email test-20240301", 1, 1.0],
        ["6", "B", 1, 1.0],
    ]
    assert tests["contacted_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01",
        "2024-03-02",
        "2024-04-03",
    ]
    # the campaigns' contact days are what campaign results measure from
    frame = load_treatments(config)
    assert sorted(frame["campaign_id"]) == ["A", "B", "email test-20240301"]


def test_an_export_to_score_may_lack_the_test_columns(tmp_path: Path) -> None:
    path = tmp_path / "today.csv"
    path.write_text("id,plan\n1,a\n2,b\n")
    source = SnapshotSource.model_validate(
        {
            "path": str(path),
            "as_of": "2024-06-30",
            "columns": {"customer_id": "id", "churned": "Churn", "treatment": "Offer"}
            | {"campaign_id": "Wave", "contacted_at": "Sent", "response": "Visited"},
        }
    )
    table = load_snapshots(source, labels=False)
    assert table.rows["customer_id"].tolist() == ["1", "2"]
    assert table.attributes == ["plan"]


def test_a_test_exported_with_only_its_response_reads_churn_as_no_response(
    tmp_path: Path,
) -> None:
    # an e-mail test as retailers export it: no churn column, the visit is the outcome
    path = tmp_path / "email.csv"
    path.write_text(
        "recency,history,channel,treated,visit,spend\n"
        "3,120.5,Web,1,1,30.0\n4,80.0,Phone,0,0,0\n10,15.0,Web,1,0,0\n2,300.0,Multichannel,0,1,0\n"
    )
    source = SnapshotSource.model_validate(
        {
            "path": str(path),
            "row_ids": True,
            "as_of": "2024-03-01",
            "columns": {"treatment": "treated", "response": "visit", "future_value": "spend"},
        }
    )
    table = load_snapshots(source)
    assert table.rows["churn"].tolist() == [0, 1, 1, 0]
    assert table.attributes == ["recency", "history", "channel"]
    assert any("a customer without a response ('visit' = no)" in n for n in table.notes)
    tests = snapshot_tests(table, source)
    assert tests["response"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert tests["arm"].tolist() == [1, 0, 1, 0]


def test_a_test_column_without_a_treatment_is_said_not_to_be_a_feature(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("id,Churn,plan,response\n1,Yes,a,1\n2,No,b,0\n")
    source = SnapshotSource.model_validate(
        {
            "path": str(path),
            "as_of": "2024-06-30",
            "columns": {"customer_id": "id", "churned": "Churn"},
        }
    )
    table = load_snapshots(source)
    assert table.attributes == ["plan"]
    assert "response: a randomized test's column(s), not features; unused without a treatment" in (
        "\n".join(table.notes)
    )
