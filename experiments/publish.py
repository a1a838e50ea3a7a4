"""Writing a results table the README quotes: atomically, so a crash never leaves half a table."""

from __future__ import annotations

from pathlib import Path


def write_result(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` through a temporary file in the same folder, then print it."""
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(text)
