"""The deployable model, as training writes it and serving reads it.

A bundle is a LightGBM booster (or, for churn, a logistic regression: ``model.linear``) plus
everything needed to use it exactly as trained: the feature encoding, the churn model's
probability calibration and risk tiers, the horizon, the feature families, and the model card.
Both the evaluation in training and the HTTP service call ``predict`` and ``contributions`` here,
so the scores a data scientist evaluated are the scores a CRM receives.

On disk a bundle is one folder of three files: ``booster.txt`` (LightGBM's text model; a logistic
regression's is ``linear.json``), ``bundle.json`` (encoding, calibration, tiers, horizon,
families) and ``card.json`` (``model.card``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from core.errors import DataValidationError
from features.build import feature_names
from model.btyd_features import BtydMargin
from model.card import ModelCard, Task
from model.encoding import FeatureEncoding
from model.linear import LINEAR_FILE, LinearChurn
from model.treeshap import TreeExplainer

ModelKind = Task
BOOSTER_FILE = "booster.txt"
BUNDLE_FILE = "bundle.json"
SMALL_BATCH = 64
"""Up to this many rows are predicted on one thread: starting threads costs more than it saves."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class ModelBundle:
    """A trained churn or CLV booster with its encoding, calibration and model card.

    ``platt = (a, b)`` maps the churn booster's raw log-odds ``f`` to a calibrated probability
    ``sigmoid(a * f + b)``; being linear in ``f`` it maps TreeSHAP contributions too, so the
    reasons explain the calibrated score. CLV boosters (Tweedie, log link) predict spend directly.
    ``risk_tiers = (high, medium)``: churn probabilities from which a customer is in that tier.
    ``base_margin``: a CLV booster fitted on top of the BTYD value adds its trees to that margin.
    """

    kind: ModelKind
    booster: lgb.Booster | LinearChurn
    """The LightGBM booster, or a logistic regression (churn only; ``model.linear``)."""
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
        """Fail loudly if booster, encoding and the feature builder disagree on the features."""
        expected = feature_names(self.families, self.attributes)
        if self.card.attribute_schema is not None:
            expected += self.card.attribute_schema.feature_names
        booster_names = self.booster.feature_name()
        problems = []
        if list(self.encoding.inputs) != expected:
            missing = sorted(set(expected) - set(self.encoding.inputs))
            extra = sorted(set(self.encoding.inputs) - set(expected))
            problems.append(
                f"the {self.kind} model's features differ from the feature schema: "
                f"missing {missing}, unexpected {extra}"
                + ("" if missing or extra else " (same names, different order)")
            )
        if booster_names != list(self.encoding.columns):
            problems.append(f"the {self.kind} booster's feature names differ from its encoding")
        if self.card.task != self.kind or self.card.features != list(self.encoding.columns):
            problems.append(f"the {self.kind} model's card describes another model")
        if problems:
            raise DataValidationError("; ".join(problems))

    def _threads(self, rows: int) -> int:
        """One thread for a few rows (no thread start-up cost), else ``num_threads`` (0 = all)."""
        return 1 if rows <= SMALL_BATCH else self.num_threads

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Churn probability or expected spend for rows of an encoded matrix."""
        a, b = self.platt or (1.0, 0.0)
        if isinstance(self.booster, LinearChurn):
            return sigmoid(a * self.booster.raw_score(matrix) + b)
        threads = self._threads(len(matrix))
        if self.kind == "clv" and self.base_margin is not None:
            raw = np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=threads))
            return np.exp(raw + self.base_margin.of_matrix(matrix, self.encoding.columns))
        if self.kind == "clv":
            return np.asarray(self.booster.predict(matrix, num_threads=threads), dtype=np.float64)
        raw = np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=threads))
        return sigmoid(a * raw + b)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores for a feature frame (columns by name, as ``build_features`` returns them)."""
        return self.predict_matrix(self.encoding.transform(frame))

    @cached_property
    def explainer(self) -> TreeExplainer | None:
        """Table-driven TreeSHAP for shallow trees (None: deeper trees, LightGBM's own is used,
        or a linear model, whose contributions are its terms)."""
        if isinstance(self.booster, LinearChurn):
            return None
        return TreeExplainer.from_booster(self.booster)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions, shape (rows, features + 1); the last column is the base value.

        Churn: in calibrated log-odds, summing to ``logit(probability)``. CLV: in log spend,
        summing to ``log(expected spend)``. Equal to LightGBM's ``pred_contrib``, computed from
        precomputed per-tree tables when the trees are shallow (several times faster). A linear
        churn model's are coefficient x standardized value, summing exactly to its log-odds (and
        mapped by ``platt`` like the booster's).
        """
        if isinstance(self.booster, LinearChurn):
            contrib = self.booster.contributions(matrix)
        elif self.explainer is not None:
            contrib = self.explainer.contributions(matrix)
        else:
            contrib = np.asarray(
                self.booster.predict(
                    matrix, pred_contrib=True, num_threads=self._threads(len(matrix))
                ),
                dtype=np.float64,
            )
        if self.kind == "churn" and self.platt is not None:
            a, b = self.platt
            contrib = contrib * a
            contrib[:, -1] += b
        if self.base_margin is not None:  # the base value of each row includes its margin
            contrib = contrib.copy()
            contrib[:, -1] += self.base_margin.of_matrix(matrix, self.encoding.columns)
        return contrib

    def save(self, folder: Path) -> Path:
        """Write the bundle's three files (booster, description, card) into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(self.booster, LinearChurn):
            self.booster.save(folder / LINEAR_FILE)
        else:
            self.booster.save_model(str(folder / BOOSTER_FILE))
        meta = {
            "kind": self.kind,
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
        linear = folder / LINEAR_FILE
        booster: lgb.Booster | LinearChurn = (
            LinearChurn.load(linear)
            if linear.exists()
            else lgb.Booster(model_file=str(folder / BOOSTER_FILE))
        )
        platt, tiers, margin = meta.get("platt"), meta.get("risk_tiers"), meta.get("base_margin")
        return cls(
            kind=meta["kind"],
            booster=booster,
            encoding=FeatureEncoding.from_dict(meta["encoding"]),
            horizon_days=int(meta["horizon_days"]),
            families=list(meta["families"]),
            card=card,
            attributes=list(meta.get("attributes", [])),
            platt=(float(platt[0]), float(platt[1])) if platt else None,
            risk_tiers=(float(tiers[0]), float(tiers[1])) if tiers else None,
            base_margin=BtydMargin.from_dict(margin) if margin else None,
        )
