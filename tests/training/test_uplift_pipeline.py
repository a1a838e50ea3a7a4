"""`retain train` with past campaigns: uplift runs tracked, registered and gated in real MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from core.config import ExperimentConfig
from core.config_file import load_config
from model.registry import CHALLENGER, CHAMPION, Tag
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT
from tests.helpers import write_config
from tests.training.conftest import FAST_LIGHTGBM
from training.pipeline import train
from training.registry import list_versions, promote
from training.uplift_eval import SERVED
from training.uplift_policy import FALLBACK

QUIET = {"progress": False, "log": lambda _: None}
REGISTRY = {"churn": "u-churn", "clv": "u-clv", "uplift": "u-uplift"}


def campaign_config(path: Path, folder: Path, seed: int) -> ExperimentConfig:
    """The small demo experiment with the past campaigns' treatments table."""
    data = {
        name: {"path": str(folder / f"{name}.csv")}
        for name in ("transactions", "customers", "treatments")
    }
    return load_config(
        write_config(
            path,
            folder,
            name="uplift",
            data=data,
            registry=REGISTRY,
            seed=seed,
            split={"max_train_cutoffs": 2},
            churn={"lightgbm": FAST_LIGHTGBM},
            clv={"lightgbm": FAST_LIGHTGBM},
        )
    )


@pytest.mark.slow
def test_train_fits_tracks_registers_and_gates_the_uplift_model(
    demo_data: Path, tmp_path: Path
) -> None:
    folder = demo_data / "retail"
    first = train(campaign_config(tmp_path / "first.yaml", folder, 42), **QUIET)
    assert first.uplift is not None
    # On 1,589 campaign customers no policy's gain over random order on the 477 held-out
    # customers is significant (which one validation prefers moves with the features: response
    # or random order): the uplift version is registered, not promoted, and says why.
    evaluation = first.uplift.fit.evaluation
    assert evaluation.choice is not None
    chosen = evaluation.choice.policy
    decision = first.uplift.decision
    assert not decision.promote
    assert decision.trivial_failed
    assert decision.metric == "profit_at_budget"
    assert decision.reason.startswith("no champion yet; " if chosen in SERVED else "no targeting")
    if chosen in SERVED:  # judged on its held-out gain over random order
        assert "for random order" in decision.reason
        assert decision.interval is not None
        assert decision.interval.low < 0 < decision.interval.high
    if chosen == "response":
        assert first.uplift.fit.bundle.response  # served as chosen, were it promoted
    client = MlflowClient(first.tracking_uri)
    tags = client.get_model_version("u-uplift", first.uplift.version).tags
    assert tags[Tag.POLICY] == chosen
    assert tags[Tag.POLICY_REASON] == evaluation.choice.reason
    quoted = json.loads(tags[Tag.POLICY_FIGURES])
    assert quoted["qini"] == pytest.approx(evaluation.metrics(chosen)["qini"])
    assert quoted["qini_low"] < quoted["qini"] < quoted["qini_high"]
    # promoted by hand, so the retrain below is gated against a champion
    promote("u-uplift", first.uplift.version, uri=first.tracking_uri)

    children = client.search_runs(
        [first.experiment_id], f"tags.mlflow.parentRunId = '{first.run_id}'"
    )
    names = {r.data.tags["mlflow.runName"] for r in children}
    policies = {"random", "churn_risk", "value_at_risk", "response", "incremental_profit"}
    policies |= {"t_learner", "x_learner", "dr_learner"}
    assert {f"uplift/{p}" for p in policies} <= names
    learner = next(r for r in children if r.data.tags["mlflow.runName"] == "uplift/x_learner")
    assert {"test.qini", "test.auuc", "test.uplift_top_10", "test.value_qini"} <= set(
        learner.data.metrics
    )
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert "plots/uplift_qini.png" in artifacts

    model = mlflow.pyfunc.load_model(f"models:/u-uplift@{CHAMPION}")
    example = first.uplift.fit.evaluation.test.head(20)
    effects = model.predict(example[list(first.uplift.fit.bundle.encoding.columns)])
    assert list(effects.columns) == [UPLIFT, INCREMENTAL_VALUE]
    expected = first.uplift.fit.evaluation.scores["x_learner"][:20]
    assert effects[UPLIFT].to_numpy() == pytest.approx(expected)

    # a retrain on another seed is noise on the same held-out customers: the champion stays
    second = train(campaign_config(tmp_path / "again.yaml", folder, 7), **QUIET)
    assert second.uplift is not None
    decision = second.uplift.decision
    assert not decision.promote, decision.reason
    choice = second.uplift.fit.evaluation.choice
    assert choice is not None
    if choice.policy in SERVED:  # judged against the champion on the same held-out customers
        assert decision.interval is not None
        assert decision.interval.low < 0 < decision.interval.high
        assert decision.reason.startswith("qini ")
        assert decision.reason.endswith("not significant, champion kept"), decision.reason
    else:
        assert decision.reason.endswith(f"the campaign falls back to {FALLBACK}")
    assert str(client.get_model_version_by_alias("u-uplift", CHALLENGER).version) == (
        second.uplift.version
    )
    listed = list_versions(["u-uplift"], uri=second.tracking_uri)
    assert len(listed) == 2
    assert listed[0].gate_metric == "profit_at_budget"
    assert {"qini", "auuc", "uplift_top_20"} <= set(listed[0].metrics)
