"""Choosing a churn calibrator by replaying past origins, never by looking at the test cutoff.

A calibrator fitted on the validation cutoff is applied one horizon later, at the test cutoff,
possibly in another season. Which calibrator survives that step is measured on the past: for each
of the latest ``backtests`` cutoffs the real fit may see (training and validation cutoffs) taken
as a replayed test cutoff, the split rule of ``training.dataset.out_of_time_split`` gives an origin
(its replayed validation cutoff) and the cutoffs before it. The model is refitted on those (same
parameters, early stopping on the origin), every calibrator is fitted on the origin, and its bias
(mean predicted minus observed churn) is measured on the replayed test cutoff. The calibrator
with the smallest mean |bias| over the origins wins; ties go to the simplest. The replays read
the run's own encoded training and validation rows (the encoding uses no label), so they see
nothing the real fit does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from core.errors import CutoffError
from training.calibrators import CALIBRATORS, Calibrator, apply, fit_calibrator
from training.frame import out_of_time_split

RawScorer = Callable[[np.ndarray], np.ndarray]
FitRaw = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], RawScorer]
"""Fits the model on (train X, train y), early-stopping on (origin X, origin y); returns its raw
log-odds scorer."""


@dataclass(frozen=True)
class Replay:
    """One past origin: the cutoffs trained on, the origin calibrated on, the cutoff measured."""

    train: list[pd.Timestamp]
    origin: pd.Timestamp
    target: pd.Timestamp


@dataclass
class CalibrationChoice:
    """The chosen calibrator and the evidence: per calibrator, its bias at each replayed origin."""

    method: Calibrator
    configured: str = ""
    """The configured ``churn.calibration.method`` (auto, standard, or a calibrator's name)."""
    replays: list[Replay] = field(default_factory=list)
    bias: dict[str, list[float]] = field(default_factory=dict)
    fallback: str = ""
    """Why the backtests could not choose (too few usable origins); '' when they did."""

    def __post_init__(self) -> None:
        self.configured = self.configured or self.method

    def params(self) -> dict[str, str]:
        """MLflow params: the calibrator used and the configured method."""
        return {"calibration.method": self.method, "calibration.configured": self.configured}

    def notes(self, model: str) -> list[str]:
        """The line for the training output and the model card (``auto`` only)."""
        return [f"{model} {self.summary()}"] if self.configured == "auto" else []

    def mean_abs_bias(self) -> dict[str, float]:
        """Mean |bias| over the replayed origins, per calibrator."""
        return {m: float(np.mean(np.abs(b))) for m, b in self.bias.items() if b}

    def summary(self) -> str:
        """One line for the training output and the model card."""
        if self.fallback:
            return f"calibration: standard, {self.method} ({self.fallback})"
        scores = ", ".join(f"{m} {v * 100:.2f}" for m, v in self.mean_abs_bias().items())
        origins = ", ".join(f"{r.origin.date()}->{r.target.date()}" for r in self.replays)
        return (
            f"calibration: auto chose {self.method} by mean |bias| in points over "
            f"{len(self.replays)} past origins ({origins}): {scores}"
        )

    def metrics(self) -> dict[str, float]:
        """MLflow metrics: mean |bias| per calibrator (``calibration.backtest_bias.<method>``)
        and, per origin, the signed bias (``...<method>.origin_<i>``, oldest first)."""
        out = {f"calibration.backtest_bias.{m}": v for m, v in self.mean_abs_bias().items()}
        for m, biases in self.bias.items():
            out |= {
                f"calibration.backtest_bias.{m}.origin_{i}": float(b) for i, b in enumerate(biases)
            }
        return out


def replays(cutoffs: pd.Series, horizon_days: int, backtests: int) -> list[Replay]:
    """The latest ``backtests`` replayable origins among ``cutoffs`` (oldest first): each of the
    latest cutoffs taken as a test cutoff, split as the real run is; unsplittable ones skipped."""
    ordered = sorted(pd.Timestamp(c) for c in pd.unique(cutoffs))
    found: list[Replay] = []
    for end in range(len(ordered), 0, -1):
        if len(found) == backtests:
            break
        try:
            split = out_of_time_split(ordered[:end], horizon_days)
        except CutoffError:
            continue
        found.append(Replay(split.train, split.validation, split.test))
    return found[::-1]


def choose_calibrator(
    X: np.ndarray,
    y: np.ndarray,
    cutoffs: pd.Series,
    *,
    horizon_days: int,
    fit_raw: FitRaw,
    balanced: bool,
    backtests: int = 3,
    min_backtests: int = 2,
    fallback: Calibrator = "platt",
    progress: bool = False,
) -> CalibrationChoice:
    """Replay past origins over the rows ``X, y`` (their ``cutoffs``: training and validation
    rows only) and choose the calibrator with the smallest mean |bias|; see the module docstring.

    Fewer than ``min_backtests`` usable origins (each part with both classes): ``fallback``, and
    the choice says why.
    """
    when = pd.to_datetime(pd.Series(np.asarray(cutoffs))).to_numpy()
    labels = np.asarray(y).astype(int)
    planned = replays(pd.Series(when), horizon_days, backtests)
    masks = [(r, _rows(when, r)) for r in planned]
    kept = [(r, m) for r, m in masks if all(_both_classes(labels[part]) for part in m)]
    usable = [r for r, _ in kept]
    bias: dict[str, list[float]] = {m: [] for m in CALIBRATORS}
    if len(usable) < min_backtests:  # decided before any refit: too few origins cost nothing
        return CalibrationChoice(
            fallback,
            "auto",
            usable,
            bias,
            fallback=f"{len(usable)} usable past origin(s), fewer than "
            f"calibration.min_backtests={min_backtests}",
        )
    for _, (train, origin, target) in tqdm(
        kept, desc="calibration backtests", leave=False, disable=not progress
    ):
        raw = fit_raw(X[train], labels[train], X[origin], labels[origin])
        origin_raw, target_raw = raw(X[origin]), raw(X[target])
        share = float(labels[train].mean())
        observed = float(labels[target].mean())
        for method in CALIBRATORS:
            ab = fit_calibrator(method, origin_raw, labels[origin], share=share, balanced=balanced)
            bias[method].append(float(apply(ab, target_raw).mean()) - observed)
    choice = CalibrationChoice(fallback, "auto", usable, bias)
    scores = choice.mean_abs_bias()
    choice.method = min(CALIBRATORS, key=lambda m: scores[m])  # first on ties: the simplest
    return choice


def _rows(when: np.ndarray, replay: Replay) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the replay's training, origin (calibration) and target rows."""
    train = np.isin(when, np.asarray(replay.train, dtype="datetime64[ns]"))
    return train, when == np.datetime64(replay.origin), when == np.datetime64(replay.target)


def _both_classes(labels: np.ndarray) -> bool:
    return bool(labels.size) and 0 < labels.mean() < 1
