"""``retain package``: champion models from the MLflow registry into the BentoML model store.

Each bundle becomes a BentoML model (``retain-churn``, ``retain-clv`` when a CLV champion exists,
``retain-uplift`` when an uplift champion does) holding the bundle's files, and the package
becomes current all at once through its manifest (``serving.package_manifest``), written last;
its metadata carries the registry name and version (the version label answers show). What the
model is and how it tested (features, horizon, training date, test metrics) is in the bundle's
model card, read from the files. The registry side (tracking URI, alias, where the bundle sits in
an MLflow model) is ``model.registry``'s.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import RegistryConfig
from core.economics import Economics
from core.errors import RetainError
from core.risk_tiers import RiskTiers
from core.settings import Settings, test_hook
from model.bundle import ModelBundle
from model.registry import (
    CHAMPION,
    load_version,
    models_with_alias,
    tracking_store,
    version_by_alias,
)
from model.uplift_bundle import UpliftBundle, load_uplift_version
from serving.package_manifest import (
    PACKAGE,
    PACKAGE_ID,
    Manifest,
    current_package,
    new_package_id,
    remove_orphans,
    write_manifest,
)
from serving.scorer import Scorer, value_basis

PAIRED_UPLIFT = "uplift_model"
"""The churn model's metadata key naming the uplift model packaged with it ("": none)."""
BENTO_NAMES = {"churn": "retain-churn", "clv": "retain-clv", "uplift": "retain-uplift"}


def packaged(manifest: Manifest | None = None) -> Manifest:
    """The current package's tags (``serving.package_manifest``); RETAIN_CHURN_MODEL,
    RETAIN_CLV_MODEL and RETAIN_UPLIFT_MODEL, when set, choose a model themselves."""
    settings = Settings.read()
    chosen = {"churn": settings.churn_model, "clv": settings.clv_model}
    if manifest is None:
        try:
            manifest = current_package(BENTO_NAMES["churn"], BENTO_NAMES["clv"], PAIRED_UPLIFT)
        except RetainError:
            if not chosen["churn"]:
                raise
    churn = chosen["churn"] or (manifest.churn if manifest else "")
    clv = chosen["clv"] or (manifest.clv if manifest else None)
    uplift = manifest.uplift if manifest else None
    if settings.uplift_model:
        uplift = None if settings.uplift_model.strip().lower() == "none" else settings.uplift_model
    return Manifest(churn, clv, uplift, manifest.tag if manifest else None)


def version_label(metadata: dict[str, Any], kind: str) -> str:
    """'<registered name>:<version>' of a packaged model, from its BentoML metadata."""
    return f"{metadata.get('registry_name', kind)}:{metadata.get('registry_version', '?')}"


ECONOMICS = "economics"
"""Metadata key of the economics (``core.economics``) ``retain package --config`` recorded."""


def packaged_economics(metadata: dict[str, Any]) -> Economics:
    """The economics recorded with a packaged churn model; the defaults when none was."""
    recorded = metadata.get(ECONOMICS)
    if recorded is None:
        return Economics()
    try:
        return Economics.model_validate(recorded)
    except ValueError as err:
        raise RetainError(
            f"the packaged economics are not valid ({err}); run `retain package --config` again"
        ) from None


RISK_TIERS = "risk_tiers"
"""Metadata key of the risk tiers (``core.risk_tiers``) ``retain package --config`` recorded."""


def packaged_risk_tiers(metadata: dict[str, Any]) -> RiskTiers:
    """The risk tiers recorded with a packaged churn model; the defaults when none were (a
    model packaged before tiers were thresholds)."""
    recorded = metadata.get(RISK_TIERS)
    if recorded is None:
        return RiskTiers()
    try:
        return RiskTiers.model_validate(recorded)
    except ValueError as err:
        raise RetainError(
            f"the packaged risk tiers are not valid ({err}); run `retain package --config` again"
        ) from None


FILES = "files"
"""Metadata key of a packaged model's file manifest: {name: {"size": bytes, "sha256": hex}}."""


