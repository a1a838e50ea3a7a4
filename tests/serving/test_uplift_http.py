"""The live service and `retain score` give every customer the same offer effect.

The session's demo data carries two past randomized campaigns (``treatments.csv``) but the
session's ``trained`` project is configured without them, so this module trains its own small
project with them through the CLI, in a home of its own (its BentoML store holds an uplift model;
the session's does not). One real server serves it; a second, told ``RETAIN_UPLIFT_MODEL=none``,
shows the fields null and says "no uplift model".
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from serving.schemas import CustomerScore, ModelInfo, ScoreResponse
from tests.conftest import DEMO_ECONOMICS
from tests.helpers import ROOT, Server, http, workspace_of, write_config
from tests.serving.support import demo_events
from tests.training.conftest import FAST_LIGHTGBM

pytestmark = pytest.mark.slow  # trains, packages and serves its own project

RETAIN = str(Path(sys.executable).parent / "retain")
EVERY_REASON = "100"
"""RETAIN_TOP_REASONS above the number of features: every contribution is answered."""
TOLERANCE = 1e-9


def _retain(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [RETAIN, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"retain {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _post(server: Server, path: str, body: dict[str, Any]) -> list[CustomerScore]:
    status, answer = http("POST", f"{server.url}{path}", body)
    assert status == 200, answer
    return ScoreResponse.model_validate(answer).scores


def _info(server: Server) -> ModelInfo:
    status, body = http("POST", f"{server.url}/model_info", {})
    assert status == 200, body
    return ModelInfo.model_validate(body)


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _start(env: dict[str, str], log: Path) -> Server:
    server = Server(env, log)
    if not server.wait_ready():
        server.stop()
        pytest.fail(f"service did not become ready:\n{server.output()[-4000:]}")
    return server


def test_service_and_batch_scores_give_the_same_uplift_with_reasons_that_add_up(
    demo_data: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {"RETAIN_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}
    folder = demo_data / "retail"
    assert (folder / "treatments.csv").exists()
    config = write_config(
        tmp_path / "uplift.yaml",
        folder,
        name="serve-uplift",
        data={
            n: {"path": str(folder / f"{n}.csv")}
            for n in ("transactions", "customers", "treatments")
        },
        split={"max_train_cutoffs": 2},
        churn={"lightgbm": FAST_LIGHTGBM},
        clv={"lightgbm": FAST_LIGHTGBM},
        economics=DEMO_ECONOMICS,
    )
    cli_env = {**os.environ, **env}
    cli_env.pop("MLFLOW_TRACKING_URI", None)
    trained = _retain(cli_env, "train", "--config", str(config), "--quiet")
    scored = ("--scores", str(home / "scores" / "scores.parquet"))
    # On these 1,589 campaign customers the response model is within one standard error of the
    # best policy's incremental profit on validation, but its gain over random order on the 477
    # held-out customers is not significant: the uplift version is registered, not promoted.
    decided = next((line for line in trained.splitlines() if "uplift v1: " in line), trained)
    assert "targeting policy chosen on validation: response (" in trained
    assert "uplift v1: challenger (no champion yet; profit_at_budget " in decided, decided
    assert "for random order" in decided
    (uplift,) = [
        v
        for v in json.loads(_retain(cli_env, "models", "--json", "--config", str(config)))
        if v["model"] == "uplift"
    ]
    assert uplift["decision"] == "challenger"
    assert uplift["tags"]["retain.policy"] == "response"
    quoted = json.loads(uplift["tags"]["retain.policy_figures"])
    assert quoted["profit_at_budget_low"] < quoted["profit_at_budget"]
    # a version the gate refused is not packaged (the campaign's fall-back when none is served is
    # tested through the CLI in tests/retain/test_policy_crm.py)
    assert "retain-uplift" not in _retain(cli_env, "package", "--config", str(config))

    # promoted by hand, the version serves the response model: the scores carry offer_response
    # and the campaign ranks by it, naming it
    assert "champion is now v1" in _retain(
        cli_env, "promote", "uplift", "1", "--config", str(config)
    )
    assert "retain-uplift" in _retain(cli_env, "package", "--config", str(config))
    _retain(cli_env, "score", "--config", str(config), "--out", str(home / "scores"))
    env["RETAIN_WORKSPACE"] = workspace_of(home, config)[0]  # the service reads its lookup table
    scores = pd.read_parquet(home / "scores" / "scores.parquet")
    assert scores["offer_response"].between(0, 1).all()
    card = json.loads((home / "scores" / "score_meta.json").read_text())["uplift_card"]
    campaign = _retain(cli_env, "campaign", "--config", str(config), "--budget", "500", *scored)
    assert "policy response model (response)" in campaign
    assert "targeting policy: response model (response), ranked by the scores' offer_response" in (
        campaign
    )
    assert "held-out figures on 477 past campaign customers (95% intervals): qini " in campaign

    server = _start({**env, "RETAIN_TOP_REASONS": EVERY_REASON}, tmp_path / "service.log")
    try:
        info = _info(server)
        assert info.uplift_version == scores["uplift_model"].iloc[0] == "uplift:1"
        assert info.uplift is not None
        assert info.uplift.qini == card["test_metrics"]["qini"]
        assert info.uplift.learner == "x_learner"
        assert info.uplift.policy == card["policy"]["policy"] == "response"
        assert info.uplift.policy_reason == card["policy"]["reason"]
        assert info.uplift.policy_figures == card["policy"]["figures"]["response"]
        assert info.uplift_status.startswith(
            f"uplift:1 (x_learner), held-out Qini {info.uplift.qini:.4f}"
        )

        # by id: every scored customer, the batch's uplift and incremental value
        ids = scores["customer_id"].tolist()
        answers = _post(server, "/score_ids", {"customer_ids": ids})
        for score, row in zip(answers, scores.itertuples(index=False), strict=True):
            assert score.customer_id == row.customer_id
            assert _close(score.uplift, row.uplift)
            assert _close(score.expected_incremental_value, row.expected_incremental_value)
            assert score.model_versions is not None
            assert score.model_versions.uplift == row.uplift_model
            # every feature's contribution: they add up to the uplift minus the base value
            assert len(score.uplift_reasons) == len(info.features)
            total = math.fsum(r.contribution for r in score.uplift_reasons)
            assert total == pytest.approx(score.uplift - info.uplift.base_value, abs=1e-12)
        helps = sum(s.uplift > 0 for s in answers if s.uplift is not None)
        assert 0 < helps < len(answers)  # persuadables and sleeping dogs both predicted

        # from raw events: the service builds the features and gets the same effect
        tx = pd.read_csv(folder / "transactions.csv", dtype=str)
        clean = ~scores["customer_id"].isin(tx.loc[tx.duplicated(keep=False), "customer_id"])
        ranked = scores.loc[clean].sort_values("uplift")
        picks = ranked["customer_id"].iloc[[0, len(ranked) // 2, -1]].tolist()
        as_of = pd.Timestamp(scores["as_of"].iloc[0])
        by_events = _post(server, "/score", {"customers": demo_events(folder, picks, as_of)})
        rows = scores.set_index("customer_id")
        for score in by_events:
            assert _close(score.uplift, rows.loc[score.customer_id, "uplift"])
            assert _close(
                score.expected_incremental_value,
                rows.loc[score.customer_id, "expected_incremental_value"],
            )

        status, spec = http("GET", f"{server.url}/docs.json")
        assert status == 200
        schemas = spec["components"]["schemas"]
        assert {"uplift", "expected_incremental_value", "uplift_reasons"} <= set(
            schemas["CustomerScore"]["properties"]
        )
        assert {"uplift_version", "uplift", "uplift_status"} <= set(
            schemas["ModelInfo"]["properties"]
        )
        assert "raises uplift" in json.dumps(schemas["UpliftReason"])
        # BentoML inlines /model_info's answer keeping one branch of `X | None` (the document
        # names it ModelInfo): the fields that are null without an uplift model must still say
        # they may be null
        answer = spec["paths"]["/model_info"]["post"]["responses"]["200"]["content"]
        assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ModelInfo"}
        inline = schemas["ModelInfo"]["properties"]
        assert inline["uplift_version"]["nullable"] is inline["uplift"]["nullable"] is True
    finally:
        server.stop()

    # the same store served without the uplift model: the fields are null, and it says so
    plain = _start({**env, "RETAIN_UPLIFT_MODEL": "none"}, tmp_path / "plain.log")
    try:
        info = _info(plain)
        assert (info.uplift_version, info.uplift, info.uplift_status) == (
            None,
            None,
            "no uplift model",
        )
        (first, *_) = _post(plain, "/score_ids", {"customer_ids": ids[:3]})
        assert (first.uplift, first.expected_incremental_value, first.uplift_reasons) == (
            None,
            None,
            [],
        )
        assert first.model_versions is not None
        assert first.model_versions.uplift is None
        assert first.churn_probability == answers[0].churn_probability
    finally:
        plain.stop()
