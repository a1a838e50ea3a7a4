"""The Dask engine gives the pandas path's features, labels and snapshots, exactly, per customer.

Inputs are the demo businesses' CSV exports split into several Parquet files by row (so one
customer's history is spread over files and the shuffle has work to do), read on a LocalCluster
of two workers. CDNOW (../shared/data/cdnow) is compared too when it is present.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import DataValidationError
from core.sources import DataConfig
from features.build import build_features, resolve_families
from features.dask_engine import (
    ClusterSettings,
    FeatureTask,
    LabelTask,
    SnapshotTask,
    customer_partition,
    load_partitioned,
    map_partitions,
    read_parts,
    start_client,
)
from features.engine import DaskEngine
from features.labels import make_labels
from features.loading import load_data
from features.prepare import prepare
from features.snapshots import build_snapshots, month_end_cutoffs

pytestmark = pytest.mark.slow

CDNOW = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdnow"


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    # in-process workers measure the whole pytest process, which holds other modules' projects
    # too: at 1GB each they paused at 80% of it and a gather waited for ever
    c = start_client(ClusterSettings(workers=2, threads=1, processes=False, memory_limit="8GB"))
    yield c
    c.close()
    c.cluster.close()


def split_to_parquet(csv: Path, folder: Path, files: int = 3) -> Path:
    """The CSV's rows, as text, in ``files`` Parquet files of consecutive rows."""
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    folder.mkdir(parents=True)
    for k, part in enumerate(np.array_split(np.arange(len(raw)), files)):
        raw.iloc[part].to_parquet(folder / f"part-{k}.parquet", index=False)
    return folder


def configs(business: Path, tmp: Path, tables: list[str]) -> tuple[DataConfig, DataConfig]:
    """The pandas config (CSV files) and the dask one (Parquet folders; customers stays CSV)."""
    csv = {t: {"path": str(business / f"{t}.csv")} for t in tables}
    parts = {
        t: {"path": str(split_to_parquet(business / f"{t}.csv", tmp / t))}
        if t != "customers"
        else csv[t]
        for t in tables
    }
    return DataConfig.model_validate(csv), DataConfig.model_validate(parts)


