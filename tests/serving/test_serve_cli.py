"""`retain serve` refuses to bind beyond loopback without an API key unless told --insecure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serving.cli import is_loopback, worker_count
from tests.helpers import ROOT

RETAIN = str(Path(sys.executable).parent / "retain")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("scores.example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20"])
def test_serve_beyond_loopback_without_a_key_is_refused(host: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RETAIN_API_KEY"}
    result = subprocess.run(
        [RETAIN, "serve", "--host", host, "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"error: refusing to bind {host} without an API key: set RETAIN_API_KEY (or --api-key), "
        "or pass --insecure to serve unauthenticated"
    )
    assert "Traceback" not in result.stderr


def test_serve_before_package_says_what_to_run(tmp_path: Path) -> None:
    env = {**os.environ, "RETAIN_HOME": str(tmp_path)}
    env.pop("BENTOML_HOME", None)
    config = tmp_path / "shop.yaml"
    config.write_text("name: Shop\ndata: {transactions: {path: orders.csv}}\n")
    result = subprocess.run(
        [RETAIN, "serve", "--config", str(config), "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    store = tmp_path / "workspaces" / "shop" / "bentoml"
    assert result.stderr.strip() == (
        f"error: nothing to serve: no packaged models in this workspace's BentoML store ({store}); "
        "run `retain train` then `retain package` first"
    )


def test_zero_workers_means_one_per_cpu_core() -> None:
    assert worker_count(0) == os.cpu_count()
    assert worker_count(3) == 3
