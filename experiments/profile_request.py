"""Profile one request of each kind in-process, through the code the service runs (no HTTP).

    python experiments/profile_request.py [--out profile.txt] [--top 25]

Run after ``make demo`` (or in any workspace with a package and a ``retain score``): it builds the
service class of ``serving.service`` as a worker does (the current package, the current
workspace's lookup table), parses each JSON body with the endpoint's own input model (BentoML's
``model_validate_json``) and calls the endpoint's work (``Retain._score`` / ``Retain._score_ids``):

  - ``/score`` of 1 customer by features, with reasons;
  - ``/score`` of 1 customer by raw events (transactions, attributes) and ``as_of``;
  - ``/score_ids`` of 1,000 scored customers;
  - ``/score`` of 1,000 customers by features (the target of 25 ms);
  - (timed only) ``/score_ids`` of 1 customer.

For each profiled request it prints the median time per call and cProfile's top functions by
cumulative time over many calls (fixed seeds: the same customers every run).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.lookup import feature_table_path, read_feature_table

SEED = 0


def service() -> Any:
    """The service object a worker builds (``serving.service.Retain``), ready to score."""
    from serving.service import Retain  # importing it is the service's start-up

    svc = Retain.inner()
    if not hasattr(svc, "scorer"):
        from serving.guard import HEALTH

        raise SystemExit(f"the service is not ready: {HEALTH.failure}")
    return svc


def feature_record(table: pd.DataFrame, columns: list[str], row: int) -> dict[str, Any]:
    """A customer's features as a request gives them: numbers, texts or null."""
    values = table.iloc[row][columns].to_dict()
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in values.items()}


def events_customer(svc: Any, table: pd.DataFrame) -> dict[str, Any]:
    """One customer by raw events: a year of seeded purchases and a return, with the attributes
    of a customer of the table, scored as of the table's day."""
    from serving.requests import attribute_names

    rng = np.random.default_rng(SEED)
    as_of = pd.Timestamp(table["as_of"].max()).normalize()
    days = np.sort(rng.integers(1, 365, size=12))[::-1]
    transactions = [
        {
            "timestamp": (as_of - pd.Timedelta(days=int(d))).isoformat(),
            "amount": round(float(rng.gamma(2.0, 25.0)), 2),
            "order_id": f"O{k}",
        }
        for k, d in enumerate(days)
    ]
    transactions.append(
        {
            "timestamp": (as_of - pd.Timedelta(days=3)).isoformat(),
            "amount": -10.0,
            "order_id": "O0-R",
            "quantity": -1,
        }
    )
    names = sorted(attribute_names(svc.scorer))
    row = table.iloc[0]
    attributes = {
        n: (None if pd.isna(row.get(f"attr_{n}")) else row.get(f"attr_{n}")) for n in names
    }
    attributes = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attributes.items()}
    return {
        "customer_id": "EVENTS-1",
        "as_of": as_of.date().isoformat(),
        "signup_date": (as_of - pd.Timedelta(days=400)).date().isoformat(),
        "attributes": attributes,
        "transactions": transactions,
    }


def bodies(svc: Any) -> dict[str, bytes]:
    """The JSON bodies profiled, for customers of the current lookup table."""
    from core.settings import retain_home
    from serving.generation import read_scores
    from serving.lookup import normalise_ids

    table = read_feature_table(feature_table_path())
    columns = list(svc.scorer.columns)
    rng = np.random.default_rng(SEED)
    rows = rng.choice(len(table), 1000, replace=len(table) < 1000)
    scores, _ = read_scores(retain_home() / "scores" / "scores.parquet")
    scored = normalise_ids(scores["customer_id"])
    ids = scored[rng.choice(len(scored), 1000, replace=len(scored) < 1000)]

    def by_features(n: int) -> list[dict[str, Any]]:
        return [
            {"customer_id": str(table.index[r]), "features": feature_record(table, columns, r)}
            for r in rows[:n].tolist()
        ]

    out = {
        "score 1 by features": {"customers": by_features(1)},
        "score 1 by events": {"customers": [events_customer(svc, table)]},
        "score_ids 1000": {"customer_ids": [str(i) for i in ids]},
        "score 1000 by features": {"customers": by_features(1000)},
        "score_ids 1": {"customer_ids": [str(ids[0])]},
    }
    return {k: json.dumps(v, default=str).encode() for k, v in out.items()}


def request(svc: Any, name: str, body: bytes) -> Callable[[], Any]:
    """One request's work as the service does it after reading the body: parse, then score."""
    from serving.requests import check_attribute_names
    from serving.service import Retain

    if name.startswith("score_ids"):
        ids_input = Retain.apis["score_ids"].input_spec

        def by_id() -> Any:
            return svc._score_ids(ids_input.model_validate_json(body).customer_ids)

        return by_id

    customers_input = Retain.apis["score"].input_spec

    def score() -> Any:
        customers = customers_input.model_validate_json(body).customers
        check_attribute_names(customers, svc.attributes)
        return svc._score(customers)

    return score


def median_ms(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    """Median over 5 rounds of the mean wall and CPU time per call (CPU: of every thread of the
    process, which a busy shared machine inflates less than the wall time), in ms."""
    fn()
    wall, cpu = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        wall.append((time.perf_counter() - start) / calls * 1000)
        cpu.append((time.process_time() - start_cpu) / calls * 1000)
    return statistics.median(wall), statistics.median(cpu)


def profile(fn: Callable[[], Any], calls: int, top: int) -> str:
    """cProfile's ``top`` functions by cumulative time over ``calls`` calls."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    svc = service()
    scorer = svc.scorer
    lines = [
        f"served: churn {scorer.versions['churn']} ({scorer.churn.card.model}), "
        f"clv {scorer.versions['clv']} ({scorer.clv.card.model if scorer.clv else 'none'}), "
        f"uplift {scorer.uplift_label or 'none'}; {len(scorer.columns)} request features; "
        f"{svc.lookup.loaded.customers if svc.lookup.loaded else 0:,} customers in the table",
        "",
        "median ms per request, in-process (parse + check + score + JSON): wall, CPU",
    ]
    work = {name: request(svc, name, body) for name, body in bodies(svc).items()}
    for name, fn in work.items():
        body = fn().body
        assert b'"error":null' in body, f"{name} answered an error: {body[:300]!r}"
        calls = 10 if "1000" in name else 300
        wall, cpu = median_ms(fn, calls)
        lines.append(f"  {name:<24} {wall:8.3f} ms {cpu:8.3f} ms")
    for name in (
        "score 1 by features",
        "score 1 by events",
        "score_ids 1000",
        "score 1000 by features",
    ):
        calls = 20 if "1000" in name else 300
        lines += ["", f"=== {name}: cProfile over {calls} calls, by cumulative time ===", ""]
        lines.append(profile(work[name], calls, args.top))
    report = "\n".join(lines)
    if args.out is not None:
        args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
