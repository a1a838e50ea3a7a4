"""`retain score` and `retain campaign` killed (SIGKILL) at each write leave readable, whole state.

Real subprocesses run the real writers with a tiny real model pair; ``RETAIN_TEST_KILL_AT``
(``core.settings.test_hook``) makes the process kill itself at the named point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.settings import TEST_KILL_AT
from retention.ledger import Ledger
from serving.generation import (
    GENERATIONS,
    SCORE_META,
    GenerationError,
    parquet_generation,
    read_scores,
)
from tests.helpers import ROOT, write_config

pytestmark = pytest.mark.slow  # each test runs real `retain` processes and kills them

FIRST, SECOND = "2024-06-30", "2024-12-31"
EVIL = '=HYPERLINK("http://x","y")'

CHILD = """
import sys
from pathlib import Path
from core.cutoff import Cutoff
from serving.batch import score_base
from tests.serving.support import tiny_scorer
run = score_base(Path(sys.argv[1]), Cutoff.parse(sys.argv[2]), out_dir=Path(sys.argv[3]), scorer=tiny_scorer(),
                 progress=False)
print(run.scored)
"""


def write_data(folder: Path) -> Path:
    """60 customers buying monthly to quarterly through 2023-2024, and their regions."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        day = pd.Timestamp("2023-01-02") + pd.Timedelta(days=int(rng.integers(0, 60)))
        while day < pd.Timestamp("2024-12-31"):
            rows.append((f"C{i:03d}", day.date().isoformat(), round(float(rng.gamma(2, 20)), 2)))
            day += pd.Timedelta(days=int(rng.integers(20, 120)))
    rows.append(("C000", "2024-12-31", 10.0))
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(
        folder / "transactions.csv", index=False
    )
    regions = np.array(["north", "south", "east", EVIL], dtype=object)[np.arange(60) % 4]
    pd.DataFrame({"customer_id": [f"C{i:03d}" for i in range(60)], "region": regions}).to_csv(
        folder / "customers.csv", index=False
    )
    return write_config(folder / "config.yaml", folder)


def env(home: Path, kill_at: str | None = None) -> dict[str, str]:
    out = {**os.environ, "RETAIN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    out["RETAIN_FEATURE_TABLE"] = str(home / "serving" / "features_latest.parquet")
    out.pop(TEST_KILL_AT, None)
    if kill_at:
        out[TEST_KILL_AT] = kill_at
    return out


def score(home: Path, config: Path, as_of: str, kill_at: str | None = None) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), as_of, str(home / "scores")],
        cwd=ROOT,
        env=env(home, kill_at),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, -9), done.stderr[-3000:]
    return done.returncode


CHEAP_OFFER = ["--offer-cost", "0.5", "--contact-cost", "0.1", "--acceptance", "0.5"]
"""An offer cheap enough for the tiny model's small values to be worth contacting."""


