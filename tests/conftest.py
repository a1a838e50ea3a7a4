"""Shared fixtures: isolated state per session, demo data, and one trained and served project.

Nothing here touches the checkout's .retain folder or the network: RETAIN_HOME, BENTOML_HOME and
the MLflow store all point into pytest's temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from core.cutoff import Cutoff
from core.settings import TELEMETRY_OFF
from tests.helpers import CDNOW_DIR, Server, write_config

DEMO_ECONOMICS = {"currency": "GBP", "gross_margin": 0.4}
"""The economics of the session's trained demo project."""


@pytest.fixture(scope="session", autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point retain, MLflow and BentoML at a temporary home for the whole session."""
    home = tmp_path_factory.mktemp("retain_home")
    saved = dict(os.environ)
    os.environ.update(TELEMETRY_OFF)
    os.environ["RETAIN_HOME"] = str(home)
    os.environ["BENTOML_HOME"] = str(home / "bentoml")
    os.environ["MLFLOW_LOG_UV_FILES"] = "false"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("RETAIN_API_KEY", None)
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def cdnow_sample() -> Path:
    path = CDNOW_DIR / "CDNOW_sample.txt"
    if not path.exists():
        pytest.skip(f"CDNOW data not found at {path} (../shared is only beside the project in CI)")
    return path


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small demo businesses (2,000 retail customers) written as CSV; returns the folder."""
    from retain.demo_data import write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out, customers=2000, seed=7)
    return out


@dataclass
class TrainedProject:
    """A demo project trained, packaged and scored, as `make demo` leaves it."""

    home: Path
    config: Path
    data: Path
    scores: Path
    feature_table: Path
    as_of: pd.Timestamp
    run_id: str
    tracking_uri: str = ""
    """Where the run is tracked: other tests on the same worker move MLflow's global URI."""


@pytest.fixture(scope="session")
def trained(
    isolated_state: Path, demo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> TrainedProject:
    """Train on the demo retail data, package the champions and score the base, once.

    The config's economics (pounds, a 40% gross margin) are packaged with the models, as
    `retain package --config` does, so value at risk is checked against a margin that is not 1.
    """
    from core.config_file import ConfigFile, load_config
    from serving.batch import score_base
    from serving.store import package
    from training.pipeline import train

    config = write_config(
        tmp_path_factory.mktemp("config") / "demo.yaml",
        demo_data / "retail",
        economics=DEMO_ECONOMICS,
    )
    result = train(load_config(config), progress=False, log=lambda _: None)
    package(economics=ConfigFile.read(config).economics())
    run = score_base(
        config, Cutoff.parse("latest"), out_dir=isolated_state / "scores", progress=False
    )
    return TrainedProject(
        home=isolated_state,
        config=config,
        data=demo_data / "retail",
        scores=run.scores_parquet,
        feature_table=run.feature_table,
        as_of=run.as_of,
        run_id=result.run_id,
        tracking_uri=result.tracking_uri,
    )


@pytest.fixture(scope="session")
def service(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The retain service as a real `bentoml serve` process on a free loopback port."""
    server = Server({"RETAIN_MAX_BATCH": "500"}, tmp_path_factory.mktemp("logs") / "service.log")
    try:
        if not server.wait_ready():
            pytest.fail(f"service did not become ready:\n{server.output()[-4000:]}")
        yield server
    finally:
        server.stop()
