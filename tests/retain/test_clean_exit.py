"""A command that stops on bad input exits with its error code, never an abort from a thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv
import pytest

from core.sources import TableSource
from features.loading import read_table
from tests.retain.test_cli import run

RUNS = 8


def semicolon_export(path: Path, rows: int = 60_000) -> Path:
    """A CRM export as a European spreadsheet writes it: ';' between cells, decimal commas.

    Read as a ','-separated file it fails in a later block of pyarrow's threaded reader, while
    other blocks are still being read (about 2.5 MB: several blocks).
    """
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "customerID": [f"C{i:07d}" for i in range(rows)],
            "tenure": rng.integers(1, 72, rows),
            "MonthlyCharges": rng.uniform(20, 120, rows).round(2),
            "TotalCharges": rng.uniform(20, 8000, rows).round(2),
            "Contract": rng.choice(["Month-to-month", "One year", "Two year"], rows),
            "Churn": rng.choice(["Yes", "No"], rows),
        }
    )
    frame.to_csv(path, sep=";", decimal=",", index=False)
    return path


@pytest.fixture(scope="module")
def semicolon_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("semicolon")
    data = semicolon_export(folder / "snapshot.csv")
    config = folder / "crm.yaml"
    config.write_text(
        f"name: semicolon\ndata:\n  snapshots:\n    path: {data}\n"
        "    columns: {customer_id: customerID, churned: Churn}\n"
        "    as_of: 2024-06-30\n    positive: ['Yes']\nhorizon_days: 90\n"
    )
    return config


def test_a_failed_read_exits_2_every_time(semicolon_config: Path, tmp_path: Path) -> None:
    """Issue 29 item 7: one run in four printed the clean error, then aborted (exit -6)."""
    args = ("features", "--config", str(semicolon_config), "--as-of", "2024-06-30")
    for k in range(RUNS):
        result = run(*args, "--out", str(tmp_path / f"f{k}.parquet"))
        assert result.returncode == 2, (k, result.returncode, result.stderr)
        assert result.stderr.startswith("error: cannot read "), result.stderr
        assert "','-separated" in result.stderr
        assert "terminate called" not in result.stderr
        assert "Traceback" not in result.stderr


def test_the_threaded_reader_reads_an_arrow_buffer_not_a_python_file(
    semicolon_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cause: given a Python file, pyarrow's reader threads call back into Python, and one
    still reading when the interpreter shuts down aborts the process."""
    seen: list[object] = []
    read_csv = pyarrow.csv.read_csv

    def recording(source: object, *args: object, **kwargs: object) -> pa.Table:
        seen.append(source)
        return read_csv(source, *args, **kwargs)

    monkeypatch.setattr(pyarrow.csv, "read_csv", recording)
    data = semicolon_config.parent / "snapshot.csv"
    frame = read_table(TableSource.model_validate({"path": str(data), "sep": ";"}))
    assert len(frame) == 60_000
    assert frame.loc[0, "customerID"] == "C0000000"
    assert "," in frame.loc[0, "MonthlyCharges"]  # cells stay text: the reading decides later
    assert len(seen) == 1
    assert isinstance(seen[0], pa.NativeFile)


@pytest.mark.parametrize("name", ["t.parquet", "t.csv", "t.csv.gz", "t.csv.zip", "t.csv.xz"])
def test_files_behind_urls_and_compressed_files_read_as_before(name: str) -> None:
    """The Arrow buffer holds the decompressed bytes of local files and fsspec URLs alike."""
    import fsspec

    frame = pd.DataFrame({"customer_id": ["A", "B"], "amount": ["1.5", "2"]})
    url = f"memory://retain-clean-exit/{name}"
    with fsspec.open(url, "wb", compression="infer") as handle:
        if name.endswith(".parquet"):
            frame.to_parquet(handle)
        else:
            handle.write(frame.to_csv(index=False).encode())
    read = read_table(TableSource.model_validate({"path": url}))
    pd.testing.assert_frame_equal(read.astype(str), frame)
