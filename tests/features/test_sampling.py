"""The customer sample and the memory-or-sample decision of dask training (features/sampling.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from core.engines import DaskConfig
from core.errors import ConfigError
from features.sampling import CustomerSample, customer_draws, plan_training

IDS = pd.Series([f"C{i:06d}" for i in range(20_000)])


def test_draws_depend_on_the_id_and_seed_only() -> None:
    draws = customer_draws(IDS, 42)
    # the same id draws the same number wherever it sits (any partition, any order)
    shuffled = IDS.sample(frac=1.0, random_state=0)
    np.testing.assert_array_equal(customer_draws(shuffled, 42), draws[shuffled.index])
    np.testing.assert_array_equal(customer_draws(IDS.iloc[:10], 42), draws[:10])
    assert not np.array_equal(customer_draws(IDS, 43), draws)
    # uniform on [0, 1): each tenth holds a tenth of the ids, within 4 binomial SEs
    assert draws.min() >= 0.0
    assert draws.max() < 1.0
    counts = np.histogram(draws, bins=10, range=(0.0, 1.0))[0]
    assert (np.abs(counts / len(IDS) - 0.1) <= 4 * np.sqrt(0.1 * 0.9 / len(IDS))).all()


def test_a_sample_keeps_its_fraction_and_every_row_of_a_customer() -> None:
    rows = pd.concat([IDS, IDS.iloc[::2]], ignore_index=True)  # some customers twice
    keep = CustomerSample(0.3, 7).keep(rows)
    assert abs(keep[: len(IDS)].mean() - 0.3) <= 4 * np.sqrt(0.3 * 0.7 / len(IDS))
    np.testing.assert_array_equal(keep[len(IDS) :], keep[: len(IDS)][::2])
    assert CustomerSample(1.0, 7).keep(rows).all()


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_a_fraction_outside_0_1_is_refused(fraction: float) -> None:
    with pytest.raises(ConfigError, match="sample_fraction must be in"):
        CustomerSample(fraction, 1)


def test_the_plan_follows_the_mode_and_the_budget() -> None:
    fits = plan_training("auto", fraction=0.25, seed=1, table_bytes=100, budget=100)
    assert (fits.mode, fits.fraction, fits.sample) == ("memory", 1.0, None)
    assert "loaded whole" in fits.describe()
    over = plan_training("auto", fraction=0.25, seed=1, table_bytes=1000, budget=337)
    assert (over.mode, over.fraction) == ("sample", 0.33)
    assert over.sample == CustomerSample(0.33, 1)
    assert "33% customer sample" in over.describe()
    forced = plan_training("sample", fraction=0.25, seed=1, table_bytes=1, budget=100)
    assert (forced.mode, forced.fraction) == ("sample", 0.25)
    assert plan_training("memory", fraction=0.25, seed=1, table_bytes=10, budget=1).mode == "memory"
    with pytest.raises(ConfigError, match="less than a 1% sample"):
        plan_training("auto", fraction=0.25, seed=1, table_bytes=1000, budget=9)


def test_memory_budget_reads_bytes_and_sizes() -> None:
    assert DaskConfig(memory_budget="4GB").budget() == 4_000_000_000
    assert DaskConfig(memory_budget=1024).budget() == 1024
    assert DaskConfig().budget() > 0
    with pytest.raises(ValidationError, match="not a size"):
        DaskConfig(memory_budget="lots")
    with pytest.raises(ValidationError, match="train"):
        DaskConfig(train="disk")
