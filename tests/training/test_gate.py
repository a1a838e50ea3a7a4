"""The promotion gate on hand-made predictions: paired bootstrap, significance, joint promotion."""

from __future__ import annotations

import numpy as np
import pytest

from training import metrics as m
from training.metrics import BOOTSTRAP_CHUNK, PairedInterval, paired_bootstrap
from training.registry import NO_CHAMPION, Decision, VersionInfo, decide, joint, versions_table

N = 3000


def _labels(seed: int = 0, n: int = N, rate: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(np.float64)


def _model(y: np.ndarray, signal: float, seed: int) -> np.ndarray:
    """Churn probabilities separating the classes by ``signal`` (0: random) with own noise."""
    noise = np.random.default_rng(seed).normal(size=y.size)
    return 1.0 / (1.0 + np.exp(-(signal * (y - 0.5) + noise)))


def _noise_pair(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two equally good models with independent noise, the one scoring higher ROC-AUC first."""
    a, b = _model(y, 1.0, seed=1), _model(y, 1.0, seed=2)
    return (a, b) if m.roc_auc(y, a) > m.roc_auc(y, b) else (b, a)


def _gate(
    metric: str,
    y: np.ndarray,
    new: np.ndarray,
    old: np.ndarray,
    replicates: int = 1000,
    **kw: float,
) -> Decision:
    interval = paired_bootstrap(metric, y, new, old, replicates=replicates, seed=42)
    return decide(metric, interval.challenger, "3", interval, **kw)


def test_metric_function_is_the_function_behind_each_metric_key() -> None:
    y = _labels()
    p = _model(y, 1.5, seed=3)
    spend = np.where(y == 1, 0.0, np.random.default_rng(4).gamma(2.0, 30.0, y.size))
    value = spend * 0.5 + np.random.default_rng(5).gamma(2.0, 10.0, y.size)
    for key, expected in m.churn_metrics(y, p).items():
        if key != "empc_fraction":
            assert m.metric_function(key)(y, p) == expected, key
    for key, expected in m.clv_metrics(spend, value).items():
        assert m.metric_function(key)(spend, value) == expected, key
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        m.metric_function("accuracy")


@pytest.mark.parametrize("metric", ["roc_auc", "gini", "mae", "rmse"])
def test_vectorised_replicates_equal_the_metric_on_the_resampled_customers(metric: str) -> None:
    """ROC-AUC, Gini, MAE and RMSE computed from resample counts equal the metric function called on every
    resample (same seed, same draws), ties in scores and spend included."""
    y = _labels(n=500)
    a = np.round(_model(y, 1.0, seed=1), 2)  # coarse scores: many ties
    b = np.round(_model(y, 0.5, seed=2), 2)
    if metric != "roc_auc":  # spend: zero for churners, ties among spenders
        y = np.where(y == 1, 0.0, np.round(np.random.default_rng(3).gamma(2.0, 3.0, y.size)))
    fn = m.metric_function(metric)
    got = paired_bootstrap(metric, y, a, b, replicates=250, level=0.9, seed=7)
    rng = np.random.default_rng(7)
    diffs = []
    for start in range(0, 250, BOOTSTRAP_CHUNK):
        for i in rng.integers(0, y.size, size=(min(BOOTSTRAP_CHUNK, 250 - start), y.size)):
            diffs.append(fn(y[i], a[i]) - fn(y[i], b[i]))
    low, high = np.quantile(diffs, [0.05, 0.95])
    assert got.low == pytest.approx(low, abs=1e-12)
    assert got.high == pytest.approx(high, abs=1e-12)
    assert got.challenger == fn(y, a)
    assert got.champion == fn(y, b)


def test_identical_models_are_not_promoted_and_their_interval_is_zero() -> None:
    y = _labels()
    p = _model(y, 1.0, seed=1)
    decision = _gate("roc_auc", y, p, p.copy())
    assert decision.interval is not None
    assert decision.interval.low == decision.interval.high == 0.0
    assert not decision.promote
    assert not decision.qualifies
    assert decision.reason == (
        "roc_auc +0.0000 (95% CI +0.0000 to +0.0000) vs champion v3 on the same 3,000 test "
        "customers: not significant, champion kept"
    )


def test_a_noise_gain_between_equally_good_models_keeps_the_champion() -> None:
    y = _labels()
    new, old = _noise_pair(y)
    decision = _gate("roc_auc", y, new, old)
    interval = decision.interval
    assert interval is not None
    assert 0 < interval.diff < 0.02
    assert interval.low < 0 < interval.high
    assert not decision.promote
    assert decision.reason.endswith("test customers: not significant, champion kept")


def test_a_planted_strong_improvement_is_promoted_with_an_interval_above_zero() -> None:
    y = _labels()
    good = np.clip(y * 0.6 + 0.2 + np.random.default_rng(1).normal(0, 0.1, y.size), 0, 1)
    random = np.random.default_rng(2).random(y.size)
    decision = _gate("roc_auc", y, good, random)
    assert decision.interval is not None
    assert decision.interval.low > 0.3
    assert decision.promote
    assert decision.reason.endswith(": significant, promoted")
    reversed_ = _gate("roc_auc", y, random, good)
    assert not reversed_.promote
    assert reversed_.reason.endswith(": significantly worse, champion kept")


@pytest.mark.parametrize("metric", ["brier", "log_loss"])
def test_lower_is_better_metrics_promote_a_lower_score(metric: str) -> None:
    y = _labels()
    sharp, vague = _model(y, 3.0, seed=1), _model(y, 0.5, seed=2)
    # metrics scored per replicate: 200 resamples are plenty for so clear a difference
    better = _gate(metric, y, sharp, vague, replicates=200)
    assert better.interval is not None
    assert better.interval.high < 0  # challenger minus champion: lower
    assert better.promote
    assert "; lower is better)" in better.reason
    worse = _gate(metric, y, vague, sharp, replicates=200)
    assert not worse.promote
    assert worse.reason.endswith("significantly worse, champion kept")


def test_lower_is_better_regression_metric() -> None:
    rng = np.random.default_rng(0)
    spend = rng.gamma(2.0, 30.0, N)
    close, far = spend + rng.normal(0, 5, N), spend + rng.normal(0, 40, N)
    assert _gate("mae", spend, close, far, replicates=200).promote
    assert not _gate("mae", spend, far, close, replicates=200).promote


def test_min_improvement_promotes_a_large_enough_gain_without_significance() -> None:
    y = _labels()
    new, old = _noise_pair(y)
    gain = m.roc_auc(y, new) - m.roc_auc(y, old)
    above = _gate("roc_auc", y, new, old, min_improvement=gain / 2)
    assert above.promote
    assert f"not significant but above promotion.min_improvement {gain / 2:g}, promoted" in (
        above.reason
    )
    assert not _gate("roc_auc", y, new, old, min_improvement=gain * 2).promote
    assert not _gate("roc_auc", y, old, new, min_improvement=gain / 2).promote  # a loss


def test_the_interval_is_reproducible_from_the_seed() -> None:
    y = _labels()
    new, old = _noise_pair(y)
    first = paired_bootstrap("gini", y, new, old, replicates=200, seed=5)
    assert paired_bootstrap("gini", y, new, old, replicates=200, seed=5) == first
    assert paired_bootstrap("gini", y, new, old, replicates=200, seed=6).low != first.low
    roc = paired_bootstrap("roc_auc", y, new, old, seed=5)
    assert paired_bootstrap("roc_auc", y, new, old, seed=5) == roc


def test_confidence_level_widens_the_interval() -> None:
    y = _labels()
    new, old = _noise_pair(y)
    narrow = paired_bootstrap("roc_auc", y, new, old, level=0.8, seed=1)
    wide = paired_bootstrap("roc_auc", y, new, old, level=0.99, seed=1)
    assert wide.low < narrow.low < narrow.high < wide.high
    assert "(99% CI " in decide("roc_auc", wide.challenger, "1", wide).reason


def test_a_first_version_must_beat_the_trivial_policy_and_an_unscorable_champion_blocks() -> None:
    y = _labels()
    trivial = np.zeros(y.size)  # one churn rate for everyone: ROC-AUC 0.5
    good = paired_bootstrap("roc_auc", y, _model(y, 1.0, seed=1), trivial, seed=42)
    promoted = decide("roc_auc", good.challenger, None, None, trivial=good, trivial_name="flat")
    assert promoted.promote
    assert promoted.qualifies
    assert not promoted.trivial_failed
    assert promoted.reason == (
        f"{NO_CHAMPION}; roc_auc {good.challenger:.4f} against 0.5000 for flat, gain "
        f"{good.diff:+.4f} (95% CI {good.low:+.4f} to {good.high:+.4f}) on the same 3,000 test "
        "customers: beats it, promoted"
    )
    # a model of noise (test ROC-AUC about 0.5) is registered, not promoted
    noise = paired_bootstrap("roc_auc", y, _model(y, 0.0, seed=1), trivial, seed=42)
    assert noise.low < 0 < noise.high
    kept = decide("roc_auc", noise.challenger, None, None, trivial=noise, trivial_name="flat")
    assert not kept.promote
    assert kept.trivial_failed
    assert "for flat, gain" in kept.reason
    assert "does not beat it, so registered, not promoted" in kept.reason
    # nothing to compare with: not promoted either, and it says so
    blind = decide("roc_auc", 0.8, None, None)
    assert not blind.promote
    assert "could not be compared with the trivial policy" in blind.reason
    stuck = decide("roc_auc", 0.8, "2", None)
    assert not stuck.promote
    assert "champion v2 could not be scored" in stuck.reason


def test_a_first_clv_model_must_beat_the_mean_on_a_lower_is_better_metric() -> None:
    rng = np.random.default_rng(0)
    spend = rng.gamma(2.0, 30.0, N)
    mean = np.full(N, spend.mean())
    good = paired_bootstrap("mae", spend, spend + rng.normal(0, 5, N), mean, seed=1)
    assert decide("mae", good.challenger, None, None, trivial=good).promote
    bad = paired_bootstrap("mae", spend, mean + rng.normal(0, 40, N), mean, seed=1)
    decision = decide("mae", bad.challenger, None, None, trivial=bad)
    assert not decision.promote
    assert "lower is better" in decision.reason


def _decision(qualifies: bool, reason: str = "") -> Decision:
    interval = PairedInterval("roc_auc", 0.8, 0.7, 0.05, 0.15, 0.95, 1000, 100)
    evidence = reason or ("significant" if qualifies else "not significant")
    verdict = "promoted" if qualifies else "champion kept"
    return Decision(
        qualifies, f"{evidence}, {verdict}", "roc_auc", 0.8, "1", 0.7, interval, qualifies, evidence
    )


def test_joint_promotion_moves_neither_when_only_one_qualifies() -> None:
    decisions = {"churn": _decision(True, "churn ev"), "clv": _decision(False, "clv ev")}
    both = joint(decisions)
    assert not any(d.promote for d in both.values())
    for d in both.values():
        assert d.reason.startswith(
            "churn qualifies but clv does not (churn: churn ev; clv: clv ev)"
        )
        assert "neither promoted" in d.reason
    assert both["churn"].qualifies
    assert not both["clv"].qualifies
    assert joint(decisions, separately=True) == decisions


def test_joint_promotion_keeps_agreeing_verdicts() -> None:
    agree = {"churn": _decision(True), "clv": _decision(True)}
    assert joint(agree) == agree
    neither = {"churn": _decision(False), "clv": _decision(False)}
    assert joint(neither) == neither


def _first(beats: bool) -> Decision:
    """A first version whose gain over the trivial policy is (or is not) above zero."""
    low = 0.05 if beats else -0.01
    trivial = PairedInterval("gini", 0.6, 0.0, low, 0.2, 0.95, 1000, 100)
    return decide("gini", 0.6, None, None, trivial=trivial, trivial_name="the mean")


def test_joint_promotion_promotes_both_when_one_has_no_champion() -> None:
    fresh = _first(beats=True)
    decisions = {"churn": _decision(False, "churn ev"), "clv": fresh}
    both = joint(decisions)
    assert both["churn"].promote
    assert both["clv"].promote
    assert both["clv"].reason == fresh.reason
    assert both["churn"].reason == (
        "promoted with clv, which has no champion yet, so both champions come from one run "
        "(churn alone: churn ev)"
    )


def test_joint_promotion_never_promotes_a_first_version_that_fails_the_trivial_policy() -> None:
    failed = _first(beats=False)
    # nothing is promoted "with" it: the other keeps its own verdict against its champion
    kept = joint({"churn": _decision(False, "churn ev"), "clv": failed})
    assert not kept["churn"].promote
    assert not kept["clv"].promote
    assert kept["clv"] == failed
    moved = joint({"churn": _decision(True, "churn ev"), "clv": failed})
    assert moved["churn"].promote
    assert not moved["clv"].promote
    # two first versions: the one that beats its trivial policy is promoted alone
    pair = joint({"churn": _first(beats=True), "clv": failed})
    assert pair["churn"].promote
    assert not pair["clv"].promote
    assert list(pair) == ["churn", "clv"]


def test_the_compact_version_table_fits_100_columns() -> None:
    rows = [
        VersionInfo(
            model="a-very-long-registered-model-name-churn",
            version=1234,
            aliases=["champion", "challenger"],
            created="2026-11-30 22:18",
            decision="rolled back",
            gate_metric="top_decile_share",
            gate_value=0.123456,
            reason="x" * 500,
            run_id="f" * 32,
            metrics={"top_decile_share": 0.123456},
            tags={},
        ),
        VersionInfo("churn", 2, [], "2026-11-30 22:19", "", "", None, "", "", {}, {}),
    ]
    lines = versions_table(rows).splitlines()
    assert len(lines) == 3
    assert max(len(line) for line in lines) <= 100
    assert lines[0].startswith("model")
    assert "gate metric" in lines[0]
    assert "top_decile_share 0.1235" in lines[1]
    assert "x" * 10 not in versions_table(rows)
