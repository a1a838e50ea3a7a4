"""Churn calibrators on the log-odds and the backtest that chooses among them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core.config import LightGBMParams
from model.bundle import sigmoid
from model.linear import CONVEX_SOLVER, CONVEX_TOL
from training.calibration_choice import RawScorer, choose_calibrator, replays
from training.calibrators import (
    CALIBRATORS,
    apply,
    fit_calibrator,
    fit_intercept,
    fit_platt,
    prior_correction,
)
from training.models import LightGBMChurn

HORIZON = 90


def test_none_undoes_class_balancing_with_the_training_share() -> None:
    assert prior_correction(0.2, balanced=True) == (1.0, pytest.approx(np.log(0.25)))
    assert prior_correction(0.2, balanced=False) == (1.0, 0.0)
    assert fit_calibrator("none", [0.0], [1], share=0.75, balanced=True) == (
        1.0,
        pytest.approx(np.log(3.0)),
    )
    with pytest.raises(ValueError, match="between 0 and 1"):
        prior_correction(1.0, balanced=True)


def test_intercept_matches_the_observed_rate_exactly_and_keeps_the_slope() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=2000)
    y = (rng.uniform(size=2000) < sigmoid(raw - 1.3)).astype(int)
    a, b = fit_intercept(raw, y)
    assert a == 1.0
    assert apply((a, b), raw).mean() == pytest.approx(y.mean(), abs=1e-10)


def test_platt_equals_scikit_learns_logistic_regression() -> None:
    rng = np.random.default_rng(1)
    raw = rng.normal(size=1500)
    y = (rng.uniform(size=1500) < sigmoid(0.6 * raw + 0.4)).astype(int)
    lr = LogisticRegression(C=1e6, solver=CONVEX_SOLVER, max_iter=1000, tol=CONVEX_TOL).fit(
        raw.reshape(-1, 1), y
    )
    assert fit_platt(raw, y) == (float(lr.coef_[0, 0]), float(lr.intercept_[0]))


def test_calibrators_reject_one_class_and_mismatched_rows() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_intercept([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="as many labels as scores"):
        fit_platt([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="unknown calibrator 'isotonic'"):
        fit_calibrator("isotonic", [0.1], [1], share=0.5, balanced=False)  # type: ignore[arg-type]


def test_lightgbm_churn_serves_its_calibrator_as_a_line_on_the_raw_score() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 3))
    y = (rng.uniform(size=3000) < sigmoid(1.5 * X[:, 0] - 0.5)).astype(int)
    for method in ("none", "intercept", "platt"):
        model = LightGBMChurn(
            LightGBMParams(n_estimators=60, early_stopping_rounds=10), calibration=method
        )
        model.fit(X[:2000], y[:2000], eval_set=(X[2000:], y[2000:]))
        raw = model.raw_score(X[2000:])
        expected = fit_calibrator(
            method, raw, y[2000:], share=float(y[:2000].mean()), balanced=True
        )
        assert model.platt_ == expected
        assert np.array_equal(model.predict_proba(X[2000:])[:, 1], apply(expected, raw))


MONTHS = pd.date_range("2022-01-31", periods=16, freq="ME")


def planted(shift: dict[pd.Timestamp, float], slope: float = 1.0, mean_shift: float = 0.0):
    """Rows at month ends whose churn log-odds is ``z + shift[cutoff]``; the model's raw score
    is ``slope * z`` (a fixed scorer, no fit). The last four months' z are centred lower by
    ``mean_shift``."""
    rng = np.random.default_rng(3)
    n = 4000
    frames = []
    for i, month in enumerate(MONTHS):
        z = rng.normal(-mean_shift if i >= len(MONTHS) - 4 else 0.0, 1.0, n)
        y = (rng.uniform(size=n) < sigmoid(z + shift.get(month, 0.0))).astype(int)
        frames.append(pd.DataFrame({"z": z, "y": y, "cutoff": month}))
    rows = pd.concat(frames, ignore_index=True)

    def fit_raw(X, y, X_origin, y_origin) -> RawScorer:
        return lambda M: slope * M[:, 0]

    return rows[["z"]].to_numpy(), rows["y"].to_numpy(), rows["cutoff"], fit_raw


def choose(X, y, cutoffs, fit_raw, **kw):
    return choose_calibrator(
        X, y, cutoffs, horizon_days=HORIZON, fit_raw=fit_raw, balanced=False, **kw
    )


def test_replays_follow_the_split_rule_on_the_latest_cutoffs() -> None:
    found = replays(pd.Series(MONTHS), HORIZON, 3)
    assert [(r.origin.date().isoformat(), r.target.date().isoformat()) for r in found] == [
        ("2022-11-30", "2023-02-28"),
        ("2022-12-31", "2023-03-31"),
        ("2022-12-31", "2023-04-30"),
    ]
    assert all(max(r.train) + pd.Timedelta(days=HORIZON) <= r.origin for r in found)


def test_auto_keeps_the_training_rate_when_the_calibration_months_are_shifted() -> None:
    """Origins shifted up by 1.2 log-odds, the months they are measured on not: fitting on
    the origin carries the shift over, so only ``none`` is unbiased."""
    origins = {pd.Timestamp(d): 1.2 for d in ("2022-11-30", "2022-12-31")}
    choice = choose(*planted(origins))
    assert choice.method == "none"
    scores = choice.mean_abs_bias()
    assert scores["none"] < 0.02 < 0.1 < min(scores["intercept"], scores["platt"])


def test_auto_shifts_the_intercept_when_the_base_rate_has_moved_for_good() -> None:
    """From the origins on, every month is 1 log-odds riskier than training taught: both
    fitted calibrators recover it, ``none`` cannot; the intercept is the simpler of the two."""
    later = {m: 1.0 for m in MONTHS[-7:]}
    choice = choose(*planted(later))
    scores = choice.mean_abs_bias()
    assert scores["none"] > 0.1 > 0.02 > max(scores["intercept"], scores["platt"])
    assert choice.method in ("intercept", "platt")


def test_auto_picks_platt_when_the_scores_are_overconfident_and_the_mix_moves() -> None:
    """Raw scores twice the true log-odds, and the measured months' customers less risky than
    the origins': only a fitted slope carries over."""
    choice = choose(*planted({}, slope=2.0, mean_shift=1.5))
    assert choice.method == "platt"
    assert choice.mean_abs_bias()["platt"] < 0.02


