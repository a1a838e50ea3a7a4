"""Durable files: atomic writes (temporary file in the same folder, fsync, rename) and CSVs safe
to open in a spreadsheet (text cells that would start a formula are neutralised)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.processes import process_alive
from core.settings import test_hook

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


def fsync_file(path: Path) -> None:
    """Flush a written file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_path(path: Path, tag: str = "") -> Path:
    """A temporary name beside ``path`` (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}.{tag or os.getpid()}.tmp")


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files beside ``path`` left by writers that were killed."""
    prefix = f".{path.name}."
    for stray in path.parent.glob(f"{prefix}*.tmp"):
        tag = stray.name[len(prefix) : -len(".tmp")]
        if not tag.isdigit() or not process_alive(int(tag)):
            stray.unlink(missing_ok=True)


def write_atomically(
    path: Path, write: Callable[[Path], object], *, hook: str | None = None
) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    A crash mid-write leaves the previous file whole (and at worst a stray temporary file).
    ``hook`` names the test-hook point between the write and the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_path(path)
    try:
        write(tmp)
        fsync_file(tmp)
        if hook:
            test_hook(hook)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot start a spreadsheet formula (prefixed with ``'``).

    Only text cells beginning with = + - @ tab or CR are changed, and not those that are plain
    numbers such as ``-12.5``; numeric columns are left as they are.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind in "biufcmM" or isinstance(values.dtype, pd.CategoricalDtype):
            continue
        text = values.astype("str")
        risky = (values.notna() & text.str.startswith(FORMULA_PREFIXES)).to_numpy(dtype=bool).copy()
        if risky.any():  # numbers such as -12.5 in a text column stay as they are
            risky[risky] = ~text[risky].str.match(_PLAIN_NUMBER).to_numpy(dtype=bool)
        if risky.any():
            out[column] = values.astype(object)
            out.loc[risky, column] = "'" + text[risky]
    return out


def from_spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A text table read back from a ``spreadsheet_safe`` CSV with its cells as they were: the
    ``'`` put before a formula-like cell is taken off again (other cells are left as they are)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind in "biufcmM" or isinstance(values.dtype, pd.CategoricalDtype):
            continue
        text = values.astype("str")
        quoted = values.notna() & text.str.startswith(tuple("'" + p for p in FORMULA_PREFIXES))
        if quoted.any():
            out[column] = values.astype(object)
            out.loc[quoted, column] = text[quoted].str.slice(1)
    return out


def write_csv_atomically(frame: pd.DataFrame, path: Path, *, hook: str | None = None) -> None:
    """Write ``frame`` as a spreadsheet-safe CSV, atomically."""
    safe = spreadsheet_safe(frame)
    write_atomically(path, lambda tmp: safe.to_csv(tmp, index=False), hook=hook)


__all__ = ["spreadsheet_safe", "write_atomically", "write_csv_atomically"]
