"""The service applies batch scoring's "active customer" rule: scores say ``active``.

An id of the feature table that `retain score` left out of the base (no purchase in the models'
``active_days``) is still scored by /score_ids, flagged ``active: false``; the rule in
``Scorer.active`` selects exactly the customers of the scores table.
"""

from __future__ import annotations

import pandas as pd
import pytest

from serving.schemas import ScoreResponse
from serving.scorer import Scorer
from tests.helpers import Server, http

pytestmark = pytest.mark.slow  # trains, packages, scores and serves the demo project


def test_the_rule_selects_exactly_the_batch_base(
    feature_table: pd.DataFrame, scores: pd.DataFrame, local_scorer: Scorer
) -> None:
    active = local_scorer.active(local_scorer.encode(feature_table))
    assert sorted(feature_table.index[active]) == sorted(scores["customer_id"])
    assert (~active).sum() > 0  # the demo base has customers who stopped long ago


def test_score_ids_flags_a_customer_batch_scoring_leaves_out(
    service: Server, feature_table: pd.DataFrame, scores: pd.DataFrame
) -> None:
    inactive = feature_table.index[~feature_table.index.isin(scores["customer_id"])]
    lapsed = str(inactive[0])
    days = feature_table.loc[lapsed, "days_since_last_purchase"]
    assert pd.isna(days) or days >= 365
    current = str(scores["customer_id"].iloc[0])
    status, body = http(
        "POST", f"{service.url}/score_ids", {"customer_ids": [current, lapsed, "nobody"]}
    )
    assert status == 200, body
    answer = ScoreResponse.model_validate(body).scores
    assert [s.active for s in answer] == [True, False, None]
    assert answer[1].error is None
    assert answer[1].churn_probability is not None  # scored, and flagged
    assert answer[2].error is not None
    assert answer[2].error.startswith("unknown customer_id: not in the feature table (ids are")
    assert all(r.label for r in answer[0].reasons)