def assert_same(dask_frame: pd.DataFrame, pandas_frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(dask_frame, pandas_frame, check_exact=True, check_dtype=False)
    assert len(dask_frame) > 0


@pytest.mark.parametrize(
    ("business", "tables"),
    [
        ("retail", ["transactions", "customers"]),
        ("subscription", ["transactions", "customers", "subscriptions", "interactions"]),
    ],
)
def test_features_labels_snapshots_equal_the_pandas_path(
    client: object, demo_data: Path, tmp_path: Path, business: str, tables: list[str]
) -> None:
    pandas_config, dask_config = configs(demo_data / business, tmp_path / "in", tables)
    data, reports = load_data(pandas_config)
    prep = prepare(data)
    parted = load_partitioned(dask_config, tmp_path / "work", npartitions=4)

    assert (parted.start_day, parted.end_day) == (prep.start_day, prep.end_day)
    assert parted.customers == prep.n_customers
    for ours, theirs in zip(parted.reports, reports, strict=True):
        assert (ours.table, ours.rows_read, ours.rows_kept) == (
            theirs.table,
            theirs.rows_read,
            theirs.rows_kept,
        )
        assert ours.duplicates_dropped == theirs.duplicates_dropped

    cutoffs = month_end_cutoffs(prep, 90)[-3:]
    as_of = cutoffs[-1]
    features = read_parts(map_partitions(parted, FeatureTask(as_of), tmp_path / "features"))
    assert_same(features, build_features(prep, as_of))

    labels = read_parts(map_partitions(parted, LabelTask(as_of, 90), tmp_path / "labels"))
    assert_same(labels, make_labels(prep, as_of, 90)[0])

    snaps = read_parts(
        map_partitions(parted, SnapshotTask(tuple(cutoffs), 90), tmp_path / "snapshots"),
        index=False,
    )
    expected, _ = build_snapshots(prep, cutoffs, 90, progress=False)
    assert_same(snaps, expected)


def test_product_features_equal_the_pandas_path(client: object, tmp_path: Path) -> None:
    """The planted-driver retail export (its own column names, float ids): product families
    are decided over every partition, even a column only one customer fills, and built alike."""
    from retain.demo_basket import COLUMNS, basket_log

    lines = basket_log(400, seed=3).lines
    lines.loc[lines["Customer ID"] != lines["Customer ID"].iloc[0], "Country"] = None
    csv = tmp_path / "transactions.csv"
    lines.to_csv(csv, index=False)
    folder = split_to_parquet(csv, tmp_path / "parts")
    pandas_config, dask_config = (
        DataConfig.model_validate({"transactions": {"path": str(p), "columns": COLUMNS}})
        for p in (csv, folder)
    )
    prep = prepare(load_data(pandas_config)[0])
    parted = load_partitioned(dask_config, tmp_path / "work", npartitions=4)
    families = resolve_families(None, parted.window())
    assert families == resolve_families(None, prep)
    assert {"products", "categories", "country"} <= set(families)
    engine = DaskEngine(work_dir=tmp_path / "engine")  # its tasks get these families by default
    engine.parted = parted
    assert engine._families(None) == tuple(families)

    cutoffs = month_end_cutoffs(prep, 90)[-3:]
    as_of = cutoffs[-1]
    task = FeatureTask(as_of, tuple(families))
    features = read_parts(map_partitions(parted, task, tmp_path / "features"))
    expected = build_features(prep, as_of, families=families)
    assert_same(features, expected)
    assert expected["country"].notna().sum() == 1
    assert expected["product_repeat_days_median"].notna().mean() > 0.5

    snaps = read_parts(
        map_partitions(
            parted, SnapshotTask(tuple(cutoffs), 90, tuple(families)), tmp_path / "snapshots"
        ),
        index=False,
    )
    assert_same(snaps, build_snapshots(prep, cutoffs, 90, families=families, progress=False)[0])


def test_excluded_rows_are_counted_over_partitions(client: object, tmp_path: Path) -> None:
    """Bad rows spread over files are excluded and counted as the pandas loader counts them."""
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "", "b", "b", "c", "c"],
            "timestamp": [
                *("2024-01-01", "2024-02-01", "2024-01-05", "not a date"),
                *("2024-03-01", "2024-03-02", "2024-03-02"),
            ],
            "amount": ["10", "x", "5", "7", "8", "9", "9"],
        }
    )
    (tmp_path / "tx").mkdir()
    raw.iloc[:4].to_parquet(tmp_path / "tx" / "a.parquet", index=False)
    raw.iloc[4:].to_parquet(tmp_path / "tx" / "b.parquet", index=False)
    config = DataConfig.model_validate({"transactions": {"path": str(tmp_path / "tx")}})
    parted = load_partitioned(config, tmp_path / "work", npartitions=2)
    (report,) = parted.reports
    assert (report.rows_read, report.rows_kept, report.duplicates_dropped) == (7, 3, 1)
    counts = {p.column: p.count for p in report.problems}
    assert counts == {"customer_id": 1, "timestamp": 1, "amount": 1}


@pytest.mark.skipif(not (CDNOW / "CDNOW_master.txt").exists(), reason="CDNOW is not in shared")
def test_cdnow_features_equal_the_pandas_path(client: object, tmp_path: Path) -> None:
    import yaml

    spec = yaml.safe_load((Path("experiments/cdnow.yaml")).read_text())["data"]["transactions"]
    source = (Path("experiments") / spec["path"]).resolve()
    pandas_config = DataConfig.model_validate({"transactions": {**spec, "path": str(source)}})
    data, _ = load_data(pandas_config)
    prep = prepare(data)
    folder = tmp_path / "cdnow"
    folder.mkdir()
    raw = data.transactions
    for k, part in enumerate(np.array_split(np.arange(len(raw)), 3)):
        raw.iloc[part].to_parquet(folder / f"part-{k}.parquet", index=False)
    parted = load_partitioned(
        DataConfig.model_validate(
            {"transactions": {"path": str(folder), "drop_duplicates": False}}
        ),
        tmp_path / "work",
        npartitions=3,
    )
    as_of = month_end_cutoffs(prep, 90)[-1]
    features = read_parts(map_partitions(parted, FeatureTask(as_of), tmp_path / "features"))
    assert_same(features, build_features(prep, as_of))
    labels = read_parts(map_partitions(parted, LabelTask(as_of, 90), tmp_path / "labels"))
    assert_same(labels, make_labels(prep, as_of, 90)[0])


