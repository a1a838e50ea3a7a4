"""The BG/NBD series of one customer (a request) equals the vectorised series, bit for bit."""

from __future__ import annotations

import numpy as np

from model.btyd_closed_form import _eq10_series


def test_one_row_equals_the_vectorised_series_exactly() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        r, alpha = rng.uniform(0.1, 3.0), rng.uniform(0.5, 40.0)
        a, b = rng.uniform(0.05, 3.0), rng.uniform(0.05, 6.0)
        t = rng.uniform(1.0, 30.0, 1)
        x = rng.integers(0, 20, 1).astype(float)
        big_t = rng.uniform(t[0], 200.0, 1)
        one = _eq10_series(r, alpha, a, b, t, x, big_t)
        # two equal rows take the vectorised loop, which stops at the same term
        both = _eq10_series(r, alpha, a, b, np.repeat(t, 2), np.repeat(x, 2), np.repeat(big_t, 2))
        assert one[0] == both[0], (r, alpha, a, b, t, x, big_t)
