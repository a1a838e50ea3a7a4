"""The feature path on Dask: partitioned Parquet in, the same feature functions per partition, out.

Nothing here computes a feature, a label or a snapshot. Each event table is read lazily
(``dask.dataframe``), every row is given the partition of its customer (a hash of the canonical
id, so a customer's whole history lands in one partition of every table), shuffled there, and
then each partition runs the pandas path unchanged: ``validate_table`` (counts summed over
partitions), ``prepare``, ``build_features``, ``make_labels``, ``build_snapshots``.

What the pandas path computes across customers is computed once globally and passed in:

* the data's first and last day (``PreparedData.start_day``/``end_day``), which decide whether a
  label window lies in the data and which month ends are cutoffs;
* the customers table (one row per customer): it is validated whole, exactly as the pandas path
  does (an attribute is numeric only if every value of the column is a number), then split by
  partition;
* readings decided from a column's values (day-first dates, decimal commas in text exports):
  each partition's counts are gathered first and one reading is decided per table
  (``decide_readings``); typed Parquet columns (timestamps, floats) need no reading.

Per-customer results then equal the pandas path's exactly (tests/features/test_dask_engine.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.engines import LABELLED_ON_DASK, ClusterSettings
from core.errors import ConfigError, DataValidationError
from core.schema import CUSTOMER_ID, TABLES
from core.settings import Settings
from core.sources import DataConfig, TableSource
from features.build import CUTOFF, build_features
from features.labels import LabelReport, make_labels
from features.loading import (
    CustomerData,
    RowProblem,
    TableReport,
    load_table,
    parse_ids,
    reading_evidence,
    text_columns,
    validate_table,
)
from features.prepare import PRODUCT_COLUMNS, PreparedData, from_day, prepare
from features.readings import Readings, TableEvidence
from features.sampling import CustomerSample
from features.snapshots import build_snapshots

SCHEDULER_ENV = "RETAIN_DASK_SCHEDULER"
"""Address of a running Dask scheduler to join (``tcp://host:8786``); unset: a local cluster."""
PART = "_retain_part"
"""The column holding each row's customer partition during the shuffle (dropped after it)."""
ROW = "_retain_row"
"""Each row's place in the input (file partition, then row), so a partition is validated in input
order: sums over a customer's rows are then added in the pandas path's order, to the last bit."""
ROW_BITS = 40
EVENT_TABLES = ("transactions", "subscriptions", "interactions")
"""Tables with many rows per customer: read and validated partition by partition."""
WORK_TABLE = "{table}.part{index:05d}.parquet"


def start_client(settings: ClusterSettings | None = None) -> Any:
    """A ``distributed.Client`` on the configured scheduler or a new local cluster.

    The local cluster listens on 127.0.0.1 only; its dashboard address is the client's
    ``dashboard_link``. Nothing is fetched from the internet.
    """
    from distributed import Client, LocalCluster

    settings = settings or ClusterSettings()
    address = settings.scheduler or Settings.read().dask_scheduler
    if address:
        try:
            return Client(address, timeout="20s")
        except OSError as err:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address} ({type(err).__name__}): check the "
                f"address (--scheduler or {SCHEDULER_ENV}) and that the scheduler is running"
            ) from None
    workers = settings.workers or max(1, (os.cpu_count() or 1) // settings.threads)
    memory = settings.memory_limit or "auto"
    # worker processes talk over TCP on loopback; threads in this process over inproc://
    network = {"host": "127.0.0.1"} if settings.processes else {}
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=settings.threads,
        memory_limit=memory,
        processes=settings.processes,
        dashboard_address="127.0.0.1:0",
        **network,
    )
    return Client(cluster)


def read_partitioned(source: TableSource) -> Any:
    """A lazy Dask DataFrame over a Parquet folder, glob or file (CSV: cells read as text).

    The path may be any fsspec URL whose filesystem package is installed.
    """
    import dask.dataframe as dd

    path = str(source.path)
    is_csv = source.format == "csv" or (
        source.format == "auto" and any(s in path.lower() for s in (".csv", ".tsv", ".txt"))
    )
    try:
        if is_csv:
            return dd.read_csv(
                path, sep=source.sep, dtype=str, keep_default_na=False, blocksize="64MB"
            )
        # a partition per row group (about 1M rows for pandas/pyarrow writers), not per file:
        # a 5M-row file read whole and shuffled overruns a 4 GB worker
        return dd.read_parquet(path, split_row_groups=True)
    except (OSError, ValueError) as err:
        raise DataValidationError(
            f"cannot read {path} as partitioned {'CSV' if is_csv else 'Parquet'} "
            f"({type(err).__name__}): give a folder, a glob or a file of that format"
        ) from None


