"""The campaign ledger round trip, on sqlite and on a real PostgreSQL server the test starts.

A campaign and its customers are written in one transaction: read back equal, listed newest
first, and a write that fails part-way (a repeated customer) leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.economics import Economics
from core.errors import ConfigError, DataValidationError
from retention.ledger import CampaignRecord, Ledger, LedgerError, ledger_url, new_campaign_id

PG_BINARIES = ("initdb", "pg_ctl", "postgres")
DEBIAN_BINS = [str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")]
"""Where Debian's postgresql package puts the binaries (not on PATH)."""


def record(
    campaign_id: str, created: str, n_treatment: int = 3, n_control: int = 1
) -> CampaignRecord:
    return CampaignRecord(
        campaign_id=campaign_id,
        created_at=dt.datetime.fromisoformat(created),
        as_of=dt.date(2024, 12, 31),
        horizon_days=90,
        contractual=False,
        policy="risk-value (assumed acceptance)",
        economics=Economics(currency="EUR", gross_margin=0.4),
        budget=5000.0,
        control_share=0.25,
        seed=7,
        model_versions={"churn": "churn:3", "clv": "clv:2"},
        scores_generation="20241231T000000Z-abc123",
        n_treatment=n_treatment,
        n_control=n_control,
    )


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["R1", "R2", "R3", "R4"],
        "arm": np.array([1, 1, 0, 1], dtype="int8"),
        "risk_tier": ["high", "high", "high", None],
        "rank": pd.array([1, 2, 3, 4], dtype="Int64"),
        "churn_probability": [0.9, 0.8, 0.85, 0.3],
        "clv": [120.0, 80.0, 100.0, np.nan],
        "expected_gain": [20.5, 9.25, 15.0, -1.0],
    }
)


def round_trip(ledger: Ledger) -> None:
    first, second = (
        record("C20241231-aaaaaa", "2025-01-02T09:00:00"),
        record("C20250131-bbbbbb", "2025-02-01T09:00:00"),
    )
    ledger.record(first, CUSTOMERS)
    ledger.record(second, CUSTOMERS.iloc[:2])
    assert [c.campaign_id for c in ledger.campaigns()] == [second.campaign_id, first.campaign_id]
    back, customers = ledger.campaign(first.campaign_id)
    assert back == first
    expected = CUSTOMERS.sort_values(["arm", "rank"], ascending=[False, True]).reset_index(
        drop=True
    )
    pd.testing.assert_frame_equal(customers, expected, check_dtype=False)
    assert customers["customer_id"].tolist() == ["R1", "R2", "R4", "R3"]  # treatment first
    assert pd.isna(customers["risk_tier"].iloc[2])
    assert np.isnan(customers.loc[customers["customer_id"] == "R4", "clv"].iloc[0])
    table = ledger.table()
    assert table["treatment"].tolist() == [3, 3]
    assert table["models"].tolist()[0] == "churn churn:3, clv clv:2"
    # a write failing part-way (a customer twice) is rolled back whole
    repeated = pd.concat([CUSTOMERS, CUSTOMERS.iloc[:1]], ignore_index=True)
    with pytest.raises(LedgerError, match="nothing of it was written"):
        ledger.record(record("C20250301-cccccc", "2025-03-01T09:00:00"), repeated)
    assert not ledger.has("C20250301-cccccc")
    assert len(ledger.campaigns()) == 2
    with pytest.raises(DataValidationError, match="no campaign 'C1' in the ledger"):
        ledger.campaign("C1")


def test_sqlite_round_trip(tmp_path: Path) -> None:
    round_trip(Ledger(f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"))


def test_the_ledger_url_comes_from_the_flag_the_environment_or_the_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RETAIN_HOME", str(tmp_path))
    monkeypatch.delenv("RETAIN_LEDGER_URL", raising=False)
    assert ledger_url() == f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("RETAIN_LEDGER_URL", "sqlite:///elsewhere.db")
    assert ledger_url() == "sqlite:///elsewhere.db"
    assert ledger_url("sqlite:///flag.db") == "sqlite:///flag.db"
    with pytest.raises(ConfigError, match="not a usable SQLAlchemy URL"):
        Ledger("no-such-dialect://x")


def test_campaign_ids_are_readable_and_unique() -> None:
    ids = {new_campaign_id(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("C20261201-") and len(i) == 16 for i in ids)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server in a temporary folder on 127.0.0.1 and a free port (as 'nobody' when
    run as root, which postgres refuses); its SQLAlchemy URL."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *sorted(DEBIAN_BINS, reverse=True)])
    found = {b: shutil.which(b, path=search) for b in PG_BINARIES}
    missing = [b for b, path in found.items() if path is None]
    if missing:
        pytest.skip(
            f"PostgreSQL binaries {missing} are neither on PATH nor in /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql)"
        )
    initdb, pg_ctl = str(found["initdb"]), str(found["pg_ctl"])
    folder = Path(tempfile.mkdtemp(prefix="retain-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: postgres refuses to run as root")
        shutil.chown(folder, user="nobody")
        prefix = ["runuser", "-u", "nobody", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "retain", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -h 127.0.0.1 -k {folder}"
    start = [*prefix, pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options]
    subprocess.run([*start, "-w", "start"], check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://retain@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_round_trip(postgres: str) -> None:
    ledger = Ledger(postgres)
    assert ledger.shown.startswith("postgresql+psycopg://retain@127.0.0.1:")
    round_trip(ledger)
    ledger.engine.dispose()
