"""On a synthetic retail base with planted non-linear churn drivers, LightGBM beats every baseline.

A module of its own: a 12,000-customer training, the suite's longest, which the test runner can
then schedule beside the pipeline tests rather than after them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config_file import load_config
from tests.helpers import write_config
from training.metrics import normalized_gini, roc_auc
from training.pipeline import train

QUIET = {"progress": False, "log": lambda _: None}


def _paired_bootstrap_low(
    y: np.ndarray, better: np.ndarray, worse: np.ndarray, metric, seed: int = 0
) -> float:
    """2.5th percentile of metric(better) - metric(worse) over 200 paired resamples of customers."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(200):
        i = rng.integers(0, len(y), len(y))
        diffs.append(metric(y[i], better[i]) - metric(y[i], worse[i]))
    return float(np.percentile(diffs, 2.5))


@pytest.mark.slow
def test_lightgbm_recovers_the_planted_signal_better_than_every_baseline(tmp_path: Path) -> None:
    """Synthetic retail base with planted non-linear churn drivers (channel x region, order-value
    U-shape, returns, slowing down): on the test cutoff LightGBM's ROC-AUC beats every churn
    baseline and its Gini beats every CLV baseline, each by a margin whose paired-bootstrap 95%
    interval excludes zero."""
    from retain.demo_data import write_demo

    write_demo(tmp_path / "data", customers=12000, seed=11, businesses=("retail",))
    config = load_config(
        write_config(
            tmp_path / "big.yaml",
            tmp_path / "data" / "retail",
            name="planted",
            registry={"churn": "planted-churn", "clv": "planted-clv"},
        )
    )
    result = train(config, **QUIET)
    p = result.predictions
    y, spend = p["churn"].to_numpy(), p["future_value"].to_numpy()
    ours = p["churn.lightgbm"].to_numpy()
    assert roc_auc(y, ours) > 0.85
    for baseline in ("logistic", "recency_rule", "bgnbd"):
        low = _paired_bootstrap_low(y, ours, p[f"churn.{baseline}"].to_numpy(), roc_auc)
        assert low > 0, f"LightGBM's ROC-AUC is not clearly above {baseline}"
    value = p["clv.lightgbm"].to_numpy()
    for baseline in ("bgnbd_gamma_gamma", "last_period"):
        low = _paired_bootstrap_low(spend, value, p[f"clv.{baseline}"].to_numpy(), normalized_gini)
        assert low > 0, f"LightGBM's Gini is not clearly above {baseline}"
