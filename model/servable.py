"""The servable-model protocol: what a bundle needs of the model it serves, and how it loads one.

A model is servable when it scores rows of an encoded matrix on its link scale (log-odds for
churn, log spend for CLV) and on its own scale, explains each score by one additive contribution
per encoded column plus a base value that sum to the link-scale score (the reasons), names the
columns it reads, and writes itself into a bundle folder and reads itself back. ``ModelBundle``
(``model.bundle``) adds the encoding, calibration, BTYD margin and card, and calls nothing else.

``@servable`` records a class under its ``tag``, which the bundle writes into ``bundle.json`` and
loads by. The LightGBM booster (``model.booster``) and the logistic regression (``model.linear``)
are the two; a new model type is one such class and one ``Candidate`` in ``training/candidates``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

import numpy as np

from core.errors import DataValidationError


class ServableModel(Protocol):
    """A model a bundle can serve: scores, reasons, column names, and its files."""

    tag: ClassVar[str]
    """The name ``bundle.json`` records it under, unique among servable models."""

    def feature_name(self) -> list[str]:
        """The encoded columns it reads, in order (as ``lightgbm.Booster.feature_name``)."""
        ...

    def raw_score(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """The score of every row on the link scale (churn: log-odds; CLV: log spend)."""
        ...

    def predict(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """The score of every row on the model's own scale (churn: probability; CLV: spend)."""
        ...

    def contributions(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """Per row, one contribution per column then the base value; a row sums to its raw
        score."""
        ...

    def save_into(self, folder: Path) -> None:
        """Write the model's own files into a bundle folder."""
        ...

    @classmethod
    def load_from(cls, folder: Path) -> ServableModel:
        """Read the model written by ``save_into`` from ``folder``."""
        ...


Model = TypeVar("Model", bound=type[ServableModel])

_BY_TAG: dict[str, type[ServableModel]] = {}


def servable(cls: Model) -> Model:
    """Record ``cls`` under its ``tag`` so that a bundle naming the tag loads it."""
    known = _BY_TAG.get(cls.tag)
    if known is not None and (known.__module__, known.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise ValueError(
            f"two servable models share the tag {cls.tag!r}: "
            f"{known.__module__}.{known.__qualname__} and {cls.__module__}.{cls.__qualname__}"
        )
    _BY_TAG[cls.tag] = cls
    return cls


def load_servable(tag: str, folder: Path) -> ServableModel:
    """The model of type ``tag`` saved in ``folder``; an unknown tag names the known ones."""
    cls = _BY_TAG.get(tag)
    if cls is None:
        raise DataValidationError(
            f"the model in {folder} is a {tag!r} model, which this version cannot load "
            f"(it loads {sorted(_BY_TAG)}); serve it with the version of retain that trained it"
        )
    return cls.load_from(folder)
