"""Candidate models as specs: a name, a task, and a fit on the shared out-of-time fold.

The pipeline runs every spec in ``CANDIDATES`` through one loop and evaluates them side by side on
the test cutoff. Adding a model means adding one ``Candidate`` here. A candidate whose fit returns
a ``Servable`` (a servable model, ``model.servable``, with its calibration) becomes a
``ModelBundle`` that can be registered, gated and served; the others are baselines, evaluated and
tracked only. Servable candidates of a task compete on the validation cutoff
(``training.selection``): the best by the gate's metric becomes the challenger.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
from sklearn.base import clone

from core import names
from core.config import ExperimentConfig, LightGBMParams
from core.errors import DataValidationError
from core.schema import CUSTOMER_ID
from features.build import CUTOFF
from features.prepare import to_day
from model.booster import LightGBMModel
from model.btyd_features import EXPECTED_VALUE, BtydMargin
from model.card import Refit, Task, Tuning
from model.encoding import FeatureEncoding
from model.linear import LinearChurn
from model.servable import ServableModel
from model.target_encoding import FOLDS, SMOOTHING, TargetEncodedBooster, target_encode
from training.baselines import BtydBaseline, fit_btyd, last_period_spend
from training.calibration_choice import CalibrationChoice, FitRaw, RawScorer, choose_calibrator
from training.calibrators import apply, fit_calibrator
from training.evaluation import TARGETS
from training.frame import TrainingData
from training.models import HurdleSpend, LightGBMChurn, LightGBMSpend, RecencyRule
from training.origin_rounds import FitRounds, origin_rounds
from training.selection import validation_score

PARTS = ("train", "validation", "test")
REFIT_PARTS = ("train", "validation")
"""The parts a refit learns from, in the order of its rows."""
HIGH_CARDINALITY = 12
"""A categorical column with more levels than this is high-cardinality: tuning searches the
boosters' categorical smoothing (``cat_smooth``, ``min_data_per_group``) for it."""
RECENCY = "days_since_last_purchase"


