"""Candidates as specs run by one loop, the servable bundles' cards, and one build per cutoff."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import features.build
import features.prepare
from features.build import CUTOFF
from features.snapshots import build_snapshots
from model.bundle import ModelBundle
from model.card import ModelCard
from tests.training.conftest import small_config
from training.candidates import CANDIDATES, Candidate, Fitted, Fold, Servable
from training.dataset import load_training_data
from training.evaluation import Evaluation, calibration_curve, decile_curve, gain_curve
from training.pipeline import evaluate_candidates, train

SERVABLE = ("lightgbm", "logistic", "lightgbm_btyd")
BASELINES = [c for c in CANDIDATES if c.name not in SERVABLE]
LIGHTGBM = [c for c in CANDIDATES if c.name == "lightgbm"]


def test_the_candidates_are_todays_models() -> None:
    assert [(c.task, c.name) for c in CANDIDATES] == [
        ("churn", "lightgbm"),
        ("churn", "logistic"),
        ("churn", "recency_rule"),
        ("churn", "bgnbd"),
        ("churn", "prior_rate"),
        ("clv", "lightgbm"),
        ("clv", "lightgbm_btyd"),
        ("clv", "hurdle_gamma"),
        ("clv", "hurdle_lognormal"),
        ("clv", "bgnbd_gamma_gamma"),
        ("clv", "last_period"),
        ("clv", "prior_mean"),
    ]


def test_a_new_spec_is_evaluated_beside_the_others(small_fold: Fold) -> None:
    n = len(small_fold.frames["test"])
    constant = Candidate("constant", "churn", lambda fold: Fitted(np.full(n, 0.3), {"p": 0.3}))
    absent = Candidate("not_applicable", "clv", lambda fold: None)
    evaluation = evaluate_candidates(small_fold, [*BASELINES, constant, absent])
    table = evaluation.table
    assert list(zip(table["task"], table["model"], strict=True)) == [
        # the hurdle comparisons run only when clv.compare lists them (empty by default)
        *[(c.task, c.name) for c in BASELINES if not c.name.startswith("hurdle_")],
        ("churn", "constant"),
    ]
    row = table.set_index(["task", "model"]).loc[("churn", "constant")]
    assert row["roc_auc"] == 0.5  # a constant score ranks nobody
    assert evaluation.predictions["churn.constant"].eq(0.3).all()
    assert all(r.bundle is None for r in evaluation.results)  # baselines are not servable


@pytest.fixture(scope="module")
def servable(small_fold: Fold) -> Evaluation:
    return evaluate_candidates(small_fold, LIGHTGBM)


def test_of_two_servable_candidates_the_better_on_validation_is_bundled(
    small_fold: Fold, servable: Evaluation
) -> None:
    """Two servable specs share one booster; the one whose validation scores rank the churners
    perfectly wins, though its test scores are no better, and only it gets a bundle."""
    model = servable.results[0].bundle.model
    n, y_valid = len(small_fold.frames["test"]), small_fold.y("validation", "churn")
    scores = {"lightgbm": np.full(len(y_valid), 0.5), "logistic": y_valid.astype(float)}
    specs = [
        Candidate(
            name,
            "churn",
            lambda fold, name=name: Fitted(
                np.full(n, 0.5), servable=Servable(model, 1), validation_pred=scores[name]
            ),
        )
        for name in scores
    ]
    evaluation = evaluate_candidates(small_fold, [*specs, *BASELINES[:1]])
    table = evaluation.table.set_index("model")
    assert table.loc["lightgbm", "validation"] == 0.5
    assert table.loc["logistic", "validation"] == 1.0
    assert table.loc["logistic", "chosen"] == "challenger"
    assert table.loc["lightgbm", "chosen"] == ""
    assert [r.name for r in evaluation.results if r.bundle is not None] == ["logistic"]
    assert table.loc["recency_rule", "servable"] == "no: cannot explain its scores"
    # a model left out of churn.compete is evaluated but cannot become the challenger
    churn = small_fold.config.churn.model_copy(update={"compete": ["lightgbm"]})
    config = small_fold.config.model_copy(update={"churn": churn})
    fold = Fold(config, small_fold.data)
    evaluation = evaluate_candidates(fold, specs)
    assert [r.name for r in evaluation.results if r.bundle is not None] == ["lightgbm"]


def test_servable_bundles_carry_a_complete_card(small_fold: Fold, servable, tmp_path: Path) -> None:
    data, config = small_fold.data, small_fold.config
    test = small_fold.frames["test"]
    for result in servable.results:
        bundle = result.bundle
        assert isinstance(bundle, ModelBundle)
        bundle.check_schema()
        card = bundle.card
        assert (card.task, card.model, card.experiment) == (result.task, "lightgbm", "fold")
        assert card.horizon_days == 90
        assert card.features == list(small_fold.encoding.columns)
        assert card.data.fingerprint == data.fingerprint
        assert len(card.data.fingerprint) == 16
        assert (card.data.rows, card.data.customers) == (data.rows, 2000)
        assert (card.data.start, card.data.end) == tuple(
            str(d.date()) for d in data.prep.date_range
        )
        assert (card.data.timezone, card.data.business, card.data.active_days) == (
            "UTC",
            "noncontractual",
            365,
        )
        assert card.cutoffs.train == [str(c.date()) for c in data.split.train]
        assert len(card.cutoffs.train) == config.split.max_train_cutoffs == 2
        assert card.cutoffs.test == str(data.split.test.date())
        assert card.test_metrics == result.metrics
        assert card.best_iteration == bundle.model.booster.current_iteration()
        assert 1 <= card.best_iteration <= 60
        # the bundle scores the test rows exactly as they were evaluated
        np.testing.assert_allclose(bundle.predict(test), result.test_pred, rtol=1e-12)
        y = small_fold.y("test", result.task)
        if result.task == "churn":
            assert card.calibration == calibration_curve(y, result.test_pred)
            assert card.gain == gain_curve(y, result.test_pred)
            assert card.deciles is None
            assert bundle.risk_tiers is not None
            high, medium = bundle.risk_tiers
            assert 0 < medium < high < 1
            assert bundle.platt is not None
        else:
            assert card.deciles == decile_curve(y, result.test_pred)
            assert card.calibration is None
            assert card.gain is None
            assert bundle.risk_tiers is None
        assert ModelCard.load(card.save(tmp_path).parent) == card


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], Counter[str]]:
    """Count ``prepare`` and ``build_features`` calls (per cutoff) wherever they are imported."""
    calls: Counter[str] = Counter()
    cutoffs: Counter[str] = Counter()
    prepare, build = features.prepare.prepare, features.build.build_features

    def counted_prepare(*args, **kwargs):
        calls["prepare"] += 1
        return prepare(*args, **kwargs)

    def counted_build(data, as_of, **kwargs):
        calls["build_features"] += 1
        cutoffs[str(pd.Timestamp(as_of).date())] += 1
        return build(data, as_of, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").split(".")[0] in ("features", "model", "training"):
            if getattr(module, "prepare", None) is prepare:
                monkeypatch.setattr(module, "prepare", counted_prepare)
            if getattr(module, "build_features", None) is build:
                monkeypatch.setattr(module, "build_features", counted_build)
    return calls, cutoffs


def test_training_data_prepares_once_and_builds_each_cutoff_once(
    small_fold: Fold, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, cutoffs = _count_calls(monkeypatch)
    data = load_training_data(small_fold.config, progress=False)
    split = data.split
    assert calls["prepare"] == 1
    assert dict(cutoffs) == {str(c.date()): 1 for c in [*split.train, split.validation, split.test]}
    # the same frame as snapshots built cutoff by cutoff
    expected, reports = build_snapshots(
        data.prep, [*split.train, split.validation, split.test], 90, families=data.families
    )
    pd.testing.assert_frame_equal(data.frame, expected)
    assert [r.line() for r in data.label_reports] == [r.line() for r in reports]
    # the test cutoff's features cover every known customer, with the BTYD summary
    test = data.part("test").set_index("customer_id")
    assert test.index.isin(data.test_features.index).all()
    assert len(data.test_features) > len(test)
    assert "btyd_frequency" in data.test_features
    pd.testing.assert_frame_equal(
        data.test_features.loc[test.index, data.features],
        test[data.features],
        check_names=False,
    )
    assert (test[CUTOFF] == split.test).all()


@pytest.mark.slow
def test_train_prepares_once_and_builds_each_cutoff_once_champion_included(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs: the second scores the first run's champion on the features already built."""
    registry = {"churn": "count-churn", "clv": "count-clv"}
    config = small_config(tmp_path, demo_data / "retail", "count", registry=registry)
    quiet = {"progress": False, "log": lambda _: None}
    calls, cutoffs = _count_calls(monkeypatch)
    first = train(config, **quiet)
    assert calls["prepare"] == 1
    assert set(cutoffs.values()) == {1}
    assert len(cutoffs) == 4
    calls.clear()
    cutoffs.clear()
    second = train(config, **quiet)
    assert second.decisions["churn"].champion_version == first.versions["churn"]
    assert second.decisions["churn"].champion_score == pytest.approx(
        first.decisions["churn"].new_score
    )
    assert second.decisions["clv"].champion_score == pytest.approx(first.decisions["clv"].new_score)
    assert calls["prepare"] == 1
    assert set(cutoffs.values()) == {1}
    assert len(cutoffs) == 4


