"""A logistic churn champion served end to end: trained and chosen, registered in MLflow,
packaged into BentoML, answered by a real service whose reasons add up to its score.

Every reason is asked for (``RETAIN_TOP_REASONS``), so the served contributions plus the model's
intercept must equal the log-odds of the served probability, and each must equal the packaged
model's own contribution for that customer's features (answers round contributions to 6
decimals, so up to 5e-7 each).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from model.bundle import ModelBundle
from model.linear import LINEAR_FILE, LinearChurn
from serving.lookup import read_feature_table
from tests.helpers import Server, http, workspace_of, write_config
from tests.serving.test_snapshot_service import cli
from tests.training.conftest import FAST_LIGHTGBM

pytestmark = pytest.mark.slow
ROUNDING = 5e-7


def test_a_logistic_champion_serves_reasons_that_sum_to_its_score(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("linear_home")
    env = {**os.environ, "RETAIN_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}
    data = tmp_path_factory.mktemp("linear_data")
    cli(env, "demo-data", "--business", "retail", "--customers", "1500", "--out", str(data))
    config = write_config(
        data / "linear.yaml",
        data / "retail",
        split={"max_train_cutoffs": 2},
        churn={"lightgbm": FAST_LIGHTGBM, "compete": ["logistic"]},
        clv={"lightgbm": FAST_LIGHTGBM},
    )
    trained = cli(env, "train", "--config", str(config))
    assert "challenger" in trained
    cli(env, "package", "--config", str(config))
    cli(env, "score", "--config", str(config))
    [folder] = {p.parent for p in (home / "bentoml").rglob(LINEAR_FILE)}
    bundle = ModelBundle.load(folder)
    assert isinstance(bundle.model, LinearChurn)
    assert bundle.card.model == "logistic"
    workspace, state = workspace_of(home, config)
    scores = pd.read_parquet(state / "scores" / "scores.parquet").set_index("customer_id")
    features = read_feature_table(state / "serving" / "features_latest.parquet")
    server = Server(
        {
            "RETAIN_HOME": env["RETAIN_HOME"],
            "RETAIN_WORKSPACE": workspace,
            "BENTOML_HOME": env["BENTOML_HOME"],
            "RETAIN_TOP_REASONS": "1000",
        },
        home / "service.log",
    )
    try:
        assert server.wait_ready(), server.output()[-4000:]
        ids = scores.index[:40].tolist()
        status, body = http("POST", f"{server.url}/score_ids", {"customer_ids": ids})
    finally:
        server.stop()
    assert status == 200, body
    names = list(bundle.encoding.columns)
    expected = bundle.contributions(bundle.encoding.transform(features.loc[ids]))
    for item, row in zip(body["scores"], expected, strict=True):
        p = item["churn_probability"]
        assert p == pytest.approx(scores.loc[item["customer_id"], "churn_probability"], abs=1e-12)
        served = {r["feature"]: r["contribution"] for r in item["reasons"]}
        assert len(served) == len(names)
        # the base value is the intercept through the served calibration line
        a, b = bundle.platt or (1.0, 0.0)
        assert row[-1] == pytest.approx(a * bundle.model.intercept + b, abs=1e-12)
        assert sum(served.values()) + row[-1] == pytest.approx(
            np.log(p / (1 - p)), abs=ROUNDING * len(names)
        )
        for j, name in enumerate(names):
            assert served[name] == pytest.approx(row[j], abs=ROUNDING)
