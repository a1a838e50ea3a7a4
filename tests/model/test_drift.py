"""Sketches and drift distances (``model.drift``): exact values on hand-made distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.drift import (
    OTHER,
    TOP_CATEGORIES,
    drift,
    frame_drift,
    js_distance,
    psi,
    sketch_column,
    wasserstein,
)


def test_psi_and_jensen_shannon_on_hand_computed_shares() -> None:
    assert psi([10, 10], [10, 10]) == 0
    # shares 0.2/0.8 against 0.5/0.5: (0.2-0.5) ln(0.4) + (0.8-0.5) ln(1.6)
    assert psi([2, 8], [5, 5]) == pytest.approx(-0.3 * np.log(0.4) + 0.3 * np.log(1.6))
    assert js_distance([5, 5], [5, 5]) == 0
    assert js_distance([10, 0], [0, 10]) == pytest.approx(1.0, abs=1e-3)  # disjoint
    m = np.array([0.35, 0.65])
    div = 0.5 * (0.2 * np.log2(0.2 / m[0]) + 0.8 * np.log2(0.8 / m[1])) + 0.5 * (
        0.5 * np.log2(0.5 / m[0]) + 0.5 * np.log2(0.5 / m[1])
    )
    assert js_distance([2, 8], [5, 5]) == pytest.approx(np.sqrt(div))


def test_a_shift_by_c_is_a_wasserstein_distance_of_c_over_the_reference_iqr() -> None:
    x = pd.Series(np.arange(1000, dtype=float))
    reference = sketch_column(x)
    shifted = sketch_column(x + 50.0, reference.edges)
    iqr = np.quantile(x, 0.75) - np.quantile(x, 0.25)
    assert wasserstein(shifted, reference) == pytest.approx(50.0 / iqr)
    assert wasserstein(sketch_column(x, reference.edges), reference) == 0


def test_a_sketch_on_other_edges_reads_the_reference_bins_off_its_quantiles() -> None:
    rng = np.random.default_rng(0)
    reference = sketch_column(pd.Series(rng.normal(0, 1, 20_000)))
    values = pd.Series(rng.normal(0.5, 1, 20_000))
    exact = drift(sketch_column(values, reference.edges), reference).psi
    approximate = drift(sketch_column(values), reference).psi  # its own deciles
    assert approximate == pytest.approx(exact, rel=0.05)


def test_missing_values_form_a_bin_and_categories_beyond_the_top_are_other() -> None:
    values = pd.Series([1.0, 2.0, np.nan, np.nan])
    sketch = sketch_column(values)
    assert (sketch.rows, sketch.missing, sum(sketch.counts)) == (4, 2, 2)
    many = pd.Series([f"c{i}" for i in range(TOP_CATEGORIES + 5)] * 2)
    cats = sketch_column(many).categories
    assert cats[OTHER] == 10
    assert len(cats) == TOP_CATEGORIES + 1
    moved = drift(sketch_column(pd.Series([np.nan] * 4)), sketch_column(pd.Series([1.0] * 4)))
    assert moved.missing_share == 1.0


def test_calendar_features_one_value_for_everyone_are_not_compared() -> None:
    reference = {"week": sketch_column(pd.Series(np.linspace(0, 1, 50)))}
    today = {"week": sketch_column(pd.Series(np.full(50, 0.3)), reference["week"].edges)}
    assert frame_drift(today, reference) == {}
