"""The lean path answers exactly as BentoML's own path: same status, headers and bytes.

The session's service answers valid scoring bodies on the lean path (``serving.hot_path``); a
server with ``RETAIN_RUNTIME_TUNING=0`` answers every request on BentoML's path. Both serve the
same trained project and feature table, so each sample body, valid or not, must get the same
status, content type, ``Server`` header and body, byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest

from serving.hot_path import LEAN_LOG
from serving.schemas import EXAMPLE_EVENTS_REQUEST
from tests.conftest import TrainedProject
from tests.helpers import Server, running_server
from tests.serving.support import feature_values

pytestmark = pytest.mark.slow  # starts a second service on the trained demo project


@pytest.fixture(scope="module")
def bentoml_path(
    trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The service as the session's, but answering every request on BentoML's own path."""
    log = tmp_path_factory.mktemp("logs_bentoml_path") / "service.log"
    env = {"RETAIN_MAX_BATCH": "500", "RETAIN_RUNTIME_TUNING": "0"}
    with running_server(env, log, what="BentoML-path service") as server:
        yield server


def post(server: Server, path: str, body: bytes) -> tuple[int, str, str, bytes]:
    """(status, content type, Server header, body bytes) of one POST."""
    where = urlsplit(server.url)
    connection = HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return (
            response.status,
            response.getheader("content-type", ""),
            response.getheader("server", ""),
            response.read(),
        )
    finally:
        connection.close()


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def bodies(
    feature_table: pd.DataFrame, scores: pd.DataFrame, columns: list[str]
) -> list[tuple[str, bytes]]:
    """(path, body) samples: valid ones of each kind, and invalid ones BentoML rejects."""
    scored = [str(i) for i in scores["customer_id"].head(3)]
    known = str(feature_table.index[0])
    row = feature_values(feature_table.iloc[0], columns)
    one = {"customer_id": known, "features": row}
    return [
        ("/score_ids", dumps({"customer_ids": scored[:1]})),
        ("/score_ids", dumps({"customer_ids": [*scored, "nobody"]})),
        ("/score_ids", b'{"customer_ids": []}'),
        ("/score_ids", b'{"customer_ids": [1, 2.0, 3.5]}'),
        ("/score_ids", b'{"customer_ids": ["x"], "extra": 1}'),
        ("/score_ids", dumps({"customer_ids": list(range(501))})),  # over RETAIN_MAX_BATCH
        ("/score_ids", b"{}"),
        ("/score_ids", b""),
        ("/score_ids", b'{"customer_ids": "R1"}'),
        ("/score_ids", b'{"customer_ids": [null, true]}'),
        ("/score_ids", b'{"customer_ids": ['),
        ("/score", dumps({"customers": [one]})),
        ("/score", dumps({"customers": [one, {**one, "customer_id": 7}]})),
        ("/score", dumps(EXAMPLE_EVENTS_REQUEST)),
        ("/score", dumps({"customers": [{**one, "features": {**row, "zz": 1}}]})),
        ("/score", b'{"customers": [{"features": {}}]}'),
        ("/score", b'{"customers": [{"customer_id": "a", "features": "x"}]}'),
        ("/score", b'{"customers": {}}'),
    ]


def test_lean_and_bentoml_paths_answer_byte_identically(
    service: Server,
    bentoml_path: Server,
    feature_table: pd.DataFrame,
    scores: pd.DataFrame,
    model_info: Any,
) -> None:
    assert f"{LEAN_LOG} /score, /score_ids" in service.output()
    assert LEAN_LOG not in bentoml_path.output()
    samples = bodies(feature_table, scores, list(model_info.features))
    statuses = set()
    for path, body in samples:
        lean, bento = post(service, path, body), post(bentoml_path, path, body)
        assert lean == bento, (path, body[:200], lean[:3], lean[3][:300], bento[3][:300])
        statuses.add(lean[0])
    assert {200, 400, 413, 422} <= statuses  # valid, invalid and over-limit bodies all compared
