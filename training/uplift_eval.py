"""Every uplift learner against the simpler policies, on held-out customers of past campaigns.

Policies rank the held-out customers; each is scored by how much the offer did for the customers
it ranks first (``training.uplift_metrics``):

* ``random``: a seeded shuffle, the floor;
* ``churn_risk``: the churn probability without the offer (a classifier on the control arm),
  what ``retain campaign`` ranks by without an uplift model;
* ``response``: the probability of being retained when offered (a classifier on the treated
  arm), the classic response model and, on real tests, often the bar to beat;
* each learner of ``training.uplift.LEARNERS``: its predicted reduction in churn probability.

Metrics are on retention (1 - churn); the learners' value models are scored on future value. With
the planted truth of the demo data, also the Spearman correlation with the true effect and the
true incremental profit of targeting at equal budget: the top ``budget_share`` by expected
incremental profit (``model.incremental``) against the top by churn risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from core.config import ExperimentConfig, UpliftLightGBMParams
from core.economics import Economics
from core.names import CHURN_RISK, RANDOM, RESPONSE
from core.schema import CAMPAIGN_ID, CUSTOMER_ID, FUTURE_VALUE
from model.encoding import FeatureEncoding, model_safe_names
from model.incremental import expected_incremental_profit
from training.uplift import LEARNERS, _UpliftLearner
from training.uplift_data import RETAINED, TREATED, CampaignRows, split_rows
from training.uplift_metrics import (
    qini_coefficient,
    qini_curve,
    spearman,
    true_incremental_profit,
    uplift_metrics,
)

POLICIES = (RANDOM, CHURN_RISK, RESPONSE)


@dataclass
class UpliftEvaluation:
    """Held-out metrics of every policy and learner, and the fitted servable learner."""

    table: pd.DataFrame
    """One row per policy or learner: metrics on retention and, for learners, on value."""
    scores: dict[str, np.ndarray]
    """Each policy's and learner's ranking score of the held-out rows (retention)."""
    test: pd.DataFrame
    """Held-out rows: customer_id, campaign_id, the features, treated, retained, future_value."""
    encoding: FeatureEncoding
    learner: str
    churn_effect: _UpliftLearner
    value_effect: _UpliftLearner
    value_scores: dict[str, np.ndarray] = field(default_factory=dict)
    verdict: str = ""
    """One plain sentence: does any learner beat the simpler policies?"""
    truth_lines: list[str] = field(default_factory=list)
    oracle_qini: float = float("nan")
    """Planted data: the Qini of ranking by the true effect, the ceiling on these customers."""

    def metrics(self, name: str) -> dict[str, float]:
        """The row of ``name`` as a mapping of finite metrics."""
        row = self.table.set_index("policy").loc[name]
        return {k: float(v) for k, v in row.items() if k != "kind" and pd.notna(v)}

    def qini_curves(self) -> dict[str, np.ndarray]:
        """The Qini curve of the registered learner and the churn-risk policy (and random)."""
        y, t = self.test[RETAINED].to_numpy(), self.test[TREATED].to_numpy()
        return {
            name: qini_curve(self.scores[name], y, t) for name in (self.learner, CHURN_RISK, RANDOM)
        }


def learner_params(config: ExperimentConfig, encoding: FeatureEncoding) -> dict[str, Any]:
    """The arguments of every uplift learner: the configured LightGBM settings, the columns and
    the run's seed."""
    return {
        "lightgbm": config.uplift.lightgbm,
        "categorical_features": tuple(encoding.categorical_indices),
        "feature_names": tuple(encoding.columns),
        "random_state": config.seed,
    }


