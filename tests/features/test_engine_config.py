"""The engine settings of an experiment config: defaults, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.dask_engine import customer_partition, read_partitioned
from features.engine import read_engine_section
from features.errors import ConfigError, DataValidationError
from features.sources import TableSource


def test_defaults_to_pandas_and_resolves_the_work_dir(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: x\n")
    engine, settings = read_engine_section(plain)
    assert (engine, settings.scheduler, settings.work_dir) == ("pandas", None, None)
    dask = tmp_path / "dask.yaml"
    dask.write_text("engine: dask\ndask: {workers: 2, work_dir: scratch}\n")
    engine, settings = read_engine_section(dask)
    assert (engine, settings.workers, settings.work_dir) == ("dask", 2, tmp_path / "scratch")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("engine: spark\n", "engine is 'spark'; expected pandas or dask"),
        ("engine: dask\ndask: {wokers: 2}\n", "dask.wokers"),
        ("engine: dask\ndask: {partitions: 0}\n", "dask.partitions"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_engine_section(path)


def test_a_missing_input_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="nothere as partitioned Parquet"):
        read_partitioned(TableSource(path=tmp_path / "nothere"))


def test_a_customer_has_one_partition_whatever_the_table() -> None:
    import pandas as pd

    ids = pd.Series(["a", "b", "c", "a", "12345"])
    parts = customer_partition(ids, 7)
    assert parts[0] == parts[3]
    assert list(parts) == list(customer_partition(ids.astype(object), 7))
    assert ((parts >= 0) & (parts < 7)).all()
