"""Churn and CLV estimators, following scikit-learn's contract (``__init__`` stores, ``fit`` learns).

* ``LightGBMChurn``: a boosted classifier with class balancing, early stopping on a later cutoff
  and a calibration there (a line on the log-odds, ``training.calibrators``), so its
  probabilities are honest despite the balancing.
* ``LightGBMSpend``: a Tweedie booster for zero-heavy, skewed future spend.
* ``RecencyRule``: the baseline most teams start with, churn risk rising with days since the last
  purchase, calibrated by isotonic regression.
* ``logistic_baseline``: a scikit-learn Pipeline (impute, scale, one-hot, logistic regression).

The fitted boosters become ``ModelBundle``s, the artefact serving uses.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from core.config import LightGBMParams
from model.bundle import sigmoid
from model.encoding import model_safe_names
from model.linear import CONVEX_SOLVER, CONVEX_TOL
from training.calibrators import Calibrator, fit_calibrator


class _Booster(BaseEstimator):
    """Shared LightGBM training with early stopping on an evaluation set; ``lightgbm`` holds the
    booster's settings (default ``LightGBMParams()``), ``random_state`` the run's seed."""

    def __init__(
        self, lightgbm: LightGBMParams | None = None, random_state: int = 42, verbose: int = 0
    ) -> None:
        self.lightgbm = lightgbm
        self.random_state = random_state
        self.verbose = verbose

    @property
    def settings(self) -> LightGBMParams:
        """The booster's LightGBM settings: the given ones or the defaults."""
        return self.lightgbm if self.lightgbm is not None else LightGBMParams()

    def flat_params(self) -> dict[str, Any]:
        """The hyperparameters with the LightGBM settings as keys of their own, as MLflow logs."""
        own = {k: v for k, v in self.get_params().items() if k != "lightgbm"}
        return {**self.settings.model_dump(), **own}

    def _train(
        self,
        objective: dict[str, Any],
        X: np.ndarray,
        y: np.ndarray,
        eval_set: tuple[np.ndarray, np.ndarray] | None,
        feature_names: list[str] | None,
        categorical: list[int] | None,
        weight: np.ndarray | None = None,
        init_score: tuple[np.ndarray, np.ndarray | None] | None = None,
    ) -> lgb.Booster:
        params = {**objective, **self.settings.lightgbm_kwargs(self.random_state)}
        rounds = params.pop("n_estimators")
        names = feature_names or [f"f{i}" for i in range(X.shape[1])]
        booster_names = list(model_safe_names(names))  # the user's names stay outside the booster
        cats = categorical or []
        train_init, eval_init = init_score if init_score is not None else (None, None)
        train = lgb.Dataset(
            X,
            y,
            weight=weight,
            init_score=train_init,
            feature_name=booster_names,
            categorical_feature=cats,
            free_raw_data=False,
        )
        valid_sets = [train]
        callbacks: list[Any] = []
        if eval_set is not None:
            valid = lgb.Dataset(
                eval_set[0],
                eval_set[1],
                init_score=eval_init,
                reference=train,
                feature_name=booster_names,
                categorical_feature=cats,
            )
            valid_sets = [valid]
            callbacks.append(lgb.early_stopping(self.settings.early_stopping_rounds, verbose=False))
        bar = tqdm(
            total=rounds,
            desc=type(self).__name__,
            unit="round",
            leave=False,
            disable=not self.verbose,
        )
        callbacks.append(lambda env: bar.update(1))
        try:
            booster = lgb.train(
                params,
                train,
                num_boost_round=rounds,
                valid_sets=valid_sets,
                callbacks=callbacks,
            )
        finally:
            bar.close()
        if eval_set is not None and booster.best_iteration > 0:
            booster = lgb.Booster(
                model_str=booster.model_to_string(num_iteration=booster.best_iteration)
            )
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.best_iteration_ = booster.current_iteration()
        return booster

    def feature_importance(self) -> dict[str, float]:
        """Total gain per feature, as a share of the total."""
        check_is_fitted(self, "booster_")
        gain = self.booster_.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {str(n): float(g) / total for n, g in zip(self.feature_names_in_, gain, strict=True)}


