"""Two workers over HTTP answer as one does, from one shared copy of the lookup table.

A real `bentoml serve` with RETAIN_WORKERS=2 (what `retain serve --workers 2` sets) reads its own
copy of the session's feature table; its workers map the arrays the first one publishes beside it
(``serving.shared_table``). Every /score_ids answer, whichever worker gives it, equals the
single-worker session service's; after `retain score` rewrites the table as of another day, both
workers answer from the new table.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.cutoff import Cutoff
from serving.batch import score_base
from serving.shared_table import SHARED_SUFFIX
from tests.conftest import TrainedProject
from tests.helpers import Server, http, running_server

pytestmark = pytest.mark.slow  # starts a two-worker server and rescoring the demo base

IDS_PER_REQUEST = 100
WORKER = re.compile(r"\[entry_service:retain:(\d+)\] feature table ")
"""The line a worker logs when it reads a feature table (at its first request after the file
changed), prefixed by BentoML with the worker's number (1, 2)."""


@pytest.fixture(scope="module")
def table(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's feature table, which this module's server reads and rewrites."""
    path = tmp_path_factory.mktemp("workers") / "serving" / "features_latest.parquet"
    path.parent.mkdir(parents=True)
    shutil.copy(trained.feature_table, path)
    return path


@pytest.fixture(scope="module")
def two_workers(table: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs_workers") / "service.log"
    with running_server(
        {"RETAIN_WORKERS": "2", "RETAIN_FEATURE_TABLE": str(table)}, log, what="two-worker service"
    ) as server:
        yield server


def _answers(server: Server, ids: list[str]) -> list[dict[str, Any]]:
    """/score_ids of ``ids`` in requests of IDS_PER_REQUEST sent 8 at a time (both workers
    busy), in the order of ``ids``."""
    chunks = [ids[i : i + IDS_PER_REQUEST] for i in range(0, len(ids), IDS_PER_REQUEST)]

    def post(chunk: list[str]) -> list[dict[str, Any]]:
        status, body = http("POST", f"{server.url}/score_ids", {"customer_ids": chunk})
        assert status == 200, body
        return list(body["scores"])

    with ThreadPoolExecutor(8) as pool:
        return [score for part in pool.map(post, chunks) for score in part]


def _workers_reading(server: Server, since: int = 0) -> set[str]:
    """The workers that read a feature table after the first ``since`` characters of the log."""
    return set(WORKER.findall(server.output()[since:]))


def test_two_workers_answer_as_one_then_read_the_rescored_table(
    two_workers: Server,
    service: Server,
    trained: TrainedProject,
    table: Path,
    scores: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = scores["customer_id"].tolist()
    one = _answers(service, ids)
    for _ in range(3):  # every id, three times over: both workers answer
        two = _answers(two_workers, ids)
        assert json.dumps(two) == json.dumps(one)
    assert _workers_reading(two_workers) == {"1", "2"}  # each worker loaded the table
    assert table.with_name(f".{table.name}{SHARED_SUFFIX}").is_dir()  # arrays shared, not copied

    # `retain score` (its work, in this process) rewrites the table as of 30 days earlier
    before = pd.Series({a["customer_id"]: a["churn_probability"] for a in one})
    log_before = len(two_workers.output())
    day = (trained.as_of - pd.Timedelta(days=30)).date().isoformat()
    monkeypatch.setenv("RETAIN_FEATURE_TABLE", str(table))
    # its generation goes to a history of its own: the session's stays as the other tests left it
    monkeypatch.setenv("RETAIN_LEDGER_URL", f"sqlite:///{table.parent / 'history.db'}")
    run = score_base(
        trained.config, Cutoff.parse(day), out_dir=table.parent / "scores", progress=False
    )
    rescored = pd.read_parquet(run.scores_parquet).set_index("customer_id")
    new_ids = rescored.index.tolist()
    deadline = time.monotonic() + 30
    while True:  # a worker reads the new file at its next request: both must have
        answers = _answers(two_workers, new_ids)
        after = _workers_reading(two_workers, since=log_before)
        new_day = {a["as_of"] for a in answers} == {day}
        if (new_day and after == {"1", "2"}) or time.monotonic() > deadline:
            break
    assert {a["as_of"] for a in answers} == {day}
    assert after == {"1", "2"}
    got = pd.Series([a["churn_probability"] for a in answers], index=new_ids)
    pd.testing.assert_series_equal(
        got, rescored["churn_probability"], check_names=False, check_index=False, rtol=1e-9
    )
    assert (got.round(9) != before.reindex(new_ids).round(9)).any()  # not the old answers
