"""Helpers of the serving tests: raw HTTP, requests built from the demo data, contract checks."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.schemas import CustomerScore, ModelInfo
from tests.helpers import http

API_KEY = "test-key-7f3a"  # only ever given to the test server's environment
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def post_raw(
    url: str,
    data: bytes | str,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST a body exactly as given (malformed JSON, NaN literals, other content types)."""
    return http("POST", url, headers=headers, raw=data, content_type=content_type)


def error_items(body: Any) -> list[tuple[list[Any], str]]:
    """(loc, msg) of every problem in an error body, BentoML's and the service's alike."""
    assert isinstance(body, dict), f"error body is not JSON: {body!r}"
    assert body.get("error"), body
    return [(list(d.get("loc", [])), str(d.get("msg", ""))) for d in body.get("detail", [])]


def assert_client_error(status: int, body: Any, expected: int, loc: list[Any], *words: str) -> None:
    """A 4xx with a problem at ``loc`` (or below it) whose message has every one of ``words``."""
    assert status == expected, (status, body)
    items = error_items(body)
    matching = [msg for where, msg in items if where[: len(loc)] == loc]
    assert matching, f"no problem at {loc}: {items}"
    text = " ".join(matching) + " " + str(body["error"])
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def feature_values(row: pd.Series, columns: list[str]) -> dict[str, Any]:
    """A feature-table row as the JSON ``features`` object of a request (NaN and NA as null)."""
    out: dict[str, Any] = {}
    for name in columns:
        value = row[name]
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            out[name] = None
        elif isinstance(value, np.generic):
            out[name] = value.item()
        else:
            out[name] = value
    return out


def demo_events(
    data_dir: Path, customer_ids: list[str], as_of: pd.Timestamp, *, offsets: bool = True
) -> list[dict[str, Any]]:
    """Customers' raw rows from the demo CSVs, up to ``as_of``, as by-events request items.

    With ``offsets`` the timestamps (naive, business time UTC) are sent in three spellings that
    name the same instant: as they are, with ``Z``, and shifted to +05:30; so the request mixes
    offsets while its features must stay those of the batch.
    """
    tx = pd.read_csv(data_dir / "transactions.csv", dtype=str, keep_default_na=False)
    customers = pd.read_csv(data_dir / "customers.csv", dtype=str, keep_default_na=False)
    tx = tx.loc[pd.to_datetime(tx["timestamp"]).dt.normalize() <= as_of]
    items = []
    for cid in customer_ids:
        rows = tx.loc[tx["customer_id"] == cid]
        events = []
        for k, r in enumerate(rows.itertuples(index=False)):
            stamp = r.timestamp
            if offsets and k % 3 == 1:
                stamp = f"{stamp}Z"
            elif offsets and k % 3 == 2:
                stamp = pd.Timestamp(stamp).tz_localize("UTC").tz_convert(IST).isoformat()
            events.append(
                {
                    "timestamp": stamp,
                    "amount": float(r.amount),
                    "order_id": r.order_id,
                    "quantity": float(r.quantity),
                    "product_id": r.product_id,
                    "category": r.category,
                }
            )
        person = customers.loc[customers["customer_id"] == cid].iloc[0]
        items.append(
            {
                "customer_id": cid,
                "as_of": str(as_of.date()),
                "signup_date": person["signup_date"],
                "attributes": {"channel": person["channel"], "region": person["region"]},
                "transactions": events,
            }
        )
    return items


