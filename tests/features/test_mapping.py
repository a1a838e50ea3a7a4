"""The mapping `retain init` proposes, on hand-made frames: which column plays each role, the
label's positive value, the horizon that fits a log, and the choices it marks to check."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.column_profile import name_tokens
from features.mapping import propose_mapping, training_cutoffs

DAY = dt.date(2024, 6, 30)


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("CustomerID", ("customer", "id", "customerid")),
        ("customerID", ("customer", "id", "customerid")),
        ("Account length", ("account", "length", "accountlength")),
        ("as_of", ("as", "of", "asof")),
        ("InvoiceNo", ("invoice", "no", "invoiceno")),
        ("tenure", ("tenure",)),
        ("Revenue90d", ("revenue", "90d", "revenue90d")),
    ],
)
def test_names_split_into_words(name: str, tokens: tuple[str, ...]) -> None:
    assert name_tokens(name) == tokens


def test_the_horizon_split_counts_month_end_training_cutoffs() -> None:
    # 2010-12-01 .. 2011-12-09, 90 days of history: the first month end is 2011-03-31. A 90-day
    # horizon: month ends to 2011-09-10 (Mar..Aug), test Aug 31, validation May 31, no training
    # cutoff by Mar 2
    start, end = pd.Timestamp("2010-12-01"), pd.Timestamp("2011-12-09")
    assert training_cutoffs(start, end, 90, 90) == 0
    # 60 days: month ends to Oct 10 (Mar..Sep), test Sep 30, validation Jul 31, train Mar..May
    assert training_cutoffs(start, end, 60, 90) == 3
    assert training_cutoffs(start, start + pd.Timedelta(days=20), 30, 30) == 0


def frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=object)


def test_a_churn_flag_of_unusual_words_reads_its_positive_value() -> None:
    sample = frame(
        client_id=[f"K{i}" for i in range(6)],
        Plan=["a", "b"] * 3,
        Attrition=["Attrited Customer", "Existing Customer"] * 3,
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.kind == "snapshots"
    assert proposal.columns == {"customer_id": "client_id", "churned": "Attrition"}
    assert proposal.options == {
        "positive": ["Attrited Customer"],
        "negative": ["Existing Customer"],
        "as_of": DAY,
    }
    assert [c.key for c in proposal.to_confirm] == ["data.snapshots.as_of"]


def test_a_flag_whose_values_say_nothing_is_a_choice_to_check() -> None:
    sample = frame(id=["1", "2", "3", "4"], churn=["A", "B", "A", "B"])
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.options["positive"] == ["A"]
    checked = proposal.to_confirm[0]
    assert checked.key == "data.snapshots.positive"
    assert "set data.snapshots.positive (and negative)" in checked.evidence


def test_a_snapshot_column_maps_as_of_and_future_value() -> None:
    sample = frame(
        CustomerId=["1", "2", "3", "4"],
        SnapshotDate=["2024-05-31", "2024-05-31", "2024-06-30", "2024-06-30"],
        SignupDate=["2020-01-03", "2021-02-04", "2022-03-05", "2023-04-06"],
        Revenue90d=["10.5", "0", "3", "7"],
        Churned=["1", "0", "0", "1"],
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.columns == {
        "customer_id": "CustomerId",
        "churned": "Churned",
        "as_of": "SnapshotDate",
        "future_value": "Revenue90d",
    }
    assert "as_of" not in proposal.options
    assert proposal.economics == {}  # a CLV model is trained: no recurring charge needed


def test_a_churn_only_export_values_customers_by_its_monthly_charge() -> None:
    sample = frame(
        customerID=["a", "b", "c", "d"],
        MonthlyCharges=["29.85", "56.95", "53.85", "42.30"],
        TotalCharges=["29.85", "1889.5", "108.15", ""],
        Churn=["No", "No", "Yes", "No"],
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.economics == {"recurring_charge": "MonthlyCharges"}


def test_a_log_with_an_amount_column_and_a_currency_symbol() -> None:
    days = pd.date_range("2022-01-01", "2024-06-30", freq="7D")
    sample = frame(
        user_id=[f"U{i % 9}" for i in range(len(days))],
        created_at=[f"{d:%Y-%m-%d}T10:00:00" for d in days],
        Total=[f"€{i % 50}.50" for i in range(len(days))],
        Channel=["web"] * len(days),
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.kind == "transactions"
    assert proposal.columns == {
        "customer_id": "user_id",
        "timestamp": "created_at",
        "amount": "Total",
    }
    assert proposal.economics == {"currency": "EUR"}
    assert proposal.settings == {"horizon_days": 90}
    assert proposal.unused == ["Channel"]
    assert proposal.to_confirm == []
    assert proposal.problems == []


def test_typed_parquet_columns_are_read_by_their_type() -> None:
    days = pd.date_range("2022-01-01", "2024-06-30", freq="5D")
    sample = pd.DataFrame(
        {
            "CustomerID": [float(17850 + i % 11) if i % 13 else None for i in range(len(days))],
            "InvoiceDate": days,
            "Quantity": [(-1 if i % 17 == 0 else 1) * (1 + i % 4) for i in range(len(days))],
            "UnitPrice": [2.55] * len(days),
        }
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.columns == {
        "customer_id": "CustomerID",
        "timestamp": "InvoiceDate",
        "amount": ["Quantity", "UnitPrice"],
        "quantity": "Quantity",
    }
    blanks = sum(1 for i in range(len(days)) if i % 13 == 0)
    assert f"blank in {blanks:,} of {len(days):,} sampled rows" in proposal.choices[0].evidence
    negative = sum(1 for i in range(len(days)) if i % 17 == 0)
    assert (
        proposal.choices[-1].evidence == f"named like a quantity; {negative:,} negative (returns)"
    )


def test_a_log_with_a_flag_named_like_churn_stays_a_log() -> None:
    days = pd.date_range("2022-01-01", "2024-06-30", freq="3D")
    sample = frame(
        CustomerID=[f"C{i % 20}" for i in range(len(days))],
        OrderDate=[f"{d:%Y-%m-%d}" for d in days],
        Amount=[str(5 + i % 9) for i in range(len(days))],
        Cancelled=["Yes" if i % 10 == 0 else "No" for i in range(len(days))],
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.kind == "transactions"
    assert proposal.unused == ["Cancelled"]


def test_a_bank_export_drops_its_row_numbers() -> None:
    sample = frame(
        RowNumber=[str(i + 1) for i in range(8)],
        CustomerId=[str(15634602 + i) for i in range(8)],
        Balance=[str(1000 * i) for i in range(8)],
        Exited=["1", "0", "0", "0", "1", "0", "0", "1"],
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.columns == {"customer_id": "CustomerId", "churned": "Exited"}
    assert proposal.options["drop"] == ["RowNumber"]
    assert proposal.options["positive"] == ["1"]


def test_a_randomized_test_maps_its_arm_campaign_and_offer_day_not_as_features() -> None:
    sample = frame(
        customerID=["a", "b", "c", "d"],
        Campaign=["june_wave1", "june_wave2", "", "june_wave1"],
        RetentionOffer=["treatment", "control", "", "control"],
        OfferDate=["2024-07-01", "2024-07-03", "", "2024-07-01"],
        Churn=["No", "No", "Yes", "No"],
    )
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.columns["treatment"] == "RetentionOffer"
    assert proposal.columns["campaign_id"] == "Campaign"
    assert proposal.columns["contacted_at"] == "OfferDate"
    assert "as_of" not in proposal.columns  # the offer's day is not the snapshot's


def test_an_order_line_export_maps_its_product_columns() -> None:
    from retain.demo_basket import COLUMNS, basket_log

    lines = basket_log(60, seed=1).lines
    sample = lines.astype(str).head(2000)
    proposal = propose_mapping(sample, modified=DAY)
    assert proposal.kind == "transactions"
    assert proposal.columns == COLUMNS
    assert proposal.unused == []
    assert proposal.problems == []
