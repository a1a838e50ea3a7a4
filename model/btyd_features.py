"""The BTYD features a model derives: P(alive), expected purchases, spend and value per customer.

From each customer's btyd summary (``btyd_frequency``, ``btyd_recency``, ``btyd_T`` in days,
``btyd_monetary_value``) and a population fit (``BtydParams``: BG/NBD and Gamma-Gamma parameters
fitted on every customer at one cutoff, in weeks), ``derive_btyd`` computes the columns of
``features.catalogue.BTYD_DERIVED`` with the closed forms of ``model.btyd_closed_form``. Training
calls it with each cutoff's own fit; the served encoding carries the test cutoff's fit and calls
it on every scoring path, so the two cannot differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, exprel

from features.catalogue import BTYD_DERIVED_NAMES
from model.btyd_closed_form import (
    _series_one,
    alive_expected_purchases,
    conditional_expected_spend,
    dead_log_odds,
)

BTYD_SUMMARY: tuple[str, ...] = (
    "btyd_frequency",
    "btyd_recency",
    "btyd_T",
    "btyd_monetary_value",
)
"""The ``btyd`` family's summary columns the derivation reads, in this order."""
P_ALIVE, EXPECTED_PURCHASES, EXPECTED_SPEND, EXPECTED_VALUE = BTYD_DERIVED_NAMES
WEEK = 7.0
"""Days per week: the fits are in weeks (better conditioned), the summary in days."""
FEW_ROWS = 16
"""Up to this many rows (a request) are derived on Python floats, more with the numpy path."""


