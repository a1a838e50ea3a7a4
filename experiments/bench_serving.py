"""Benchmark: the retain service vs the HTTP floor vs `mlflow models serve` vs in-process predict.

All servers run one worker on 127.0.0.1 (but ``retain-2-workers``) and are loaded with wrk from
this machine, one server at a time, in the same invocation: single-customer requests by features
at concurrency 1, 8 and 32 and by id at 1 and 8 (each run bounded by ``--seconds`` and by
``--max-requests`` per connection thread), then 1,000-customer batches. Every configuration is
repeated ``--repeats`` times; the table gives medians, each row's throughput as a share of the
floor's for the same request (``floor_pct``) and as a multiple of mlflow's for the same customers
(``x_mlflow``), and on the one-worker retain rows issue 30's targets with their verdicts
(``target``); ``results/serving.md`` and ``serving.json`` hold it all. Any servable family runs:
a booster or a logistic churn model, with a CLV model or churn only.

    python experiments/bench_serving.py [--seconds 10] [--repeats 3]

Servers measured:
  floor             bare FastAPI (experiments/floor_server.py): parses the same bodies, answers a
                    short record per customer, no model: what HTTP and JSON cost here
  retain            the service as shipped (serving.service)
  retain-2-workers  the same with RETAIN_WORKERS=2 (this machine has 2 cores, wrk takes some)
  retain-default    the same service on BentoML's default runtime (RETAIN_RUNTIME_TUNING=0):
                    a recorded span per request kept alive by the timeout timer, no heap freeze
  mlflow            `mlflow models serve --env-manager local` of the same registered churn model

By-id requests ask for customers of the last `retain score` (the active base), whose answers the
service sends as precomputed; a lapsed id would be scored on request like a features request.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.cli import bentoml_serve_args

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".retain" / "bench-home"
RESULTS = ROOT / "experiments" / "results"
WORKSPACE = "bench"
"""The name of the benchmark config, so its workspace."""

LUA = """
local limit = tonumber(os.getenv("WRK_MAX_REQUESTS") or "0")
local count = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("WRK_BODY")):read("*a")
response = function(status, headers, body)
  if status ~= 200 then errors_non200 = (errors_non200 or 0) + 1 end
  count = count + 1
  if limit > 0 and count >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors": %d, "non2xx": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def env_for_home() -> dict[str, str]:
    return {
        **os.environ,
        "RETAIN_HOME": str(HOME),
        "RETAIN_WORKSPACE": WORKSPACE,  # the config's name: its state is kept there
        "BENTOML_HOME": str(HOME / "bentoml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{HOME / 'mlflow.db'}",
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_LOG_UV_FILES": "false",
    }


def ensure_champion(customers: int) -> None:
    """Demo data, training, packaging and batch scoring in the benchmark's own home, once."""
    from serving.lookup import feature_table_path

    if feature_table_path().exists():
        return
    retain = str(Path(sys.executable).parent / "retain")
    env = env_for_home()
    (HOME / "data").mkdir(parents=True, exist_ok=True)
    config = HOME / "demo.yaml"
    config.write_text(
        f"name: {WORKSPACE}\n"
        "data:\n  transactions: {path: data/retail/transactions.csv}\n"
        "  customers: {path: data/retail/customers.csv}\n"
    )
    for args in (
        [
            "demo-data",
            "--out",
            str(HOME / "data"),
            "--customers",
            str(customers),
            "--business",
            "retail",
        ],
        ["train", "--config", str(config), "--quiet"],
        ["package"],
        ["score", "--config", str(config)],
    ):
        print("  retain", " ".join(args), flush=True)
        subprocess.run([retain, *args], env=env, cwd=ROOT, check=True, capture_output=True)


def wait(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {seconds}s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = env_for_home()
    if kind == "mlflow":
        # mlflow runs `uvicorn` through bash: the environment's bin must be on PATH
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/churn@champion",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        ready = f"http://127.0.0.1:{port}/health"
    elif kind == "floor":
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "experiments.floor_server:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        ready = f"http://127.0.0.1:{port}/readyz"
    else:
        if kind == "retain-default":
            env["RETAIN_RUNTIME_TUNING"] = "0"
        if kind == "retain-2-workers":
            env["RETAIN_WORKERS"] = "2"
        command = bentoml_serve_args("127.0.0.1", port)
        ready = f"http://127.0.0.1:{port}/readyz"
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait(ready, process)
    except RuntimeError as error:
        stop(process)
        raise RuntimeError(f"{kind}: {error}\n{log.read_text()[-3000:]}") from None
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)


def wrk(
    url: str, body: Path, connections: int, seconds: float, max_requests: int, lua: Path
) -> dict[str, Any]:
    env = {**os.environ, "WRK_BODY": str(body), "WRK_MAX_REQUESTS": str(max_requests)}
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(lua),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or "RESULT " not in done.stdout:
        raise RuntimeError(f"wrk failed on {url}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def median_runs(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "req_s": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "max_ms": max(r["max_us"] for r in runs) / 1000,
        "errors": sum(r["errors"] + r["non2xx"] for r in runs),
    }


def served_scorer() -> Any:
    """The packaged models as the service loads them, from the benchmark's BentoML store."""
    from serving.store import load_packaged_scorer

    return load_packaged_scorer(threads=1)


def served_models(scorer: Any) -> dict[str, str]:
    """Each served model's family and version ('lightgbm (churn:3)'); a churn-only package has
    no CLV entry."""
    return {
        kind: f"{bundle.card.model} ({scorer.versions[kind]})"
        for kind, bundle in (("churn", scorer.churn), ("clv", scorer.clv))
        if bundle is not None
    }


def lookup_table() -> pd.DataFrame:
    """The latest features per customer that ``retain score`` wrote, indexed by customer id."""
    from serving.lookup import feature_table_path, read_feature_table

    return read_feature_table(feature_table_path())


def scored_ids() -> pd.Index:
    """The customers the last ``retain score`` scored (the active base), as the table keys them."""
    from core.settings import retain_home
    from serving.generation import read_scores
    from serving.lookup import normalise_ids

    scores, _ = read_scores(retain_home() / "scores" / "scores.parquet")
    return normalise_ids(scores["customer_id"])


def payloads(
    tmp: Path, scorer: Any, table: pd.DataFrame, active: pd.Index | None = None
) -> dict[str, Path]:
    """Request bodies for real customers of the feature table, built from the served models'
    input schema (``Scorer.columns``: the features a request gives; the models derive the rest,
    such as the BTYD features of ``lightgbm_btyd``, which the table does not hold); by-id
    bodies of scored customers (``active``, default ``scored_ids``). Any servable family: a
    booster or a logistic churn model, with a CLV model or churn only."""
    inputs = list(scorer.columns)
    missing = [c for c in inputs if c not in table.columns]
    if missing:
        raise SystemExit(f"the feature table lacks the served models' inputs {missing}")
    rows = table[inputs].sample(1000, random_state=0, replace=len(table) < 1000)
    active = scored_ids() if active is None else active
    ids = active[np.random.default_rng(0).choice(len(active), 1000, replace=len(active) < 1000)]
    churn_inputs = list(scorer.churn.encoding.inputs)  # the MLflow model's signature

    def record(i: int) -> dict[str, Any]:
        values = rows.iloc[i].to_dict()
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in values.items()}

    def mlflow_body(frame: pd.DataFrame) -> dict[str, Any]:
        data = frame[churn_inputs].astype(object).where(frame.notna(), None)
        return {
            "dataframe_split": {
                "columns": churn_inputs,
                "data": data.values.tolist(),
            }
        }

    bodies = {
        "retain_one": {"customers": [{"customer_id": str(rows.index[0]), "features": record(0)}]},
        "retain_batch_features": {
            "customers": [
                {"customer_id": str(rows.index[i]), "features": record(i)} for i in range(1000)
            ]
        },
        "retain_one_id": {"customer_ids": [str(ids[0])]},
        "retain_batch_ids": {"customer_ids": [str(i) for i in ids]},
        "mlflow_one": mlflow_body(rows.iloc[:1]),
        "mlflow_batch": mlflow_body(rows),
    }
    paths = {}
    for name, body in bodies.items():
        paths[name] = tmp / f"{name}.json"
        paths[name].write_text(json.dumps(body, default=str))
    return paths


