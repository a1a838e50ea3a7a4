"""One ``retain score`` output as one generation: written whole, committed by one rename.

A run writes its files into ``generations/<id>/`` beside ``score_meta.json`` (fsynced), stages the
service's lookup table as a temporary file, then commits by renaming a new ``score_meta.json``
that names the generation. Only then are ``scores.parquet``, ``scores.csv`` and the lookup table
published in place (each a rename) and generations other than it and the one before removed.
Every Parquet file records its generation in its metadata, so readers can tell which run wrote
it; a kill at any point leaves ``score_meta.json`` naming a complete generation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import DataValidationError
from serving.files import fsync_dir, fsync_file

SCORE_META = "score_meta.json"
GENERATIONS = "generations"
GENERATION = "generation"
"""The key of ``SCORE_META`` naming the committed generation."""
METADATA_KEY = b"retain.generation"
PREVIOUS = "previous_generation"
"""The key of ``SCORE_META`` naming the generation it replaced (kept on disk)."""


class GenerationError(DataValidationError):
    """The scores folder holds no readable, complete generation (or files of another one)."""


def new_generation_id() -> str:
    """A sortable, unique id: UTC time and random hex."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{now}-{secrets.token_hex(3)}"


def write_parquet(
    frame: pd.DataFrame, path: Path, generation: str, extra: dict[bytes, bytes] | None = None
) -> None:
    """Write ``frame`` (no index) to ``path`` with its generation (and ``extra``) in the Parquet
    metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), **(extra or {}), METADATA_KEY: generation.encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    fsync_file(path)


def parquet_generation(path: Path) -> str | None:
    """The generation recorded in a Parquet file, None if it has none or cannot be read."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    value = metadata.get(METADATA_KEY)
    return value.decode() if value else None


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """Commit: write ``score_meta.json`` through a fsynced temporary file and one rename."""
    path = folder / SCORE_META
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    fsync_file(tmp)
    tmp.replace(path)
    fsync_dir(folder)


def publish(source: Path, target: Path) -> None:
    """Put ``source`` (a committed generation's file) at ``target`` with one rename."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
        fsync_file(tmp)
    tmp.replace(target)
    fsync_dir(target.parent)


def prune(folder: Path, keep: set[str]) -> None:
    """Remove every generation folder but ``keep`` (the current and the previous committed)."""
    root = folder / GENERATIONS
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Generation:
    """The committed generation of a scores folder, checked to be complete."""

    folder: Path
    id: str
    meta: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.folder / GENERATIONS / self.id

    def file(self, name: str) -> Path:
        return self.path / name


def read_meta(folder: Path) -> dict[str, Any] | None:
    """``score_meta.json`` of ``folder``, None if absent; unreadable is a clear error."""
    path = folder / SCORE_META
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise GenerationError(
            f"{path} is unreadable (not the JSON `retain score` writes): rerun `retain score`"
        ) from None
    if not isinstance(meta, dict):
        raise GenerationError(f"{path} is not a JSON object: rerun `retain score`")
    return meta


def current(folder: Path, names: tuple[str, ...] = ("scores.parquet",)) -> Generation | None:
    """The generation ``score_meta.json`` names, with ``names`` checked; None without a meta
    file or one from before generations."""
    meta = read_meta(folder)
    if meta is None or GENERATION not in meta:
        return None
    gen = Generation(folder, str(meta[GENERATION]), meta)
    sizes = meta.get("files", {})
    for name in names:
        path = gen.file(name)
        if not path.is_file():
            raise GenerationError(
                f"{folder / SCORE_META} names generation {gen.id}, but {path} is missing: "
                "rerun `retain score`"
            )
        if name.endswith(".parquet"):
            found = parquet_generation(path)
            if found != gen.id:
                raise GenerationError(
                    f"{path} is {'unreadable' if found is None else 'of generation ' + found}, "
                    f"not generation {gen.id} that {SCORE_META} names: rerun `retain score`"
                )
        if name in sizes and path.stat().st_size != int(sizes[name]):
            raise GenerationError(
                f"{path} has {path.stat().st_size:,} bytes, not the {int(sizes[name]):,} of "
                f"generation {gen.id}: rerun `retain score`"
            )
    return gen


def check_file(path: Path, gen: Generation) -> None:
    """A published Parquet file (e.g. ``scores.parquet``) must be of generation ``gen``."""
    found = parquet_generation(path)
    if found != gen.id:
        what = "unreadable" if found is None else f"of generation {found}"
        raise GenerationError(
            f"{path} is {what}, but {gen.folder / SCORE_META} names generation {gen.id} (an "
            "interrupted `retain score`?): rerun `retain score`"
        )


def read_scores(scores_path: Path) -> tuple[pd.DataFrame, Generation | None]:
    """The scores table at ``scores_path``: from the committed generation when a
    ``score_meta.json`` sits beside it (checked whole), else the file as it is."""
    gen = current(scores_path.parent, ("scores.parquet", "scores.csv"))
    if gen is not None and scores_path.name == "scores.parquet":
        source = gen.file("scores.parquet")
    elif scores_path.exists():
        source = scores_path
    else:
        raise DataValidationError(f"no scores table at {scores_path}: run `retain score` first")
    try:
        return pd.read_parquet(source), gen
    except (OSError, pa.ArrowException) as err:
        raise GenerationError(
            f"{source} is not a readable Parquet scores table ({type(err).__name__}): "
            "rerun `retain score`"
        ) from None