@dataclass(frozen=True)
class BtydParams:
    """A population BTYD fit of one cutoff, as the derivation needs it.

    ``bgnbd`` is (r, alpha, a, b) and ``gamma_gamma`` (p, q, v), times in weeks; either is None
    only when its fit could not be made (too few buyers, a non-finite parameter), which empties
    the columns that need it; an unreliable fit gives parameters moved into a sane range instead.
    ``horizon_days`` is the forecast horizon of the expected purchases and value.
    """

    horizon_days: int
    bgnbd: tuple[float, float, float, float] | None
    gamma_gamma: tuple[float, float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon_days": self.horizon_days,
            "bgnbd": None if self.bgnbd is None else list(self.bgnbd),
            "gamma_gamma": None if self.gamma_gamma is None else list(self.gamma_gamma),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> BtydParams:
        bg, gg = payload.get("bgnbd"), payload.get("gamma_gamma")
        return cls(
            int(payload["horizon_days"]),
            None if bg is None else (float(bg[0]), float(bg[1]), float(bg[2]), float(bg[3])),
            None if gg is None else (float(gg[0]), float(gg[1]), float(gg[2])),
        )


def derive_btyd(summary: np.ndarray, params: BtydParams) -> np.ndarray:
    """The derived columns (``BTYD_DERIVED_NAMES`` order) for rows of ``summary``.

    Up to ``FEW_ROWS`` rows row by row on Python floats (``derive_btyd_row``: numpy's overhead
    per call is most of the cost of one row), more with the vectorised ``derive_btyd_arrays``;
    the two agree (tests/model/test_btyd_few_rows.py).
    """
    summary = np.asarray(summary, dtype=np.float64)
    if len(summary) > FEW_ROWS or params.bgnbd is None:
        return derive_btyd_arrays(summary, params)
    out = np.empty((len(summary), len(BTYD_DERIVED_NAMES)), dtype=np.float64)
    for i, row in enumerate(summary.tolist()):
        out[i] = derive_btyd_row(row, params)
    return out


def derive_btyd_arrays(summary: np.ndarray, params: BtydParams) -> np.ndarray:
    """The derived columns (``BTYD_DERIVED_NAMES`` order) for rows of ``summary``, vectorised.

    ``summary`` has the ``BTYD_SUMMARY`` columns in order (days, as the btyd family gives them).
    A row is NaN where the customer has no purchase (T missing), its summary is not a valid one
    (negative, fractional frequency, recency beyond T, or missing values) or the fit the column
    needs could not be made. Vectorised: the closed forms run once on the valid rows.
    """
    summary = np.asarray(summary, dtype=np.float64)
    out = np.full((len(summary), len(BTYD_DERIVED_NAMES)), np.nan)
    if params.bgnbd is None or not len(summary):
        return out
    x, recency, age, monetary = summary.T
    with np.errstate(invalid="ignore"):
        valid = (
            np.isfinite(summary).all(axis=1)
            & (x >= 0)
            & (x == np.floor(x))
            & (recency >= 0)
            & (recency <= age)
            & (monetary >= 0)
            & ((x > 0) == (recency > 0))
        )
    if not valid.any():
        return out
    bg = np.asarray(params.bgnbd, dtype=np.float64)
    xv, tx, big_t = x[valid], recency[valid] / WEEK, age[valid] / WEEK
    p_alive = expit(-dead_log_odds(bg, xv, tx, big_t))
    horizon = params.horizon_days / WEEK
    purchases = p_alive * alive_expected_purchases(bg, horizon, xv, big_t)
    out[valid, 0] = p_alive
    out[valid, 1] = purchases
    if params.gamma_gamma is not None:
        spend = conditional_expected_spend(np.asarray(params.gamma_gamma), xv, monetary[valid])
        spend = np.where(np.isfinite(spend), spend, np.nan)
        out[valid, 2] = spend
        out[valid, 3] = purchases * spend
    return out


NAN_ROW = (math.nan, math.nan, math.nan, math.nan)
"""The derived columns of a row that has none (``BTYD_DERIVED_NAMES`` has four)."""


def derive_btyd_row(row: list[float], params: BtydParams) -> tuple[float, float, float, float]:
    """``derive_btyd_arrays`` of one summary row, the same operations on Python floats.

    Row validity, ``dead_log_odds``, the expit, the BG/NBD series of eq. 10 and the Gamma-Gamma
    mean step for step; a row outside the series' region (large horizon for its age) takes
    ``alive_expected_purchases`` itself. Equal to the vectorised path's row bit for bit.
    """
    if params.bgnbd is None:
        return NAN_ROW
    x, recency, age, monetary = row
    if not (
        math.isfinite(x)
        and math.isfinite(recency)
        and math.isfinite(age)
        and math.isfinite(monetary)
        and x >= 0
        and x == math.floor(x)
        and recency >= 0
        and recency <= age
        and monetary >= 0
        and (x > 0) == (recency > 0)
    ):
        return NAN_ROW
    r, alpha, a, b = params.bgnbd
    tx, big_t = recency / WEEK, age / WEEK
    if x > 0:
        d = _log(a) - _log(b + x - 1.0) + (r + x) * (_log(alpha + big_t) - _log(alpha + tx))
        # scipy's expit is 1 / (1 + exp(-x)) with the C library's exp, as math.exp is
        p_alive = 1.0 / (1.0 + math.exp(d)) if d < 709.0 else float(expit(-d))
    else:
        p_alive = 1.0
    purchases = p_alive * _alive_purchases_row(params.bgnbd, params.horizon_days / WEEK, x, big_t)
    if params.gamma_gamma is None:
        return p_alive, purchases, math.nan, math.nan
    p, q, v = params.gamma_gamma
    denominator = p * x + q - 1.0
    spend = (v + monetary * x) * p / denominator if denominator > 0 else math.inf
    if not math.isfinite(spend):
        spend = math.nan
    return p_alive, purchases, spend, purchases * spend


def _alive_purchases_row(
    bg: tuple[float, float, float, float], t: float, x: float, big_t: float
) -> float:
    """``alive_expected_purchases`` of one row: its power series on floats where it takes it."""
    r, alpha, a, b = bg
    z = t / (alpha + big_t + t)
    growth = max(0.0, r - a - b + 1.0, a - 1.0)
    if not (z <= 0.5 and z * growth <= 2.0):
        return float(alive_expected_purchases(np.asarray(bg), t, x, big_t))
    c = a + b + x - 1.0
    eps = a - 1.0
    log1mz = -float(np.log1p(t / (alpha + big_t)))
    total = _series_one(a + b - 1.0 - r, eps, z, c)
    return -c * log1mz * float(exprel(eps * log1mz)) - float(np.exp(eps * log1mz)) * total


def _log(v: float) -> float:
    """numpy's log of a float: numpy's log, exp and log1p round differently from ``math``'s in
    a few last bits, and the numpy path uses numpy's."""
    return float(np.log(v))


@dataclass(frozen=True)
class BtydMargin:
    """The base margin of a CLV booster that learns a correction to the classic BTYD value.

    Per row: ``log(scale * max(btyd_expected_value, floor))``, with ``fallback`` in place of a
    missing value (no purchase, no fit). The booster's trees add to it; the bundle adds it
    back at prediction, so serving predicts exactly what training evaluated. ``scale`` is a
    recalibration chosen on the validation cutoff (1: none).
    """

    floor: float
    fallback: float
    scale: float = 1.0

    def margin(self, value: np.ndarray) -> np.ndarray:
        """The base margin for BTYD expected values (NaN allowed)."""
        filled = np.where(np.isnan(value), self.fallback, np.maximum(value, self.floor))
        return np.asarray(np.log(self.scale * filled), dtype=np.float64)

    def of_matrix(self, matrix: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
        """The base margin of the rows of an encoded matrix (its ``btyd_expected_value``)."""
        if EXPECTED_VALUE not in columns:
            raise ValueError(f"the model's features lack {EXPECTED_VALUE}, its base margin")
        return self.margin(matrix[:, columns.index(EXPECTED_VALUE)])

    def to_dict(self) -> dict[str, float]:
        return {"floor": self.floor, "fallback": self.fallback, "scale": self.scale}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> BtydMargin:
        return cls(float(payload["floor"]), float(payload["fallback"]), float(payload["scale"]))
