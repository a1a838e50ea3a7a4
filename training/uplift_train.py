"""``retain train``'s uplift step: learn the offer's effect from past campaigns, track, gate.

Runs inside the training's parent MLflow run when the data lists past campaigns
(``data.treatments``, or a treatment column in a snapshots table). The campaign rows are built
with the training's own prepared data and feature families (or, from a snapshots table, its own
rows and features), every learner and policy is
evaluated (``training.uplift_eval``), each gets a child run with its held-out metrics, and the
configured learner is registered under ``registry.uplift`` behind the same gate as churn and CLV:
promoted when the paired bootstrap interval of its Qini gain over the champion's, on the same
held-out customers, lies above zero (or the gain exceeds ``promotion.min_improvement``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from core.config import ExperimentConfig
from core.names import RESPONSE
from core.schema import ATTRIBUTE_PREFIX, CAMPAIGN_ID, CONTACTED_AT, TREATMENT
from features.build import CUTOFF
from features.labelled import load_snapshots
from features.treatments import load_treatments, snapshot_tests
from model.registry import CHALLENGER, CHAMPION, version_by_alias
from model.uplift_bundle import UpliftBundle, load_uplift_version, log_uplift_bundle
from model.uplift_plot import downsample, qini_figure
from training.frame import TrainingData
from training.metrics import PairedInterval
from training.registry import (
    TRIVIAL,
    Decision,
    decide,
    move_alias,
    tag_decision,
    tag_undecided,
)
from training.uplift_data import (
    RETAINED,
    TREATED,
    CampaignRows,
    campaign_rows,
    snapshot_campaign_rows,
)
from training.uplift_eval import UpliftEvaluation, evaluate_uplift
from training.uplift_metrics import bootstrap_qini_gain, qini_curve
from training.uplift_policy import (
    chosen_score,
    policy_line,
    policy_not_served,
    policy_table,
    tag_policy,
    versus_random,
)

Log = Callable[[str], None]
GATE_METRIC = "qini"
TEST = "test."


@dataclass
class UpliftFit:
    """The campaign rows, every learner's evaluation and the bundle of the configured one."""

    rows: CampaignRows
    evaluation: UpliftEvaluation
    bundle: UpliftBundle


@dataclass
class UpliftResult:
    """The uplift step's fit, the gate's decision and the registered version."""

    fit: UpliftFit
    decision: Decision
    version: str


def campaign_data(config: ExperimentConfig, data: TrainingData, log: Log) -> CampaignRows | None:
    """The past campaigns' uplift rows, or None (with a line saying why) when there are none."""
    if data.schema is not None:
        rows = snapshot_rows(config, data, log)
    elif data.prep is None:
        log("  uplift: a labelled snapshots table has no event history to build features from")
        return None
    else:
        treatments = load_treatments(config.data)
        if treatments.empty:
            log("  uplift: the treatments data lists no campaign; no uplift model")
            return None
        rows = campaign_rows(
            data.prep,
            treatments,
            config.horizon_days,
            families=data.families,
            active_days=None if config.contractual else config.active_days,
        )
    for line in rows.lines:
        log("  uplift: " + line)
    if not rows.usable:
        log("  uplift: too few labelled campaign customers in an arm to learn an effect; skipped")
        return None
    return rows


def snapshot_rows(config: ExperimentConfig, data: TrainingData, log: Log) -> CampaignRows:
    """The randomized tests a labelled snapshots table records, on the training's own rows."""
    source = config.data.snapshots
    assert source is not None
    if config.data.treatments is not None:
        log(
            "  uplift: trained on the snapshots table's tests; data.treatments is read by "
            "campaign results, not here (its campaigns have no snapshot rows to learn from)"
        )
    tests = snapshot_tests(load_snapshots(source, labels=True), source)
    return snapshot_campaign_rows(data.frame, data.features, tests, has_value=data.has_value)


def uplift_bundle(
    evaluation: UpliftEvaluation, rows: CampaignRows, config: ExperimentConfig, data: TrainingData
) -> UpliftBundle:
    """The registered learner's final stages, with a card of its data, metrics and Qini curves."""
    y, t = evaluation.test[RETAINED].to_numpy(), evaluation.test[TREATED].to_numpy()
    curves = {
        name: downsample(qini_curve(score, y, t)) for name, score in evaluation.scores.items()
    }
    day = CONTACTED_AT if CONTACTED_AT in rows.frame.columns else CUTOFF
    campaigns = rows.frame.groupby(CAMPAIGN_ID)[day].min()
    snapshot = data.schema.feature_names if data.schema is not None else []
    attributes = [
        c.removeprefix(ATTRIBUTE_PREFIX)
        for c in rows.features
        if c.startswith(ATTRIBUTE_PREFIX) and c not in snapshot
    ]
    return UpliftBundle(
        encoding=evaluation.encoding,
        families=data.families,
        horizon_days=config.horizon_days,
        learner=evaluation.learner,
        churn_effect=list(evaluation.churn_effect.final_stage_),
        value_effect=list(evaluation.value_effect.final_stage_),
        attributes=attributes,
        snapshot_features=list(snapshot),
        response=[(1.0, evaluation.response_model)]
        if evaluation.response_model is not None
        and evaluation.choice is not None
        and evaluation.choice.policy == RESPONSE
        else [],
        card={
            "experiment": config.name,
            "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "campaigns": {str(k): str(pd.Timestamp(v).date()) for k, v in campaigns.items()},
            "rows": len(rows.frame),
            "test_rows": len(evaluation.test),
            "test_metrics": evaluation.metrics(evaluation.learner),
            "churn_risk_metrics": evaluation.metrics("churn_risk"),
            "verdict": evaluation.verdict,
            "qini_curves": curves,
            "policy": evaluation.policy_card(),
        },
    )


