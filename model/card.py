"""The model card: what a trained model is, what it was trained on, and how it did out of time.

Training writes it into the model artefact beside the booster (``card.json``); packaging, the
service, batch scoring and the report read it from there. It is the one place a reader learns a
model's task, features, data, cutoffs, test metrics and the curves behind its plots, so nobody
reads another module's MLflow tags or plot files by naming convention.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import DataValidationError
from features.labelled import AttributeSchema
from model.drift import FeatureSketch

Task = Literal["churn", "clv"]
CARD_FILE = "card.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Cutoffs(_Frozen):
    """The out-of-time split the model was fitted, tuned and tested on (ISO dates)."""

    train: list[str]
    validation: str
    test: str
    in_time: bool = Field(
        False, description="One as_of day split by customer, not by time: in-time metrics."
    )


class DataSummary(_Frozen):
    """The training data: a content fingerprint, its size and date range, and how it is read."""

    fingerprint: str
    rows: int
    customers: int
    start: str
    end: str
    timezone: str = "UTC"
    business: Literal["contractual", "noncontractual", "labelled"] = "noncontractual"
    active_days: int = 365


class CalibrationCurve(_Frozen):
    """Mean predicted probability and observed rate per decile of score, on the test cutoff."""

    predicted: list[float]
    observed: list[float]


class GainCurve(_Frozen):
    """Share of churners reached when contacting the top ``share`` of customers by score."""

    share: list[float]
    reached: list[float]


class DecileTable(_Frozen):
    """Mean predicted and actual future value per decile of predicted value (1 = highest)."""

    predicted: list[float]
    actual: list[float]


class CalibrationCheck(_Frozen):
    """Calibration-in-the-large on the test cutoff: is the model right on average?

    Churn: ``bias`` is mean predicted probability minus the observed churn rate (+0.10: ten
    points too much churn). CLV: ``bias`` is mean predicted / mean actual future value - 1
    (-0.25: a quarter too little). ``limit`` is the configured tolerance (``calibration`` in the
    experiment config) beyond which training and the report warn.
    """

    task: Task
    mean_predicted: float
    observed: float
    bias: float
    ece: float | None = Field(
        None, description="Churn: expected calibration error over ten probability bands."
    )
    limit: float

    @property
    def exceeded(self) -> bool:
        """Whether ``|bias|`` is beyond the limit (a NaN bias, no spend observed, is not)."""
        return abs(self.bias) > self.limit

    def summary(self) -> str:
        """One line: mean predicted vs observed, the bias and the limit, in the task's units."""
        if self.task == "churn":
            ece = f", ECE {self.ece:.3f}" if self.ece is not None else ""
            return (
                f"mean predicted {self.mean_predicted:.1%} vs {self.observed:.1%} observed: "
                f"bias {self.bias * 100:+.1f} points{ece} (limit {self.limit * 100:.1f})"
            )
        return (
            f"mean predicted {self.mean_predicted:,.2f} vs {self.observed:,.2f} actual: "
            f"bias {self.bias:+.0%} (limit {self.limit:.0%})"
        )

    def warning(self, model: str = "model") -> str | None:
        """A plain sentence for training output and the report when the bias exceeds the limit.

        None when the model is within its limit.
        """
        if not self.exceeded:
            return None
        if self.task == "churn":
            way = "over" if self.bias > 0 else "under"
            return (
                f"The {model} churn probabilities are biased on the test cutoff: they average "
                f"{self.mean_predicted:.1%} against {self.observed:.1%} observed, "
                f"{abs(self.bias) * 100:.1f} points of {way}-prediction (limit "
                f"{self.limit * 100:.1f}). Read the probabilities as a ranking until the model is "
                "retrained on data covering this season."
            )
        way = "above" if self.bias > 0 else "below"
        return (
            f"The {model} expected values are biased on the test cutoff: they average "
            f"{self.mean_predicted:,.2f} against {self.observed:,.2f} actual, "
            f"{abs(self.bias):.0%} {way} (limit {self.limit:.0%}). Totals of expected value "
            "are off by about as much; rankings are not affected."
        )


