"""A refit's boosting rounds from several replayed origins, not from the one validation cutoff.

Out of time, a booster's rounds are early-stopped on the validation cutoff: one day, one season.
Where the cutoffs allow, the past origins of ``training.calibration_choice.replays`` (each of the
latest cutoffs the run may see taken as a test cutoff, split as the real run is) are replayed:
the booster is fitted on the replay's training cutoffs and early-stopped on its origin. The
refit takes the median of those rounds and the validation cutoff's own. With fewer than
``MIN_ORIGINS`` origins in all it keeps the validation cutoff's rounds, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.calibration_choice import Replay, replays

FitRounds = Callable[[np.ndarray, np.ndarray], int]
"""Fits the booster on the rows at the first index array, early-stopped on the rows at the
second; returns its early-stopped rounds."""
MIN_ORIGINS = 2
"""Origins (the validation cutoff included) needed for a median; fewer: the fallback."""


@dataclass(frozen=True)
class OriginRounds:
    """The refit's rounds and where they came from: per origin, its early-stopped rounds."""

    rounds: int
    origins: dict[str, int] = field(default_factory=dict)
    fallback: str = ""
    """Why the validation cutoff alone gave the rounds; '' when several origins did."""

    def source(self, validation: pd.Timestamp) -> str:
        """The card's ``rounds_from``: the median over the origins, or the stated fallback."""
        if self.fallback:
            return f"early stopping on {validation.date()} ({self.fallback})"
        each = ", ".join(f"{day} {r}" for day, r in self.origins.items())
        return f"median of early stopping at {len(self.origins)} origins ({each})"


def origin_rounds(
    cutoffs: np.ndarray,
    labels: np.ndarray,
    *,
    validation: pd.Timestamp,
    validation_rounds: int,
    horizon_days: int,
    origins: int,
    fit_rounds: FitRounds,
) -> OriginRounds:
    """The median early-stopped rounds over the validation cutoff and up to ``origins`` replayed
    past origins of the rows at ``cutoffs`` (training and validation rows, in refit order).

    A replay needs both classes (a churn task) or any nonzero label (a value task) at its origin
    and in its training rows; unusable ones are skipped.
    """
    if origins <= 0:
        return OriginRounds(validation_rounds, fallback="split.round_origins is 0")
    when = pd.to_datetime(pd.Series(np.asarray(cutoffs))).to_numpy()
    day = str(pd.Timestamp(validation).date())
    found: dict[str, int] = {}
    for replay in replays(pd.Series(when), horizon_days, origins):
        train, origin = _indices(when, replay)
        if not (_informative(labels[train]) and _informative(labels[origin])):
            continue
        found[str(replay.origin.date())] = max(int(fit_rounds(train, origin)), 1)
    found[day] = validation_rounds
    if len(found) < MIN_ORIGINS:
        return OriginRounds(
            validation_rounds,
            {day: validation_rounds},
            fallback=f"no usable past origin among the cutoffs; split.round_origins={origins}",
        )
    return OriginRounds(max(round(float(np.median(list(found.values())))), 1), found)


def _indices(when: np.ndarray, replay: Replay) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the replay's training cutoffs and of its origin."""
    train = np.isin(when, np.asarray(replay.train, dtype="datetime64[ns]"))
    return np.flatnonzero(train), np.flatnonzero(when == np.datetime64(replay.origin))


def _informative(labels: np.ndarray) -> bool:
    """Rows a booster can be fitted and early-stopped on: some label varies."""
    return bool(labels.size) and float(np.min(labels)) != float(np.max(labels))