@dataclass
class Fold:
    """One out-of-time split with what every candidate's fit shares: frames, encoded matrices."""

    config: ExperimentConfig
    data: TrainingData
    progress: bool = False
    frames: dict[str, pd.DataFrame] = field(init=False)
    encoding: FeatureEncoding = field(init=False)
    matrices: dict[str, np.ndarray] = field(init=False)

    parts: dict[str, pd.DataFrame] | None = None
    """Frames to use instead of the data's own parts (cross-validation folds)."""
    tuning: dict[Task, Tuning] = field(default_factory=dict)
    """Searched LightGBM parameters per task (``training.tuning``): they replace the configured."""
    refit: bool = True
    """Whether servable fits are refit on training + validation rows (``churn.refit``,
    ``clv.refit``); tuning folds skip it, since only their validation scores count."""
    target_encoded: dict[Task, list[str]] = field(default_factory=dict)
    """Per task, the high-cardinality columns its served LightGBM model reads target-encoded
    (``churn.high_cardinality``), set by the fit that chose it: the card says so."""
    target_tables: dict[int, np.ndarray] = field(default_factory=dict)
    """Set on a fold whose matrices hold churn rates in place of these columns' codes (by
    column index): its boosters read them as numbers, not categories."""

    def __post_init__(self) -> None:
        self.frames = self.parts or {part: self.data.part(part) for part in PARTS}
        if self.data.has_value and not (self.y("train", "clv") > 0).any():
            raise DataValidationError(
                f"every training customer's future value is 0 ({len(self.frames['train']):,} "
                "rows): are the transactions' amounts all zero or negative? Check the amount "
                "column (data.transactions.columns.amount); the CLV model needs some spend"
            )
        fits = self.data.btyd_params
        self.encoding = FeatureEncoding.fit(
            self.frames["train"],
            self.data.features,
            btyd=fits.get(self.data.split.test.normalize()) if fits else None,
        )
        self.matrices = {part: self.encode(df) for part, df in self.frames.items()}

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The model matrix of ``frame``; each cutoff's rows get the BTYD features derived with
        that cutoff's own fit (the served encoding carries the test cutoff's)."""
        fits = self.data.btyd_params
        if self.encoding.btyd is None or frame.empty:
            return self.encoding.transform(frame)
        out = np.empty((len(frame), len(self.encoding.columns)), dtype=np.float64)
        cutoffs = pd.DatetimeIndex(frame[CUTOFF]).normalize()
        for cutoff in cutoffs.unique():
            rows = np.asarray(cutoffs == cutoff)
            out[rows] = self.encoding.at_cutoff(fits[cutoff]).transform(frame.loc[rows])
        return out

    @property
    def test_ids(self) -> pd.Index:
        """Customer ids of the test rows, in row order."""
        return pd.Index(self.frames["test"][CUSTOMER_ID])

    def y(self, part: str, task: Task) -> np.ndarray:
        """Labels of ``task`` for the rows of ``part``."""
        return self.frames[part][TARGETS[task]].to_numpy()

    @cached_property
    def segment(self) -> np.ndarray:
        """'new' or 'established' per test row, by days since the customer's first event
        (a labelled table without events: all 'all')."""
        prep = self.data.prep
        if prep is None:
            return np.full(len(self.test_ids), "all", dtype=object)
        codes = pd.Index(prep.ids).get_indexer(self.test_ids)
        first = np.where(
            codes >= 0, prep.first_day[np.maximum(codes, 0)], to_day(self.data.split.test)
        )
        age = to_day(self.data.split.test) - first
        return np.where(age < self.config.new_customer_days, "new", "established")

    @property
    def has_history(self) -> bool:
        """Whether there is a purchase history (the BTYD and last-period baselines need one)."""
        return self.data.test_features is not None and self.data.prep is not None

    @cached_property
    def btyd(self) -> BtydBaseline:
        """BG/NBD and Gamma-Gamma fitted at the test cutoff (shared by the churn and CLV specs)."""
        assert self.data.test_features is not None
        return fit_btyd(self.data.test_features, self.config.horizon_days, self.test_ids)

    def lightgbm(self, task: Task) -> LightGBMParams:
        """The configured LightGBM settings of ``task``, or the tuned ones in their place."""
        params = (self.config.churn if task == "churn" else self.config.clv).lightgbm
        if task in self.tuning:
            params = params.model_copy(update=self.tuning[task].best_params)
        return params

    def lightgbm_estimator(self, task: Task) -> dict[str, Any]:
        """The LightGBM arguments of ``task``'s estimator: its settings, the run's seed, and
        whether it shows progress."""
        return {
            "lightgbm": self.lightgbm(task),
            "random_state": self.config.seed,
            "verbose": int(self.progress),
        }

    @property
    def high_cardinality(self) -> list[str]:
        """The categorical columns with more than ``HIGH_CARDINALITY`` levels."""
        cats = self.encoding.categories
        return [c for c, levels in cats.items() if len(levels) > HIGH_CARDINALITY]

    def category_notes(self, task: Task) -> list[str]:
        """How each categorical column is learned, for the training output and the card."""
        params = self.lightgbm(task)
        searched = task in self.tuning and "cat_smooth" in self.tuning[task].best_params
        smoothing = (
            f"cat_smooth {params.cat_smooth:.3g}, min_data_per_group "
            f"{params.min_data_per_group}, max_cat_threshold {params.max_cat_threshold}"
            + (", searched by tuning" if searched else "")
        )
        high = set(self.high_cardinality)
        encoded = set(self.target_encoded.get(task, ()))
        mode = self.config.churn.high_cardinality if task == "churn" else "native"
        if mode == "target":
            encoded = high
        pending = (
            high if mode == "auto" and task not in self.target_encoded else set()
        )  # before the fit: either reading may win
        target = (
            f"target-encoded for LightGBM (each level's out-of-fold churn rate over {FOLDS} "
            f"folds of the training rows, smoothed toward the overall rate with weight "
            f"{SMOOTHING:g} rows; chosen over native categorical splits)"
        )
        return [
            f"{task}: {name}: categorical, {len(levels)} levels, "
            + (
                target
                if name in encoded
                else "LightGBM's native categorical "
                + (f"splits with smoothing ({smoothing})" if name in high else "splits")
                + (
                    " or target-encoded, whichever scores better on validation (the "
                    "churn/lightgbm note says which)"
                    if name in pending
                    else ""
                )
            )
            + "; the logistic model one-hot encodes its levels of 20 rows or more"
            for name, levels in self.encoding.categories.items()
        ]

    @property
    def refits_churn(self) -> bool:
        """Whether the chosen churn fit is refit on training + validation rows (``churn.refit``:
        by default only on an in-time split, whose validation rows are a random part)."""
        when = self.config.churn.refit
        in_time = self.data.split.in_time
        return self.refit and (when == "always" or (when == "in_time" and in_time))

    def refit_rows(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        """The matrix and labels of ``task`` on the training and validation rows together."""
        return (
            np.vstack([self.matrices[p] for p in REFIT_PARTS]),
            np.concatenate([self.y(p, task) for p in REFIT_PARTS]),
        )

    def refit_record(
        self, task: Task, early_stopped: int | None, fit_rounds: FitRounds | None = None
    ) -> Refit:
        """The card's record of a refit of ``task``: its rows, and its rounds: the k-fold
        early-stopped ones when tuning found them (an in-time split); out of time, with
        ``fit_rounds``, the median over replayed origins (``training.origin_rounds``); else
        ``early_stopped``, the first fit's on validation (None: a model without rounds)."""
        tuned = self.tuning.get(task)
        rounds, where = early_stopped, "early stopping on the validation rows"
        split = self.data.split
        if not split.in_time:
            where = f"early stopping on {split.validation.date()}"
        if early_stopped is not None and tuned is not None and tuned.rounds is not None:
            rounds, where = tuned.rounds, f"{len(tuned.folds)}-fold early stopping"
        elif early_stopped is not None and fit_rounds is not None and not split.in_time:
            chosen = origin_rounds(
                np.concatenate([self.frames[p][CUTOFF].to_numpy() for p in REFIT_PARTS]),
                self.refit_rows(task)[1],
                validation=split.validation,
                validation_rounds=early_stopped,
                horizon_days=self.config.horizon_days,
                origins=self.config.split.round_origins,
                fit_rounds=fit_rounds,
            )
            rounds, where = chosen.rounds, chosen.source(split.validation)
        return Refit(
            rows=len(self.frames["train"]) + len(self.frames["validation"]),
            first_rows=len(self.frames["train"]),
            rounds=rounds,
            rounds_from=where if rounds is not None else "",
        )

    def lightgbm_fit_args(self, task: Task) -> dict[str, Any]:
        """Early stopping on the validation cutoff, feature names and categorical columns."""
        return {
            "eval_set": (self.matrices["validation"], self.y("validation", task)),
            "feature_names": list(self.encoding.columns),
            "categorical": [
                j for j in self.encoding.categorical_indices if j not in self.target_tables
            ],
        }


