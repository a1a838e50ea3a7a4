"""``split.round_origins``: out of time, a refit booster's rounds are the median early-stopped
rounds over the validation cutoff and replayed past origins (``training.origin_rounds``), with
the validation cutoff's own rounds, said so, when the cutoffs hold no past origin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.calibration_choice import replays
from training.candidates import CANDIDATES, REFIT_PARTS, Fold
from training.dataset import load_training_data
from training.models import LightGBMSpend
from training.origin_rounds import origin_rounds

from .conftest import small_config

MONTH_ENDS = pd.date_range("2023-01-31", periods=8, freq="ME")


def _rows(per_cutoff: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Cutoffs of the refit rows (eight month ends) and labels with both classes at each."""
    cutoffs = np.repeat(MONTH_ENDS.to_numpy(), per_cutoff)
    return cutoffs, np.tile(np.arange(per_cutoff) % 2, len(MONTH_ENDS))


def test_the_rounds_are_the_median_over_the_validation_cutoff_and_the_past_origins() -> None:
    cutoffs, labels = _rows()
    seen: list[tuple[int, str]] = []

    def fit_rounds(train: np.ndarray, origin: np.ndarray) -> int:
        # rounds grow with the training rows: each origin gives a different, known number
        seen.append((len(train), str(pd.Timestamp(cutoffs[origin[0]]).date())))
        assert set(pd.to_datetime(cutoffs[origin]).unique()) == {pd.Timestamp(cutoffs[origin[0]])}
        assert pd.Timestamp(cutoffs[train].max()) < pd.Timestamp(cutoffs[origin[0]])
        return len(train)

    got = origin_rounds(
        cutoffs,
        labels,
        validation=MONTH_ENDS[-1],
        validation_rounds=55,
        horizon_days=60,
        origins=3,
        fit_rounds=fit_rounds,
    )
    # the same replays calibration backtests use: with a 60-day horizon, the latest cutoffs as
    # replayed tests, their origin two month ends before, training two before that
    planned = replays(pd.Series(cutoffs), 60, 3)
    assert [str(r.origin.date()) for r in planned] == ["2023-04-30", "2023-05-31", "2023-06-30"]
    assert seen == [(20, "2023-04-30"), (30, "2023-05-31"), (40, "2023-06-30")]
    assert got.origins == {"2023-04-30": 20, "2023-05-31": 30, "2023-06-30": 40, "2023-08-31": 55}
    assert got.rounds == 35  # the median of 20, 30, 40, 55
    assert got.fallback == ""
    assert got.source(MONTH_ENDS[-1]) == (
        "median of early stopping at 4 origins (2023-04-30 20, 2023-05-31 30, 2023-06-30 40, "
        "2023-08-31 55)"
    )


def test_too_few_origins_keep_the_validation_rounds_and_say_why() -> None:
    cutoffs, labels = _rows()
    never = pytest.fail

    # three cutoffs with a 60-day horizon hold no replay with training cutoffs of its own
    short = np.isin(cutoffs, MONTH_ENDS[-3:].to_numpy())
    got = origin_rounds(
        cutoffs[short],
        labels[short],
        validation=MONTH_ENDS[-1],
        validation_rounds=55,
        horizon_days=60,
        origins=3,
        fit_rounds=lambda *_: never("no replay to fit"),
    )
    assert (got.rounds, got.origins) == (55, {"2023-08-31": 55})
    assert got.source(MONTH_ENDS[-1]) == (
        "early stopping on 2023-08-31 (no usable past origin among the cutoffs; "
        "split.round_origins=3)"
    )
    off = origin_rounds(
        cutoffs,
        labels,
        validation=MONTH_ENDS[-1],
        validation_rounds=55,
        horizon_days=60,
        origins=0,
        fit_rounds=lambda *_: never("round_origins 0 replays nothing"),
    )
    assert off.rounds == 55
    assert off.source(MONTH_ENDS[-1]) == "early stopping on 2023-08-31 (split.round_origins is 0)"
    # an origin whose labels are all one class cannot early-stop a booster: skipped
    flat = np.where(cutoffs == MONTH_ENDS[-4].to_datetime64(), 0, labels)
    skipped = origin_rounds(
        cutoffs,
        flat,
        validation=MONTH_ENDS[-1],
        validation_rounds=55,
        horizon_days=60,
        origins=3,
        fit_rounds=lambda train, origin: len(train),
    )
    assert list(skipped.origins) == ["2023-04-30", "2023-06-30", "2023-08-31"]


@pytest.fixture(scope="module")
def monthly_fold(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Fold:
    """The demo retail data on a 30-day horizon and five training cutoffs: past origins exist."""
    config = small_config(
        tmp_path_factory.mktemp("origins"),
        demo_data / "retail",
        "origins",
        horizon_days=30,
        split={"max_train_cutoffs": 5, "round_origins": 3},
    )
    return Fold(config, load_training_data(config, progress=False))


@pytest.mark.slow  # eight small boosters: about 12 s on a loaded machine
def test_the_clv_refit_takes_the_median_rounds_of_boosters_replayed_by_hand(
    monthly_fold: Fold,
) -> None:
    fold = monthly_fold
    fitted = next(c for c in CANDIDATES if c.task == "clv" and c.name == "lightgbm").fit(fold)
    assert fitted is not None
    assert fitted.servable is not None
    refit = fitted.servable.refit
    assert refit is not None
    # by hand: each replay's booster trained on its cutoffs, early-stopped at its origin
    cutoffs = np.concatenate([fold.frames[p]["cutoff"].to_numpy() for p in REFIT_PARTS])
    X, y = fold.refit_rows("clv")
    by_hand = {}
    for replay in replays(pd.Series(cutoffs), fold.config.horizon_days, 3):
        train = np.isin(cutoffs, np.asarray(replay.train, dtype="datetime64[ns]"))
        origin = cutoffs == np.datetime64(replay.origin)
        model = LightGBMSpend(
            fold.lightgbm("clv"),
            random_state=fold.config.seed,
            tweedie_variance_power=fold.config.clv.tweedie_variance_power,
        ).fit(
            X[train],
            y[train],
            eval_set=(X[origin], y[origin]),
            feature_names=list(fold.encoding.columns),
            categorical=fold.encoding.categorical_indices,
        )
        by_hand[str(replay.origin.date())] = model.best_iteration_
    assert len(by_hand) == 3
    first = next(c for c in CANDIDATES if c.task == "clv" and c.name == "lightgbm").fit(
        Fold(fold.config, fold.data, refit=False)
    )
    assert first is not None
    by_hand[str(fold.data.split.validation.date())] = first.params["best_iteration"]
    assert refit.rounds == max(round(float(np.median(list(by_hand.values())))), 1)
    each = ", ".join(f"{day} {r}" for day, r in by_hand.items())
    assert refit.rounds_from == f"median of early stopping at 4 origins ({each})"
    assert fitted.params["refit_rounds"] == refit.rounds
    assert fitted.servable.best_iteration == refit.rounds
