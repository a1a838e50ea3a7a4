"""Runtime settings from the environment: where retain keeps its state, and telemetry off.

Nothing here runs at import time; the CLI and the service call these at start-up.
"""

from __future__ import annotations

import os
from pathlib import Path

TELEMETRY_OFF = {
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}


QUIET_DEFAULTS = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
"""Overridable: a model loads from a local store in milliseconds; no per-file progress bars."""


def disable_telemetry() -> None:
    """Switch off BentoML's and MLflow's usage reporting: the tools run on closed machines."""
    for key, value in TELEMETRY_OFF.items():
        os.environ[key] = value
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)


def project_root() -> Path | None:
    """The source checkout holding this package (a folder with pyproject.toml), if any."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else None


def retain_home() -> Path:
    """Where retain keeps its state: $RETAIN_HOME, else <checkout>/.retain, else ~/.retain."""
    env = os.environ.get("RETAIN_HOME")
    if env:
        return Path(env).expanduser().resolve()
    root = project_root()
    return (root / ".retain") if root else Path.home() / ".retain"


def bentoml_home() -> Path:
    """BentoML's model and bento store: $BENTOML_HOME, else <retain home>/bentoml."""
    env = os.environ.get("BENTOML_HOME")
    return Path(env).expanduser().resolve() if env else retain_home() / "bentoml"


def use_local_bentoml_home() -> Path:
    """Point BentoML at retain's store (before bentoml is imported) and return it."""
    home = bentoml_home()
    os.environ["BENTOML_HOME"] = str(home)
    return home


TEST_KILL_AT = "RETAIN_TEST_KILL_AT"
"""Test hook: the name of a point (e.g. ``score:scores.csv``) where the process kills itself."""


def test_hook(point: str) -> None:
    """Fault-test hook: SIGKILL this process at ``point`` if ``$RETAIN_TEST_KILL_AT`` names it."""
    if os.environ.get(TEST_KILL_AT) == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a lock holder, a training)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
