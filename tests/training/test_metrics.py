"""Tests for training.metrics: hand-computed cases, sklearn/scipy equality, EMPC cross-checks."""

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats
from sklearn import metrics as skm

from training import metrics as m

# --------------------------------------------------------------------------- helpers


def _random_churn(seed: int, n: int, rate: float, signal: float, decimals: int | None = None):
    """Labels with churn ``rate`` and scores whose separation grows with ``signal``."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    y[0], y[1] = 0, 1  # both classes present
    p = 1.0 / (1.0 + np.exp(-(signal * (y - 0.5) + rng.normal(size=n))))
    if decimals is not None:  # coarse scores -> many ties
        p = np.round(p, decimals)
    return y, p


def _profit_lines(
    y: np.ndarray, p: np.ndarray, clv: float, incentive: float, contact_cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profit per customer of every cutoff "target p >= t" as a line in gamma.

    Computed directly from the definition (no ROC curve, no hull). Cutoffs are ordered from
    "target nobody" to "target everybody", so argmax picks the smallest fraction on ties.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    n = y.size
    thresholds = np.concatenate([[np.inf], np.unique(p)[::-1]])
    targeted = p[None, :] >= thresholds[:, None]
    tp = (targeted & (y == 1)).sum(axis=1)
    fp = (targeted & (y == 0)).sum(axis=1)
    delta, phi = incentive / clv, contact_cost / clv
    slope = clv * (1 - delta) * tp / n
    intercept = -clv * (phi * tp + (delta + phi) * fp) / n
    return slope, intercept, (tp + fp) / n


def brute_force_profit(
    y: Any,
    p: Any,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> float:
    """EMPC by adaptive quadrature of the max-over-all-cutoffs profit against the Beta pdf."""
    slope, intercept, _ = _profit_lines(np.asarray(y), np.asarray(p), clv, incentive, contact_cost)
    pdf = stats.beta(alpha, beta).pdf

    def profit_density(g: float) -> float:
        return float(np.max(slope * g + intercept) * pdf(g))

    # Adaptive Gauss-Kronrod on 32 equal pieces of [0, 1] (a fixed grid, so no knowledge of
    # where the optimal cutoff switches leaks into the oracle).
    total = error = 0.0
    with warnings.catch_warnings():
        # quad may flag roundoff near the kinks; its error estimate is still checked below
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for lo, hi in itertools.pairwise(np.linspace(0.0, 1.0, 33)):
            value, err = integrate.quad(
                profit_density, lo, hi, limit=1000, epsabs=1e-12, epsrel=0.0
            )
            total += value
            error += err
    assert error < 1e-7
    return total


def brute_force_empc(
    y: Any,
    p: Any,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> tuple[float, float]:
    """(EMPC, eta) from :func:`brute_force_profit`.

    eta is not integrated directly: the optimal fraction is a step function of gamma and
    Gauss-Kronrod misses jumps between its nodes. Instead use the envelope theorem: the
    profit of a cutoff falls by its targeted fraction per unit of contact cost, so
    ``eta = -d EMPC / d contact_cost``, taken by finite differences of the quadrature (forward
    differences at contact_cost = 0, which pick the smallest optimal fraction on exact ties,
    the documented convention).
    """

    def at(contact: float) -> float:
        return brute_force_profit(y, p, clv, incentive, contact, alpha, beta)

    h = 1e-3
    profit = at(contact_cost)
    if contact_cost >= h:
        eta = (at(contact_cost - h) - at(contact_cost + h)) / (2 * h)
    else:
        eta = (3 * profit - 4 * at(contact_cost + h) + at(contact_cost + 2 * h)) / (2 * h)
    return profit, eta


def brute_force_mp(y: Any, p: Any, clv: float, incentive: float, contact: float, acc: float):
    slope, intercept, fraction = _profit_lines(
        np.asarray(y), np.asarray(p), clv, incentive, contact
    )
    profits = slope * acc + intercept
    best = int(np.argmax(profits))
    return profits[best], fraction[best]


EMPC_PARAMS = [
    {},  # paper defaults: clv 200, incentive 10, contact 1, Beta(6, 14)
    {"alpha": 1.0, "beta": 1.0, "clv": 100.0, "incentive": 5.0, "contact_cost": 2.0},
    {"alpha": 2.0, "beta": 5.0, "clv": 50.0, "incentive": 20.0, "contact_cost": 3.0},
    {"alpha": 10.0, "beta": 7.0, "clv": 300.0, "incentive": 50.0, "contact_cost": 25.0},
    {"incentive": 0.0, "contact_cost": 0.0},
    {"incentive": 0.0, "contact_cost": 5.0, "alpha": 3.0, "beta": 3.0},
]


# --------------------------------------------------------------------------- sklearn wrappers


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wrappers_equal_sklearn(seed: int) -> None:
    y, p = _random_churn(seed, 300, 0.2, 1.5)
    assert m.roc_auc(y, p) == skm.roc_auc_score(y, p)
    assert m.pr_auc(y, p) == skm.average_precision_score(y, p)
    assert m.brier(y, p) == skm.brier_score_loss(y, p)
    assert m.log_loss(y, p) == pytest.approx(skm.log_loss(y, p), rel=1e-12)


def test_log_loss_clips_hard_predictions() -> None:
    y, p = [0, 1, 1], [0.0, 1.0, 0.0]  # last one is a confident miss
    expected = -math.log(1e-15) / 3
    assert m.log_loss(y, p) == pytest.approx(expected, rel=1e-9)
    assert math.isfinite(m.log_loss(y, p))


@pytest.mark.parametrize("y", [[0, 0, 0, 0], [1, 1, 1, 1]])
def test_single_class_gives_nan_for_ranking_metrics(y: list[int]) -> None:
    p = [0.1, 0.4, 0.4, 0.9]
    for fn in (m.roc_auc, m.pr_auc, m.lift_at, m.capture_at, m.empc):
        assert math.isnan(fn(y, p)), fn.__name__
    assert all(math.isnan(v) for v in m.empc_details(y, p))
    assert all(math.isnan(v) for v in m.max_profit(y, p))
    # per-customer scores stay defined
    assert m.brier(y, p) == skm.brier_score_loss(y, p, pos_label=1)
    assert math.isfinite(m.log_loss(y, p))
    out = m.churn_metrics(y, p)
    assert math.isnan(out["roc_auc"])
    assert math.isfinite(out["brier"])


# --------------------------------------------------------------------------- lift / capture

# n = 10, 3 churners (overall rate 0.3). Sorted by p descending (stable):
#   idx: 0(.9,y0) 1(.8,y1) 2(.8,y0) 4(.7,y1) 9(.6,y0) 8(.4,y1) 6(.3,y0) 5(.2,y0) 3(.1,y0) 7(.05,y0)
LIFT_Y = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
LIFT_P = [0.9, 0.8, 0.8, 0.1, 0.7, 0.2, 0.3, 0.05, 0.4, 0.6]


@pytest.mark.parametrize(
    ("share", "lift", "capture"),
    [
        (0.1, 0.0, 0.0),  # k=1: {0} -> 0 churners
        (0.2, 5 / 3, 1 / 3),  # k=2: {0,1} -> rate 1/2 / 0.3 = 5/3, 1 of 3 churners
        (0.25, 10 / 9, 1 / 3),  # k=ceil(2.5)=3: {0,1,2} -> rate 1/3 / 0.3 = 10/9
        (0.3, 10 / 9, 1 / 3),  # k=3
        (0.5, 4 / 3, 2 / 3),  # k=5: {0,1,2,4,9} -> 2 churners: 0.4 / 0.3
        (1.0, 1.0, 1.0),  # everybody
    ],
)
def test_lift_and_capture_hand_computed(share: float, lift: float, capture: float) -> None:
    assert m.lift_at(LIFT_Y, LIFT_P, share) == pytest.approx(lift, rel=1e-12)
    assert m.capture_at(LIFT_Y, LIFT_P, share) == pytest.approx(capture, rel=1e-12)


def test_lift_ties_broken_by_input_order() -> None:
    # Swap rows 1 and 2 (both p = 0.8): now the non-churner comes first among the tie, so
    # the top 2 = {0 (y0), old row 2 (y0)} hold no churner.
    y = [0, 0, 1, 0, 1, 0, 0, 0, 1, 0]
    p = LIFT_P
    assert m.lift_at(y, p, 0.2) == 0.0
    assert m.capture_at(y, p, 0.2) == 0.0
    assert m.lift_at(y, p, 0.3) == pytest.approx(10 / 9)


def test_top_k_is_robust_to_float_rounding() -> None:
    # 0.1 * 30 = 3.0000000000000004 in floats; k must be 3, not 4.
    p = np.linspace(1.0, 0.0, 30)
    y = np.zeros(30, dtype=int)
    y[[2, 3]] = 1  # churners at ranks 3 and 4
    assert m.capture_at(y, p, 0.1) == 0.5
    assert m.lift_at(y, p, 0.1) == pytest.approx((1 / 3) / (2 / 30))


# --------------------------------------------------------------------------- EMPC / MP


def test_empc_matches_empulse_reference_values() -> None:
    # External oracle: expected (EMPC, eta) and (MPC, fraction) for these inputs at the
    # default parameters, as listed in the test-suite of the independent `empulse` package
    # (github.com/ShimantoRahman/empulse, tests/metrics/test_churn.py): a perfect ranking of
    # [0, 1] * 10, and a reversed / all-tied ranking (ROC = the diagonal).
    y = [0, 1] * 10
    assert m.empc_details(y, [0, 1] * 10) == pytest.approx(
        (28.0000000000391, 0.499999999728095), abs=1e-10
    )
    for p in ([1, 0] * 10, [1, 1] * 10, [0.5, 0.5] * 10):
        assert m.empc_details(y, p) == pytest.approx(
            (22.5007912244511, 0.9991601018889205), abs=1e-10
        )
    assert m.max_profit(y, [0, 1] * 10) == pytest.approx((28.0, 0.5))
    assert m.max_profit(y, [1, 0] * 10) == pytest.approx((22.5, 1.0))


def test_empc_perfect_classifier_closed_form() -> None:
    # Perfect ranking: target exactly the churners iff gamma * (1 - delta) > phi, so
    # EMPC = clv * pi0 * [(1 - delta) E[gamma] P'(gamma > g*) - phi P(gamma > g*)],
    # g* = phi / (1 - delta), P' under Beta(alpha + 1, beta).
    y = np.array([1] * 7 + [0] * 13)
    p = y * 0.5 + 0.25
    clv, d, f, a, b = 200.0, 10.0, 1.0, 6.0, 14.0
    delta, phi = d / clv, f / clv
    g_star = phi / (1 - delta)
    tail1 = 1 - special.betainc(a + 1, b, g_star)
    tail0 = 1 - special.betainc(a, b, g_star)
    expected = clv * 0.35 * ((1 - delta) * a / (a + b) * tail1 - phi * tail0)
    got = m.empc_details(y, p, clv, d, f, a, b)
    assert got.profit == pytest.approx(expected, abs=1e-10)
    assert got.fraction == pytest.approx(0.35 * tail0, abs=1e-12)


EMPC_INPUTS: dict[str, tuple[Any, Any]] = {
    "random_n200": _random_churn(10, 200, 0.25, 1.0),
    "random_n500_strong": _random_churn(11, 500, 0.1, 3.0),
    "random_ties": _random_churn(12, 400, 0.3, 1.5, decimals=1),
    "random_heavy_ties": _random_churn(13, 300, 0.5, 0.5, decimals=0),
    "uninformative": (
        np.random.default_rng(14).integers(0, 2, 300),
        np.random.default_rng(15).random(300),
    ),
    "perfect": ([1] * 5 + [0] * 15, [0.9] * 5 + [0.1] * 15),
    "perfect_distinct": ([1] * 5 + [0] * 15, np.linspace(1, 0, 20)),
    "reversed": ([1] * 5 + [0] * 15, np.linspace(0, 1, 20)),
    "all_same_score": ([1] * 5 + [0] * 15, [0.3] * 20),
    "tiny": ([0, 1], [0.2, 0.7]),
    "tiny_reversed": ([0, 1], [0.7, 0.2]),
    "churner_heavy": _random_churn(16, 100, 0.9, 1.0),
}


@pytest.mark.parametrize("params", EMPC_PARAMS, ids=lambda d: ",".join(map(str, d.values())))
@pytest.mark.parametrize("case", list(EMPC_INPUTS))
def test_empc_matches_brute_force_integration(case: str, params: dict[str, float]) -> None:
    y, p = EMPC_INPUTS[case]
    got = m.empc_details(y, p, **params)
    profit, fraction = brute_force_empc(y, p, **params)
    assert got.profit == pytest.approx(profit, abs=1e-8)
    assert got.fraction == pytest.approx(fraction, abs=1e-6)
    assert got.profit >= -1e-12
    assert 0.0 <= got.fraction <= 1.0 + 1e-12


def exact_envelope_empc(
    y: Any, p: Any, clv: float, incentive: float, contact: float, alpha: float, beta: float
) -> tuple[float, float]:
    """(EMPC, eta) from the upper envelope of all cutoffs' profit lines, without a hull.

    Every pairwise intersection of two cutoffs' lines is a candidate switch point, so the
    optimal cutoff is constant between consecutive candidates (found by brute-force argmax at
    the midpoint), and each piece integrates exactly against the Beta distribution.
    """
    slope, intercept, fraction = _profit_lines(
        np.asarray(y), np.asarray(p), clv, incentive, contact
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        crossings = (intercept[None, :] - intercept[:, None]) / (slope[:, None] - slope[None, :])
    crossings = np.clip(crossings[np.isfinite(crossings)], 0.0, 1.0)
    edges = np.unique(np.concatenate([[0.0, 1.0], crossings]))
    mid = (edges[:-1] + edges[1:]) / 2
    best = np.argmax(mid[:, None] * slope[None, :] + intercept[None, :], axis=1)
    mass = np.diff(special.betainc(alpha, beta, edges))
    mass1 = np.diff(special.betainc(alpha + 1, beta, edges))  # E[gamma; piece] * (a+b)/a
    profit = np.sum(slope[best] * alpha / (alpha + beta) * mass1 + intercept[best] * mass)
    return float(profit), float(np.sum(fraction[best] * mass))


@pytest.mark.parametrize("seed", range(40))
def test_empc_matches_exact_envelope(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(2, 250))
    y, p = _random_churn(seed, n, rng.uniform(0.05, 0.9), rng.uniform(0, 3), [None, 1][seed % 2])
    clv = rng.uniform(20, 500)
    incentive, contact = (0.0, 0.0) if seed % 5 == 0 else rng.uniform([0, 0], [0.5, 0.2]) * clv
    alpha, beta = rng.uniform(0.3, 20, size=2)
    got = m.empc_details(y, p, clv, incentive, contact, alpha, beta)
    expected = exact_envelope_empc(y, p, clv, incentive, contact, alpha, beta)
    assert got == pytest.approx(expected, abs=1e-10)


def test_empc_zero_when_no_campaign_can_pay() -> None:
    # phi = 0.95 = 1 - delta: profit of any churner needs gamma > 1 -> never target.
    y, p = _random_churn(3, 100, 0.3, 2.0)
    got = m.empc_details(y, p, clv=200.0, incentive=10.0, contact_cost=190.0)
    assert got == (0.0, 0.0)
    assert m.max_profit(y, p, 200.0, 10.0, 190.0, 1.0) == (0.0, 0.0)


@pytest.mark.parametrize("params", EMPC_PARAMS)
def test_empc_perfect_beats_random(params: dict[str, float]) -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(500) < 0.2).astype(int)
    perfect = m.empc(y, y * 0.8 + 0.1, **params)
    random = m.empc(y, rng.random(500), **params)
    inverse = m.empc(y, 1.0 - (y * 0.8 + 0.1), **params)
    assert perfect >= random - 1e-12
    assert perfect >= inverse - 1e-12


@pytest.mark.parametrize("case", list(EMPC_INPUTS))
@pytest.mark.parametrize("acceptance", [0.0, 0.05, 0.3, 0.7, 1.0])
def test_max_profit_matches_brute_force(case: str, acceptance: float) -> None:
    y, p = EMPC_INPUTS[case]
    got = m.max_profit(y, p, 200.0, 10.0, 1.0, acceptance)
    assert got == pytest.approx(brute_force_mp(y, p, 200.0, 10.0, 1.0, acceptance), abs=1e-12)


@pytest.mark.parametrize("case", list(EMPC_INPUTS))
def test_empc_at_least_mp_at_mean_acceptance(case: str) -> None:
    # max over cutoffs is convex in gamma, so by Jensen EMPC >= MP(E[gamma]).
    y, p = EMPC_INPUTS[case]
    assert m.empc(y, p) >= m.max_profit(y, p, acceptance=6 / 20).profit - 1e-12


_grid = st.sampled_from([round(0.05 * i, 2) for i in range(21)])


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.tuples(st.integers(0, 1), _grid), min_size=2, max_size=40),
    params=st.sampled_from(EMPC_PARAMS),
)
def test_empc_brute_force_property(data: list[tuple[int, float]], params: dict[str, float]) -> None:
    y = [d[0] for d in data]
    p = [d[1] for d in data]
    assume(0 < sum(y) < len(y))
    got = m.empc_details(y, p, **params)
    assert got == pytest.approx(brute_force_empc(y, p, **params), abs=1e-6)
    # only the ranking matters
    assert m.empc_details(y, np.square(p), **params) == pytest.approx(got, abs=1e-12)


# --------------------------------------------------------------------------- CLV: gini


def test_normalized_gini_hand_computed() -> None:
    y = [1, 0, 3, 0]
    # pred order: y = [3, 0, 1, 0] -> cum share [.75, .75, 1, 1] sums to 3.5; minus (n+1)/2
    # = 2.5 -> 1.0 (the /n cancels). Perfect order [3, 1, 0, 0]: 3.75 - 2.5 = 1.25.
    assert m.normalized_gini(y, [0.2, 0.1, 0.9, 0.3]) == pytest.approx(1.0 / 1.25)
    # Tie between the y=1 and y=0 customers (pred 0.5): averaged -> [3, .5, .5, 0],
    # cum share sum 3.625 -> 1.125 / 1.25 = 0.9 (the mean of the two orderings 1.25 and 1.0).
    assert m.normalized_gini(y, [0.5, 0.5, 0.9, 0.1]) == pytest.approx(0.9)
    assert m.normalized_gini(y, [0.5, 0.5, 0.9, 0.1]) == m.normalized_gini(
        [0, 1, 3, 0], [0.5, 0.5, 0.9, 0.1]
    )
    assert m.normalized_gini(y, y) == pytest.approx(1.0)
    assert m.normalized_gini([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert m.normalized_gini(y, [7, 7, 7, 7]) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(m.normalized_gini([0, 0, 0], [1, 2, 3]))
    assert math.isnan(m.normalized_gini([5, 5, 5], [1, 2, 3]))


def test_normalized_gini_matches_kaggle_reference_without_ties() -> None:
    def kaggle_gini(actual: np.ndarray, pred: np.ndarray) -> float:
        order = np.lexsort((np.arange(len(actual)), -pred))
        cum = np.cumsum(actual[order]) / actual.sum()
        return float((cum.sum() - (len(actual) + 1) / 2) / len(actual))

    rng = np.random.default_rng(0)
    y = rng.exponential(size=500) * (rng.random(500) < 0.3)
    pred = y + rng.normal(size=500)
    expected = kaggle_gini(y, pred) / kaggle_gini(y, y)
    assert m.normalized_gini(y, pred) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(0, 1000, allow_subnormal=False), st.integers(0, 20)),
        min_size=2,
        max_size=60,
    )
)
def test_normalized_gini_invariant_to_monotone_transform(data: list[tuple[float, int]]) -> None:
    y = np.array([d[0] for d in data])
    pred = np.array([d[1] for d in data], dtype=float)
    g = m.normalized_gini(y, pred)
    for transformed in (pred**3 + 7.0, np.exp(pred / 5.0), 2.0 * pred - 100.0):
        g2 = m.normalized_gini(y, transformed)
        assert (math.isnan(g) and math.isnan(g2)) or g2 == pytest.approx(g, abs=1e-9)
    if not math.isnan(g):
        assert -1 - 1e-9 <= g <= 1 + 1e-9


# --------------------------------------------------------------------------- CLV: deciles

# 20 customers, two per decile; predictions are tied in pairs, 100 (decile 1) ... 10 (decile 10).
DEC_PRED = np.repeat(np.arange(100, 0, -10), 2).astype(float)
# decile 1: actual [100, 80] (mean 90 vs pred 100 -> error 10/90)
# decile 2: actual [90, 90] (exact), decile 3: actual [0, 0] (mean 0 -> skipped)
# deciles 4-10: actual == pred (exact).  Total revenue = 180 + 180 + 0 + 2 * 280 = 920.
DEC_Y = np.concatenate([[100.0, 80.0, 90.0, 90.0, 0.0, 0.0], DEC_PRED[6:]])


def test_decile_metrics_hand_computed() -> None:
    # MAPE over the 9 usable deciles: (10/90 + 0 * 8) / 9 = 1/81.
    assert m.decile_mape(DEC_Y, DEC_PRED) == pytest.approx(1 / 81)
    # top decile = 2 customers with revenue 180 of 920.
    assert m.top_decile_revenue_share(DEC_Y, DEC_PRED) == pytest.approx(180 / 920)
    table = m.decile_table(DEC_Y, DEC_PRED)
    assert list(table.columns) == [
        "decile",
        "n",
        "mean_pred",
        "mean_actual",
        "sum_actual",
        "share_of_revenue",
    ]
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["n"].tolist() == [2] * 10
    assert table["mean_pred"].tolist() == list(np.arange(100.0, 0.0, -10.0))
    assert table["mean_actual"].iloc[:3].tolist() == [90.0, 90.0, 0.0]
    assert table["sum_actual"].sum() == 920.0
    assert table["share_of_revenue"].sum() == pytest.approx(1.0)
    assert table["share_of_revenue"].iloc[0] == m.top_decile_revenue_share(DEC_Y, DEC_PRED)


def test_decile_order_independent_of_input_order() -> None:
    perm = np.random.default_rng(1).permutation(20)
    # pairs are tied in pred and each pair fills exactly one decile, so permuting rows cannot
    # move anybody across a decile boundary
    assert m.decile_mape(DEC_Y[perm], DEC_PRED[perm]) == pytest.approx(1 / 81)
    pd.testing.assert_frame_equal(
        m.decile_table(DEC_Y[perm], DEC_PRED[perm]), m.decile_table(DEC_Y, DEC_PRED)
    )


def test_decile_table_small_n_and_zero_revenue() -> None:
    # n = 5: position r goes to decile floor(10 r / 5) + 1 = 1, 3, 5, 7, 9
    table = m.decile_table([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    assert table["decile"].tolist() == [1, 3, 5, 7, 9]
    assert table["mean_actual"].tolist() == [1, 2, 3, 4, 5]
    zero = m.decile_table([0.0] * 12, np.arange(12.0))
    assert zero["share_of_revenue"].isna().all()
    assert math.isnan(m.decile_mape([0.0] * 12, np.arange(12.0)))
    assert math.isnan(m.top_decile_revenue_share([0.0] * 12, np.arange(12.0)))
    # n = 11 -> top decile = ceil(11 / 10) = 2 customers
    assert m.top_decile_revenue_share([1.0] * 11, np.arange(11.0)) == pytest.approx(2 / 11)
    assert m.decile_table([1.0] * 11, np.arange(11.0))["n"].iloc[0] == 2


def test_regression_wrappers_equal_scipy_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.exponential(size=200) * (rng.random(200) < 0.4)
    pred = np.abs(y + rng.normal(size=200))
    assert m.spearman(y, pred) == pytest.approx(stats.spearmanr(y, pred).statistic, rel=1e-12)
    assert m.mae(y, pred) == skm.mean_absolute_error(y, pred)
    assert m.rmse(y, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert math.isnan(m.spearman(y, np.ones(200)))


# --------------------------------------------------------------------------- aggregates


def test_churn_and_clv_metric_keys() -> None:
    y, p = _random_churn(4, 200, 0.3, 1.0)
    out = m.churn_metrics(y, p, empc_params=m.EMPCParams(clv=100.0, incentive=5.0))
    assert list(out) == [
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "lift_10",
        "capture_10",
        "empc",
        "empc_fraction",
    ]
    assert out["empc"] == m.empc(y, p, clv=100.0, incentive=5.0)
    assert out["lift_10"] == m.lift_at(y, p, 0.1)
    assert all(isinstance(v, float) for v in out.values())
    rng = np.random.default_rng(3)
    spend = rng.exponential(size=100) * (rng.random(100) < 0.5)
    clv = m.clv_metrics(spend, spend + rng.random(100))
    assert list(clv) == ["gini", "spearman", "mae", "rmse", "decile_mape", "top_decile_share"]
    assert all(isinstance(v, float) for v in clv.values())


def test_metrics_by_slice() -> None:
    y_new, p_new = _random_churn(20, 60, 0.3, 1.0)
    y_est, p_est = _random_churn(21, 80, 0.2, 2.0)
    frame = pd.DataFrame(
        {
            "segment": ["new"] * 60 + ["established"] * 80 + ["vip"] * 3 + ["loyal"] * 15,
            "churned": np.concatenate([y_new, y_est, [0, 1, 0], np.zeros(15, dtype=int)]),
            "p": np.concatenate([p_new, p_est, [0.1, 0.9, 0.2], np.full(15, 0.1)]),
        }
    )

    def fn(g: pd.DataFrame) -> dict[str, float]:
        return m.churn_metrics(g["churned"], g["p"])

    table = m.metrics_by_slice(frame, "segment", fn, min_rows=10)
    assert table.index.tolist() == ["established", "loyal", "new", "vip"]  # sorted
    assert table.index.name == "segment"
    assert table.columns[0] == "n"
    assert table.loc["vip", "n"] == 3
    assert table.loc["vip"].drop("n").isna().all()  # too few rows
    assert math.isnan(table.loc["loyal", "roc_auc"])  # one class
    assert table.loc["loyal", "brier"] == pytest.approx(0.01)
    assert table.loc["new", "roc_auc"] == pytest.approx(m.roc_auc(y_new, p_new))
    assert table.loc["established", "empc"] == pytest.approx(m.empc(y_est, p_est))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("fn", "args", "match"),
    [
        (m.roc_auc, ([0, 1, 1], [0.1, 0.2]), "y_true and p must have the same length"),
        (m.pr_auc, ([0, 1], [0.1, np.nan]), "p contains 1 NaN"),
        (m.brier, ([0, 1], [0.1, 1.2]), r"p must be probabilities in \[0, 1\]"),
        (m.log_loss, ([0, 1], [-0.1, 0.5]), r"p must be probabilities in \[0, 1\]"),
        (m.lift_at, ([0, 2], [0.1, 0.5]), "y_true must be binary"),
        (m.capture_at, ([0, np.nan], [0.1, 0.5]), "y_true contains 1 NaN"),
        (m.empc, ([], []), "y_true is empty"),
        (m.roc_auc, ([[0, 1]], [[0.1, 0.5]]), "y_true must be 1-D"),
        (m.roc_auc, (["a", "b"], [0.1, 0.5]), "y_true must be numeric"),
        (m.lift_at, ([0, 1], [0.1, 0.5], 0.0), r"share must be in \(0, 1\]"),
        (m.empc, ([0, 1], [0.1, 0.5], 10.0, 10.0), r"incentive must be in \[0, clv\)"),
        (m.empc, ([0, 1], [0.1, 0.5], 0.0), "clv must be a positive"),
        (m.empc, ([0, 1], [0.1, 0.5], 200.0, 10.0, -1.0), "contact_cost must be"),
        (m.empc, ([0, 1], [0.1, 0.5], 200.0, 10.0, 1.0, 0.0), "alpha and beta must be positive"),
        (m.max_profit, ([0, 1], [0.1, 0.5], 200.0, 10.0, 1.0, 1.5), "acceptance must be"),
        (m.normalized_gini, ([1.0, 2.0], [1.0]), "y and pred must have the same length"),
        (m.mae, ([1.0, -2.0], [1.0, 2.0]), r"y \(realised spend\) must be >= 0"),
        (m.rmse, ([1.0, 2.0], [np.nan, 2.0]), "pred contains 1 NaN"),
        (m.decile_table, ([1.0, 2.0], [np.inf, 2.0]), "pred contains infinite"),
        (m.spearman, ([], []), "y is empty"),
    ],
)
def test_validation_errors(fn: Callable[..., Any], args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)


def test_metrics_by_slice_validation() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(ValueError, match="slice_col 'b' is not a column"):
        m.metrics_by_slice(frame, "b", lambda g: {})


# --------------------------------------------------------------------------- properties


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 1), _grid), min_size=1, max_size=80),
    share=st.floats(0.01, 1.0),
)
def test_capture_and_lift_properties(data: list[tuple[int, float]], share: float) -> None:
    y = np.array([d[0] for d in data])
    p = np.array([d[1] for d in data])
    capture = m.capture_at(y, p, share)
    lift = m.lift_at(y, p, share)
    if 0 < y.sum() < y.size:
        assert 0.0 <= capture <= 1.0
        k = max(1, math.ceil(share * y.size * (1 - 1e-12)))
        assert capture == pytest.approx(lift * k / y.size)
        assert lift <= y.size / y.sum() + 1e-12
    else:
        assert math.isnan(capture)
        assert math.isnan(lift)


def test_paired_bootstrap_standard_error_is_the_spread_of_its_replicates() -> None:
    rng = np.random.default_rng(3)
    y = rng.gamma(0.5, 40.0, 400) * (rng.random(400) < 0.4)
    a, b = y + rng.normal(0, 5, 400), y + rng.normal(0, 9, 400)
    got = m.paired_bootstrap("mae", y, a, b, replicates=80, seed=11)
    # the same draws by hand: one chunk of 80 resamples of the 400 rows
    idx = np.random.default_rng(11).integers(0, 400, size=(80, 400))
    diffs = [np.abs(y[i] - a[i]).mean() - np.abs(y[i] - b[i]).mean() for i in idx]
    assert got.se == pytest.approx(np.std(diffs, ddof=1), rel=1e-9)
    assert got.low == pytest.approx(np.quantile(diffs, 0.025), rel=1e-9)
