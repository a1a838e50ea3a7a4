"""MLflow plumbing: the tracking store, experiments, run tags, and logging a model bundle.

The default store is an embedded sqlite database at a fixed place (``<retain home>/mlflow.db``)
with artifacts beside it, set by absolute path because MLflow's own default depends on the working
directory. ``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``) points elsewhere, e.g. a server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from model.bundle import ModelBundle
from model.settings import disable_telemetry, project_root, retain_home

PYFUNC_LOADER = "model.pyfunc"
BUNDLE_ARTIFACT = "bundle"


def default_tracking_uri() -> str:
    """sqlite store under retain's home, by absolute path."""
    return f"sqlite:///{retain_home() / 'mlflow.db'}"


def configure_tracking(uri: str | None = None) -> str:
    """Point MLflow (tracking and registry) at ``uri``, $MLFLOW_TRACKING_URI or the default."""
    disable_telemetry()
    os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")  # requirements are given explicitly
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str, uri: str) -> str:
    """The id of experiment ``name``, created with artifacts beside a local store if new."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        location = (retain_home() / "mlartifacts").as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))


def git_commit() -> str:
    """The checkout's commit, with '+dirty' if it has uncommitted changes; 'unknown' outside git."""
    root = project_root()
    if root is None:
        return "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def data_fingerprint(transactions: pd.DataFrame) -> str:
    """A content hash of the canonical transactions, independent of row order."""
    hashes = pd.util.hash_pandas_object(transactions, index=False).to_numpy()
    return hashlib.sha256(np.sort(hashes).tobytes()).hexdigest()[:16]


def flatten(prefix: str, value: Any) -> dict[str, str]:
    """A nested config as flat MLflow params: {'churn.lightgbm.num_leaves': '31', ...}."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: str(value)[:6000]}


def pip_requirements() -> list[str]:
    """Exact versions of what loading a bundle needs (given, so MLflow need not infer them)."""
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "scikit-learn", "pyarrow")
    ]


def log_bundle(
    bundle: ModelBundle, example: pd.DataFrame, registered_name: str | None = None
) -> Any:
    """Log a bundle as a pyfunc model (probabilities for churn, spend for CLV) with its contract.

    The model carries a signature and an input example built from real feature rows; the
    pyfunc loader is ``model.pyfunc``, so ``mlflow models serve`` returns scores, not labels.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = bundle.save(Path(tmp) / BUNDLE_ARTIFACT)
        predictions = bundle.predict(example)
        signature = infer_signature(example, predictions)
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
