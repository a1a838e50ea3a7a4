"""``retain package``: champion models from the MLflow registry into the BentoML model store.

Each bundle becomes a BentoML model (``retain-churn``, ``retain-clv``) whose metadata carries the
registry name and version, the feature list and the training metrics; the service loads them
from the store, so a bento built afterwards contains exactly these files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.errors import RetainError
from model.bundle import ModelBundle
from model.settings import retain_home
from serving.scorer import Scorer, read_feature_table

BENTO_NAMES = {"churn": "retain-churn", "clv": "retain-clv"}


def feature_table_path() -> Path:
    """Where ``retain score`` writes, and the service reads, the latest features per customer."""
    env = os.environ.get("RETAIN_FEATURE_TABLE")
    return Path(env) if env else retain_home() / "serving" / "features_latest.parquet"


def version_label(metadata: dict[str, Any], kind: str) -> str:
    """'<registered name>:<version>' of a packaged model, from its BentoML metadata."""
    return f"{metadata.get('registry_name', kind)}:{metadata.get('registry_version', '?')}"


def make_scorer(
    churn_dir: Path,
    churn_meta: dict[str, Any],
    clv_dir: Path,
    clv_meta: dict[str, Any],
    *,
    top_k: int = 3,
    threads: int = 0,
    with_feature_table: bool = True,
) -> Scorer:
    """A Scorer over two packaged bundles (and the lookup table, if one has been written)."""
    churn, clv = ModelBundle.load(churn_dir), ModelBundle.load(clv_dir)
    churn.num_threads = clv.num_threads = threads
    versions = {"churn": version_label(churn_meta, "churn"), "clv": version_label(clv_meta, "clv")}
    path = feature_table_path()
    table = read_feature_table(path) if with_feature_table and path.exists() else None
    return Scorer(churn, clv, versions, top_k=top_k, feature_table=table, feature_table_path=path)


def load_packaged_scorer(
    *, top_k: int = 3, threads: int = 0, with_feature_table: bool = False
) -> Scorer:
    """The Scorer of the latest packaged models in the BentoML store (for batch scoring)."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        churn = bentoml.models.get(f"{BENTO_NAMES['churn']}:latest")
        clv = bentoml.models.get(f"{BENTO_NAMES['clv']}:latest")
    except NotFound as err:
        raise RetainError(
            f"no packaged models in the BentoML store ({err}); run `retain package` first"
        ) from None
    return make_scorer(
        Path(churn.path),
        dict(churn.info.metadata),
        Path(clv.path),
        dict(clv.info.metadata),
        top_k=top_k,
        threads=threads,
        with_feature_table=with_feature_table,
    )


@dataclass(frozen=True)
class PackagedModel:
    kind: str
    tag: str
    registry_name: str
    version: str
    path: Path


def package(
    churn_name: str = "churn",
    clv_name: str = "clv",
    *,
    alias: str = "champion",
    tracking_uri: str | None = None,
) -> list[PackagedModel]:
    """Copy the ``alias`` versions of both registered models into the BentoML model store."""
    import bentoml
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    from model.settings import disable_telemetry

    disable_telemetry()
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient()
    out = []
    for kind, name in (("churn", churn_name), ("clv", clv_name)):
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException as err:
            raise RetainError(
                f"registered model {name!r} has no '{alias}' version at {mlflow.get_tracking_uri()}: "
                "run `retain train` first (or check MLFLOW_TRACKING_URI)"
            ) from err
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    f"models:/{name}/{version.version}", dst_path=tmp
                )
            )
            data = Model.load(str(local)).flavors.get("python_function", {}).get("data")
            if data is None:
                raise RetainError(
                    f"{name} v{version.version} is not a retain model (no bundle folder)"
                )
            bundle_dir = local / data
            bundle = ModelBundle.load(bundle_dir)
            if bundle.kind != kind:
                raise RetainError(
                    f"{name} v{version.version} is a {bundle.kind} model, expected {kind}"
                )
            bundle.check_schema()
            run = client.get_run(version.run_id) if version.run_id else None
            metadata: dict[str, Any] = {
                "registry_name": name,
                "registry_version": str(version.version),
                "alias": alias,
                "run_id": version.run_id or "",
                "tracking_uri": mlflow.get_tracking_uri(),
                "features": list(bundle.encoding.columns),
                "horizon_days": bundle.horizon_days,
                "trained_at": bundle.card.trained_at,
                "test_metrics": {
                    k.removeprefix("test."): v
                    for k, v in (run.data.metrics if run else {}).items()
                    if k.startswith("test.") and k.count(".") == 1
                },
            }
            with bentoml.models.create(
                BENTO_NAMES[kind],
                labels={"registry_name": name, "registry_version": str(version.version)},
                metadata=metadata,
            ) as model_ref:
                for item in bundle_dir.iterdir():
                    shutil.copy2(item, Path(model_ref.path) / item.name)
            out.append(
                PackagedModel(
                    kind, str(model_ref.tag), name, str(version.version), Path(model_ref.path)
                )
            )
    return out
