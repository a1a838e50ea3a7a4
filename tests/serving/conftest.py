"""Fixtures of the serving tests, on top of the shared ``trained`` project and ``service``.

A second real server guards its endpoints with an API key; the rest reads what the session's
batch run wrote (scores table, feature table) and the models it packaged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from serving.schemas import ModelInfo
from tests.helpers import Server, http, running_server
from tests.serving.support import API_KEY

if TYPE_CHECKING:
    from serving.scorer import Scorer
    from tests.conftest import TrainedProject


@pytest.fixture(scope="session")
def keyed_service(
    trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The retain service started with RETAIN_API_KEY set (a second real process)."""
    log = tmp_path_factory.mktemp("logs_keyed") / "service.log"
    with running_server(
        {"RETAIN_API_KEY": API_KEY, "RETAIN_MAX_BATCH": "500"}, log, what="keyed service"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def model_info(service: Server) -> ModelInfo:
    """What the running service says it serves, parsed with the contract model."""
    status, body = http("POST", f"{service.url}/model_info", {})
    assert status == 200, body
    return ModelInfo.model_validate(body)


@pytest.fixture(scope="session")
def scores(trained: TrainedProject) -> pd.DataFrame:
    """The batch scores table `retain score` wrote for the session (sorted by value at risk)."""
    return pd.read_parquet(trained.scores)


@pytest.fixture(scope="session")
def feature_table(trained: TrainedProject) -> pd.DataFrame:
    """The feature table the service looks ids up in, indexed by customer id."""
    from serving.lookup import read_feature_table

    return read_feature_table(trained.feature_table)


@pytest.fixture(scope="session")
def local_scorer(trained: TrainedProject) -> Scorer:
    """The packaged models loaded in the test process, to compute expected reasons."""
    from serving.store import load_packaged_scorer

    return load_packaged_scorer()