def customer_partition(ids: pd.Series, npartitions: int) -> np.ndarray:
    """The partition of each canonical customer id: a stable hash of the text, modulo the count."""
    hashed = pd.util.hash_pandas_object(ids.astype("str"), index=False).to_numpy()
    return (hashed % np.uint64(npartitions)).astype(np.int64)


def _with_partition(
    frame: pd.DataFrame,
    id_column: str,
    npartitions: int,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    ids = parse_ids(frame[id_column]).fillna("")  # rows without an id: validation counts them
    number = partition_info["number"] if partition_info else 0
    row = (np.int64(number) << ROW_BITS) + np.arange(len(frame), dtype=np.int64)
    return frame.assign(**{PART: customer_partition(ids, npartitions), ROW: row})


def by_customer(raw: Any, source: TableSource, npartitions: int) -> list[Any]:
    """The rows of a lazy table, shuffled so partition ``k`` holds every row of its customers.

    Returns ``npartitions`` delayed pandas frames, where frame ``k`` holds the rows whose
    ``customer_partition`` is ``k`` (the same for every table, as it depends on the id only).
    """
    import dask

    id_column = source.columns.get(CUSTOMER_ID, CUSTOMER_ID)
    if not isinstance(id_column, str) or id_column not in raw.columns:
        raise DataValidationError(
            f"{source.path}: the customer id column {id_column!r} is missing; the data has "
            f"{list(raw.columns)[:30]}: map it as columns.customer_id"
        )
    meta = raw._meta.assign(**{PART: np.int64(0), ROW: np.int64(0)})
    keyed = raw.map_partitions(_with_partition, id_column, npartitions, meta=meta)
    # known divisions [k, k + 1): partition k holds exactly the rows whose key is k
    placed = keyed.set_index(PART, divisions=list(range(npartitions + 1)))
    return [dask.delayed(_drop_key)(part) for part in placed.to_delayed()]


def _drop_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(ROW, kind="stable").drop(columns=ROW).reset_index(drop=True)


@dataclass(frozen=True)
class PartitionSummary:
    """What stage one learnt about one partition: its load reports and its first and last day."""

    index: int
    reports: dict[str, TableReport]
    start_day: int | None
    end_day: int | None
    customers: int


def _validate_partition(
    index: int,
    raw: dict[str, pd.DataFrame],
    customers: pd.DataFrame | None,
    sources: dict[str, TableSource],
    work_dir: str,
    readings: dict[str, Readings] | None = None,
) -> PartitionSummary:
    """Validate one partition's tables (the pandas loader, with the readings decided over the
    whole table) and write them canonical."""
    reports: dict[str, TableReport] = {}
    frames: dict[str, pd.DataFrame] = {}
    for name, frame in raw.items():
        try:
            clean, report = validate_table(
                frame,
                TABLES[name],
                source=sources[name],
                source_name=str(sources[name].path),
                readings=(readings or {}).get(name),
            )
        except DataValidationError as err:
            if "none of the" in str(err):  # a partition may be all bad; the total decides
                clean = frame.iloc[0:0]
                report = TableReport(name, str(sources[name].path), rows_read=len(frame))
                report.problems.append(RowProblem("*", str(err).splitlines()[0], len(frame), ()))
            else:
                raise
        reports[name] = report
        frames[name] = clean
    if customers is not None:
        frames["customers"] = customers
    start = end = None
    n = 0
    if len(frames["transactions"]):
        prep = prepare(CustomerData(**frames))
        start, end, n = prep.start_day, prep.end_day, prep.n_customers
    for name, clean in frames.items():
        clean.to_parquet(Path(work_dir) / WORK_TABLE.format(table=name, index=index))
    return PartitionSummary(index, reports, start, end, n)


def merge_reports(parts: Sequence[TableReport]) -> TableReport:
    """One table's report over all partitions: counts summed, problems merged by reason."""
    first = parts[0]
    merged = TableReport(first.table, first.source, rows_read=sum(p.rows_read for p in parts))
    merged.rows_kept = sum(p.rows_kept for p in parts)
    merged.duplicates_dropped = sum(p.duplicates_dropped for p in parts)
    problems: dict[tuple[str, str], RowProblem] = {}
    for k, part in enumerate(parts):
        for p in part.problems:
            examples = tuple(f"partition {k} {e}" for e in p.examples)
            if (p.column, p.problem) in problems:
                old = problems[(p.column, p.problem)]
                examples = (old.examples + examples)[:3]
                problems[(p.column, p.problem)] = RowProblem(
                    p.column, p.problem, old.count + p.count, examples
                )
            else:
                problems[(p.column, p.problem)] = RowProblem(
                    p.column, p.problem, p.count, examples[:3]
                )
    merged.problems = list(problems.values())
    merged.warnings = list(dict.fromkeys(w for p in parts for w in p.warnings))
    return merged


@dataclass(frozen=True)
class PartitionedData:
    """Canonical tables written one Parquet file per table and customer partition.

    ``start_day`` and ``end_day`` are the whole data's, which label windows and cutoffs need.
    """

    work_dir: Path
    npartitions: int
    tables: tuple[str, ...]
    reports: list[TableReport]
    start_day: int
    end_day: int
    customers: int

    @property
    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return from_day(self.start_day), from_day(self.end_day)

    def tables_of(
        self, index: int, sample: CustomerSample | None = None
    ) -> dict[str, pd.DataFrame]:
        """Partition ``index``'s canonical tables as ``features.loading`` leaves them (only
        ``sample``'s customers' rows, if given)."""
        tables = {}
        for name in self.tables:
            table = pd.read_parquet(self.work_dir / WORK_TABLE.format(table=name, index=index))
            if sample is not None:
                table = table.loc[sample.keep(table[CUSTOMER_ID])]
            tables[name] = table.reset_index(drop=True)
        return tables

    def gather(self, sample: CustomerSample | None = None) -> CustomerData:
        """Every partition's tables in one ``CustomerData``, for work that needs the whole history
        in memory (training's baselines); with ``sample``, only its customers' rows, filtered
        partition by partition. Within a customer, rows keep the input order, so per-customer
        sums add in the pandas path's order."""
        parts = [self.tables_of(k, sample) for k in range(self.npartitions)]
        return CustomerData(
            **{name: pd.concat([p[name] for p in parts], ignore_index=True) for name in self.tables}
        )

    def table_files(self, name: str) -> list[Path]:
        """The canonical Parquet files of table ``name``, one per partition."""
        return [
            self.work_dir / WORK_TABLE.format(table=name, index=k) for k in range(self.npartitions)
        ]

    def window(self) -> PreparedData:
        """A prepared partition with the whole data's window, tables and filled product columns:
        what cutoffs, feature families and label windows are decided from without gathering the
        history."""
        first = next(p for k in range(self.npartitions) if (p := self.partition(k)) is not None)
        return dataclasses.replace(first, filled=self.filled_columns())

    def filled_columns(self) -> frozenset[str]:
        """The optional product columns of the transactions with a value in some partition."""
        filled: set[str] = set()
        for path in self.table_files("transactions"):
            lines = pd.read_parquet(path, columns=list(PRODUCT_COLUMNS))
            filled |= {c for c in PRODUCT_COLUMNS if lines[c].notna().any()}
        return frozenset(filled)

    def partition(self, index: int) -> PreparedData | None:
        """Partition ``index`` prepared by ``features.prepare``, with the whole data's window."""
        frames = self.tables_of(index)
        if not len(frames["transactions"]):
            return None
        prep = prepare(CustomerData(**frames))
        return dataclasses.replace(prep, start_day=self.start_day, end_day=self.end_day)


def decide_readings(
    lazy: dict[str, Any], sources: dict[str, TableSource]
) -> tuple[dict[str, Readings], dict[str, list[str]]]:
    """Day/month order and decimal marks decided once per table from every partition's counts
    (``features.loading.reading_evidence`` on the text date and number columns only), so every
    partition reads its values the same way, as the pandas path reads the whole table.

    Returns the readings and the warnings they give, by table; typed columns need neither.
    """
    import dask

    tasks: dict[str, list[Any]] = {}
    for name, raw in lazy.items():
        columns = text_columns(raw._meta, TABLES[name], sources[name])
        if columns:
            parts = raw[list(columns)].to_delayed()
            tasks[name] = [
                dask.delayed(reading_evidence)(p, TABLES[name], sources[name]) for p in parts
            ]
    found = compute([t for ts in tasks.values() for t in ts])
    readings: dict[str, Readings] = {}
    notes: dict[str, list[str]] = {}
    at = 0
    for name, ts in tasks.items():
        evidence = TableEvidence.merge(found[at : at + len(ts)])
        at += len(ts)
        source = sources[name]
        try:
            readings[name], notes[name] = evidence.decide(
                dayfirst=source.dayfirst,
                explicit="dayfirst" in source.model_fields_set,
                sep=source.sep,
                decimal=source.decimal,
            )
        except DataValidationError as err:
            raise DataValidationError(f"{name} ({source.path}): {err}") from None
    return readings, notes


def refuse_labelled(config: DataConfig) -> None:
    """The one refusal of a labelled snapshots table on the dask engine, with the alternative."""
    if config.labelled:
        raise ConfigError(LABELLED_ON_DASK)


def load_partitioned(
    config: DataConfig,
    work_dir: Path,
    *,
    npartitions: int,
    progress: bool = False,
) -> PartitionedData:
    """Read, shuffle by customer and validate every event table; write them canonical per partition.

    The customers table is validated whole (one row per customer) and split by partition.
    Under ``config.strict`` any excluded row is an error, as in ``load_data``.
    """
    import dask

    from features.loading import raise_if_unclean

    refuse_labelled(config)
    if config.transactions is None:
        raise ConfigError("the dask engine needs a transactions table (data.transactions)")
    if npartitions < 1:
        raise ConfigError(f"partitions must be at least 1, got {npartitions}")
    work_dir.mkdir(parents=True, exist_ok=True)
    sources = config.event_sources()
    events = {n: s for n, s in sources.items() if n in EVENT_TABLES}
    lazy = {name: read_partitioned(source) for name, source in events.items()}
    readings, notes = decide_readings(lazy, events)
    shuffled = {
        name: by_customer(lazy[name], source, npartitions) for name, source in events.items()
    }
    customer_parts: list[pd.DataFrame | None] = [None] * npartitions
    customer_report: TableReport | None = None
    if "customers" in sources:
        customers, customer_report = load_table(sources["customers"], TABLES["customers"])
        where = customer_partition(customers[CUSTOMER_ID], npartitions)
        customer_parts = [
            customers.loc[where == k].reset_index(drop=True) for k in range(npartitions)
        ]
    tasks = [
        dask.delayed(_validate_partition)(
            k,
            {name: parts[k] for name, parts in shuffled.items()},
            customer_parts[k],
            events,
            str(work_dir),
            readings,
        )
        for k in range(npartitions)
    ]
    summaries: list[PartitionSummary] = list(compute(tasks, progress=progress))
    reports = [merge_reports([s.reports[name] for s in summaries]) for name in events]
    for report, name in zip(reports, events, strict=True):
        report.warnings[:0] = notes.get(name, [])
    if customer_report is not None:
        reports.insert(1, customer_report)
    for r in reports:
        if r.rows_read and not r.rows_kept:
            raise DataValidationError(
                f"{r.table} ({r.source}): none of the {r.rows_read:,} rows is usable\n"
                + "\n".join(r.lines()[1:])
            )
    if config.strict:
        raise_if_unclean(reports)
    starts = [s.start_day for s in summaries if s.start_day is not None]
    ends = [s.end_day for s in summaries if s.end_day is not None]
    return PartitionedData(
        work_dir=work_dir,
        npartitions=npartitions,
        tables=tuple(n for n in ("transactions", "customers", *EVENT_TABLES[1:]) if n in sources),
        reports=reports,
        start_day=min(starts),
        end_day=max(ends),
        customers=sum(s.customers for s in summaries),
    )


def compute(tasks: Sequence[Any], *, progress: bool = False) -> list[Any]:
    """Run delayed tasks on the current client, with a progress bar when asked."""
    import dask

    try:
        from distributed import get_client
        from distributed import progress as show_progress

        client = get_client()
    except ValueError:  # no distributed client: the local threaded scheduler
        from dask.diagnostics import ProgressBar

        if progress:
            with ProgressBar():
                return list(dask.compute(*tasks))
        return list(dask.compute(*tasks))
    futures = client.compute(list(tasks))
    if progress:
        show_progress(futures)
        print()
    return list(client.gather(futures))


@dataclass(frozen=True)
class PartitionOutputs:
    """What ``map_partitions`` wrote: one Parquet file per non-empty partition, and what else each
    partition's task returned (label reports, for instance), in the same order."""

    paths: list[Path]
    extras: list[Any]


def map_partitions(
    data: PartitionedData,
    build: Callable[[PreparedData], tuple[pd.DataFrame, Any]],
    out_dir: Path,
    *,
    progress: bool = False,
) -> PartitionOutputs:
    """Run ``build`` on every prepared partition and write its frame as ``part.NNNNN.parquet``.

    ``build`` returns the frame to write and anything else to hand back (e.g. label reports).
    Each file is written to a temporary name and renamed, so a file present is whole.
    """
    import dask

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("part.*.parquet"):
        stale.unlink()
    tasks = [
        dask.delayed(_build_partition)(data, k, build, str(out_dir))
        for k in range(data.npartitions)
    ]
    done = [r for r in compute(tasks, progress=progress) if r is not None]
    return PartitionOutputs([Path(p) for p, _ in done], [extra for _, extra in done])


def _build_partition(
    data: PartitionedData,
    index: int,
    build: Callable[[PreparedData], tuple[pd.DataFrame, Any]],
    out: str,
) -> tuple[str, Any] | None:
    prep = data.partition(index)
    if prep is None:
        return None
    frame, extra = build(prep)
    path = Path(out) / f"part.{index:05d}.parquet"
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp)
    tmp.replace(path)
    return str(path), extra


