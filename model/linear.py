"""A logistic regression that serves like the boosters: encoded matrix in, log-odds and reasons out.

``LinearChurn`` reads the same encoded matrix as LightGBM (``model.encoding``) and turns it into
standardized terms: every numeric feature as ``sign(x) log(1 + |x|)`` (median-filled) and, when
training saw it missing, a missing flag; every categorical feature as one flag per level seen at
least ``min_level_rows`` times (rarer or unseen levels: all flags 0). Each term is centred and
scaled on the training rows, so a customer's reason for a feature is exactly
``sum(coefficient x standardized value)`` over the feature's terms, and the reasons plus the
intercept sum to the score's log-odds, as TreeSHAP's do for the booster.

It is stored as JSON (``linear.json`` in a bundle folder), every number as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from model.servable import servable

LINEAR_FILE = "linear.json"
VALUE, MISSING, LEVEL = "value", "missing", "level"

CONVEX_SOLVER = "newton-cholesky"
CONVEX_TOL = 1e-10
"""Solver and tolerance of every logistic fit: the L2-penalised objective has one optimum, and
Newton's method reaches it to rounding (L-BFGS stops once a step gains under 64 machine epsilons,
at a point the BLAS kernel's rounding of the path moves), so the coefficients, the metrics and the
model chosen do not depend on the CPU."""


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log(1 + |x|) with x's sign: tames heavy-tailed counts and spend for a linear model."""
    return np.sign(x) * np.log1p(np.abs(x))


@servable
@dataclass(frozen=True)
class LinearChurn:
    """Fitted terms of a logistic regression over an encoded matrix; see the module docstring.

    Per term: the encoded column it reads (``source``), how (``kind``: value, missing flag or
    category level), the level code, the fill of a missing value, the training mean and scale,
    and its coefficient. A servable model (``model.servable``) tagged ``linear``.
    """

    tag: ClassVar[str] = "linear"

    names: tuple[str, ...]
    source: np.ndarray
    kind: tuple[str, ...]
    level: np.ndarray
    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    C: float = 1.0

    @classmethod
    def fit(
        cls,
        matrix: np.ndarray,
        y: np.ndarray,
        names: list[str],
        categorical: list[int],
        *,
        C: float = 1.0,
        min_level_rows: int = 20,
        seed: int = 42,
    ) -> LinearChurn:
        """Derive the terms from the training matrix and fit the regression on them."""
        source: list[int] = []
        kind: list[str] = []
        level: list[float] = []
        fill: list[float] = []

        def add(j: int, how: str, code: float, value: float) -> None:
            source.append(j)
            kind.append(how)
            level.append(code)
            fill.append(value)

        for j in range(matrix.shape[1]):
            column = matrix[:, j]
            missing = np.isnan(column)
            if j in categorical:
                codes, counts = np.unique(column[~missing], return_counts=True)
                for code in codes[counts >= min_level_rows]:
                    add(j, LEVEL, float(code), 0.0)
                continue
            median = float(np.median(column[~missing])) if (~missing).any() else 0.0
            add(j, VALUE, np.nan, median)
            if missing.any():
                add(j, MISSING, np.nan, 0.0)
        draft = cls(
            tuple(names),
            np.asarray(source, dtype=np.int64),
            tuple(kind),
            np.asarray(level, dtype=np.float64),
            np.asarray(fill, dtype=np.float64),
            np.zeros(len(source)),
            np.ones(len(source)),
            np.zeros(len(source)),
            0.0,
            C,
        )
        terms = draft.terms(matrix)
        mean = terms.mean(axis=0)
        scale = terms.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (terms - mean) / scale
        # imported here: only fitting needs scikit-learn, the service never does
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(
            C=C, solver=CONVEX_SOLVER, max_iter=2000, tol=CONVEX_TOL, random_state=seed
        )
        model.fit(z, np.asarray(y).astype(int))
        return cls(
            draft.names,
            draft.source,
            draft.kind,
            draft.level,
            draft.fill,
            mean,
            scale,
            model.coef_[0].astype(np.float64),
            float(model.intercept_[0]),
            C,
        )

    def feature_name(self) -> list[str]:
        """The encoded columns it reads, in order (as ``lightgbm.Booster.feature_name``)."""
        return list(self.names)

    def terms(self, matrix: np.ndarray) -> np.ndarray:
        """The unscaled terms of every row: transformed values, missing flags, level flags."""
        x = np.asarray(matrix, dtype=np.float64)[:, self.source]
        kind = np.asarray(self.kind)
        missing = np.isnan(x)
        value = signed_log1p(np.where(missing, self.fill, x))
        with np.errstate(invalid="ignore"):
            is_level = x == self.level
        return np.where(kind == VALUE, value, np.where(kind == MISSING, missing, is_level)).astype(
            np.float64
        )

    def standardized(self, matrix: np.ndarray) -> np.ndarray:
        return (self.terms(matrix) - self.mean) / self.scale

    def raw_score(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """Log-odds of churn per row (one matrix product: ``threads`` is not needed)."""
        return self.standardized(matrix) @ self.coef + self.intercept

    def predict(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """Probability of churn per row, before any calibration."""
        return 1.0 / (1.0 + np.exp(-self.raw_score(matrix)))

    def contributions(self, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
        """Per row, each feature's coefficient x standardized value (its terms summed), then the
        intercept as the last column; a row's sum is its log-odds."""
        parts = self.standardized(matrix) * self.coef
        owner = np.zeros((len(self.coef), len(self.names) + 1))
        owner[np.arange(len(self.coef)), self.source] = 1.0
        out = parts @ owner
        out[:, -1] = self.intercept
        return out

    def importance(self) -> dict[str, float]:
        """|coefficient| summed per feature, as a share of the total."""
        total = np.bincount(self.source, weights=np.abs(self.coef), minlength=len(self.names))
        share = total / (total.sum() or 1.0)
        return {n: float(s) for n, s in zip(self.names, share, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "source": self.source.tolist(),
            "kind": list(self.kind),
            "level": [None if np.isnan(v) else v for v in self.level.tolist()],
            "fill": self.fill.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "C": self.C,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> LinearChurn:
        level = [np.nan if v is None else float(v) for v in payload["level"]]
        return cls(
            tuple(payload["names"]),
            np.asarray(payload["source"], dtype=np.int64),
            tuple(payload["kind"]),
            np.asarray(level, dtype=np.float64),
            np.asarray(payload["fill"], dtype=np.float64),
            np.asarray(payload["mean"], dtype=np.float64),
            np.asarray(payload["scale"], dtype=np.float64),
            np.asarray(payload["coef"], dtype=np.float64),
            float(payload["intercept"]),
            float(payload.get("C", 1.0)),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> LinearChurn:
        return cls.from_dict(json.loads(path.read_text()))

    def save_into(self, folder: Path) -> None:
        """The terms as ``linear.json`` in a bundle folder."""
        self.save(folder / LINEAR_FILE)

    @classmethod
    def load_from(cls, folder: Path) -> LinearChurn:
        """The terms of ``linear.json`` in a bundle folder."""
        return cls.load(folder / LINEAR_FILE)
