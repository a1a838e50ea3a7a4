"""A trained demo project and a real retain server on 127.0.0.1, for `make fuzz` and `make soak`.

The project (2,000 demo retail customers: train, package, score) lives in its own home under
``.retain/harness-home`` and is built once; the server is a real ``bentoml serve`` process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from serving.cli import bentoml_serve_args

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".retain" / "harness-home"
WORKSPACE = "harness"
"""The harness config's name, so its workspace: the project's state is kept there."""
STATE = HOME / "workspaces" / WORKSPACE


def env_for_home(**extra: str) -> dict[str, str]:
    """The environment of the harness home: its own state, telemetry off."""
    return {
        **os.environ,
        "RETAIN_HOME": str(HOME),
        "RETAIN_WORKSPACE": WORKSPACE,  # the server reads the lookup table `retain score` wrote
        "BENTOML_HOME": str(HOME / "bentoml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{HOME / 'mlflow.db'}",
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "MLFLOW_LOG_UV_FILES": "false",
        **extra,
    }


def ensure_project(customers: int = 2000) -> None:
    """Demo data, training, packaging and batch scoring in the harness home, once."""
    if (STATE / "serving" / "features_latest.parquet").exists():
        return
    retain = str(Path(sys.executable).parent / "retain")
    env = env_for_home()
    (HOME / "data").mkdir(parents=True, exist_ok=True)
    config = HOME / "demo.yaml"
    config.write_text(
        f"name: {WORKSPACE}\ndata:\n  transactions: {{path: {HOME}/data/retail/transactions.csv}}\n"
        f"  customers: {{path: {HOME}/data/retail/customers.csv}}\n"
    )
    steps = [
        [
            "demo-data",
            "--out",
            str(HOME / "data"),
            "--customers",
            str(customers),
            "--business",
            "retail",
        ],
        ["train", "--config", str(config), "--quiet"],
        ["package"],
        ["score", "--config", str(config)],
    ]
    for args in steps:
        print("  retain", " ".join(args), flush=True)
        subprocess.run([retain, *args], env=env, cwd=ROOT, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A retain server of the harness home on a free loopback port (a context manager)."""

    def __init__(self, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._env = env_for_home(**env)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("wb")
        self.process = subprocess.Popen(
            bentoml_serve_args("127.0.0.1", self.port),
            cwd=ROOT,
            env=self._env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after 120 s; see {self.log}")

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()

    def worker_pids(self) -> list[int]:
        """The server's process and its children (BentoML's workers)."""
        assert self.process is not None
        pids = [self.process.pid]
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        )
        pids += [int(p) for p in out.stdout.split()]
        return pids