@dataclass(frozen=True)
class FeatureTask:
    """``build_features`` at one cutoff, as a picklable callable for the workers."""

    as_of: pd.Timestamp
    families: tuple[str, ...] | None = None

    def __call__(self, prep: PreparedData) -> tuple[pd.DataFrame, None]:
        return build_features(prep, self.as_of, families=self.families), None


@dataclass(frozen=True)
class LabelTask:
    """``make_labels`` at one cutoff (the window checked against the whole data)."""

    as_of: pd.Timestamp
    horizon_days: int
    active_days: int | None = 365

    def __call__(self, prep: PreparedData) -> tuple[pd.DataFrame, LabelReport]:
        return make_labels(prep, self.as_of, self.horizon_days, active_days=self.active_days)


@dataclass(frozen=True)
class SnapshotTask:
    """``build_snapshots`` over the cutoffs, one partition of customers at a time."""

    cutoffs: tuple[pd.Timestamp, ...]
    horizon_days: int
    families: tuple[str, ...] | None = None
    active_days: int | None = 365

    def __call__(self, prep: PreparedData) -> tuple[pd.DataFrame, list[LabelReport]]:
        return build_snapshots(
            prep,
            self.cutoffs,
            self.horizon_days,
            families=self.families,
            active_days=self.active_days,
            progress=False,
        )


