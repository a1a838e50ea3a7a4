"""Candidates compete: the best servable one on validation becomes the challenger, and every
candidate's difference to the best baseline comes with a paired bootstrap interval."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.labels import CHURN
from model.bundle import sigmoid
from model.linear import LinearChurn, signed_log1p
from training.calibrators import fit_platt
from training.candidates import CANDIDATES, Fold
from training.evaluation import ModelResult, verdict
from training.metrics import PairedInterval
from training.pipeline import evaluate_candidates
from training.selection import choose, left_out

CHURN_CANDIDATES = [c for c in CANDIDATES if c.task == "churn"]
PLANTED = {
    "days_since_last_purchase": 1.0,
    "orders_365d": -0.8,
    "spend_365d": -0.6,
    "tenure_days": 0.6,
    "distinct_products": -0.6,
    "avg_order_value": 0.5,
}


def _planted_parts(fold: Fold, seed: int = 7) -> dict[str, pd.DataFrame]:
    """The fold's rows with churn redrawn from a logistic model of three features' log values:
    a signal a linear model holds exactly and trees only approximate."""
    rng = np.random.default_rng(seed)
    train = fold.frames["train"]
    stats = {c: signed_log1p(train[c].fillna(0).to_numpy(float)) for c in PLANTED}
    parts = {}
    for part, frame in fold.frames.items():
        z = sum(
            w
            * (signed_log1p(frame[c].fillna(0).to_numpy(float)) - stats[c].mean())
            / stats[c].std()
            for c, w in PLANTED.items()
        )
        churn = (rng.random(len(frame)) < sigmoid(z)).astype(int)
        parts[part] = frame.assign(**{CHURN: churn})
    return parts


def test_a_planted_linear_signal_makes_logistic_the_challenger(small_fold: Fold) -> None:
    assert set(PLANTED) <= set(small_fold.encoding.columns)
    # the summary only: P(alive) alone is a strong non-linear churn score the trees would use;
    # no tie rule, so logistic wins on merit alone
    promotion = small_fold.config.promotion.model_copy(update={"selection_se": 0.0})
    config = small_fold.config.model_copy(update={"btyd_features": False, "promotion": promotion})
    data = replace(small_fold.data, btyd_params={})
    fold = Fold(config, data, parts=_planted_parts(small_fold))
    evaluation = evaluate_candidates(fold, CHURN_CANDIDATES)
    table = evaluation.table.set_index("model")
    assert table.loc["logistic", "validation"] > table.loc["lightgbm", "validation"]
    assert table.loc["logistic", "chosen"] == "challenger"
    assert table.loc["lightgbm", "chosen"] == ""
    assert list(table["servable"]) == ["yes", "yes"] + ["no: cannot explain its scores"] * 3
    chosen = [r for r in evaluation.results if r.bundle is not None]
    assert [r.name for r in chosen] == ["logistic"]
    bundle = chosen[0].bundle
    assert isinstance(bundle.model, LinearChurn)
    assert bundle.card.model == "logistic"
    bundle.check_schema()
    np.testing.assert_allclose(bundle.predict(fold.frames["test"]), chosen[0].test_pred, rtol=1e-12)
    # every candidate against the best baseline (the best non-servable model on the test rows)
    best = max(("recency_rule", "bgnbd", "prior_rate"), key=lambda m: table.loc[m, "roc_auc"])
    for model in ("lightgbm", "logistic", *{"recency_rule", "bgnbd", "prior_rate"} - {best}):
        cell = table.loc[model, "vs_baseline_roc_auc"]
        diff = table.loc[model, "roc_auc"] - table.loc[best, "roc_auc"]
        assert cell.startswith(f"{diff:+.4f} (")
        assert cell.endswith(best)
    assert table.loc[best, "vs_baseline_roc_auc"] == ""


def _linear(fold: Fold) -> LinearChurn:
    """The logistic regression as the candidate fits it, on the fold's training rows."""
    m = fold.matrices
    return LinearChurn.fit(
        m["train"],
        fold.y("train", "churn"),
        list(fold.encoding.columns),
        fold.encoding.categorical_indices,
        seed=fold.config.seed,
    )


def test_linear_reasons_sum_to_the_log_odds_and_survive_saving(small_fold: Fold, tmp_path) -> None:
    m = small_fold.matrices
    model = _linear(small_fold)
    contrib = model.contributions(m["test"])
    assert contrib.shape == (len(m["test"]), len(small_fold.encoding.columns) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(m["test"]), rtol=1e-10)
    # a feature's reason is its coefficient(s) x standardized value(s): zero at the training mean
    assert np.allclose(contrib[:, -1], model.intercept)
    model.save(tmp_path / "linear.json")
    again = LinearChurn.load(tmp_path / "linear.json")
    np.testing.assert_array_equal(again.contributions(m["test"]), contrib)
    # unseen category codes and missing values still score (all level flags 0, median fill)
    odd = m["test"][:5].copy()
    odd[:, :] = np.nan
    assert np.isfinite(model.raw_score(odd)).all()


