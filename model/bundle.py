"""The deployable model, as training writes it and serving reads it.

A bundle is a servable model (``model.servable``: a LightGBM booster, ``model.booster``, or for
churn a logistic regression, ``model.linear``) plus everything needed to use it exactly as
trained: the feature encoding, the churn model's probability calibration and risk tiers, the
horizon, the feature families, and the model card. Both the evaluation in training and the HTTP
service call ``predict`` and ``contributions`` here, so the scores a data scientist evaluated are
the scores a CRM receives.

On disk a bundle is one folder: the model's own files (``booster.txt``: LightGBM's text model; a
logistic regression's ``linear.json``), ``bundle.json`` (the model's tag, encoding, calibration,
tiers, horizon, families) and ``card.json`` (``model.card``). A ``bundle.json`` without a tag
(written before it had one) holds a logistic regression when ``linear.json`` is there, else a
booster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataValidationError
from features.build import feature_names
from model.booster import LightGBMModel
from model.btyd_features import BtydMargin
from model.card import ModelCard, Task
from model.encoding import FeatureEncoding
from model.linear import LINEAR_FILE, LinearChurn
from model.servable import ServableModel, load_servable
from model.target_encoding import TargetEncodedBooster

SERVABLE_TYPES = (LightGBMModel, LinearChurn, TargetEncodedBooster)
"""Every servable model a bundle may name (imported here, so each is registered by its tag)."""

ModelKind = Task
BUNDLE_FILE = "bundle.json"
SMALL_BATCH = 64
"""Up to this many rows are predicted on one thread: starting threads costs more than it saves."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class ModelBundle:
    """A trained churn or CLV model with its encoding, calibration and model card.

    ``platt = (a, b)`` maps the churn booster's raw log-odds ``f`` to a calibrated probability
    ``sigmoid(a * f + b)``; being linear in ``f`` it maps TreeSHAP contributions too, so the
    reasons explain the calibrated score. CLV boosters (Tweedie, log link) predict spend directly.
    ``risk_tiers = (high, medium)``: churn probabilities from which a customer is in that tier.
    ``base_margin``: a CLV booster fitted on top of the BTYD value adds its trees to that margin.
    """

    kind: ModelKind
    model: ServableModel
    """The model itself: a LightGBM booster, or a logistic regression (churn only)."""
    encoding: FeatureEncoding
    horizon_days: int
    families: list[str]
    card: ModelCard
    attributes: list[str] = field(default_factory=list)
    platt: tuple[float, float] | None = None
    risk_tiers: tuple[float, float] | None = None
    num_threads: int = 0
    base_margin: BtydMargin | None = None
    """CLV boosters trained as a correction to the BTYD value: the margin their trees add to."""

    def check_schema(self) -> None:
        """Fail loudly if model, encoding and the feature builder disagree on the features."""
        expected = feature_names(self.families, self.attributes)
        if self.card.attribute_schema is not None:
            expected += self.card.attribute_schema.feature_names
        model_names = self.model.feature_name()
        problems = []
        if list(self.encoding.inputs) != expected:
            missing = sorted(set(expected) - set(self.encoding.inputs))
            extra = sorted(set(self.encoding.inputs) - set(expected))
            problems.append(
                f"the {self.kind} model's features differ from the feature schema: "
                f"missing {missing}, unexpected {extra}"
                + ("" if missing or extra else " (same names, different order)")
            )
        if model_names not in (list(self.encoding.columns), list(self.encoding.model_columns)):
            problems.append(f"the {self.kind} model's feature names differ from its encoding")
        if self.card.task != self.kind or self.card.features != list(self.encoding.columns):
            problems.append(f"the {self.kind} model's card describes another model")
        if problems:
            raise DataValidationError("; ".join(problems))

    def _threads(self, rows: int) -> int:
        """One thread for a few rows (no thread start-up cost), else ``num_threads`` (0 = all)."""
        return 1 if rows <= SMALL_BATCH else self.num_threads

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Churn probability or expected spend for rows of an encoded matrix."""
        threads = self._threads(len(matrix))
        if self.kind == "clv" and self.base_margin is None:
            return self.model.predict(matrix, threads)
        raw = self.model.raw_score(matrix, threads)
        if self.base_margin is not None:
            return np.exp(raw + self.base_margin.of_matrix(matrix, self.encoding.columns))
        a, b = self.platt or (1.0, 0.0)
        return sigmoid(a * raw + b)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores for a feature frame (columns by name, as ``build_features`` returns them)."""
        return self.predict_matrix(self.encoding.transform(frame))

    def warm(self) -> None:
        """Explain one row of missing values, so that whatever the model builds for its first
        reasons (e.g. TreeSHAP tables) is built now and not in the first request."""
        self.contributions(np.full((1, len(self.encoding.columns)), np.nan))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """The model's contributions, shape (rows, features + 1); the last column is the base value.

        Churn: in calibrated log-odds, summing to ``logit(probability)``. CLV: in log spend,
        summing to ``log(expected spend)``. A booster's are TreeSHAP values, equal to LightGBM's
        ``pred_contrib`` (from precomputed per-tree tables when the trees are shallow, several
        times faster); a linear churn model's are coefficient x standardized value, summing
        exactly to its log-odds. The churn calibration ``platt`` maps them like the score.
        """
        contrib = self.model.contributions(matrix, self._threads(len(matrix)))
        if self.kind == "churn" and self.platt is not None:
            a, b = self.platt
            contrib = contrib * a
            contrib[:, -1] += b
        if self.base_margin is not None:  # the base value of each row includes its margin
            contrib = contrib.copy()
            contrib[:, -1] += self.base_margin.of_matrix(matrix, self.encoding.columns)
        return contrib

    def save(self, folder: Path) -> Path:
        """Write the bundle's files (the model's, the description, the card) into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_into(folder)
        meta = {
            "kind": self.kind,
            "model": self.model.tag,
            "encoding": self.encoding.to_dict(),
            "horizon_days": self.horizon_days,
            "families": self.families,
            "attributes": self.attributes,
            "platt": list(self.platt) if self.platt is not None else None,
            "risk_tiers": list(self.risk_tiers) if self.risk_tiers is not None else None,
            "base_margin": None if self.base_margin is None else self.base_margin.to_dict(),
        }
        (folder / BUNDLE_FILE).write_text(json.dumps(meta, indent=2))
        self.card.save(folder)
        return folder

    @classmethod
    def load(cls, folder: Path) -> ModelBundle:
        """Read a bundle written by ``save``."""
        meta_path = folder / BUNDLE_FILE
        if not meta_path.exists():
            raise DataValidationError(f"not a retain model folder (no {BUNDLE_FILE}): {folder}")
        meta = json.loads(meta_path.read_text())
        card = ModelCard.load(folder)
        former = LinearChurn.tag if (folder / LINEAR_FILE).exists() else LightGBMModel.tag
        model = load_servable(meta.get("model", former), folder)
        platt, tiers, margin = meta.get("platt"), meta.get("risk_tiers"), meta.get("base_margin")
        return cls(
            kind=meta["kind"],
            model=model,
            encoding=FeatureEncoding.from_dict(meta["encoding"]),
            horizon_days=int(meta["horizon_days"]),
            families=list(meta["families"]),
            card=card,
            attributes=list(meta.get("attributes", [])),
            platt=(float(platt[0]), float(platt[1])) if platt else None,
            risk_tiers=(float(tiers[0]), float(tiers[1])) if tiers else None,
            base_margin=BtydMargin.from_dict(margin) if margin else None,
        )