def merge_label_reports(parts: Sequence[LabelReport]) -> LabelReport:
    """One cutoff's label report over all partitions: counts summed, churn rate re-weighted."""
    labelled = sum(p.labelled for p in parts)
    churners = sum(p.churn_rate * p.labelled for p in parts if p.labelled)
    excluded: dict[str, int] = {}
    for p in parts:
        for why, n in p.excluded.items():
            excluded[why] = excluded.get(why, 0) + n
    return LabelReport(
        cutoff=parts[0].cutoff,
        horizon_days=parts[0].horizon_days,
        labelled=labelled,
        churn_rate=churners / labelled if labelled else float("nan"),
        excluded=excluded,
    )


def read_parts(
    paths: Sequence[Path] | PartitionOutputs,
    *,
    index: bool = True,
    sample: CustomerSample | None = None,
) -> pd.DataFrame:
    """The frames ``map_partitions`` wrote, concatenated and sorted as the pandas path sorts them:
    by customer id (the index) or, for snapshot rows, by cutoff then customer. With ``sample``,
    each file keeps only the sampled customers' rows before the next is read."""
    files = paths.paths if isinstance(paths, PartitionOutputs) else paths
    frames = [_read_part(p, index=index, sample=sample) for p in files]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames)
    if index:
        return frame.sort_index(kind="stable")
    keys = [k for k in (CUTOFF, CUSTOMER_ID) if k in frame.columns]
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def _read_part(path: Path, *, index: bool, sample: CustomerSample | None) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    if sample is None:
        return frame
    return frame.loc[sample.keep(frame.index if index else frame[CUSTOMER_ID])]


def estimate_bytes(files: Sequence[Path]) -> tuple[int, int]:
    """Rows of Parquet ``files`` (from their metadata) and their estimated size in memory: the
    rows times the bytes per row of the first non-empty file read whole (``deep`` memory usage,
    so text is counted)."""
    import pyarrow.parquet as pq

    rows = [pq.ParquetFile(f).metadata.num_rows for f in files]
    total = int(sum(rows))
    first = next((f for f, n in zip(files, rows, strict=True) if n), None)
    if first is None:
        return 0, 0
    frame = pd.read_parquet(first)
    per_row = frame.memory_usage(deep=True, index=True).sum() / max(len(frame), 1)
    return total, int(total * per_row)


__all__ = [
    "FeatureTask",
    "LabelTask",
    "PartitionOutputs",
    "PartitionedData",
    "SnapshotTask",
    "decide_readings",
    "estimate_bytes",
    "load_partitioned",
    "map_partitions",
    "merge_label_reports",
    "read_parts",
    "refuse_labelled",
    "start_client",
]
