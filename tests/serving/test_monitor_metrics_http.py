"""The monitoring gauges on the real service's /metrics (a server of this module's, one worker).

The served quantiles and tier shares are those of the last ``WINDOW`` customers the worker
scored: the test fills the window with its own requests, so each gauge equals the quantile of
the answers it got. The latest generation's and the last verdict's gauges are read from the
workspace's score history at each scrape: they equal the history's figures, and follow a verdict
recorded after the server started.

The module starts a server of its own rather than using the session's: every ``bentoml serve``
start empties the Prometheus folder of its BentoML home (which all the session's servers share),
so once another test has started a server after the session's, the session server's gauges are
no longer on its /metrics (gone, or another server's). The module's tests run one after the
other (``--dist loadscope`` keeps a module on one worker), with no other server started between.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics import QUANTILES, WINDOW
from serving.schemas import ModelInfo
from serving.score_history import ScoreHistory, verdicts_table
from tests.conftest import TrainedProject
from tests.helpers import Server, http, running_server
from tests.serving.support import feature_values

pytestmark = pytest.mark.slow  # the session's trained project, a real server


@pytest.fixture(scope="module")
def service(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The retain service on the session's package and workspace, in a process of this module's
    (shadows the session's ``service``: see the module docstring)."""
    log: Path = tmp_path_factory.mktemp("logs_monitor_metrics") / "service.log"
    with running_server({"RETAIN_MAX_BATCH": "500"}, log) as server:
        yield server


@pytest.fixture(scope="module")
def model_info(service: Server) -> ModelInfo:
    """What this module's server says it serves."""
    status, body = http("POST", f"{service.url}/model_info", {})
    assert status == 200, body
    return ModelInfo.model_validate(body)


def _gauges(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = http("GET", f"{url}/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(("retain_served", "retain_generation", "retain_monitor"))
    }


def _value(gauges: dict[Any, float], name: str, **labels: str) -> float:
    return gauges[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def verdicts() -> Iterator[ScoreHistory]:
    """The session workspace's score history; the verdicts this test records are removed."""
    history = ScoreHistory()
    with history.engine.connect() as conn:
        before = {r.checked_at for r in conn.execute(sa.select(verdicts_table.c.checked_at))}
    yield history
    with history.engine.begin() as conn:
        conn.execute(verdicts_table.delete().where(verdicts_table.c.checked_at.not_in(before)))


def test_served_quantiles_and_tier_shares_are_those_of_the_last_window_of_answers(
    service: Server, feature_table: pd.DataFrame, model_info: ModelInfo, trained: TrainedProject
) -> None:
    as_of = str(trained.as_of.date())
    items = [
        {
            "customer_id": str(cid),
            "as_of": as_of,
            "features": feature_values(row, model_info.features),
        }
        for cid, row in feature_table.iloc[:500].iterrows()
    ]
    churn: list[float] = []
    value: list[float] = []
    tiers: list[str] = []
    while len(churn) < WINDOW + len(items):  # more than the window: only the last WINDOW count
        status, body = http("POST", f"{service.url}/score", {"customers": items})
        assert status == 200, body
        churn += [s["churn_probability"] for s in body["scores"]]
        value += [s["clv"] for s in body["scores"]]
        tiers += [s["risk_tier"] for s in body["scores"]]
    gauges = _gauges(service.url)
    last = slice(-WINDOW, None)
    assert _value(gauges, "retain_served_window_customers", kind="scored") == WINDOW
    expected = np.quantile(np.asarray(churn[last], dtype=float), QUANTILES)
    found = [_value(gauges, "retain_served_churn_probability", quantile=str(q)) for q in QUANTILES]
    assert np.allclose(found, expected, rtol=1e-12, atol=0)
    expected = np.quantile(np.asarray(value[last], dtype=float), QUANTILES)
    found = [_value(gauges, "retain_served_value", quantile=str(q)) for q in QUANTILES]
    assert np.allclose(found, expected, rtol=1e-12, atol=0)
    shares = pd.Series(tiers[last]).value_counts(normalize=True)
    for tier in ("high", "medium", "low"):
        share = _value(gauges, "retain_served_tier_share", source="served", risk_tier=tier)
        assert math.isclose(share, shares.get(tier, 0.0), rel_tol=1e-12)


def test_the_latest_generation_and_the_last_verdict_come_from_the_score_history(
    service: Server, verdicts: ScoreHistory
) -> None:
    latest = verdicts.generations()[-1]
    gauges = _gauges(service.url)
    sketch = latest.scores["churn_probability"]["quantiles"]
    for q in QUANTILES:
        found = _value(gauges, "retain_generation_churn_probability", quantile=str(q))
        assert found == sketch[round(q * 100)]
    for tier, share in latest.scores["tier_shares"].items():
        found = _value(gauges, "retain_served_tier_share", source="generation", risk_tier=tier)
        assert math.isclose(found, share, rel_tol=1e-12)
    day = dt.datetime.combine(latest.as_of, dt.time(), dt.UTC).timestamp()
    assert _value(gauges, "retain_generation_as_of_timestamp_seconds") == day

    for retrain in (True, False):  # recorded after the server started: read at each scrape
        verdicts.record_verdict(latest.generation_id, retrain, ["input_drift"] if retrain else [])
        with verdicts.engine.connect() as conn:
            at = conn.execute(sa.select(sa.func.max(verdicts_table.c.checked_at))).scalar_one()
        gauges = _gauges(service.url)
        assert _value(gauges, "retain_monitor_retrain_recommended") == float(retrain)
        stamp = _value(gauges, "retain_monitor_verdict_timestamp_seconds")
        assert stamp == at.replace(tzinfo=dt.UTC).timestamp()
