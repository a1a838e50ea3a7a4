"""A published oracle: the CDNOW 1/10th sample through the real loader and the btyd family.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2): the
2,357 customers of the sample made 2,457 repeat purchases in the 39-week calibration period
(1997-01-01 to 1997-09-30), a purchase being a customer-day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import DataValidationError
from core.schema import TRANSACTIONS
from core.sources import TableSource
from experiments.lifetimes_summary import summary
from features.build import build_features
from features.loading import CustomerData, load_table

pytestmark = pytest.mark.cdnow

CALIBRATION_END = "1997-09-30"


def _source(path: Path) -> TableSource:
    return TableSource(
        path=path,
        sep=r"\s+",
        header=False,
        names=["master_id", "sample_id", "date", "cds", "dollars"],
        date_format="%Y%m%d",
        drop_duplicates=False,  # the same customer may buy twice a day for the same amount
        columns={
            "customer_id": "master_id",
            "timestamp": "date",
            "amount": "dollars",
            "quantity": "cds",
        },
    )


@pytest.fixture(scope="module")
def cdnow(cdnow_sample: Path) -> CustomerData:
    frame, report = load_table(_source(cdnow_sample), TRANSACTIONS)
    assert (report.rows_read, report.rows_kept, report.problems) == (6919, 6919, [])
    return CustomerData(frame)


def test_sample_loads_every_row_as_published(cdnow: CustomerData) -> None:
    tx = cdnow.transactions
    assert tx["customer_id"].nunique() == 2357
    assert tx["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert tx["timestamp"].max() == pd.Timestamp("1998-06-30")
    # the first line of the file: " 00004 0001 19970101  2   29.33"
    first = tx.iloc[0]
    assert (first["customer_id"], first["quantity"], first["amount"]) == ("00004", 2.0, 29.33)


def test_btyd_calibration_summary_matches_the_paper(cdnow: CustomerData) -> None:
    summary = build_features(cdnow, CALIBRATION_END, families=["btyd"])
    assert len(summary) == 2357  # the whole cohort bought in the first quarter of 1997
    assert summary["btyd_frequency"].sum() == 2457
    # first purchases from Jan 1 (272 days before Sep 30) to Mar 31 (183 days before)
    assert summary["btyd_T"].between(183, 272).all()
    assert summary["btyd_T"].max() == 272
    assert (summary["btyd_recency"] <= summary["btyd_T"]).all()
    assert (summary.loc[summary["btyd_frequency"] == 0, "btyd_monetary_value"] == 0).all()


def test_standalone_summary_equals_the_btyd_family(cdnow: CustomerData) -> None:
    """Two code paths, one definition: the lifetimes-style summary and the btyd feature family."""
    tx = cdnow.transactions
    standalone = summary(
        tx, "customer_id", "timestamp", CALIBRATION_END, monetary_value_col="amount"
    )
    family = build_features(cdnow, CALIBRATION_END, families=["btyd"])
    assert len(standalone) == 2357
    assert standalone["frequency"].sum() == 2457
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(
            standalone[column].to_numpy(),
            family.loc[standalone.index, f"btyd_{column}"].to_numpy(),
            rtol=1e-12,
            err_msg=column,
        )
    weeks = summary(tx, "customer_id", "timestamp", CALIBRATION_END, time_unit_days=7.0)
    np.testing.assert_allclose(weeks["T"].to_numpy() * 7, standalone["T"].to_numpy())
    assert "monetary_value" not in weeks


def test_summary_ignores_rows_after_the_end_and_names_a_missing_column() -> None:
    tx = pd.DataFrame(
        {
            "id": ["a", "a", "a", "b", "c"],
            "when": pd.to_datetime(
                ["2020-01-01", "2020-01-01", "2020-01-05", "2020-01-03", "2020-02-01"]
            ),
            "spend": [10.0, 5.0, 8.0, 2.0, 99.0],
        }
    )
    out = summary(tx, "id", "when", "2020-01-10", monetary_value_col="spend")
    assert list(out.index) == ["a", "b"]  # c bought only after the end
    assert out.loc["a"].tolist() == [1.0, 4.0, 9.0, 8.0]  # two purchase days; repeat spend 8
    assert out.loc["b"].tolist() == [0.0, 0.0, 7.0, 0.0]
    with pytest.raises(DataValidationError, match="'amount' not in the transactions"):
        summary(tx, "id", "when", "2020-01-10", monetary_value_col="amount")
