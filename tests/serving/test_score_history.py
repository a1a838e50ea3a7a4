"""The score history: a generation is recorded whole in the SQL store, read back exactly, bounded.

Real sqlite stores in ``tmp_path`` through SQLAlchemy; sketches from ``model.drift``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core.schema import CUSTOMER_ID
from model.card import ModelCard
from model.drift import sketch_column, sketch_frame
from serving.score_history import (
    HOOK,
    HistoryError,
    ScoreHistory,
    describe_generation,
    history_table,
)
from tests.helpers import ROOT, card_for

TIERS = ["high", "medium", "low"]


def frames(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A feature frame (a numeric and a text column) and its scores, ``n`` customers."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"C{i:05d}" for i in range(n)], name=CUSTOMER_ID)
    features = pd.DataFrame(
        {
            "spend_90d": rng.gamma(2.0, 50.0, n) + shift,
            "attr_region": rng.choice(["north", "south"], n),
            "cutoff_week_sin": np.full(n, 0.5),
        },
        index=ids,
    )
    p = rng.uniform(0, 1, n)
    scores = pd.DataFrame(
        {
            CUSTOMER_ID: ids.to_numpy(),
            "churn_probability": p,
            "clv": rng.gamma(2.0, 30.0, n),
            "risk_tier": np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low")),
        }
    )
    return features, scores


def meta(as_of: str) -> dict[str, object]:
    return {
        "as_of": as_of,
        "horizon_days": 90,
        "contractual": False,
        "active_days": 365,
        "churn_model": "churn:3",
        "clv_model": "clv:2",
    }


def reference_card(features: pd.DataFrame, scores: pd.DataFrame) -> ModelCard:
    return card_for(
        "churn",
        list(features.columns),
        reference=sketch_frame(features),
        reference_prediction=sketch_column(scores["churn_probability"]),
    )


def test_a_generation_is_read_back_exactly_with_its_sketches_and_drift(tmp_path: Path) -> None:
    features, scores = frames(500, seed=1)
    card = reference_card(features, scores)
    history = ScoreHistory(f"sqlite:///{tmp_path / 'h.db'}")
    record = describe_generation("G1", scores, features, meta("2024-06-30"), card, TIERS)
    history.record(record, scores, keep=10)

    (back,) = history.generations()
    assert back == record
    assert str(back.as_of) == "2024-06-30"
    assert back.horizon_end.isoformat() == "2024-09-28"
    assert back.model_versions == {"churn": "churn:3", "clv": "clv:2"}
    read = history.scores("G1")
    pd.testing.assert_frame_equal(read.sort_values(CUSTOMER_ID).reset_index(drop=True), scores)
    # the same rows as the reference: every distance is zero; the constant calendar column is
    # not compared
    moved = back.feature_drift()
    assert set(moved) == {"spend_90d", "attr_region"}
    assert all(d.psi == 0 and d.js == 0 for d in moved.values())
    prediction = back.prediction_drift()
    assert prediction is not None
    assert prediction.psi == 0
    assert sum(back.features["spend_90d"].counts) == 500
    assert back.scores["tier_shares"] == {
        t: float((scores["risk_tier"] == t).mean()) for t in TIERS
    }


def test_a_shifted_feature_drifts_and_its_psi_is_the_formula_on_the_reference_bins(
    tmp_path: Path,
) -> None:
    ref_features, ref_scores = frames(2000, seed=1)
    features, scores = frames(2000, seed=2, shift=60.0)
    card = reference_card(ref_features, ref_scores)
    record = describe_generation("G2", scores, features, meta("2024-09-30"), card, TIERS)
    moved = record.feature_drift()
    edges = np.quantile(ref_features["spend_90d"], np.linspace(0.1, 0.9, 9))
    r = np.bincount(np.searchsorted(edges, ref_features["spend_90d"], side="right"), minlength=10)
    g = np.bincount(np.searchsorted(edges, features["spend_90d"], side="right"), minlength=10)
    r, g = np.maximum(r / r.sum(), 1e-4), np.maximum(g / g.sum(), 1e-4)
    r, g = np.append(r, 1e-4), np.append(g, 1e-4)  # the missing bin, empty on both sides
    assert moved["spend_90d"].psi == pytest.approx(np.sum((g - r) * np.log(g / r)))
    assert moved["spend_90d"].psi > 0.25 > moved["attr_region"].psi


def test_prune_keeps_the_newest_generations_and_their_rows_only(tmp_path: Path) -> None:
    history = ScoreHistory(f"sqlite:///{tmp_path / 'h.db'}")
    features, scores = frames(50, seed=3)
    card = reference_card(features, scores)
    for i, day in enumerate(["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"]):
        record = describe_generation(f"G{i}", scores, features, meta(day), card, TIERS)
        history.record(record, scores, keep=3)
    assert [g.generation_id for g in history.generations()] == ["G1", "G2", "G3"]
    assert history.prune(1) == ["G1", "G2"]
    with history.engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.select(history_table.c.generation_id).distinct())}
    assert ids == {"G3"}


def test_a_failed_write_leaves_nothing_of_the_generation(tmp_path: Path) -> None:
    history = ScoreHistory(f"sqlite:///{tmp_path / 'h.db'}")
    features, scores = frames(50, seed=4)
    card = reference_card(features, scores)
    record = describe_generation("G1", scores, features, meta("2024-06-30"), card, TIERS)
    twice = pd.concat([scores, scores.iloc[:1]])  # a customer twice: the insert fails
    with pytest.raises(HistoryError, match=r"G1 was not recorded.*nothing of it was written"):
        history.record(record, twice, keep=10)
    assert history.generations() == []
    with pytest.raises(HistoryError, match="no generation 'G1'"):
        history.scores("G1")


def test_two_runs_recording_at_once_write_two_whole_generations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    ScoreHistory(url)  # the tables exist before both start
    features, scores = frames(20_000, seed=5)
    card = reference_card(features, scores)
    records = {
        name: describe_generation(name, scores.assign(clv=k), features, meta(day), card, TIERS)
        for k, (name, day) in enumerate((("GA", "2024-06-30"), ("GB", "2024-07-31")))
    }

    def record(name: str) -> None:
        k = float(name == "GB")
        ScoreHistory(url).record(records[name], scores.assign(clv=k), keep=10)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(record, records))
    history = ScoreHistory(url)
    assert [g.generation_id for g in history.generations()] == ["GA", "GB"]
    for k, name in enumerate(("GA", "GB")):
        rows = history.scores(name)
        assert len(rows) == 20_000
        assert set(rows["clv"]) == {float(k)}  # each generation's rows are its own


KILLED_WRITER = """
import sys
from tests.serving.test_score_history import TIERS, describe_generation, frames, meta
from tests.serving.test_score_history import reference_card
from serving.score_history import ScoreHistory

features, scores = frames(1000, seed=6)
card = reference_card(features, scores)
record = describe_generation("GK", scores, features, meta("2024-06-30"), card, TIERS)
ScoreHistory(sys.argv[1]).record(record, scores, keep=10)
"""


def test_a_run_killed_before_its_commit_leaves_no_trace_of_its_generation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    env = {**os.environ, "RETAIN_TEST_KILL_AT": HOOK}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, url], cwd=ROOT, env=env, capture_output=True
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    history = ScoreHistory(url)
    assert history.generations() == []
    with history.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(history_table)).scalar() == 0