def calibration_warning(card: ModelCard) -> str | None:
    """The calibration warning of a model card, or None (within the limit, or not recorded)."""
    if card.calibration_check is None:
        return None
    return card.calibration_check.warning(card.model)


class Tuning(_Frozen):
    """How the model's hyperparameters were searched: on time-series folds of the training
    cutoffs only (an in-time split: stratified folds of the non-test rows), so the test rows
    stay unseen."""

    metric: str = Field(description="The promotion metric the search optimised.")
    direction: Literal["maximize", "minimize"]
    trials: int = Field(description="Trials run, the first being the configured parameters.")
    folds: list[str] = Field(
        description="The origin cutoff of each fold, scored and early-stopped on."
    )
    best_value: float = Field(description="The best trial's metric, averaged over the folds.")
    configured_value: float | None = Field(
        None, description="The configured parameters' metric on the same folds."
    )
    best_params: dict[str, float | int] = Field(
        description="The parameters the model was trained with, replacing the configured ones."
    )
    seed: int
    rounds: int | None = Field(
        None,
        description="Stratified k-fold tuning (an in-time split): the best trial's mean "
        "early-stopped rounds over the folds, which the refit on every non-test row uses.",
    )


class Refit(_Frozen):
    """The served model was fitted again on the training and validation rows together, after
    it was chosen on validation; the test rows stayed out and score it."""

    rows: int = Field(description="Rows the served model was fitted on (training + validation).")
    first_rows: int = Field(description="Rows of the first fit, the one chosen on validation.")
    rounds: int | None = Field(
        None, description="Boosting rounds of the refit (None: a model without rounds)."
    )
    rounds_from: str = Field(
        "", description="Where the rounds came from, e.g. early stopping on validation."
    )


class ModelCard(_Frozen):
    """Everything a reader needs to trust (or question) a trained model, stored with it."""

    task: Task
    model: str = Field(description="The candidate that produced it, e.g. 'lightgbm'.")
    experiment: str
    trained_at: str
    horizon_days: int
    features: list[str]
    data: DataSummary
    cutoffs: Cutoffs
    test_metrics: dict[str, float] = Field(default_factory=dict)
    calibration: CalibrationCurve | None = None
    gain: GainCurve | None = None
    deciles: DecileTable | None = None
    best_iteration: int | None = None
    calibration_check: CalibrationCheck | None = Field(
        None, description="Mean predicted vs observed on the test cutoff, and its limit."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Plain-language findings of the evaluation, e.g. an unreliable baseline fit.",
    )
    tuning: Tuning | None = Field(
        None, description="The hyperparameter search behind the model (None: configured params)."
    )
    refit: Refit | None = Field(
        None, description="The refit on training + validation rows (None: the first fit)."
    )
    attribute_schema: AttributeSchema | None = Field(
        None,
        description="A model trained on a labelled snapshots table: how its attribute columns "
        "become features (serving applies the same).",
    )
    reference: dict[str, FeatureSketch] = Field(
        default_factory=dict,
        description="The test cutoff's input features, sketched (``model.drift``): the "
        "distributions `retain monitor` compares each score generation with.",
    )
    reference_prediction: FeatureSketch | None = Field(
        None, description="The model's test-cutoff predictions, sketched (score drift)."
    )

    @property
    def calibration_bias(self) -> CalibrationCheck | None:
        """The calibration check under the name the report reads (bias, limit, mean predicted,
        observed)."""
        return self.calibration_check

    def save(self, folder: Path) -> Path:
        """Write ``card.json`` into ``folder``."""
        path = folder / CARD_FILE
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def load(cls, folder: Path) -> ModelCard:
        """Read the card of a model folder; a missing or malformed card is a clear error."""
        path = folder / CARD_FILE
        if not path.exists():
            raise DataValidationError(
                f"no model card ({CARD_FILE}) in {folder}: the model was written by an older "
                "retain; retrain it with `retain train`"
            )
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (ValidationError, json.JSONDecodeError) as err:
            raise DataValidationError(f"the model card {path} is not valid: {err}") from None
