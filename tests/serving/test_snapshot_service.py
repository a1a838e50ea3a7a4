"""A model trained on a labelled CRM export, end to end through the CLI and a real HTTP service.

The CLI trains on a snapshots table, packages the champions by the config's registry names and
scores the latest rows; the service then answers for a CRM row sent as ``attributes`` (raw values,
as the export holds them) and for an id from the lookup table, equal to the batch scores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from core.workspace import workspace_name
from tests.helpers import FAST_LIGHTGBM, ROOT, Server, http, running_server

pytestmark = pytest.mark.slow


@dataclass
class CrmService:
    server: Server
    export: pd.DataFrame
    scores: pd.DataFrame


def cli(env: dict[str, str], *args: str) -> str:
    """Run retain against ``env``'s own home. MLflow keeps the tracking URI of an in-process run
    (the session's ``trained`` fixture) in this process's environment: it is dropped, or retain
    would train and package against the session's registry instead of ``env``'s home."""
    env = {k: v for k, v in env.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "retain"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmService]:
    home = tmp_path_factory.mktemp("crm_home")
    env = {**os.environ, "RETAIN_HOME": str(home)}
    env.pop("BENTOML_HOME", None)  # the workspace's own store
    data = tmp_path_factory.mktemp("crm_data")
    cli(env, "demo-data", "--business", "crm", "--customers", "3000", "--out", str(data))
    config = yaml.safe_load((ROOT / "experiments" / "crm.yaml").read_text())
    config["data"]["snapshots"]["path"] = str(data / "crm" / "snapshot.csv")
    # a small training: what is served matters here, not how good it is (no tuning, no CV)
    config.update(
        tuning={"enabled": False},
        split={"cv_folds": 0},
        churn={"lightgbm": FAST_LIGHTGBM},
        clv={"lightgbm": FAST_LIGHTGBM},
    )
    path = data / "crm.yaml"
    path.write_text(yaml.safe_dump(config))
    cli(env, "train", "--config", str(path))
    packaged = cli(env, "package", "--config", str(path))
    assert "crm-churn v1" in packaged
    assert "crm-clv v1" in packaged
    cli(env, "score", "--config", str(path))
    workspace = workspace_name(config["name"])
    state = home / "workspaces" / workspace
    with running_server(
        {
            "RETAIN_HOME": env["RETAIN_HOME"],
            "RETAIN_WORKSPACE": workspace,
            "BENTOML_HOME": str(state / "bentoml"),
        },
        home / "service.log",
    ) as server:
        export = pd.read_csv(data / "crm" / "snapshot.csv", dtype=str, keep_default_na=False)
        scores = pd.read_parquet(state / "scores" / "scores.parquet").set_index("customer_id")
        yield CrmService(server, export, scores)


def row_item(row: pd.Series, **extra: Any) -> dict[str, Any]:
    """A CRM row as a CRM system would post it: every column as the export holds it."""
    attributes = {k: v for k, v in row.items() if k != "customerID"}
    return {
        "customer_id": row["customerID"],
        "as_of": "2024-06-30",
        "attributes": attributes,
        **extra,
    }


def test_model_info_describes_the_attributes(crm: CrmService) -> None:
    status, body = http("POST", f"{crm.server.url}/model_info", {})
    assert status == 200, body
    assert body["split"] == "in_time"
    assert body["attributes"]["Contract"] == "categorical"
    assert body["attributes"]["TotalCharges"] == "numeric"
    assert body["attributes"]["ContractStart"] == "date"
    assert "Email" not in body["attributes"]


def test_a_crm_row_scores_as_in_the_batch(crm: CrmService) -> None:
    rows = crm.export.iloc[:25]
    status, body = http(
        "POST", f"{crm.server.url}/score", {"customers": [row_item(r) for _, r in rows.iterrows()]}
    )
    assert status == 200, body
    for item in body["scores"]:
        batch = crm.scores.loc[item["customer_id"]]
        assert item["churn_probability"] == pytest.approx(batch["churn_probability"], abs=1e-12)
        assert item["clv"] == pytest.approx(batch["clv"], abs=1e-9)
        assert item["risk_tier"] == batch["risk_tier"]
        assert item["reasons"][0]["feature"] == batch["reason_1"]


def test_an_id_scores_from_the_latest_snapshot_rows(crm: CrmService) -> None:
    ids = [*list(crm.export["customerID"].iloc[100:110]), "nobody"]
    status, body = http("POST", f"{crm.server.url}/score_ids", {"customer_ids": ids})
    assert status == 200, body
    for item in body["scores"][:-1]:
        batch = crm.scores.loc[item["customer_id"]]
        assert item["churn_probability"] == pytest.approx(batch["churn_probability"], abs=1e-12)
        assert item["as_of"] == "2024-06-30"
    assert body["scores"][-1]["error"]


def test_missing_attributes_are_missing_values_and_unknown_ones_an_error(
    crm: CrmService,
) -> None:
    row = crm.export.iloc[0]
    item = row_item(row)
    del item["attributes"]["TotalCharges"]
    status, body = http("POST", f"{crm.server.url}/score", {"customers": [item]})
    assert status == 200
    assert body["scores"][0]["churn_probability"] is not None
    bad = row_item(row)
    bad["attributes"]["Contrat"] = "Two year"
    status, body = http("POST", f"{crm.server.url}/score", {"customers": [bad]})
    assert status == 422, body
    assert "unknown attribute 'Contrat' (did you mean 'Contract'?)" in body["error"]
    assert body["detail"][0]["loc"] == ["customers", 0, "attributes"]