def test_fit_trouble_is_a_plain_note_and_an_unreliable_row(
    small_fold: Fold, servable: Evaluation
) -> None:
    """A raw optimiser warning (with its source path) becomes one note; a fit that explains its
    own trouble says only that, once; both rows are marked unreliable; the card carries the
    notes and its calibration check."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    n = len(small_fold.frames["test"])

    def noisy(fold: Fold) -> Fitted:
        for _ in range(3):
            warnings.warn(
                "lbfgs failed to converge in /x/site-packages/sklearn/opt.py:120",
                ConvergenceWarning,
                stacklevel=1,
            )
        return Fitted(np.full(n, 0.4))

    def boundary(fold: Fold) -> Fitted:
        warnings.warn("overflow", RuntimeWarning, stacklevel=1)
        return Fitted(np.full(n, 0.4), problems=["BG/NBD fit unreliable: dropout at the boundary"])

    model = servable.results[0].bundle.model
    specs = [
        Candidate(
            "model", "churn", lambda fold: Fitted(np.full(n, 0.5), servable=Servable(model, 1))
        ),
        Candidate("noisy", "churn", noisy),
        Candidate("boundary", "churn", boundary),
    ]
    evaluation = evaluate_candidates(small_fold, specs)
    assert evaluation.table["fit"].tolist() == ["ok", "unreliable", "unreliable"]
    none = "no baseline of the task is reliable, so no interval 'vs baseline' is given"
    assert evaluation.notes == [
        "churn/noisy: ConvergenceWarning: lbfgs failed to converge in",
        f"churn/noisy is not the yardstick (its fit is unreliable): {none}",
        "BG/NBD fit unreliable: dropout at the boundary",
        f"churn/boundary is not the yardstick (its fit is unreliable): {none}",
    ]
    card = evaluation.results[0].bundle.card
    # the evaluation's notes and how each categorical column is learned; no comparison:
    # neither unreliable baseline is a yardstick
    assert small_fold.category_notes("churn") == [
        f"churn: {name}: categorical, {levels} levels, LightGBM's native categorical "
        "splits; the logistic model one-hot encodes its levels of 20 rows or more"
        for name, levels in (("top_category", 10), ("attr_channel", 5), ("attr_region", 4))
    ]
    assert card.notes == [*evaluation.notes, *small_fold.category_notes("churn")]
    observed = float(small_fold.y("test", "churn").mean())
    assert card.calibration_check.bias == pytest.approx(0.5 - observed)
    assert card.calibration_check.limit == 0.03


def test_hurdle_comparisons_are_evaluated_but_never_served_nor_the_baseline(
    small_fold: Fold,
) -> None:
    compare = ["hurdle_gamma", "hurdle_lognormal"]
    clv = small_fold.config.clv.model_copy(update={"compare": compare})
    fold = Fold(small_fold.config.model_copy(update={"clv": clv}), small_fold.data)
    hurdles = [c for c in CANDIDATES if c.name in compare]
    baseline = [c for c in CANDIDATES if c.name == "bgnbd_gamma_gamma"]
    evaluation = evaluate_candidates(fold, [*hurdles, *baseline])
    table = evaluation.table.set_index("model")
    assert list(table.loc[compare, "servable"]) == ["no: comparison only"] * 2
    assert all(r.bundle is None for r in evaluation.results)
    for name in compare:
        assert table.loc[name, "vs_baseline_gini"].endswith("bgnbd_gamma_gamma")
        assert table.loc[name, "mean_predicted"] > 0
    assert table.loc["bgnbd_gamma_gamma", "vs_baseline_gini"] == ""
    # without clv.compare they are not fitted
    assert all(c.fit(small_fold) is None for c in hurdles)
