"""Scores into what callers read: JSON records for the service, a scores table for ``retain score``.

Both forms show a reason's value the same way (``reason_values``): a category by its level name,
a number as it is, missing as missing; the table writes numbers as text with ``%.6g``. Both carry
value at risk as ``model.value_at_risk`` defines it (gross profit, the packaged economics' margin)
and the currency it is in; records also say whether the customer is active by batch scoring's rule
and give each reason a plain-words ``label`` from the feature catalogue. With an uplift model,
records carry the offer's effect (``uplift``, ``expected_incremental_value``) and its reasons,
labelled the same way. A churn-only package gives null CLV (NaN in the table), and null values
when value is unknown (``Scorer.value``): never 0, never a guess. ``score_json`` gives the same
records already serialised, built column by column (one serialisation per column, each distinct
reason's text once), byte for byte what serialising ``score_records`` gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic_core import to_json

from core.schema import CUSTOMER_ID
from features.catalogue import reason_label
from model.encoding import FeatureEncoding
from serving.lookup import AS_OF
from serving.scorer import TIERS, EncodedBatch, ScoreArrays, Scorer

FEW_RECORDS = 16
"""Up to this many records ``score_json`` serialises one by one, more column by column."""
RAISES, LOWERS = "raises risk", "lowers risk"
RAISES_UPLIFT, LOWERS_UPLIFT = "raises uplift", "lowers uplift"
"""Directions of an uplift reason: the feature makes the offer work better, or worse."""


def reason_values(
    encoding: FeatureEncoding, matrix: np.ndarray, reason_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The reasons' encoded values and, for categories, their level names (else None).

    Both of shape ``reason_index.shape``; vectorised per categorical feature among the reasons.
    """
    values = matrix[np.arange(len(reason_index))[:, None], reason_index]
    levels = np.full(values.shape, None, dtype=object)
    categorical = np.array([c in encoding.categories for c in encoding.columns], dtype=bool)
    hit = categorical[reason_index] & ~np.isnan(values)
    if hit.any():
        for j in np.unique(reason_index[hit]).tolist():
            at = hit & (reason_index == j)
            names = np.asarray(encoding.categories[encoding.columns[j]], dtype=object)
            levels[at] = names[values[at].astype(int)]
    return values, levels


def reason_records(
    encoding: FeatureEncoding,
    matrix: np.ndarray,
    index: np.ndarray,
    contribution: np.ndarray,
    money: Callable[[float], str],
    directions: tuple[str, str],
    *,
    raw: pd.DataFrame | None = None,
    digits: int | None = 6,
) -> list[list[dict[str, Any]]]:
    """Per row, its reasons as JSON-ready dicts: feature, value, plain label, contribution and
    ``directions[0]`` for a positive contribution, else ``directions[1]``.

    ``raw`` (the feature frame of a by-events request, rows by position) shows a category the
    model never saw as given, where the encoding alone knows only that it is missing;
    ``digits`` rounds the contributions (None keeps them exact).
    """
    names = encoding.columns
    values, levels = reason_values(encoding, matrix, index)
    labels: dict[tuple[str, Any], str] = {}  # day counts, tiers and levels repeat: label once
    shown = contribution if digits is None else np.round(contribution, digits)
    direction = np.where(contribution > 0, directions[0], directions[1]).tolist()
    categorical = set(encoding.categories)
    out = []
    for i, (idx, contrib, vals, lvls) in enumerate(
        zip(index.tolist(), shown.tolist(), values.tolist(), levels.tolist(), strict=True)
    ):
        reasons = []
        for j, c, v, level, way in zip(idx, contrib, vals, lvls, direction[i], strict=True):
            name = names[j]
            if level is not None:
                value = level
            elif v != v:  # NaN is missing; an unseen category may still be shown as given
                value = None if raw is None or name not in categorical else _raw(raw, name, i)
            else:
                value = v
            label = labels.get((name, value))
            if label is None:
                label = labels[(name, value)] = reason_label(name, value, money)
            reasons.append(
                {
                    "feature": name,
                    "value": value,
                    "label": label,
                    "contribution": c,
                    "direction": way,
                }
            )
        out.append(reasons)
    return out