@dataclass(frozen=True)
class Servable:
    """A fitted model and what its bundle needs beside the encoding and the card."""

    model: ServableModel
    best_iteration: int | None
    platt: tuple[float, float] | None = None
    risk_tiers: tuple[float, float] | None = None
    base_margin: BtydMargin | None = None
    refit: Refit | None = None
    """Set when the served model was fitted again on training + validation rows."""


@dataclass
class Fitted:
    """What a candidate's fit returns: test predictions, params, and what it can ship."""

    test_pred: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    servable: Servable | None = None
    """What a bundle needs: only a model that explains each score (reasons) can be served."""
    importance: dict[str, float] | None = None
    problems: list[str] = field(default_factory=list)
    """Plain lines on why the fit is unreliable (e.g. BTYD parameters at a boundary)."""
    validation_pred: np.ndarray | None = None
    """Predictions for the validation rows: the servable candidates compete on them."""
    notes: list[str] = field(default_factory=list)
    """Plain lines on what the fit decided (e.g. its calibrator), for the output and the card."""
    fit_metrics: dict[str, float] = field(default_factory=dict)
    """Numbers of the fit itself (not of the test cutoff), logged to MLflow with the candidate."""
    comparison: bool = False
    """Evaluated for comparison only: neither served nor a baseline the others are compared to."""


@dataclass(frozen=True)
class Candidate:
    """A model to evaluate: ``fit`` returns its result on the fold, or None if it does not apply."""

    name: str
    task: Task
    fit: Callable[[Fold], Fitted | None]


