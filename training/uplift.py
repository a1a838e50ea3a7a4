"""Uplift learners on LightGBM: the effect of a retention offer on each customer's outcome.

All four estimate ``tau(x) = E[y | x, treated] - E[y | x, control]`` from a randomized campaign
(``treatment`` 1/0). Fed ``y = 1 - churn`` they predict the *reduction* in churn probability the
offer brings (positive: the offer helps; negative: a "sleeping dog" it drives away); fed future
value, the value it adds over the horizon.

* ``TLearner``: one outcome model per arm; the effect is their difference. Simple, but each model
  spends its capacity on the outcome, not on the (smaller) difference.
* ``XLearner`` (Kunzel et al. 2019): the arms' outcome models impute each customer's individual
  effect from the other arm's model; two regressors learn those imputed effects and are averaged
  with the propensity as weight.
* ``DRLearner`` (Kennedy 2020): a doubly robust pseudo-outcome from cross-fitted outcome models,
  regressed on the features by one final model.
* ``TransformedOutcomeLearner`` (Athey and Imbens 2015): the class-transformation family. In a
  randomized test ``z = (y - m(x)) (t - e) / (e (1 - e))`` has expectation ``tau(x)`` for any
  ``m`` that ignores the arm, so one regressor of ``z`` learns the effect directly; ``m`` is a
  cross-fitted outcome model of both arms, which removes the outcome's own variation from ``z``
  and suits small effects on large tests.

The X-, DR- and transformed-outcome learners predict with final regressors only:
``final_stage_`` lists ``(weight, booster)`` pairs whose weighted sum of raw predictions is the
effect, the form the registry stores and serving evaluates (``model.uplift_bundle``). They
follow scikit-learn's estimator contract, except that ``fit`` takes the treatment beside ``y``.
"""

from __future__ import annotations

from typing import Any, Literal

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold

from core.config import UpliftLightGBMParams
from core.names import DR_LEARNER, T_LEARNER, TRANSFORMED_OUTCOME, X_LEARNER
from model.encoding import model_safe_names

Outcome = Literal["binary", "continuous"]


