"""The training frame both loaders return, its out-of-time split, and the checks they share.

``training.dataset`` builds it from a transaction log and hands a labelled snapshots table to
``training.labelled_data``; both take the frame and its checks from here, so imports go one way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import CutoffError
from core.schema import ATTRIBUTE_PREFIX, CUSTOMER_ID
from features.build import CUTOFF
from features.labelled import AttributeSchema
from features.labels import CHURN, LabelReport
from features.loading import TableReport
from features.prepare import PreparedData
from model.btyd_features import BtydParams

BTYD = "btyd"


@dataclass(frozen=True)
class Split:
    """Training, validation (early stopping, calibration) and test cutoffs.

    ``in_time``: a labelled table with a single as_of day, split by customer at random (stratified
    by churn) instead of by time; every part then has the same cutoff.
    """

    train: list[pd.Timestamp]
    validation: pd.Timestamp
    test: pd.Timestamp
    in_time: bool = False


def out_of_time_split(
    cutoffs: list[pd.Timestamp], horizon_days: int, max_train: int | None = None
) -> Split:
    """Test on the latest cutoff, validate on the latest one whose horizon ends by it, train before."""
    ordered = sorted(pd.Timestamp(c) for c in cutoffs)
    if not ordered:
        raise CutoffError("no cutoffs to split")
    horizon = pd.Timedelta(days=horizon_days)
    test = ordered[-1]
    earlier = [c for c in ordered if c + horizon <= test]
    if not earlier:
        raise CutoffError(
            f"no cutoff ends its {horizon_days}-day horizon by the test cutoff {test.date()}: "
            f"need cutoffs at least {horizon_days} days apart (have {[str(c.date()) for c in ordered]})"
        )
    validation = earlier[-1]
    train = [c for c in ordered if c + horizon <= validation]
    if not train:
        raise CutoffError(
            f"no training cutoff ends its {horizon_days}-day horizon by the validation cutoff "
            f"{validation.date()}: the data is too short for this horizon. Use a shorter horizon, "
            "an earlier first cutoff (split.min_history_days) or more data."
        )
    if max_train is not None:
        train = train[-max_train:]
    return Split(train=train, validation=validation, test=test)


@dataclass
class TrainingData:
    """Everything the models need, with the provenance MLflow records.

    From a transaction log, labels are derived at each cutoff; from a labelled snapshots table
    (``schema`` set), each row carries its label and ``cutoff`` is its as_of day.
    """

    prep: PreparedData | None
    families: list[str]
    frame: pd.DataFrame
    split: Split
    features: list[str]
    categorical: list[str]
    load_reports: list[TableReport]
    label_reports: list[LabelReport]
    fingerprint: str
    rows: int
    test_features: pd.DataFrame | None
    """Every customer known at the test cutoff: the model features plus the BTYD summary (None
    without a transaction log)."""
    parts: np.ndarray | None = None
    """'train', 'validation' or 'test' per frame row; None: by cutoff (``split``)."""
    schema: AttributeSchema | None = None
    """How a labelled table's attributes become features (None for a transaction log)."""
    has_value: bool = True
    """Whether rows carry a future_value label (the CLV model is trained only then)."""
    notes: list[str] = field(default_factory=list)
    """What loading decided that the user should read (inferred types, floored labels)."""
    sampling: dict[str, str] = field(default_factory=dict)
    """``train.*`` tags: whether the table was loaded whole or sampled, and its rows."""
    btyd_params: dict[pd.Timestamp, BtydParams] = field(default_factory=dict)
    """Per cutoff (normalised), the population fit its BTYD features are derived with; empty
    when the models get no BTYD features (``btyd_features``, or no btyd family)."""

    @property
    def attributes(self) -> list[str]:
        """Customers-table attributes (the profile family's), not a snapshots table's."""
        own = set(self.schema.feature_names) if self.schema else set()
        return [
            c.removeprefix(ATTRIBUTE_PREFIX)
            for c in self.features
            if c.startswith(ATTRIBUTE_PREFIX) and c not in own
        ]

    @property
    def customers(self) -> int:
        if self.prep is not None and self.schema is None:
            return self.prep.n_customers
        return int(self.frame[CUSTOMER_ID].nunique())

    @property
    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The data's first and last day (events, or the snapshots' as_of days)."""
        days = [pd.Timestamp(self.frame[CUTOFF].min()), pd.Timestamp(self.frame[CUTOFF].max())]
        if self.prep is not None:
            start, end = self.prep.date_range
            days = [min(days[0], start), max(days[1], end)]
        return days[0], days[1]

    def part(self, name: str) -> pd.DataFrame:
        """Rows of the 'train', 'validation' or 'test' part."""
        if self.parts is not None:
            return self.frame.loc[self.parts == name].reset_index(drop=True)
        cutoffs = {
            "train": self.split.train,
            "validation": [self.split.validation],
            "test": [self.split.test],
        }[name]
        return self.frame.loc[self.frame[CUTOFF].isin(cutoffs)].reset_index(drop=True)

    def tags(self) -> dict[str, str]:
        start, end = self.date_range
        return {
            "data.fingerprint": self.fingerprint,
            "data.rows": str(self.rows),
            "data.customers": str(self.customers),
            "data.start": str(start.date()),
            "data.end": str(end.date()),
            "data.source": "snapshots" if self.schema is not None else "transactions",
            "split.train": ",".join(str(c.date()) for c in self.split.train),
            "split.validation": str(self.split.validation.date()),
            "split.test": str(self.split.test.date()),
            "split.kind": "in_time" if self.split.in_time else "out_of_time",
            **self.sampling,
        }


def check_both_classes(frame: pd.DataFrame, parts: np.ndarray) -> None:
    """Every part needs churners and non-churners, or churn can be neither learned nor scored."""
    for name in ("train", "validation", "test"):
        part = frame.loc[parts == name, CHURN]
        if part.nunique() < 2:
            what = (
                "no rows"
                if part.empty
                else ("only churners" if part.mean() == 1 else "only non-churners")
            )
            raise CutoffError(
                f"the {name} part has {what} ({len(part):,} rows): churn cannot be learned or "
                "evaluated; check horizon_days, the cutoffs and the data"
            )


def data_fingerprint(transactions: pd.DataFrame) -> str:
    """A content hash of the canonical transactions, independent of row order."""
    hashes = pd.util.hash_pandas_object(transactions, index=False).to_numpy()
    return hashlib.sha256(np.sort(hashes).tobytes()).hexdigest()[:16]