def _lightgbm_churn(fold: Fold) -> Fitted:
    """The churn booster; with high-cardinality columns, read natively or target-encoded
    (``churn.high_cardinality``; auto: the better on validation, tuning folds read natively)."""
    mode, high = fold.config.churn.high_cardinality, fold.high_cardinality
    if not high or mode == "native" or (mode == "auto" and not fold.refit):
        return _lightgbm_churn_fit(fold)
    encoded = _target_encoded_fold(fold, high)
    target = _lightgbm_churn_fit(encoded)
    assert target.servable is not None
    booster = cast(LightGBMModel, target.servable.model)
    target.servable = replace(
        target.servable, model=TargetEncodedBooster(booster, encoded.target_tables)
    )
    if mode == "target":
        fold.target_encoded["churn"] = high
        target.params["high_cardinality"] = "target"
        return target
    native = _lightgbm_churn_fit(fold)
    y = fold.y("validation", "churn")
    scores = {
        name: validation_score("churn", y, fit.validation_pred, fold.config)
        for name, fit in (("target", target), ("native", native))
        if fit.validation_pred is not None
    }
    chosen = "target" if scores["target"] > scores["native"] else "native"
    metric = fold.config.promotion.churn_metric
    line = (
        f"churn/lightgbm: {', '.join(high)} read "
        f"{'target-encoded' if chosen == 'target' else 'by native categorical splits'}: "
        f"validation {metric} {scores['target']:.4f} target-encoded, "
        f"{scores['native']:.4f} native categorical"
    )
    kept = target if chosen == "target" else native
    fold.target_encoded["churn"] = high if chosen == "target" else []
    kept.notes.append(line)
    kept.fit_metrics |= {f"high_cardinality.validation.{k}": v for k, v in scores.items()}
    kept.params["high_cardinality"] = chosen
    return kept


def _target_encoded_fold(fold: Fold, columns: list[str]) -> Fold:
    """A copy of ``fold`` whose matrices read ``columns`` as out-of-fold churn rates."""
    names = list(fold.encoding.columns)
    at = {names.index(c): len(fold.encoding.categories[c]) for c in columns}
    encoded = target_encode(fold.matrices, fold.y("train", "churn"), at, seed=fold.config.seed)
    out = copy.copy(fold)
    out.matrices = encoded.matrices
    out.target_tables = encoded.tables
    return out


def _lightgbm_churn_fit(fold: Fold) -> Fitted:
    m, config = fold.matrices, fold.config.churn
    model = LightGBMChurn(
        **fold.lightgbm_estimator("churn"),
        balance_classes=config.balance_classes,
        calibration=None,
        monotone_increasing=tuple(
            c for c in config.monotone_increasing if c in fold.encoding.columns
        ),
    )
    fit_args = fold.lightgbm_fit_args("churn")

    def fit_raw(
        X: np.ndarray, y: np.ndarray, X_origin: np.ndarray, y_origin: np.ndarray
    ) -> RawScorer:
        replayed = clone(model).set_params(verbose=0)
        replayed.fit(X, y, **{**fit_args, "eval_set": (X_origin, y_origin)})
        return replayed.raw_score

    choice = calibration_choice(fold, fit_raw, balanced=config.balance_classes)
    model.set_params(calibration=choice.method)
    model.fit(m["train"], fold.y("train", "churn"), **fit_args)
    valid_p = model.predict_proba(m["validation"])[:, 1]
    refit = None
    if fold.refits_churn:
        rounds = _round_fitter(fold, "churn", model)
        refit = fold.refit_record("churn", model.best_iteration_, rounds)
        model = _refit(fold, "churn", model, refit.rounds)
    return Fitted(
        model.predict_proba(m["test"])[:, 1],
        {
            **model.flat_params(),
            "best_iteration": model.best_iteration_,
            "platt": model.platt_,
            **_refit_params(refit),
            **choice.params(),
        },
        Servable(
            LightGBMModel(model.booster_),
            model.best_iteration_,
            model.platt_,
            risk_tiers(valid_p),
            refit=refit,
        ),
        model.feature_importance(),
        validation_pred=valid_p,
        notes=[*choice.notes("churn/lightgbm"), *_refit_notes("churn/lightgbm", refit)],
        fit_metrics=choice.metrics(),
    )


def calibration_choice(fold: Fold, fit_raw: FitRaw, *, balanced: bool) -> CalibrationChoice:
    """The configured churn calibrator; ``auto`` replays past origins over the training and
    validation rows (``training.calibration_choice``), ``standard`` is Platt scaling."""
    settings = fold.config.churn.calibration
    if settings.method != "auto":
        method = "platt" if settings.method == "standard" else settings.method
        return CalibrationChoice(method, settings.method)
    parts = ("train", "validation")
    return choose_calibrator(
        np.vstack([fold.matrices[p] for p in parts]),
        np.concatenate([fold.y(p, "churn") for p in parts]),
        pd.concat([fold.frames[p][CUTOFF] for p in parts], ignore_index=True),
        horizon_days=fold.config.horizon_days,
        fit_raw=fit_raw,
        balanced=balanced,
        backtests=settings.backtests,
        min_backtests=settings.min_backtests,
        progress=fold.progress,
    )


