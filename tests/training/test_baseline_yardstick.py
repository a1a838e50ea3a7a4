"""Baselines that hold: a baseline whose fit is unreliable is reported as such and is never the
yardstick; every interval 'vs baseline' is against the best reliable baseline, which is named."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.config import ExperimentConfig
from training.candidates import CANDIDATES, Fold
from training.console_table import console_table
from training.evaluation import ModelResult
from training.metrics import roc_auc
from training.pipeline import evaluate_candidates
from training.selection import compare_with_baseline

N = 400


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return (np.random.default_rng(0).random(N) < 0.3).astype(np.int64)


def result(name: str, y: np.ndarray, noise: float, servable: bool, reliable: bool = True):  # type: ignore[no-untyped-def]
    """A churn result scoring the label plus noise on the log-odds (less noise: a better score)."""
    z = 2.0 * y - 1.0 + np.random.default_rng(len(name)).normal(0.0, noise, len(y))
    pred = 1.0 / (1.0 + np.exp(-z))
    return ModelResult(
        "churn",
        name,
        pred,
        {"roc_auc": roc_auc(y, pred)},
        pd.DataFrame(),
        servable=servable,
        reliable=reliable,
    )


def test_an_unreliable_baseline_is_not_the_yardstick_even_when_it_scores_best(
    labels: np.ndarray, small_fold: Fold
) -> None:
    booster = result("lightgbm", labels, 0.5, servable=True)
    bgnbd = result("bgnbd", labels, 0.6, servable=False, reliable=False)
    recency = result("recency_rule", labels, 0.9, servable=False)
    prior = result("prior_rate", labels, 5.0, servable=False)
    assert bgnbd.metrics["roc_auc"] > recency.metrics["roc_auc"] > prior.metrics["roc_auc"]

    compare_with_baseline([booster, bgnbd, recency, prior], {"churn": labels}, small_fold.config)

    assert booster.baseline == bgnbd.baseline == prior.baseline == "recency_rule"
    interval = booster.versus["roc_auc"]
    assert interval.diff == pytest.approx(booster.metrics["roc_auc"] - recency.metrics["roc_auc"])
    assert recency.versus == {}
    assert bgnbd.notes == [
        "churn/bgnbd is not the yardstick (its fit is unreliable): the intervals 'vs baseline' "
        f"are against recency_rule, the best reliable baseline (roc_auc "
        f"{recency.metrics['roc_auc']:.4f} on the test cutoff; bgnbd "
        f"{bgnbd.metrics['roc_auc']:.4f})"
    ]
    assert "vs recency_rule" in console_table([booster, bgnbd, recency, prior])


def test_with_no_reliable_baseline_there_is_no_interval_and_a_note_says_so(
    labels: np.ndarray, small_fold: Fold
) -> None:
    booster = result("lightgbm", labels, 0.5, servable=True)
    bgnbd = result("bgnbd", labels, 0.6, servable=False, reliable=False)
    compare_with_baseline([booster, bgnbd], {"churn": labels}, small_fold.config)
    assert (booster.baseline, booster.versus) == ("", {})
    assert bgnbd.notes == [
        "churn/bgnbd is not the yardstick (its fit is unreliable): no baseline of the task is "
        "reliable, so no interval 'vs baseline' is given"
    ]


def _steady_buyers(features: pd.DataFrame) -> pd.DataFrame:
    """Every buyer's BTYD summary as if they bought every week up to the cutoff: nobody ever
    drops out, so BG/NBD's dropout parameter runs to 0 (a -> 0) and its fit is unreliable."""
    age = features["btyd_T"]
    weeks = np.floor(age / 7)
    return features.assign(btyd_frequency=weeks, btyd_recency=weeks * 7)


@pytest.mark.slow  # fits every churn candidate on the session's small fold (about 10 s)
def test_a_planted_unreliable_bgnbd_fit_is_reported_and_left_out_end_to_end(
    small_fold: Fold,
) -> None:
    assert small_fold.data.test_features is not None
    data = replace(small_fold.data, test_features=_steady_buyers(small_fold.data.test_features))
    config: ExperimentConfig = small_fold.config
    fold = Fold(config, data)
    evaluation = evaluate_candidates(fold, [c for c in CANDIDATES if c.task == "churn"])

    table = evaluation.table.set_index("model")
    assert table.loc["bgnbd", "fit"] == "unreliable"
    reliable = [m for m in ("recency_rule", "prior_rate") if table.loc[m, "fit"] == "ok"]
    assert reliable == ["recency_rule", "prior_rate"]
    best = max(reliable, key=lambda m: table.loc[m, "roc_auc"])
    assert table.loc["lightgbm", "vs_baseline_roc_auc"].endswith(best)
    assert table.loc[best, "vs_baseline_roc_auc"] == ""
    said = [n for n in evaluation.notes if n.startswith("churn/bgnbd is not the yardstick")]
    assert len(said) == 1
    assert f"against {best}, the best reliable baseline" in said[0]
    assert any(n.startswith("BG/NBD fit unreliable: dropout parameters") for n in evaluation.notes)
    (chosen,) = [r for r in evaluation.results if r.bundle is not None]
    assert said[0] in chosen.bundle.card.notes
    assert f"vs {best}" in console_table(evaluation.results)
