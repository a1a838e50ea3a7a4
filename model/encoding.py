"""Feature frame to model matrix: named columns in a fixed order, categories as stored codes.

The encoding is fitted on training data and stored with the model, so serving turns a request into
exactly the matrix the model was trained on: columns are taken by name, never by position, and a
category unseen in training becomes missing (LightGBM sends it down the missing-value branch).
With a BTYD fit (``btyd``), the encoding also derives the BTYD features (``model.btyd_features``)
from the btyd summary columns, after the inputs: every scoring path goes through ``complete``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataValidationError
from features.catalogue import BTYD_DERIVED_NAMES
from features.loading import parse_text
from model.btyd_features import (
    BTYD_SUMMARY,
    FEW_ROWS,
    BtydParams,
    derive_btyd,
    derive_btyd_row,
)

_UNSAFE = re.compile(r"[^\w.\-]")
"""Characters a LightGBM feature name may not keep: it rewrites spaces and refuses JSON ones."""


def model_safe_names(columns: Sequence[str]) -> tuple[str, ...]:
    """The names a LightGBM booster is given for ``columns``: the one mapping training and serving
    share, so a user's column (``Total day minutes``, ``plan.type``, ``Durée``) keeps its own name
    everywhere but inside the booster file.

    A name of letters, digits, ``_``, ``.`` and ``-`` (unicode letters included) is kept as it is;
    in any other every other character becomes ``_``, with ``_<position>`` added while the result
    is taken by another column.
    """
    kept = {c for c in columns if not _UNSAFE.search(c)}
    out = []
    for i, name in enumerate(columns):
        safe = name
        if name not in kept:
            safe = _UNSAFE.sub("_", name)
            while safe in kept:
                safe = f"{safe}_{i}"
            kept.add(safe)
        out.append(safe)
    return tuple(out)


@dataclass(frozen=True)
class FeatureEncoding:
    """Ordered feature names and, for categorical ones, their levels (code = position).

    ``columns`` are the model's (booster's) columns: the inputs a feature frame or request gives,
    then, with ``btyd`` set, the derived BTYD columns computed from the inputs' btyd summary.
    """

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    btyd: BtydParams | None = None
    """The population BTYD fit the derived columns are computed with (None: no derived columns)."""

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        columns: list[str] | None = None,
        btyd: BtydParams | None = None,
    ) -> FeatureEncoding:
        """Learn the column order and the sorted levels of every non-numeric column; with
        ``btyd``, append the derived BTYD columns (the frame must hold the btyd summary)."""
        names = list(frame.columns if columns is None else columns)
        categories = {
            c: tuple(sorted(parse_text(frame[c]).dropna().unique().tolist()))
            for c in names
            if not pd.api.types.is_numeric_dtype(frame[c])
        }
        if btyd is not None:
            missing = [c for c in BTYD_SUMMARY if c not in names]
            if missing:
                raise DataValidationError(
                    f"the BTYD features need the btyd summary columns {missing}: add the btyd "
                    "feature family, or set btyd_features: false"
                )
            names += [c for c in BTYD_DERIVED_NAMES if c not in names]
        return cls(tuple(names), categories, btyd)

    def at_cutoff(self, btyd: BtydParams) -> FeatureEncoding:
        """The same encoding with another cutoff's BTYD fit (training encodes each cutoff so)."""
        if self.btyd is None:
            raise ValueError("this encoding derives no BTYD features")
        return replace(self, btyd=btyd)

    @property
    def derived(self) -> tuple[str, ...]:
        """The columns the encoding computes itself (the BTYD features), last in ``columns``."""
        return BTYD_DERIVED_NAMES if self.btyd is not None else ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """The columns a feature frame or request must give: ``columns`` without ``derived``."""
        derived = set(self.derived)
        return tuple(c for c in self.columns if c not in derived)

    @property
    def model_columns(self) -> tuple[str, ...]:
        """``columns`` as a LightGBM booster names them (``model_safe_names``)."""
        return model_safe_names(self.columns)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c in self.categories]

    def missing_from(self, names: list[str] | pd.Index) -> list[str]:
        """The encoding's input columns absent from ``names``."""
        have = set(names)
        return [c for c in self.inputs if c not in have]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The float64 matrix of ``frame``'s features in model order; categories as codes."""
        missing = self.missing_from(frame.columns)
        if missing:
            raise DataValidationError(f"features missing for the model: {missing}")
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, name in enumerate(self.inputs):
            values = frame[name]
            if name in self.categories:
                out[:, j] = self.codes(name, values)
            else:
                out[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        return self.complete(out)

    def complete(self, matrix: np.ndarray) -> np.ndarray:
        """Fill the derived columns of a matrix whose input columns are encoded (in place).

        Up to ``FEW_ROWS`` rows (a request) row by row on Python floats, as ``derive_btyd``.
        """
        if self.btyd is None:
            return matrix
        summary, derived = self.btyd_positions
        if len(matrix) > FEW_ROWS:
            matrix[:, derived] = derive_btyd(matrix[:, summary], self.btyd)
            return matrix
        for i, row in enumerate(matrix.tolist()):
            values = derive_btyd_row([row[j] for j in summary], self.btyd)
            for j, v in zip(derived, values, strict=True):
                matrix[i, j] = v
        return matrix

    @cached_property
    def btyd_positions(self) -> tuple[list[int], list[int]]:
        """Positions in ``columns`` of the btyd summary (``BTYD_SUMMARY`` order) and of the
        derived columns (``BTYD_DERIVED_NAMES`` order): looked up once, not per request."""
        index = {c: j for j, c in enumerate(self.columns)}
        return [index[c] for c in BTYD_SUMMARY], [index[c] for c in BTYD_DERIVED_NAMES]

    @cached_property
    def level_codes(self) -> dict[str, dict[str, float]]:
        """Per categorical feature, each level's code as a float: built once, not per request."""
        return {
            name: {level: float(k) for k, level in enumerate(levels)}
            for name, levels in self.categories.items()
        }

    def codes(self, name: str, values: pd.Series) -> np.ndarray:
        """Category codes of ``values`` for feature ``name``; unknown or missing is NaN."""
        levels = pd.Index(self.categories[name])
        codes = levels.get_indexer(parse_text(values).astype("str").fillna("\x00"))
        return np.where(codes >= 0, codes, np.nan)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "btyd": None if self.btyd is None else self.btyd.to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FeatureEncoding:
        btyd = payload.get("btyd")
        return cls(
            tuple(payload["columns"]),
            {k: tuple(v) for k, v in payload.get("categories", {}).items()},
            None if btyd is None else BtydParams.from_dict(btyd),
        )
