"""The BTYD features of a request's few rows (Python floats) equal the vectorised path's."""

from __future__ import annotations

import numpy as np
import pytest

from features.catalogue import BTYD_DERIVED_NAMES
from model.btyd_features import (
    BTYD_SUMMARY,
    FEW_ROWS,
    WEEK,
    BtydParams,
    derive_btyd,
    derive_btyd_arrays,
    derive_btyd_row,
)
from model.encoding import FeatureEncoding

EDGES = [
    [0.0, 0.0, 0.0, 0.0],  # a purchase today: T = 0
    [0.0, 0.0, 400.0, 0.0],  # zero frequency
    [0.0, 0.0, 1e7, 0.0],  # a very old one-time buyer
    [5.0, 700.0, 700.0, 0.0],  # recency == T, zero spend
    [1e6, 1e5, 1e5, 1e9],  # huge values
    [1e300, 1e300, 1e300, 1e300],  # overflowing ones
    [3.0, 10.0, 5.0, 1.0],  # recency beyond T: invalid
    [2.5, 1.0, 4.0, 1.0],  # fractional frequency: invalid
    [1.0, 0.0, 5.0, 1.0],  # a repeat purchase on day 0: invalid
    [0.0, 3.0, 5.0, 1.0],  # recency without a repeat: invalid
    [-1.0, 0.0, 5.0, 1.0],  # negative: invalid
    [np.nan, np.nan, np.nan, np.nan],  # no purchase
    [2.0, 10.0, np.nan, 4.0],  # a missing value
    [np.inf, 1.0, 2.0, 3.0],  # not finite
]


def _cases(seed: int, fits: int, rows: int) -> list[tuple[BtydParams, np.ndarray]]:
    """Random population fits (a near 1, no Gamma-Gamma fit, long horizons among them) with
    random valid summaries and ``EDGES``."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(fits):
        a = 1.0 + rng.uniform(-5e-4, 5e-4) if k % 10 == 0 else rng.uniform(0.02, 4.0)
        bg = (rng.uniform(0.05, 5.0), rng.uniform(0.2, 60.0), a, rng.uniform(0.02, 8.0))
        gg = None if k % 7 == 0 else tuple(rng.uniform([0.5, 0.5, 0.5], [10.0, 10.0, 50.0]))
        params = BtydParams(int(rng.integers(1, 800)), bg, gg)  # type: ignore[arg-type]
        x = rng.integers(0, 60, rows).astype(float)
        age = rng.uniform(0.0, 1500.0, rows)
        recency = np.where(x > 0, age * rng.uniform(0.0, 1.0, rows), 0.0)
        summary = np.vstack([np.c_[x, recency, age, rng.gamma(2.0, 30.0, rows)], EDGES])
        cases.append((params, summary))
    return cases


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_one_row_on_floats_equals_the_vectorised_path_exactly() -> None:
    cases = _cases(3, 120, 30)
    series = other = 0
    for params, summary in cases:
        batch = derive_btyd_arrays(summary, params)
        for i, row in enumerate(summary):
            one = np.array(derive_btyd_row(row.tolist(), params))
            # bit for bit against the vectorised path given this row alone
            np.testing.assert_array_equal(one, derive_btyd_arrays(row[None, :], params)[0])
            # and within rounding against a batch: its series may run a term longer
            np.testing.assert_allclose(one, batch[i], rtol=1e-12, atol=0)
        assert params.bgnbd is not None
        _, alpha, _, _ = params.bgnbd
        t = params.horizon_days / WEEK
        z = t / (alpha + summary[:, 2] / WEEK + t)
        series += int((z <= 0.5).sum())
        other += int((z > 0.5).sum())
    assert series > 1000
    assert other > 300


def test_every_edge_is_invalid_or_valid_as_the_vectorised_path_says() -> None:
    params = BtydParams(90, (0.8, 12.0, 0.7, 2.5), (3.0, 4.0, 20.0))
    got = np.array([derive_btyd_row(row, params) for row in EDGES])
    invalid = np.isnan(got).all(axis=1)
    assert invalid.tolist() == [False] * 6 + [True] * 8
    assert got[0, 0] == 1.0
    assert got[1, 0] == 1.0
    assert np.isnan(got[5, 2:]).all()  # spend overflows: missing, not infinite
    no_fit = BtydParams(90, None, None)
    assert np.isnan(derive_btyd(np.array(EDGES[:3]), no_fit)).all()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_encoding_completes_few_rows_as_it_completes_many() -> None:
    params, summary = _cases(5, 1, 3 * FEW_ROWS)[0]
    columns = ("attr_plan", *BTYD_SUMMARY[::-1], "orders_total")  # summary out of order
    encoding = FeatureEncoding(columns + BTYD_DERIVED_NAMES, {"attr_plan": ("a", "b")}, params)
    matrix = np.full((len(summary), len(encoding.columns)), 7.0)
    for j, name in enumerate(BTYD_SUMMARY):
        matrix[:, encoding.columns.index(name)] = summary[:, j]
    many = encoding.complete(matrix.copy())
    assert len(many) > FEW_ROWS
    for start in range(0, len(summary), FEW_ROWS):
        few = encoding.complete(matrix[start : start + FEW_ROWS].copy())
        np.testing.assert_allclose(few, many[start : start + FEW_ROWS], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(many[:, : len(columns)], matrix[:, : len(columns)])
    np.testing.assert_array_equal(many[:, len(columns) :], derive_btyd_arrays(summary, params))
