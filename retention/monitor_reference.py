"""The reference months: how far the features move by themselves within the model's own period.

A feature compared with one reference day (the model's test cutoff) moves with the seasons and as
customers age (a tenure grows a month every month), in a business that changed in no way. So
``retain monitor`` rebuilds from the data, with the code scoring uses (``build_features`` over the
active base, ``features.labels.active_at``), the features at the test cutoff and at the
``monitoring.reference_months`` month ends before it, a period the model was trained on. The
largest PSI and Jensen-Shannon distance a month reached from the reference, and the largest PSI
between two months as far apart as the generations the monitor compares (a month, a quarter),
in the whole base and within each segment (a level of a text attribute), are each feature's
own movement: a generation drifted only beyond
it. Two months are kept whole for the domain classifier's own null (``retention/domain_drift.py``):
the one nearest a year before the generation (its season) and the earliest (the most aged).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from features.build import build_features
from features.labels import active_at
from features.prepare import PreparedData, to_day
from model.drift import FeatureSketch, frame_drift, psi, segment_counts, sketch_frame


@dataclass(frozen=True)
class Spread:
    """The most a feature moved within the reference months (0 when not compared)."""

    psi: float
    js: float
    step: float
    """The largest PSI between two months as far apart as the generations compared (``lag``)."""


@dataclass
class ReferenceMonths:
    """The reference rows, the months rebuilt before them, and each feature's spread."""

    reference: pd.DataFrame
    days: list[str]
    spread: dict[str, Spread]
    kept: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Month frames kept whole for the domain classifier's null, by day."""
    segment_steps: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """The largest step PSI of a feature within one segment (text column, level, feature)
    between two months ``lag`` apart: a segment's own seasons."""


def active_features(
    prep: PreparedData,
    day: pd.Timestamp,
    columns: Sequence[str],
    *,
    active_days: int,
    contractual: bool,
) -> pd.DataFrame:
    """The features ``columns`` of the customers active at ``day`` (the base scoring scores)."""
    frame = build_features(prep, day)
    active, _ = active_at(
        prep, to_day(day), active_days=None if contractual else active_days, contractual=contractual
    )
    ids = pd.Index(prep.ids[active])
    return frame.loc[frame.index.isin(ids), [c for c in columns if c in frame.columns]]


def month_ends(test_cutoff: dt.date, months: int, first: pd.Timestamp) -> list[pd.Timestamp]:
    """The ``months`` month ends before ``test_cutoff``, none before the data's first day."""
    end = pd.Timestamp(test_cutoff)
    days = pd.date_range(end=end - pd.Timedelta(days=1), periods=months, freq="ME")
    return [d for d in days if d > first and d < end]


def reference_months(
    prep: PreparedData,
    test_cutoff: dt.date,
    columns: Sequence[str],
    *,
    months: int,
    active_days: int,
    contractual: bool,
    keep: Sequence[dt.date] = (),
    lag: int = 1,
) -> ReferenceMonths:
    """Rebuild the reference and the months before it (module docstring); the earliest month
    and the month ends nearest each day of ``keep`` are kept whole; steps span ``lag`` months
    (fewer when the months are fewer)."""
    reference = active_features(
        prep, pd.Timestamp(test_cutoff), columns, active_days=active_days, contractual=contractual
    )
    base = sketch_frame(reference)
    days = month_ends(test_cutoff, months, prep.date_range[0])
    wanted = set(days[:1])
    for day in keep if days else ():
        target = pd.Timestamp(day)
        wanted.add(min(days, key=lambda d: abs((d - target).days)))
    sketches: list[dict[str, FeatureSketch]] = []
    segments = []
    kept = {}
    for day in days:
        frame = active_features(
            prep, day, reference.columns, active_days=active_days, contractual=contractual
        )
        sketches.append(sketch_frame(frame, base))
        segments.append(segment_counts(frame, base))
        if day in wanted:
            kept[str(day.date())] = frame
    away = [frame_drift(s, base) for s in sketches]
    lag = max(1, min(lag, len(sketches) - 1))
    steps = [
        frame_drift(now, before) for before, now in zip(sketches, sketches[lag:], strict=False)
    ]
    spread = {
        name: Spread(
            psi=max((a[name].psi for a in away if name in a), default=0.0),
            js=max((a[name].js for a in away if name in a), default=0.0),
            step=max((s[name].psi for s in steps if name in s), default=0.0),
        )
        for name in base
    }
    segment_steps: dict[tuple[str, str, str], float] = {}
    for before, now in zip(segments, segments[lag:], strict=False):
        for column, levels in now.items():
            for level, features in levels.items():
                old = before.get(column, {}).get(level, {})
                for feature, counts in features.items():
                    if feature in old:
                        key = (column, level, feature)
                        step = psi(counts, old[feature])
                        segment_steps[key] = max(segment_steps.get(key, 0.0), step)
    return ReferenceMonths(reference, [str(d.date()) for d in days], spread, kept, segment_steps)


__all__ = ["ReferenceMonths", "Spread", "active_features", "month_ends", "reference_months"]