def risk_tiers(validation_p: np.ndarray) -> tuple[float, float]:
    """Tier cutoffs: the top 20% of validation scores 'high', the next 30% 'medium'."""
    return (float(np.quantile(validation_p, 0.8)), float(np.quantile(validation_p, 0.5)))


def _logistic(fold: Fold) -> Fitted:
    """Logistic regression on the shared encoded matrix: servable, its reasons coefficient x
    standardized value (``model.linear``), calibrated on the validation cutoff as the booster is
    (``churn.calibration``): the base rate drifts between the training cutoffs and the test."""
    m = fold.matrices
    names, categorical = list(fold.encoding.columns), fold.encoding.categorical_indices

    def fit(X: np.ndarray, y: np.ndarray) -> LinearChurn:
        return LinearChurn.fit(X, y, names, categorical, seed=fold.config.seed)

    def fit_raw(
        X: np.ndarray, y: np.ndarray, X_origin: np.ndarray, y_origin: np.ndarray
    ) -> RawScorer:
        return fit(X, y).raw_score

    y_train = fold.y("train", "churn")
    choice = calibration_choice(fold, fit_raw, balanced=False)
    model = fit(m["train"], y_train)
    ab = fit_calibrator(
        choice.method,
        model.raw_score(m["validation"]),
        fold.y("validation", "churn"),
        share=float(y_train.mean()),
        balanced=False,
    )
    valid_p = apply(ab, model.raw_score(m["validation"]))
    refit = None
    if fold.refits_churn:  # the calibration stays the first fit's
        refit = fold.refit_record("churn", None)
        model = fit(*fold.refit_rows("churn"))
    return Fitted(
        apply(ab, model.raw_score(m["test"])),
        {
            "C": model.C,
            "terms": len(model.coef),
            "platt": ab,
            **_refit_params(refit),
            **choice.params(),
        },
        Servable(model, None, ab, risk_tiers(valid_p), refit=refit),
        model.importance(),
        validation_pred=valid_p,
        notes=[*choice.notes("churn/logistic"), *_refit_notes("churn/logistic", refit)],
        fit_metrics=choice.metrics(),
    )


def _recency_rule(fold: Fold) -> Fitted | None:
    if RECENCY not in fold.frames["train"]:
        return None
    train, test = (fold.frames[p][[RECENCY]].to_numpy() for p in ("train", "test"))
    rule = RecencyRule().fit(train, fold.y("train", "churn"))
    return Fitted(rule.predict_proba(test)[:, 1])


def _bgnbd_churn(fold: Fold) -> Fitted | None:
    if not fold.has_history:
        return None
    return Fitted(fold.btyd.churn, fold.btyd.params(), problems=fold.btyd.churn_problems())


def _prior_rate(fold: Fold) -> Fitted:
    """Everyone gets the training churn rate: the floor any model must clear."""
    rate = float(fold.y("train", "churn").mean())
    return Fitted(np.full(len(fold.frames["test"]), rate), {"rate": rate})


def _lightgbm_spend(fold: Fold) -> Fitted | None:
    if not fold.data.has_value:
        return None
    m = fold.matrices
    model = LightGBMSpend(
        **fold.lightgbm_estimator("clv"),
        tweedie_variance_power=fold.config.clv.tweedie_variance_power,
    )
    model.fit(m["train"], fold.y("train", "clv"), **fold.lightgbm_fit_args("clv"))
    valid_pred = model.predict(m["validation"])
    refit = None
    if fold.refit and fold.config.clv.refit:
        refit = fold.refit_record("clv", model.best_iteration_, _round_fitter(fold, "clv", model))
        model = _refit(fold, "clv", model, refit.rounds)
    return Fitted(
        model.predict(m["test"]),
        {**model.flat_params(), "best_iteration": model.best_iteration_, **_refit_params(refit)},
        Servable(LightGBMModel(model.booster_), model.best_iteration_, refit=refit),
        model.feature_importance(),
        validation_pred=valid_pred,
        notes=_refit_notes(f"clv/{names.LIGHTGBM}", refit),
    )


