"""Training against a real `mlflow server` process on a loopback port with its own backend store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.config_file import load_config
from features.build import build_features
from features.loading import load_data
from model.registry import (
    CHAMPION,
    load_version,
    set_process_tracking_uri,
    version_by_alias,
)
from tests.helpers import SMALL_TRAINING, free_port, write_config
from training.pipeline import train


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    store = tmp_path / "server"
    store.mkdir()
    log = (tmp_path / "mlflow-server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination",
            str(store / "artifacts"),
            "--serve-artifacts",
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"mlflow server exited:\n{(tmp_path / 'mlflow-server.log').read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health within 90 s")
        yield url
    finally:
        # MLflow keeps the tracking URI process-wide (and in the environment): back to the local store
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        set_process_tracking_uri()
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_train_against_a_tracking_server_and_load_the_champion_back(
    mlflow_server: str, demo_data: Path, tmp_path: Path
) -> None:
    config = load_config(
        write_config(
            tmp_path / "remote.yaml", demo_data / "retail", name="remote", **SMALL_TRAINING
        )
    )
    result = train(config, tracking_uri=mlflow_server, progress=False, log=lambda _: None)
    assert result.tracking_uri == mlflow_server
    assert result.decisions["churn"].promote

    version = version_by_alias("churn", tracking_uri=mlflow_server)
    assert version is not None
    assert str(version.version) == result.versions["churn"]
    assert CHAMPION in version.aliases
    bundle = load_version("churn", str(version.version), tracking_uri=mlflow_server).bundle
    assert bundle.horizon_days == 90
    assert "days_since_last_purchase" in bundle.encoding.columns
    # the model loaded back from the server scores the test rows exactly as evaluated in training
    test_rows = result.predictions
    data, _ = load_data(config.data)
    features = build_features(data, result.test_cutoff, families=bundle.families)
    np.testing.assert_allclose(
        bundle.predict(features.loc[test_rows["customer_id"]]),
        test_rows["churn.lightgbm"],
        rtol=1e-12,
    )
    # the artifacts live with the server, not in this process's local store
    assert not (Path(os.environ["RETAIN_HOME"]) / "mlartifacts" / "remote").exists()
