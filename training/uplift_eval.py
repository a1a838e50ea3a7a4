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

The policies compete as the churn candidates do (``training.policy_choice``): every policy scores
each training customer from a fit on the other ``uplift.validation_folds`` folds (stratified by
campaign, arm and outcome), the one-standard-error rule on those out-of-fold
figure of ``uplift.choose_by`` (incremental profit at the budget by default, or Qini) chooses the
served policy (simplest first: random, churn risk, value at risk, response, the
learners, expected incremental profit), and the held-out part gives every policy's Qini, AUUC and
incremental profit at ``uplift.budget_share`` with seeded bootstrap intervals
(``training.policy_metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from core.config import ExperimentConfig, UpliftLightGBMParams
from core.economics import Economics
from core.names import CHURN_RISK, INCREMENTAL_PROFIT, RANDOM, RESPONSE, VALUE_AT_RISK
from core.schema import CAMPAIGN_ID, CUSTOMER_ID, FUTURE_VALUE
from model.encoding import FeatureEncoding, model_safe_names
from model.incremental import expected_incremental_profit
from training.policy_choice import CHOICE_METRICS, PolicyChoice, choose_policy
from training.policy_metrics import Campaign, PolicyFigures, policy_figures
from training.uplift import LEARNERS, SERVABLE, _UpliftLearner
from training.uplift_data import RETAINED, TREATED, CampaignRows, split_rows
from training.uplift_metrics import (
    qini_coefficient,
    qini_curve,
    spearman,
    true_incremental_profit,
    uplift_metrics,
)

POLICIES = (RANDOM, CHURN_RISK, VALUE_AT_RISK, RESPONSE)
"""The policies that need no uplift learner, simplest first."""
SERVED = (CHURN_RISK, VALUE_AT_RISK, RESPONSE, *SERVABLE, INCREMENTAL_PROFIT)
"""Policies a packaged uplift model carries out (``retention.targeting``): churn risk and value at
risk from the served churn and CLV scores, the response model from the bundle's response stage,
a learner or expected incremental profit from the registered learner's effects. Random order is
never served: a first version must beat it."""


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
    choice: PolicyChoice | None = None
    """The policy chosen on validation (one-standard-error rule) and why."""
    figures: PolicyFigures | None = None
    """Every policy's held-out figures with their bootstrap replicates."""
    contacts: int = 0
    """Held-out customers contacted at the budget (``uplift.budget_share``)."""
    metric: str = "profit_at_budget"
    """The figure the policies competed on (``uplift.choose_by``) and the gate uses."""
    budget_share: float = 0.2
    """The share of customers contacted at which the figures were measured."""
    response_model: lgb.Booster | None = None
    """The response policy's classifier fitted on the whole training part (served if it won)."""

    def metrics(self, name: str) -> dict[str, float]:
        """The row of ``name`` as a mapping of finite metrics."""
        row = self.table.set_index("policy").loc[name]
        return {k: float(v) for k, v in row.items() if k != "kind" and pd.notna(v)}

    def qini_curves(self) -> dict[str, np.ndarray]:
        """The held-out Qini curve of every policy and learner."""
        y, t = self.test[RETAINED].to_numpy(), self.test[TREATED].to_numpy()
        return {name: qini_curve(score, y, t) for name, score in self.scores.items()}

    def policy_card(self) -> dict[str, Any]:
        """The chosen policy, why, and every policy's held-out figures with intervals (JSON)."""
        assert self.choice is not None
        assert self.figures is not None
        level = self.figures.level
        return {
            "policy": self.choice.policy,
            "best_on_validation": self.choice.best,
            "reason": self.choice.reason,
            "served": self.choice.policy in SERVED,
            "chosen_by": self.metric,
            "budget_share": self.budget_share,
            "level": level,
            "contacts": self.contacts,
            "test_rows": len(self.test),
            "figures": {
                name: {k: (v if np.isfinite(v) else None) for k, v in figures.items()}
                for name, figures in ((n, self.figures.record(n)) for n in self.scores)
            },
            "random_order": {
                m: (float(v[0]) if np.isfinite(v[0]) else None)
                for m, v in self.figures.baseline.items()
            },
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


def validation_folds(frame: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """The validation fold (0 to ``folds - 1``) of each row of the training part: seeded,
    stratified by campaign, arm and outcome (each stratum needs ``folds`` rows; otherwise by
    campaign and arm, else by arm)."""
    arm = frame[TREATED].astype(str)
    by_campaign = frame[CAMPAIGN_ID].astype(str) + "/" + arm
    strata = arm
    for finer in (by_campaign + "/" + frame[RETAINED].astype(str), by_campaign):
        if finer.value_counts().min() >= folds:
            strata = finer
            break
    out = np.zeros(len(frame), dtype=np.int64)
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for k, (_, rows) in enumerate(split.split(np.zeros(len(frame)), strata)):
        out[rows] = k
    return out


def out_of_fold_scores(
    train: pd.DataFrame, fold: np.ndarray, features: list[str], config: ExperimentConfig
) -> dict[str, np.ndarray]:
    """Every policy's score of every training row by the policies fitted on the other folds:
    the whole training part validates, not a slice of it."""
    out: dict[str, np.ndarray] = {}
    for k in range(int(fold.max()) + 1):
        fit, part = train.loc[fold != k], train.loc[fold == k]
        encoding = FeatureEncoding.fit(fit.reset_index(drop=True), features)
        (scores,), _, _ = _policy_scores(
            *_arrays(encoding, fit),
            learner_params(config, encoding),
            config,
            [encoding.transform(part)],
        )
        for name, score in scores.items():
            out.setdefault(name, np.full(len(train), np.nan))[fold == k] = score
    return out


def _policy_scores(
    X: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    t: np.ndarray,
    params: dict[str, Any],
    config: ExperimentConfig,
    matrices: list[np.ndarray],
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]], dict[str, Any]]:
    """Fit every policy and learner on (X, y, v, t); score each of ``matrices``.

    Returns per matrix the retention scores (simplest policy first) and the learners' value
    scores, and the fitted learners by name (the response classifier's booster under
    ``RESPONSE``).
    """
    churn_model = _classifier(X[t == 0], 1 - y[t == 0], params)
    response = _classifier(X[t == 1], y[t == 1], params)
    stay = (t == 0) & (y == 1)
    value_model = lgb.LGBMRegressor(
        objective="tweedie", **params["lightgbm"].lightgbm_kwargs(params["random_state"])
    ).fit(
        X[stay],
        v[stay],
        categorical_feature=list(params["categorical_features"]) or "auto",
        feature_name=list(model_safe_names(params["feature_names"])),
    )
    fitted: dict[str, Any] = {RESPONSE: response.booster_}
    for name, cls in LEARNERS.items():
        fitted[name] = (
            cls("binary", **params).fit(X, y, t),
            cls("continuous", **params).fit(X, v, t),
        )
    scores, values = [], []
    for i, M in enumerate(matrices):
        risk = np.asarray(churn_model.booster_.predict(M), dtype=np.float64)
        rng = np.random.default_rng(config.seed + i)
        score: dict[str, np.ndarray] = {
            RANDOM: rng.uniform(size=len(M)),
            CHURN_RISK: risk,
            VALUE_AT_RISK: risk * np.asarray(value_model.booster_.predict(M), dtype=np.float64),
            RESPONSE: np.asarray(response.booster_.predict(M), dtype=np.float64),
        }
        value: dict[str, np.ndarray] = {}
        for name in LEARNERS:
            churn_effect, value_effect = fitted[name]
            score[name] = churn_effect.predict(M)
            value[name] = value_effect.predict(M)
        learner = config.uplift.learner
        score[INCREMENTAL_PROFIT] = expected_incremental_profit(
            score[learner], value[learner], risk, config.economics
        )
        scores.append(score)
        values.append(value)
    return scores, values, fitted


def evaluate_uplift(
    rows: CampaignRows,
    config: ExperimentConfig,
    *,
    truth: pd.DataFrame | None = None,
) -> UpliftEvaluation:
    """Score every learner and policy out of fold on the training part, choose the served policy
    on those scores, refit every one on the whole training part and score the held-out part.

    ``truth`` (planted data only): per ``customer_id`` and ``campaign_id``, the columns
    ``true_churn_effect``, ``true_value_effect`` and ``p_churn_treated``.
    """
    parts = split_rows(rows, config.uplift.test_share, config.uplift.split_seed)
    train = rows.frame.loc[parts == "train"].reset_index(drop=True)
    test = rows.frame.loc[parts == "test"].reset_index(drop=True)
    fold = validation_folds(train, config.uplift.validation_folds, config.uplift.split_seed + 1)
    val_scores = out_of_fold_scores(train, fold, rows.features, config)
    # chosen on validation, every policy is fitted again on the whole training part
    encoding = FeatureEncoding.fit(train, rows.features)
    t_test, y_test = test[TREATED].to_numpy(), test[RETAINED].to_numpy()
    v_test = test[FUTURE_VALUE].to_numpy()
    (test_scores,), (value_scores,), fitted = _policy_scores(
        *_arrays(encoding, train),
        learner_params(config, encoding),
        config,
        [encoding.transform(test)],
    )
    promotion, share = config.promotion, config.uplift.budget_share
    on_validation = policy_figures(val_scores, _campaign(train, share, config), **_boot(config))
    # a learner the registry cannot store (not in SERVABLE) is measured but cannot be served
    eligible = [p for p in val_scores if p not in LEARNERS or p in SERVABLE]
    metric = CHOICE_METRICS[config.uplift.choose_by]
    choice = choose_policy(on_validation, eligible, promotion.selection_se, metric)
    campaign = _campaign(test, share, config)
    figures = policy_figures(test_scores, campaign, **_boot(config))

    records = []
    for name, score in test_scores.items():
        record: dict[str, Any] = {
            "policy": name,
            "kind": "learner" if name in LEARNERS else "policy",
            **uplift_metrics(score, y_test, t_test),
            **{k: x for k, x in figures.record(name).items() if k not in ("qini", "auuc")},
            "validation_qini": on_validation.point[name]["qini"],
            "validation_profit_at_budget": on_validation.point[name]["profit_at_budget"],
        }
        if name in value_scores:
            record["value_qini"] = qini_coefficient(value_scores[name], v_test, t_test)
        records.append(record)
    table = pd.DataFrame(records)
    learner = choice.policy if choice.policy in SERVABLE else config.uplift.learner
    evaluation = UpliftEvaluation(
        table=table,
        scores=test_scores,
        test=test,
        encoding=encoding,
        learner=learner,
        churn_effect=fitted[learner][0],
        value_effect=fitted[learner][1],
        value_scores=value_scores,
        choice=choice,
        figures=figures,
        contacts=campaign.contacts,
        metric=metric,
        budget_share=share,
        response_model=fitted[RESPONSE],
    )
    if truth is not None:
        churn_risk = test_scores[CHURN_RISK]
        add_truth(evaluation, truth, churn_risk, config.economics, config.uplift.budget_share)
    evaluation.verdict = verdict(table, metric)
    return evaluation


def _arrays(
    encoding: FeatureEncoding, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The encoded features, retention, future value and arm of ``frame``."""
    return (
        encoding.transform(frame),
        frame[RETAINED].to_numpy(),
        frame[FUTURE_VALUE].to_numpy(),
        frame[TREATED].to_numpy(),
    )


def _boot(config: ExperimentConfig) -> dict[str, Any]:
    """The bootstrap's settings: the promotion gate's replicates, level and the run's seed."""
    promotion = config.promotion
    return {
        "replicates": promotion.bootstrap_replicates,
        "level": promotion.confidence_level,
        "seed": config.seed,
    }


def _campaign(frame: pd.DataFrame, share: float, config: ExperimentConfig) -> Campaign:
    """The held-out (or validation) customers as a ``Campaign`` at the budget's contacts."""
    return Campaign(
        frame[RETAINED].to_numpy(),
        frame[TREATED].to_numpy(),
        frame[FUTURE_VALUE].to_numpy(dtype=np.float64),
        max(round(share * len(frame)), 1),
        config.economics,
    )


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


def verdict(table: pd.DataFrame, metric: str = "qini") -> str:
    """Say plainly whether any learner beats every simpler policy on held-out ``metric``."""
    by = table.set_index("policy")[metric]
    learners = by[[n for n in LEARNERS if n in by.index]]
    simple = by[[p for p in POLICIES if p in by.index]]
    best_simple, best_learner = simple.idxmax(), learners.idxmax()
    words, fmt = ("Qini", ".4f") if metric == "qini" else ("profit at the budget", ",.0f")
    if learners.max() > simple.max():
        return (
            f"the {best_learner} beats every simpler policy on held-out campaign customers "
            f"({words} {learners.max():{fmt}} against {simple.max():{fmt}} for {best_simple})"
        )
    return (
        f"no uplift learner beats the simpler policies: the best, the {best_learner}, has "
        f"{words} {learners.max():{fmt}} against {simple.max():{fmt}} for the {best_simple} "
        "policy; targeting by the uplift model is not supported by this data"
    )
