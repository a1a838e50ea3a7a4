"""The offer's effect in the service's scores: uplift, incremental value and exact reasons.

A tiny X-learner with a planted effect (the offer retains recent buyers and drives long-lapsed
ones away) beside the tiny churn and CLV pair of ``tests.serving.support``. Its encoding is fitted
on rows without one region, so it differs from the churn model's and is encoded apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.config import UpliftLightGBMParams
from core.errors import DataValidationError
from features.catalogue import reason_label
from model.encoding import FeatureEncoding
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT, UpliftBundle
from serving.lookup import LookupSnapshot, write_feature_table
from serving.output import score_records
from serving.requests import encode_feature_items, lookup_ids
from serving.scorer import Scorer
from serving.uplift_info import NO_UPLIFT_MODEL, uplift_info, uplift_status
from serving.uplift_store import PackagedUplift, with_uplift
from tests.serving.support import (
    TINY_ATTRIBUTES,
    TINY_FAMILIES,
    feature_items,
    tiny_features,
    tiny_scorer,
)
from training.uplift import DRLearner, XLearner

DAY = pd.Timestamp("2024-12-31")
RECENCY = "days_since_last_purchase"
CARD = {
    "trained_at": "2024-12-01T00:00:00+00:00",
    "campaigns": {"spring": "2024-03-30"},
    "test_metrics": {"qini": 0.0421, "auuc": 0.08, "value_qini": float("nan")},
    "churn_risk_metrics": {"qini": 0.0102},
}


def planted_effect(frame: pd.DataFrame) -> np.ndarray:
    """The true reduction in churn probability: +0.3 under 100 days of recency, -0.2 over 300."""
    recency = frame[RECENCY].to_numpy()
    return np.where(recency < 100, 0.3, np.where(recency > 300, -0.2, 0.0))


def fit_uplift(
    frame: pd.DataFrame,
    *,
    learner: type[XLearner] | type[DRLearner] = XLearner,
    attributes: list[str] | None = None,
    horizon_days: int = 90,
    **params: Any,
) -> UpliftBundle:
    """An uplift bundle fitted on a randomized campaign over ``frame`` with the planted effect."""
    rng = np.random.default_rng(3)
    encoding = FeatureEncoding.fit(frame)
    X = encoding.transform(frame)
    t = rng.integers(0, 2, len(frame))
    retained = (rng.random(len(frame)) < 0.5 + t * planted_effect(frame)).astype(int)
    args = {
        "feature_names": tuple(encoding.columns),
        "categorical_features": tuple(encoding.categorical_indices),
        "lightgbm": UpliftLightGBMParams(
            **{"min_child_samples": 20, "n_estimators": 40, "learning_rate": 0.1, **params}
        ),
    }
    churn = learner("binary", **args).fit(X, retained, t)
    value = learner("continuous", **args).fit(X, retained * 40.0, t)
    return UpliftBundle(
        encoding=encoding,
        families=list(TINY_FAMILIES),
        horizon_days=horizon_days,
        learner="x_learner" if learner is XLearner else "dr_learner",
        churn_effect=churn.final_stage_,
        value_effect=value.final_stage_,
        attributes=list(TINY_ATTRIBUTES if attributes is None else attributes),
        card=CARD,
    )


@pytest.fixture(scope="module")
def campaign() -> pd.DataFrame:
    """Campaign customers without the region 'east': the uplift encoding differs from churn's."""
    frame = tiny_features(3000, seed=5)
    return frame.loc[frame["attr_region"] != "east"]


