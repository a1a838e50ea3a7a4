"""By-id answers precomputed by ``retain score``: the service's JSON record of each scored customer.

``retain score`` already scores every active customer with the service's code; it also writes each
one's answer, serialised as ``/score_ids`` would send it, into the lookup table it publishes
(column ``ANSWER``, with the tier code in ``ANSWER_TIER`` for the service's metrics), and records
in the file's Parquet metadata what the answers depend on (``answer_basis``: model versions,
reasons per customer, economics, risk tiers). The service then answers a scored customer with
those bytes, no scoring; a customer of the table without an answer (lapsed, not in the batch) is
scored on the fly. Answers written for other models or settings than the served ones are not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from serving.scorer import Scorer

ANSWER = "__retain_answer"
"""The lookup table's column of precomputed answers (JSON bytes; null for customers not scored)."""
ANSWER_TIER = "__retain_answer_tier"
"""The lookup table's column of the answers' risk tier codes (-1 where there is no answer)."""
ANSWERS_KEY = b"retain.answers"
"""The Parquet metadata key holding the answers' basis (``answer_basis``) as JSON."""
COLUMNS = (ANSWER, ANSWER_TIER)
FEW_ROWS = 16
"""Up to this many answers are read one by one, more with one vectorised ``take``."""


def answer_basis(scorer: Scorer) -> dict[str, Any]:
    """Everything a customer's answer depends on besides their features: two equal bases give
    equal answers for equal features."""
    return {
        "versions": {**scorer.versions, "uplift": scorer.uplift_label},
        "top_k": scorer.top_k,
        "economics": scorer.economics.model_dump(mode="json"),
        "risk_tiers": scorer.risk_tiers.model_dump(mode="json"),
    }


@dataclass(frozen=True)
class Answers:
    """Precomputed answers by row of a lookup table: JSON bytes or null, and tier codes (both
    mapped read-only from the file the workers share, ``serving.shared_table``)."""

    records: pa.BinaryArray
    """A row's answer as JSON bytes, null where the row was not scored."""
    tiers: np.ndarray
    """int8 tier codes (``serving.scorer.TIERS``), -1 where there is no answer."""

    @property
    def count(self) -> int:
        return int((self.tiers >= 0).sum())

    def take(self, rows: np.ndarray) -> list[bytes | None]:
        """The answers of the given row positions, in order."""
        if len(rows) <= FEW_ROWS:  # scalar reads: 1.6 us for one row against 16 us for a take
            return [self.records[row].as_py() for row in rows.tolist()]
        return self.records.take(pa.array(rows, type=pa.int64())).to_pylist()


def read_answers(
    table: pd.DataFrame, metadata: dict[bytes, bytes], scorer: Scorer
) -> tuple[Answers | None, str]:
    """The answers of a lookup table (columns removed from ``table`` in place) if their basis is
    the served scorer's, else None; with a one-line note saying which it is and why."""
    if ANSWER not in table.columns:
        return None, "the feature table holds no precomputed answers: every id is scored on request"
    records = table.pop(ANSWER).to_numpy(dtype=object)
    tiers = table.pop(ANSWER_TIER) if ANSWER_TIER in table.columns else None
    try:
        stored = json.loads(metadata.get(ANSWERS_KEY, b"null"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        stored = None
    served = answer_basis(scorer)
    if stored != served or tiers is None:
        differ = (
            sorted(k for k in served if not isinstance(stored, dict) or stored.get(k) != served[k])
            if tiers is not None
            else ["tiers"]
        )
        return None, (
            f"precomputed answers not used: written for other {', '.join(differ)} than served "
            "(every id is scored on request until `retain score` runs with these models)"
        )
    codes = tiers.fillna(-1).to_numpy(dtype=np.int8)
    answers = Answers(pa.array(records, type=pa.binary()), codes)
    codes.setflags(write=False)
    return answers, f"precomputed answers for {answers.count:,} scored customers"