def file_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file of a bundle folder, recorded when it is packaged."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out[path.relative_to(folder).as_posix()] = {
            "size": path.stat().st_size,
            "sha256": _sha256(path),
        }
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(folder: Path, metadata: dict[str, Any], kind: str) -> None:
    """Check a packaged model's files against the manifest recorded by ``retain package``.

    Runs before anything is parsed, so a truncated or replaced booster is never handed to
    LightGBM. Raises ``RetainError`` naming the first damaged file.
    """
    again = "run `retain package` again"
    manifest = metadata.get(FILES)
    if not isinstance(manifest, dict) or not manifest:
        raise RetainError(
            f"the {kind} model has no file manifest (packaged by an older retain): {again}"
        )
    for name, expected in sorted(manifest.items()):
        path = folder / name
        if not path.is_file():
            raise RetainError(f"the {kind} model's file {name} is missing: {again}")
        size = path.stat().st_size
        if size != expected.get("size"):
            raise RetainError(
                f"the {kind} model's file {name} is {size} bytes, packaged as "
                f"{expected.get('size')}: the model is damaged; {again}"
            )
        if _sha256(path) != expected.get("sha256"):
            raise RetainError(
                f"the {kind} model's file {name} does not match its packaged SHA-256: "
                f"the model is damaged; {again}"
            )


def load_verified(folder: Path, metadata: dict[str, Any], kind: str) -> ModelBundle:
    """The bundle of a packaged model, its files verified first; any failure is a RetainError."""
    verify_files(folder, metadata, kind)
    try:
        bundle = ModelBundle.load(folder)
    except RetainError:
        raise
    except Exception as err:  # a verified file that still does not parse: say which model
        raise RetainError(f"the {kind} model cannot be loaded: {err!r}") from err
    if bundle.kind != kind:
        raise RetainError(f"the {kind} model slot holds a {bundle.kind} model")
    return bundle


def make_scorer(
    churn_dir: Path,
    churn_meta: dict[str, Any],
    clv_dir: Path | None,
    clv_meta: dict[str, Any] | None,
    *,
    top_k: int = 3,
    threads: int = 0,
    uplift: UpliftBundle | None = None,
    uplift_label: str | None = None,
) -> Scorer:
    """A Scorer over the packaged bundles (files verified first), labelled with their versions;
    without ``clv_dir`` churn alone; with ``uplift`` (``serving.uplift_store.load_uplift_folder``)
    it adds the offer's effect."""
    churn = load_verified(churn_dir, churn_meta, "churn")
    clv = None
    if clv_dir is not None and clv_meta is not None:
        clv = load_verified(clv_dir, clv_meta, "clv")
        clv.num_threads = threads
    churn.num_threads = threads
    versions: dict[str, str | None] = {
        "churn": version_label(churn_meta, "churn"),
        "clv": None if clv_meta is None else version_label(clv_meta, "clv"),
    }
    return Scorer(
        churn,
        clv,
        versions,
        top_k=top_k,
        economics=packaged_economics(churn_meta),
        risk_tiers=packaged_risk_tiers(churn_meta),
        uplift=uplift,
        uplift_label=uplift_label,
    )


def load_packaged_scorer(*, top_k: int = 3, threads: int = 0) -> Scorer:
    """The Scorer of the current package's churn and CLV models (for batch scoring)."""
    import bentoml
    from bentoml.exceptions import NotFound

    tags = packaged()
    try:
        churn = bentoml.models.get(tags.churn)
        clv = None if tags.clv is None else bentoml.models.get(tags.clv)
    except NotFound as err:
        raise RetainError(
            f"a packaged model is missing from the BentoML store ({err}); run `retain package`"
        ) from None
    return make_scorer(
        Path(churn.path),
        dict(churn.info.metadata),
        None if clv is None else Path(clv.path),
        None if clv is None else dict(clv.info.metadata),
        top_k=top_k,
        threads=threads,
    )


@dataclass(frozen=True)
class PackagedModel:
    kind: str
    tag: str
    registry_name: str
    version: str
    path: Path


def missing_model_hint(name: str, alias: str, uri: str) -> str:
    """Why ``name@alias`` cannot be packaged, naming the models the registry does have."""
    others = models_with_alias(alias, tracking_uri=uri)
    if others:
        return (
            f"registered model {name!r} has no '{alias}' version at {uri}; models with a "
            f"'{alias}' there: {', '.join(others)}. Pass --config with the experiment that "
            "trained them (its 'registry' names), or --churn/--clv NAME"
        )
    return (
        f"registered model {name!r} has no '{alias}' version at {uri}: "
        "run `retain train` first (or check MLFLOW_TRACKING_URI)"
    )


