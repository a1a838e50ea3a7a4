"""serving.shared_table: workers map one published copy of the lookup table's arrays.

Two lookup tables on one file (two workers) read the same files, mapped read-only, and see what a
private read of the file gives: the same ids, matrices, days and precomputed answers. A rewritten
table gets a new folder and the old one goes, while a reader of the old snapshot still reads it; a
folder that cannot be written leaves each worker its own copy, and says so.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.answers import ANSWER, ANSWER_TIER, ANSWERS_KEY, FEW_ROWS, answer_basis
from serving.lookup import AS_OF, LookupTable, read_feature_table, write_feature_table
from serving.shared_table import SHARED_SUFFIX
from tests.serving.support import tiny_features, tiny_scorer

DAY = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def scorer() -> Any:
    return tiny_scorer()


def _write_with_answers(frame: pd.DataFrame, path: Path, scorer: Any) -> list[bytes | None]:
    """A lookup table whose even rows carry an answer (as ``retain score`` writes them)."""
    answers: list[bytes | None] = [
        json.dumps({"customer_id": cid, "row": i}).encode() if i % 2 == 0 else None
        for i, cid in enumerate(frame.index)
    ]
    table = frame.assign(
        **{
            AS_OF: DAY,
            ANSWER: answers,
            ANSWER_TIER: [i % 3 if a else -1 for i, a in enumerate(answers)],
        }
    ).reset_index()
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    basis = {ANSWERS_KEY: json.dumps(answer_basis(scorer)).encode()}
    pq.write_table(arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **basis}), path)
    return answers


def _shared_folders(path: Path) -> list[Path]:
    folder = path.with_name(f".{path.name}{SHARED_SUFFIX}")
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def test_two_workers_map_one_copy_equal_to_a_private_read(scorer: Any, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    frame = tiny_features(40, seed=2)
    answers = _write_with_answers(frame, path, scorer)
    first, second = LookupTable(path, scorer).current(), LookupTable(path, scorer).current()
    (folder,) = _shared_folders(path)
    for snapshot in (first, second):
        matrix = snapshot.encoded.churn
        assert isinstance(matrix, np.memmap)
        assert not matrix.flags.writeable
        assert Path(str(matrix.filename)).parent == folder
    assert snapshot.encoded.clv is snapshot.encoded.churn  # one encoding: one file, one map
    private = scorer.encode(read_feature_table(path))
    np.testing.assert_array_equal(second.encoded.churn, private.churn)
    assert second.ids.tolist() == frame.index.tolist()
    assert second.days is not None
    assert (second.days == np.datetime64(DAY)).all()
    assert second.answers is not None
    assert first.answers is not None
    assert second.answers.take(np.arange(len(frame))) == answers
    assert len(frame) > FEW_ROWS  # read one by one for a few rows, by one vectorised take above
    assert [second.answers.take(np.array([i, i]))[1] for i in range(len(frame))] == answers
    assert second.answers.tiers.tolist() == [i % 3 if a else -1 for i, a in enumerate(answers)]
    assert second.answers.count == 20
    assert (
        second.answers_note == first.answers_note == "precomputed answers for 20 scored customers"
    )


def test_a_rewrite_publishes_a_new_folder_and_old_readers_keep_theirs(
    scorer: Any, tmp_path: Path
) -> None:
    path = tmp_path / "features.parquet"
    frame = tiny_features(30, seed=3)
    write_feature_table(frame, DAY, path)
    table = LookupTable(path, scorer)
    old = table.current()
    (old_folder,) = _shared_folders(path)
    changed = frame.assign(days_since_last_purchase=7.0)
    write_feature_table(changed, DAY, path)
    new = table.current()
    (new_folder,) = _shared_folders(path)
    assert new_folder != old_folder
    assert not old_folder.exists()
    column = scorer.churn.encoding.columns.index("days_since_last_purchase")
    assert (new.encoded.churn[:, column] == 7.0).all()
    # the old snapshot's mapping outlives its removed files
    np.testing.assert_array_equal(old.encoded.churn, scorer.encode(frame).churn)


def test_an_unwritable_folder_leaves_each_worker_a_private_copy(
    scorer: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "features.parquet"
    frame = tiny_features(10, seed=4)
    write_feature_table(frame, DAY, path)
    path.with_name(f".{path.name}{SHARED_SUFFIX}").write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="bentoml.retain"):
        snapshot = LookupTable(path, scorer).current()
    assert not isinstance(snapshot.encoded.churn, np.memmap)
    np.testing.assert_array_equal(snapshot.encoded.churn, scorer.encode(frame).churn)
    assert any("cannot be shared between workers" in r.getMessage() for r in caplog.records)
