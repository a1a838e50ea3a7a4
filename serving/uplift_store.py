"""The uplift champion in the BentoML model store, and its effects added to batch scores.

``retain package`` (``serving.store.package``) copies the registry's uplift champion (when there
is one) into the store as ``retain-uplift``, in one package with the churn and CLV models;
``retain score`` then adds ``uplift`` and ``expected_incremental_value`` to every score, so ``retain campaign``
targets by incremental profit (``retention.targeting``). Without an uplift champion nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import DataValidationError, RetainError
from core.schema import CUSTOMER_ID
from model.uplift_bundle import INCREMENTAL_VALUE, OFFER_RESPONSE, UPLIFT, UpliftBundle
from serving.scorer import Scorer
from serving.store import BENTO_NAMES, packaged, verify_files, version_label

BENTO_UPLIFT = BENTO_NAMES["uplift"]
UPLIFT_MODEL = "uplift_model"
"""The scores column naming the uplift model version, beside churn_model and clv_model."""
UPLIFT_CARD = "uplift_card"
"""The ``score_meta.json`` key holding the uplift model's card (``retention.uplift_report``)."""


@dataclass(frozen=True)
class PackagedUplift:
    """The packaged uplift model and its version label ('uplift:3')."""

    bundle: UpliftBundle
    label: str


def load_packaged_uplift() -> PackagedUplift | None:
    """The current package's uplift model (files verified), or None (``uplift_tag``)."""
    import bentoml
    from bentoml.exceptions import NotFound

    tag = uplift_tag()
    if tag.strip().lower() == NO_UPLIFT:
        return None
    try:
        model = bentoml.models.get(tag)
    except NotFound:
        return None
    return load_uplift_folder(Path(model.path), dict(model.info.metadata))


def load_uplift_folder(folder: Path, metadata: dict[str, Any]) -> PackagedUplift:
    """A packaged uplift model's bundle, its files verified first; any failure a RetainError."""
    verify_files(folder, metadata, "uplift")
    try:
        bundle = UpliftBundle.load(folder)
    except Exception as err:  # a verified file that still does not parse: say which model
        raise RetainError(f"the uplift model cannot be loaded: {err!r}") from err
    return PackagedUplift(bundle, version_label(metadata, "uplift"))


UPLIFT_TAG_SETTING = "RETAIN_UPLIFT_MODEL"
NO_UPLIFT = "none"
"""``RETAIN_UPLIFT_MODEL=none`` serves without the uplift model even when one is packaged."""


def uplift_tag() -> str:
    """The BentoML tag of the uplift model to use: $RETAIN_UPLIFT_MODEL, else the current
    package's (``serving.store.packaged``), else ``none``.

    An uplift model left in the store by an earlier ``retain package`` is never paired with
    churn and CLV models packaged later without one.
    """
    try:
        return packaged().uplift or NO_UPLIFT
    except RetainError:
        return NO_UPLIFT


def optional_uplift_model(tag: str) -> Any | None:
    """The service's declaration of the uplift model: a ``BentoModel`` when ``tag`` is in the
    store, None when it is not (or is ``none``), so the service serves churn and CLV alone.

    Declared on the service class, a present model goes into a ``bentoml build`` bento too.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    if tag.strip().lower() == NO_UPLIFT:
        return None
    try:
        bentoml.models.get(tag)
    except NotFound:
        return None
    return bentoml.models.BentoModel(tag)


def with_uplift(
    scores: pd.DataFrame, features: pd.DataFrame, uplift: PackagedUplift
) -> tuple[pd.DataFrame, str | None]:
    """``scores`` with ``uplift``, ``expected_incremental_value`` and ``uplift_model`` added (and
    ``offer_response`` when the bundle carries the response model).

    ``features`` is indexed by customer id and holds every scored customer. Returns the scores
    unchanged and a note when the uplift model needs features the scores' feature set lacks (it
    was trained on other feature families than the packaged churn model).
    """
    missing = uplift.bundle.encoding.missing_from(features.columns)
    if missing:
        return scores, (
            f"the packaged uplift model {uplift.label} needs features the churn model's feature "
            f"set lacks ({missing[:3]}): scores carry no uplift; retrain and package both"
        )
    rows = features.reindex(pd.Index(scores[CUSTOMER_ID]))
    effects = uplift.bundle.effects(rows)
    out = scores.copy()
    out[UPLIFT] = effects[UPLIFT].to_numpy()
    out[INCREMENTAL_VALUE] = effects[INCREMENTAL_VALUE].to_numpy()
    responses = uplift.bundle.responses(rows)
    if responses is not None:  # the response policy won: the campaign ranks by it
        out[OFFER_RESPONSE] = responses.to_numpy()
    out[UPLIFT_MODEL] = uplift.label
    return out, None


def with_served_uplift(scorer: Scorer) -> Scorer:
    """``scorer`` with the packaged uplift model attached as the service attaches it, so the
    answers ``retain score`` precomputes (``serving.answers``) are the service's; ``scorer``
    itself without one, or with one that cannot serve beside it (the service then fails its own
    start-up check and says why)."""
    if scorer.uplift is not None:
        return scorer
    uplift = load_packaged_uplift()
    if uplift is None:
        return scorer
    try:
        return Scorer(
            scorer.churn,
            scorer.clv,
            scorer.versions,
            top_k=scorer.top_k,
            economics=scorer.economics,
            risk_tiers=scorer.risk_tiers,
            uplift=uplift.bundle,
            uplift_label=uplift.label,
        )
    except DataValidationError:
        return scorer
