"""Bad input files and configs through the real `retain` command: each gets its exact message and
exit code (2 for a user mistake, never a traceback), or is read with a warning that counts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.config_file import ConfigFile
from core.cutoff import Cutoff
from core.errors import CutoffError
from features.loading import load_data
from tests.helpers import ROOT

RETAIN = str(Path(sys.executable).parent / "retain")
HEADER = "customer_id,timestamp,amount\n"


def project(tmp_path: Path, body: str, header: str = HEADER, **source: str) -> Path:
    """transactions.csv with ``body`` and a config reading it (``source`` adds table options)."""
    (tmp_path / "transactions.csv").write_text(header + body)
    options = "".join(f"    {k}: {v!r}\n" for k, v in source.items())
    config = tmp_path / "config.yaml"
    config.write_text(f"name: bad\ndata:\n  transactions:\n    path: transactions.csv\n{options}")
    return config


def retain(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RETAIN_HOME": str(home)}
    return subprocess.run(
        [RETAIN, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300
    )


def features(config: Path, as_of: str = "2024-06-30") -> subprocess.CompletedProcess[str]:
    out = config.parent / "features.parquet"
    return retain(
        "features", "--config", str(config), "--as-of", as_of, "--out", str(out), home=config.parent
    )


def refused(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    error = done.stderr[done.stderr.index("error: ") :]  # after any load report
    assert message in error, done.stderr


def amounts(config: Path) -> list[float]:
    data, _ = load_data(ConfigFile.read(config).data())
    return [float(x) for x in data.transactions["amount"]]


# ----------------------------------------------------------------------------------- dates


def test_years_outside_1677_2262_are_excluded_with_their_rows(tmp_path: Path) -> None:
    config = project(tmp_path, "A,2024-01-05,10\nA,1492-10-12,5\nB,2999-01-01,7\nB,2024-03-01,3\n")
    done = features(config)
    assert done.returncode == 0, done.stderr
    assert (
        "2 row(s): 'timestamp' is outside the years 1677-2262 that dates can have here "
        "(e.g. row 2: '1492-10-12', row 3: '2999-01-01')"
    ) in done.stderr
    refused(
        retain(
            "features", "--config", str(config), "--as-of", "2024-06-30", "--strict", home=tmp_path
        ),
        "strict mode: some rows cannot be used as given",
    )


def test_out_of_range_years_in_parquet_and_with_offsets_too(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "timestamp": ["2024-01-05T10:00:00+01:00", "9999-01-01T00:00:00Z", "2024-02-01"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    config = tmp_path / "config.yaml"
    config.write_text("data:\n  transactions:\n    path: t.parquet\n")
    _, reports = load_data(ConfigFile.read(config).data())
    assert reports[0].rows_kept == 2
    assert "'timestamp' is outside the years 1677-2262" in reports[0].lines()[2]


@pytest.mark.parametrize("as_of", ["notadate", "2024-02-30", "2024-06-30T10:00:00+02:00"])
def test_features_as_of_that_is_not_a_date(tmp_path: Path, as_of: str) -> None:
    config = project(tmp_path, "A,2024-01-05,10\n")
    refused(features(config, as_of), f"error: --as-of {as_of!r} is not a date: give a day")


def test_mixed_day_first_and_month_first_dates_are_refused(tmp_path: Path) -> None:
    config = project(tmp_path, "A,25/03/2024,1\nA,03/25/2024,2\nB,04/03/2024,3\n")
    refused(
        features(config),
        "transactions (" + str(tmp_path / "transactions.csv") + "): column 'timestamp' mixes "
        "day-first dates (1, e.g. row 1: '25/03/2024') and month-first dates (1, e.g. row 2: "
        "'03/25/2024'), so 1 date(s) like 03/04 cannot be read safely",
    )


def test_day_first_evidence_reads_every_date_day_first_with_a_warning(tmp_path: Path) -> None:
    config = project(tmp_path, "A,25/03/2024,1\nA,13/02/2024,2\nB,04/03/2024,3\n")
    done = features(config)
    assert done.returncode == 0, done.stderr
    assert (
        "warning: 'timestamp': 1 date(s) have a day and month both up to 12 (e.g. row 3: "
        "'04/03/2024'); read day-first as 2 other date(s) can only be day-first"
    ) in done.stderr
    data, _ = load_data(ConfigFile.read(config).data())
    assert data.transactions["timestamp"].tolist() == [
        pd.Timestamp(d) for d in ("2024-03-25", "2024-02-13", "2024-03-04")
    ]


def test_ambiguous_dates_without_evidence_are_read_month_first_with_a_warning(
    tmp_path: Path,
) -> None:
    config = project(tmp_path, "A,03/04/2024,1\nB,05/06/2024,2\nB,07/07/2024,2\n")
    done = features(config)
    assert done.returncode == 0, done.stderr
    assert (
        "warning: 'timestamp': 2 date(s) have a day and month both up to 12 (e.g. row 1: "
        "'03/04/2024', row 2: '05/06/2024'); read month-first by default; set dayfirst: false "
        "to confirm or true to read them the other way"
    ) in done.stderr
    quiet = project(tmp_path, "A,03/04/2024,1\n", dayfirst="false")
    assert "warning" not in features(quiet).stderr  # confirmed: no warning


def test_dates_contradicting_an_explicit_dayfirst_are_refused(tmp_path: Path) -> None:
    config = project(tmp_path, "A,25/03/2024,1\n", dayfirst="false")
    refused(
        features(config),
        "column 'timestamp': dayfirst is false but 1 date(s) can only be day-first (e.g. row 1: "
        "'25/03/2024'): fix dayfirst",
    )


def test_future_dated_rows_are_counted_and_latest_ignores_them(tmp_path: Path) -> None:
    from features.prepare import prepare
    from serving.batch import latest_day, resolve_as_of

    config = project(tmp_path, "A,2024-01-05,10\nB,2024-03-01,3\nB,2091-03-01,3\nC,2088-01-01,1\n")
    done = features(config)
    assert done.returncode == 0, done.stderr
    assert "warning: 'timestamp': 2 row(s) are dated after today (" in done.stderr
    assert (
        "up to 2091-03-01 (e.g. row 3: 2091-03-01, row 4: 2088-01-01); kept, but "
        "`--as-of latest` ignores them"
    ) in done.stderr
    prep = prepare(load_data(ConfigFile.read(config).data())[0])
    assert latest_day(prep) == pd.Timestamp("2024-03-01")
    assert resolve_as_of(prep, Cutoff.parse("latest")) == pd.Timestamp("2024-03-01")
    asked = Cutoff.parse("2090-01-01")
    assert resolve_as_of(prep, asked) == pd.Timestamp("2090-01-01")  # asked for: allowed


# --------------------------------------------------------------------------------- numbers


def test_semicolon_file_with_three_decimal_commas_is_not_read_as_thousands(
    tmp_path: Path,
) -> None:
    config = project(
        tmp_path,
        "A;2024-01-05;1,234\nA;2024-02-05;2,5\nB;2024-03-01;12,345\n",
        header="customer_id;timestamp;amount\n",
        sep=";",
    )
    done = features(config)
    assert done.returncode == 0, done.stderr
    assert (
        "warning: 'amount': 2 value(s) like '1,234' could be a decimal comma or a thousands "
        "separator (e.g. row 1: '1,234', row 3: '12,345'); read with a decimal comma "
        "('1,234' = 1.234) as 1 other value(s) have a decimal comma; set decimal: ',' or '.' "
        "to confirm"
    ) in done.stderr
    assert amounts(config) == [1.234, 2.5, 12.345]


def test_ambiguous_commas_follow_the_separator_or_the_decimal_setting(tmp_path: Path) -> None:
    semi = project(
        tmp_path, "A;2024-01-05;1,234\n", header="customer_id;timestamp;amount\n", sep=";"
    )
    assert amounts(semi) == [1.234]
    assert "as the file is ';'-separated" in features(semi).stderr
    comma = project(tmp_path, 'A,2024-01-05,"1,234"\n')
    assert amounts(comma) == [1234.0]
    assert "read with a thousands separator ('1,234' = 1234) as the file is ','-separated" in (
        features(comma).stderr
    )
    told = project(
        tmp_path,
        "A;2024-01-05;1.234,5\n",
        header="customer_id;timestamp;amount\n",
        sep=";",
        decimal=",",
    )
    assert amounts(told) == [1234.5]
    assert "warning" not in features(told).stderr


def test_decimal_commas_mixed_with_thousands_separators_are_refused(tmp_path: Path) -> None:
    config = project(tmp_path, 'A,2024-01-05,"2,5"\nB,2024-01-06,"1,234.50"\n')
    refused(
        features(config),
        "column 'amount' mixes decimal commas (e.g. row 1: '2,5') and thousands separators "
        "(e.g. row 2: '1,234.50')",
    )


# --------------------------------------------------------------------------------- headers


def test_a_repeated_header_of_a_used_column_is_refused(tmp_path: Path) -> None:
    config = project(tmp_path, "A,2024-01-01,1,5\n", header="customer_id,timestamp,amount,amount\n")
    refused(
        features(config),
        "the header repeats 'amount' in columns [3, 4], so which column holds the values is "
        "unclear: rename the columns so each name is used once",
    )


def test_a_repeated_header_of_another_column_is_a_warning(tmp_path: Path) -> None:
    config = project(
        tmp_path, "A,2024-01-01,1,5,x\n", header="customer_id,timestamp,amount,note,note\n"
    )
    done = features(config)
    assert done.returncode == 0, done.stderr
    assert (
        "warning: the header repeats 'note' (columns [4, 5]): the later one(s) are read as "
        "'note.1'" in done.stderr
    )


# --------------------------------------------------------------------- paths and content


@pytest.mark.parametrize("target", ["/etc/passwd", "folder.csv"])
def test_config_paths_are_read_only_as_tabular_files(tmp_path: Path, target: str) -> None:
    (tmp_path / "folder.csv").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"data:\n  transactions:\n    path: {target}\n")
    shown = target if target.startswith("/") else str(tmp_path / target)
    done = features(config)
    refused(done, f"error: {shown} is not a CSV or Parquet data file: expected a regular file")
    assert "root" not in done.stderr.replace(str(tmp_path), "")


def test_errors_never_echo_the_content_of_a_non_data_file(tmp_path: Path) -> None:
    secret = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    (tmp_path / "notes.txt").write_text(secret)
    config = tmp_path / "config.yaml"
    config.write_text("data:\n  transactions:\n    path: notes.txt\n")
    done = features(config)
    refused(done, "required column 'customer_id' is missing")
    assert "one column only (its name is not shown): is the separator right?" in done.stderr
    assert "root" not in done.stderr.replace(str(tmp_path), "")
    (tmp_path / "binary.csv").write_bytes(b"\x00\xff\xfe secret\n\x00,\x01\n")
    config.write_text("data:\n  transactions:\n    path: binary.csv\n")
    done = features(config)
    assert done.returncode == 2
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr


# -------------------------------------------------------------------- scoring and training


def inactive_rows() -> str:
    rows = [f"C{i},2022-01-{i % 28 + 1:02d},{10 + i % 7}\n" for i in range(200)]
    return "".join(rows) + "Z,2024-12-30,10\n"


def test_scoring_when_no_customer_is_active(tmp_path: Path) -> None:
    from serving.batch import score_base
    from tests.serving.support import tiny_scorer

    config = project(tmp_path, inactive_rows())
    ids = [f"C{i}" for i in range(200)] + ["Z"]
    pd.DataFrame({"customer_id": ids, "region": "north"}).to_csv(tmp_path / "c.csv", index=False)
    config.write_text(config.read_text() + "  customers:\n    path: c.csv\n")
    with pytest.raises(CutoffError) as err:
        score_base(
            config,
            Cutoff.parse("2024-06-30"),
            out_dir=tmp_path / "out",
            scorer=tiny_scorer(),
            progress=False,
        )
    assert str(err.value) == (
        "no customer is active as of 2024-06-30 (a purchase in the last 365 days): nothing to "
        "score; give a later --as-of"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # starts `retain train` (it stops before fitting)
def test_training_when_no_customer_is_eligible(tmp_path: Path) -> None:
    config = project(tmp_path, inactive_rows())
    refused(
        retain("train", "--config", str(config), "--quiet", home=tmp_path),
        "error: no customer is active at the train cutoff(s) (",
    )


@pytest.mark.slow  # starts `retain train` (it stops before fitting)
def test_training_on_all_zero_amounts(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    days = pd.date_range("2023-01-01", "2024-12-31", freq="D")
    rows = "".join(
        f"C{i},{days[d].date()},0\n" for i in range(300) for d in rng.choice(len(days), 8)
    )
    config = project(tmp_path, rows)
    refused(
        retain("train", "--config", str(config), "--quiet", home=tmp_path),
        "rows): are the transactions' amounts all zero or negative? Check the amount column "
        "(data.transactions.columns.amount); the CLV model needs some spend",
    )