def gate_uplift(
    bundle: UpliftBundle,
    evaluation: UpliftEvaluation,
    name: str,
    config: ExperimentConfig,
    uri: str,
) -> Decision:
    """The promotion decision: a first version's chosen policy against random order on the
    chosen figure; a later one's learner against the champion's, on the same held-out customers."""
    unserved = policy_not_served(evaluation, chosen_score(evaluation))
    if unserved is not None:
        return unserved
    current = version_by_alias(name, tracking_uri=uri)
    if current is None:
        trivial = versus_random(evaluation)
        return decide(
            evaluation.metric,
            chosen_score(evaluation),
            None,
            None,
            trivial=trivial,
            trivial_name=TRIVIAL["uplift"],
        )
    score = evaluation.metrics(evaluation.learner)[GATE_METRIC]
    version = str(current.version)
    champion = load_uplift_version(name, version, tracking_uri=uri).bundle
    test = evaluation.test
    if champion.encoding.missing_from(test.columns) or champion.horizon_days != bundle.horizon_days:
        return decide(GATE_METRIC, score, version, None)
    y, t = test[RETAINED].to_numpy(), test[TREATED].to_numpy()
    promotion = config.promotion
    new, old = bundle.predict(test), champion.predict(test)
    gain, low, high = bootstrap_qini_gain(
        new,
        old,
        y,
        t,
        replicates=promotion.bootstrap_replicates,
        level=promotion.confidence_level,
        seed=config.seed,
    )
    interval = PairedInterval(
        GATE_METRIC,
        score,
        score - gain,
        low,
        high,
        promotion.confidence_level,
        promotion.bootstrap_replicates,
        len(test),
    )
    return decide(GATE_METRIC, score, version, interval, promotion.min_improvement)


def _finite(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}


def log_uplift(
    evaluation: UpliftEvaluation, bundle: UpliftBundle, rows: CampaignRows, name: str
) -> str:
    """Metrics, tables and the Qini plot on the parent run; a child run per policy and learner,
    the registered learner's with its model. Returns the registered version."""
    table = evaluation.table
    mlflow.log_text(table.to_csv(index=False), "uplift/evaluation.csv")
    mlflow.log_text(
        "\n".join([*rows.lines, evaluation.verdict, *evaluation.truth_lines]) + "\n",
        "uplift/report.txt",
    )
    mlflow.log_figure(qini_figure(bundle.card["qini_curves"]), "plots/uplift_qini.png")
    version = ""
    for policy in table["policy"]:
        metrics = evaluation.metrics(policy)
        mlflow.log_metrics(_finite(metrics, f"{TEST}uplift.{policy}."))
        with mlflow.start_run(run_name=f"uplift/{policy}", nested=True):
            mlflow.set_tags({"retain.task": "uplift", "retain.model": policy})
            mlflow.log_metrics(_finite(metrics, TEST))
            if policy == evaluation.learner:
                columns = list(bundle.encoding.columns)
                info = log_uplift_bundle(bundle, evaluation.test[columns].head(5), name)
                version = str(info.registered_model_version)
    return version


def fit_uplift(
    config: ExperimentConfig, data: TrainingData, step: Log, log: Log
) -> UpliftFit | None:
    """Build the campaign rows, fit and evaluate every learner, bundle the configured one."""
    step("uplift: building rows of past campaigns")
    rows = campaign_data(config, data, log)
    if rows is None:
        return None
    step(f"uplift: fitting and evaluating learners on {len(rows.frame):,} campaign customers")
    evaluation = evaluate_uplift(rows, config)
    registered = evaluation.metrics(evaluation.learner)[GATE_METRIC]
    log(
        "\n"
        + policy_table(evaluation)
        + f"\n  uplift: {evaluation.verdict}; the {evaluation.learner} is the one registered, "
        f"Qini {registered:.4f}"
    )
    log("  uplift: " + policy_line(evaluation))
    return UpliftFit(rows, evaluation, uplift_bundle(evaluation, rows, config, data))


def register_uplift(
    fitted: UpliftFit, config: ExperimentConfig, log: Log, uri: str
) -> UpliftResult:
    """Gate, log and register the uplift model, and move its alias; call under the registry lock,
    inside the parent run."""
    name = config.registry.uplift
    decision = gate_uplift(fitted.bundle, fitted.evaluation, name, config, uri)
    version = log_uplift(fitted.evaluation, fitted.bundle, fitted.rows, name)
    try:
        tag_decision(name, version, decision, uri=uri)
    except Exception:
        tag_undecided(name, version, uri=uri)
        raise
    tag_policy(fitted.evaluation, name, version, uri=uri)
    move_alias(name, version, decision, uri=uri)
    mlflow.set_tags(
        {
            "gate.uplift.decision": CHAMPION if decision.promote else CHALLENGER,
            "gate.uplift.reason": decision.reason,
            "gate.uplift.version": version,
        }
    )
    verdict = CHAMPION if decision.promote else CHALLENGER
    log(f"  {name} v{version}: {verdict} ({decision.reason})")
    return UpliftResult(fitted, decision, version)


def markdown_table(table: pd.DataFrame) -> str:
    """The evaluation table as Markdown, metrics to four decimals."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = [
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def has_campaigns(config: ExperimentConfig) -> bool:
    """Whether the config names a source of past campaign assignments."""
    snapshots = config.data.snapshots
    return config.data.treatments is not None or (
        snapshots is not None and TREATMENT in snapshots.columns
    )
