"""``churn.high_cardinality``: a 51-level column read as each level's out-of-fold churn rate on
the training rows, carried by the served model (``model.target_encoding``): the planted per-level
effect is recovered, the served model scores a request as training scored the test rows, and
the card says how each column was read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from core.config_file import parse_config
from model.bundle import sigmoid
from model.target_encoding import (
    SMOOTHING,
    TargetEncodedBooster,
    level_rates,
    out_of_fold,
)
from serving.requests import _encode_dicts
from tests.helpers import FAST_LIGHTGBM
from training.candidates import CANDIDATES, Fold
from training.labelled_data import load_labelled_training_data

LEVELS = 51
STATE = "attr_State"


def test_out_of_fold_rates_equal_a_pandas_groupby_of_the_other_folds() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 7, 400).astype(float)
    codes[::37] = np.nan  # missing: the overall rate
    y = (rng.random(400) < 0.3).astype(float)
    got = out_of_fold(codes, y, 7, folds=4, seed=11)
    fold = np.random.default_rng(11).permutation(400) % 4
    for k in range(4):
        rest = pd.DataFrame({"code": codes[fold != k], "y": y[fold != k]})
        prior = rest["y"].mean()
        stats = rest.dropna().groupby("code")["y"].agg(["sum", "count"])
        rate = (stats["sum"] + SMOOTHING * prior) / (stats["count"] + SMOOTHING)
        held = codes[fold == k]
        expected = [prior if c != c else rate.get(c, prior) for c in held]
        np.testing.assert_allclose(got[fold == k], expected, rtol=1e-12)
    # a level no training row has gets the overall rate, like a missing one
    assert level_rates(np.array([0.0, 0.0]), np.array([1.0, 0.0]), 3)[2] == 0.5


def _export(path: Path, n: int = 3000, seed: int = 5) -> dict[str, float]:
    """A one-day export with a planted N(0, 1) log-odds effect per State (51 levels)."""
    rng = np.random.default_rng(seed)
    levels = [f"S{i:02d}" for i in range(LEVELS)]
    effect = dict(zip(levels, rng.normal(0.0, 1.0, LEVELS), strict=True))
    state = rng.choice(levels, n)
    calls = rng.poisson(1.5, n)
    logit = -1.2 + 0.5 * calls + np.array([effect[s] for s in state])
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {"id": np.arange(n), "State": state, "Calls": calls, "Churn": np.where(churn, "Yes", "No")}
    )
    frame.to_csv(path, index=False)
    return effect


@pytest.fixture(scope="module")
def state_fold(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fold, dict[str, float]]:
    folder = tmp_path_factory.mktemp("states51")
    effect = _export(folder / "export.csv")
    config = parse_config(
        {
            "name": "states51",
            "data": {
                "snapshots": {
                    "path": str(folder / "export.csv"),
                    "columns": {"customer_id": "id", "churned": "Churn"},
                    "as_of": "2024-06-30",
                }
            },
            "seed": 42,
            "registry": {"churn": "s-churn", "clv": "s-clv"},
            "churn": {"lightgbm": FAST_LIGHTGBM, "high_cardinality": "target"},
            "tuning": {"enabled": False},
        }
    )
    return Fold(config, load_labelled_training_data(config, progress=False)), effect


def test_a_planted_51_level_effect_is_recovered_and_served_as_trained(
    state_fold: tuple[Fold, dict[str, float]], tmp_path: Path
) -> None:
    fold, effect = state_fold
    assert fold.high_cardinality == [STATE]
    lightgbm = next(c for c in CANDIDATES if c.task == "churn" and c.name == "lightgbm")
    fitted = lightgbm.fit(fold)
    assert fitted.servable is not None
    model = fitted.servable.model
    assert isinstance(model, TargetEncodedBooster)
    j = list(fold.encoding.columns).index(STATE)
    assert list(model.tables) == [j]
    # the served table's rate per level ranks the levels as the planted effect does
    levels = fold.encoding.categories[STATE]
    rates = model.tables[j][: len(levels)]
    rho = spearmanr(rates, [effect[level] for level in levels]).statistic
    assert rho > 0.8, rho
    # the card says how each column was read
    assert fold.target_encoded == {"churn": [STATE]}
    notes = dict(n.split(": ", 2)[1:] for n in fold.category_notes("churn"))
    assert notes[STATE].startswith(f"categorical, {LEVELS} levels, target-encoded for LightGBM")
    # saved and loaded as the bundle does, it scores the test rows as training did, from a
    # batch frame and from the HTTP by-features path alike (both give codes; it maps them)
    model.save_into(tmp_path)
    served = TargetEncodedBooster.load_from(tmp_path)
    frame = fold.frames["test"]
    batch = fold.encoding.transform(frame)
    request = _encode_dicts(fold.encoding, frame[list(fold.encoding.inputs)].to_dict("records"))
    np.testing.assert_array_equal(batch, request)
    a, b = fitted.servable.platt or (1.0, 0.0)
    np.testing.assert_allclose(sigmoid(a * served.raw_score(request) + b), fitted.test_pred)
    # the reasons add up on the rates' scale and still name the level (codes in the matrix)
    contrib = served.contributions(batch)
    np.testing.assert_allclose(contrib.sum(axis=1), served.raw_score(batch), atol=1e-9)


def test_auto_keeps_the_reading_that_scores_better_on_validation(
    state_fold: tuple[Fold, dict[str, float]],
) -> None:
    fold, _ = state_fold
    churn = fold.config.churn.model_copy(update={"high_cardinality": "auto"})
    auto = Fold(fold.config.model_copy(update={"churn": churn}), fold.data)
    fitted = next(c for c in CANDIDATES if c.task == "churn" and c.name == "lightgbm").fit(auto)
    (line,) = [n for n in fitted.notes if " read " in n]
    target, native = (
        fitted.fit_metrics[f"high_cardinality.validation.{k}"] for k in ("target", "native")
    )
    assert f"validation roc_auc {target:.4f} target-encoded, {native:.4f} native" in line
    assert fitted.params["high_cardinality"] == ("target" if target > native else "native")
    chosen_target = isinstance(fitted.servable.model, TargetEncodedBooster)  # type: ignore[union-attr]
    assert chosen_target == (target > native)
    assert auto.target_encoded == {"churn": [STATE] if chosen_target else []}
    # the card (written after the fit) says which reading won; before the fit, that either may
    (note,) = auto.category_notes("churn")
    assert ("target-encoded for LightGBM" in note) == chosen_target
    assert "whichever scores better" not in note
    (before,) = Fold(auto.config, auto.data).category_notes("churn")
    assert "or target-encoded, whichever scores better on validation" in before
