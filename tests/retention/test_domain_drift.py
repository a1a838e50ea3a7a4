"""The drift tests' own statistics: the PSI of chance holds its false-alarm rate, and the domain
classifier finds a planted joint move (and nothing in one population)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.drift import psi, psi_critical
from retention.domain_drift import auc_interval, domain_drift


def test_the_psi_of_chance_is_crossed_at_its_rate_by_two_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(3)
    shares = np.r_[np.full(10, 0.09), 0.1]
    n, m, trials = 150, 400, 4000
    a, b = rng.multinomial(n, shares, trials), rng.multinomial(m, shares, trials)
    values = np.array([psi(x, y) for x, y in zip(a, b, strict=True)])
    limit = psi_critical(n, m, len(shares), alpha=0.05)
    assert 0.02 < (values > limit).mean() < 0.08  # about alpha
    assert psi_critical(n, m, 11, alpha=0.05, tests=10) > limit  # many tests: stricter
    assert psi_critical(10 * n, 10 * m, 11, alpha=0.05) < limit / 5  # larger samples: smaller
    moved = rng.multinomial(n, np.r_[0.3, np.full(9, 0.06), 0.16], trials)
    assert (np.array([psi(x, y) for x, y in zip(moved, b, strict=True)]) > limit).mean() > 0.95


def _customers(n: int, seed: int, north_orders: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], n)
    orders = rng.poisson(np.where(region == "north", north_orders, 3.0)).astype(float)
    return pd.DataFrame({"orders_30d": orders, "tenure_days": rng.uniform(0, 900, n), "r": region})


def test_the_domain_classifier_finds_a_planted_joint_move_and_nothing_in_one_population() -> None:
    reference = _customers(3000, 0, north_orders=3.0)
    same = domain_drift(reference, _customers(3000, 1, north_orders=3.0), seed=0)
    assert abs(same.roc_auc.value - 0.5) < 0.03  # one population: no better than a coin
    assert same.roc_auc.low < 0.53
    moved = domain_drift(reference, _customers(3000, 2, north_orders=0.5), seed=0)
    assert moved.roc_auc.low > 0.6
    assert moved.separating[0].feature == "orders_30d"
    assert "lower now" in moved.separating[0].words
    assert {s.feature for s in moved.separating[:2]} == {"orders_30d", "r"}  # jointly


def test_the_auc_interval_is_hanley_and_mcneils() -> None:
    found = auc_interval(0.8, 100, 200)
    q1, q2 = 0.8 / 1.2, 2 * 0.64 / 1.8
    se = np.sqrt((0.8 * 0.2 + 99 * (q1 - 0.64) + 199 * (q2 - 0.64)) / 20000)
    assert np.isclose(found.high - found.value, 1.96 * se)
    assert np.isnan(auc_interval(float("nan"), 10, 10).value)
