"""One LightGBM parameter object: the exact arguments each estimator hands LightGBM.

``TODAY_*`` are the dicts the estimators spelled out by hand before they shared
``LightGBMTrees.lightgbm_kwargs``; a booster fitted with one of them and one fitted by the
estimator must be the same model, parameters included (``model_to_string`` lists every setting
LightGBM resolved).
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from core.config import (
    ChurnLightGBMParams,
    ExperimentConfig,
    LightGBMParams,
    UpliftLightGBMParams,
)
from training.models import HurdleSpend, LightGBMChurn, LightGBMSpend
from training.uplift import TLearner
from training.uplift_eval import _classifier

TODAY_TRAIN = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 4,
    "min_child_samples": 50,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "seed": 42,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
"""``lgb.train``'s parameters of the CLV and hurdle boosters with the default settings."""
CATEGORICAL = {
    "cat_smooth": 10.0,
    "min_data_per_group": 100,
    "max_cat_threshold": 32,
    "cat_l2": 10.0,
}
"""The churn and CLV boosters' categorical smoothing, given since: LightGBM's own defaults, so
the boosters fitted by hand without them are the same models."""
TODAY_CHURN_TRAIN = {**TODAY_TRAIN, "learning_rate": 0.1, "num_leaves": 7, "max_depth": 3}
"""The churn booster's, with the churn defaults."""
TODAY_UPLIFT = {
    "n_estimators": 100,
    "learning_rate": 0.03,
    "num_leaves": 7,
    "max_depth": 3,
    "min_child_samples": 80,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "random_state": 42,
    "n_jobs": 1,
    "deterministic": True,
    "verbose": -1,
}
"""The uplift learners' ``LGBMClassifier``/``LGBMRegressor`` arguments with the defaults."""
TODAY_POLICY = {k: v for k, v in TODAY_UPLIFT.items() if k != "colsample_bytree"}
"""The uplift policies' classifier: the learners' arguments without ``colsample_bytree``."""


def data(n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Features, a churn label, a zero-heavy spend, and the feature names."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    churn = (rng.uniform(size=n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    spend = np.abs(X[:, 1]) * 3.0 * (rng.uniform(size=n) < 0.6)
    return X, churn, spend, ["a", "b", "c"]


def test_each_variant_gives_its_exact_keyword_arguments() -> None:
    base = {
        "n_estimators": 2000,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "max_depth": 4,
        "min_child_samples": 50,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
        "random_state": 7,
        "n_jobs": 2,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
        **CATEGORICAL,
    }
    assert LightGBMParams().lightgbm_kwargs(7) == base
    assert ChurnLightGBMParams().lightgbm_kwargs(7) == {
        **base,
        "learning_rate": 0.1,
        "num_leaves": 7,
        "max_depth": 3,
    }
    assert UpliftLightGBMParams().lightgbm_kwargs(42) == {**TODAY_UPLIFT, "reg_lambda": 0.0}
    no_bagging = LightGBMParams(subsample=1.0).lightgbm_kwargs(7)
    assert (no_bagging["subsample"], no_bagging["subsample_freq"]) == (1.0, 0)


def test_the_config_sections_are_the_objects_the_estimators_take() -> None:
    config = ExperimentConfig.model_validate(
        {"name": "x", "data": {"transactions": {"path": "t.csv"}}}
    )
    assert type(config.churn.lightgbm) is ChurnLightGBMParams
    assert type(config.clv.lightgbm) is LightGBMParams
    assert type(config.uplift.lightgbm) is UpliftLightGBMParams


@pytest.fixture
def train_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], int]]:
    """Every ``lgb.train`` call's parameters and rounds, the call itself unchanged."""
    calls: list[tuple[dict[str, Any], int]] = []
    train = lgb.train

    def recorded(params: dict[str, Any], *args: Any, **kwargs: Any) -> lgb.Booster:
        calls.append((dict(params), kwargs["num_boost_round"]))
        return train(params, *args, **kwargs)

    monkeypatch.setattr(lgb, "train", recorded)
    return calls