def campaign(
    home: Path, budget: str, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    retain = Path(sys.executable).parent / "retain"
    scores = home / "scores" / "scores.parquet"
    return subprocess.run(
        [str(retain), "campaign", "--budget", budget, "--scores", str(scores), *CHEAP_OFFER],
        cwd=ROOT,
        env=env(home, kill_at),
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(home: Path) -> dict[str, bytes]:
    """Every published file's bytes (temporary and generation files aside)."""
    files = [home / "scores" / n for n in ("scores.parquet", "scores.csv", SCORE_META)]
    files.append(home / "serving" / "features_latest.parquet")
    files += [
        home / "scores" / n
        for n in ("campaign.csv", "profit_curve.csv", "profit_curve.png", "campaign.json")
    ]
    return {p.name: p.read_bytes() for p in files if p.exists()}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A home scored once as of FIRST, with a campaign planned on it; a copy per test."""
    home = tmp_path_factory.mktemp("first")
    config = write_data(home / "data")
    assert score(home, config, FIRST) == 0
    assert campaign(home, "100").returncode == 0
    return home, snapshot(home)


@pytest.fixture
def home(first: tuple[Path, dict[str, bytes]], tmp_path: Path) -> Path:
    import shutil

    source, _ = first
    target = tmp_path / "home"
    shutil.copytree(source, target, symlinks=True)
    config = target / "data" / "config.yaml"
    config.write_text(config.read_text().replace(str(source), str(target)))
    return target


def as_of_read(home: Path) -> str:
    scores, gen = read_scores(home / "scores" / "scores.parquet")
    assert gen is not None
    assert gen.meta["as_of"] == str(pd.Timestamp(scores["as_of"].iloc[0]).date())
    return str(gen.meta["as_of"])


@pytest.mark.parametrize("point", ["scores.parquet", "scores.csv", "lookup", "meta"])
def test_score_killed_before_the_commit_leaves_the_previous_generation(
    home: Path, first: tuple[Path, dict[str, bytes]], point: str
) -> None:
    before = snapshot(home)
    assert score(home, home / "data" / "config.yaml", SECOND, kill_at=f"score:{point}") == -9
    assert snapshot(home) == before  # every published file byte for byte
    assert as_of_read(home) == FIRST
    done = campaign(home, "50")
    assert done.returncode == 0, done.stderr
    assert score(home, home / "data" / "config.yaml", SECOND) == 0  # the next run recovers
    assert as_of_read(home) == SECOND


@pytest.mark.parametrize("point", ["committed", "published"])
def test_score_killed_after_the_commit_reads_the_new_generation_whole(
    home: Path, point: str
) -> None:
    assert score(home, home / "data" / "config.yaml", SECOND, kill_at=f"score:{point}") == -9
    assert as_of_read(home) == SECOND
    meta = json.loads((home / "scores" / SCORE_META).read_text())
    published = parquet_generation(home / "scores" / "scores.parquet")
    assert (published == meta["generation"]) is (point == "published")
    done = campaign(home, "50")
    assert done.returncode == 0, done.stderr
    assert (
        json.loads((home / "scores" / "campaign.json").read_text())["scores_generation"]
        == (meta["generation"])
    )


def test_a_generation_is_written_whole_and_old_ones_pruned(home: Path) -> None:
    config = home / "data" / "config.yaml"
    for _ in range(3):
        assert score(home, config, SECOND) == 0
    meta = json.loads((home / "scores" / SCORE_META).read_text())
    gens = sorted(p.name for p in (home / "scores" / GENERATIONS).iterdir())
    assert gens == sorted([meta["previous_generation"], meta["generation"]])
    for name in ("scores.parquet", "features_latest.parquet"):
        folder = home / ("scores" if name == "scores.parquet" else "serving")
        assert parquet_generation(folder / name) == meta["generation"]
    csv = home / "scores" / "scores.csv"
    assert csv.stat().st_size == meta["files"]["scores.csv"]
    assert not list((home / "scores").glob(".*.tmp"))


@pytest.mark.parametrize(
    "point", ["campaign.csv", "profit_curve.csv", "profit_curve.png", "campaign.json"]
)
def test_campaign_killed_at_each_write_leaves_whole_files(
    home: Path, first: tuple[Path, dict[str, bytes]], point: str
) -> None:
    before = snapshot(home)
    done = campaign(home, "7", kill_at=f"campaign:{point}")
    assert done.returncode == -9
    after = snapshot(home)
    assert after[point] == before[point]
    order = ["campaign.csv", "profit_curve.csv", "profit_curve.png", "campaign.json"]
    for name in order[order.index(point) + 1 :]:
        if name in before:
            assert after[name] == before[name]
    listed = pd.read_csv(home / "scores" / "campaign.csv", dtype=str)
    (listed_id,) = set(listed["campaign_id"])  # the list is one recorded campaign's treatment arm
    customers = ledger(home).campaign(listed_id)[1]
    assert (
        listed["customer_id"].tolist()
        == customers.loc[customers["arm"] == 1, "customer_id"].tolist()
    )
    assert json.loads((home / "scores" / "campaign.json").read_text())["budget"] in (100, 7)
    stray = list((home / "scores").glob(".*.tmp"))
    assert [p.name.split(".")[1] for p in stray] == [point.split(".")[0]]  # the killed one
    assert campaign(home, "7").returncode == 0  # the next run completes and clears it
    assert not list((home / "scores").glob(".*.tmp"))
    assert json.loads((home / "scores" / "campaign.json").read_text())["budget"] == 7


def ledger(home: Path) -> Ledger:
    return Ledger(f"sqlite:///{home / 'ledger.db'}")


@pytest.mark.parametrize(
    "point", ["stage:campaign.csv", "stage:profit_curve.png", "stage:campaign.json", "ledger"]
)
def test_campaign_killed_before_the_ledger_commit_leaves_ledger_and_files_unchanged(
    home: Path, point: str
) -> None:
    before_files = snapshot(home)
    before = ledger(home).table()
    folders = sorted(p.name for p in (home / "scores" / "campaigns").iterdir())
    assert campaign(home, "100", kill_at=f"campaign:{point}").returncode == -9
    assert ledger(home).table().equals(before)  # no half campaign in the ledger
    assert snapshot(home) == before_files  # nor in the published files
    assert campaign(home, "100").returncode == 0  # the next run removes the staged folder
    after = sorted(p.name for p in (home / "scores" / "campaigns").iterdir())
    assert len(after) == len(folders) + 1
    assert not [name for name in after if name.startswith(".")]
    assert len(ledger(home).table()) == len(before) + 1


def test_campaign_killed_after_the_commit_is_recorded_whole_and_finished_next_run(
    home: Path,
) -> None:
    before = set(ledger(home).table()["campaign_id"])
    assert campaign(home, "100", kill_at="campaign:committed").returncode == -9
    (new,) = set(ledger(home).table()["campaign_id"]) - before
    record, customers = ledger(home).campaign(new)
    assert len(customers) == record.n_treatment + record.n_control
    assert record.n_control > 0
    staged = list((home / "scores" / "campaigns").glob(f".{new}.*.tmp"))
    assert len(staged) == 1
    assert campaign(home, "100").returncode == 0
    folder = home / "scores" / "campaigns" / new
    assert json.loads((folder / "campaign.json").read_text())["campaign_id"] == new
    listed = pd.read_csv(folder / "campaign.csv", dtype=str)
    assert (
        listed["customer_id"].tolist()
        == customers.loc[customers["arm"] == 1, "customer_id"].tolist()
    )


def test_text_cells_that_start_a_formula_are_neutralised(home: Path) -> None:
    scores = pd.read_csv(home / "scores" / "scores.csv", dtype=str)
    evil = scores.loc[scores["customer_id"].isin(["C003", "C007"]), "region"]
    assert len(evil) == 2
    assert (evil == "'" + EVIL).all()
    plain = pd.read_parquet(home / "scores" / "scores.parquet")
    assert set(plain["region"]) >= {EVIL, "north"}  # the Parquet keeps the true value
    assert pd.api.types.is_float_dtype(pd.read_csv(home / "scores" / "scores.csv")["clv"])


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("meta", "score_meta.json is unreadable (not the JSON `retain score` writes)"),
        ("swap", "not generation"),
        ("missing", "is missing: rerun `retain score`"),
        ("csv", "bytes, not the"),
    ],
)
def test_a_mismatched_or_unreadable_generation_is_a_clear_error(
    home: Path, damage: str, words: str
) -> None:
    folder = home / "scores"
    meta = json.loads((folder / SCORE_META).read_text())
    gen_dir = folder / GENERATIONS / meta["generation"]
    if damage == "meta":
        (folder / SCORE_META).write_text("{not json")
    elif damage == "swap":
        pd.DataFrame({"customer_id": ["X"]}).to_parquet(gen_dir / "scores.parquet")
    elif damage == "missing":
        (gen_dir / "scores.parquet").unlink()
    else:
        with (gen_dir / "scores.csv").open("a") as f:
            f.write("truncated,row\n")
    with pytest.raises(GenerationError, match="rerun `retain score`"):
        read_scores(folder / "scores.parquet")
    for command in ("campaign", "report"):
        retain = Path(sys.executable).parent / "retain"
        args = (
            ["--budget", "10"]
            if command == "campaign"
            else ["--config", str(home / "data" / "config.yaml")]
        )
        done = subprocess.run(
            [str(retain), command, *args, "--scores", str(folder / "scores.parquet")],
            cwd=ROOT,
            env=env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ")
        assert words in done.stderr
        assert "Traceback" not in done.stderr


def test_spreadsheet_safe_prefixes_formula_text_only() -> None:
    from serving.files import spreadsheet_safe

    frame = pd.DataFrame(
        {
            "text": ["=1+2", "-3.5", "@SUM(A1)", "ok", None, "\tx", "\ry", "+44 20", "-x"],
            "number": [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, -9.0],
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist()[:4] == ["'=1+2", "-3.5", "'@SUM(A1)", "ok"]
    assert pd.isna(safe["text"].iloc[4])
    assert safe["text"].tolist()[5:] == ["'\tx", "'\ry", "'+44 20", "'-x"]
    assert safe["number"].tolist() == frame["number"].tolist()
    assert frame["text"].iloc[0] == "=1+2"  # the input is not changed
