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

from core.errors import DataValidationError
from serving.lookup import (
    FEW_IDS,
    LookupTable,
    normalise_ids,
    read_feature_table,
    write_feature_table,
)
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
    table = LookupTable(path, scorer)
    assert table.loaded is None
    with pytest.raises(
        DataValidationError, match=r"lacks features the models need: \['tenure_days'\]"
    ):
        table.current()


def _put(path: Path, frame: pd.DataFrame | None = None, raw: bytes | None = None) -> None:
    """Replace the file at ``path`` (a new inode) by a feature table or by raw bytes."""
    tmp = path.with_name(".tmp")
    if raw is not None:
        tmp.write_bytes(raw)
    else:
        assert frame is not None
        frame.reset_index().to_parquet(tmp, index=False)
    tmp.replace(path)


def _good(n: int = 5) -> pd.DataFrame:
    return tiny_features(n).assign(as_of=DAY)


BAD_TABLES: list[tuple[str, Any, str]] = [
    ("garbage bytes", b"PAR1 not a parquet file at all", "cannot be read"),
    ("truncated parquet", "truncated", "cannot be read"),
    (
        "duplicated ids",
        lambda: pd.concat([_good(), _good().iloc[:2]]),
        "duplicated customer ids (e.g. ['C00000', 'C00001'])",
    ),
    (
        "text in a numeric column",
        lambda: _good().astype({"orders_total": object}).assign(orders_total="7"),
        "column 'orders_total' must be numeric, found str",
    ),
    (
        "missing id",
        lambda: _good().reset_index().assign(customer_id=[None, "a", "b", "c", "d"]),
        "rows without a customer id",
    ),
    ("as_of not dates", lambda: _good().assign(as_of="soon"), "as_of column is not"),
]


@pytest.mark.parametrize(
    ("bad", "message"), [pytest.param(b, m, id=name) for name, b, m in BAD_TABLES]
)
def test_a_bad_new_file_is_rejected_and_the_last_good_table_keeps_serving(
    scorer: Any, tmp_path: Path, bad: Any, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "features.parquet"
    _put(path, _good())
    table = LookupTable(path, scorer)
    good = table.current()
    if bad == "truncated":
        _put(path, raw=path.read_bytes()[:-200])
    elif isinstance(bad, bytes):
        _put(path, raw=bad)
    else:
        frame = bad()
        _put(path, frame.set_index("customer_id") if "customer_id" in frame else frame)
    with caplog.at_level("ERROR", logger="bentoml.retain"):
        assert table.current() is good
        assert table.current() is good  # the same bad file is not read (nor logged) again
    assert table.rejection is not None
    assert message in table.rejection
    assert [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()] == [
        f"feature table {path} rejected, the last good table keeps serving: {table.rejection}"
    ]
    assert lookup_ids(good, ["C00001"]).found.tolist() == [True]
    _put(path, _good(7))  # a good file again is swapped in
    assert table.current().customers == 7
    assert table.rejection is None


def test_a_bad_file_at_start_up_serves_nothing_and_says_why(scorer: Any, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    _put(path, pd.concat([_good(), _good()]))
    table = LookupTable(path, scorer)
    assert table.loaded is None
    with pytest.raises(DataValidationError, match="rejected: the feature table has duplicated"):
        table.current()


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


def test_ids_in_any_form_find_the_rows_the_keys_find(scorer: Any, tmp_path: Path) -> None:
    """The fast path (ids given as the table keys them) and normalisation agree."""
    path = tmp_path / "features.parquet"
    frame = tiny_features(3)
    frame.index = pd.Index([12347.0, 5.0, 77.0], name="customer_id")  # a float id column
    write_feature_table(frame, DAY, path)
    snapshot = LookupTable(path, scorer).current()
    asked = ["12347", 12347, 12347.0, "12347.0", " 5 ", 5, "77", "nope", 78]
    positions, keys = snapshot.positions(asked)
    assert positions.tolist() == [0, 0, 0, 0, 1, 1, 2, -1, -1]
    assert keys[:7] == ["12347", "12347", "12347", "12347", "5", "5", "77"]
    assert positions.tolist() == snapshot.ids.get_indexer(normalise_ids(asked)).tolist()
    assert len(asked) <= FEW_IDS < 2 * len(asked)  # a few looked up one by one, more at once
    many, many_keys = snapshot.positions(asked * 2)
    assert many.tolist() == positions.tolist() * 2
    assert many_keys == keys * 2
