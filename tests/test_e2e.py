"""End to end through the CLI, as `make demo` runs it: data -> train -> package -> score -> serve."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ROOT, SMALL_TRAINING, free_port, http, write_config
from training.metrics import roc_auc

RETAIN = str(Path(sys.executable).parent / "retain")


@pytest.mark.slow
def test_demo_flow_through_the_cli_reaches_a_live_service_that_recovers_the_planted_signal(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "RETAIN_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("BENTOML_HOME", None)  # each workspace keeps its own BentoML store

    def retain(*args: str) -> str:
        done = subprocess.run(
            [RETAIN, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (
            f"retain {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        )
        if args[0] == "train":  # library warnings are plain notes, never raw with source paths
            assert "Warning:" not in done.stderr, done.stderr[-3000:]
            assert ".py:" not in done.stdout + done.stderr
        return done.stdout

    retain(
        "demo-data", "--out", str(tmp_path / "data"), "--customers", "1500", "--business", "retail"
    )
    config = write_config(
        tmp_path / "demo.yaml", tmp_path / "data" / "retail", name="e2e", **SMALL_TRAINING
    )
    trained = retain("train", "--config", str(config), "--quiet")
    assert "churn v1: champion" in trained
    assert re.search(r"churn/lightgbm (on|is biased on) the test cutoff: mean predicted", trained)
    assert "retain-churn" in retain("package")  # the workspace train chose
    assert "active customers" in retain("score", "--config", str(config))
    scores = pd.read_parquet(home / "workspaces" / "e2e" / "scores" / "scores.parquet")

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [RETAIN, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("retain serve did not become ready")
        ids = scores["customer_id"].tolist()
        status, body = http("POST", f"{url}/score_ids", {"customer_ids": ids})
        assert status == 200
        answers = pd.DataFrame(body["scores"]).set_index("customer_id")
        assert answers["error"].isna().all()
        p = answers["churn_probability"].to_numpy()
        assert ((p >= 0) & (p <= 1)).all()
        assert (answers["clv"] >= 0).all()

        truth = pd.read_parquet(tmp_path / "data" / "retail" / "truth.parquet").set_index(
            "customer_id"
        )
        dead = ~truth.loc[answers.index, "alive_at_end"].to_numpy()
        assert p[dead].mean() > p[~dead].mean() + 0.2, "planted churners must score clearly higher"
        assert roc_auc(dead.astype(int), p) > 0.75
        np.testing.assert_allclose(
            answers.loc[ids, "churn_probability"], scores["churn_probability"], rtol=1e-12
        )
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()
