"""The experiment config: one frozen, typed object per ``retain train`` run, loaded from YAML.

Unknown or misspelt keys are rejected with their path and the valid keys at that level, so a typo
never silently falls back to a default. Relative data paths are relative to the YAML file.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.economics import Economics
from core.engines import LABELLED_ON_DASK, DaskConfig, Engine
from core.families import FAMILIES
from core.monitoring import MonitoringConfig
from core.risk_tiers import RiskTiers
from core.sources import DataConfig

ChurnMetric = Literal["roc_auc", "pr_auc", "brier", "log_loss", "lift_10", "capture_10", "empc"]
ServableChurn = Literal["lightgbm", "logistic"]
"""The churn models that can be served (they explain each score)."""
SERVABLE_CHURN: tuple[ServableChurn, ...] = ("logistic", "lightgbm")
"""In the default order of preference on a validation tie (``promotion.selection_se``): simplest
first."""
ClvMetric = Literal["gini", "spearman", "mae", "rmse", "decile_mape", "top_decile_share"]
ServableClv = Literal["lightgbm", "lightgbm_btyd"]
"""The CLV models that can be served: ``lightgbm_btyd`` learns a correction to the BTYD value."""
SERVABLE_CLV: tuple[ServableClv, ...] = ("lightgbm_btyd", "lightgbm")
"""In the default order of preference on a validation tie: the correction to the classic model
first (with no trees it is BG/NBD x Gamma-Gamma itself)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SplitConfig(_Frozen):
    """Which cutoffs to build and how they are split out of time."""

    cutoffs: list[dt.date] | None = Field(
        None, description="Explicit cutoffs; default month ends over the data (see below)."
    )
    every_months: int = Field(1, ge=1, description="Spacing of the default month-end cutoffs.")
    min_history_days: int = Field(90, ge=0, description="History before the first default cutoff.")
    max_train_cutoffs: int | None = Field(
        12, ge=1, description="Train on at most this many of the latest eligible cutoffs."
    )
    test_share: float = Field(
        0.2,
        gt=0,
        lt=0.5,
        description="A labelled table with one as_of day: the share of customers held out "
        "for the test (stratified by churn); the same share of the rest validates.",
    )
    cv_folds: int = Field(
        5,
        ge=0,
        description="A labelled table with one as_of day: cross-validation folds on the "
        "non-test rows, reported beside the test metrics; 0 skips it.",
    )
    round_origins: int = Field(
        0,
        ge=0,
        description="Out of time: a booster refit on the training and validation rows takes "
        "the median early-stopped rounds over the validation cutoff and up to this many "
        "replayed past origins (each of the latest cutoffs the run may see as a test cutoff, "
        "split as the real run is); with no usable past origin, the validation cutoff's "
        "rounds, and the model card says so. 0 (the default: 3 origins changed no served "
        "score measurably on the demo or the monthly CRM export, and cost 7-33% more "
        "training time): the validation cutoff's rounds.",
    )


class LightGBMTrees(_Frozen):
    """The settings of one LightGBM booster; ``lightgbm_kwargs`` hands them to every estimator."""

    force_row_wise: ClassVar[bool] = True
    """Build histograms row-wise, not by LightGBM's timing test, so the choice never varies."""

    n_estimators: int = Field(
        2000, ge=1, description="Upper bound; early stopping picks the number."
    )
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    max_depth: int = Field(
        4, ge=-1, description="Shallow trees keep TreeSHAP reasons fast; -1: no limit."
    )
    min_child_samples: int = Field(50, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    n_jobs: int = Field(2, ge=1, description="Threads; fixed so runs are reproducible.")

    def lightgbm_kwargs(self, seed: int) -> dict[str, Any]:
        """Keyword arguments of ``lgb.LGBMClassifier``/``LGBMRegressor`` (``lgb.train`` reads
        each as an alias, ``n_estimators`` as its rounds) with the settings that make a fit
        reproducible: the run's seed, fixed threads, deterministic histograms."""
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "random_state": seed,
            "n_jobs": self.n_jobs,
            "deterministic": True,
            **({"force_row_wise": True} if self.force_row_wise else {}),
            "verbose": -1,
        }


