"""The service's models as declared from the BentoML store, safe against a damaged store.

BentoML resolves the models a service declares before it starts the server, and reads each
entry's ``model.yaml`` to do so: an unreadable one stopped ``bentoml serve`` with a YAML
traceback. Here each entry is read first; a damaged one is not declared, and its reason is kept
in ``serving.guard.HEALTH``, so the worker starts, ``/livez`` answers 200 and ``/readyz`` 503
with the reason. A model that is not in the store at all keeps BentoML's own answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml

from core.errors import RetainError
from serving.guard import HEALTH


def store_failure(tag: str, err: Exception) -> str:
    """Why a model's entry in the BentoML store cannot be read, without server paths."""
    return (
        f"the BentoML store entry {tag} cannot be read ({type(err).__name__}): its model.yaml or "
        "folder is damaged; run `retain package` again"
    )


def readable(tag: str) -> bool:
    """Whether the model's entry in the BentoML store can be read (or is absent: BentoML's own
    answer then, as before); False keeps the reason for /readyz. BentoML resolves the models a
    service declares before it starts the server, so declaring a damaged one (an unreadable
    model.yaml) would stop ``bentoml serve`` with a traceback."""
    from bentoml.exceptions import NotFound

    try:
        bentoml.models.get(tag)
    except NotFound:
        return True
    except Exception as err:  # any damage: /readyz gives the reason, the worker stays up
        HEALTH.failure = HEALTH.failure or store_failure(tag, err)
        return False
    return True


def declared(tag: str) -> Any | None:
    """The service's declaration of a stored model, or None when its entry is damaged."""
    return bentoml.models.BentoModel(tag) if readable(tag) else None


def stored(model: Any, tag: str) -> tuple[Path, dict[str, Any]]:
    """A declared model's folder and metadata, read from the BentoML store; a damaged entry
    (an unreadable model.yaml) is a ``RetainError`` saying so, without server paths."""
    try:
        return Path(model.path), dict(model.info.metadata)
    except Exception as err:  # BentoML's own error for a damaged entry: a YAML or OS error
        raise RetainError(store_failure(tag, err)) from err