Booster = TypeVar("Booster", LightGBMChurn, LightGBMSpend)


def _refit(
    fold: Fold,
    task: Task,
    model: Booster,
    rounds: int | None,
    starts: dict[str, np.ndarray] | None = None,
) -> Booster:
    """``model`` fitted again with ``rounds`` (early-stopped) on the training and the validation
    rows together (``churn.refit``, ``clv.refit``): the served booster learns from every labelled
    row but the test's. Its validation score, the one candidates compete on, stays the first
    fit's; a churn booster keeps the first fit's calibration, fitted on validation rows it had
    not seen (the same rounds and learning rate keep its raw scores on the same scale)."""
    update: dict[str, Any] = {
        "lightgbm": model.settings.model_copy(update={"n_estimators": max(rounds or 1, 1)})
    }
    if isinstance(model, LightGBMChurn):
        update["calibration"] = None
    again = clone(model).set_params(**update)
    margin = (
        None if starts is None else np.concatenate([starts[p] for p in ("train", "validation")])
    )
    X, y = fold.refit_rows(task)
    fit_args = {**fold.lightgbm_fit_args(task), "eval_set": None}
    if isinstance(again, LightGBMChurn):
        again.fit(X, y, **fit_args)
        again.platt_ = model.platt_
    else:
        again.fit(X, y, **fit_args, base_margin=margin)
    return again


def _round_fitter(
    fold: Fold, task: Task, model: Booster, starts: dict[str, np.ndarray] | None = None
) -> FitRounds:
    """Fits ``model``'s settings on some refit rows, early-stopped on others (a replayed
    origin), and returns the rounds: what ``training.origin_rounds`` replays."""
    rows: list[tuple[np.ndarray, np.ndarray]] = []  # stacked on the first replay only
    margin = None if starts is None else np.concatenate([starts[p] for p in REFIT_PARTS])
    fit_args = fold.lightgbm_fit_args(task)

    def fit_rounds(train: np.ndarray, origin: np.ndarray) -> int:
        rows[:] = rows or [fold.refit_rows(task)]
        X, y = rows[0]
        replayed = clone(model).set_params(verbose=0)
        args = {**fit_args, "eval_set": (X[origin], y[origin])}
        if isinstance(replayed, LightGBMChurn):
            replayed.set_params(calibration=None).fit(X[train], y[train], **args)
        else:
            margins = {} if margin is None else {"base_margin": margin[train]}
            if margin is not None:
                margins["eval_base_margin"] = margin[origin]
            replayed.fit(X[train], y[train], **args, **margins)
        return int(replayed.best_iteration_)

    return fit_rounds


def _refit_params(refit: Refit | None) -> dict[str, Any]:
    """The refit's MLflow params: whether the served model was refit, and on how many rows."""
    if refit is None:
        return {"refit": False}
    return {
        "refit": True,
        "refit_rows": refit.rows,
        "refit_rounds": refit.rounds,
        "refit_rounds_from": refit.rounds_from,
    }


def _refit_notes(name: str, refit: Refit | None) -> list[str]:
    """The line for the training output and the card: what the served model was fitted on."""
    if refit is None:
        return []
    rounds = "" if refit.rounds is None else f", {refit.rounds} rounds by {refit.rounds_from}"
    return [
        f"{name}: refit on the training and validation rows ({refit.rows:,} rows, first fit "
        f"{refit.first_rows:,}{rounds}); its validation score is the first fit's, the test rows "
        "stay out and score it"
    ]


