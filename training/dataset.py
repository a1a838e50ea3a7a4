"""From an experiment config to the training frame: load, snapshot at cutoffs, split out of time.

The split never mixes time: the test cutoff is the latest labellable one, validation is the latest
whose horizon ends by the test cutoff, and training cutoffs are those whose horizon ends by the
validation cutoff. So no label a model learns from, or is tuned on, overlaps the test horizon.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import ExperimentConfig
from core.errors import CutoffError
from core.schema import CUSTOMER_ID
from core.settings import retain_home
from features.build import (
    CUTOFF,
    btyd_summary_at,
    feature_names,
    resolve_families,
    unbuilt_note,
)
from features.dask_engine import PartitionedData
from features.engine import DaskEngine, PandasEngine, feature_engine
from features.labels import CHURN, FUTURE_VALUE, LabelReport, check_window, make_labels
from features.prepare import PreparedData, prepare, to_day
from features.sampling import TrainingPlan, plan_training
from features.snapshots import month_end_cutoffs
from model.btyd_features import BtydParams
from training.baselines import cutoff_btyd_params
from training.frame import (
    BTYD,
    Split,
    TrainingData,
    check_both_classes,
    data_fingerprint,
    out_of_time_split,
)
from training.labelled_data import load_labelled_training_data
from training.leakage import check_leakage


def load_training_data(
    config: ExperimentConfig, *, progress: bool = True, scheduler: str | None = None
) -> TrainingData:
    """Load the configured tables, build snapshots at every needed cutoff and split them.

    Before anything is fitted, the leakage guard checks the training rows (``training.leakage``).
    A labelled snapshots table takes the other path, ``training.labelled_data``.
    """
    if config.data.labelled:
        return load_labelled_training_data(config, progress=progress)
    engine = feature_engine(
        config.engine,
        config.dask,
        work_dir=retain_home() / "dask",
        scheduler=scheduler,
        progress=progress,
    )
    with engine:
        return _training_data(config, engine, progress=progress)


def _training_data(
    config: ExperimentConfig, engine: PandasEngine | DaskEngine, *, progress: bool
) -> TrainingData:
    """``load_training_data`` on one engine: the dask engine builds the snapshots and the test
    cutoff's features per customer partition (``_dask_training_data``); the rest runs in memory."""
    if isinstance(engine, DaskEngine):
        return _dask_training_data(config, engine, progress=progress)
    data, load_reports = engine.load(config.data)
    prep = prepare(data)  # once per run: every cutoff below reuses these arrays
    families, split, active_days = _plan_cutoffs(config, prep)
    frame, label_reports = engine.snapshots(
        prep,
        [*split.train, split.validation],
        config.horizon_days,
        families=families,
        active_days=active_days,
        progress=progress,
    )
    test_features = engine.features(prep, split.test, families=[*families, BTYD])
    training = _assemble(
        config, prep, families, split, frame, label_reports, test_features, active_days
    )
    return dataclasses.replace(
        training,
        load_reports=load_reports,
        fingerprint=data_fingerprint(data.transactions),
        rows=int(np.sum([r.rows_read for r in load_reports])),
        sampling=_sampling_tags("memory", 1.0, len(training.frame), len(training.frame)),
    )


def _dask_training_data(
    config: ExperimentConfig, engine: DaskEngine, *, progress: bool
) -> TrainingData:
    """The snapshots and test-cutoff features are built per partition and left on disk; then the
    training table (with the event history the baselines read) is loaded whole or as a customer
    sample, as ``dask.train`` and the estimated size decide (``features.sampling``)."""
    from features.dask_engine import LabelTask, map_partitions, merge_label_reports, read_parts

    parted = engine.load_partitioned(config.data)
    window = parted.window()
    families, split, active_days = _plan_cutoffs(config, window)
    train_cutoffs = [*split.train, split.validation]
    snap_out, label_reports = engine.snapshot_parts(
        train_cutoffs,
        config.horizon_days,
        families=families,
        active_days=active_days,
        progress=progress,
    )
    test_out = engine.feature_parts(split.test, families=[*families, BTYD])
    plan = _training_plan(config, parted, [snap_out.paths, test_out.paths])
    print(plan.describe(), file=sys.stderr, flush=True)
    sample = plan.sample
    data = parted.gather(sample)
    prep = dataclasses.replace(prepare(data), start_day=parted.start_day, end_day=parted.end_day)
    frame = engine.read_snapshots(snap_out, min(train_cutoffs), sample)
    test_features = read_parts(test_out, sample=sample)
    training = _assemble(
        config, prep, families, split, frame, label_reports, test_features, active_days
    )
    label_reports = training.label_reports
    if sample is not None:
        # the reports describe the whole data, as the training cutoffs' do: the test cutoff's too
        task = LabelTask(split.test, config.horizon_days, active_days)
        whole = map_partitions(parted, task, engine.work_dir / "labels", progress=False)
        label_reports = [*label_reports[:-1], merge_label_reports(whole.extras)]
    return dataclasses.replace(
        training,
        load_reports=parted.reports,
        label_reports=label_reports,
        fingerprint=data_fingerprint(data.transactions),
        rows=int(np.sum([r.rows_read for r in parted.reports])),
        sampling=_sampling_tags(
            plan.mode,
            plan.fraction,
            sum(r.labelled for r in label_reports),
            len(training.frame),
        ),
    )


