"""A churn-only CRM export with the column names a CSV can hold, end to end, and packaging killed.

One small churn-only project (no future-value column; columns ``Total day minutes``, ``plan.type``,
``Durée``, ``3G usage``, ``Monthly charge``; churn planted on ``Total day minutes``) is trained,
packaged, scored, served over HTTP, planned into a campaign and reported, all through the CLI.
Value at risk is the recurring charge over the horizon (``economics.recurring_charge``); without
it value is unknown and the scorer says null. Then ``retain package`` of the session's churn + CLV
project is killed (SIGKILL) at each point: the loader still pairs the previous package's models,
and the next run removes the orphans.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from core.economics import Economics
from core.settings import TEST_KILL_AT
from model.value_at_risk import DAYS_PER_MONTH
from tests.conftest import TrainedProject
from tests.helpers import FAST_LIGHTGBM, ROOT, Server, http, running_server, workspace_of

pytestmark = pytest.mark.slow

CHARGE = "Monthly charge"
SIGNAL = "Total day minutes"
AS_OF = "2024-06-30"
MARGIN = 0.4


def telecom_export(path: Path, n: int = 1200, seed: int = 5) -> pd.DataFrame:
    """A churn-only export: churn rises with ``Total day minutes``; the other columns are noise."""
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(50, 350, n).round(1)
    churned = rng.random(n) < 1 / (1 + np.exp(-(minutes - 230) / 40))
    frame = pd.DataFrame(
        {
            "Customer ID": [f"T{i:05d}" for i in range(n)],
            SIGNAL: minutes,
            "plan.type": rng.choice(["basic", "plus", "max"], n),
            "Durée": rng.integers(1, 72, n),
            "3G usage": rng.uniform(0, 5, n).round(2),
            CHARGE: rng.uniform(20, 100, n).round(2),
            "Churn": np.where(churned, "Yes", "No"),
        }
    )
    frame.to_csv(path, index=False)
    return frame


def cli(
    env: dict[str, str], *args: str, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run retain against ``env``'s home (without a tracking URI an in-process run left)."""
    env = {k: v for k, v in env.items() if k not in ("MLFLOW_TRACKING_URI", TEST_KILL_AT)}
    if kill_at:
        env[TEST_KILL_AT] = kill_at
    return subprocess.run(
        [str(Path(sys.executable).parent / "retain"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class ChurnOnly:
    env: dict[str, str]
    config: Path
    export: pd.DataFrame
    scores: pd.DataFrame
    server: Server
    packaged: str
    scored: str


@pytest.fixture(scope="module")
def churn_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChurnOnly]:
    home = tmp_path_factory.mktemp("churn_only_home")
    env = {**os.environ, "RETAIN_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}
    data = tmp_path_factory.mktemp("churn_only_data")
    export = telecom_export(data / "telecom.csv")
    config = {
        "name": "telecom",
        "data": {
            "snapshots": {
                "path": str(data / "telecom.csv"),
                "columns": {"customer_id": "Customer ID", "churned": "Churn"},
                "as_of": AS_OF,
            }
        },
        "horizon_days": 90,
        "seed": 42,
        "tuning": {"enabled": False},
        "split": {"cv_folds": 0},
        # the booster, whose feature names LightGBM rewrites, is the model served
        "churn": {"compete": ["lightgbm"], "lightgbm": FAST_LIGHTGBM},
        "registry": {"churn": "telecom-churn", "clv": "telecom-clv", "uplift": "telecom-uplift"},
        "economics": {"recurring_charge": CHARGE, "gross_margin": MARGIN},
    }
    path = data / "telecom.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    ok(cli(env, "train", "--config", str(path)))
    packaged = ok(cli(env, "package", "--config", str(path)))
    scored = ok(cli(env, "score", "--config", str(path)))
    scores_path = next(
        line.split("scores: ")[1].split(" and ")[0]
        for line in scored.splitlines()
        if line.startswith("scores: ")
    )
    with running_server(
        {
            "RETAIN_HOME": env["RETAIN_HOME"],
            "RETAIN_WORKSPACE": workspace_of(home, path)[0],  # the lookup table `score` wrote
            "BENTOML_HOME": env["BENTOML_HOME"],
        },
        home / "service.log",
    ) as server:
        scores = pd.read_parquet(scores_path).set_index("customer_id")
        yield ChurnOnly(env, path, export, scores, server, packaged, scored)


def test_a_churn_only_export_is_packaged_without_a_clv_model(churn_only: ChurnOnly) -> None:
    assert "churn: telecom-churn v1" in churn_only.packaged
    assert "clv: no champion CLV model (telecom-clv): a churn-only package" in churn_only.packaged
    assert f"x {CHARGE} x" in churn_only.packaged
    assert "serves churn, current as one" in churn_only.packaged
    assert "models: churn telecom-churn:1, clv none (churn only)" in churn_only.scored


def test_batch_value_at_risk_is_the_recurring_charge_over_the_horizon(
    churn_only: ChurnOnly,
) -> None:
    scores = churn_only.scores
    export = churn_only.export.set_index("Customer ID").loc[scores.index]
    assert len(scores) == len(export) == 1200
    assert scores["clv"].isna().all()
    staying = export[CHARGE].to_numpy() * 90 / DAYS_PER_MONTH
    np.testing.assert_allclose(scores["value_if_staying"], staying, rtol=1e-12)
    np.testing.assert_allclose(
        scores["value_at_risk"], scores["churn_probability"] * staying * MARGIN, rtol=1e-12
    )
    # ranked by value at risk; the user's own column names come back as reasons and columns
    assert scores["value_at_risk"].is_monotonic_decreasing
    assert {SIGNAL, "plan.type", "Durée", "3G usage"} <= set(scores.columns)
    high = scores.loc[scores["risk_tier"] == "high"]
    assert len(high) > 50
    assert (high["reason_1"] == f"attr_{SIGNAL}").mean() > 0.9  # the planted signal leads


def test_model_info_says_churn_only_and_how_value_is_computed(churn_only: ChurnOnly) -> None:
    status, body = http("POST", f"{churn_only.server.url}/model_info", {})
    assert status == 200, body
    assert body["models"] == ["churn"]
    assert body["clv_version"] is None
    assert body["churn_version"] == "telecom-churn:1"
    assert f"x {CHARGE} x 2.96 months" in body["value_basis"]
    assert set(body["test_metrics"]) == {"churn"}
    assert body["attributes"][SIGNAL] == "numeric"
    assert f"attr_{SIGNAL}" in body["features"]


def test_score_ids_answers_as_the_batch_with_null_clv(churn_only: ChurnOnly) -> None:
    ids = churn_only.scores.index[:30].tolist()
    status, body = http("POST", f"{churn_only.server.url}/score_ids", {"customer_ids": ids})
    assert status == 200, body
    for item in body["scores"]:
        row = churn_only.scores.loc[item["customer_id"]]
        assert item["clv"] is None
        assert item["model_versions"]["clv"] is None
        assert item["churn_probability"] == pytest.approx(row["churn_probability"], abs=1e-12)
        assert item["value_at_risk"] == pytest.approx(row["value_at_risk"], rel=1e-12)
        assert item["value_if_staying"] == pytest.approx(row["value_if_staying"], rel=1e-12)
        assert item["reasons"][0]["feature"] == row["reason_1"]
    top = body["scores"][0]["reasons"][0]
    assert top["feature"] == f"attr_{SIGNAL}"
    assert top["label"].startswith(f"{SIGNAL}: ")


def test_a_crm_row_with_the_users_column_names_scores_as_in_the_batch(
    churn_only: ChurnOnly,
) -> None:
    rows = churn_only.export.iloc[:20]
    items = [
        {
            "customer_id": r["Customer ID"],
            "as_of": AS_OF,
            "attributes": {
                k: (v.item() if isinstance(v, np.generic) else v)
                for k, v in r.items()
                if k not in ("Customer ID", "Churn")
            },
        }
        for _, r in rows.iterrows()
    ]
    status, body = http("POST", f"{churn_only.server.url}/score", {"customers": items})
    assert status == 200, body
    for item in body["scores"]:
        row = churn_only.scores.loc[item["customer_id"]]
        assert item["error"] is None
        assert item["clv"] is None
        assert item["churn_probability"] == pytest.approx(row["churn_probability"], abs=1e-12)
        assert item["value_at_risk"] == pytest.approx(row["value_at_risk"], rel=1e-12)
        assert [r["feature"] for r in item["reasons"]] == [
            row[f"reason_{k}"] for k in range(1, len(item["reasons"]) + 1)
        ]


def _visible(page: str) -> str:
    """The report's text without its embedded images (base64 may spell anything, "n/a" too)."""
    return re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", page)


def test_campaign_and_report_use_the_charge_and_never_show_na(churn_only: ChurnOnly) -> None:
    env, config = churn_only.env, str(churn_only.config)
    campaign = ok(cli(env, "campaign", "--budget", "300", "--config", config))
    assert "policy risk-value (assumed acceptance)" in campaign
    assert f"value (no CLV model): churn probability x {CHARGE} x 2.96 months" in campaign
    contacted = [line for line in campaign.splitlines() if line.startswith("contact ")]
    assert contacted, campaign
    assert not contacted[0].startswith("contact 0 of"), campaign
    report = ok(cli(env, "report", "--config", config))
    page = Path(report.strip().splitlines()[-1].split("report: ")[1]).read_text()
    assert "n/a" not in _visible(page)
    assert "recurring charge" in page
    assert SIGNAL in page


def test_without_a_charge_value_is_unknown_and_customers_rank_by_risk(
    churn_only: ChurnOnly,
) -> None:
    """The same packaged churn model without economics.recurring_charge: null values, not 0."""
    from retention.targeting import RISK_ONLY, risk_value_targeting
    from serving.output import score_records, scores_table
    from serving.scorer import Scorer
    from serving.store import load_verified

    store = Path(churn_only.env["BENTOML_HOME"]) / "models" / "retain-churn"
    folder = next(p for p in store.iterdir() if p.is_dir())
    meta = yaml.safe_load((folder / "model.yaml").read_text())["metadata"]
    scorer = Scorer(load_verified(folder, meta, "churn"), None, {"churn": "telecom-churn:1"})
    assert not scorer.value.known
    assert "value unknown" in scorer.value.text
    frame = pd.DataFrame(
        {f"attr_{c}": churn_only.export[c] for c in (SIGNAL, "plan.type", "Durée", "3G usage")}
        | {f"attr_{CHARGE}": churn_only.export[CHARGE]}
    ).set_index(churn_only.export["Customer ID"])
    batch = scorer.encode(frame)
    scores = scorer.score(batch)
    assert scores.clv is None
    assert scores.value_at_risk is None
    records = score_records(
        scorer,
        list(frame.index[:5]),
        scorer.score(batch.take(np.arange(5))),
        batch.take(np.arange(5)),
        [None] * 5,
    )
    assert all(r["clv"] is None and r["value_at_risk"] is None for r in records)
    table = scores_table(scorer, frame.index, scores, batch, pd.Timestamp(AS_OF))
    assert table["value_at_risk"].isna().all()
    targeting = risk_value_targeting(table, Economics())
    assert targeting.policy == RISK_ONLY
    order = np.argsort(-targeting.gain / targeting.spend, kind="stable")
    assert np.all(np.diff(table["churn_probability"].to_numpy()[order]) <= 0)


# -- packaging is all-or-nothing --------------------------------------------------------------

PACKAGE_POINTS = ("churn", "clv", "manifest")


def _store_state(env: dict[str, str]) -> dict[str, object]:
    """The current package's tags, the scorer's versions and every stored model, from a fresh
    process (BentoML reads its home once per process)."""
    code = (
        "import json, bentoml\n"
        "from serving.store import load_packaged_scorer, packaged\n"
        "m = packaged(); s = load_packaged_scorer()\n"
        "tags = sorted(str(x.tag) for x in bentoml.models.list())\n"
        "print(json.dumps({'churn': m.churn, 'clv': m.clv, 'versions': s.versions, "
        "'tags': tags}))\n"
    )
    env = {k: v for k, v in env.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_package_killed_at_each_point_leaves_the_previous_package_current(
    trained: TrainedProject, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "RETAIN_HOME": str(trained.home),
        "BENTOML_HOME": str(trained.home / "bentoml"),
    }
    args = ("package", "--config", str(trained.config), "--tracking-uri", trained.tracking_uri)
    before = _store_state(env)
    assert before["clv"], before
    for point in PACKAGE_POINTS:
        done = cli(env, *args, kill_at=f"package:{point}")
        assert done.returncode == -9, done.stdout + done.stderr
        after = _store_state(env)
        # the loader pairs the previous package's churn and CLV models, never a new one
        assert (after["churn"], after["clv"]) == (before["churn"], before["clv"]), point
        assert after["versions"] == before["versions"]
        assert len(after["tags"]) > len(before["tags"])  # the killed run's orphans
    # a run killed while BentoML copied a model's files leaves a folder without its model.yaml
    incomplete = Path(env["BENTOML_HOME"]) / "models" / "retain-clv" / "killedmidcopy"
    incomplete.mkdir()
    (incomplete / "booster.txt").write_text("half a booster")
    ok(cli(env, *args))
    assert not incomplete.exists()
    final = _store_state(env)
    assert final["churn"] != before["churn"]
    assert final["clv"] != before["clv"]
    # the orphans are gone: the earlier package, the new one and their manifests remain
    new = {final["churn"], final["clv"]}
    orphans = [t for t in final["tags"] if t not in before["tags"] and t not in new]
    assert [t for t in orphans if not str(t).startswith("retain-package:")] == []
    assert len([t for t in orphans if str(t).startswith("retain-package:")]) == 1


def test_package_refuses_a_missing_clv_name_or_a_charge_it_cannot_read(
    churn_only: ChurnOnly, tmp_path: Path
) -> None:
    config = str(churn_only.config)
    typo = cli(churn_only.env, "package", "--config", config, "--clv", "telecom-clv-typo")
    assert typo.returncode == 2
    assert "'telecom-clv-typo' has no 'champion' version" in typo.stdout + typo.stderr
    wrong = yaml.safe_load(churn_only.config.read_text())
    wrong["economics"]["recurring_charge"] = "plan.type"  # a category, not an amount
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(wrong, allow_unicode=True))
    done = cli(churn_only.env, "package", "--config", str(path))
    assert done.returncode == 2
    message = (done.stdout + done.stderr).strip().splitlines()[-1]
    assert message.startswith("error: economics.recurring_charge 'plan.type' is not a numeric")
    assert "'Total day minutes'" in message
    assert "Traceback" not in done.stderr


def test_without_a_charge_the_cli_ranks_by_risk_and_the_report_says_value_is_unknown(
    churn_only: ChurnOnly, tmp_path: Path
) -> None:
    """Packaged again without economics.recurring_charge (last: it replaces the module's scores)."""
    plain = yaml.safe_load(churn_only.config.read_text())
    del plain["economics"]["recurring_charge"]
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(plain, allow_unicode=True))
    env, config = churn_only.env, str(path)
    assert "value at risk unknown" in ok(cli(env, "package", "--config", config))
    scored = ok(cli(env, "score", "--config", config))
    scores_path = next(
        line.split("scores: ")[1].split(" and ")[0]
        for line in scored.splitlines()
        if line.startswith("scores: ")
    )
    scores = pd.read_parquet(scores_path)
    assert scores[["clv", "value_if_staying", "value_at_risk"]].isna().all().all()
    assert scores["churn_probability"].is_monotonic_decreasing  # ranked by risk, not by value
    campaign = ok(cli(env, "campaign", "--budget", "300", "--config", config))
    assert "policy churn risk (value unknown)" in campaign
    assert "expected would-be churners reached" in campaign
    contacted = pd.read_csv(Path(scores_path).parent / "campaign.csv")
    assert contacted["churn_probability"].is_monotonic_decreasing
    assert len(contacted) > 0
    report = ok(cli(env, "report", "--config", config))
    page = Path(report.strip().splitlines()[-1].split("report: ")[1]).read_text()
    assert "n/a" not in _visible(page)
    assert "their value is unknown" in page
    assert "value unknown: the package has no CLV model" in page