class LightGBMParams(LightGBMTrees):
    """The churn and CLV boosters' settings: trees early-stopped on the validation cutoff."""

    early_stopping_rounds: int = Field(100, ge=1)
    cat_smooth: float = Field(
        10.0,
        ge=0,
        description="Categorical splits: shrinks each level's churn or spend toward the "
        "whole's, so a level of few rows cannot pull a split alone (LightGBM's default; "
        "searched by tuning when a column has many levels).",
    )
    min_data_per_group: int = Field(
        100,
        ge=1,
        description="Categorical splits: rows each side's group of levels must hold "
        "(LightGBM's default; searched by tuning when a column has many levels).",
    )
    max_cat_threshold: int = Field(
        32, ge=1, description="Categorical splits: most levels one side of a split may take."
    )
    cat_l2: float = Field(10.0, ge=0, description="Categorical splits: their L2 penalty.")

    def lightgbm_kwargs(self, seed: int) -> dict[str, Any]:
        """The trees' arguments and the smoothing of LightGBM's native categorical splits."""
        return {
            **super().lightgbm_kwargs(seed),
            "cat_smooth": self.cat_smooth,
            "min_data_per_group": self.min_data_per_group,
            "max_cat_threshold": self.max_cat_threshold,
            "cat_l2": self.cat_l2,
        }


class ChurnLightGBMParams(LightGBMParams):
    """The churn booster's settings: depth-3 trees, whose TreeSHAP reasons come from small tables.

    On the demo data they score the same ROC-AUC as depth 4 with 15 leaves (0.888) and explain
    1,000 customers in about 11 ms instead of 100 ms.
    """

    learning_rate: float = Field(0.1, gt=0, le=1)
    num_leaves: int = Field(7, ge=2)
    max_depth: int = Field(
        3, ge=-1, description="Trees up to 8 splits get table-driven TreeSHAP; -1: no limit."
    )


class UpliftLightGBMParams(LightGBMTrees):
    """The uplift learners' settings: every tree (no early stop) on a few thousand campaign rows,
    no L2 penalty, and LightGBM's own choice of histogram layout."""

    force_row_wise: ClassVar[bool] = False

    n_estimators: int = Field(100, ge=1, description="Trees per LightGBM model (no early stop).")
    learning_rate: float = Field(0.03, gt=0, le=1)
    num_leaves: int = Field(7, ge=2)
    max_depth: int = Field(3, ge=-1)
    min_child_samples: int = Field(
        80, ge=1, description="Large leaves: effects are small next to the outcome's noise."
    )
    reg_lambda: float = Field(0.0, ge=0)
    n_jobs: int = Field(1, ge=1, description="Threads; fixed so runs are reproducible.")


ChurnCalibrationMethod = Literal["auto", "standard", "none", "intercept", "platt"]


class ChurnCalibrationConfig(_Frozen):
    """How churn probabilities are calibrated: a line on the booster's log-odds fitted on the
    validation cutoff (``training.calibrators``), chosen by replaying past origins when ``auto``
    (``training.calibration_choice``). The limits of the test-cutoff warning are the top-level
    ``calibration`` section."""

    method: ChurnCalibrationMethod = Field(
        "auto",
        description="auto: the calibrator with the smallest mean |bias| over `backtests` past "
        "origins, then fitted on the validation cutoff; standard: Platt scaling on the "
        "validation cutoff (the behaviour before auto, kept for comparison); none: only undo "
        "class balancing with the training churn share; intercept: shift the log-odds so the "
        "mean matches the validation churn rate; platt: slope and intercept on validation.",
    )
    backtests: int = Field(
        3,
        ge=1,
        description="auto: past origins replayed (the latest cutoffs the run may see, each as a "
        "test cutoff with its own validation and training cutoffs).",
    )
    min_backtests: int = Field(
        2,
        ge=1,
        description="auto: with fewer usable origins, fall back to standard (the training "
        "output says so).",
    )

    @model_validator(mode="after")
    def _enough_backtests(self) -> ChurnCalibrationConfig:
        if self.min_backtests > self.backtests:
            raise ValueError(
                f"min_backtests ({self.min_backtests}) must not exceed backtests "
                f"({self.backtests}): auto could never choose"
            )
        return self


