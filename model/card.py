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

from features.errors import DataValidationError
from features.labelled import AttributeSchema

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
    attribute_schema: AttributeSchema | None = Field(
        None,
        description="A model trained on a labelled snapshots table: how its attribute columns "
        "become features (serving applies the same).",
    )

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
