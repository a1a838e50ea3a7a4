"""The scorer: the champion churn bundle (and CLV bundle, when packaged), features in, scores out.

``Scorer.encode`` turns a feature frame (columns by name, as ``features.build_features`` returns
them) into an ``EncodedBatch``; ``Scorer.score`` turns an encoded batch into ``ScoreArrays``
(vectorised: one ``predict`` per model and one TreeSHAP pass for the reasons). The HTTP service
and batch scoring both call these two methods, so a customer's score is the same whichever way it
is asked for. Requests become batches in ``serving.requests``; scores become JSON records or a
scores table in ``serving.output``.

With an uplift model (``model.uplift_bundle``, packaged as ``retain-uplift``) the scorer also
gives each customer the offer's effect: ``uplift`` (the reduction in churn probability),
``expected_incremental_value`` (the spend the offer adds over the horizon) and the exact TreeSHAP
contributions of the uplift, its reasons.

CLV is optional: a churn-only package (a CRM export without a future-value column) values customers
by their recurring charge (``Economics.recurring_charge``, ``ValueBasis``) or, without one, not at
all: the value fields are then None, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.economics import Economics
from core.errors import DataValidationError
from core.risk_tiers import TIER_NAMES, RiskTiers
from core.schema import ATTRIBUTE_PREFIX
from model.bundle import ModelBundle
from model.encoding import FeatureEncoding
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT, UpliftBundle
from model.value_at_risk import (
    DAYS_PER_MONTH,
    value_at_risk_of,
    value_if_staying,
    value_if_staying_from_charge,
)

TIERS = TIER_NAMES
"""Risk tier names by the codes in ``ScoreArrays.tier``."""
RECENCY = "days_since_last_purchase"
RUNNING = "subscription_active"


def risk_tier_codes(churn: np.ndarray, tiers: RiskTiers) -> np.ndarray:
    """Each churn probability's tier code (0 high, 1 medium, 2 low; ``TIERS`` names them): high
    from ``tiers.high`` up, medium from ``tiers.medium`` up; the one place a tier is decided."""
    p = np.asarray(churn, dtype=np.float64)
    return np.where(p >= tiers.high, 0, np.where(p >= tiers.medium, 1, 2)).astype(np.int8)


@dataclass(frozen=True)
class EncodedBatch:
    """Rows encoded for each model; models that share an encoding share one matrix object.

    ``uplift`` is the uplift model's matrix, None when the scorer has no uplift model.
    """

    churn: np.ndarray
    clv: np.ndarray | None
    uplift: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.churn)

    def take(self, rows: np.ndarray) -> EncodedBatch:
        """The batch of the given row positions (shared matrices stay shared)."""
        taken: dict[int, np.ndarray] = {}

        def part(matrix: np.ndarray | None) -> np.ndarray | None:
            return None if matrix is None else taken.setdefault(id(matrix), matrix[rows])

        churn = part(self.churn)
        assert churn is not None
        return EncodedBatch(churn, part(self.clv), part(self.uplift))


@dataclass(frozen=True)
class UpliftArrays:
    """The offer's effect per customer and the top reasons of ``uplift`` (exact TreeSHAP)."""

    uplift: np.ndarray
    incremental_value: np.ndarray
    reason_index: np.ndarray
    reason_contribution: np.ndarray


@dataclass(frozen=True)
class ScoreArrays:
    """Scores of a batch as arrays; ``serving.output`` shapes them into records or a table.

    ``gross_margin`` (the packaged economics') turns revenue into the gross profit of
    ``value_at_risk`` (``model.value_at_risk`` defines it). ``clv`` is None without a CLV model;
    ``staying`` (value if staying) is None when value is unknown (no CLV model, no charge).
    """

    churn: np.ndarray
    clv: np.ndarray | None
    tier: np.ndarray
    reason_index: np.ndarray
    reason_contribution: np.ndarray
    gross_margin: float = 1.0
    uplift: UpliftArrays | None = None
    """The uplift model's effects and reasons; None without an uplift model."""
    staying: np.ndarray | None = None

    @property
    def value_if_staying(self) -> np.ndarray | None:
        """Expected revenue over the horizon if the customer stays; None when value is unknown."""
        return self.staying

    @property
    def value_at_risk(self) -> np.ndarray | None:
        """Gross profit lost if the customer leaves, times the probability they do (or None)."""
        if self.staying is None:
            return None
        return value_at_risk_of(self.churn, self.staying, self.gross_margin)


@dataclass(frozen=True)
class ValueBasis:
    """What a customer's value if staying rests on: the CLV model, a recurring charge, or nothing.

    ``charge`` is the churn encoding's column of the recurring charge (``attr_<column>``), used
    only without a CLV model; ``text`` states the basis as answers and the report show it.
    """

    source: str
    """"clv", "recurring_charge" or "unknown"."""
    text: str
    charge: str | None = None

    @property
    def known(self) -> bool:
        return self.source != "unknown"


