"""Shared fixtures: isolated state per session, demo data, and one trained and served project.

Nothing here touches the checkout's .retain folder or the network: RETAIN_HOME, BENTOML_HOME and
the MLflow store all point into pytest's temporary directory. Every test starts from the same
environment, working folder and MLflow store, whatever the tests before it on its worker did.

Under pytest-xdist (``make pytest`` runs ``--dist loadscope``) the tests of a module stay on one
worker, so a module's fixtures (its own trained project, its own server) are built once; the
session's shared servers start at most once per worker. (``--dist loadgroup`` with marks added
here split modules across workers with this pytest, building their fixtures twice.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from core.cutoff import Cutoff
from core.settings import TELEMETRY_OFF
from tests.helpers import CDNOW_DIR, SMALL_TRAINING, Server, running_server, write_config

DEMO_ECONOMICS = {"currency": "GBP", "gross_margin": 0.4}
"""The economics of the session's trained demo project."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first, each module's tests in their order: the workers take the
    long modules early and the quick ones fill the end, rather than one long module running
    alone at the end of the run (``--dist loadscope`` hands modules out in this order)."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


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


MLFLOW_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
"""Set by MLflow in the environment whenever a process-wide URI is set (for subprocesses)."""


@pytest.fixture(scope="session")
def session_environ(isolated_state: Path) -> dict[str, str]:
    """The environment as the session set it, without the MLflow URIs a training leaves."""
    return {k: v for k, v in os.environ.items() if k not in MLFLOW_URIS}


@pytest.fixture(autouse=True)
def same_start(session_environ: dict[str, str]) -> Iterator[None]:
    """Each test starts from the session's environment, working folder and MLflow store.

    A training in this process (the session's ``trained`` fixture, a test's own) leaves MLflow's
    process-wide tracking URI and $MLFLOW_TRACKING_URI behind, and tests move them; so before and
    after every test the environment is put back as the session set it and MLflow back on the
    store it resolves to (the session's own), and the working folder is restored.
    """
    cwd = Path.cwd()
    _reset_process(session_environ)
    _forget_current_workspace(session_environ)
    yield
    _reset_process(session_environ)
    _forget_current_workspace(session_environ)
    os.chdir(cwd)


def _forget_current_workspace(environ: dict[str, str]) -> None:
    """No workspace is current at a test's start: a command another test ran with --config
    chose one, and commands without --config would use it."""
    from core.workspace import CURRENT

    (Path(environ["RETAIN_HOME"]) / CURRENT).unlink(missing_ok=True)


def _reset_process(environ: dict[str, str]) -> None:
    """The environment exactly as ``environ``; MLflow, if loaded, on the store it resolves to.

    Setting MLflow's URI also puts it in the environment; it is taken out again, so that a
    subprocess given another $RETAIN_HOME uses that home's store, not this one's.
    """
    os.environ.clear()
    os.environ.update(environ)
    if "mlflow" in sys.modules:
        from model.registry import set_process_tracking_uri

        set_process_tracking_uri()
        os.environ.clear()
        os.environ.update(environ)


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
    package_tags: dict[str, str] = field(default_factory=dict)
    """The BentoML tags of the models packaged here (later tests may package others since)."""


@pytest.fixture(scope="session")
def trained(
    isolated_state: Path, demo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> TrainedProject:
    """Train on the demo retail data, package the champions and score the base, once per worker.

    A small training (two training cutoffs, short boosting): the tests that use it need a
    trained, packaged and scored project, not the best model. The config's economics (pounds, a
    40% gross margin) are packaged with the models, as `retain package --config` does, so value
    at risk is checked against a margin that is not 1.
    """
    from core.config_file import ConfigFile, load_config
    from serving.batch import score_base
    from serving.store import package
    from training.pipeline import train

    config = write_config(
        tmp_path_factory.mktemp("config") / "demo.yaml",
        demo_data / "retail",
        economics=DEMO_ECONOMICS,
        **SMALL_TRAINING,
    )
    result = train(load_config(config), progress=False, log=lambda _: None)
    packaged = package(economics=ConfigFile.read(config).economics())
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
        package_tags={m.kind: m.tag for m in packaged},
    )


@pytest.fixture(scope="session")
def service(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The retain service as a real `bentoml serve` process on a free loopback port."""
    with running_server(
        {"RETAIN_MAX_BATCH": "500"}, tmp_path_factory.mktemp("logs") / "service.log"
    ) as server:
        yield server


@pytest.fixture
def session_package_kept() -> Iterator[None]:
    """For a test that packages models of its own in this process: BentoML keeps the store it
    opened first (the session's) whatever BENTOML_HOME says later, so the test's package became
    the session's current one, and later tests on the worker served it. The session's current
    package is made current again afterwards (a new manifest naming its models)."""
    from core.errors import RetainError
    from serving.package_manifest import new_package_id, write_manifest
    from serving.store import packaged

    try:
        before = packaged()
    except RetainError:
        before = None
    yield
    if before is not None and before.churn:
        write_manifest(
            new_package_id(), {"churn": before.churn, "clv": before.clv, "uplift": before.uplift}
        )
