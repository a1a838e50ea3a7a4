"""Benchmark: every transaction feature family on 10M-100M transactions, Dask against pandas.

For each size, a synthetic retail log is written to ``.retain/bench/scale/<size>/`` as Parquet
files of about 5M rows each (typed columns, as a warehouse exports them), one block of customers
at a time from the demo generator (``retain.demo_data.make_retail``, fresh seed per block), so
the whole log is never in memory (four blocks are simulated; the others reuse them under new
customer ids). Then:

* **dask**: ``features.dask_engine`` on a LocalCluster of ``--workers`` worker processes with
  ``--memory-limit`` each (spilling allowed): read lazily, shuffle by customer, validate, features
  as of the last day, written as partitioned Parquet. Peak memory is sampled every 0.5 s from the
  workers' RSS (and the client's, which holds the scheduler), per worker and in total.
* **pandas**: the same steps with ``features.loading.validate_table``, ``prepare`` and
  ``build_features`` in one process with its address space capped at ``--pandas-cap`` so a size
  it cannot do fails cleanly (MemoryError) instead of taking the machine down. Peak is VmHWM.

    python experiments/bench_scale.py [--sizes 10M,30M,100M] [--workers 2] [--memory-limit 4GB]

Writes ``experiments/results/scale.md`` (a table per run appended as rows of one table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / ".retain" / "bench" / "scale"
RESULTS = ROOT / "experiments" / "results" / "scale.md"
ROWS_PER_CUSTOMER = 20.6  # rows per customer of the retail generator, measured
CUSTOMERS_PER_FILE = 250_000  # about 5M rows per file
AS_OF = "2024-12-31"


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KMB")) * scale)


DISTINCT_BLOCKS = 4
"""Blocks simulated afresh (seeds 1000-1003); later blocks reuse one of them under new customer
ids, so 100M rows cost four simulations, not twenty."""


def generate(rows: int, folder: Path) -> int:
    """Write about ``rows`` transactions as Parquet files of whole customer blocks; rows written."""
    done = folder / "_SUCCESS"
    if done.exists():
        return int(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    customers = int(rows / ROWS_PER_CUSTOMER)
    written = 0
    for block, start in enumerate(range(0, customers, CUSTOMERS_PER_FILE)):
        n = min(CUSTOMERS_PER_FILE, customers - start)
        tx = simulated_block(block % DISTINCT_BLOCKS, n)
        tx["customer_id"] = f"B{block:04d}-" + tx["customer_id"]
        tx.to_parquet(folder / f"part-{block:04d}.parquet", index=False)
        written += len(tx)
        print(f"  generated {written:,} rows", flush=True)
    done.write_text(str(written))
    return written


def simulated_block(seed: int, customers: int) -> pd.DataFrame:
    """One block of the demo retailer's customers (cached on disk), with typed timestamps."""
    from retain.demo_data import make_retail

    path = CACHE / "blocks" / f"block-{seed}-{customers}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    tx = make_retail(customers, seed=1000 + seed, campaigns=False).transactions
    tx["timestamp"] = pd.to_datetime(tx["timestamp"], format="ISO8601")
    path.parent.mkdir(parents=True, exist_ok=True)
    tx.to_parquet(path, index=False)
    return tx


class RssSampler:
    """Samples the resident memory of some processes every ``every`` seconds, keeping the peaks."""

    def __init__(self, pids: dict[str, int], every: float = 0.5) -> None:
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.peak_total = 0
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for name, proc in self.procs.items():
                try:
                    rss = proc.memory_info().rss
                except Exception:
                    rss = 0
                self.peak[name] = max(self.peak[name], rss)
                total += rss
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_dask(folder: Path, work: Path, workers: int, memory_limit: str) -> dict:
    """Features of every customer from the Parquet folder on a fresh LocalCluster."""
    import shutil

    from core.sources import DataConfig
    from features.dask_engine import (
        ClusterSettings,
        FeatureTask,
        load_partitioned,
        map_partitions,
        start_client,
    )

    shutil.rmtree(work, ignore_errors=True)
    client = start_client(
        ClusterSettings(workers=workers, threads=1, memory_limit=memory_limit, processes=True)
    )
    print(f"  dask dashboard: {client.dashboard_link}", flush=True)
    try:
        pids = {f"worker {i}": pid for i, pid in enumerate(client.run(os.getpid).values())}
        pids["client+scheduler"] = os.getpid()
        files = len(list(folder.glob("*.parquet")))
        config = DataConfig.model_validate({"transactions": {"path": str(folder)}})
        with RssSampler(pids) as sampler:
            started = time.perf_counter()
            parted = load_partitioned(config, work / "tables", npartitions=max(files * 4, 4))
            paths = map_partitions(
                parted, FeatureTask(pd.Timestamp(AS_OF)), work / "features"
            ).paths
            seconds = time.perf_counter() - started
        customers = sum(pq_rows(p) for p in paths)
        (report,) = parted.reports
        return {
            "seconds": seconds,
            "rows": report.rows_read,
            "customers": customers,
            "peak_worker_gb": max(v for k, v in sampler.peak.items() if k.startswith("worker"))
            / 1e9,
            "peak_client_gb": sampler.peak["client+scheduler"] / 1e9,
            "peak_total_gb": sampler.peak_total / 1e9,
        }
    finally:
        client.close()
        client.cluster.close()


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