def score_records(
    scorer: Scorer,
    ids: Sequence[str],
    scores: ScoreArrays,
    batch: EncodedBatch,
    as_of: Sequence[dt.date | None],
    raw: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """JSON-ready dicts in the ``CustomerScore`` shape, one per customer, reasons with values.

    ``raw`` (the feature frame of a by-events request, rows by position) shows a category the
    model never saw as given, where the encoding alone knows only that it is missing. Without an
    uplift model the uplift fields are null and ``uplift_reasons`` empty.
    """
    versions = {**scorer.versions, "uplift": scorer.uplift_label}
    money = scorer.economics.money
    currency = scorer.economics.currency
    reasons = reason_records(
        scorer.churn.encoding,
        batch.churn,
        scores.reason_index,
        scores.reason_contribution,
        money,
        (RAISES, LOWERS),
        raw=raw,
    )
    n = len(ids)
    effect = scores.uplift
    if effect is not None and scorer.uplift is not None and batch.uplift is not None:
        uplift_l: list[float | None] = effect.uplift.tolist()
        value_l: list[float | None] = effect.incremental_value.tolist()
        uplift_reasons = reason_records(
            scorer.uplift.encoding,
            batch.uplift,
            effect.reason_index,
            effect.reason_contribution,
            money,
            (RAISES_UPLIFT, LOWERS_UPLIFT),
            raw=raw,
            digits=None,  # exact: they add up to uplift minus the base value
        )
    else:
        uplift_l, value_l, uplift_reasons = [None] * n, [None] * n, [[] for _ in range(n)]
    churn_l = scores.churn.tolist()
    clv_l, staying_l, var_l = (
        [None] * n if a is None else a.tolist()
        for a in (scores.clv, scores.value_if_staying, scores.value_at_risk)
    )
    active_l = scorer.active(batch).tolist()
    tiers = scores.tier.tolist()
    out = []
    for i, cid in enumerate(ids):
        day = as_of[i]
        out.append(
            {
                "customer_id": cid,
                "churn_probability": churn_l[i],
                "risk_tier": TIERS[tiers[i]],
                "clv": clv_l[i],
                "value_if_staying": staying_l[i],
                "value_at_risk": var_l[i],
                "currency": currency,
                "active": active_l[i],
                "reasons": reasons[i],
                "uplift": uplift_l[i],
                "expected_incremental_value": value_l[i],
                "uplift_reasons": uplift_reasons[i],
                "as_of": day.isoformat() if day is not None else None,
                "model_versions": versions,
                "error": None,
            }
        )
    return out


def score_json(
    scorer: Scorer,
    ids: Sequence[str],
    scores: ScoreArrays,
    batch: EncodedBatch,
    as_of: Sequence[dt.date | None],
) -> np.ndarray:
    """Each customer's ``score_records`` record as JSON bytes (an object array), built column by
    column: equal, byte for byte, to ``to_json(record, inf_nan_mode="null")`` of each record.

    Numbers of a column are serialised in one call and split; a reason's feature, value and label
    once per distinct (feature, value); the records joined by numpy's elementwise concatenation.
    """
    n = len(ids)
    if n <= FEW_RECORDS:  # the columns' fixed costs exceed a few records' dicts
        records = score_records(scorer, ids, scores, batch, as_of)
        return _objects([to_json(r, inf_nan_mode="null") for r in records])
    money = scorer.economics.money
    effect = scores.uplift
    if effect is not None and scorer.uplift is not None and batch.uplift is not None:
        uplift, value = (
            _json_column(effect.uplift.tolist()),
            _json_column(effect.incremental_value.tolist()),
        )
        uplift_reasons = _reasons_json(
            scorer.uplift.encoding,
            batch.uplift,
            effect.reason_index,
            effect.reason_contribution,
            money,
            (RAISES_UPLIFT, LOWERS_UPLIFT),
            None,
        )
    else:
        uplift = value = _constant(b"null", n)
        uplift_reasons = _constant(b"[]", n)

    def column(values: np.ndarray | None) -> np.ndarray:
        return _constant(b"null", n) if values is None else _json_column(values.tolist())

    tiers = np.array([to_json(t) for t in TIERS], dtype=object)
    days = [None if d is None else d.isoformat() for d in as_of]
    versions = to_json({**scorer.versions, "uplift": scorer.uplift_label})
    fields = [
        (b'{"customer_id":', _objects([to_json(cid) for cid in ids])),
        (b',"churn_probability":', _json_column(scores.churn.tolist())),
        (b',"risk_tier":', tiers[scores.tier]),
        (b',"clv":', column(scores.clv)),
        (b',"value_if_staying":', column(scores.value_if_staying)),
        (b',"value_at_risk":', column(scores.value_at_risk)),
        (b',"currency":' + to_json(scorer.economics.currency), None),
        (b',"active":', _json_column(scorer.active(batch).tolist())),
        (
            b',"reasons":',
            _reasons_json(
                scorer.churn.encoding,
                batch.churn,
                scores.reason_index,
                scores.reason_contribution,
                money,
                (RAISES, LOWERS),
                6,
            ),
        ),
        (b',"uplift":', uplift),
        (b',"expected_incremental_value":', value),
        (b',"uplift_reasons":', uplift_reasons),
        (b',"as_of":', _json_column(days)),
        (b',"model_versions":' + versions + b',"error":null}', None),
    ]
    out = _constant(b"", n)
    for key, values in fields:
        out = out + key if values is None else out + key + values
    return out


def _reasons_json(
    encoding: FeatureEncoding,
    matrix: np.ndarray,
    index: np.ndarray,
    contribution: np.ndarray,
    money: Callable[[float], str],
    directions: tuple[str, str],
    digits: int | None,
) -> np.ndarray:
    """Per row, the JSON array of ``reason_records``' reasons (rows of a feature frame: no
    ``raw``), built per reason slot: each distinct (feature, value) serialised once."""
    n, k = index.shape
    out = _constant(b"[", n)
    if k == 0:
        return out + b"]"
    values, levels = reason_values(encoding, matrix, index)
    shown = contribution if digits is None else np.round(contribution, digits)
    # a reason's feature, value and label depend on its feature and value bits only
    bits = np.unique(values.ravel().view(np.int64), return_inverse=True)[1]
    pairs = bits.reshape(-1).astype(np.int64) * len(encoding.columns) + index.ravel()
    _, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
    heads = []
    flat_index, flat_levels = index.ravel().tolist(), levels.ravel()
    for at in first.tolist():
        name = encoding.columns[flat_index[at]]
        v = float(values.flat[at])
        value = flat_levels[at] if flat_levels[at] is not None else (None if v != v else v)
        head = {"feature": name, "value": value, "label": reason_label(name, value, money)}
        heads.append(to_json(head, inf_nan_mode="null")[:-1] + b',"contribution":')
    head_of = _objects(heads)[inverse.reshape(-1)].reshape(n, k)
    lowers, raises = (b',"direction":' + to_json(d) + b"}" for d in directions[::-1])
    ways = np.array([lowers, raises], dtype=object)  # by contribution > 0
    for slot in range(k):
        reason = head_of[:, slot] + _json_column(shown[:, slot].tolist())
        reason = reason + ways[(contribution[:, slot] > 0).astype(np.intp)]
        out = out + reason if slot == 0 else out + b"," + reason
    return out + b"]"


def _json_column(values: list[Any]) -> np.ndarray:
    """The JSON of each of ``values`` (numbers, booleans, null, texts without commas), from one
    serialisation of the list split at its commas."""
    return _objects(to_json(values, inf_nan_mode="null")[1:-1].split(b","))


def _objects(items: list[bytes]) -> np.ndarray:
    """An object array of ``items`` (numpy would make a fixed-width bytes array)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _constant(item: bytes, n: int) -> np.ndarray:
    return np.full(n, item, dtype=object)


def _raw(raw: pd.DataFrame, name: str, row: int) -> Any:
    if name not in raw:
        return None
    v = raw[name].iloc[row]
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def item_error(customer_id: str, message: str) -> dict[str, Any]:
    """A ``CustomerScore`` that could not be scored: empty scores and the reason why."""
    return {
        "customer_id": customer_id,
        "churn_probability": None,
        "risk_tier": None,
        "clv": None,
        "value_if_staying": None,
        "value_at_risk": None,
        "currency": None,
        "active": None,
        "reasons": [],
        "uplift": None,
        "expected_incremental_value": None,
        "uplift_reasons": [],
        "as_of": None,
        "model_versions": None,
        "error": message,
    }


def scores_table(
    scorer: Scorer,
    ids: pd.Index,
    scores: ScoreArrays,
    batch: EncodedBatch,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """The scores table rows: scores, tier, and ``reason_<k>``, ``_value``, ``_direction``.

    ``value_if_staying`` is revenue, ``value_at_risk`` gross profit (``model.value_at_risk``),
    both in ``currency``; ``clv`` and the values are NaN where the package has no value for them.

    Reason values are text: categories by level name, numbers with ``%.6g``, missing as "".
    """
    out = pd.DataFrame(
        {
            CUSTOMER_ID: ids.astype("str"),
            AS_OF: as_of,
            "churn_probability": scores.churn,
            "risk_tier": np.asarray(TIERS)[scores.tier],
            "clv": _or_nan(scores.clv, len(ids)),
            "value_if_staying": _or_nan(scores.value_if_staying, len(ids)),
            "value_at_risk": _or_nan(scores.value_at_risk, len(ids)),
            "currency": scorer.economics.currency,
        }
    )
    encoding = scorer.churn.encoding
    values, levels = reason_values(encoding, batch.churn, scores.reason_index)
    # format each distinct value once: reason values repeat (day counts, tiers, levels)
    codes, distinct = pd.factorize(values.ravel(), use_na_sentinel=True)
    formatted = np.array([f"{v:.6g}" for v in distinct] + [""], dtype=object)
    text = formatted[codes].reshape(values.shape)  # NaN has code -1: the trailing ""
    is_level = levels != None  # noqa: E711 - elementwise on an object array
    text[is_level] = levels[is_level]
    names = np.asarray(encoding.columns, dtype=object)
    for k in range(scores.reason_index.shape[1]):
        out[f"reason_{k + 1}"] = names[scores.reason_index[:, k]]
        out[f"reason_{k + 1}_value"] = text[:, k]
        out[f"reason_{k + 1}_direction"] = np.where(
            scores.reason_contribution[:, k] > 0, RAISES, LOWERS
        )
    return out


def _or_nan(values: np.ndarray | None, n: int) -> np.ndarray:
    """A score column, or NaN throughout where the package has no such score."""
    return np.full(n, np.nan) if values is None else values