def _classifier(X: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> lgb.LGBMClassifier:
    """A policy's outcome classifier: the learners' settings, each tree seeing every feature."""
    lightgbm: UpliftLightGBMParams = params["lightgbm"]
    every_feature = lightgbm.model_copy(update={"colsample_bytree": 1.0})
    model = lgb.LGBMClassifier(**every_feature.lightgbm_kwargs(params["random_state"]))
    return model.fit(
        X,
        y,
        categorical_feature=list(params["categorical_features"]) or "auto",
        feature_name=list(model_safe_names(params["feature_names"])),
    )


def evaluate_uplift(
    rows: CampaignRows,
    config: ExperimentConfig,
    *,
    truth: pd.DataFrame | None = None,
) -> UpliftEvaluation:
    """Fit every learner and policy on the training part and score them on the held-out part.

    ``truth`` (planted data only): per ``customer_id`` and ``campaign_id``, the columns
    ``true_churn_effect``, ``true_value_effect`` and ``p_churn_treated``.
    """
    parts = split_rows(rows, config.uplift.test_share, config.uplift.split_seed)
    train = rows.frame.loc[parts == "train"].reset_index(drop=True)
    test = rows.frame.loc[parts == "test"].reset_index(drop=True)
    encoding = FeatureEncoding.fit(train, rows.features)
    X, X_test = encoding.transform(train), encoding.transform(test)
    t, t_test = train[TREATED].to_numpy(), test[TREATED].to_numpy()
    y, y_test = train[RETAINED].to_numpy(), test[RETAINED].to_numpy()
    v, v_test = train[FUTURE_VALUE].to_numpy(), test[FUTURE_VALUE].to_numpy()
    params = learner_params(config, encoding)

    scores: dict[str, np.ndarray] = {
        RANDOM: np.random.default_rng(config.seed).uniform(size=len(test))
    }
    churn_model = _classifier(X[t == 0], 1 - y[t == 0], params)
    churn_risk = np.asarray(churn_model.booster_.predict(X_test), dtype=np.float64)
    scores[CHURN_RISK] = churn_risk
    response = _classifier(X[t == 1], y[t == 1], params).booster_.predict(X_test)
    scores[RESPONSE] = np.asarray(response, dtype=np.float64)
    value_scores: dict[str, np.ndarray] = {}
    fitted: dict[str, tuple[_UpliftLearner, _UpliftLearner]] = {}
    for name, cls in LEARNERS.items():
        churn_effect = cls("binary", **params).fit(X, y, t)
        value_effect = cls("continuous", **params).fit(X, v, t)
        scores[name] = churn_effect.predict(X_test)
        value_scores[name] = value_effect.predict(X_test)
        fitted[name] = (churn_effect, value_effect)

    records = []
    for name, score in scores.items():
        record: dict[str, Any] = {
            "policy": name,
            "kind": "learner" if name in LEARNERS else "policy",
            **uplift_metrics(score, y_test, t_test),
        }
        if name in value_scores:
            record["value_qini"] = qini_coefficient(value_scores[name], v_test, t_test)
        records.append(record)
    table = pd.DataFrame(records)

    evaluation = UpliftEvaluation(
        table=table,
        scores=scores,
        test=test,
        encoding=encoding,
        learner=config.uplift.learner,
        churn_effect=fitted[config.uplift.learner][0],
        value_effect=fitted[config.uplift.learner][1],
        value_scores=value_scores,
    )
    if truth is not None:
        add_truth(evaluation, truth, churn_risk, config.economics, config.uplift.budget_share)
    evaluation.verdict = verdict(table)
    return evaluation


def add_truth(
    evaluation: UpliftEvaluation,
    truth: pd.DataFrame,
    churn_risk: np.ndarray,
    economics: Economics,
    budget_share: float,
) -> None:
    """Spearman with the true effects and true incremental profit at equal budget (planted data)."""
    keys = [CUSTOMER_ID, CAMPAIGN_ID]
    aligned = evaluation.test[keys].merge(truth, on=keys, how="left")
    if aligned["true_churn_effect"].isna().any():
        raise ValueError("the truth lacks some held-out campaign customers")
    contacts = max(round(budget_share * len(aligned)), 1)
    table = evaluation.table.set_index("policy")
    for name, score in evaluation.scores.items():
        table.loc[name, "spearman_true_effect"] = spearman(score, aligned["true_churn_effect"])
        if name in evaluation.value_scores:
            value = evaluation.value_scores[name]
            table.loc[name, "spearman_true_value_effect"] = spearman(
                value, aligned["true_value_effect"]
            )
            profit = expected_incremental_profit(score, value, churn_risk, economics)
            ranking = np.where(profit > 0, profit, -np.inf)
            worth = int((profit > 0).sum())
            table.loc[name, "true_profit_at_budget"] = true_incremental_profit(
                ranking, aligned, economics, min(contacts, worth)
            )
        elif name != CHURN_RISK:
            table.loc[name, "true_profit_at_budget"] = true_incremental_profit(
                score, aligned, economics, contacts
            )
    table.loc[CHURN_RISK, "true_profit_at_budget"] = true_incremental_profit(
        churn_risk, aligned, economics, contacts
    )
    best = true_incremental_profit(
        aligned["true_value_effect"].to_numpy() * economics.gross_margin,
        aligned,
        economics,
        contacts,
    )
    oracle = aligned["true_churn_effect"].to_numpy()
    y, t = evaluation.test[RETAINED].to_numpy(), evaluation.test[TREATED].to_numpy()
    evaluation.oracle_qini = qini_coefficient(oracle, y, t)
    evaluation.table = table.reset_index()
    learner = evaluation.learner
    evaluation.truth_lines = [
        f"at equal budget ({contacts:,} of {len(aligned):,} held-out customers contacted): "
        f"true incremental profit {economics.money(table.loc[learner, 'true_profit_at_budget'])} "
        f"targeting by the {learner}'s expected incremental profit, "
        f"{economics.money(table.loc[CHURN_RISK, 'true_profit_at_budget'])} by churn risk, "
        f"{economics.money(best)} with perfect knowledge of the true effect",
        f"Qini of ranking by the true effect (the ceiling on these customers): "
        f"{evaluation.oracle_qini:.4f}",
    ]


def verdict(table: pd.DataFrame) -> str:
    """Say plainly whether any learner's Qini beats every simpler policy's."""
    by = table.set_index("policy")["qini"]
    learners = by[[n for n in LEARNERS if n in by.index]]
    simple = by[[p for p in POLICIES if p in by.index]]
    best_simple, best_learner = simple.idxmax(), learners.idxmax()
    if learners.max() > simple.max():
        return (
            f"the {best_learner} beats every simpler policy on held-out campaign customers "
            f"(Qini {learners.max():.4f} against {simple.max():.4f} for {best_simple})"
        )
    return (
        f"no uplift learner beats the simpler policies: the best, the {best_learner}, has Qini "
        f"{learners.max():.4f} against {simple.max():.4f} for the {best_simple} policy; "
        "targeting by the uplift model is not supported by this data"
    )