def in_process(
    scorer: Any, table: pd.DataFrame, repeats: int = 2000, batch_calls: int = 10
) -> dict[str, float]:
    """Per-call times of the model itself, without HTTP: the floor any server adds to."""
    one = scorer.encode(table.iloc[:1])
    batch_frame = table.sample(1000, random_state=0, replace=len(table) < 1000)
    batch = scorer.encode(batch_frame)
    booster = getattr(scorer.churn.model, "booster", None)  # a LightGBM churn model's booster

    def timed(fn: Any, n: int) -> float:
        fn()
        samples = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            samples.append((time.perf_counter() - t) / n * 1000)
        return statistics.median(samples)

    times = {
        "score_1_row_with_reasons_ms": timed(lambda: scorer.score(one), repeats // 4),
        "score_1000_rows_with_reasons_ms": timed(lambda: scorer.score(batch), batch_calls),
    }
    if booster is None:  # another model family (logistic regression): no booster to time
        return times
    return {
        "booster_predict_1_row_numpy_ms": timed(
            lambda: booster.predict(one.churn, num_threads=1), repeats
        ),
        "booster_predict_1_row_dataframe_ms": timed(
            lambda: booster.predict(
                pd.DataFrame(one.churn, columns=booster.feature_name()), num_threads=1
            ),
            repeats // 4,
        ),
        **times,
    }


ONE_BY_FEATURES = "1 customer by features, reasons"
MLFLOW_ONE = "1 customer, no reasons"
MLFLOW_BATCH = "1000 customers, no reasons"
ONE_BY_ID = "1 customer by id, reasons"
BATCH_BY_FEATURES = "1000 customers by features, reasons"
BATCH_BY_ID = "1000 customers by id, reasons"


def plan(
    kind: str, url: str, bodies: dict[str, Path]
) -> list[tuple[str, str, Path, tuple[int, ...]]]:
    """(request label, path, body, concurrencies) each server is loaded with."""
    if kind == "mlflow":
        return [
            (MLFLOW_ONE, "/invocations", bodies["mlflow_one"], (1, 8, 32)),
            (MLFLOW_BATCH, "/invocations", bodies["mlflow_batch"], (1,)),
        ]
    if kind == "retain-2-workers":
        return [
            (ONE_BY_FEATURES, "/score", bodies["retain_one"], (8,)),
            (ONE_BY_ID, "/score_ids", bodies["retain_one_id"], (8,)),
        ]
    return [
        (ONE_BY_FEATURES, "/score", bodies["retain_one"], (1, 8, 32)),
        (ONE_BY_ID, "/score_ids", bodies["retain_one_id"], (1, 8)),
        (BATCH_BY_FEATURES, "/score", bodies["retain_batch_features"], (1,)),
        (BATCH_BY_ID, "/score_ids", bodies["retain_batch_ids"], (1,)),
    ]


SAME_REQUEST = {
    ONE_BY_ID: MLFLOW_ONE,
    ONE_BY_FEATURES: MLFLOW_ONE,
    BATCH_BY_ID: MLFLOW_BATCH,
    BATCH_BY_FEATURES: MLFLOW_BATCH,
}
"""The mlflow request each retain request is compared with (mlflow has no reasons, no ids)."""
TARGETS: list[tuple[str, int, str, str, float]] = [
    (ONE_BY_ID, 1, ">= 60% of the floor", "floor_pct", 60),
    (ONE_BY_ID, 8, ">= 60% of the floor", "floor_pct", 60),
    (ONE_BY_ID, 8, "p99 <= 5 ms", "p99_ms", -5),
    (BATCH_BY_ID, 1, "p50 <= 5 ms", "p50_ms", -5),
    (ONE_BY_FEATURES, 1, ">= 30% of the floor", "floor_pct", 30),
    (BATCH_BY_FEATURES, 1, "p50 <= 25 ms", "p50_ms", -25),
    (ONE_BY_FEATURES, 8, ">= 20x mlflow", "x_mlflow", 20),
]
"""Issue 30's targets: (request, concurrency, words, column, bound); a negative bound is an
upper bound on the column, a positive one a lower bound. One worker (server ``retain``)."""


def with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``floor_pct`` (each row's req/s as a share of the floor's for the same
    request and concurrency; mlflow's against the floor's by features) and ``x_mlflow`` (req/s
    over mlflow's for the same customers and concurrency)."""
    floor = table.loc[table["server"] == "floor"].set_index(["request", "concurrency"])["req_s"]
    mlflow = table.loc[table["server"] == "mlflow"].set_index(["request", "concurrency"])["req_s"]
    as_features = {MLFLOW_ONE: ONE_BY_FEATURES, MLFLOW_BATCH: BATCH_BY_FEATURES}
    pairs = list(zip(table["request"], table["concurrency"], table["req_s"], strict=True))
    share = [100 * r / floor.get((as_features.get(q, q), c), np.nan) for q, c, r in pairs]
    times = [
        r / mlflow.get((SAME_REQUEST[q], c), np.nan) if q in SAME_REQUEST else np.nan
        for q, c, r in pairs
    ]
    return table.assign(floor_pct=share, x_mlflow=times)


def with_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``target``: on the one-worker retain rows that have targets, each target and
    whether it is met ('>= 60% of the floor: met; p99 <= 5 ms: NOT met'); empty elsewhere."""
    verdicts = [
        "; ".join(
            f"{words}: {'met' if met(row[column], bound) else 'NOT met'}"
            for request, connections, words, column, bound in TARGETS
            if (row["server"], row["request"], row["concurrency"])
            == ("retain", request, connections)
        )
        for row in table.to_dict(orient="records")
    ]
    return table.assign(target=verdicts)


def met(value: float, bound: float) -> bool:
    """Whether ``value`` meets a target's bound (negative: at most -bound; NaN never does)."""
    return bool(value >= bound if bound > 0 else value <= -bound)


def targets(table: pd.DataFrame) -> list[str]:
    """Each target of issue 30 with the measured value and whether it is met."""
    at = table.loc[table["server"] == "retain"].set_index(["request", "concurrency"])
    units = {"floor_pct": "%", "p99_ms": " ms", "p50_ms": " ms", "x_mlflow": "x"}
    lines = []
    for request, connections, words, column, bound in TARGETS:
        value = (
            at.loc[(request, connections), column] if (request, connections) in at.index else np.nan
        )
        met = value >= bound if bound > 0 else value <= -bound
        lines.append(
            f"- {request}, c={connections}: {words}: {value:.1f}{units[column]} "
            f"({'met' if met else 'NOT met'})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=200_000, help="per wrk thread and run")
    parser.add_argument("--customers", type=int, default=5000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    os.environ.update(env_for_home())  # this process reads the benchmark's store and table too
    print("preparing the champion model (demo data, train, package, score)", flush=True)
    ensure_champion(args.customers)
    scorer, table = served_scorer(), lookup_table()
    print(f"served: {served_models(scorer)}; request features: {len(scorer.columns)}", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lua = tmp / "bench.lua"
        lua.write_text(LUA)
        bodies = payloads(tmp, scorer, table)
        for kind in ("floor", "retain", "retain-2-workers", "retain-default", "mlflow"):
            print(f"{kind}: starting", flush=True)
            process, url = start(kind, tmp / f"{kind}.log")
            try:
                for label, path, body, concurrencies in plan(kind, url, bodies):
                    wrk(f"{url}{path}", body, 1, 2, 0, lua)  # warm-up
                    for connections in concurrencies:
                        runs = [
                            wrk(f"{url}{path}", body, connections, args.seconds, limit, lua)
                            for _ in range(args.repeats)
                            for limit in [args.max_requests if "1 customer" in label else 0]
                        ]
                        rows.append(
                            {
                                "server": kind,
                                "request": label,
                                "concurrency": connections,
                                **median_runs(runs),
                            }
                        )
                        print(f"  {rows[-1]}", flush=True)
            finally:
                stop(process)
    summarise(rows, in_process(scorer, table), args)


def summarise(rows: list[dict[str, Any]], model: dict[str, float], args: Any) -> None:
    """The table with floor shares, mlflow ratios and target verdicts per row, the overall ratios
    and the targets, written to ``results/``."""
    table = with_verdicts(with_ratios(pd.DataFrame(rows)))
    write_results(table, model, ratios(table), args)


def ratios(table: pd.DataFrame) -> dict[str, float]:
    """The headline ratios of single customers by features at c=8 (and c=1 for the tail)."""
    single = table.loc[table["request"].isin([ONE_BY_FEATURES, MLFLOW_ONE])].set_index(
        ["server", "concurrency"]
    )
    return {
        "throughput retain / mlflow at c=8": single.loc[("retain", 8), "req_s"]
        / single.loc[("mlflow", 8), "req_s"],
        "throughput retain / floor at c=8": single.loc[("retain", 8), "req_s"]
        / single.loc[("floor", 8), "req_s"],
        "throughput retain / retain-default at c=8": single.loc[("retain", 8), "req_s"]
        / single.loc[("retain-default", 8), "req_s"],
        "p99 retain-default / retain at c=1": single.loc[("retain-default", 1), "p99_ms"]
        / single.loc[("retain", 1), "p99_ms"],
    }


def write_results(
    table: pd.DataFrame,
    model: dict[str, float],
    ratios: dict[str, float],
    args: Any,
    out: Path = RESULTS,
) -> None:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:,.1f}"
        return str(v)

    head = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    lines = [
        "# Serving benchmark",
        "",
        f"`python experiments/bench_serving.py --seconds {args.seconds:g} --repeats {args.repeats}` on this",
        "2-core machine: one server worker, wrk -t1 on 127.0.0.1, medians of the repeats (max: worst of all).",
        "",
        head,
        rule,
        *body,
        "",
        "Ratios:",
        "",
        *[f"- {k}: {v:.1f}x" for k, v in ratios.items()],
        "",
        "Targets (issue 30; one worker, medians):",
        "",
        *targets(table),
        "",
        "In-process, same model, no HTTP (median ms per call):",
        "",
        *[f"- {k}: {v:.4f}" for k, v in model.items()],
        "",
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.md").write_text("\n".join(lines))
    records = json.loads(table.to_json(orient="records"))  # NaN as null: valid JSON
    (out / "serving.json").write_text(
        json.dumps(
            {"rows": records, "in_process": model, "ratios": ratios, "targets": targets(table)},
            indent=2,
        )
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
