"""The package manifest: which churn, CLV and uplift models ``retain package`` made current together.

``retain package`` stores each model in BentoML's store (every one marked with the run's package
id), then, last, a ``retain-package`` model whose metadata names their exact tags: storing it is
the commit (BentoML moves its ``latest`` pointer only once the model is complete). The service and
batch scoring read the manifest's tags, never each model's ``:latest``, so a run killed before its
manifest leaves the previous package current, and its models are orphans the next run removes.

A store packaged by an older retain (models without a package id, no manifest) is still read, by
each model's ``latest``, until it is packaged again.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import RetainError
from core.settings import bentoml_home

PACKAGE = "retain-package"
"""The BentoML model name of the manifests; its ``latest`` is the current package."""
PACKAGE_ID = "package_id"
"""Metadata key of a packaged model (and of a manifest): the ``retain package`` run it is from."""
NO_PACKAGE = "no packaged models in the BentoML store: run `retain package` first"


@dataclass(frozen=True)
class Manifest:
    """The exact BentoML tags of one package's models (None: not in the package)."""

    churn: str
    clv: str | None
    uplift: str | None
    tag: str | None = None
    """The manifest's own tag; None for a store packaged by an older retain."""

    @property
    def models(self) -> list[str]:
        """Which models the package serves: churn, and clv and uplift when packaged."""
        return ["churn"] + [k for k in ("clv", "uplift") if getattr(self, k) is not None]


def new_package_id() -> str:
    """A fresh package id; every model of one ``retain package`` run carries it."""
    return uuid.uuid4().hex


def write_manifest(package_id: str, tags: dict[str, str | None]) -> Manifest:
    """Store the manifest naming ``tags`` ({"churn": tag, "clv": tag or None, "uplift": ...}):
    the commit that makes them current together."""
    import bentoml

    metadata = {PACKAGE_ID: package_id, **{k: v or "" for k, v in tags.items()}}
    with bentoml.models.create(PACKAGE, metadata=metadata) as ref:
        pass
    return _manifest(dict(metadata), str(ref.tag))


def _manifest(metadata: dict[str, Any], tag: str | None) -> Manifest:
    churn = str(metadata.get("churn") or "")
    if not churn:
        raise RetainError(f"the package manifest {tag} names no churn model: {NO_PACKAGE}")
    return Manifest(
        churn,
        str(metadata.get("clv") or "") or None,
        str(metadata.get("uplift") or "") or None,
        tag,
    )


def current_package(churn_name: str, clv_name: str, paired_uplift: str) -> Manifest:
    """The current package: the latest manifest's tags; a RetainError when there is none.

    A store without manifests whose latest churn model carries no package id was packaged by an
    older retain: its latest churn and CLV models (and the uplift model recorded with the churn
    model under ``paired_uplift``) are the package. Models of a killed run carry a package id
    and are never taken so.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        model = bentoml.models.get(f"{PACKAGE}:latest")
    except NotFound:
        pass
    except Exception as err:  # a damaged manifest: say so, the next `retain package` mends it
        raise RetainError(f"the package manifest cannot be read ({err}): {NO_PACKAGE}") from None
    else:
        return _manifest(dict(model.info.metadata), str(model.tag))
    try:
        churn = bentoml.models.get(f"{churn_name}:latest")
    except NotFound:
        raise RetainError(NO_PACKAGE) from None
    if PACKAGE_ID in churn.info.metadata:  # a killed run's model, never committed
        raise RetainError(NO_PACKAGE)
    try:
        clv: str | None = str(bentoml.models.get(f"{clv_name}:latest").tag)
    except NotFound:
        clv = None
    uplift = str(churn.info.metadata.get(paired_uplift) or "") or None
    return Manifest(str(churn.tag), clv, uplift)


def remove_orphans(names: Sequence[str]) -> list[str]:
    """Delete the models of ``names`` (and manifests) left by killed ``retain package`` runs.

    An orphan carries a package id that no stored manifest has; a model without a package id
    (packaged by an older retain) is kept; a model folder without BentoML's ``model.yaml`` (a
    run killed while copying its files) is removed first. Returns the tags removed.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    names = list(dict.fromkeys([*names, PACKAGE]))
    removed = [f"{name}:{v}" for name in names for v in _remove_incomplete(name)]
    try:
        manifests = bentoml.models.list(PACKAGE)
    except NotFound:
        manifests = []
    committed = {str(m.info.metadata.get(PACKAGE_ID)) for m in manifests}
    for name in names:
        try:
            models = bentoml.models.list(name)
        except NotFound:
            continue
        for model in models:
            package_id = model.info.metadata.get(PACKAGE_ID)
            if package_id is not None and str(package_id) not in committed:
                bentoml.models.delete(model.tag)
                removed.append(str(model.tag))
    return removed


def _remove_incomplete(name: str) -> list[str]:
    """Remove the version folders of model ``name`` that BentoML never finished (no
    ``model.yaml``): a killed copy, which no ``latest`` points at and BentoML cannot list."""
    folder = bentoml_home() / "models" / name  # BentoML's store layout: models/<name>/<version>
    if not folder.is_dir():
        return []
    incomplete = [p for p in folder.iterdir() if p.is_dir() and not (p / "model.yaml").exists()]
    for path in incomplete:
        shutil.rmtree(path)
    return [p.name for p in incomplete]


__all__ = [
    "NO_PACKAGE",
    "PACKAGE",
    "PACKAGE_ID",
    "Manifest",
    "current_package",
    "new_package_id",
    "remove_orphans",
    "write_manifest",
]
