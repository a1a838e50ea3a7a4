"""serving.lookup: the by-id feature table is an immutable snapshot, swapped whole on a rewrite.

A rewritten file replaces the snapshot in one piece; a reader keeps the snapshot it took; threads
reading while another rewrites the file never see ids, matrices and days of two different files.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.errors import DataValidationError
from serving.lookup import LookupTable, read_feature_table, write_feature_table
from serving.requests import lookup_ids
from tests.serving.support import tiny_features, tiny_scorer

DAY = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def scorer() -> Any:
    return tiny_scorer()


def _version(frame: pd.DataFrame, v: int) -> pd.DataFrame:
    """A table whose ids, recency and size all say which version it is."""
    out = frame.iloc[: 20 + v].copy()
    out.index = pd.Index([f"v{v}-{i}" for i in range(len(out))], name="customer_id")
    out["days_since_last_purchase"] = float(v)
    return out


def test_a_rewritten_file_is_swapped_in_whole(scorer: Any, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    base = tiny_features(60)
    first, second = _version(base, 1), _version(base, 2)
    write_feature_table(first, DAY, path)
    table = LookupTable(path, scorer)
    old = table.current()
    assert table.current() is old  # unchanged file: the same snapshot, nothing rebuilt
    assert old.ids.tolist() == first.index.tolist()
    assert old.customers == 21
    assert old.as_of == "2024-12-31"

    write_feature_table(second, DAY + pd.Timedelta(days=1), path)
    new = table.current()
    assert new is not old
    assert table.loaded is new
    assert new.ids.tolist() == second.index.tolist()
    assert new.customers == 22
    assert new.as_of == "2025-01-01"
    expected = scorer.encode(read_feature_table(path))
    np.testing.assert_array_equal(new.encoded.churn, expected.churn)
    np.testing.assert_array_equal(new.encoded.clv, expected.clv)
    # the reader that took the old snapshot still reads the old file's rows, all of them
    rows = lookup_ids(old, ["v1-0", "v1-20", "v2-0"])
    assert rows.found.tolist() == [True, True, False]
    assert rows.batch.churn[:, 0].tolist() == [1.0, 1.0]
    assert rows.as_of == [DAY.date(), DAY.date()]
    np.testing.assert_array_equal(old.encoded.churn, scorer.encode(first).churn)


def test_snapshots_are_read_only(scorer: Any, tmp_path: Path) -> None:
    path = write_feature_table(tiny_features(10), DAY, tmp_path / "features.parquet")
    snapshot = LookupTable(path, scorer).current()
    with pytest.raises(ValueError, match="read-only"):
        snapshot.encoded.churn[0, 0] = 1.0
    assert snapshot.days is not None
    with pytest.raises(ValueError, match="read-only"):
        snapshot.days[0] = np.datetime64("2000-01-01")
    with pytest.raises(AttributeError):
        snapshot.ids = pd.Index([])  # type: ignore[misc]


def test_no_table_is_a_clear_error_and_a_deleted_file_keeps_the_last(
    scorer: Any, tmp_path: Path
) -> None:
    path = tmp_path / "features.parquet"
    table = LookupTable(path, scorer)
    assert table.loaded is None
    with pytest.raises(DataValidationError) as err:
        table.current()
    assert str(err.value) == (
        "no feature table is loaded: run `retain score --as-of DATE` to write one"
    )
    write_feature_table(tiny_features(5), DAY, path)
    snapshot = table.current()
    assert snapshot.customers == 5
    path.unlink()
    assert table.current() is snapshot


def test_a_table_without_the_models_features_is_refused(scorer: Any, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    write_feature_table(tiny_features(5).drop(columns=["tenure_days"]), DAY, path)
    with pytest.raises(
        DataValidationError, match=r"lacks features the models need: \['tenure_days'\]"
    ):
        LookupTable(path, scorer)


def test_concurrent_readers_never_see_two_files_mixed(scorer: Any, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    base = tiny_features(60)
    write_feature_table(_version(base, 0), DAY, path)
    table = LookupTable(path, scorer)
    versions = 12
    done = threading.Event()
    problems: list[str] = []
    seen: set[int] = set()

    def read() -> None:
        while not done.is_set():
            snapshot = table.current()  # once per "request"; everything below uses only it
            ids = snapshot.ids.tolist()
            v = int(ids[0].split("-")[0][1:])
            rows = lookup_ids(snapshot, [*ids, f"v{v + 1}-0"])
            recency = set(rows.batch.churn[:, 0].tolist())
            days = set(rows.as_of)
            if (
                len(ids) != 20 + v
                or any(not i.startswith(f"v{v}-") for i in ids)
                or rows.found.tolist() != [True] * len(ids) + [False]
                or recency != {float(v)}
                or days != {(DAY + pd.Timedelta(days=v)).date()}
            ):
                problems.append(f"version {v}: {len(ids)} ids, recency {recency}, days {days}")
            seen.add(v)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for r in readers:
        r.start()
    try:
        for v in range(1, versions):
            write_feature_table(_version(base, v), DAY + pd.Timedelta(days=v), path)
            table.current()  # make sure this version gets swapped in before the next write
    finally:
        done.set()
        for r in readers:
            r.join(timeout=30)
    assert problems == []
    assert max(seen) == versions - 1
    assert len(seen) >= 2  # the readers ran across swaps