class LightGBMChurn(ClassifierMixin, _Booster):
    """LightGBM churn classifier; ``balance_classes`` weights both classes equally while boosting
    and ``calibration`` (none, intercept or platt; None: the raw score as is) then maps the raw
    score to a probability by ``sigmoid(a * raw + b)``, fitted on the evaluation set. Features
    named in ``monotone_increasing`` can only raise the risk as they grow (e.g. days since last
    purchase), so the model cannot learn that a later purchase makes a customer riskier."""

    def __init__(
        self,
        lightgbm: LightGBMParams | None = None,
        random_state: int = 42,
        verbose: int = 0,
        balance_classes: bool = True,
        calibration: Calibrator | None = "platt",
        monotone_increasing: tuple[str, ...] = (),
    ) -> None:
        super().__init__(lightgbm, random_state, verbose)
        self.balance_classes = balance_classes
        self.calibration = calibration
        self.monotone_increasing = monotone_increasing

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        eval_set: tuple[np.ndarray, np.ndarray] | None = None,
        feature_names: list[str] | None = None,
        categorical: list[int] | None = None,
    ) -> LightGBMChurn:
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) != {0, 1}:
            raise ValueError("churn labels must contain both classes 0 and 1")
        weight = None
        if self.balance_classes:
            share = y.mean()
            weight = np.where(y == 1, 0.5 / share, 0.5 / (1 - share))
        objective: dict[str, Any] = {"objective": "binary", "metric": "auc"}
        if self.monotone_increasing:
            names = feature_names or []
            unknown = sorted(set(self.monotone_increasing) - set(names))
            if unknown:
                raise ValueError(f"monotone_increasing names unknown features {unknown}")
            objective["monotone_constraints"] = [int(n in self.monotone_increasing) for n in names]
        self.booster_ = self._train(objective, X, y, eval_set, feature_names, categorical, weight)
        self.classes_ = np.array([0, 1])
        self.platt_: tuple[float, float] | None = None
        if self.calibration is not None:
            calib_X, calib_y = eval_set if eval_set is not None else (X, y)
            self.platt_ = fit_calibrator(
                self.calibration,
                self.raw_score(calib_X),
                calib_y,
                share=float(y.mean()),
                balanced=self.balance_classes,
            )
        return self

    def raw_score(self, X: np.ndarray) -> np.ndarray:
        """The booster's log-odds before calibration (balanced ones when ``balance_classes``)."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(X, raw_score=True), dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "booster_")
        raw = self.raw_score(X)
        a, b = self.platt_ or (1.0, 0.0)
        p = sigmoid(a * raw + b)
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class LightGBMSpend(RegressorMixin, _Booster):
    """LightGBM regressor of future spend with a Tweedie loss (log link, mass at zero).

    With ``base_margin`` (a log-scale prediction per row, e.g. of the BTYD value) the trees learn
    a correction to it: ``predict`` then needs the rows' margins too.
    """

    def __init__(
        self,
        lightgbm: LightGBMParams | None = None,
        random_state: int = 42,
        verbose: int = 0,
        tweedie_variance_power: float = 1.3,
    ) -> None:
        super().__init__(lightgbm, random_state, verbose)
        self.tweedie_variance_power = tweedie_variance_power

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        eval_set: tuple[np.ndarray, np.ndarray] | None = None,
        feature_names: list[str] | None = None,
        categorical: list[int] | None = None,
        base_margin: np.ndarray | None = None,
        eval_base_margin: np.ndarray | None = None,
    ) -> LightGBMSpend:
        y = np.asarray(y, dtype=np.float64)
        if eval_set is not None and (base_margin is None) != (eval_base_margin is None):
            raise ValueError("give base margins for both the training rows and the eval_set")
        if (y < 0).any() or not np.isfinite(y).all():
            raise ValueError("future spend must be finite and non-negative")
        objective = {
            "objective": "tweedie",
            "tweedie_variance_power": self.tweedie_variance_power,
            "metric": "tweedie",
        }
        init = None if base_margin is None else (base_margin, eval_base_margin)
        self.booster_ = self._train(
            objective, X, y, eval_set, feature_names, categorical, init_score=init
        )
        return self

    def predict(self, X: np.ndarray, base_margin: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self, "booster_")
        if base_margin is None:
            return np.asarray(self.booster_.predict(X), dtype=np.float64)
        raw = np.asarray(self.booster_.predict(X, raw_score=True), dtype=np.float64)
        return np.exp(raw + base_margin)


class RecencyRule(ClassifierMixin, BaseEstimator):
    """Churn risk as a non-decreasing function of days since the last purchase (isotonic fit).

    X has one column, days since the last purchase; missing (never bought) counts as the largest.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> RecencyRule:
        days = self._days(X)
        self.iso_ = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
        self.iso_.fit(days, np.asarray(y, dtype=np.float64))
        self.fill_ = float(np.nanmax(days)) if np.isfinite(days).any() else 0.0
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = 1
        return self

    @staticmethod
    def _days(X: np.ndarray) -> np.ndarray:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim == 2:
            if arr.shape[1] != 1:
                raise ValueError(
                    f"RecencyRule takes one column (days since last purchase), got {arr.shape[1]}"
                )
            arr = arr[:, 0]
        return arr

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "iso_")
        days = self._days(X)
        days = np.where(np.isnan(days), self.fill_, days)
        p = np.clip(self.iso_.predict(days), 0.0, 1.0)
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def logistic_baseline(numeric: list[str], categorical: list[str], seed: int = 42) -> Pipeline:
    """Logistic regression on all features: median-impute (with missing flags), log-scale, one-hot."""
    numeric_steps = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(_signed_log1p),
        StandardScaler(),
    )
    categorical_steps = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=20),
    )
    columns = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        sparse_threshold=0.0,
    )
    return Pipeline(
        [
            ("columns", columns),
            (
                "model",
                LogisticRegression(
                    C=1.0, solver=CONVEX_SOLVER, max_iter=2000, tol=CONVEX_TOL, random_state=seed
                ),
            ),
        ]
    )


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    """log(1 + |x|) with x's sign: tames heavy-tailed counts and spend for a linear model."""
    return np.sign(x) * np.log1p(np.abs(x))


