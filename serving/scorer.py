"""The scorer: the champion churn and CLV bundles, a feature table in, score arrays out.

``Scorer.encode`` turns a feature frame (columns by name, as ``features.build_features`` returns
them) into an ``EncodedBatch``; ``Scorer.score`` turns an encoded batch into ``ScoreArrays``
(vectorised: one ``predict`` per model and one TreeSHAP pass for the reasons). The HTTP service
and batch scoring both call these two methods, so a customer's score is the same whichever way it
is asked for. Requests become batches in ``serving.requests``; scores become JSON records or a
scores table in ``serving.output``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import DataValidationError
from model.bundle import ModelBundle
from model.economics import Economics
from model.value_at_risk import value_at_risk, value_if_staying

TIERS = ("high", "medium", "low")
"""Risk tier names by the codes in ``ScoreArrays.tier``."""
DEFAULT_TIERS = (0.5, 0.25)
"""(high, medium) probability cutoffs when the churn bundle stores none."""
RECENCY = "days_since_last_purchase"
RUNNING = "subscription_active"


@dataclass(frozen=True)
class EncodedBatch:
    """Rows encoded for both models; the two matrices are one object when they share an encoding."""

    churn: np.ndarray
    clv: np.ndarray

    def __len__(self) -> int:
        return len(self.churn)

    def take(self, rows: np.ndarray) -> EncodedBatch:
        """The batch of the given row positions (still one matrix when the models share one)."""
        churn = self.churn[rows]
        return EncodedBatch(churn, churn if self.clv is self.churn else self.clv[rows])


@dataclass(frozen=True)
class ScoreArrays:
    """Scores of a batch as arrays; ``serving.output`` shapes them into records or a table.

    ``gross_margin`` (the packaged economics') turns revenue into the gross profit of
    ``value_at_risk`` (``model.value_at_risk`` defines it).
    """

    churn: np.ndarray
    clv: np.ndarray
    tier: np.ndarray
    reason_index: np.ndarray
    reason_contribution: np.ndarray
    gross_margin: float = 1.0

    @property
    def value_if_staying(self) -> np.ndarray:
        """Expected revenue over the horizon if the customer stays."""
        return value_if_staying(self.churn, self.clv)

    @property
    def value_at_risk(self) -> np.ndarray:
        """Gross profit lost if the customer leaves, times the probability they do."""
        return value_at_risk(self.churn, self.clv, self.gross_margin)


class Scorer:
    """The champion churn and CLV bundles, checked as a pair; encodes and scores feature tables.

    ``versions`` are the models' labels ('<registered name>:<version>') that answers carry;
    ``top_k`` is the number of reasons per customer; ``economics`` (recorded by ``retain package
    --config``) gives value at risk its gross margin and currency.
    """

    def __init__(
        self,
        churn: ModelBundle,
        clv: ModelBundle,
        versions: dict[str, str],
        *,
        top_k: int = 3,
        economics: Economics | None = None,
    ) -> None:
        for bundle, kind in ((churn, "churn"), (clv, "clv")):
            if bundle.kind != kind:
                raise DataValidationError(f"the {kind} model given is a {bundle.kind} model")
            bundle.check_schema()
        if churn.card.attribute_schema != clv.card.attribute_schema:
            raise DataValidationError(
                "the churn and CLV models read the snapshots table's attributes differently (or "
                "only one was trained on one); package a churn and a CLV model from one run"
            )
        if churn.horizon_days != clv.horizon_days:
            raise DataValidationError(
                f"churn model horizon {churn.horizon_days} days differs from CLV model "
                f"horizon {clv.horizon_days} days; package models trained with the same horizon"
            )
        self.churn = churn
        self.clv = clv
        self.versions = {"churn": versions["churn"], "clv": versions["clv"]}
        self.top_k = top_k
        self.economics = economics or Economics()
        _ = churn.explainer  # build the TreeSHAP tables now, not in the first request
        self.families = sorted(set(churn.families) | set(clv.families))
        self.timezone = churn.card.data.timezone
        self.schema = churn.card.attribute_schema
        """How a CRM row's attributes become features (models trained on a snapshots table)."""
        self.columns = list(dict.fromkeys([*churn.encoding.columns, *clv.encoding.columns]))
        """Every feature either model needs, churn model's order first."""
        self.shared_encoding = churn.encoding == clv.encoding
        self.tier_cutoffs = churn.risk_tiers or DEFAULT_TIERS

    def encode(self, frame: pd.DataFrame) -> EncodedBatch:
        """Encode a feature frame for both models (one pass when they share an encoding)."""
        churn = self.churn.encoding.transform(frame)
        return EncodedBatch(
            churn, churn if self.shared_encoding else self.clv.encoding.transform(frame)
        )

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
        for matrix, encoding in (
            (batch.churn, self.churn.encoding),
            (batch.clv, self.clv.encoding),
        ):
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
        clv = self.clv.predict_matrix(batch.clv)
        high, medium = self.tier_cutoffs
        tier = np.where(churn >= high, 0, np.where(churn >= medium, 1, 2))
        contrib = self.churn.contributions(batch.churn)[:, :-1]
        k = min(self.top_k, contrib.shape[1])
        magnitude = np.abs(contrib)
        top = (
            np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
            if k
            else np.zeros((len(churn), 0), int)
        )
        order = np.argsort(-np.take_along_axis(magnitude, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return ScoreArrays(
            churn,
            clv,
            tier,
            top,
            np.take_along_axis(contrib, top, axis=1),
            self.economics.gross_margin,
        )
