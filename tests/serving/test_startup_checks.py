"""A model whose features differ from the feature schema stops the service at start-up, loudly.

The packaged churn model is copied into a separate BentoML store and its bundle.json edited so
that its encoding names ``tenure_weeks`` where the schema has ``tenure_days``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from features.errors import DataValidationError
from model.bundle import BUNDLE_FILE, ModelBundle
from tests.conftest import TrainedProject
from tests.helpers import Server

pytestmark = pytest.mark.slow  # packages the trained demo project; starts a server

RENAMED = ("tenure_days", "tenure_weeks")
FAILURE_LINE = "retain start-up check failed"


def _latest(models: Path, name: str) -> Path:
    return models / name / (models / name / "latest").read_text().strip()


@pytest.fixture
def tampered_home(trained: TrainedProject, tmp_path: Path) -> Path:
    """A BentoML home with the session's models, the churn model's feature list edited."""
    home = tmp_path / "bentoml"
    shutil.copytree(trained.home / "bentoml" / "models", home / "models")
    bundle = _latest(home / "models", "retain-churn") / BUNDLE_FILE
    meta = json.loads(bundle.read_text())
    columns = meta["encoding"]["columns"]
    assert RENAMED[0] in columns
    meta["encoding"]["columns"] = [RENAMED[1] if c == RENAMED[0] else c for c in columns]
    bundle.write_text(json.dumps(meta))
    return home


def test_loading_the_tampered_bundle_names_the_differing_features(tampered_home: Path) -> None:
    bundle = ModelBundle.load(_latest(tampered_home / "models", "retain-churn"))
    with pytest.raises(DataValidationError) as err:
        bundle.check_schema()
    assert f"missing ['{RENAMED[0]}'], unexpected ['{RENAMED[1]}']" in str(err.value)


def test_service_with_a_mismatched_model_never_becomes_ready(
    tampered_home: Path, tmp_path: Path
) -> None:
    server = Server({"BENTOML_HOME": str(tampered_home)}, tmp_path / "service.log")
    try:
        # BentoML restarts a worker whose start-up failed instead of exiting, so the wait is
        # bounded: until the check has failed twice (a restart included) or 60 s have passed.
        deadline = time.monotonic() + 60
        ready_seen = False
        while time.monotonic() < deadline and server.output().count(FAILURE_LINE) < 2:
            ready_seen = ready_seen or server.wait_ready(timeout=1)
            if server.process.poll() is not None:
                break
        ready_seen = ready_seen or server.wait_ready(timeout=2)
        log = server.output()
    finally:
        server.stop()
    assert not ready_seen, "/readyz answered 200 with a mismatched model"
    assert FAILURE_LINE in log, log[-3000:]
    line = next(x for x in log.splitlines() if FAILURE_LINE in x)
    assert "the churn model's features differ from the feature schema" in line
    assert f"missing ['{RENAMED[0]}'], unexpected ['{RENAMED[1]}']" in line