def value_basis(churn: ModelBundle, clv: ModelBundle | None, economics: Economics) -> ValueBasis:
    """How value at risk is computed for these models: a ``DataValidationError`` names a
    configured recurring charge that the churn model does not read as a number."""
    if clv is not None:
        return ValueBasis(
            "clv", "churn probability x CLV / (1 - churn probability) x gross margin (CLV model)"
        )
    column = economics.recurring_charge
    if column is None:
        return ValueBasis(
            "unknown",
            "value unknown: no CLV model and no recurring charge (economics.recurring_charge); "
            "customers are ranked by churn risk",
        )
    feature = column if column in churn.encoding.columns else f"{ATTRIBUTE_PREFIX}{column}"
    if feature not in churn.encoding.inputs or feature in churn.encoding.categories:
        numeric = [
            c.removeprefix(ATTRIBUTE_PREFIX)
            for c in churn.encoding.inputs
            if c.startswith(ATTRIBUTE_PREFIX) and c not in churn.encoding.categories
        ]
        raise DataValidationError(
            f"economics.recurring_charge {column!r} is not a numeric column the churn model "
            f"reads; its numeric columns: {numeric}"
        )
    months = churn.horizon_days / DAYS_PER_MONTH
    return ValueBasis(
        "recurring_charge",
        f"churn probability x {column} x {months:.2f} months (the {churn.horizon_days}-day "
        "horizon) x gross margin",
        feature,
    )


