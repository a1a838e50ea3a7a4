"""/score_ids answers scored customers with what `retain score` precomputed, and others fresh.

The served answer of every customer of the session's feature table equals a fresh computation by
the service's code (scorer, records) on that table: scored customers come from the generation's
precomputed answers, a lapsed customer (in the table, not in the batch) is scored on the fly.
Answers written for other settings than the served ones are not used.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from core.settings import Settings
from serving.lookup import LookupSnapshot, normalise_ids, read_feature_table
from serving.output import score_records
from serving.store import load_packaged_scorer
from serving.uplift_store import with_served_uplift
from tests.conftest import TrainedProject
from tests.helpers import Server, http

pytestmark = pytest.mark.slow  # starts the service on the trained demo project

TOLERANCE = 1e-12


def _equal(served: Any, fresh: Any, where: str) -> None:
    """Equal JSON values, floats within ``TOLERANCE``."""
    if isinstance(fresh, float) and isinstance(served, float):
        assert math.isclose(served, fresh, rel_tol=TOLERANCE, abs_tol=TOLERANCE), where
    elif isinstance(fresh, dict):
        assert isinstance(served, dict), where
        assert served.keys() == fresh.keys(), where
        for key in fresh:
            _equal(served[key], fresh[key], f"{where}.{key}")
    elif isinstance(fresh, list):
        assert isinstance(served, list), where
        assert len(served) == len(fresh), where
        for k, (a, b) in enumerate(zip(served, fresh, strict=True)):
            _equal(a, b, f"{where}[{k}]")
    else:
        assert served == fresh, where


def _fresh_answers(trained: TrainedProject) -> list[dict[str, Any]]:
    """Every customer of the feature table scored now, in-process, as the service scores."""
    scorer = with_served_uplift(load_packaged_scorer(top_k=Settings.read().top_reasons))
    table = read_feature_table(trained.feature_table)
    batch = scorer.encode(table)
    days = [d.date() for d in table["as_of"]]
    return score_records(scorer, table.index.tolist(), scorer.score(batch), batch, days)


def test_every_customer_is_answered_as_a_fresh_computation(
    service: Server, trained: TrainedProject, scores: pd.DataFrame
) -> None:
    fresh = _fresh_answers(trained)
    ids = [r["customer_id"] for r in fresh]
    scored = set(normalise_ids(scores["customer_id"]))
    lapsed = [cid for cid in ids if cid not in scored]
    assert lapsed  # both paths are exercised
    assert len(scored) == len(scores)
    served: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        status, body = http(
            "POST", f"{service.url}/score_ids", {"customer_ids": ids[start : start + 500]}
        )
        assert status == 200, body
        served += body["scores"]
    assert len(served) == len(fresh)
    for got, want in zip(served, fresh, strict=True):
        _equal(got, want, str(want["customer_id"]))
    log = service.output()
    assert f"precomputed answers for {len(scores):,} scored customers" in log


def test_a_lapsed_customer_among_scored_ones_is_scored_on_the_fly(
    service: Server, trained: TrainedProject, scores: pd.DataFrame
) -> None:
    fresh = {r["customer_id"]: r for r in _fresh_answers(trained)}
    scored = list(normalise_ids(scores["customer_id"]))
    lapsed = next(cid for cid in fresh if cid not in set(scored))
    asked = [scored[0], lapsed, "no-such-customer", scored[1]]
    status, body = http("POST", f"{service.url}/score_ids", {"customer_ids": asked})
    assert status == 200, body
    got = body["scores"]
    for i in (0, 1, 3):
        _equal(got[i], fresh[asked[i]], asked[i])
    assert got[1]["active"] is False
    assert got[1]["error"] is None
    assert got[2]["error"].startswith("unknown customer_id")


def test_answers_for_other_settings_are_not_used(trained: TrainedProject) -> None:
    served = LookupSnapshot.build(trained.feature_table, load_packaged_scorer(top_k=3))
    assert served.answers is not None
    other = LookupSnapshot.build(trained.feature_table, load_packaged_scorer(top_k=2))
    assert other.answers is None
    assert other.answers_note.startswith("precomputed answers not used: written for other top_k")
