"""Records built as JSON column by column equal the serialised records, byte for byte."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic_core import to_json

from core.economics import Economics
from core.settings import Settings
from serving.lookup import read_feature_table
from serving.output import score_json, score_records
from serving.requests import encode_feature_items
from serving.scorer import Scorer
from serving.store import load_packaged_scorer
from serving.uplift_store import with_served_uplift
from tests.conftest import TrainedProject
from tests.serving.support import feature_items, tiny_features, tiny_scorer
from tests.serving.test_uplift_scoring import fit_uplift

ODD_IDS = ['a,"b"', "Durée 7", "x\\y", "{,}", "\U0001f600", "1.5"]
"""Customer ids with commas, quotes, backslashes and unicode: serialised one by one."""


def _serialised(scorer: Scorer, ids: list[str], items: list, days: list) -> tuple[list, list]:
    batch = encode_feature_items(scorer, items)
    arrays = scorer.score(batch)
    records = score_records(scorer, ids, arrays, batch, days)
    want = [to_json(r, inf_nan_mode="null") for r in records]
    return score_json(scorer, ids, arrays, batch, days).tolist(), want


@pytest.mark.parametrize("top_k", [0, 1, 3, 6])
def test_tiny_scores_serialise_column_wise_as_record_by_record(top_k: int) -> None:
    frame = tiny_features(300, seed=4)
    scorer = tiny_scorer(top_k, Economics(currency="EUR", gross_margin=0.3))
    ids = [ODD_IDS[i % len(ODD_IDS)] + str(i) for i in range(len(frame))]
    days = [None if i % 5 == 0 else dt.date(2024, 1 + i % 12, 1) for i in range(len(frame))]
    got, want = _serialised(scorer, ids, feature_items(frame), days)
    assert got == want


def test_uplift_reasons_serialise_unrounded_as_record_by_record() -> None:
    campaign = tiny_features(3000, seed=5)
    uplift = fit_uplift(campaign.loc[campaign["attr_region"] != "east"])  # encoded apart
    base = tiny_scorer()
    scorer = Scorer(
        base.churn, base.clv, base.versions, top_k=3, uplift=uplift, uplift_label="uplift:2"
    )
    frame = tiny_features(200, seed=9)
    ids = [str(i) for i in range(len(frame))]
    got, want = _serialised(scorer, ids, feature_items(frame), [None] * len(frame))
    assert b'"uplift_reasons":[{"feature"' in want[0]
    assert got == want


def test_no_customers_is_no_records() -> None:
    scorer = tiny_scorer()
    batch = encode_feature_items(scorer, feature_items(tiny_features(3)))
    arrays = scorer.score(batch)
    assert score_json(scorer, [], arrays, batch, []).size == 0


@pytest.mark.slow  # the session's trained demo project
def test_every_demo_customer_serialises_column_wise_as_record_by_record(
    trained: TrainedProject,
) -> None:
    scorer = with_served_uplift(load_packaged_scorer(top_k=Settings.read().top_reasons))
    table = read_feature_table(trained.feature_table)
    batch = scorer.encode(table)
    arrays = scorer.score(batch)
    ids = table.index.tolist()
    days = [d.date() for d in table["as_of"]]
    want = [
        to_json(r, inf_nan_mode="null") for r in score_records(scorer, ids, arrays, batch, days)
    ]
    assert len(want) > 500
    assert score_json(scorer, ids, arrays, batch, days).tolist() == want