TEXT_FILES = [
    # only the last file shows that dates are day-first and that commas are decimal marks
    [("C1", "03/04/2024", "1,234"), ("C2", "05/06/2024", "10"), ("C3", "2024-01-15", "7")],
    [("C1", "2024-02-01", "3"), ("C4", "2024-03-01", "4")],
    [("C2", "13/02/2024", "2,5"), ("C5", "2024-05-05", "5")],
]


def text_tables(folder: Path, files: list[list[tuple[str, str, str]]]) -> tuple[Path, Path]:
    """The rows as text columns in one Parquet file per list, and all of them in one file."""
    folder.mkdir(parents=True)
    frames = [pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]) for rows in files]
    for k, frame in enumerate(frames):
        frame.to_parquet(folder / f"part-{k}.parquet", index=False)
    whole = folder.parent / "whole.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(whole, index=False)
    return folder, whole


def test_text_readings_are_decided_over_every_partition(client: object, tmp_path: Path) -> None:
    folder, whole = text_tables(tmp_path / "parts", TEXT_FILES)
    data, reports = load_data(DataConfig.model_validate({"transactions": {"path": str(whole)}}))
    parted = load_partitioned(
        DataConfig.model_validate({"transactions": {"path": str(folder)}}),
        tmp_path / "work",
        npartitions=3,
    )
    # C1's ambiguous dates and C2's telling one are validated in different partitions
    where = customer_partition(pd.Series(["C1", "C2"]), 3)
    assert where[0] != where[1]
    ours = parted.gather().transactions
    keys = ["customer_id", "timestamp"]
    pd.testing.assert_frame_equal(
        ours.sort_values(keys, ignore_index=True),
        data.transactions.sort_values(keys, ignore_index=True),
        check_exact=True,
    )
    # the first file's 03/04/2024 is 3 April and its 1,234 is 1.234, as in the whole table
    first = ours.loc[ours["customer_id"] == "C1"].sort_values("timestamp")
    assert first["timestamp"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-03")]
    assert first["amount"].tolist() == [3.0, 1.234]
    warnings = " ".join(parted.reports[0].warnings)
    assert "'timestamp': 2 date(s) have a day and month both up to 12" in warnings
    assert "read day-first as 1 other date(s) can only be day-first" in warnings
    assert "value(s) like '1,234' could be a decimal comma" in warnings
    assert "read with a decimal comma ('1,234' = 1.234)" in warnings
    assert any("day-first" in w for w in reports[0].warnings)


def test_date_orders_that_disagree_across_partitions_are_an_error(
    client: object, tmp_path: Path
) -> None:
    files = [[("C1", "25/03/2024", "1")], [("C2", "2024-02-01", "3")], [("C3", "03/25/2024", "2")]]
    folder, whole = text_tables(tmp_path / "parts", files)
    with pytest.raises(DataValidationError, match="mixes day-first dates"):
        load_data(DataConfig.model_validate({"transactions": {"path": str(whole)}}))
    with pytest.raises(DataValidationError, match=r"transactions \(.*\): column 'timestamp' mixes"):
        load_partitioned(
            DataConfig.model_validate({"transactions": {"path": str(folder)}}),
            tmp_path / "work",
            npartitions=2,
        )


def test_fsspec_urls_read_like_local_folders(
    client: object, demo_data: Path, tmp_path: Path
) -> None:
    """A Parquet folder given as a file:// or memory:// URL loads as the same folder given as a
    local path (the client's workers are threads, so they share the memory filesystem)."""
    import fsspec

    folder = split_to_parquet(demo_data / "retail" / "transactions.csv", tmp_path / "local")
    memory = fsspec.filesystem("memory")
    for part in sorted(folder.glob("*.parquet")):
        memory.pipe(f"/retain-dask-test/{part.name}", part.read_bytes())

    def gathered(path: str, work: str) -> pd.DataFrame:
        config = DataConfig.model_validate({"transactions": {"path": path}})
        parted = load_partitioned(config, tmp_path / work, npartitions=3)
        assert parted.reports[0].source == path
        return parted.gather().transactions

    local = gathered(str(folder), "w0")
    for k, url in enumerate((f"file://{folder}", "memory://retain-dask-test")):
        pd.testing.assert_frame_equal(gathered(url, f"w{k + 1}"), local, check_exact=True)
    memory.rm("/retain-dask-test", recursive=True)
