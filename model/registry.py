"""The MLflow side of the deployable model, defined once: store, names, aliases, tags, layout.

Training logs and registers bundles through ``log_bundle``; packaging and the gate read them back
through ``load_version``. Both sides take the tracking URI, the alias and tag names, and the place
of the bundle inside an MLflow model from here, so they cannot drift apart.

The default store is an embedded sqlite database at a fixed place (``<retain home>/mlflow.db``)
with artifacts beside it, set by absolute path because MLflow's own default depends on the working
directory. ``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``) points elsewhere, e.g. a server.
MLflow is imported inside the functions: the scoring service loads ``model`` without it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import RetainError
from core.settings import Settings, disable_telemetry, retain_home
from model.bundle import ModelBundle

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
CHALLENGER = "challenger"
PYFUNC_LOADER = "model.pyfunc"
"""The module MLflow's pyfunc flavour loads a logged bundle with (``mlflow models serve``)."""

BUNDLE_ARTIFACT = "bundle"
TEST_METRIC_PREFIX = "test."
"""Run metrics of the test cutoff are logged as ``test.<metric>`` (and ``test.<segment>.<metric>``)."""


class Tag:
    """Tag names on registered models and versions, written by the gate, read by ``retain models``."""

    DECISION = "retain.decision"
    REASON = "retain.reason"
    GATE_METRIC = "retain.gate_metric"
    GATE_SCORE = "retain.gate_score"
    GATE_CHAMPION_SCORE = "retain.gate_champion_score"
    GATE_INTERVAL = "retain.gate_interval"
    """'<low> <high> <level>': the paired bootstrap interval of (new - champion) on the gate metric."""
    CHAMPION_HISTORY = "retain.champion_history"
    POLICY = "retain.policy"
    """On an uplift version: the targeting policy chosen on validation (``training.policy_choice``)."""
    POLICY_REASON = "retain.policy_reason"
    POLICY_FIGURES = "retain.policy_figures"
    """JSON: the chosen policy's held-out Qini, AUUC and profit at the budget with intervals."""


class RegistryError(RetainError):
    """A registry operation cannot be done (unknown model or version, nothing to roll back to)."""


def default_tracking_uri() -> str:
    """sqlite store under retain's home, by absolute path."""
    return f"sqlite:///{retain_home() / 'mlflow.db'}"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri`` if given, else $MLFLOW_TRACKING_URI, else the local default store."""
    return uri or Settings.read().tracking_uri or default_tracking_uri()


def tracking_store(uri: str | None = None) -> str:
    """``resolve_tracking_uri(uri)``, ready to use (a local store's folder made, telemetry off).

    MLflow's process-wide URIs are left alone: clients are given this URI (``mlflow_client``).
    """
    disable_telemetry()
    os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")  # requirements are given explicitly
    uri = resolve_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def set_process_tracking_uri(uri: str | None = None) -> str:
    """Point MLflow's fluent API (runs, logged models) process-wide at the store; return its URI.

    The one place retain sets MLflow's global tracking and registry URIs, called at the start of
    a job that logs runs (``training.pipeline.train``); everything else passes the URI.
    """
    import mlflow

    uri = tracking_store(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def mlflow_client(uri: str) -> MlflowClient:
    """An MLflow client of the store at ``uri``, for tracking and registry alike."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a local store, else the server's choice."""
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        return (retain_home() / "mlartifacts").as_uri()
    return None


def pip_requirements() -> list[str]:
    """Exact versions of what loading a bundle needs (given, so MLflow need not infer them)."""
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "scikit-learn", "pyarrow")
    ]


def log_bundle(
    bundle: ModelBundle, example: pd.DataFrame, registered_name: str | None = None
) -> Any:
    """Log a bundle in the active run as a pyfunc model with its contract; register it if named.

    The model carries a signature and an input example built from real feature rows; the pyfunc
    loader is ``model.pyfunc``, so ``mlflow models serve`` returns scores, not labels.
    """
    import mlflow
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp:
        folder = bundle.save(Path(tmp) / BUNDLE_ARTIFACT)
        signature = infer_signature(example, bundle.predict(example))
        return mlflow.pyfunc.log_model(
            name=f"{bundle.kind}_model",
            loader_module=PYFUNC_LOADER,
            data_path=str(folder),
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=registered_name,
            metadata={"retain_kind": bundle.kind, "features": list(bundle.encoding.columns)},
        )


def bundle_folder(model_dir: Path) -> Path:
    """Where the bundle files sit inside a downloaded MLflow model folder."""
    from mlflow.models import Model

    flavor = Model.load(str(model_dir)).flavors.get("python_function", {})
    data = flavor.get("data")
    if data is None:
        raise RegistryError(f"{model_dir} is not a retain model (no pyfunc data folder)")
    return model_dir / data


def version_by_alias(name: str, alias: str = CHAMPION, *, tracking_uri: str) -> ModelVersion | None:
    """The version of ``name`` holding ``alias``, or None if the model or alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def models_with_alias(alias: str = CHAMPION, *, tracking_uri: str) -> list[str]:
    """Registered model names that have a version holding ``alias`` (for hints that name them)."""
    client = mlflow_client(tracking_uri)
    return sorted(m.name for m in client.search_registered_models() if alias in (m.aliases or {}))


def download_model(name: str, version: str, *, tracking_uri: str, into: Path) -> Path:
    """Download a registered version's MLflow model folder from the store at ``tracking_uri``.

    The version's storage location is asked of a client given the URI: a ``models:/`` URI would
    be resolved against MLflow's process-wide registry, which a command like `retain package`
    never sets."""
    from mlflow.artifacts import download_artifacts

    location = mlflow_client(tracking_uri).get_model_version_download_uri(name, version)
    return Path(download_artifacts(location, dst_path=str(into), tracking_uri=tracking_uri))


@dataclass(frozen=True)
class RegisteredBundle:
    """A registered version's bundle, with where it came from."""

    name: str
    version: str
    run_id: str
    bundle: ModelBundle

    @property
    def label(self) -> str:
        """'<registered name>:<version>', as scores and the service name a model."""
        return f"{self.name}:{self.version}"


def load_version(
    name: str, version: str, *, tracking_uri: str, into: Path | None = None
) -> RegisteredBundle:
    """Download a registered version and load its bundle.

    With ``into``, the bundle's files are also copied there (packaging keeps them); otherwise
    the download goes to a temporary folder that is removed.
    """
    import shutil

    from mlflow.exceptions import MlflowException

    try:
        mv = mlflow_client(tracking_uri).get_model_version(name, version)
    except MlflowException as err:
        raise RegistryError(f"model {name!r} has no version {version!r}") from err
    with tempfile.TemporaryDirectory() as tmp:
        local = download_model(name, version, tracking_uri=tracking_uri, into=Path(tmp))
        folder = bundle_folder(local)
        bundle = ModelBundle.load(folder)
        if into is not None:
            into.mkdir(parents=True, exist_ok=True)
            for item in folder.iterdir():
                shutil.copy2(item, into / item.name)
    return RegisteredBundle(name, str(version), mv.run_id or "", bundle)
