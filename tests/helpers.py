"""Test helpers: real processes on loopback ports, and the paths tests share."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from model.card import Cutoffs, DataSummary, ModelCard
from serving.cli import bentoml_serve_args

ROOT = Path(__file__).resolve().parents[1]
CDNOW_DIR = ROOT.parent / "shared" / "data" / "cdnow"

FAST_LIGHTGBM = {"n_estimators": 60, "early_stopping_rounds": 20}
"""Short boosting for test trainings: seconds, not minutes."""
SMALL_TRAINING: dict[str, Any] = {
    "split": {"max_train_cutoffs": 2},
    "churn": {"lightgbm": FAST_LIGHTGBM},
    "clv": {"lightgbm": FAST_LIGHTGBM},
}
"""Config overrides of a small training: two training cutoffs, short boosting."""


def workspace_of(home: Path, config: Path) -> tuple[str, Path]:
    """The workspace a config chooses under ``home``, and its state folder."""
    from core.workspace import config_workspace

    name = config_workspace(config)
    return name, home / "workspaces" / name


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    *,
    raw: bytes | str | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """One HTTP request; returns (status, parsed JSON or text) for 2xx and error statuses alike.

    ``body`` is sent as JSON; ``raw`` exactly as given (malformed JSON, NaN literals, ...).
    """
    if raw is not None:
        data: bytes | None = raw.encode() if isinstance(raw, str) else raw
    else:
        data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": content_type, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


class Server:
    """A real ``bentoml serve`` process of the retain service on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = bentoml_serve_args("127.0.0.1", self.port)
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},  # the log is read while it runs
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> bool:
        """True once /readyz answers 200; False if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        return False

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def output_with(self, line: str, count: int = 1, timeout: float = 30) -> str:
        """The log once ``line`` is in it ``count`` times: the server writes it after answering."""
        deadline = time.monotonic() + timeout
        while (log := self.output()).count(line) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return log

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self._log_file.close()


@contextmanager
def running_server(env: dict[str, str], log: Path, what: str = "service") -> Iterator[Server]:
    """A ``Server`` started with ``env``, ready on /readyz (else the test fails with the end of
    its log), and stopped when the block ends."""
    server = Server(env, log)
    try:
        if not server.wait_ready():
            pytest.fail(f"{what} did not become ready:\n{server.output()[-4000:]}")
        yield server
    finally:
        server.stop()


def write_config(path: Path, data_dir: Path, **overrides: Any) -> Path:
    """An experiment YAML for the demo retail data in ``data_dir`` (absolute paths), untuned."""
    import yaml

    config: dict[str, Any] = {
        "name": f"test-{path.stem}",
        "data": {
            "transactions": {"path": str(data_dir / "transactions.csv")},
            "customers": {"path": str(data_dir / "customers.csv")},
        },
        "horizon_days": 90,
        "seed": 42,
        "tuning": {"enabled": False},  # tests about tuning turn it on
    }
    config.update(overrides)
    path.write_text(yaml.safe_dump(config))
    return path


def card_for(kind: str, features: list[str], **fields: Any) -> ModelCard:
    """A model card for a test bundle: fixed dates and data summary, ``fields`` override any."""
    values: dict[str, Any] = {
        "task": kind,
        "model": "lightgbm",
        "experiment": "test",
        "trained_at": "2024-12-31T12:00:00+00:00",
        "horizon_days": 90,
        "features": features,
        "data": DataSummary(
            fingerprint="0" * 16, rows=400, customers=400, start="2023-01-01", end="2024-12-31"
        ),
        "cutoffs": Cutoffs(train=["2024-03-31"], validation="2024-06-30", test="2024-09-30"),
    }
    return ModelCard.model_validate({**values, **fields})
