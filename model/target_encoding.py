"""Out-of-fold target encoding of high-cardinality categories, and the booster that carries it.

A category with many levels (a 51-level ``State``) can be read by LightGBM's native categorical
splits or as one number per level: its churn rate on the training rows, smoothed toward the
overall rate (an m-estimate with weight ``SMOOTHING``). A training row's own label must not
reach its value, so training rows get the rate of the other ``FOLDS`` folds (seeded); the
validation, test and served rows get the rate of every training row. The matrix everywhere else
keeps category codes: ``TargetEncodedBooster`` maps the codes to the rates before its booster
reads them, so batch, HTTP and reasons (which name the level) all see what training saw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np

from model.booster import LightGBMModel
from model.servable import servable

FOLDS = 5
"""Folds of the training rows the out-of-fold rates come from."""
SMOOTHING = 20.0
"""Weight, in rows, of the overall churn rate in each level's rate (m-estimate)."""
TABLES_FILE = "target_encoding.json"


def level_rates(
    codes: np.ndarray, y: np.ndarray, levels: int, smoothing: float = SMOOTHING
) -> np.ndarray:
    """Per level code, the smoothed mean of ``y``; the last entry (missing or unseen) is the
    overall mean."""
    known = ~np.isnan(codes)
    at, target = codes[known].astype(np.int64), y[known].astype(np.float64)
    prior = float(y.mean()) if len(y) else 0.0
    sums = np.bincount(at, weights=target, minlength=levels)
    counts = np.bincount(at, minlength=levels)
    rates = (sums + smoothing * prior) / (counts + smoothing)
    return np.append(rates, prior)


def apply_rates(codes: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Each code's rate; a missing code (NaN) gets the overall one, the table's last entry."""
    index = np.where(np.isnan(codes), len(rates) - 1, np.nan_to_num(codes)).astype(np.int64)
    return rates[index]


def out_of_fold(
    codes: np.ndarray, y: np.ndarray, levels: int, *, folds: int = FOLDS, seed: int = 0
) -> np.ndarray:
    """Each training row's rate from the other folds' rows only (folds drawn with ``seed``)."""
    fold = np.random.default_rng(seed).permutation(len(codes)) % folds
    out = np.empty(len(codes), dtype=np.float64)
    for k in range(folds):
        held = fold == k
        out[held] = apply_rates(codes[held], level_rates(codes[~held], y[~held], levels))
    return out


@dataclass(frozen=True)
class TargetEncoded:
    """Matrices with the target-encoded columns' codes replaced by rates, and the tables."""

    matrices: dict[str, np.ndarray]
    tables: dict[int, np.ndarray]


def target_encode(
    matrices: dict[str, np.ndarray],
    y_train: np.ndarray,
    columns: dict[int, int],
    *,
    seed: int,
) -> TargetEncoded:
    """Encode the columns at ``columns`` (index -> number of levels): out of fold on the
    ``train`` matrix, with the training rows' tables on every other part."""
    out = {part: m.copy() for part, m in matrices.items()}
    tables = {}
    for j, levels in columns.items():
        codes = matrices["train"][:, j]
        tables[j] = level_rates(codes, y_train, levels)
        out["train"][:, j] = out_of_fold(codes, y_train, levels, seed=seed)
        for part in out:
            if part != "train":
                out[part][:, j] = apply_rates(matrices[part][:, j], tables[j])
    return TargetEncoded(out, tables)


@servable
@dataclass(eq=False)
class TargetEncodedBooster:
    """A LightGBM booster that reads some category columns as their training churn rates: the
    codes of the shared encoding are mapped by the carried tables, then the booster scores."""

    tag: ClassVar[str] = "lightgbm_target_encoded"

    booster: LightGBMModel
    tables: dict[int, np.ndarray]
    """Column index -> rate per level code, the overall rate last (missing or unseen)."""

    @cached_property
    def _columns(self) -> list[int]:
        return sorted(self.tables)

    def encoded(self, matrix: np.ndarray) -> np.ndarray:
        """``matrix`` with the target-encoded columns' codes replaced by their rates."""
        out = np.array(matrix, dtype=np.float64, copy=True)
        for j in self._columns:
            out[:, j] = apply_rates(out[:, j], self.tables[j])
        return out

    def feature_name(self) -> list[str]:
        """The encoded columns the booster reads, in order."""
        return self.booster.feature_name()

    def raw_score(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """The booster's raw score of the rates in place of the codes."""
        return self.booster.raw_score(self.encoded(matrix), threads)

    def predict(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """The booster's prediction of the rates in place of the codes."""
        return self.booster.predict(self.encoded(matrix), threads)

    def contributions(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """TreeSHAP contributions: a target-encoded column's is its level's (one column each)."""
        return self.booster.contributions(self.encoded(matrix), threads)

    def save_into(self, folder: Path) -> None:
        """The booster's ``booster.txt`` and the tables as ``target_encoding.json``."""
        self.booster.save_into(folder)
        tables = {str(j): rates.tolist() for j, rates in self.tables.items()}
        (folder / TABLES_FILE).write_text(json.dumps(tables), encoding="utf-8")

    @classmethod
    def load_from(cls, folder: Path) -> TargetEncodedBooster:
        """The booster and tables written by ``save_into``."""
        raw = json.loads((folder / TABLES_FILE).read_text(encoding="utf-8"))
        tables = {int(j): np.asarray(rates, dtype=np.float64) for j, rates in raw.items()}
        return cls(LightGBMModel.load_from(folder), tables)


def encoded_columns(names: Sequence[str], tables: dict[int, np.ndarray]) -> list[str]:
    """The names of the target-encoded columns, in column order."""
    return [names[j] for j in sorted(tables)]
