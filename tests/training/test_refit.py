"""``churn.refit``, ``clv.refit``: the served models are fitted again on the training and
validation rows, with the rounds early-stopped on validation; the candidates still compete on
the first fit, and the test rows stay out and score the refit model."""

from __future__ import annotations

import numpy as np
import pytest

from model.btyd_features import BtydMargin
from model.bundle import sigmoid
from model.linear import LinearChurn
from training.calibrators import apply
from training.candidates import CANDIDATES, PARTS, Fitted, Fold
from training.models import LightGBMChurn, LightGBMSpend
from training.pipeline import evaluate_candidates


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
    rows = {p: len(small_fold.frames[p]) for p in PARTS}
    assert refit.params["refit_rows"] == rows["train"] + rows["validation"]
    assert refit.notes == [
        f"clv/{name}: refit on the training and validation rows "
        f"({rows['train'] + rows['validation']:,} rows, first fit {rows['train']:,}, {rounds} "
        f"rounds by early stopping on {small_fold.data.split.validation.date()} (split.round_origins "
        "is 0)); its "
        "validation score is the first fit's, the test rows stay out and score it"
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


def _first_and_refit(fold: Fold, task: str, name: str) -> tuple[Fitted, Fitted]:
    """The candidate's fit on ``fold`` without and with the refit."""
    candidate = next(c for c in CANDIDATES if c.task == task and c.name == name)
    first = candidate.fit(Fold(fold.config, fold.data, refit=False))
    refit = candidate.fit(fold)
    assert first is not None
    assert refit is not None
    return first, refit


def _always(fold: Fold) -> Fold:
    """``fold`` with ``churn.refit: always`` (the small fold is out of time, not refit by default)."""
    churn = fold.config.churn.model_copy(update={"refit": "always"})
    return Fold(fold.config.model_copy(update={"churn": churn}), fold.data)


def test_an_out_of_time_churn_fit_is_not_refit_by_default(small_fold: Fold) -> None:
    assert small_fold.config.churn.refit == "in_time"  # the default
    assert not small_fold.data.split.in_time
    assert not small_fold.refits_churn
    assert _always(small_fold).refits_churn


def test_the_served_churn_booster_is_refit_on_every_non_test_row(small_fold: Fold) -> None:
    small_fold = _always(small_fold)
    first, refit = _first_and_refit(small_fold, "churn", "lightgbm")
    assert refit.servable is not None
    assert refit.servable.refit is not None
    # the competition and the risk tiers see the first fit; the refit keeps its rounds
    np.testing.assert_array_equal(refit.validation_pred, first.validation_pred)
    assert refit.servable.risk_tiers == first.servable.risk_tiers  # type: ignore[union-attr]
    rounds = first.params["best_iteration"]
    rows = {p: len(small_fold.frames[p]) for p in PARTS}
    assert refit.servable.refit.model_dump() == {
        "rows": rows["train"] + rows["validation"],
        "first_rows": rows["train"],
        "rounds": rounds,
        "rounds_from": f"early stopping on {small_fold.data.split.validation.date()} "
        "(split.round_origins is 0)",
    }
    assert refit.params["refit_rows"] == rows["train"] + rows["validation"]
    assert refit.servable.best_iteration == rounds
    # by hand: the training and validation rows only (never the test's), those rounds, and the
    # first fit's calibration on the validation rows it had not seen
    m, parts = small_fold.matrices, ("train", "validation")
    churn = small_fold.config.churn
    by_hand = LightGBMChurn(
        small_fold.lightgbm("churn").model_copy(update={"n_estimators": rounds}),
        random_state=small_fold.config.seed,
        balance_classes=churn.balance_classes,
        calibration=None,
        monotone_increasing=tuple(
            c for c in churn.monotone_increasing if c in small_fold.encoding.columns
        ),
    ).fit(
        np.vstack([m[p] for p in parts]),
        np.concatenate([small_fold.y(p, "churn") for p in parts]),
        feature_names=list(small_fold.encoding.columns),
        categorical=small_fold.encoding.categorical_indices,
    )
    a, b = first.params["platt"] or (1.0, 0.0)
    assert refit.params["platt"] == first.params["platt"]
    np.testing.assert_allclose(refit.test_pred, sigmoid(a * by_hand.raw_score(m["test"]) + b))
    assert not np.array_equal(refit.test_pred, first.test_pred)


def test_the_served_logistic_is_refit_with_the_first_fits_calibration(small_fold: Fold) -> None:
    small_fold = _always(small_fold)
    first, refit = _first_and_refit(small_fold, "churn", "logistic")
    assert refit.servable is not None
    assert refit.servable.refit is not None
    np.testing.assert_array_equal(refit.validation_pred, first.validation_pred)
    rows = {p: len(small_fold.frames[p]) for p in PARTS}
    assert refit.servable.refit.rows == rows["train"] + rows["validation"]
    assert refit.servable.refit.rounds is None
    m, parts = small_fold.matrices, ("train", "validation")
    by_hand = LinearChurn.fit(
        np.vstack([m[p] for p in parts]),
        np.concatenate([small_fold.y(p, "churn") for p in parts]),
        list(small_fold.encoding.columns),
        small_fold.encoding.categorical_indices,
        seed=small_fold.config.seed,
    )
    np.testing.assert_allclose(
        refit.test_pred, apply(first.params["platt"], by_hand.raw_score(m["test"]))
    )


def test_the_card_says_the_served_churn_model_was_refit_and_on_how_many_rows(
    small_fold: Fold,
) -> None:
    small_fold = _always(small_fold)
    evaluation = evaluate_candidates(small_fold, [c for c in CANDIDATES if c.task == "churn"])
    (chosen,) = [r for r in evaluation.results if r.bundle is not None]
    card = chosen.bundle.card  # type: ignore[union-attr]
    rows = {p: len(small_fold.frames[p]) for p in PARTS}
    assert card.refit is not None
    assert card.refit.rows == rows["train"] + rows["validation"]
    assert card.refit.first_rows == rows["train"]
    # the test figure is the refit model's, on test rows it never saw
    assert len(evaluation.test) == rows["test"]
    assert any(n.startswith(f"churn/{chosen.name}: refit on the training") for n in card.notes)