class Scorer:
    """The champion churn bundle and, when packaged, the CLV bundle, checked as a pair; encodes
    and scores feature tables.

    ``versions`` are the models' labels ('<registered name>:<version>') that answers carry;
    ``top_k`` is the number of reasons per customer; ``economics`` (recorded by ``retain package
    --config``) gives value at risk its gross margin and currency, ``risk_tiers`` (recorded
    alike) the churn probabilities of the high and medium tiers. ``uplift`` (optional, labelled
    ``uplift_label``) must read only features the churn and CLV models read, with their horizon.
    """

    def __init__(
        self,
        churn: ModelBundle,
        clv: ModelBundle | None,
        versions: dict[str, str | None],
        *,
        top_k: int = 3,
        economics: Economics | None = None,
        risk_tiers: RiskTiers | None = None,
        uplift: UpliftBundle | None = None,
        uplift_label: str | None = None,
    ) -> None:
        for bundle, kind in ((churn, "churn"), (clv, "clv")):
            if bundle is None:
                continue
            if bundle.kind != kind:
                raise DataValidationError(f"the {kind} model given is a {bundle.kind} model")
            bundle.check_schema()
        if clv is not None and churn.card.attribute_schema != clv.card.attribute_schema:
            raise DataValidationError(
                "the churn and CLV models read the snapshots table's attributes differently (or "
                "only one was trained on one); package a churn and a CLV model from one run"
            )
        if clv is not None and churn.horizon_days != clv.horizon_days:
            raise DataValidationError(
                f"churn model horizon {churn.horizon_days} days differs from CLV model "
                f"horizon {clv.horizon_days} days; package models trained with the same horizon"
            )
        self.churn = churn
        self.clv = clv
        self.versions: dict[str, str | None] = {
            "churn": versions["churn"],
            "clv": versions.get("clv") if clv is not None else None,
        }
        self.top_k = top_k
        self.economics = economics or Economics()
        self.value = value_basis(churn, clv, self.economics)
        """What value at risk rests on: the CLV model, the recurring charge, or nothing."""
        churn.warm()  # build what the first reasons need now, not in the first request
        models = [churn] if clv is None else [churn, clv]
        self.families = sorted({f for m in models for f in m.families})
        self.timezone = churn.card.data.timezone
        self.schema = churn.card.attribute_schema
        """How a CRM row's attributes become features (models trained on a snapshots table)."""
        self.columns = list(dict.fromkeys(c for m in models for c in m.encoding.inputs))
        """Every feature either model needs given, churn model's order first."""
        self.derived = list(dict.fromkeys(c for m in models for c in m.encoding.derived))
        """Features the models compute themselves from the given ones (the BTYD features)."""
        self.shared_encoding = clv is None or churn.encoding == clv.encoding
        self.risk_tiers = risk_tiers or RiskTiers()
        """The churn probabilities of the high and medium tiers (recorded by ``retain package``)."""
        self.uplift = uplift
        self.uplift_label = uplift_label if uplift is not None else None
        """'<registered name>:<version>' of the uplift model, None without one."""
        if uplift is not None:
            try:
                uplift.check_serves_with(self.columns, churn.horizon_days, uplift_label or "uplift")
            except DataValidationError as err:  # a stale uplift model beside newer models
                raise DataValidationError(
                    f"{err} (or serve without it: RETAIN_UPLIFT_MODEL=none)"
                ) from None
            _ = uplift.explainers  # TreeSHAP tables now, not in the first request

    def batch(self, encode: Callable[[FeatureEncoding], np.ndarray]) -> EncodedBatch:
        """An ``EncodedBatch`` from ``encode`` called once per distinct model encoding."""
        done: list[tuple[FeatureEncoding, np.ndarray]] = []  # encodings hold dicts: no hashing

        def matrix(encoding: FeatureEncoding) -> np.ndarray:
            for known, m in done:
                if known == encoding:
                    return m
            done.append((encoding, encode(encoding)))
            return done[-1][1]

        return EncodedBatch(
            matrix(self.churn.encoding),
            None if self.clv is None else matrix(self.clv.encoding),
            None if self.uplift is None else matrix(self.uplift.encoding),
        )

    def encode(self, frame: pd.DataFrame) -> EncodedBatch:
        """Encode a feature frame for every model (one pass per distinct encoding)."""
        return self.batch(lambda encoding: encoding.transform(frame))

    def active(self, batch: EncodedBatch) -> np.ndarray:
        """Who is an active customer, by batch scoring's rule (``features.labels.active_at``).

        Non-contractual: a purchase in the last ``active_days`` days (``days_since_last_purchase``
        below ``active_days``; never bought is inactive). Contractual: a subscription runs
        (``subscription_active`` is 1). Rows of a CRM export are all customers. Where the models
        read neither feature the rule cannot be applied and every row counts as active.
        """
        data = self.churn.card.data
        if data.business == "labelled":
            return np.ones(len(batch), dtype=bool)
        name = RUNNING if data.business == "contractual" else RECENCY
        pairs = [(batch.churn, self.churn.encoding)]
        if batch.clv is not None and self.clv is not None:
            pairs.append((batch.clv, self.clv.encoding))
        for matrix, encoding in pairs:
            if name in encoding.columns:
                values = matrix[:, encoding.columns.index(name)]
                with np.errstate(invalid="ignore"):
                    if name == RUNNING:
                        return np.asarray(values == 1.0)
                    return np.asarray(values < data.active_days)
        return np.ones(len(batch), dtype=bool)

    def score(self, batch: EncodedBatch) -> ScoreArrays:
        """Probabilities, CLV, tiers and the top-k reasons (by |TreeSHAP contribution|)."""
        churn = self.churn.predict_matrix(batch.churn)
        clv = None
        if self.clv is not None and batch.clv is not None:
            clv = self.clv.predict_matrix(batch.clv)
        tier = risk_tier_codes(churn, self.risk_tiers)
        top, top_contrib = top_reasons(self.churn.contributions(batch.churn)[:, :-1], self.top_k)
        return ScoreArrays(
            churn,
            clv,
            tier,
            top,
            top_contrib,
            self.economics.gross_margin,
            self.score_uplift(batch),
            self.staying(churn, clv, batch),
        )

    def staying(
        self, churn: np.ndarray, clv: np.ndarray | None, batch: EncodedBatch
    ) -> np.ndarray | None:
        """Value if staying by the scorer's ``value`` basis; None when value is unknown."""
        if clv is not None:
            return value_if_staying(churn, clv)
        if self.value.charge is None:
            return None
        column = batch.churn[:, self.churn.encoding.columns.index(self.value.charge)]
        return value_if_staying_from_charge(column, self.churn.horizon_days)

    def score_uplift(self, batch: EncodedBatch) -> UpliftArrays | None:
        """The uplift model's effects and top reasons; None without an uplift model."""
        if self.uplift is None:
            return None
        if batch.uplift is None:
            raise ValueError("the batch was encoded without the uplift model's matrix")
        effects = self.uplift.effects_matrix(batch.uplift)
        index, contribution = top_reasons(
            self.uplift.contributions(batch.uplift)[:, :-1], self.top_k
        )
        return UpliftArrays(
            effects[UPLIFT].to_numpy(),
            effects[INCREMENTAL_VALUE].to_numpy(),
            index,
            contribution,
        )


def top_reasons(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` features of largest |contribution| (largest first) and their values."""
    k = min(k, contributions.shape[1])
    magnitude = np.abs(contributions)
    top = (
        np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
        if k
        else np.zeros((len(contributions), 0), int)
    )
    order = np.argsort(-np.take_along_axis(magnitude, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    return top, np.take_along_axis(contributions, top, axis=1)