@pytest.fixture(scope="module")
def bundle(campaign: pd.DataFrame) -> UpliftBundle:
    return fit_uplift(campaign)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Customers to score, 'east' among them (missing for the uplift model, as in batch)."""
    return tiny_features(300, seed=9)


@pytest.fixture(scope="module")
def scorer(bundle: UpliftBundle) -> Scorer:
    base = tiny_scorer()
    return Scorer(
        base.churn,
        base.clv,
        base.versions,
        top_k=3,
        economics=base.economics,
        uplift=bundle,
        uplift_label="uplift:2",
    )


def _weighted_lightgbm_contributions(bundle: UpliftBundle, matrix: np.ndarray) -> np.ndarray:
    """The uplift's contributions straight from LightGBM's ``pred_contrib``, weighted."""
    return sum(
        w * np.asarray(b.predict(matrix, pred_contrib=True), dtype=np.float64)
        for w, b in bundle.churn_effect
    )


@pytest.mark.parametrize("learner", [XLearner, DRLearner])
def test_uplift_contributions_add_up_to_the_served_uplift(
    campaign: pd.DataFrame, frame: pd.DataFrame, learner: type[XLearner] | type[DRLearner]
) -> None:
    fitted = fit_uplift(campaign, learner=learner)
    matrix = fitted.encoding.transform(frame)
    contributions = fitted.contributions(matrix)
    uplift = fitted.effects_matrix(matrix)[UPLIFT].to_numpy()
    assert contributions.shape == (len(frame), len(fitted.encoding.columns) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), uplift, rtol=0, atol=1e-12)
    np.testing.assert_allclose(contributions[:, -1], fitted.base_value, rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        contributions, _weighted_lightgbm_contributions(fitted, matrix), rtol=0, atol=1e-12
    )


def test_deep_trees_are_explained_by_lightgbm_and_still_add_up(
    campaign: pd.DataFrame, frame: pd.DataFrame
) -> None:
    deep = fit_uplift(campaign, num_leaves=31, max_depth=-1, n_estimators=10)
    assert None in deep.explainers  # trees beyond the table-driven explainer's size
    matrix = deep.encoding.transform(frame)
    uplift = deep.effects_matrix(matrix)[UPLIFT].to_numpy()
    np.testing.assert_allclose(deep.contributions(matrix).sum(axis=1), uplift, atol=1e-12)


def test_the_planted_driver_leads_the_uplift_reasons_with_its_sign(
    bundle: UpliftBundle, frame: pd.DataFrame
) -> None:
    contributions = bundle.contributions(bundle.encoding.transform(frame))[:, :-1]
    strength = np.abs(contributions).mean(axis=0)
    names = list(bundle.encoding.columns)
    assert names[int(np.argmax(strength))] == RECENCY
    recency = contributions[:, names.index(RECENCY)]
    days = frame[RECENCY].to_numpy()
    assert recency[days < 80].mean() > 0.05  # the offer retains recent buyers
    assert recency[days > 320].mean() < -0.05  # and drives the long-lapsed away


def test_scores_carry_the_batch_uplift_whichever_way_a_customer_is_given(
    scorer: Scorer, bundle: UpliftBundle, frame: pd.DataFrame, tmp_path: Path
) -> None:
    ids = frame.index.tolist()
    days = [DAY.date()] * len(frame)
    by_items = encode_feature_items(scorer, feature_items(frame))
    by_frame = scorer.encode(frame)
    assert by_frame.uplift is not None
    assert by_frame.uplift is not by_frame.churn  # the encodings differ: encoded apart
    records = score_records(scorer, ids, scorer.score(by_items), by_items, days)
    assert score_records(scorer, ids, scorer.score(by_frame), by_frame, days) == records

    # the batch path (``retain score``): the bundle's effects joined by customer id
    table = pd.DataFrame({"customer_id": ids})
    batch, note = with_uplift(table, frame, PackagedUplift(bundle, "uplift:2"))
    assert note is None
    assert [r["uplift"] for r in records] == batch[UPLIFT].tolist()
    assert [r["expected_incremental_value"] for r in records] == batch[INCREMENTAL_VALUE].tolist()

    # by id from the feature table the service reads
    path = write_feature_table(frame, DAY, tmp_path / "features.parquet")
    rows = lookup_ids(LookupSnapshot.build(path, scorer), ids[::-1])
    by_id = score_records(scorer, ids[::-1], scorer.score(rows.batch), rows.batch, rows.as_of)
    assert by_id == records[::-1]

    east = frame["attr_region"].to_numpy() == "east"
    assert east.any()
    money = scorer.economics.money
    for record, is_east in zip(records, east, strict=True):
        assert record["model_versions"] == {
            "churn": "churn:1",
            "clv": "clv:1",
            "uplift": "uplift:2",
        }
        reasons = record["uplift_reasons"]
        assert len(reasons) == 3
        sizes = [abs(r["contribution"]) for r in reasons]
        assert sizes == sorted(sizes, reverse=True)
        for reason in reasons:
            assert reason["direction"] == (
                "raises uplift" if reason["contribution"] > 0 else "lowers uplift"
            )
            assert reason["label"] == reason_label(reason["feature"], reason["value"], money)
            if reason["feature"] == "attr_region" and is_east:
                assert reason["value"] is None  # a region the uplift model never saw


def test_reasons_over_every_feature_sum_to_uplift_minus_the_base_value(
    scorer: Scorer, bundle: UpliftBundle, frame: pd.DataFrame
) -> None:
    every = Scorer(
        scorer.churn,
        scorer.clv,
        scorer.versions,
        top_k=len(bundle.encoding.columns),
        uplift=bundle,
        uplift_label="uplift:2",
    )
    batch = every.encode(frame)
    records = score_records(every, frame.index.tolist(), every.score(batch), batch, [None] * 300)
    base = uplift_info(every)
    assert base is not None
    for record in records:
        total = sum(r["contribution"] for r in record["uplift_reasons"])
        assert total == pytest.approx(record["uplift"] - base.base_value, abs=1e-12)


def test_without_an_uplift_model_the_fields_are_null_and_model_info_says_so() -> None:
    plain = tiny_scorer()
    frame = tiny_features(5, seed=4)
    batch = plain.encode(frame)
    assert batch.uplift is None
    (record, *_) = score_records(plain, frame.index.tolist(), plain.score(batch), batch, [None] * 5)
    assert (record["uplift"], record["expected_incremental_value"]) == (None, None)
    assert record["uplift_reasons"] == []
    assert record["model_versions"]["uplift"] is None
    assert uplift_info(plain) is None
    assert uplift_status(plain) == NO_UPLIFT_MODEL == "no uplift model"


def test_model_info_gives_the_uplift_version_learner_and_held_out_qini(scorer: Scorer) -> None:
    info = uplift_info(scorer)
    assert info is not None
    assert (info.version, info.learner, info.qini, info.churn_risk_qini) == (
        "uplift:2",
        "x_learner",
        0.0421,
        0.0102,
    )
    assert info.campaigns == {"spring": "2024-03-30"}
    assert "value_qini" not in info.test_metrics  # not finite: left out, never NaN in JSON
    assert (
        uplift_status(scorer)
        == "uplift:2 (x_learner), held-out Qini 0.0421 (churn-risk order 0.0102)"
    )


def test_an_uplift_model_that_does_not_fit_the_churn_model_stops_the_start_up(
    campaign: pd.DataFrame,
) -> None:
    base = tiny_scorer()
    channels = campaign.assign(attr_channel=np.where(campaign.index.str[-1] < "5", "web", "shop"))
    wider = fit_uplift(channels, attributes=[*TINY_ATTRIBUTES, "channel"], n_estimators=5)
    with pytest.raises(DataValidationError, match=r"uplift:7 needs features .*attr_channel"):
        Scorer(base.churn, base.clv, base.versions, uplift=wider, uplift_label="uplift:7")
    longer = fit_uplift(campaign, horizon_days=180, n_estimators=5)
    with pytest.raises(DataValidationError, match="180-day horizon, the churn model 90 days"):
        Scorer(base.churn, base.clv, base.versions, uplift=longer, uplift_label="uplift:7")
