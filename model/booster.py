"""A LightGBM booster as a servable model (``model.servable``): scores, TreeSHAP reasons, a file.

Stored as LightGBM's text model, ``booster.txt`` in a bundle folder. Reasons come from the
table-driven TreeSHAP of ``model.treeshap`` when the trees are shallow, else from LightGBM's own
``pred_contrib``; both equal LightGBM's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import numpy as np

from model.servable import servable
from model.treeshap import TreeExplainer

BOOSTER_FILE = "booster.txt"


@servable
@dataclass(eq=False)
class LightGBMModel:
    """A fitted LightGBM booster behind the servable-model protocol."""

    tag: ClassVar[str] = "lightgbm"

    booster: lgb.Booster

    @cached_property
    def explainer(self) -> TreeExplainer | None:
        """Table-driven TreeSHAP for shallow trees (None: deeper trees, LightGBM's own is used)."""
        return TreeExplainer.from_booster(self.booster)

    def feature_name(self) -> list[str]:
        """The encoded columns the booster reads, in order."""
        return list(self.booster.feature_name())

    def raw_score(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """The booster's raw score (log-odds for a binary booster, log spend for Tweedie)."""
        return np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=threads))

    def predict(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """The booster's prediction through its objective's inverse link."""
        return np.asarray(self.booster.predict(matrix, num_threads=threads), dtype=np.float64)

    def contributions(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """TreeSHAP contributions, shape (rows, features + 1), the base value last."""
        if self.explainer is not None:
            return self.explainer.contributions(matrix)
        return np.asarray(
            self.booster.predict(matrix, pred_contrib=True, num_threads=threads),
            dtype=np.float64,
        )

    def save_into(self, folder: Path) -> None:
        """LightGBM's text model as ``booster.txt``."""
        self.booster.save_model(str(folder / BOOSTER_FILE))

    @classmethod
    def load_from(cls, folder: Path) -> LightGBMModel:
        """The booster of ``booster.txt``."""
        return cls(lgb.Booster(model_file=str(folder / BOOSTER_FILE)))
