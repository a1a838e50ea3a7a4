"""The training frame from a labelled CRM export (the ``snapshots`` table).

Each snapshot row is one training example: its ``as_of`` day is its cutoff, its ``churned`` flag
(and ``future_value`` when given) its label, its attributes typed by an inferred ``AttributeSchema``
and, when a transaction log is given too, the event features as of that day. Several as_of days
are split out of time as for a transaction log; a single as_of day cannot be, so its customers
are split at random, stratified by churn and seeded, and the evaluation says it is in-time.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from core.config import ExperimentConfig
from core.errors import CutoffError
from core.schema import AS_OF, CUSTOMER_ID
from features.build import CUTOFF, build_features, resolve_families
from features.labelled import (
    CHURN,
    check_no_collision,
    infer_schema,
    labelled_features,
    load_snapshots,
)
from features.labels import FUTURE_VALUE, LabelReport
from features.loading import load_data
from features.prepare import PreparedData, prepare
from training.frame import (
    BTYD,
    Split,
    TrainingData,
    check_both_classes,
    data_fingerprint,
    out_of_time_split,
)
from training.leakage import check_leakage


def load_labelled_training_data(config: ExperimentConfig, *, progress: bool = True) -> TrainingData:
    """Read the snapshots table (and any event tables), infer the schema, build and split rows."""
    source = config.data.snapshots
    assert source is not None
    table = load_snapshots(source, labels=True)
    reports = [table.report]
    prep: PreparedData | None = None
    families: list[str] = []
    fingerprint_parts = [_hash(table.rows)]
    if config.data.transactions is not None:
        data, event_reports = load_data(config.data)
        reports += event_reports
        prep = prepare(data)
        families = resolve_families(config.families, prep)
        fingerprint_parts.append(data_fingerprint(data.transactions))
    inferred = infer_schema(
        table.rows[table.attributes], source, customers=table.rows[CUSTOMER_ID].nunique()
    )
    schema = inferred.schema
    features_frame = labelled_features(table.rows, schema, prep, families)
    check_no_collision(
        schema, features_frame.columns[: len(features_frame.columns) - len(schema.columns)]
    )
    frame = pd.concat(
        [
            table.rows[[CUSTOMER_ID]],
            pd.to_datetime(table.rows[AS_OF]).dt.normalize().rename(CUTOFF),
            features_frame,
            table.rows[[CHURN]],
            (
                table.rows[FUTURE_VALUE]
                if table.has_value
                else pd.Series(np.nan, index=table.rows.index, name=FUTURE_VALUE)
            ),
        ],
        axis=1,
    )
    frame = frame.sort_values([CUTOFF, CUSTOMER_ID], kind="stable", ignore_index=True)
    features = [c for c in frame.columns if c not in (CUSTOMER_ID, CUTOFF, CHURN, FUTURE_VALUE)]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    days = sorted(pd.Timestamp(d) for d in frame[CUTOFF].unique())
    if len(days) == 1:
        split = Split([days[0]], days[0], days[0], in_time=True)
        parts = stratified_parts(frame[CHURN].to_numpy(), config.split.test_share, config.seed)
    else:
        split = out_of_time_split(days, config.horizon_days, config.split.max_train_cutoffs)
        parts = np.select(
            [
                frame[CUTOFF].isin(split.train),
                frame[CUTOFF] == split.validation,
                frame[CUTOFF] == split.test,
            ],
            ["train", "validation", "test"],
            "unused",
        )
    check_both_classes(frame, parts)
    train_rows = frame.loc[parts == "train"]
    warnings = check_leakage(
        train_rows if table.has_value else train_rows.drop(columns=[FUTURE_VALUE]),
        features,
        config.leakage,
        config.seed,
    )
    test_features = None
    if prep is not None:
        test_features = build_features(prep, split.test, families=[*families, BTYD])
    label_reports = [
        LabelReport(
            cutoff=day,
            horizon_days=config.horizon_days,
            labelled=int((frame[CUTOFF] == day).sum()),
            churn_rate=float(frame.loc[frame[CUTOFF] == day, CHURN].mean()),
        )
        for day in days
    ]
    notes = [*table.notes, *inferred.notes, *warnings]
    if not table.has_value:
        notes.append(
            "no future_value label mapped: only the churn model is trained and served; value at "
            "risk comes from economics.recurring_charge when it names a monthly-charge column, "
            "else it is unknown and campaigns rank by churn risk"
        )
    return TrainingData(
        prep=prep,
        families=families,
        frame=frame,
        split=split,
        features=features,
        categorical=categorical,
        load_reports=reports,
        label_reports=label_reports,
        fingerprint=hashlib.sha256("".join(fingerprint_parts).encode()).hexdigest()[:16],
        rows=int(sum(r.rows_read for r in reports)),
        test_features=test_features,
        parts=parts,
        schema=schema,
        has_value=table.has_value,
        notes=notes,
    )


def stratified_parts(churn: np.ndarray, test_share: float, seed: int) -> np.ndarray:
    """'train', 'validation' or 'test' per row: a stratified random test share, then a
    validation share of the rest the same size as the test's share of it (seeded)."""
    rng = np.random.default_rng(seed)
    parts = np.full(len(churn), "train", dtype=object)
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(churn == label))
        n_test = round(len(rows) * test_share)
        n_valid = round((len(rows) - n_test) * test_share)
        parts[rows[:n_test]] = "test"
        parts[rows[n_test : n_test + n_valid]] = "validation"
    if not (parts == "test").any():
        raise CutoffError("the labelled table is too small for a test part; add rows")
    return parts.astype(str)


def _hash(frame: pd.DataFrame) -> str:
    hashes = pd.util.hash_pandas_object(frame.astype("str"), index=False).to_numpy()
    return hashlib.sha256(np.sort(hashes).tobytes()).hexdigest()
