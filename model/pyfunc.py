"""MLflow pyfunc loader for retain bundles: ``mlflow.pyfunc.load_model`` returns scores.

An ``LGBMClassifier`` served through MLflow's sklearn flavour answers with 0/1 labels; this loader
answers with calibrated churn probabilities (or expected spend), through the bundle's own predict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.bundle import ModelBundle


class BundlePyfunc:
    """The object MLflow's pyfunc wrapper calls ``predict`` on."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle

    def predict(
        self, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        return self.bundle.predict(pd.DataFrame(model_input))


def _load_pyfunc(data_path: str) -> BundlePyfunc:
    """Entry point MLflow calls with the folder holding the bundle files."""
    return BundlePyfunc(ModelBundle.load(Path(data_path)))