class _UpliftLearner(BaseEstimator):
    """Shared hyperparameters: LightGBM settings (``UpliftLightGBMParams``, small enough for a
    few thousand campaign rows), the columns, and the run's seed."""

    def __init__(
        self,
        outcome: Outcome = "binary",
        *,
        lightgbm: UpliftLightGBMParams | None = None,
        categorical_features: tuple[int, ...] = (),
        feature_names: tuple[str, ...] = (),
        random_state: int = 42,
    ) -> None:
        self.outcome = outcome
        self.lightgbm = lightgbm
        self.categorical_features = categorical_features
        self.feature_names = feature_names
        self.random_state = random_state

    @property
    def settings(self) -> UpliftLightGBMParams:
        """The learner's LightGBM settings: the given ones or the defaults."""
        return self.lightgbm if self.lightgbm is not None else UpliftLightGBMParams()

    def _params(self) -> dict[str, Any]:
        return self.settings.lightgbm_kwargs(self.random_state)

    def _fit_args(self) -> dict[str, Any]:
        return {
            "categorical_feature": list(self.categorical_features) or "auto",
            "feature_name": list(model_safe_names(self.feature_names)) or "auto",
        }

    def _fit_outcome(self, X: np.ndarray, y: np.ndarray) -> lgb.LGBMModel:
        """A model of ``E[y | x]`` on one arm's rows: a classifier for binary outcomes."""
        model: lgb.LGBMModel
        if self.outcome == "binary":
            model = lgb.LGBMClassifier(**self._params())
        else:
            model = lgb.LGBMRegressor(objective="tweedie", **self._params())
        return model.fit(X, y, **self._fit_args())

    def _fit_effect(self, X: np.ndarray, target: np.ndarray) -> lgb.LGBMRegressor:
        """A least-squares regressor of an (imputed or pseudo) individual effect."""
        model = lgb.LGBMRegressor(objective="regression", **self._params())
        return model.fit(X, target, **self._fit_args())

    def _predict_outcome(self, model: lgb.LGBMModel, X: np.ndarray) -> np.ndarray:
        """Probability (binary) or expected outcome, from the booster (no sklearn name check)."""
        return np.asarray(model.booster_.predict(X), dtype=np.float64)

    def _checked(
        self, X: np.ndarray, y: np.ndarray, treatment: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        t = np.asarray(treatment).astype(np.int64)
        if not (len(X) == len(y) == len(t)):
            raise ValueError(f"X, y and treatment differ in length: {len(X)}, {len(y)}, {len(t)}")
        if not np.isin(t, (0, 1)).all():
            raise ValueError("treatment must be 1 (treated) or 0 (control)")
        leaf = self.settings.min_child_samples
        for arm in (0, 1):
            if (t == arm).sum() < 2 * leaf:
                raise ValueError(
                    f"the {'treatment' if arm else 'control'} arm has {(t == arm).sum()} rows; "
                    f"an uplift learner needs at least {2 * leaf}"
                )
        if self.outcome == "binary" and not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("a binary outcome must be 0 or 1")
        return X, y, t

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The estimated effect of treating each row (treated minus control outcome)."""
        X = np.asarray(X, dtype=np.float64)
        parts = [w * np.asarray(b.predict(X), dtype=np.float64) for w, b in self.final_stage_]
        return np.sum(parts, axis=0)

    final_stage_: list[tuple[float, lgb.Booster]]


class TLearner(_UpliftLearner):
    """Two outcome models, one per arm; effect = treated prediction - control prediction."""

    def fit(self, X: np.ndarray, y: np.ndarray, treatment: np.ndarray) -> TLearner:
        X, y, t = self._checked(X, y, treatment)
        self.control_model_ = self._fit_outcome(X[t == 0], y[t == 0])
        self.treated_model_ = self._fit_outcome(X[t == 1], y[t == 1])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        treated = self._predict_outcome(self.treated_model_, X)
        return treated - self._predict_outcome(self.control_model_, X)


class XLearner(_UpliftLearner):
    """Imputed individual effects learned per arm and blended by the propensity."""

    def fit(self, X: np.ndarray, y: np.ndarray, treatment: np.ndarray) -> XLearner:
        X, y, t = self._checked(X, y, treatment)
        self.propensity_ = float(t.mean())
        mu0 = self._fit_outcome(X[t == 0], y[t == 0])
        mu1 = self._fit_outcome(X[t == 1], y[t == 1])
        imputed_treated = y[t == 1] - self._predict_outcome(mu0, X[t == 1])
        imputed_control = self._predict_outcome(mu1, X[t == 0]) - y[t == 0]
        tau1 = self._fit_effect(X[t == 1], imputed_treated)
        tau0 = self._fit_effect(X[t == 0], imputed_control)
        e = self.propensity_
        # Kunzel's blend g * tau0 + (1 - g) * tau1 with g the (constant) propensity
        self.final_stage_ = [(e, tau0.booster_), (1.0 - e, tau1.booster_)]
        return self


class DRLearner(_UpliftLearner):
    """A doubly robust pseudo-outcome from 2-fold cross-fitted outcome models, regressed once."""

    def fit(self, X: np.ndarray, y: np.ndarray, treatment: np.ndarray) -> DRLearner:
        X, y, t = self._checked(X, y, treatment)
        e = float(t.mean())
        self.propensity_ = e
        mu0, mu1 = np.empty(len(y)), np.empty(len(y))
        folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=self.random_state)
        for fit_rows, out_rows in folds.split(X, t):
            tf = t[fit_rows]
            m0 = self._fit_outcome(X[fit_rows][tf == 0], y[fit_rows][tf == 0])
            m1 = self._fit_outcome(X[fit_rows][tf == 1], y[fit_rows][tf == 1])
            mu0[out_rows] = self._predict_outcome(m0, X[out_rows])
            mu1[out_rows] = self._predict_outcome(m1, X[out_rows])
        pseudo = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
        self.final_stage_ = [(1.0, self._fit_effect(X, pseudo).booster_)]
        return self


class TransformedOutcomeLearner(_UpliftLearner):
    """One regressor of the transformed outcome, whose expectation is the effect itself."""

    def fit(self, X: np.ndarray, y: np.ndarray, treatment: np.ndarray) -> TransformedOutcomeLearner:
        X, y, t = self._checked(X, y, treatment)
        e = float(t.mean())
        self.propensity_ = e
        baseline = np.empty(len(y))  # m(x): both arms pooled, each row predicted out of fold
        folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=self.random_state)
        for fit_rows, out_rows in folds.split(X, t):
            pooled = self._fit_outcome(X[fit_rows], y[fit_rows])
            baseline[out_rows] = self._predict_outcome(pooled, X[out_rows])
        transformed = (y - baseline) * (t - e) / (e * (1.0 - e))
        self.final_stage_ = [(1.0, self._fit_effect(X, transformed).booster_)]
        return self


LEARNERS: dict[str, type[_UpliftLearner]] = {
    T_LEARNER: TLearner,
    X_LEARNER: XLearner,
    DR_LEARNER: DRLearner,
    TRANSFORMED_OUTCOME: TransformedOutcomeLearner,
}
"""Every uplift learner by the name configs, metrics and the registry use."""
SERVABLE = (X_LEARNER, DR_LEARNER, TRANSFORMED_OUTCOME)
"""Learners whose effect is a weighted sum of final regressors, the form the registry stores."""
