"""Training fixtures: one small out-of-time fold of the demo data, shared by the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ExperimentConfig
from core.config_file import load_config
from tests.helpers import write_config
from training.candidates import Fold
from training.dataset import load_training_data

FAST_LIGHTGBM = {"n_estimators": 60, "early_stopping_rounds": 20}


def small_config(folder: Path, data: Path, name: str, **overrides: object) -> ExperimentConfig:
    """The demo experiment on few training cutoffs with short boosting: seconds, not minutes."""
    folder.mkdir(parents=True, exist_ok=True)
    return load_config(
        write_config(
            folder / f"{name}.yaml",
            data,
            name=name,
            **{
                "split": {"max_train_cutoffs": 2},
                "churn": {"lightgbm": FAST_LIGHTGBM},
                "clv": {"lightgbm": FAST_LIGHTGBM},
                **overrides,
            },
        )
    )


@pytest.fixture(scope="session")
def small_fold(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Fold:
    """The demo retail data loaded, snapshotted and split once, with its encoded matrices."""
    config = small_config(tmp_path_factory.mktemp("fold"), demo_data / "retail", "fold")
    return Fold(config, load_training_data(config, progress=False))
