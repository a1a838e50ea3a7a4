"""A seeded sample of customers for a training table too large for memory, and when to take one.

A customer is either wholly in the sample or wholly out: every snapshot row (any cutoff, train,
validation or test) and every event of a kept customer is kept, so no customer straddles the
split and the baselines see the same customers as the models. Whether a customer is kept depends
only on its canonical id and the seed (a hash, not a random stream), so every partition of a
Dask cluster decides alike, in any order, in every run.

Every customer is kept with the same probability ``fraction``, so each stratum of the table
(cutoff x churn label) keeps ``fraction`` of its rows up to binomial noise: a stratum of ``n``
customers keeps a share with standard error ``sqrt(fraction * (1 - fraction) / n)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.engines import TrainMode
from core.errors import ConfigError

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads hash bits so nearby inputs give unrelated outputs."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def customer_draws(ids: pd.Series | pd.Index, seed: int) -> np.ndarray:
    """A number in [0, 1) per canonical customer id, fixed by the id and the seed alone."""
    hashed = pd.util.hash_pandas_object(pd.Series(ids).astype("str"), index=False).to_numpy()
    with np.errstate(over="ignore"):
        mixed = _splitmix64(hashed ^ _splitmix64(np.full(1, seed, dtype=np.uint64)))
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True)
class CustomerSample:
    """Keep each customer whose draw is below ``fraction`` (all of them at 1.0)."""

    fraction: float
    seed: int

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"sample_fraction must be in (0, 1], got {self.fraction}")

    def keep(self, ids: pd.Series | pd.Index) -> np.ndarray:
        """True for the rows whose customer is in the sample."""
        if self.fraction >= 1.0:
            return np.ones(len(ids), dtype=bool)
        return customer_draws(ids, self.seed) < self.fraction


def strata_shares(whole: pd.DataFrame, sample: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per stratum: rows in the whole table, rows sampled, their share and its binomial SE."""
    total = whole.groupby(list(by), observed=True).size().rename("rows")
    kept = sample.groupby(list(by), observed=True).size().reindex(total.index, fill_value=0)
    out = total.to_frame().assign(sampled=kept)
    out["share"] = out["sampled"] / out["rows"]
    return out


@dataclass(frozen=True)
class TrainingPlan:
    """How the dask engine brings the training table into memory: whole, or a customer sample.

    ``table_bytes`` is the estimate that decided it (training rows and test-cutoff features, plus
    the event history gathered for the baselines); ``budget`` the memory allowed for it.
    """

    mode: Literal["memory", "sample"]
    fraction: float
    seed: int
    configured: TrainMode
    table_bytes: int
    budget: int

    @property
    def sample(self) -> CustomerSample | None:
        """The customer sample to apply, or None when the table is loaded whole."""
        return CustomerSample(self.fraction, self.seed) if self.mode == "sample" else None

    def describe(self) -> str:
        """One line saying what was decided and from which figures."""
        size = (
            f"estimated {gigabytes(self.table_bytes)} against a budget of {gigabytes(self.budget)}"
        )
        if self.mode == "memory":
            why = "it fits" if self.configured == "auto" else "dask.train is memory"
            return f"training table: loaded whole ({size}; {why})"
        why = (
            "the fraction that fits"
            if self.configured == "auto"
            else "dask.sample_fraction (dask.train is sample)"
        )
        return (
            f"training table: a {self.fraction:.0%} customer sample, seed {self.seed} ({size}; "
            f"{why})"
        )


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def plan_training(
    mode: TrainMode, *, fraction: float, seed: int, table_bytes: int, budget: int
) -> TrainingPlan:
    """``memory`` and ``sample`` as configured; ``auto`` loads whole if the estimate fits the
    budget, else samples the largest fraction (in hundredths) that fits."""
    if mode == "memory" or (mode == "auto" and table_bytes <= budget):
        return TrainingPlan("memory", 1.0, seed, mode, table_bytes, budget)
    if mode == "sample":
        return TrainingPlan("sample", fraction, seed, mode, table_bytes, budget)
    fits = math.floor(100 * budget / table_bytes) / 100
    if fits < 0.01:
        raise ConfigError(
            f"dask.memory_budget: {gigabytes(budget)} holds less than a 1% sample of the training "
            f"table (estimated {gigabytes(table_bytes)}): raise memory_budget, or set dask.train: "
            "sample with a sample_fraction"
        )
    return TrainingPlan("sample", fits, seed, mode, table_bytes, budget)


__all__ = [
    "CustomerSample",
    "TrainingPlan",
    "customer_draws",
    "plan_training",
    "strata_shares",
]