def test_the_boosters_hand_lightgbm_exactly_these_parameters(
    train_calls: list[tuple[dict[str, Any], int]],
) -> None:
    X, churn, spend, names = data()
    kwargs = {k: v for k, v in LightGBMParams().lightgbm_kwargs(42).items() if k != "n_estimators"}
    churn_kwargs = ChurnLightGBMParams().lightgbm_kwargs(42)
    del churn_kwargs["n_estimators"]
    LightGBMChurn(ChurnLightGBMParams(n_estimators=5), monotone_increasing=("a",)).fit(
        X, churn, feature_names=names
    )
    LightGBMSpend(LightGBMParams(n_estimators=5)).fit(X, spend)
    HurdleSpend(LightGBMParams(n_estimators=5)).fit(X, spend, eval_set=(X, spend))
    assert train_calls == [
        (
            {
                "objective": "binary",
                "metric": "auc",
                "monotone_constraints": [1, 0, 0],
                **churn_kwargs,
            },
            5,
        ),
        (
            {
                "objective": "tweedie",
                "tweedie_variance_power": 1.3,
                "metric": "tweedie",
                **kwargs,
            },
            5,
        ),
        ({"objective": "binary", "metric": "binary_logloss", **kwargs}, 5),
        ({"objective": "gamma", "metric": "gamma", **kwargs}, 5),
    ]


def fitted_by_hand(params: dict[str, Any], X: np.ndarray, y: np.ndarray, names: list[str]) -> str:
    """The model ``lgb.train`` fits with ``params`` for 5 rounds, as the estimators call it."""
    train = lgb.Dataset(X, y, feature_name=names, categorical_feature=[], free_raw_data=False)
    booster = lgb.train(params, train, num_boost_round=5, valid_sets=[train])
    return str(booster.model_to_string())


def test_the_boosters_are_the_models_of_the_former_parameters() -> None:
    X, churn, spend, names = data()
    churn_model = LightGBMChurn(
        ChurnLightGBMParams(n_estimators=5), balance_classes=False, calibration=None
    ).fit(X, churn, feature_names=names)
    spend_model = LightGBMSpend(LightGBMParams(n_estimators=5)).fit(X, spend, feature_names=names)
    binary = {"objective": "binary", "metric": "auc"}
    tweedie = {"objective": "tweedie", "tweedie_variance_power": 1.3, "metric": "tweedie"}
    assert churn_model.booster_.model_to_string() == fitted_by_hand(
        {**binary, **TODAY_CHURN_TRAIN}, X, churn, names
    )
    assert spend_model.booster_.model_to_string() == fitted_by_hand(
        {**tweedie, **TODAY_TRAIN}, X, spend, names
    )


def test_the_uplift_learners_and_policies_get_the_former_arguments() -> None:
    X, churn, _spend, names = data(800)
    t = np.random.default_rng(1).integers(0, 2, len(X))
    learner = TLearner("binary", feature_names=tuple(names)).fit(X, churn, t)
    today = lgb.LGBMClassifier(**TODAY_UPLIFT).fit(
        X[t == 0], churn[t == 0], feature_name=names, categorical_feature="auto"
    )
    assert learner.control_model_.get_params() == today.get_params()
    assert learner.control_model_.booster_.model_to_string() == today.booster_.model_to_string()
    params = {
        "lightgbm": UpliftLightGBMParams(),
        "categorical_features": (),
        "feature_names": tuple(names),
        "random_state": 42,
    }
    policy = _classifier(X, churn, params)
    today_policy = lgb.LGBMClassifier(**TODAY_POLICY).fit(
        X, churn, feature_name=names, categorical_feature="auto"
    )
    assert policy.get_params() == today_policy.get_params()
    assert policy.booster_.model_to_string() == today_policy.booster_.model_to_string()


def test_the_logged_params_keep_their_former_keys() -> None:
    """MLflow logs each candidate's hyperparameters flat, as it did before the object."""
    model = LightGBMChurn(ChurnLightGBMParams(), random_state=3, calibration=None)
    assert model.flat_params() == {
        "n_estimators": 2000,
        "learning_rate": 0.1,
        "num_leaves": 7,
        "max_depth": 3,
        "min_child_samples": 50,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
        "n_jobs": 2,
        "early_stopping_rounds": 100,
        **CATEGORICAL,
        "random_state": 3,
        "verbose": 0,
        "balance_classes": True,
        "calibration": None,
        "monotone_increasing": (),
    }
