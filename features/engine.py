"""Where features are computed: in this process (``pandas``) or on a Dask cluster (``dask``).

Both engines offer the same three steps, so training and batch scoring are written once:

* ``load(data_config)``: the canonical tables and the load reports (``features.loading``);
* ``snapshots(prep, cutoffs, ...)``: as ``features.snapshots.build_snapshots``;
* ``features(prep, as_of, ...)``: as ``features.build.build_features``.

The ``dask`` engine reads partitioned Parquet, validates and builds per customer partition with
the same functions (``features.dask_engine``) and returns the same frames; its ``load`` also
gathers the canonical tables, for the steps that need the whole history in memory (training's
baselines and the registry's fingerprint), which one row per customer and event fits.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from core.engines import DaskConfig, Engine
from core.sources import DataConfig, is_url
from features.build import CUTOFF, build_features, resolve_families
from features.labels import LabelReport
from features.loading import CustomerData, TableReport, load_data
from features.prepare import PreparedData
from features.snapshots import build_snapshots


class PandasEngine:
    """Everything in this process: the default."""

    name: Engine = "pandas"

    def __enter__(self) -> PandasEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def load(self, config: DataConfig) -> tuple[CustomerData, list[TableReport]]:
        return load_data(config)

    def snapshots(
        self,
        prep: PreparedData,
        cutoffs: Sequence[pd.Timestamp],
        horizon_days: int,
        *,
        families: Sequence[str] | None,
        active_days: int | None,
        progress: bool,
    ) -> tuple[pd.DataFrame, list[LabelReport]]:
        return build_snapshots(
            prep,
            cutoffs,
            horizon_days,
            families=families,
            active_days=active_days,
            progress=progress,
        )

    def features(
        self, prep: PreparedData, as_of: pd.Timestamp, *, families: Sequence[str] | None
    ) -> pd.DataFrame:
        return build_features(prep, as_of, families=families)


class DaskEngine:
    """Partitioned Parquet in, every step per customer partition on a Dask cluster.

    ``scheduler`` joins a running cluster (else ``settings.scheduler``, else
    ``RETAIN_DASK_SCHEDULER``, else a local cluster). Use it as a context manager: the client
    (and a local cluster) close on exit. The dashboard address is printed on entry.
    """

    name: Engine = "dask"

    def __init__(
        self,
        settings: DaskConfig | None = None,
        *,
        work_dir: Path,
        scheduler: str | None = None,
        progress: bool = True,
    ) -> None:
        self.settings: DaskConfig = settings or DaskConfig()
        self.default_work_dir = work_dir
        self.scheduler = scheduler
        self.progress = progress
        self.client: Any = None
        self.parted: Any = None

    @property
    def work_dir(self) -> Path:
        return self.settings.work_dir or self.default_work_dir

    def __enter__(self) -> DaskEngine:
        from features.dask_engine import start_client

        self.client = start_client(self.settings.settings(self.scheduler))
        print(f"dask dashboard: {self.client.dashboard_link}", file=sys.stderr, flush=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.client is not None:
            cluster = self.client.cluster
            self.client.close()
            if cluster is not None and self.settings.settings(self.scheduler).scheduler is None:
                cluster.close()

    def partitions_for(self, config: DataConfig) -> int:
        """Configured partitions, else four per transactions file (at least four): with the
        benchmark's files of about 5M rows, partitions of about 1.25M rows, which peaked at about
        3 GB per worker."""
        if self.settings.partitions:
            return self.settings.partitions
        assert config.transactions is not None
        return max(4, 4 * parquet_files(config.transactions.path))

    def load_partitioned(self, config: DataConfig) -> Any:
        from features.dask_engine import load_partitioned

        self.parted = load_partitioned(
            config,
            self.work_dir / "tables",
            npartitions=self.partitions_for(config),
            progress=self.progress,
        )
        return self.parted

    def load(self, config: DataConfig) -> tuple[CustomerData, list[TableReport]]:
        parted = self.load_partitioned(config)
        return parted.gather(), parted.reports

    def snapshots(
        self,
        prep: PreparedData,
        cutoffs: Sequence[pd.Timestamp],
        horizon_days: int,
        *,
        families: Sequence[str] | None,
        active_days: int | None,
        progress: bool,
    ) -> tuple[pd.DataFrame, list[LabelReport]]:
        """``build_snapshots`` per partition; ``prep`` (the gathered data) is not read."""
        out, reports = self.snapshot_parts(
            cutoffs, horizon_days, families=families, active_days=active_days, progress=progress
        )
        return self.read_snapshots(out, min(cutoffs)), reports

    def snapshot_parts(
        self,
        cutoffs: Sequence[pd.Timestamp],
        horizon_days: int,
        *,
        families: Sequence[str] | None,
        active_days: int | None,
        progress: bool,
    ) -> tuple[Any, list[LabelReport]]:
        """``build_snapshots`` per partition, left on disk (``PartitionOutputs``), and the label
        report of each cutoff over all partitions."""
        from features.dask_engine import SnapshotTask, map_partitions, merge_label_reports

        ordered = tuple(sorted(pd.Timestamp(c).normalize() for c in cutoffs))
        task = SnapshotTask(ordered, horizon_days, self._families(families), active_days)
        out = map_partitions(self.parted, task, self.work_dir / "snapshots", progress=progress)
        reports = [merge_label_reports([r[i] for r in out.extras]) for i in range(len(ordered))]
        return out, reports

    def read_snapshots(self, out: Any, first: pd.Timestamp, sample: Any = None) -> pd.DataFrame:
        """The snapshot rows ``snapshot_parts`` wrote from the first cutoff ``first`` on (of
        ``sample``'s customers only, if given)."""
        from features.dask_engine import read_parts

        frame = read_parts(out, index=False, sample=sample)
        # Parquet may store the cutoff at another resolution: give it the dtype
        # build_snapshots' insert of the cutoff gives
        probe = pd.DataFrame(index=[0])
        probe.insert(0, CUTOFF, pd.Timestamp(first).normalize())
        frame[CUTOFF] = frame[CUTOFF].astype(probe[CUTOFF].dtype)
        return frame

    def _families(self, families: Sequence[str] | None) -> tuple[str, ...]:
        """The families to build, decided once over the whole data: a partition left to decide
        alone could lack a product column another partition fills, and build other columns."""
        return tuple(families or resolve_families(None, self.parted.window()))

    def feature_parts(self, as_of: pd.Timestamp, *, families: Sequence[str] | None) -> Any:
        """``build_features`` at ``as_of`` per partition, left on disk (``PartitionOutputs``)."""
        from features.dask_engine import FeatureTask, map_partitions

        task = FeatureTask(pd.Timestamp(as_of), self._families(families))
        return map_partitions(self.parted, task, self.work_dir / "features", progress=False)

    def features(
        self, prep: PreparedData, as_of: pd.Timestamp, *, families: Sequence[str] | None
    ) -> pd.DataFrame:
        from features.dask_engine import read_parts

        return read_parts(self.feature_parts(as_of, families=families))


def parquet_files(path: Path | str) -> int:
    """How many Parquet files a folder (local or an fsspec URL) holds; 1 for a file or a glob."""
    if not is_url(path):
        local = Path(path)
        return len(list(local.glob("*.parquet"))) if local.is_dir() else 1
    from fsspec.core import url_to_fs  # type: ignore[import-untyped]

    fs, inner = url_to_fs(str(path))
    return len(fs.glob(inner.rstrip("/") + "/*.parquet")) if fs.isdir(inner) else 1


def feature_engine(
    engine: Engine,
    settings: DaskConfig | None = None,
    *,
    work_dir: Path,
    scheduler: str | None = None,
    progress: bool = True,
) -> PandasEngine | DaskEngine:
    """The configured engine (``engine:`` in the experiment config); ``work_dir`` holds the
    dask engine's partitioned tables and outputs unless its settings name another folder."""
    if engine == "dask":
        return DaskEngine(settings, work_dir=work_dir, scheduler=scheduler, progress=progress)
    return PandasEngine()
