"""The deployable uplift model: the offer's effect on churn and on value, per customer.

An uplift bundle holds the final-stage regressors of an X- or DR-learner (``training.uplift``):
the effect is a weighted sum of their raw predictions, one sum for the reduction in churn
probability (``uplift``: positive, the offer helps; negative, a "sleeping dog") and one for the
spend it adds over the horizon (``expected_incremental_value``). Features come from the same
encoding and feature builder as the churn and CLV models.

On disk one folder: ``uplift.json`` (encoding, families, weights, learner, campaigns, metrics) and
one LightGBM text model per regressor. When the response model won the targeting-policy
competition the bundle also carries it (``response``), and ``retain score`` writes its
probability as ``offer_response`` for the campaign to rank by. In the registry it is a pyfunc
model whose ``predict`` returns both effects; ``log_uplift_bundle`` and ``load_uplift_version``
are the two sides.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from core.errors import DataValidationError
from features.build import feature_names
from model.encoding import FeatureEncoding
from model.treeshap import TreeExplainer

UPLIFT = "uplift"
"""The score column of the reduction in churn probability the offer brings."""
INCREMENTAL_VALUE = "expected_incremental_value"
"""The score column of the spend the offer adds over the horizon."""
OFFER_RESPONSE = "offer_response"
"""The score column of the response model: P(retained | offered), when the bundle carries it."""
UPLIFT_FILE = "uplift.json"
EFFECTS = ("churn_effect", "value_effect")
STAGES = (*EFFECTS, "response")
"""Every stage on disk; ``response`` is empty unless the response policy won."""

Stage = list[tuple[float, lgb.Booster]]


@dataclass
class UpliftBundle:
    """Two weighted sums of boosters over one feature encoding, and what they were fitted on."""

    encoding: FeatureEncoding
    families: list[str]
    horizon_days: int
    learner: str
    churn_effect: Stage
    value_effect: Stage
    attributes: list[str] = field(default_factory=list)
    snapshot_features: list[str] = field(default_factory=list)
    """Features of a snapshots table's own attributes (after the event features), when trained
    on one: the labelled model's ``AttributeSchema.feature_names``."""
    card: dict[str, Any] = field(default_factory=dict)
    """Experiment, training time, campaigns, rows and held-out metrics (JSON-safe)."""
    response: Stage = field(default_factory=list)
    """The response model (a classifier of retention on the treated arm, its probability), kept
    when that policy won the competition, so the campaign can rank by it; else empty."""

    def responses(self, frame: pd.DataFrame) -> pd.Series | None:
        """P(retained | offered) per row of a feature frame; None without a response stage."""
        if not self.response:
            return None
        matrix = self.encoding.transform(frame)
        return pd.Series(self._sum(self.response, matrix), index=frame.index, name=OFFER_RESPONSE)

    def check_schema(self) -> None:
        """Fail loudly if the boosters, encoding and the feature builder disagree."""
        expected = feature_names(self.families, self.attributes) + self.snapshot_features
        if list(self.encoding.columns) != expected:
            missing = sorted(set(expected) - set(self.encoding.columns))
            extra = sorted(set(self.encoding.columns) - set(expected))
            raise DataValidationError(
                f"the uplift model's features differ from the feature schema: missing {missing}, "
                f"unexpected {extra}"
            )
        for _, booster in [*self.churn_effect, *self.value_effect, *self.response]:
            if booster.feature_name() != list(self.encoding.model_columns):
                raise DataValidationError("an uplift booster's features differ from its encoding")

    @staticmethod
    def _sum(stage: Stage, matrix: np.ndarray) -> np.ndarray:
        out = np.zeros(len(matrix))
        for weight, booster in stage:
            out += weight * np.asarray(booster.predict(matrix, num_threads=1), dtype=np.float64)
        return out

    def effects_matrix(self, matrix: np.ndarray) -> pd.DataFrame:
        """``uplift`` and ``expected_incremental_value`` for rows of an encoded matrix."""
        return pd.DataFrame(
            {
                UPLIFT: self._sum(self.churn_effect, matrix),
                INCREMENTAL_VALUE: self._sum(self.value_effect, matrix),
            }
        )

    def effects(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Both effects for a feature frame (columns by name, as ``build_features`` gives)."""
        out = self.effects_matrix(self.encoding.transform(frame))
        out.index = frame.index
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The reduction in churn probability (the gate's and the signature's score)."""
        return self._sum(self.churn_effect, self.encoding.transform(frame))

    @cached_property
    def explainers(self) -> list[TreeExplainer | None]:
        """Table-driven TreeSHAP per churn-effect regressor (None: deep trees, LightGBM's own)."""
        return [TreeExplainer.from_booster(booster) for _, booster in self.churn_effect]

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact additive contributions to ``uplift``: shape (rows, features + 1), base value last.

        The effect is a weighted sum of regressors with an identity link, so the weighted sum
        of their TreeSHAP values (LightGBM's ``pred_contrib``) explains it exactly: each row sums
        to the row's ``uplift``. For the X-learner, ``g * tau0 + (1 - g) * tau1`` with ``g`` the
        campaigns' (constant) treated share; for the DR-learner, its one final regressor. The
        last column, the weighted regressors' expected values, is the same for every row.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        out = np.zeros((len(matrix), len(self.encoding.columns) + 1))
        for (weight, booster), explainer in zip(self.churn_effect, self.explainers, strict=True):
            if explainer is not None:
                part = explainer.contributions(matrix)
            else:
                part = np.asarray(
                    booster.predict(matrix, pred_contrib=True, num_threads=1), dtype=np.float64
                )
            out += weight * part
        return out

    @cached_property
    def base_value(self) -> float:
        """The uplift before any feature is known: the contributions' last column."""
        empty = np.full((1, len(self.encoding.columns)), np.nan)
        return float(self.contributions(empty)[0, -1])

    def check_serves_with(self, columns: list[str], horizon_days: int, label: str) -> None:
        """Fail loudly unless this model can score beside churn and CLV models.

        ``columns`` are the features the churn and CLV models are given (their feature families
        and attributes); the uplift model must need none beyond them and share their horizon,
        or its effect would be of another churn than the one scored.
        """
        self.check_schema()
        missing = self.encoding.missing_from(columns)
        if missing:
            raise DataValidationError(
                f"the uplift model {label} needs features the churn and CLV models do not compute "
                f"({missing[:5]}{' ...' if len(missing) > 5 else ''}): train them on one config "
                "and run `retain package` again"
            )
        if self.horizon_days != horizon_days:
            raise DataValidationError(
                f"the uplift model {label} has a {self.horizon_days}-day horizon, the churn model "
                f"{horizon_days} days: train them on one config and run `retain package` again"
            )

    def save(self, folder: Path) -> Path:
        """Write ``uplift.json`` and one booster file per regressor into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        stages: dict[str, list[dict[str, Any]]] = {}
        for name in STAGES:
            stages[name] = []
            for i, (weight, booster) in enumerate(getattr(self, name)):
                file = f"{name}_{i}.txt"
                booster.save_model(str(folder / file))
                stages[name].append({"weight": weight, "file": file})
        meta = {
            "kind": UPLIFT,
            "encoding": self.encoding.to_dict(),
            "families": self.families,
            "attributes": self.attributes,
            "snapshot_features": self.snapshot_features,
            "horizon_days": self.horizon_days,
            "learner": self.learner,
            "stages": stages,
            "card": self.card,
        }
        (folder / UPLIFT_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path) -> UpliftBundle:
        """Read a bundle written by ``save``."""
        path = folder / UPLIFT_FILE
        if not path.exists():
            raise DataValidationError(
                f"not a retain uplift model folder (no {UPLIFT_FILE}): {folder}"
            )
        meta = json.loads(path.read_text())
        stages = {
            name: [
                (float(s["weight"]), lgb.Booster(model_file=str(folder / s["file"])))
                for s in meta["stages"].get(name, [])
            ]
            for name in STAGES
        }
        return cls(
            encoding=FeatureEncoding.from_dict(meta["encoding"]),
            families=list(meta["families"]),
            horizon_days=int(meta["horizon_days"]),
            learner=str(meta["learner"]),
            churn_effect=stages["churn_effect"],
            value_effect=stages["value_effect"],
            attributes=list(meta.get("attributes", [])),
            snapshot_features=list(meta.get("snapshot_features", [])),
            card=dict(meta.get("card", {})),
            response=stages["response"],
        )


class UpliftPyfunc:
    """What MLflow's pyfunc wrapper calls: both effects per row."""

    def __init__(self, bundle: UpliftBundle) -> None:
        self.bundle = bundle

    def predict(
        self, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.bundle.effects(pd.DataFrame(model_input)).reset_index(drop=True)


def _load_pyfunc(data_path: str) -> UpliftPyfunc:
    """Entry point MLflow calls with the folder holding the bundle files."""
    return UpliftPyfunc(UpliftBundle.load(Path(data_path)))


def log_uplift_bundle(
    bundle: UpliftBundle, example: pd.DataFrame, registered_name: str | None = None
) -> Any:
    """Log the bundle in the active run as a pyfunc model with signature; register it if named."""
    import mlflow
    from mlflow.models import infer_signature

    from model.registry import BUNDLE_ARTIFACT, pip_requirements

    with tempfile.TemporaryDirectory() as tmp:
        folder = bundle.save(Path(tmp) / BUNDLE_ARTIFACT)
        signature = infer_signature(example, bundle.effects(example).reset_index(drop=True))
        return mlflow.pyfunc.log_model(
            name="uplift_model",
            loader_module="model.uplift_bundle",
            data_path=str(folder),
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=registered_name,
            metadata={"retain_kind": UPLIFT, "features": list(bundle.encoding.columns)},
        )


@dataclass(frozen=True)
class RegisteredUplift:
    """A registered uplift version's bundle, with where it came from."""

    name: str
    version: str
    bundle: UpliftBundle

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


def load_uplift_version(name: str, version: str, *, tracking_uri: str) -> RegisteredUplift:
    """Download a registered uplift version from the store at ``tracking_uri``; load its bundle."""
    from mlflow.exceptions import MlflowException

    from model.registry import RegistryError, bundle_folder, download_model, mlflow_client

    try:
        mlflow_client(tracking_uri).get_model_version(name, version)
    except MlflowException as err:
        raise RegistryError(f"model {name!r} has no version {version!r}") from err
    with tempfile.TemporaryDirectory() as tmp:
        local = download_model(name, version, tracking_uri=tracking_uri, into=Path(tmp))
        bundle = UpliftBundle.load(bundle_folder(local))
    return RegisteredUplift(name, str(version), bundle)
