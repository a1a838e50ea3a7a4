"""``clv.refit``: the served CLV boosters are fitted again on the training and validation rows,
with the rounds early-stopped on validation; the candidates still compete on the first fit."""

from __future__ import annotations

import numpy as np
import pytest

from model.btyd_features import BtydMargin
from training.candidates import CANDIDATES, PARTS, Fold
from training.models import LightGBMSpend


@pytest.mark.parametrize("name", ["lightgbm", "lightgbm_btyd"])
def test_the_served_clv_booster_is_refit_on_training_and_validation_rows(
    small_fold: Fold, name: str
) -> None:
    candidate = next(c for c in CANDIDATES if c.task == "clv" and c.name == name)
    clv = small_fold.config.clv
    assert clv.refit  # the default
    refit = candidate.fit(small_fold)
    once = small_fold.config.clv.model_copy(update={"refit": False, "btyd_recalibrate": False})
    first = candidate.fit(Fold(small_fold.config.model_copy(update={"clv": once}), small_fold.data))
    assert refit is not None
    assert first is not None
    assert refit.servable is not None
    # the competition sees the first fit; the refit keeps its number of rounds
    np.testing.assert_array_equal(refit.validation_pred, first.validation_pred)
    rounds = first.params["best_iteration"]
    assert refit.params["best_iteration"] == rounds
    assert refit.servable.best_iteration == rounds
    assert refit.params["refit"]
    assert not first.params["refit"]
    assert refit.notes == [
        f"clv/{name}: refit on the training and validation rows ({rounds} rounds, as "
        f"early-stopped on {small_fold.data.split.validation.date()}); its validation score is "
        "the first fit's"
    ]
    # the same booster by hand: every training and validation row, those rounds, no early stop
    m, parts = small_fold.matrices, ("train", "validation")
    margin = None
    if name == "lightgbm_btyd":
        starts = BtydMargin(
            floor=clv.btyd_floor, fallback=max(float(small_fold.y("train", "clv").mean()), 1e-9)
        )
        margin = {p: starts.of_matrix(m[p], small_fold.encoding.columns) for p in PARTS}
    by_hand = LightGBMSpend(
        small_fold.lightgbm("clv").model_copy(update={"n_estimators": rounds}),
        random_state=small_fold.config.seed,
        tweedie_variance_power=clv.tweedie_variance_power,
    ).fit(
        np.vstack([m[p] for p in parts]),
        np.concatenate([small_fold.y(p, "clv") for p in parts]),
        feature_names=list(small_fold.encoding.columns),
        categorical=small_fold.encoding.categorical_indices,
        base_margin=None if margin is None else np.concatenate([margin[p] for p in parts]),
    )
    expected = by_hand.predict(m["test"], None if margin is None else margin["test"])
    np.testing.assert_array_equal(refit.test_pred, expected)
    # it learnt from more rows than the first fit did
    assert not np.array_equal(refit.test_pred, first.test_pred)
