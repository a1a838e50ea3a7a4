"""Training fixtures: one small out-of-time fold of the demo data, shared by the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ExperimentConfig
from core.config_file import load_config
from tests.helpers import FAST_LIGHTGBM, SMALL_TRAINING, write_config
from training.candidates import Fold
from training.dataset import load_training_data

__all__ = ["FAST_LIGHTGBM", "small_config"]


def small_config(folder: Path, data: Path, name: str, **overrides: object) -> ExperimentConfig:
    """The demo experiment on few training cutoffs with short boosting: seconds, not minutes."""
    folder.mkdir(parents=True, exist_ok=True)
    return load_config(
        write_config(
            folder / f"{name}.yaml",
            data,
            name=name,
            **{**SMALL_TRAINING, **overrides},
        )
    )


@pytest.fixture(scope="session")
def small_fold(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Fold:
    """The demo retail data loaded, snapshotted and split once, with its encoded matrices."""
    config = small_config(tmp_path_factory.mktemp("fold"), demo_data / "retail", "fold")
    return Fold(config, load_training_data(config, progress=False))
