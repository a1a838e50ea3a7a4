"""The lookup table's arrays in files every worker maps read-only: one copy however many workers.

The first worker to load a feature table (``serving.lookup``) writes what it made of it (each
model's encoded matrix, the as-of days, the precomputed answers and their tiers) into a folder
beside the table, named by the table's file stamp and by what the served models make of it
(``shared_folder``), atomically: a temporary folder renamed into place, so a reader sees all of
it or nothing. Every worker then maps those files read-only (numpy memmaps, an Arrow IPC file), so
the operating system keeps one copy in its page cache, shared by the workers, instead of one per
worker. Only the ids' hash index stays private to each worker. A newer table's folder replaces the
older ones; a folder that cannot be written (a read-only deployment) leaves each worker its own
copy, as before, and says so once.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from serving.answers import Answers, answer_basis
from serving.scorer import EncodedBatch, Scorer

logger = logging.getLogger("bentoml.retain")

SHARED_SUFFIX = ".shared"
"""The folder of shared arrays beside a feature table is ``.<table name>.shared``."""
MANIFEST = "manifest.json"
"""Written last inside a published folder: which matrix each model reads, the answers' note."""
ROWS = "rows.arrow"
"""Arrow IPC file: ids, answers (JSON bytes or null) and answer tiers by row."""
MATRICES = ("churn", "clv", "uplift")


@dataclass(frozen=True)
class SharedArrays:
    """A lookup table's rows as the service reads them; arrays read-only, mapped when shared."""

    ids: pd.Index
    encoded: EncodedBatch
    days: np.ndarray | None
    answers: Answers | None
    note: str


def shared_folder(path: Path, stamp: tuple[int, int, int], scorer: Scorer) -> Path:
    """Where the arrays of the table at ``path`` with this file ``stamp`` are shared for the
    served models: two workers serving the same models on the same file name the same folder."""
    encodings = [m.encoding.to_dict() for m in (scorer.churn, scorer.clv, scorer.uplift) if m]
    key = json.dumps([list(stamp), answer_basis(scorer), encodings], sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return path.with_name(f".{path.name}{SHARED_SUFFIX}") / digest


def shared_arrays(folder: Path, read: Callable[[], SharedArrays]) -> SharedArrays:
    """The arrays published in ``folder``, else ``read()`` published there: one worker reads the
    table while the others wait for its folder (a lock beside it), then every worker maps it."""
    arrays = open_shared(folder)
    if arrays is not None:
        return arrays
    with _publishing(folder):
        arrays = open_shared(folder)  # published while this worker waited
        if arrays is None:
            arrays = publish(folder, read())
            _return_freed_memory()  # the private copy just read is garbage now
    return arrays


@contextmanager
def _publishing(folder: Path) -> Iterator[None]:
    """Held while a worker reads and publishes a table (no lock where the folder cannot be
    made: each worker reads its own copy then)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = (folder.parent / ".lock").open("a")
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _return_freed_memory() -> None:
    """Give the memory freed by reading a large table back to the system: Arrow's allocator and
    glibc keep it otherwise, and the worker would hold the private copy's size for nothing (450
    MB of a 200,000-row table)."""
    pa.default_memory_pool().release_unused()
    with suppress(AttributeError, OSError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def open_shared(folder: Path) -> SharedArrays | None:
    """The arrays published in ``folder``, mapped read-only; None when none are published (or
    they cannot be read: the worker then reads the table itself)."""
    try:
        return _open(folder)
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None


def _open(folder: Path) -> SharedArrays:
    manifest = json.loads((folder / MANIFEST).read_text())
    rows = pa.ipc.open_file(pa.memory_map(str(folder / ROWS))).read_all()
    ids = pd.Index(rows.column("id").to_pylist(), dtype=object)
    maps: dict[str, np.ndarray] = {}  # models sharing one matrix share one map
    matrices: dict[str, np.ndarray] = {}
    for name, file in manifest["matrices"].items():
        if file is not None:
            if file not in maps:
                maps[file] = np.load(folder / f"{file}.npy", mmap_mode="r")
            matrices[name] = maps[file]
    churn = matrices["churn"]
    encoded = EncodedBatch(churn, matrices.get("clv"), matrices.get("uplift"))
    days = np.load(folder / "days.npy", mmap_mode="r") if manifest["days"] else None
    answers = None
    if manifest["answers"]:
        records = rows.column("answer").combine_chunks()
        tiers = rows.column("tier").combine_chunks().to_numpy(zero_copy_only=True)
        answers = Answers(records, tiers)
    return SharedArrays(ids, encoded, days, answers, manifest["note"])


def publish(folder: Path, arrays: SharedArrays) -> SharedArrays:
    """Write ``arrays`` into ``folder`` atomically and return them mapped from it; another
    worker's finished folder wins; a folder that cannot be written returns ``arrays`` as given."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        _write(tmp, arrays)
        try:
            tmp.rename(folder)  # atomic: readers see the whole folder or none
        except OSError:  # another worker published it first: theirs is the same
            shutil.rmtree(tmp, ignore_errors=True)
        _remove_older(folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        logger.warning(
            "the feature table's arrays cannot be shared between workers (%s: %s); each worker "
            "keeps its own copy",
            type(err).__name__,
            err,
        )
        return arrays
    return open_shared(folder) or arrays


def _write(tmp: Path, arrays: SharedArrays) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    files: dict[str, str | None] = {}
    written: dict[int, str] = {}  # models sharing one matrix share one file
    for name in MATRICES:
        matrix = getattr(arrays.encoded, name)
        if matrix is None:
            files[name] = None
            continue
        if id(matrix) not in written:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(matrix))
            written[id(matrix)] = name
        files[name] = written[id(matrix)]
    if arrays.days is not None:
        np.save(tmp / "days.npy", np.asarray(arrays.days))
    n = len(arrays.ids)
    answers = arrays.answers
    table = pa.table(
        {
            "id": pa.array(arrays.ids.tolist(), type=pa.string()),
            "answer": answers.records if answers else pa.nulls(n, pa.binary()),
            "tier": answers.tiers if answers else np.full(n, -1, np.int8),
        }
    )
    with pa.OSFile(str(tmp / ROWS), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    manifest = {
        "matrices": files,
        "days": arrays.days is not None,
        "answers": answers is not None,
        "note": arrays.note,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest))  # last: a folder with it is complete


def _remove_older(folder: Path) -> None:
    """Remove the published folders of older tables (a worker still reading one keeps its
    mapping: the files go when the last mapping does)."""
    for other in folder.parent.iterdir():
        if other != folder and not other.name.startswith("."):
            shutil.rmtree(other, ignore_errors=True)