def _training_plan(
    config: ExperimentConfig, parted: PartitionedData, outputs: list[list[Path]]
) -> TrainingPlan:
    """``dask.train`` applied to the estimated size of what training loads: the snapshot rows,
    the test cutoff's features and the event history (rows from Parquet metadata, bytes per row
    from one partition)."""
    from features.dask_engine import estimate_bytes

    files = [*outputs, *(parted.table_files(name) for name in parted.tables)]
    size = sum(estimate_bytes(f)[1] for f in files)
    settings = config.dask
    return plan_training(
        settings.train,
        fraction=settings.sample_fraction,
        seed=config.seed,
        table_bytes=size,
        budget=settings.budget(),
    )


def _sampling_tags(mode: str, fraction: float, rows_total: int, rows_used: int) -> dict[str, str]:
    """The ``train.*`` tags: whole table or sample, and the rows of each."""
    return {
        "train.mode": mode,
        "train.sample_fraction": f"{fraction:g}",
        "train.rows_total": str(rows_total),
        "train.rows_used": str(rows_used),
    }


def _plan_cutoffs(
    config: ExperimentConfig, prep: PreparedData
) -> tuple[list[str], Split, int | None]:
    """The feature families, the out-of-time split and the active window, from the data's
    tables and first and last day."""
    if config.contractual and prep.subscriptions is None:
        raise CutoffError("business: contractual needs a subscriptions table in data")
    families = resolve_families(config.families, prep)
    if config.split.cutoffs:
        cutoffs = [pd.Timestamp(c) for c in config.split.cutoffs]
    else:
        cutoffs = month_end_cutoffs(
            prep,
            config.horizon_days,
            min_history_days=config.split.min_history_days,
            every_months=config.split.every_months,
        )
    split = out_of_time_split(cutoffs, config.horizon_days, config.split.max_train_cutoffs)
    active_days = None if config.contractual else config.active_days
    check_window(prep, to_day(split.test), config.horizon_days)
    return families, split, active_days


def _assemble(
    config: ExperimentConfig,
    prep: PreparedData,
    families: list[str],
    split: Split,
    frame: pd.DataFrame,
    label_reports: list[LabelReport],
    test_features: pd.DataFrame,
    active_days: int | None,
) -> TrainingData:
    """The training frame from the training cutoffs' snapshot rows and the test cutoff's
    features, split into parts and checked; the caller adds the provenance (load reports,
    fingerprint, rows read, ``train.*`` tags)."""
    test_frame, test_report = _snapshot(
        test_features, families, prep, split.test, config.horizon_days, active_days
    )
    frame = pd.concat([frame, test_frame], ignore_index=True).sort_values(
        [CUTOFF, CUSTOMER_ID], kind="stable", ignore_index=True
    )
    label_reports = [*label_reports, test_report]
    features = [c for c in frame.columns if c not in (CUSTOMER_ID, CUTOFF, CHURN, FUTURE_VALUE)]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    parts = np.select(
        [frame[CUTOFF].isin(split.train), frame[CUTOFF] == split.validation],
        ["train", "validation"],
        "test",
    )
    for name in ("train", "validation", "test"):
        if not (parts == name).any():
            raise CutoffError(
                f"no customer is active at the {name} cutoff(s) ({_dates(split, name)}), so "
                "there is nothing to learn or evaluate: check the data's dates and active_days"
            )
    check_both_classes(frame, parts)
    warnings = check_leakage(
        frame.loc[frame[CUTOFF].isin(split.train)], features, config.leakage, config.seed
    )
    if config.families is None and (unbuilt := unbuilt_note(families, prep)):
        warnings.append(unbuilt)
    btyd_params: dict[pd.Timestamp, BtydParams] = {}
    if config.btyd_features and BTYD in families:
        for cutoff in [*split.train, split.validation, split.test]:
            everyone = test_features if cutoff == split.test else btyd_summary_at(prep, cutoff)
            params, notes = cutoff_btyd_params(everyone, config.horizon_days, cutoff)
            btyd_params[cutoff.normalize()] = params
            warnings += notes
    return TrainingData(
        prep=prep,
        families=families,
        frame=frame,
        split=split,
        features=features,
        categorical=categorical,
        load_reports=[],
        label_reports=label_reports,
        fingerprint="",
        rows=0,
        test_features=test_features,
        notes=warnings,
        btyd_params=btyd_params,
    )


def _snapshot(
    features: pd.DataFrame,
    families: list[str],
    prep: PreparedData,
    cutoff: pd.Timestamp,
    horizon_days: int,
    active_days: int | None,
) -> tuple[pd.DataFrame, LabelReport]:
    """The test cutoff's snapshot rows from features already built, as ``build_snapshots`` lays them out."""
    extra = [] if BTYD in families else feature_names([BTYD])
    labels, report = make_labels(prep, cutoff, horizon_days, active_days=active_days)
    joined = features.drop(columns=extra).join(labels, how="inner")
    joined.insert(0, CUTOFF, cutoff.normalize())
    return joined.reset_index(), report


def _dates(split: Split, name: str) -> str:
    days = {"train": split.train, "validation": [split.validation], "test": [split.test]}[name]
    return ", ".join(str(pd.Timestamp(d).date()) for d in days)
