"""Closed-form BG/NBD and Gamma-Gamma predictions given fitted parameters (pure numpy/scipy).

The fitters in ``training.btyd`` learn the parameters; these formulas turn parameters and a
customer's summary (frequency x, recency t_x, age T, in the fit's time unit) into P(alive),
expected purchases (Fader, Hardie & Lee 2005, eq. 10) and the Gamma-Gamma conditional mean spend.
They live here, not in ``training``, because serving computes the BTYD features with them
(``model.btyd_features``) and must not import training code; the fitters call these same
functions, so training and serving cannot disagree.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import quad
from scipy.special import betaincinv, exprel, hyp2f1

FloatArray = NDArray[np.float64]

# Half-width of the window around a == 1 where eq. 10, outside its power-series region, is
# interpolated in a: its 1 / (a - 1) factor multiplies a bracket that vanishes at a == 1.
A_ONE_HALF_WIDTH = 1e-3


def dead_log_odds(
    params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """log P(dead) - log P(alive) given (x, t_x, T): log[a/(b+x-1) ((α+T)/(α+t_x))^(r+x)]."""
    r, alpha, a, b = params
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1.0, 1.0)
    d = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    return np.where(repeat, d, -np.inf)


def alive_expected_purchases(
    params: FloatArray, t: ArrayLike, x: ArrayLike, big_t: ArrayLike
) -> FloatArray:
    """E[purchases in (T, T+t] | alive at T, x]: the numerator of paper eq. 10.

    With c = a+b+x-1, z = t/(α+T+t) and Euler's transformation
    (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z), the numerator is
    c/(a-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)], whose 2F1 cannot overflow for large x.
    The 0/0 at a == 1 is removable, and for small t the bracket cancels: a power series in z
    (exact through a == 1) is used where it converges fast, else 2F1 (interpolated in a
    between points where it is accurate, when a is within 1e-3 of 1).
    """
    r, alpha, a, b = (float(v) for v in params)
    tt, xx, tt_big = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
        np.asarray(big_t, dtype=np.float64),
    )
    shape = tt.shape
    tt, xx, tt_big = tt.ravel(), xx.ravel(), tt_big.ravel()
    out = np.empty(tt.shape, dtype=np.float64)
    z = tt / (alpha + tt_big + tt)
    # Use the series where it converges fast without much cancellation: its terms alternate in
    # sign while k < r - a - b + 1, and grow while (a - 1 + k) z > k + 1.
    growth = max(0.0, r - a - b + 1.0, a - 1.0)
    series = (z <= 0.5) & (z * growth <= 2.0)
    if series.any():
        out[series] = _eq10_series(r, alpha, a, b, tt[series], xx[series], tt_big[series])
    rest = ~series
    if rest.any():
        args = (tt[rest], xx[rest], tt_big[rest])
        if abs(a - 1.0) >= A_ONE_HALF_WIDTH:
            values = _eq10_hyp2f1(r, alpha, a, b, *args)
        else:  # smooth in a: cubic Lagrange interpolation from a = 1 ± h, 1 ± 2h
            nodes = 1.0 + A_ONE_HALF_WIDTH * np.array([-2.0, -1.0, 1.0, 2.0])
            values = np.zeros(len(args[0]))
            for i, node in enumerate(nodes):
                others = np.delete(nodes, i)
                weight = float(np.prod((a - others) / (node - others)))
                values += weight * _eq10_hyp2f1(r, alpha, float(node), b, *args)
        # scipy's 2F1 returns NaN for very large parameters (r >~ 1e4, i.e. nearly homogeneous
        # purchase rates); 0 <= result <= E[λ] t bounds the value, so anything else is recomputed.
        upper = (r + args[1]) * args[0] / (alpha + args[2])
        failed = ~((values >= 0) & (values <= upper * (1 + 1e-9)))
        if failed.any():
            values[failed] = _eq10_quadrature(
                r, alpha, a, b, args[0][failed], args[1][failed], args[2][failed]
            )
        out[rest] = values
    return out.reshape(shape)


def _eq10_hyp2f1(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """Numerator of eq. 10 through scipy's 2F1 after Euler's transformation; needs a != 1.

    Where c = a+b+x-1 is 0 (x = 0 and a+b = 1) 2F1 has a pole that c cancels; those rows
    average the values at b ± 1e-6 b, the function being smooth in b.
    """
    c = a + b + x - 1.0
    z = t / (alpha + big_t + t)
    log1mz = -np.log1p(t / (alpha + big_t))
    eps = a - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        bracket = -np.expm1(eps * log1mz) - np.exp(eps * log1mz) * (
            hyp2f1(a + b - 1.0 - r, eps, c, z) - 1.0
        )
        out = np.asarray(c / eps * bracket, dtype=np.float64)
    pole = np.abs(c) < 1e-9
    if pole.any():
        args = (t[pole], x[pole], big_t[pole])
        lower = _eq10_hyp2f1(r, alpha, a, b * (1 - 1e-6), *args)
        upper = _eq10_hyp2f1(r, alpha, a, b * (1 + 1e-6), *args)
        out[pole] = 0.5 * (lower + upper)
    return out


def _eq10_series(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """Numerator of eq. 10 as a power series in z, exact through a == 1 (for z <= 1/2).

    With ε = a-1, L = log(1-z) and a' = a+b-1-r, the numerator is c [-L exprel(εL)] - e^(εL) cS,
    where cS = c (2F1(a', ε; c; z) - 1)/ε = Σ_{k>=1} (a')_k (1+ε)_{k-1} z^k / ((c+1)_{k-1} k!).
    """
    c = a + b + x - 1.0
    eps = a - 1.0
    z = t / (alpha + big_t + t)
    log1mz = -np.log1p(t / (alpha + big_t))
    a_prime = a + b - 1.0 - r
    if len(z) == 1:  # one customer (a request): the same operations on Python floats, 10x faster
        total = np.array([_series_one(a_prime, eps, float(z[0]), float(c[0]))])
    else:
        term = a_prime * z  # k = 1
        total = term.copy()
        for k in range(1, 1000):
            term = term * (a_prime + k) * (eps + k) * z / ((c + k) * (k + 1))
            total += term
            if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
                break
    return np.asarray(
        -c * log1mz * exprel(eps * log1mz) - np.exp(eps * log1mz) * total, dtype=np.float64
    )


def _series_one(a_prime: float, eps: float, z: float, c: float) -> float:
    """The series sum of ``_eq10_series`` for one row: its loop, step for step, on floats."""
    term = a_prime * z
    total = term
    for k in range(1, 1000):
        term = term * (a_prime + k) * (eps + k) * z / ((c + k) * (k + 1))
        total += term
        if abs(term) <= 1e-17 * abs(total):
            break
    return total


def _eq10_quadrature(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """Numerator of eq. 10 as E_p[(1 - (1 + p t/(α+T))^-(r+x)) / p], p ~ Beta(a, b+x), by
    adaptive quadrature over the Beta quantile, where the integrand is bounded and monotone.

    Slow (one quad per row), so it is only the fallback where 2F1 fails.
    """
    out = np.empty(len(t), dtype=np.float64)
    for i in range(len(t)):
        shape_s = r + float(x[i])
        beta_b = b + float(x[i])
        u = float(t[i]) / (alpha + float(big_t[i]))

        def integrand(
            w: float, shape_s: float = shape_s, beta_b: float = beta_b, u: float = u
        ) -> float:
            p = float(betaincinv(a, beta_b, w))
            if p * u < 1e-300:
                return shape_s * u
            return -math.expm1(-shape_s * math.log1p(p * u)) / p

        out[i] = quad(integrand, 0.0, 1.0, epsabs=0.0, epsrel=1e-11, limit=500)[0]
    return out


def conditional_expected_spend(
    params: FloatArray, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """Gamma-Gamma E[mean spend | x, m_x] = (v + m_x x) p / (p x + q - 1) for (p, q, v);
    frequency 0 gives the population mean p v / (q - 1); inf where p x + q <= 1."""
    p, q, v = (float(k) for k in params)
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    denominator = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(denominator > 0, (v + m * x) * p / denominator, np.inf)
    return np.asarray(value, dtype=np.float64)