def _lightgbm_btyd_spend(fold: Fold) -> Fitted | None:
    """A Tweedie booster started from log of each row's BTYD expected value (its own cutoff's
    fit): the trees learn a correction to the classic model instead of the whole value."""
    if not fold.data.has_value or EXPECTED_VALUE not in fold.encoding.derived:
        return None
    m, config = fold.matrices, fold.config.clv
    columns = fold.encoding.columns
    margin = BtydMargin(
        floor=config.btyd_floor, fallback=max(float(fold.y("train", "clv").mean()), 1e-9)
    )
    starts = {part: margin.of_matrix(m[part], columns) for part in PARTS}
    model = LightGBMSpend(
        **fold.lightgbm_estimator("clv"), tweedie_variance_power=config.tweedie_variance_power
    )
    model.fit(
        m["train"],
        fold.y("train", "clv"),
        **fold.lightgbm_fit_args("clv"),
        base_margin=starts["train"],
        eval_base_margin=starts["validation"],
    )
    y_valid = fold.y("validation", "clv")
    valid_pred = model.predict(m["validation"], starts["validation"])
    refit = None
    if fold.refit and config.refit:  # the validation rows teach the level: no rescaling
        rounds = _round_fitter(fold, "clv", model, starts)
        refit = fold.refit_record("clv", model.best_iteration_, rounds)
        model = _refit(fold, "clv", model, refit.rounds, starts)
    elif config.btyd_recalibrate and valid_pred.sum() > 0:
        scale = float(y_valid.sum() / valid_pred.sum())
        if np.abs(y_valid - scale * valid_pred).mean() < np.abs(y_valid - valid_pred).mean():
            margin = replace(margin, scale=scale)
            starts = {part: margin.of_matrix(m[part], columns) for part in PARTS}
            valid_pred = model.predict(m["validation"], starts["validation"])
    return Fitted(
        model.predict(m["test"], starts["test"]),
        {
            **model.flat_params(),
            "best_iteration": model.best_iteration_,
            **_refit_params(refit),
            **margin.to_dict(),
        },
        Servable(
            LightGBMModel(model.booster_), model.best_iteration_, base_margin=margin, refit=refit
        ),
        model.feature_importance(),
        validation_pred=valid_pred,
        notes=_refit_notes(f"clv/{names.LIGHTGBM_BTYD}", refit),
    )


def _hurdle(name: str, severity: str) -> Callable[[Fold], Fitted | None]:
    """The fit of the hurdle comparison model ``name`` (``clv.compare``) with this spend
    distribution."""

    def fit(fold: Fold) -> Fitted | None:
        if not fold.data.has_value or name not in fold.config.clv.compare:
            return None
        m = fold.matrices
        model = HurdleSpend(**fold.lightgbm_estimator("clv"), severity=severity).fit(
            m["train"], fold.y("train", "clv"), **fold.lightgbm_fit_args("clv")
        )
        return Fitted(
            model.predict(m["test"]),
            {**model.flat_params(), "log_variance": model.log_variance_},
            comparison=True,
        )

    return fit


def _bgnbd_gamma_gamma(fold: Fold) -> Fitted | None:
    if not fold.has_history or not fold.data.has_value:
        return None
    return Fitted(fold.btyd.spend, fold.btyd.params(), problems=fold.btyd.problems())


def _last_period(fold: Fold) -> Fitted | None:
    if not fold.has_history or not fold.data.has_value:
        return None
    assert fold.data.prep is not None
    days = fold.config.horizon_days
    spend = last_period_spend(fold.data.prep, fold.data.split.test, days, fold.test_ids)
    return Fitted(spend, {"days": days})


def _prior_mean(fold: Fold) -> Fitted | None:
    """Everyone gets the training mean future value."""
    if not fold.data.has_value:
        return None
    mean = float(fold.y("train", "clv").mean())
    return Fitted(np.full(len(fold.frames["test"]), mean), {"mean": mean})


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(names.LIGHTGBM, names.CHURN, _lightgbm_churn),
    Candidate(names.LOGISTIC, names.CHURN, _logistic),
    Candidate(names.RECENCY_RULE, names.CHURN, _recency_rule),
    Candidate(names.BGNBD, names.CHURN, _bgnbd_churn),
    Candidate(names.PRIOR_RATE, names.CHURN, _prior_rate),
    Candidate(names.LIGHTGBM, names.CLV, _lightgbm_spend),
    Candidate(names.LIGHTGBM_BTYD, names.CLV, _lightgbm_btyd_spend),
    Candidate(names.HURDLE_GAMMA, names.CLV, _hurdle(names.HURDLE_GAMMA, "gamma")),
    Candidate(names.HURDLE_LOGNORMAL, names.CLV, _hurdle(names.HURDLE_LOGNORMAL, "lognormal")),
    Candidate(names.BGNBD_GAMMA_GAMMA, names.CLV, _bgnbd_gamma_gamma),
    Candidate(names.LAST_PERIOD, names.CLV, _last_period),
    Candidate(names.PRIOR_MEAN, names.CLV, _prior_mean),
)
"""Every model a training run evaluates, in the order of the evaluation table; each key has its
plain name in ``core.names`` (a test checks)."""
