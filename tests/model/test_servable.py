"""The servable-model protocol: a new model type is one class, served with no change elsewhere.

``RecencyLine`` is defined here only: a churn model whose log-odds are ``slope * recency +
intercept``. It goes through the bundle (save, load, score, reasons) and the service's scorer as
the LightGBM booster and the logistic regression do. Bundles saved before the model's tag was
written still load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from core.errors import DataValidationError
from model.booster import LightGBMModel
from model.bundle import BUNDLE_FILE, ModelBundle, sigmoid
from model.encoding import FeatureEncoding
from model.linear import LinearChurn
from model.servable import ServableModel, servable
from serving.scorer import Scorer
from tests.helpers import card_for
from tests.serving.support import TINY_ATTRIBUTES, TINY_FAMILIES, tiny_features, tiny_scorer

RECENCY = "days_since_last_purchase"
ROOT = Path(__file__).resolve().parents[2]


@servable
@dataclass(frozen=True)
class RecencyLine:
    """Churn log-odds rising linearly with days since the last purchase (missing: 0 days)."""

    tag: ClassVar[str] = "recency_line"

    names: tuple[str, ...]
    slope: float
    intercept: float

    def feature_name(self) -> list[str]:
        return list(self.names)

    def _recency(self, matrix: np.ndarray) -> np.ndarray:
        return np.nan_to_num(matrix[:, self.names.index(RECENCY)])

    def raw_score(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        return self.slope * self._recency(matrix) + self.intercept

    def predict(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        return sigmoid(self.raw_score(matrix))

    def contributions(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        out = np.zeros((len(matrix), len(self.names) + 1))
        out[:, self.names.index(RECENCY)] = self.slope * self._recency(matrix)
        out[:, -1] = self.intercept
        return out

    def save_into(self, folder: Path) -> None:
        line = {"names": list(self.names), "slope": self.slope, "intercept": self.intercept}
        (folder / "line.json").write_text(json.dumps(line))

    @classmethod
    def load_from(cls, folder: Path) -> RecencyLine:
        line = json.loads((folder / "line.json").read_text())
        return cls(tuple(line["names"]), line["slope"], line["intercept"])


def line_bundle(frame: pd.DataFrame) -> ModelBundle:
    """A churn bundle of the recency line over ``frame``'s encoding, calibrated by (2, -1)."""
    encoding = FeatureEncoding.fit(frame)
    model: ServableModel = RecencyLine(encoding.columns, 0.01, -1.5)
    return ModelBundle(
        kind="churn",
        model=model,
        encoding=encoding,
        horizon_days=90,
        families=list(TINY_FAMILIES),
        card=card_for("churn", list(encoding.columns), model="recency_line", experiment="tiny"),
        attributes=list(TINY_ATTRIBUTES),
        platt=(2.0, -1.0),
        risk_tiers=(0.65, 0.4),
    )


def test_a_new_servable_model_round_trips_through_the_bundle_and_the_scorer(
    tmp_path: Path,
) -> None:
    frame = tiny_features(200, seed=4)
    loaded = ModelBundle.load(line_bundle(frame).save(tmp_path / "churn"))
    assert json.loads((tmp_path / "churn" / BUNDLE_FILE).read_text())["model"] == "recency_line"
    assert loaded.model == RecencyLine(loaded.encoding.columns, 0.01, -1.5)
    loaded.check_schema()
    recency = frame[RECENCY].fillna(0.0).to_numpy()
    logit = 2.0 * (0.01 * recency - 1.5) - 1.0
    np.testing.assert_allclose(loaded.predict(frame), sigmoid(logit), rtol=1e-12)
    matrix = loaded.encoding.transform(frame)
    contributions = loaded.contributions(matrix)
    column = loaded.encoding.columns.index(RECENCY)
    np.testing.assert_allclose(contributions[:, column], 0.02 * recency, rtol=1e-12)
    np.testing.assert_allclose(contributions[:, -1], 2.0 * -1.5 - 1.0, rtol=1e-12)
    np.testing.assert_allclose(contributions.sum(axis=1), logit, rtol=1e-12)
    # the service's scorer serves it beside a CLV booster: scores and the first reason
    clv = tiny_scorer().clv
    scorer = Scorer(loaded, clv, {"churn": "churn:1", "clv": "clv:1"}, top_k=1)
    scores = scorer.score(scorer.encode(frame))
    np.testing.assert_allclose(scores.churn, sigmoid(logit), rtol=1e-12)
    lapsed = recency > 0
    assert (scores.reason_index[lapsed, 0] == column).all()
    np.testing.assert_allclose(scores.reason_contribution[lapsed, 0], 0.02 * recency[lapsed])


@pytest.mark.parametrize("model", ["lightgbm", "linear"])
def test_bundles_saved_without_the_model_tag_still_load(model: str, tmp_path: Path) -> None:
    scorer = tiny_scorer()
    bundle = scorer.churn
    if model == "linear":
        matrix = bundle.encoding.transform(tiny_features(400, seed=1))
        churned = (matrix[:, bundle.encoding.columns.index(RECENCY)] > 150).astype(int)
        linear = LinearChurn.fit(
            matrix, churned, list(bundle.encoding.columns), bundle.encoding.categorical_indices
        )
        bundle = ModelBundle(**{**vars(bundle), "model": linear, "card": bundle.card})
    folder = bundle.save(tmp_path / model)
    meta = json.loads((folder / BUNDLE_FILE).read_text())
    assert meta.pop("model") == model
    (folder / BUNDLE_FILE).write_text(json.dumps(meta))
    again = ModelBundle.load(folder)
    assert type(again.model) is (LightGBMModel if model == "lightgbm" else LinearChurn)
    frame = tiny_features(50, seed=9)
    np.testing.assert_array_equal(again.predict(frame), bundle.predict(frame))
    matrix = bundle.encoding.transform(frame)
    np.testing.assert_array_equal(again.contributions(matrix), bundle.contributions(matrix))


def test_an_unknown_model_tag_names_the_known_ones(tmp_path: Path) -> None:
    folder = tiny_scorer().churn.save(tmp_path / "churn")
    meta = json.loads((folder / BUNDLE_FILE).read_text())
    (folder / BUNDLE_FILE).write_text(json.dumps({**meta, "model": "neural"}))
    with pytest.raises(DataValidationError, match=r"a 'neural' model, which this version cannot"):
        ModelBundle.load(folder)
    with pytest.raises(
        DataValidationError, match=r"'lightgbm', 'lightgbm_target_encoded', 'linear'"
    ):
        ModelBundle.load(folder)


def test_two_servable_models_cannot_share_a_tag() -> None:
    class Imposter(RecencyLine):
        pass

    with pytest.raises(ValueError, match="two servable models share the tag 'recency_line'"):
        servable(Imposter)


def test_no_code_branches_on_the_servable_model_types() -> None:
    """The bundle, the scorer and training call the protocol, never ``isinstance`` on a type."""
    branch = re.compile(r"isinstance\([^)]*(Booster|LinearChurn|LightGBMModel)")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("model", "serving", "training")
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if branch.search(line)
    ]
    assert found == []