class HurdleSpend(RegressorMixin, _Booster):
    """Future spend as P(any spend) x E[spend | spend > 0]: two LightGBM boosters.

    The first classifies whether the customer spends at all in the horizon; the second models
    the spend of those who do, with a gamma loss (``severity="gamma"``) or as a normal on log
    spend (``"lognormal"``, mean ``exp(mu + s^2 / 2)`` with s^2 the training residual variance).
    Evaluated beside the Tweedie boosters for comparison; not served (two boosters, no single
    set of reasons).
    """

    def __init__(
        self,
        lightgbm: LightGBMParams | None = None,
        random_state: int = 42,
        verbose: int = 0,
        severity: str = "gamma",
    ) -> None:
        super().__init__(lightgbm, random_state, verbose)
        self.severity = severity

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        eval_set: tuple[np.ndarray, np.ndarray],
        feature_names: list[str] | None = None,
        categorical: list[int] | None = None,
    ) -> HurdleSpend:
        if self.severity not in ("gamma", "lognormal"):
            raise ValueError(f"severity must be 'gamma' or 'lognormal', got {self.severity!r}")
        y = np.asarray(y, dtype=np.float64)
        if (y < 0).any() or not np.isfinite(y).all():
            raise ValueError("future spend must be finite and non-negative")
        X_valid, y_valid = eval_set[0], np.asarray(eval_set[1], dtype=np.float64)
        buys, buys_valid = y > 0, y_valid > 0
        if buys.all() or not buys.any() or not buys_valid.any():
            raise ValueError("a hurdle model needs spenders and non-spenders in training")
        self.buys_ = self._train(
            {"objective": "binary", "metric": "binary_logloss"},
            X,
            buys.astype(float),
            (X_valid, buys_valid.astype(float)),
            feature_names,
            categorical,
        )
        if self.severity == "gamma":
            objective = {"objective": "gamma", "metric": "gamma"}
            target, target_valid = y[buys], y_valid[buys_valid]
        else:
            objective = {"objective": "regression", "metric": "l2"}
            target, target_valid = np.log(y[buys]), np.log(y_valid[buys_valid])
        self.spend_ = self._train(
            objective,
            X[buys],
            target,
            (X_valid[buys_valid], target_valid),
            feature_names,
            categorical,
        )
        self.log_variance_ = 0.0
        if self.severity == "lognormal":
            residual = target - np.asarray(self.spend_.predict(X[buys]))
            self.log_variance_ = float(residual.var())
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "spend_")
        p = np.asarray(self.buys_.predict(X), dtype=np.float64)
        spend = np.asarray(self.spend_.predict(X), dtype=np.float64)
        if self.severity == "lognormal":
            spend = np.exp(spend + self.log_variance_ / 2)
        return p * spend