def check_score(score: CustomerScore, info: ModelInfo, top_k: int = 3) -> None:
    """The invariants every scored customer satisfies, whatever the input path."""
    assert score.error is None, score.error
    p, clv, var = score.churn_probability, score.clv, score.value_at_risk
    assert p is not None
    assert clv is not None
    assert var is not None
    assert 0.0 <= p <= 1.0
    assert clv >= 0.0
    staying = clv / max(1 - p, 0.02)
    assert score.value_if_staying is not None
    assert math.isclose(score.value_if_staying, staying, rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(var, p * staying * 0.4, rel_tol=1e-12, abs_tol=1e-12)  # GBP, 40% margin
    assert score.currency == "GBP"
    high, medium = info.risk_tiers["high"], info.risk_tiers["medium"]
    expected_tier = "high" if p >= high else "medium" if p >= medium else "low"
    assert score.risk_tier == expected_tier, (p, info.risk_tiers)
    assert len(score.reasons) == top_k
    magnitudes = [abs(r.contribution) for r in score.reasons]
    assert magnitudes == sorted(magnitudes, reverse=True)
    for reason in score.reasons:
        assert reason.feature in [*info.features, *info.derived_features]
        assert reason.direction == ("raises risk" if reason.contribution > 0 else "lowers risk")
        assert reason.label  # plain words from the catalogue, never empty
    assert score.model_versions is not None
    assert score.model_versions.churn == info.churn_version
    assert score.model_versions.clv == info.clv_version


# ----------------------------------------------------------------------------- tiny models
# A real churn and CLV bundle pair fitted in a fraction of a second on synthetic rows, for unit
# tests of the scorer, the request adapters, the lookup snapshot and the output shaping.

TINY_FAMILIES = ["rfm", "profile"]
TINY_ATTRIBUTES = ["region"]
TINY_REGIONS = ("east", "north", "south")


def tiny_features(n: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic feature rows (as ``build_features`` names them) indexed by customer id."""
    from features.build import feature_names

    rng = np.random.default_rng(seed)
    columns = feature_names(TINY_FAMILIES, TINY_ATTRIBUTES)
    frame = pd.DataFrame(
        {
            "days_since_last_purchase": rng.integers(0, 400, n).astype(float),
            "orders_total": rng.integers(1, 30, n).astype(float),
            "spend_total": rng.gamma(2.0, 50.0, n).round(2),
            "avg_order_value": rng.gamma(2.0, 10.0, n).round(2),
            "tenure_days": rng.integers(30, 2000, n).astype(float),
            "attr_region": rng.choice(np.array(TINY_REGIONS, dtype=object), n),
        },
        index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id"),
    )
    frame.loc[frame.index[::7], "avg_order_value"] = np.nan  # some missing values
    frame.loc[frame.index[::11], "attr_region"] = None
    assert list(frame.columns) == columns
    return frame


def tiny_scorer(top_k: int = 3, economics: Any = None) -> Any:
    """A ``serving.scorer.Scorer`` over a tiny churn and CLV bundle pair fitted here."""
    import lightgbm as lgb

    from core.risk_tiers import RiskTiers
    from model.booster import LightGBMModel
    from model.bundle import ModelBundle
    from model.encoding import FeatureEncoding
    from serving.scorer import Scorer
    from tests.helpers import card_for

    frame = tiny_features(400, seed=1)
    encoding = FeatureEncoding.fit(frame)
    matrix = encoding.transform(frame)
    rng = np.random.default_rng(2)
    logit = (frame["days_since_last_purchase"].to_numpy() - 150) / 60
    logit += np.where(frame["attr_region"].to_numpy() == "south", 2.5, -1.0)
    churned = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(float)
    spend = (frame["orders_total"] * 3.0 * (1 - churned)).to_numpy()
    params = {"verbose": -1, "min_data_in_leaf": 5, "num_leaves": 7, "seed": 0}
    bundles = {}
    for kind, objective, label in (("churn", "binary", churned), ("clv", "tweedie", spend)):
        data = lgb.Dataset(
            matrix,
            label,
            feature_name=list(encoding.columns),
            categorical_feature=encoding.categorical_indices,
            free_raw_data=False,
        )
        booster = lgb.train({**params, "objective": objective}, data, num_boost_round=8)
        card = card_for(kind, list(encoding.columns), experiment="tiny")
        bundles[kind] = ModelBundle(
            kind=kind,  # type: ignore[arg-type]
            model=LightGBMModel(booster),
            encoding=encoding,
            horizon_days=90,
            families=list(TINY_FAMILIES),
            card=card,
            attributes=list(TINY_ATTRIBUTES),
            risk_tiers=(0.65, 0.4) if kind == "churn" else None,
        )
    versions = {"churn": "churn:1", "clv": "clv:1"}
    return Scorer(
        bundles["churn"],
        bundles["clv"],
        versions,
        top_k=top_k,
        economics=economics,
        risk_tiers=RiskTiers(high=0.65, medium=0.4),
    )


def feature_items(frame: pd.DataFrame) -> list[Any]:
    """Feature rows as typed by-features request items (``CustomerInput``), null for missing."""
    from serving.schemas import CustomerInput

    return [
        CustomerInput(customer_id=str(cid), features=feature_values(row, list(frame.columns)))
        for cid, row in frame.iterrows()
    ]
