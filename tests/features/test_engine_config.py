"""The engine settings of an experiment config: defaults, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.config_file import ConfigFile
from core.cutoff import Cutoff
from core.errors import ConfigError, DataValidationError
from core.sources import DataConfig, TableSource
from features.dask_engine import customer_partition, read_partitioned


def test_defaults_to_pandas_and_resolves_the_work_dir(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: x\n")
    engine, settings = ConfigFile.read(plain).engine()
    assert (engine, settings.scheduler, settings.work_dir) == ("pandas", None, None)
    dask = tmp_path / "dask.yaml"
    dask.write_text("engine: dask\ndask: {workers: 2, work_dir: scratch}\n")
    engine, settings = ConfigFile.read(dask).engine()
    assert (engine, settings.workers, settings.work_dir) == ("dask", 2, tmp_path / "scratch")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("engine: spark\n", "engine: Input should be 'pandas' or 'dask'"),
        ("engine: dask\ndask: {wokers: 2}\n", "dask.wokers"),
        ("engine: dask\ndask: {partitions: 0}\n", "dask.partitions"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ConfigFile.read(path).engine()


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


def labelled_data(tmp_path: Path) -> dict[str, object]:
    table = tmp_path / "crm.csv"
    table.write_text("customer_id,as_of,churned,plan\n1,2024-06-30,yes,a\n2,2024-06-30,no,b\n")
    return {"snapshots": {"path": str(table)}}


def test_a_labelled_table_on_dask_is_refused_with_the_alternative(tmp_path: Path) -> None:
    from core.config_file import parse_config
    from core.engines import LABELLED_ON_DASK
    from core.sources import DataConfig
    from features.dask_engine import load_partitioned
    from serving.batch_dask import score_base_dask

    data = labelled_data(tmp_path)
    reason = "no history to partition; it is read whole in memory by engine: pandas, so set engine: pandas"
    assert reason in LABELLED_ON_DASK
    # training: when the config is read
    with pytest.raises(ConfigError, match=reason):
        parse_config({"name": "x", "data": data, "engine": "dask"})
    parse_config({"name": "x", "data": data, "engine": "pandas"})  # the alternative is accepted
    # features and batch scoring: before any cluster work
    with pytest.raises(ConfigError) as raised:
        load_partitioned(DataConfig.model_validate(data), tmp_path / "work", npartitions=2)
    assert str(raised.value) == LABELLED_ON_DASK
    config = tmp_path / "crm.yaml"
    config.write_text(f"data:\n  snapshots:\n    path: {tmp_path / 'crm.csv'}\n")
    with pytest.raises(ConfigError) as raised:
        score_base_dask(config, Cutoff.parse("latest"), out_dir=tmp_path / "out", engine=None)
    assert str(raised.value) == LABELLED_ON_DASK


ORDERS = "customer_id,timestamp,amount\na,2024-01-01,1.5\nb,2024-02-01,2\na,2024-03-01,3\n"


def test_fsspec_urls_are_read_as_given_and_local_paths_resolve(tmp_path: Path) -> None:
    import fsspec

    from features.loading import load_data

    local = tmp_path / "orders.csv"
    local.write_text(ORDERS)
    memory = fsspec.filesystem("memory")
    memory.pipe("/retain-test/orders.csv", ORDERS.encode())
    config = tmp_path / "c.yaml"
    config.write_text(
        "data:\n  transactions: {path: orders.csv}\n"
        "  customers: {path: 'memory://retain-test/customers.csv'}\n"
    )
    data = ConfigFile.read(config).data()
    assert data.transactions is not None
    assert data.customers is not None
    assert data.transactions.path == local  # relative: against the YAML's folder
    assert data.customers.path == "memory://retain-test/customers.csv"  # not s3:/-mangled
    whole, _ = load_data(DataConfig.model_validate({"transactions": {"path": str(local)}}))
    for url in ("memory://retain-test/orders.csv", f"file://{local}"):
        read, reports = load_data(DataConfig.model_validate({"transactions": {"path": url}}))
        pd.testing.assert_frame_equal(read.transactions, whole.transactions, check_exact=True)
        assert reports[0].source == url
    with pytest.raises(DataValidationError, match="input file not found: memory://retain-test/x"):
        load_data(
            DataConfig.model_validate({"transactions": {"path": "memory://retain-test/x.csv"}})
        )
    memory.rm("/retain-test", recursive=True)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket/orders.csv", r"reading s3:// URLs needs the s3fs package.*pip install s3fs"),
        ("gs://bucket/orders.csv", r"reading gs:// URLs needs the gcsfs package"),
        ("nosuch://bucket/orders.csv", r"nosuch:// is not a protocol fsspec knows"),
    ],
)
def test_a_url_without_its_filesystem_package_names_the_key_and_package(
    tmp_path: Path, url: str, message: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  transactions: {{path: '{url}'}}\n")
    with pytest.raises(ConfigError, match=r"data\.transactions\.path: .*" + message):
        ConfigFile.read(config).data()


def test_partitions_count_the_files_of_a_url_folder(tmp_path: Path) -> None:
    import fsspec

    from features.engine import parquet_files

    memory = fsspec.filesystem("memory")
    for k in range(3):
        memory.pipe(f"/retain-count/part-{k}.parquet", b"x")
    (tmp_path / "a.parquet").write_bytes(b"x")
    assert parquet_files("memory://retain-count") == 3
    assert parquet_files("memory://retain-count/part-0.parquet") == 1
    assert parquet_files(tmp_path) == 1
    memory.rm("/retain-count", recursive=True)
