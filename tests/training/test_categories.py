"""Categorical columns learned well: a planted effect on the levels of a high-cardinality column
is recovered by LightGBM's native categorical splits, whose smoothing tuning searches, and the
training output says how each categorical column was read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from core.config_file import parse_config
from tests.helpers import FAST_LIGHTGBM
from training.candidates import CANDIDATES, Fold
from training.labelled_data import load_labelled_training_data
from training.tuning import CATEGORICAL_SEARCHED, tune

pytestmark = pytest.mark.slow  # a tuning search and a fit: about 10 s

LEVELS = 40
STATE = "attr_State"


def planted(path: Path, n: int = 3000, seed: int = 3) -> dict[str, float]:
    """A one-day export whose churn log-odds carry a planted effect per State (sd 1) and a
    numeric driver; returns the planted effect by level."""
    rng = np.random.default_rng(seed)
    levels = [f"S{i:02d}" for i in range(LEVELS)]
    effect = dict(zip(levels, rng.normal(0.0, 1.0, LEVELS), strict=True))
    state = rng.choice(levels, n)
    calls = rng.poisson(1.5, n)
    logit = -1.2 + 0.5 * calls + np.array([effect[s] for s in state])
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    pd.DataFrame(
        {
            "id": np.arange(n),
            "State": state,
            "Calls": calls,
            "Noise": rng.normal(size=n).round(3),
            "Churn": np.where(churn, "Yes", "No"),
        }
    ).to_csv(path, index=False)
    return effect


def test_a_planted_effect_on_high_cardinality_levels_is_recovered(tmp_path: Path) -> None:
    effect = planted(tmp_path / "export.csv")
    config = parse_config(
        {
            "name": "states",
            "data": {
                "snapshots": {
                    "path": str(tmp_path / "export.csv"),
                    "columns": {"customer_id": "id", "churned": "Churn"},
                    "as_of": "2024-06-30",
                }
            },
            "horizon_days": 90,
            "seed": 42,
            "registry": {"churn": "states-churn", "clv": "states-clv"},
            "churn": {"lightgbm": FAST_LIGHTGBM},
            "tuning": {"trials": 2, "stratified_folds": 2, "tasks": ["churn"]},
        }
    )
    data = load_labelled_training_data(config, progress=False)
    tuned = tune(config, data, log=lambda _: None)["churn"]
    assert set(CATEGORICAL_SEARCHED) <= set(tuned.summary.best_params)  # chosen on the folds
    fold = Fold(config, data, tuning={"churn": tuned.summary})
    assert fold.high_cardinality == [STATE]
    (note,) = fold.category_notes("churn")
    assert note.startswith(f"churn: {STATE}: categorical, {LEVELS} levels, LightGBM's native")
    assert "searched by tuning" in note
    lightgbm = next(c for c in CANDIDATES if c.task == "churn" and c.name == "lightgbm")
    fitted = lightgbm.fit(fold)
    assert fitted is not None
    assert fitted.servable is not None
    assert fitted.importance is not None
    assert max(fitted.importance, key=fitted.importance.__getitem__) in (STATE, "attr_Calls")
    # partial dependence: every test row given each State in turn, its mean log-odds
    model = fitted.servable.model
    test = fold.matrices["test"]
    j = list(fold.encoding.columns).index(STATE)
    levels = fold.encoding.categories[STATE]
    dependence = []
    for code in range(len(levels)):
        rows = test.copy()
        rows[:, j] = code
        dependence.append(float(model.raw_score(rows).mean()))
    rho = spearmanr(dependence, [effect[level] for level in levels]).statistic
    assert rho > 0.8, rho