def test_the_choice_is_reproducible() -> None:
    first = choose(*planted({}, slope=2.0, mean_shift=1.5))
    again = choose(*planted({}, slope=2.0, mean_shift=1.5))
    assert first.bias == again.bias
    assert first.method == again.method


def test_too_few_origins_fall_back_to_standard_and_say_so() -> None:
    X, y, cutoffs, fit_raw = planted({})
    fits: list[int] = []

    def counted(*args):
        fits.append(1)
        return fit_raw(*args)

    keep = (cutoffs >= MONTHS[-5]).to_numpy()
    choice = choose(X[keep], y[keep], cutoffs[keep], counted, min_backtests=2)
    assert choice.method == "platt"
    assert "0 usable past origin(s), fewer than calibration.min_backtests=2" in choice.summary()
    # two usable origins, three asked for: decided before any refit, so the fallback is free
    keep = (cutoffs >= MONTHS[-8]).to_numpy()
    two = choose(X[keep], y[keep], cutoffs[keep], counted, min_backtests=3)
    assert two.method == "platt"
    assert len(two.replays) == 2
    assert "2 usable past origin(s), fewer than calibration.min_backtests=3" in two.summary()
    assert fits == []
    assert choice.notes("churn/lightgbm")[0].startswith(
        "churn/lightgbm calibration: standard, platt"
    )


def test_the_former_calibrate_key_still_reads_and_cannot_be_mixed() -> None:
    from core.config_file import parse_config
    from core.errors import ConfigError

    base = {"name": "x", "data": {"transactions": {"path": "t.csv"}}}
    assert parse_config(base).churn.calibration.method == "auto"
    old = parse_config({**base, "churn": {"calibrate": True}})
    assert old.churn.calibration.method == "standard"
    assert parse_config({**base, "churn": {"calibrate": False}}).churn.calibration.method == "none"
    with pytest.raises(ConfigError, match="not both"):
        parse_config({**base, "churn": {"calibrate": True, "calibration": {"method": "platt"}}})
    with pytest.raises(ConfigError, match=r"churn\.calibration\.method"):
        parse_config({**base, "churn": {"calibration": {"method": "isotonic"}}})
    with pytest.raises(ConfigError, match=r"min_backtests \(4\) must not exceed backtests \(3\)"):
        parse_config({**base, "churn": {"calibration": {"min_backtests": 4}}})


def test_the_lightgbm_candidate_serves_the_auto_choice_fitted_on_validation(
    demo_data, tmp_path
) -> None:
    """On the demo data with eight training cutoffs: auto replays three origins, records the
    choice, and the bundle's (a, b) is the chosen calibrator fitted on the validation cutoff;
    a second run chooses and serves the same."""
    from core.config_file import load_config
    from tests.helpers import write_config
    from tests.training.conftest import FAST_LIGHTGBM
    from training.candidates import CANDIDATES, Fold
    from training.dataset import load_training_data

    config = load_config(
        write_config(
            tmp_path / "auto.yaml",
            demo_data / "retail",
            split={"max_train_cutoffs": 8},
            churn={"lightgbm": FAST_LIGHTGBM},
        )
    )
    fold = Fold(config, load_training_data(config, progress=False))
    lightgbm = next(c for c in CANDIDATES if c.task == "churn" and c.name == "lightgbm")
    fitted, again = lightgbm.fit(fold), lightgbm.fit(fold)
    assert fitted is not None
    assert again is not None
    method = fitted.params["calibration.method"]
    assert fitted.params["calibration.configured"] == "auto"
    assert fitted.notes[0].startswith(f"churn/lightgbm calibration: auto chose {method} ")
    assert "over 3 past origins" in fitted.notes[0]
    scores = {m: fitted.fit_metrics[f"calibration.backtest_bias.{m}"] for m in CALIBRATORS}
    assert method == min(CALIBRATORS, key=lambda m: scores[m])
    assert fitted.servable is not None
    raw = fitted.servable.model.raw_score(fold.matrices["validation"])
    share = float(fold.y("train", "churn").mean())
    expected = fit_calibrator(
        method, raw, fold.y("validation", "churn"), share=share, balanced=True
    )
    assert fitted.servable.platt == pytest.approx(expected, rel=1e-12)
    assert fitted.fit_metrics == again.fit_metrics
    np.testing.assert_array_equal(fitted.test_pred, again.test_pred)