def package(
    churn_name: str = RegistryConfig().churn,
    clv_name: str = RegistryConfig().clv,
    *,
    alias: str = CHAMPION,
    tracking_uri: str | None = None,
    economics: Economics | None = None,
    risk_tiers: RiskTiers | None = None,
    uplift_name: str | None = None,
    clv_required: bool = False,
) -> list[PackagedModel]:
    """Copy the ``alias`` versions of the registered models into the BentoML store, all or none.

    The churn model is required; the CLV model is packaged when ``clv_name`` has an ``alias``
    version (else the package is churn-only: value at risk from ``economics.recurring_charge``,
    or unknown; ``clv_required``, for a name the user gave, makes it an error), and so is
    ``uplift_name``'s. Every bundle is downloaded and checked (task,
    feature schema, the recurring charge) before anything is stored; the manifest naming the
    exact tags is written last (``serving.package_manifest``), so a run killed on the way leaves
    the previous package current, and its models are removed at the next run.
    ``economics`` (the config's, default ``Economics()``) is recorded in the models' metadata:
    the service and batch scoring compute value at risk with its gross margin and currency.
    ``risk_tiers`` (the config's, default ``RiskTiers()``) is recorded alike: every score's tier.
    Test-hook points (``RETAIN_TEST_KILL_AT``): ``package:churn``, ``package:clv``,
    ``package:uplift`` after each model is stored, ``package:manifest`` before the commit.
    """
    economics = economics or Economics()
    risk_tiers = risk_tiers or RiskTiers()
    import bentoml

    remove_orphans([*BENTO_NAMES.values(), PACKAGE])
    uri = tracking_store(tracking_uri)
    package_id = new_package_id()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        found: list[tuple[str, str, str, str, Path]] = []
        for kind, name in (("churn", churn_name), ("clv", clv_name)):
            version = version_by_alias(name, alias, tracking_uri=uri)
            if version is None:
                if kind == "clv" and not clv_required:
                    continue  # churn-only: the scorer values customers without a CLV model
                raise RetainError(missing_model_hint(name, alias, uri))
            folder = Path(tmp) / kind
            registered = load_version(name, str(version.version), tracking_uri=uri, into=folder)
            if registered.bundle.kind != kind:
                raise RetainError(
                    f"{name} v{registered.version} is a {registered.bundle.kind} model, "
                    f"expected {kind}"
                )
            registered.bundle.check_schema()
            found.append((kind, registered.name, registered.version, registered.run_id, folder))
        if len(found) == 1:  # a recurring charge the churn model cannot read: say so now
            churn_bundle = ModelBundle.load(found[0][4])
            value_basis(churn_bundle, None, economics)
        if uplift_name is not None:
            version = version_by_alias(uplift_name, alias, tracking_uri=uri)
            if version is not None:
                uplift = load_uplift_version(uplift_name, str(version.version), tracking_uri=uri)
                uplift.bundle.check_schema()
                folder = uplift.bundle.save(Path(tmp) / "uplift")
                found.append(("uplift", uplift_name, uplift.version, "", folder))
        for kind, name, version_id, run_id, folder in found:
            metadata = {
                "registry_name": name,
                "registry_version": version_id,
                "alias": alias,
                "run_id": run_id,
                "tracking_uri": uri,
                FILES: file_manifest(folder),
                ECONOMICS: economics.model_dump(mode="json", exclude_none=True),
                RISK_TIERS: risk_tiers.model_dump(mode="json"),
                PACKAGE_ID: package_id,
            }
            with bentoml.models.create(
                BENTO_NAMES[kind],
                labels={"registry_name": name, "registry_version": version_id},
                metadata=metadata,
            ) as model_ref:
                for item in folder.iterdir():
                    shutil.copy2(item, Path(model_ref.path) / item.name)
            out.append(
                PackagedModel(kind, str(model_ref.tag), name, version_id, Path(model_ref.path))
            )
            test_hook(f"package:{kind}")
    test_hook("package:manifest")
    tags: dict[str, str | None] = {"churn": None, "clv": None, "uplift": None}
    tags.update({m.kind: m.tag for m in out})
    write_manifest(package_id, tags)
    return out


def has_packaged_models() -> bool:
    """Whether BentoML's store holds a package (or a chosen churn model): what the service
    needs to start."""
    try:
        return bool(packaged().churn)
    except RetainError:
        return False
