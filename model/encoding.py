"""Feature frame to model matrix: named columns in a fixed order, categories as stored codes.

The encoding is fitted on training data and stored with the model, so serving turns a request into
exactly the matrix the model was trained on: columns are taken by name, never by position, and a
category unseen in training becomes missing (LightGBM sends it down the missing-value branch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.errors import DataValidationError
from features.loading import parse_text


@dataclass(frozen=True)
class FeatureEncoding:
    """Ordered feature names and, for categorical ones, their levels (code = position)."""

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str] | None = None) -> FeatureEncoding:
        """Learn the column order and the sorted levels of every non-numeric column."""
        names = list(frame.columns if columns is None else columns)
        categories = {
            c: tuple(sorted(parse_text(frame[c]).dropna().unique().tolist()))
            for c in names
            if not pd.api.types.is_numeric_dtype(frame[c])
        }
        return cls(tuple(names), categories)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c in self.categories]

    def missing_from(self, names: list[str] | pd.Index) -> list[str]:
        """The encoding's columns absent from ``names``."""
        have = set(names)
        return [c for c in self.columns if c not in have]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The float64 matrix of ``frame``'s features in model order; categories as codes."""
        missing = self.missing_from(frame.columns)
        if missing:
            raise DataValidationError(f"features missing for the model: {missing}")
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, name in enumerate(self.columns):
            values = frame[name]
            if name in self.categories:
                out[:, j] = self.codes(name, values)
            else:
                out[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        return out

    def codes(self, name: str, values: pd.Series) -> np.ndarray:
        """Category codes of ``values`` for feature ``name``; unknown or missing is NaN."""
        levels = pd.Index(self.categories[name])
        codes = levels.get_indexer(parse_text(values).astype("str").fillna("\x00"))
        return np.where(codes >= 0, codes, np.nan)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FeatureEncoding:
        return cls(
            tuple(payload["columns"]),
            {k: tuple(v) for k, v in payload.get("categories", {}).items()},
        )
