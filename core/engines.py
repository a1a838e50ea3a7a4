"""Where features are built (the ``engine`` key) and how the dask engine runs (the ``dask`` section).

Plain settings: ``features.engine`` and ``features.dask_engine`` start the engines from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

Engine = Literal["pandas", "dask"]
"""pandas: features in this process; dask: per customer partition on a Dask cluster."""
ENGINES: tuple[Engine, ...] = get_args(Engine)
TrainMode = Literal["auto", "memory", "sample"]
"""How training brings the customer-level table into memory (``dask.train``)."""
LABELLED_ON_DASK = (
    "engine: dask does not read a labelled snapshots table (data.snapshots): the dask engine "
    "partitions event histories (data.transactions) by customer, and a labelled table has one "
    "row per customer and as_of day and no history to partition; it is read whole in memory by "
    "engine: pandas, so set engine: pandas"
)
MEMORY_SHARE = 0.5
"""Default training memory budget: this share of the memory available when training starts."""


class DaskConfig(BaseModel):
    """Where and how the ``dask`` engine runs (the experiment config's ``dask`` section).

    Environment and command line win over the file: ``RETAIN_DASK_SCHEDULER`` and
    ``--scheduler`` name a cluster to join.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheduler: str | None = Field(
        None,
        description="Address of a running Dask scheduler (tcp://host:8786); unset: a local "
        "cluster on 127.0.0.1 sized to this machine.",
    )
    workers: int | None = Field(
        None, ge=1, description="Local cluster: worker processes (default one per core)."
    )
    memory_limit: str | None = Field(
        None,
        description="Local cluster: memory per worker, e.g. 4GB (default: the machine's memory "
        "shared equally); workers spill to disk past 60% of it.",
    )
    partitions: int | None = Field(
        None,
        ge=1,
        description="Customer partitions (default: four per input file, at least four); each "
        "partition's history must fit in one worker's memory several times over.",
    )
    work_dir: Path | None = Field(
        None,
        description="Where the canonical tables and outputs go, partitioned (default "
        "the workspace's dask/); on a cluster, a folder every worker can read and write.",
    )
    train: TrainMode = Field(
        "auto",
        description="How training brings the customer-level table into memory: memory (whole), "
        "sample (a seeded customer sample of sample_fraction) or auto (whole if the estimated "
        "size fits memory_budget, else the largest sample that fits).",
    )
    sample_fraction: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="Share of customers kept when train is sample (each customer wholly in or "
        "out, decided by a hash of its id and the experiment's seed).",
    )
    memory_budget: int | None = Field(
        None,
        gt=0,
        description="Memory for the training table, in bytes or as text such as 4GB (default: "
        f"{MEMORY_SHARE:.0%} of the memory available when training starts).",
    )

    @field_validator("memory_budget", mode="before")
    @classmethod
    def _bytes(cls, value: object) -> object:
        if isinstance(value, str):
            from dask.utils import parse_bytes

            try:
                return parse_bytes(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a size: give bytes or text such as 4GB or 512MiB"
                ) from None
        return value

    def budget(self) -> int:
        """The configured memory budget, else a share of the memory available now."""
        if self.memory_budget is not None:
            return self.memory_budget
        import psutil  # type: ignore[import-untyped]

        return int(MEMORY_SHARE * psutil.virtual_memory().available)

    def resolved(self, base: Path) -> DaskConfig:
        """This config with a relative ``work_dir`` taken against ``base`` (the config's folder)."""
        if self.work_dir is None or self.work_dir.is_absolute():
            return self
        return self.model_copy(update={"work_dir": base / self.work_dir})

    def settings(self, scheduler: str | None = None) -> ClusterSettings:
        """How to reach the cluster: ``scheduler`` (the command line's) wins over the file's."""
        return ClusterSettings(
            scheduler=scheduler or self.scheduler,
            workers=self.workers,
            memory_limit=self.memory_limit,
        )


@dataclass(frozen=True)
class ClusterSettings:
    """How to reach Dask: a scheduler to join, or the size of the local cluster to start.

    ``scheduler`` (or the ``RETAIN_DASK_SCHEDULER`` environment variable) joins an existing
    cluster; without it a ``LocalCluster`` on 127.0.0.1 is started with ``workers`` worker
    processes of ``threads`` threads and ``memory_limit`` each (Dask spills to disk past 60% of
    it and pauses a worker at 80%), sized by default to this machine's cores and memory.
    """

    scheduler: str | None = None
    workers: int | None = None
    threads: int = 1
    memory_limit: str | None = None
    processes: bool = True
