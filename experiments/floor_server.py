"""The benchmark's HTTP floor: bare FastAPI parsing retain's request bodies, no model.

``/score_ids`` and ``/score`` parse the same JSON bodies as the retain service (pydantic models of
the same shape) and answer one short score record per customer: what any Python HTTP service on
this machine pays before it scores anyone. Run by ``experiments/bench_serving.py``:

    python -m uvicorn experiments.floor_server:app --port 3100 --workers 1 --no-access-log
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Ids(BaseModel):
    customer_ids: list[str | int | float]


class Customer(BaseModel):
    customer_id: str | int | float
    features: dict[str, Any] | None = None


class Customers(BaseModel):
    customers: list[Customer]


def record(customer_id: str | int | float) -> dict[str, Any]:
    """A short score record: what the floor answers per customer."""
    return {"customer_id": str(customer_id), "churn_probability": 0.5, "risk_tier": "medium"}


@app.post("/score_ids")
async def score_ids(body: Ids) -> dict[str, Any]:
    return {"scores": [record(i) for i in body.customer_ids]}


@app.post("/score")
async def score(body: Customers) -> dict[str, Any]:
    return {"scores": [record(c.customer_id) for c in body.customers]}


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}
