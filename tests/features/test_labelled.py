"""Labelled CRM exports: reading, label parsing, type inference and the features they give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from core.errors import ConfigError, DataValidationError
from core.schema import TRANSACTIONS
from core.sources import DataConfig, SnapshotSource
from features.build import build_features
from features.labelled import (
    OTHER,
    infer_schema,
    labelled_features,
    load_snapshots,
    read_snapshots,
)
from features.loading import CustomerData, validate_table


def source(**fields: Any) -> SnapshotSource:
    base: dict[str, Any] = {
        "path": Path("crm.csv"),
        "columns": {"customer_id": "id", "churned": "Churn"},
        "as_of": "2024-06-30",
    }
    return SnapshotSource(**{**base, **fields})


def messy(n: int = 60) -> pd.DataFrame:
    """A CRM export as a CSV reader gives it: every cell text, blanks, a rare level, a date."""
    i = np.arange(n)
    return pd.DataFrame(
        {
            "id": [f"{k}.0" if k % 7 == 0 else str(k) for k in i],  # float-typed ids
            "Plan": np.where(i < 58, np.where(i % 2 == 0, "basic", "pro"), "legacy"),
            "Paperless": np.where(i % 3 == 0, "Yes", "No"),
            "Senior": np.where(i % 5 == 0, "1", "0"),
            "TotalCharges": [" " if k % 10 == 0 else f"{k * 10.5:.2f}" for k in i],
            "Calls": (i % 4).astype(str),
            "Started": (pd.Timestamp("2024-06-30") - pd.to_timedelta(i, unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "Email": [f"user{k}@example.com" for k in i],
            "Country": "FR",
            "Churn": np.where(i % 4 == 0, "Yes", "No"),
        }
    )


def test_types_are_inferred_from_text_cells_and_reported() -> None:
    table = read_snapshots(messy(), source(min_level_rows=5))
    inferred = infer_schema(table.rows[table.attributes], source(min_level_rows=5))
    kinds = {c.name: c.kind for c in inferred.schema.columns}
    assert kinds == {
        "Plan": "categorical",
        "Paperless": "boolean",
        "Senior": "boolean",
        "TotalCharges": "numeric",
        "Calls": "numeric",
        "Started": "date",
    }
    plan = next(c for c in inferred.schema.columns if c.name == "Plan")
    assert plan.levels == ["basic", "pro"]  # 'legacy' has 2 rows < 5: grouped
    assert inferred.dropped == {
        "Email": "looks like an identifier: 60 distinct values in 60 rows; give it a type to keep it",
        "Country": "constant: one value or none",
    }
    assert "TotalCharges: numeric, 6 of 60 cell(s) missing" in inferred.notes
    assert "Plan: 1 rare level(s) (2 rows) grouped as '(other)'" in inferred.notes
    assert sorted(inferred.schema.ignored) == ["Churn", "Country", "Email", "future_value"]


def test_features_have_exact_values_as_of_the_row_day() -> None:
    src = source(min_level_rows=5)
    table = read_snapshots(messy(), src)
    schema = infer_schema(table.rows[table.attributes], src).schema
    feats = labelled_features(table.rows, schema)
    assert list(feats.columns) == [f"attr_{c.name}" for c in schema.columns]
    assert feats["attr_Started"].tolist() == list(map(float, range(60)))  # age in days at as_of
    assert feats["attr_Paperless"].iloc[:4].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert feats["attr_Senior"].iloc[:6].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert np.isnan(feats["attr_TotalCharges"].iloc[0])
    assert feats["attr_TotalCharges"].iloc[3] == pytest.approx(31.5)
    assert feats["attr_Plan"].iloc[[0, 1, 58]].tolist() == ["basic", "pro", OTHER]
    assert table.rows["customer_id"].iloc[[0, 7]].tolist() == ["0", "7"]


def test_overrides_and_drop_win_over_inference() -> None:
    src = source(types={"Senior": "categorical", "Email": "categorical"}, drop=["Calls"])
    table = read_snapshots(messy(), src)
    inferred = infer_schema(table.rows[table.attributes], src)
    kinds = {c.name: c.kind for c in inferred.schema.columns}
    assert kinds["Senior"] == "categorical"
    assert "Email" in kinds  # forced: kept although identifier-like
    assert "Calls" not in kinds
    assert inferred.dropped["Calls"] == "listed in drop"


def test_overrides_naming_no_column_are_an_error() -> None:
    src = source(types={"Tenure": "numeric"})
    table = read_snapshots(messy(), src)
    with pytest.raises(ConfigError, match=r"\['Tenure'\].*attribute columns are"):
        infer_schema(table.rows[table.attributes], src)


def test_labels_default_values_and_unknown_ones_are_counted_not_guessed() -> None:
    raw = messy(8)
    raw["Churn"] = ["Yes", "no", "TRUE", "0", "churned", "maybe", "", "Active"]
    table = read_snapshots(raw, source())
    assert table.rows["churn"].tolist() == [1, 0, 1, 0, 1, 0]
    assert table.report.rows_read == 8
    assert table.report.rows_kept == 6
    problems = {p.problem.split(" (")[0]: p.count for p in table.report.problems}
    assert problems == {"is not a known label value": 1, "is empty": 1}
    assert "row 6: 'maybe'" in table.report.problems[0].examples


def test_configured_positive_values() -> None:
    raw = messy(4)
    raw["Churn"] = ["Left", "Stayed", "left", "Stayed"]
    table = read_snapshots(raw, source(positive=["Left"], negative=["Stayed"]))
    assert table.rows["churn"].tolist() == [1, 0, 1, 0]
    with pytest.raises(DataValidationError, match="none of the 4 rows is usable"):
        read_snapshots(raw, source())  # Left/Stayed are not default values


def test_as_of_is_a_date_or_a_column_not_both_and_never_missing() -> None:
    raw = messy(4)
    with pytest.raises(DataValidationError, match=r"no as_of day.*data\.snapshots\.as_of"):
        read_snapshots(raw, source(as_of=None))
    with pytest.raises(ValidationError, match="either as one date"):
        source(columns={"customer_id": "id", "churned": "Churn", "as_of": "Day"})
    raw["as_of"] = "2024-05-31"
    with pytest.raises(DataValidationError, match="has an 'as_of' column"):
        read_snapshots(raw, source())
    table = read_snapshots(raw, source(as_of=None))
    assert table.as_of_days == [pd.Timestamp("2024-05-31")]


def test_repeated_customer_and_day_is_counted_and_first_kept() -> None:
    raw = pd.concat([messy(4), messy(4).iloc[[1]].assign(Plan="pro-2")], ignore_index=True)
    table = read_snapshots(raw, source())
    assert len(table.rows) == 4
    assert table.report.problems[0].count == 1
    assert "appears again for the same as_of" in table.report.problems[0].problem


def test_a_missing_label_column_names_the_mapping() -> None:
    with pytest.raises(DataValidationError, match=r"no churned label column.*columns: \{churned"):
        read_snapshots(messy(4).drop(columns=["Churn"]), source())
    # scoring an export without labels is fine
    table = read_snapshots(messy(4).drop(columns=["Churn"]), source(), labels=False)
    assert "churn" not in table.rows


def test_request_values_read_like_file_values() -> None:
    """JSON values (numbers, text, null) give the features the CSV text gives: no skew."""
    src = source(min_level_rows=5)
    table = read_snapshots(messy(), src)
    schema = infer_schema(table.rows[table.attributes], src).schema
    from_file = labelled_features(table.rows, schema)
    typed = table.rows.copy()
    typed["Senior"] = [int(v) for v in typed["Senior"]]
    typed["Calls"] = [int(v) for v in typed["Calls"]]
    typed["TotalCharges"] = [None if v.strip() == "" else float(v) for v in typed["TotalCharges"]]
    typed = typed.astype({"Senior": object, "Calls": object, "TotalCharges": object})
    pd.testing.assert_frame_equal(labelled_features(typed, schema), from_file)
    partial = labelled_features(typed.drop(columns=["Plan"]), schema, require_all=False)
    assert partial["attr_Plan"].isna().all()
    with pytest.raises(DataValidationError, match=r"\['Plan'\]"):
        labelled_features(typed.drop(columns=["Plan"]), schema)


def test_event_features_join_each_row_as_of_its_day_without_look_ahead() -> None:
    tx_raw = pd.DataFrame(
        {
            "customer_id": ["1", "1", "1", "2"],
            "timestamp": ["2024-05-01", "2024-06-15", "2024-07-20", "2024-06-29"],
            "amount": ["10", "20", "40", "5"],
        }
    )
    tx, _ = validate_table(tx_raw, TRANSACTIONS)
    data = CustomerData(transactions=tx)
    rows = pd.DataFrame(
        {
            "customer_id": ["1", "2", "1", "9"],
            "as_of": pd.to_datetime(["2024-06-30", "2024-06-30", "2024-05-31", "2024-06-30"]),
            "Plan": ["a", "b", "a", "b"],
        }
    )
    src = source(min_level_rows=1)
    schema = infer_schema(rows[["Plan"]], src).schema
    feats = labelled_features(rows, schema, data, ["rfm"])
    june = build_features(data, "2024-06-30", families=["rfm"])
    may = build_features(data, "2024-05-31", families=["rfm"])
    pd.testing.assert_series_equal(
        feats.drop(columns=["attr_Plan"]).iloc[0], june.loc["1"], check_names=False
    )
    pd.testing.assert_series_equal(
        feats.drop(columns=["attr_Plan"]).iloc[2], may.loc["1"], check_names=False
    )
    assert feats.drop(columns=["attr_Plan"]).iloc[3].isna().all()  # no events: missing


def test_the_data_section_needs_a_log_or_a_snapshots_table() -> None:
    with pytest.raises(ValidationError, match=r"transactions table .* or a snapshots table"):
        DataConfig.model_validate({})
    with pytest.raises(ValidationError, match="read beside a transactions table"):
        DataConfig.model_validate(
            {"snapshots": {"path": "s.csv", "as_of": "2024-01-31"}, "customers": {"path": "c.csv"}}
        )
    ok = DataConfig.model_validate({"snapshots": {"path": "s.csv", "as_of": "2024-01-31"}})
    assert ok.labelled
    assert ok.timezone == "UTC"


def test_load_snapshots_reads_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    messy(20).to_csv(path, index=False)
    table = load_snapshots(source(path=path))
    assert len(table.rows) == 20
    assert table.report.source == str(path)


def test_integers_under_a_code_like_name_are_read_as_categories() -> None:
    n = 60
    i = np.arange(n)
    frame = messy(n).assign(
        **{
            "Area code": np.where(i % 3 == 0, "408", np.where(i % 3 == 1, "415.0", "510")),
            "store_id": (i % 4 + 1).astype(str),
            "ZipCode": (90000 + i).astype(str),  # 60 distinct codes: more than few
            "Account length": (i % 4 + 1).astype(str),  # no code word: a number
        }
    )
    src = source(min_level_rows=5)
    table = read_snapshots(frame, src)
    inferred = infer_schema(table.rows[table.attributes], src)
    kinds = {c.name: c.kind for c in inferred.schema.columns}
    assert kinds["Area code"] == "categorical"
    assert kinds["store_id"] == "categorical"
    assert kinds["ZipCode"] == "numeric"
    assert kinds["Account length"] == "numeric"
    area = next(c for c in inferred.schema.columns if c.name == "Area code")
    assert area.levels == ["408", "415", "510"]  # '415.0' is the code 415
    assert (
        "Area code: read as categorical: a code-like name with 3 integer values (set "
        "data.snapshots.types: {Area code: numeric} to read it as a number)"
    ) in inferred.notes
    # a request's integer reads as the file's text did; the override wins over the name
    feats = labelled_features(table.rows.assign(**{"Area code": 415}).head(2), inferred.schema)
    assert feats["attr_Area code"].tolist() == ["415", "415"]
    forced = source(min_level_rows=5, types={"Area code": "numeric"})
    kinds = {
        c.name: c.kind for c in infer_schema(table.rows[table.attributes], forced).schema.columns
    }
    assert kinds["Area code"] == "numeric"