class ChurnConfig(_Frozen):
    """The churn classifier: LightGBM with class balancing and a calibration on the log-odds."""

    lightgbm: ChurnLightGBMParams = ChurnLightGBMParams()
    balance_classes: bool = Field(True, description="Weight classes equally while boosting.")
    calibration: ChurnCalibrationConfig = Field(
        ChurnCalibrationConfig(),
        description="How probabilities are calibrated on the validation cutoff: the most recent "
        "cutoff whose horizon has ended by the test cutoff (the freshest matured labels).",
    )
    monotone_increasing: list[str] = Field(
        default_factory=lambda: ["days_since_last_purchase"],
        description="Features that may only raise churn risk as they grow (ignored if absent).",
    )
    compete: list[ServableChurn] = Field(
        default_factory=lambda: list(SERVABLE_CHURN),
        min_length=1,
        description="Servable churn models that compete on the validation cutoff, in order of "
        "preference: the best by promotion.churn_metric becomes the challenger, unless one listed "
        "before it is within promotion.selection_se standard errors of it (a tie: the earlier "
        "wins). Every candidate is still evaluated.",
    )
    high_cardinality: Literal["auto", "native", "target"] = Field(
        "auto",
        description="How the LightGBM churn model reads a categorical column of more than 12 "
        "levels: native (LightGBM's categorical splits, their smoothing searched by tuning), "
        "target (each level's out-of-fold churn rate on the training rows, smoothed toward the "
        "overall rate, carried in the served model), or auto (both fitted, the better on "
        "validation by promotion.churn_metric kept; the card says which).",
    )
    refit: Literal["in_time", "always", "never"] = Field(
        "in_time",
        description="When to fit the chosen churn model again on the training and validation "
        "rows together (a booster with the rounds early-stopped on validation, or k-fold tuned "
        "on an in-time split), keeping the calibration fitted on validation; the test rows stay "
        "untouched and score it, and the candidates still compete on the first fit's validation "
        "scores. in_time (default): only when the validation rows are a random part of one "
        "export; out of time the validation cutoff is the latest season, which the calibration "
        "was fitted on and a refit would absorb twice (on CDNOW the served logistic's test bias "
        "went from +2.4 to +9.8 points, with no ROC-AUC gain on the demo or the monthly CRM "
        "export). always, never: regardless of the split.",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_calibrate_key(cls, raw: Any) -> Any:
        """The former ``calibrate: bool``: true is ``calibration.method: standard``, false is
        ``none`` (only the class-balancing correction); giving both is an error."""
        if not isinstance(raw, dict) or "calibrate" not in raw:
            return raw
        old = raw["calibrate"]
        if not isinstance(old, bool):
            raise ValueError(f"calibrate must be true or false, got {old!r}")
        if "calibration" in raw:
            raise ValueError("give calibration.method, not both it and the former calibrate key")
        rest = {k: v for k, v in raw.items() if k != "calibrate"}
        return {**rest, "calibration": {"method": "standard" if old else "none"}}


class ClvConfig(_Frozen):
    """The future-value regressor: LightGBM with a Tweedie loss for zero-heavy, skewed spend."""

    lightgbm: LightGBMParams = LightGBMParams()
    tweedie_variance_power: float = Field(
        1.3,
        gt=1.0,
        lt=2.0,
        description="Tweedie power between Poisson (1) and gamma (2): the mass at zero spend.",
    )
    compete: list[ServableClv] = Field(
        default_factory=lambda: list(SERVABLE_CLV),
        min_length=1,
        description="Servable CLV models that compete on the validation cutoff, in order of "
        "preference: the best by promotion.clv_metric becomes the challenger, unless one listed "
        "before it is within promotion.selection_se standard errors of it. lightgbm_btyd (a "
        "Tweedie booster started from log of btyd_expected_value, learning a correction to it) "
        "needs the BTYD features "
        "(btyd_features with the btyd family). Every candidate is still evaluated.",
    )
    compare: list[Literal["hurdle_gamma", "hurdle_lognormal"]] = Field(
        default_factory=list,
        description="Hurdle models evaluated beside the others for comparison (P(any spend) x "
        "E[spend | spend], gamma or log-normal spend); never served, never the baseline.",
    )
    btyd_floor: float = Field(
        1.0,
        gt=0,
        description="lightgbm_btyd: BTYD expected values below this (currency units) are raised "
        "to it before the log, so a near-dead customer's start is not minus infinity.",
    )
    btyd_recalibrate: bool = Field(
        True,
        description="lightgbm_btyd without refit: scale its predictions so their total matches "
        "the actual total on the validation cutoff, kept only when that lowers the validation "
        "MAE (the BTYD value can be biased differently at each cutoff). Never looks at the test "
        "cutoff.",
    )
    refit: bool = Field(
        True,
        description="Fit each servable CLV booster again on the training and validation rows "
        "together, with the number of rounds early-stopped on validation, so the served model "
        "has learnt the latest labelled cutoff too (spend drifts with the customers' age and "
        "the season). The candidates still compete on the first fit's validation scores.",
    )


class EmpcConfig(_Frozen):
    """EMPC parameters (Verbraken et al. 2013 defaults); its costs are ``economics.offer_cost``
    and ``economics.contact_cost``.

    The former keys ``empc.incentive`` and ``empc.contact_cost`` are still read: each moves to its
    ``economics`` key with a deprecation warning, and giving one cost differently in both places
    is an error.
    """

    clv: float = Field(
        200.0, gt=0, description="Value of a retained customer; economics.offer_cost must be below."
    )
    alpha: float = Field(6.0, gt=0, description="Beta(alpha, beta) acceptance of the offer.")
    beta: float = Field(14.0, gt=0, description="Beta(alpha, beta) acceptance of the offer.")


EMPC_COSTS = {"incentive": "offer_cost", "contact_cost": "contact_cost"}
"""The former ``empc`` cost keys and the ``economics`` keys that hold those costs now."""


def move_empc_costs(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with the former empc cost keys moved to ``economics``, so each cost has one home.

    Each moved key warns (FutureWarning); a cost given differently in both places is a
    ValueError naming both keys.
    """
    empc, economics = raw.get("empc"), raw.get("economics")
    if not isinstance(empc, dict) or not set(EMPC_COSTS) & set(empc):
        return raw
    if isinstance(economics, BaseModel):
        economics = economics.model_dump()
    if economics is not None and not isinstance(economics, dict):
        return raw  # validation names the bad economics section
    merged = dict(economics or {})
    for old, new in EMPC_COSTS.items():
        if old not in empc:
            continue
        if new in merged and merged[new] != empc[old]:
            raise ValueError(
                f"empc.{old} ({empc[old]!r}) and economics.{new} ({merged[new]!r}) give one "
                f"cost twice: keep economics.{new} and remove empc.{old}"
            )
        merged[new] = empc[old]
        warnings.warn(
            f"empc.{old} is deprecated: the cost is economics.{new} (one cost for EMPC, "
            "campaigns and value at risk); move it there",
            FutureWarning,
            stacklevel=2,
        )
    rest = {k: v for k, v in empc.items() if k not in EMPC_COSTS}
    return {**raw, "empc": rest, "economics": merged}


class PromotionConfig(_Frozen):
    """How a new model must compare with the champion, on the same test customers, to replace it.

    It must be significantly better (a paired bootstrap interval of the gain wholly above zero)
    or better by more than ``min_improvement``; churn and CLV move together unless ``separately``.
    """

    churn_metric: ChurnMetric = Field(
        "roc_auc", description="The churn metric that chooses the challenger and gates it."
    )
    clv_metric: ClvMetric = Field(
        "gini", description="The CLV metric that chooses the challenger and gates it."
    )
    selection_se: float = Field(
        1.0,
        ge=0,
        description="The servable candidates compete on the validation cutoff: the best wins "
        "unless a model listed before it in churn.compete / clv.compete scores within this many "
        "paired-bootstrap standard errors of it; then the earlier (simpler) one wins the tie, "
        "the one-standard-error rule. 0 takes the best outright.",
    )
    min_improvement: float = Field(
        0.0,
        ge=0,
        description="A gain above this (metric units) promotes even when not significant; "
        "0 turns that path off, so only significant gains promote.",
    )
    confidence_level: float = Field(
        0.95, gt=0, lt=1, description="Level of the paired bootstrap interval of the gain."
    )
    bootstrap_replicates: int = Field(
        1000, ge=100, description="Resamples of the test customers (seeded by `seed`)."
    )
    separately: bool = Field(
        False,
        description="Promote churn and CLV each on its own verdict; by default they move only "
        "together, so the served pair always comes from one run (one feature set).",
    )


REGISTRY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
"""A registered model name MLflow and BentoML both accept (a BentoML tag: at most 63 characters,
letters, digits, '-', '_' and '.', a letter or digit at both ends; MLflow refuses '/' and ':')."""


class RegistryConfig(_Frozen):
    """Registered model names; give each business its own pair. A name is 1 to 63 letters, digits,
    '-', '_' or '.', starting and ending with a letter or digit (what MLflow and BentoML accept)."""

    churn: str = Field("churn", description="The churn model's registered name.")
    clv: str = Field("clv", description="The CLV model's registered name.")
    uplift: str = Field(
        "uplift", description="The uplift model, registered when the data has past campaigns."
    )

    @field_validator("churn", "clv", "uplift")
    @classmethod
    def _registrable(cls, name: str) -> str:
        if REGISTRY_NAME.fullmatch(name) is None:
            raise ValueError(
                "not a registered model name MLflow and BentoML both accept: give 1 to 63 "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit "
                "(e.g. my-shop-churn)"
            )
        return name


UpliftLearnerName = Literal["x_learner", "dr_learner", "transformed_outcome"]


class UpliftConfig(_Frozen):
    """Uplift models of the offer's effect, fitted when the data carries past campaigns.

    Rows are the customers of every past campaign whose horizon has ended (features the day
    before contact, outcomes after it), split at random within campaign and arm; every learner
    and the simpler policies are compared on the held-out part (``training.uplift_eval``).
    """

    learner: UpliftLearnerName = Field(
        "x_learner",
        description="The learner behind the expected-incremental-profit policy, registered when "
        "that policy wins on validation (a winning X- or DR-learner is registered itself); every "
        "learner and policy competes, and the held-out part only measures the winner.",
    )
    test_share: float = Field(
        0.3, gt=0, lt=0.5, description="Share of campaign customers held out for evaluation."
    )
    split_seed: int = Field(
        0,
        description="Seed of the held-out split, apart from `seed`: a retrain on another seed "
        "is gated on the same held-out customers, none of which the champion trained on.",
    )
    budget_share: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Policies are compared at this share of held-out customers contacted "
        "(equal budget).",
    )
    validation_folds: int = Field(
        3,
        ge=2,
        le=10,
        description="Folds of the training part the policies are scored out of fold on, to "
        "choose among them: every training customer validates (a slice would leave the "
        "choice to noise on a few thousand campaign customers).",
    )
    choose_by: Literal["profit", "qini"] = Field(
        "profit",
        description="What the targeting policies compete on (validation, one-standard-error "
        "rule) and what a first uplift version must beat random order on (held-out paired "
        "interval above 0): `profit`, the incremental profit at `budget_share`, the campaign's "
        "objective; `qini`, the Qini coefficient of the churn outcome.",
    )
    lightgbm: UpliftLightGBMParams = UpliftLightGBMParams()


class LeakageConfig(_Frozen):
    """The leakage guard run on the training rows before any fit (see ``training.leakage``)."""

    allow_features: list[str] = Field(
        default_factory=list,
        description="Features (e.g. attr_status) the guard lets through: legitimate, not leaks.",
    )
    max_auc: float = Field(
        0.98,
        gt=0.5,
        le=1,
        description="Stop when one feature alone reaches this churn ROC-AUC (or 1 minus it).",
    )
    min_level_rows: int = Field(
        20, ge=1, description="Levels with fewer training rows are pooled before being scored."
    )
    warn_auc: float = Field(
        0.9,
        gt=0.5,
        le=1,
        description="Warn (without stopping) when one feature alone reaches this ROC-AUC.",
    )
    max_carry: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Stop when one column (or a pair's ratio or product) lets a cross-validated "
        "model close this share of the ROC-AUC gap to 1 left by the other columns together: "
        "a partial or combination leak.",
    )
    min_drop: float = Field(
        0.03,
        ge=0,
        le=1,
        description="...and the model loses at least this ROC-AUC without it.",
    )
    probe_features: int = Field(
        5,
        ge=0,
        description="How many top features (by gain) the cross-validated check drops one by "
        "one; 0 turns it off.",
    )
    probe_rows: int = Field(
        4000,
        ge=100,
        description="The cross-validated check runs on a seeded sample of this many training rows.",
    )


class CalibrationConfig(_Frozen):
    """How far a model may be off on average on the test cutoff before training warns.

    A model calibrated in one season and applied in another can rank well and still be off on
    average (a June calibration applied before Christmas); these limits make that visible in the
    training output, the model card and the report.
    """

    max_churn_bias: float = Field(
        0.03,
        gt=0,
        lt=1,
        description="Warn when a churn model's mean predicted probability differs from the "
        "observed churn rate by more than this (0.03: three points).",
    )
    max_clv_bias: float = Field(
        0.15,
        gt=0,
        description="Warn when a CLV model's mean prediction is off the mean actual future value "
        "by more than this share (0.15: 15%).",
    )


TunedTask = Literal["churn", "clv"]
TUNED_TASKS: tuple[TunedTask, ...] = ("churn", "clv")


class TuningConfig(_Frozen):
    """A budgeted, seeded search of the LightGBM hyperparameters on time-series folds.

    Each fold trains on the training cutoffs whose horizon ends by a later training cutoff (the
    fold's origin) and is scored, and early-stopped, there; the validation and test cutoffs are
    never seen. The best trial's parameters replace the configured ones (``training.tuning``).
    """

    enabled: bool = Field(
        True, description="Search the LightGBM parameters before fitting; false: use them as set."
    )
    tasks: list[TunedTask] = Field(
        default_factory=lambda: list(TUNED_TASKS),
        description="The tasks whose LightGBM model is tuned (clv only when the data has values).",
    )
    trials: int = Field(
        4,
        ge=1,
        description="Trials per task, the first being the configured parameters: the budget "
        "(each trial fits one model per fold).",
    )
    folds: int = Field(
        1,
        ge=1,
        description="Time-series folds: the latest training cutoffs, each an origin scored by a "
        "model trained on the cutoffs whose horizon ends by it.",
    )
    startup_trials: int = Field(
        2,
        ge=1,
        description="Trials (the configured one included) drawn at random before the TPE "
        "sampler models the results.",
    )
    train_cutoffs: int | None = Field(
        6,
        ge=1,
        description="Each fold trains on at most this many of its latest eligible cutoffs, so "
        "that trials cost a fraction of the final fit; null: every eligible cutoff.",
    )
    stratified_folds: int = Field(
        5,
        ge=2,
        description="An in-time split (one as_of day): the search runs on this many stratified "
        "folds of the non-test rows, and the refit on all of them takes the best trial's mean "
        "early-stopped rounds.",
    )
    early_stopping_rounds: int = Field(
        20,
        ge=1,
        description="Early-stopping patience of the trials' fits, shorter than the final fit's "
        "(lightgbm.early_stopping_rounds) so that each trial costs less.",
    )
    n_jobs: int = Field(
        1,
        ge=1,
        description="Threads of each trial's fit: the folds are small, and one thread does not "
        "stall waiting for a busy core as two do on a shared machine.",
    )


class ExperimentConfig(_Frozen):
    """Everything one training run needs; see experiments/README.md for a guide."""

    name: str = Field(description="MLflow experiment name.")
    description: str = Field("", description="Free text about the experiment, for its readers.")
    data: DataConfig = Field(description="Input tables and how their columns map to the contract.")
    business: Literal["auto", "noncontractual", "contractual"] = Field(
        "auto", description="auto: contractual when a subscriptions table is given."
    )
    horizon_days: int = Field(90, ge=1, description="Churn and future value look this far ahead.")
    active_days: int = Field(
        365, ge=1, description="Non-contractual: label customers who bought in this many days."
    )
    families: list[str] | None = Field(None, description="Feature families; default all available.")
    btyd_features: bool = Field(
        True,
        description="With the btyd family: fit BG/NBD and Gamma-Gamma on every customer at each "
        "cutoff (data up to it only) and give the models btyd_p_alive, btyd_expected_purchases, "
        "btyd_expected_spend and btyd_expected_value; the served model carries the test "
        "cutoff's fit. false: the summary columns only.",
    )
    new_customer_days: int = Field(180, ge=1, description="Customers younger than this are 'new'.")
    split: SplitConfig = Field(SplitConfig(), description="Cutoffs and the out-of-time split.")
    churn: ChurnConfig = Field(ChurnConfig(), description="The churn classifier.")
    clv: ClvConfig = Field(ClvConfig(), description="The future-value regressor.")
    empc: EmpcConfig = Field(
        EmpcConfig(), description="The EMPC metric's value and acceptance; costs: economics."
    )
    economics: Economics = Field(
        Economics(),
        description="Currency, gross margin and offer costs (value at risk, campaigns).",
    )
    risk_tiers: RiskTiers = Field(
        RiskTiers(),
        description="Churn-probability thresholds of the high and medium risk tiers (scores, "
        "service, campaigns, report).",
    )
    promotion: PromotionConfig = Field(PromotionConfig(), description="The registry gate.")
    registry: RegistryConfig = Field(RegistryConfig(), description="Registered model names.")
    uplift: UpliftConfig = Field(
        UpliftConfig(), description="Uplift models, when data.treatments lists past campaigns."
    )
    leakage: LeakageConfig = Field(LeakageConfig(), description="The label-leakage guard.")
    calibration: CalibrationConfig = Field(
        CalibrationConfig(), description="Limits of the calibration warning on the test cutoff."
    )
    monitoring: MonitoringConfig = Field(
        MonitoringConfig(), description="Drift thresholds and score history (`retain monitor`)."
    )
    tuning: TuningConfig = Field(
        TuningConfig(), description="The hyperparameter search of the LightGBM models."
    )
    seed: int = Field(42, description="Seed for every random step; same seed, same models.")
    engine: Engine = Field(
        "pandas",
        description="Where features are built: pandas (this process) or dask (partitioned "
        "Parquet inputs, per customer partition on a Dask cluster; same features and labels).",
    )
    dask: DaskConfig = Field(
        DaskConfig(), description="The dask engine's cluster, partitions and work folder."
    )

    @model_validator(mode="after")
    def _labelled_on_pandas(self) -> ExperimentConfig:
        if self.engine == "dask" and self.data.labelled:
            raise ValueError(LABELLED_ON_DASK)
        return self

    @model_validator(mode="before")
    @classmethod
    def _costs_in_economics(cls, raw: Any) -> Any:
        return move_empc_costs(raw) if isinstance(raw, dict) else raw

    @model_validator(mode="after")
    def _known_families(self) -> ExperimentConfig:
        check_families(self.families)
        return self

    @model_validator(mode="after")
    def _offer_below_empc_clv(self) -> ExperimentConfig:
        if self.economics.offer_cost >= self.empc.clv:
            raise ValueError(
                f"economics.offer_cost ({self.economics.offer_cost}) must be below empc.clv "
                f"({self.empc.clv}): EMPC assumes an offer worth less than the customer"
            )
        return self

    def resolved(self, base: Path) -> ExperimentConfig:
        """This config with relative data paths and the dask work folder made absolute."""
        update = {"data": self.data.resolved(base), "dask": self.dask.resolved(base)}
        return self.model_copy(update=update)

    @property
    def contractual(self) -> bool:
        if self.business == "auto":
            return self.data.subscriptions is not None
        return self.business == "contractual"


def check_families(families: list[str] | None) -> None:
    """Raise ValueError naming the families that do not exist, and the valid ones."""
    unknown = [f for f in families or [] if f not in FAMILIES]
    if unknown:
        raise ValueError(f"families: unknown feature families {unknown}; valid: {list(FAMILIES)}")