@pytest.mark.parametrize(
    ("metric", "low", "high", "said"),
    [
        ("roc_auc", 0.01, 0.03, "better"),
        ("roc_auc", -0.03, -0.01, "worse"),
        ("roc_auc", -0.01, 0.02, "cannot be separated"),
        ("mae", -3.0, -1.0, "better"),
        ("mae", 1.0, 3.0, "worse"),
        ("mae", -1.0, 1.0, "cannot be separated"),
    ],
)
def test_verdict_reads_the_interval_in_the_metrics_direction(
    metric: str, low: float, high: float, said: str
) -> None:
    assert verdict(PairedInterval(metric, 0.0, 0.0, low, high, 0.95, 1000, 100)) == said


def test_clv_compete_keeps_a_servable_model_from_competing(small_fold: Fold) -> None:
    clv = small_fold.config.clv.model_copy(update={"compete": ["lightgbm"]})
    config = small_fold.config.model_copy(update={"clv": clv})
    assert left_out("clv", config) == {"lightgbm_btyd"}
    assert left_out("clv", small_fold.config) == set()


def _competitor(name: str, validation_pred: np.ndarray, y: np.ndarray) -> ModelResult:
    from sklearn.metrics import roc_auc_score

    return ModelResult(
        "churn",
        name,
        test_pred=validation_pred,
        metrics={},
        slices=pd.DataFrame(),
        servable=True,
        validation=float(roc_auc_score(y, validation_pred)),
        validation_pred=validation_pred,
    )


def _planted_scores(gap: float, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels from a latent risk; 'simple' sees it with noise, 'complex' with noise shrunk by
    ``gap`` (0: the same noise level, a tie up to sampling error)."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-2 * risk))).astype(int)
    simple = sigmoid(risk + rng.normal(0, 1.0, 3000))
    complex_ = sigmoid(risk + rng.normal(0, 1.0 - gap, 3000))
    return y, simple, complex_


@pytest.mark.parametrize(
    ("gap", "selection_se", "order", "winner"),
    [
        (0.0, 1.0, ["logistic", "lightgbm"], "logistic"),  # a tie: the first listed wins
        (0.0, 1.0, ["lightgbm", "logistic"], "lightgbm"),  # the order is the preference
        (0.5, 1.0, ["logistic", "lightgbm"], "lightgbm"),  # clearly better: the best wins
        (0.0, 0.0, ["logistic", "lightgbm"], "best"),  # no tie rule: the best outright
    ],
)
def test_a_tie_on_validation_goes_to_the_model_listed_first(
    small_fold: Fold, gap: float, selection_se: float, order: list[str], winner: str
) -> None:
    y, simple, complex_ = _planted_scores(gap)
    results = [_competitor("logistic", simple, y), _competitor("lightgbm", complex_, y)]
    best = max(results, key=lambda r: r.validation).name
    assert best == "lightgbm"  # with gap 0 by chance only: what the tie rule must see through
    config = small_fold.config.model_copy(
        update={
            "promotion": small_fold.config.promotion.model_copy(
                update={"selection_se": selection_se, "bootstrap_replicates": 300}
            ),
            "churn": small_fold.config.churn.model_copy(update={"compete": order}),
        }
    )
    chosen = choose(results, {"churn": y}, config)["churn"]
    assert chosen.name == (best if winner == "best" else winner)
    assert [r.name for r in results if r.chosen] == [chosen.name]
    if winner != "best" and chosen.name != best:
        assert chosen.selection.startswith("within ")
        assert "a tie" in chosen.selection


def test_logistic_is_calibrated_on_validation_and_its_reasons_follow(small_fold: Fold) -> None:
    calibration = small_fold.config.churn.calibration.model_copy(update={"method": "platt"})
    churn = small_fold.config.churn.model_copy(update={"calibration": calibration})
    fold = Fold(small_fold.config.model_copy(update={"churn": churn}), small_fold.data)
    candidate = next(c for c in CANDIDATES if c.task == "churn" and c.name == "logistic")
    evaluation = evaluate_candidates(fold, [candidate])
    (result,) = evaluation.results
    m = fold.matrices
    model = _linear(fold)
    a, b = fit_platt(model.raw_score(m["validation"]), fold.y("validation", "churn"))
    assert result.bundle is not None
    assert result.bundle.platt == pytest.approx((a, b), rel=1e-12)
    assert (a, b) != pytest.approx((1.0, 0.0), abs=1e-3)  # a real correction, not the identity
    expected = sigmoid(a * model.raw_score(m["test"]) + b)
    np.testing.assert_allclose(result.test_pred, expected, rtol=1e-12)
    np.testing.assert_allclose(result.bundle.predict(fold.frames["test"]), expected, rtol=1e-12)
    contributions = result.bundle.contributions(m["test"])
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(expected / (1 - expected)))