PANDAS_CHILD = """
import json, resource, sys, time
cap = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
def peak_gb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
import pandas as pd
from features.build import build_features
from features.loading import CustomerData, validate_table
from features.prepare import prepare
from core.schema import TRANSACTIONS
try:
    started = time.perf_counter()
    raw = pd.read_parquet(sys.argv[1])
    tx, report = validate_table(raw, TRANSACTIONS, source_name=sys.argv[1])
    del raw
    features = build_features(prepare(CustomerData(transactions=tx)), sys.argv[3])
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": report.rows_read,
                      "customers": len(features), "peak_total_gb": peak_gb()}))
except MemoryError:
    print(json.dumps({"failed": "MemoryError", "peak_total_gb": peak_gb()}))
"""


def run_pandas(folder: Path, cap_bytes: int) -> dict:
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PANDAS_CHILD, str(folder), str(cap_bytes), AS_OF],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": tail[:120]}
    return dict(json.loads(lines[-1]))


def dask_row(folder: Path, rows: int, args: argparse.Namespace) -> dict:
    """One dask run as a row of the results table."""
    print("  dask ...", flush=True)
    d = run_dask(folder, CACHE / "work", args.workers, args.memory_limit)
    print(f"  dask: {json.dumps(d)}", flush=True)
    return {
        "engine": f"dask, {args.workers} workers x {args.memory_limit}",
        "transactions": rows,
        "customers": d["customers"],
        "seconds": d["seconds"],
        "rows/s": rows / d["seconds"],
        "rows/s per core": rows / d["seconds"] / args.workers,
        "peak per worker (GB)": d["peak_worker_gb"],
        "peak total (GB)": d["peak_total_gb"],
        "outcome": "done",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10M,30M,100M", help="transactions per run, e.g. 1M,10M")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--memory-limit", default="4GB", help="memory limit per Dask worker")
    parser.add_argument("--pandas-cap", default="8GB", help="address-space cap of the pandas run")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas runs")
    parser.add_argument("--no-dask", action="store_true", help="skip the dask runs")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    cap = parse_size(args.pandas_cap.upper().replace("GB", "")) * 1_000_000_000
    rows_out = []
    pandas_failed = args.no_pandas
    for size in sizes:
        folder = CACHE / f"{size}"
        print(f"{size:,} transactions: generating (if not cached) in {folder}", flush=True)
        rows = generate(size, folder)
        if not args.no_dask:
            rows_out.append(dask_row(folder, rows, args))
        if pandas_failed:
            continue
        print("  pandas ...", flush=True)
        p = run_pandas(folder, cap)
        print(f"  pandas: {json.dumps(p)}", flush=True)
        if "failed" in p:
            pandas_failed = True  # larger sizes fail too
        rows_out.append(
            {
                "engine": f"pandas, 1 process capped at {args.pandas_cap}",
                "transactions": rows,
                "customers": p.get("customers", np.nan),
                "seconds": p.get("seconds", np.nan),
                "rows/s": rows / p["seconds"] if "seconds" in p else np.nan,
                "rows/s per core": rows / p["seconds"] if "seconds" in p else np.nan,
                "peak per worker (GB)": np.nan,
                "peak total (GB)": p.get("peak_total_gb", np.nan),
                "outcome": f"failed: {p['failed']}" if "failed" in p else "done",
            }
        )
    write_results(pd.DataFrame(rows_out), args)


def write_results(frame: pd.DataFrame, args: argparse.Namespace) -> None:
    """Merge this invocation's rows into ``scale.json`` (by engine and size) and render scale.md."""
    store = RESULTS.with_suffix(".json")
    if store.exists():
        old = pd.DataFrame(json.loads(store.read_text()))
        frame = pd.concat([old, frame], ignore_index=True)
        frame = frame.drop_duplicates(["engine", "transactions"], keep="last")
    frame = frame.sort_values(["transactions", "engine"], kind="stable", ignore_index=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(frame.to_json(orient="records", indent=1))

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if np.isnan(v) else (f"{v:,.0f}" if v >= 100 else f"{v:.2f}")
        if isinstance(v, (int, np.integer)):
            return f"{v:,}"
        return str(v)

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Feature build at scale: Dask against pandas\n\n"
        f"`python experiments/bench_scale.py --sizes <size> --workers {args.workers} "
        f"--memory-limit {args.memory_limit} --pandas-cap {args.pandas_cap}` on "
        f"{os.cpu_count()} cores shared with other work ({time.strftime('%Y-%m-%d')}). "
        "Every transaction family "
        f"(btyd, rfm, activity, gaps, basket) as of {AS_OF}, from typed Parquet; the dask time "
        "includes reading, the shuffle by customer, validation and writing the features.\n\n"
        + "\n".join([head, rule, *body])
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
