"""Benchmark: BTYD summary and full feature set vs lifetimes, on 1M and 10M transactions and CDNOW.

Each measurement runs in a fresh process so its peak memory (VmHWM, input data included) is its
own; timings are the median of ``--runs`` repetitions inside that process. The peer,
``lifetimes.utils.summary_data_from_transaction_data``, runs in ``.venv-bench`` (it is not a
dependency of retain) on the same Parquet file, in the same invocation, one after the other.

    python experiments/bench_features.py [--sizes 1000000 10000000] [--runs 5] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".retain" / "bench"
RESULTS = ROOT / "experiments" / "results"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
ROWS_PER_CUSTOMER = 20.63  # rows per customer of the synthetic retail generator, measured

OURS_SUMMARY = """
import resource, statistics, sys, time, json
def peak_kb():
    # VmHWM is this process's own peak: ru_maxrss would include the parent's (Linux keeps it across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import pandas as pd
from experiments.lifetimes_summary import summary
df = pd.read_parquet(sys.argv[1], columns=["customer_id", "timestamp", "amount"])
df = df.loc[df["amount"] >= 0]
loaded = peak_kb()
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    out = summary(df, "customer_id", "timestamp", sys.argv[2], monetary_value_col="amount")
    times.append(time.perf_counter() - t)
out.to_parquet(sys.argv[4])
print(json.dumps({"times": times, "rss_kb": peak_kb(),
                  "loaded_kb": loaded, "rows": len(df), "customers": len(out)}))
"""

PEER_SUMMARY = """
import resource, statistics, sys, time, json
def peak_kb():
    # VmHWM is this process's own peak: ru_maxrss would include the parent's (Linux keeps it across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data
df = pd.read_parquet(sys.argv[1], columns=["customer_id", "timestamp", "amount"])
df = df.loc[df["amount"] >= 0]
loaded = peak_kb()
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    out = summary_data_from_transaction_data(
        df, "customer_id", "timestamp", monetary_value_col="amount", observation_period_end=sys.argv[2])
    times.append(time.perf_counter() - t)
out.to_parquet(sys.argv[4])
print(json.dumps({"times": times, "rss_kb": peak_kb(),
                  "loaded_kb": loaded, "rows": len(df), "customers": len(out)}))
"""

OURS_FULL = """
import resource, sys, time, json
def peak_kb():
    # VmHWM is this process's own peak: ru_maxrss would include the parent's (Linux keeps it across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import pandas as pd
from features.build import build_features
from features.loading import CustomerData
from features.prepare import prepare
tx = pd.read_parquet(sys.argv[1])
customers = pd.read_parquet(sys.argv[5]) if sys.argv[5] != "-" else None
data = CustomerData(transactions=tx, customers=customers)
loaded = peak_kb()
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    features = build_features(prepare(data), sys.argv[2])
    times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "rss_kb": peak_kb(),
                  "loaded_kb": loaded, "rows": len(tx), "customers": len(features),
                  "features": features.shape[1]}))
"""


def synthetic(rows: int) -> tuple[Path, Path, str]:
    """Canonical transactions and customers of a synthetic retail base with about ``rows`` rows."""
    from core.schema import CUSTOMERS, TRANSACTIONS
    from features.loading import validate_table
    from retain.demo_data import make_retail

    CACHE.mkdir(parents=True, exist_ok=True)
    tx_path, cust_path = CACHE / f"tx_{rows}.parquet", CACHE / f"customers_{rows}.parquet"
    if not tx_path.exists():
        started = time.perf_counter()
        demo = make_retail(int(rows / ROWS_PER_CUSTOMER), seed=1)
        tx, _ = validate_table(demo.transactions, TRANSACTIONS, source_name="synthetic")
        customers, _ = validate_table(demo.customers, CUSTOMERS, source_name="synthetic")
        tx.to_parquet(tx_path, index=False)
        customers.to_parquet(cust_path, index=False)
        print(
            f"  generated {len(tx):,} transactions in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    return tx_path, cust_path, "2024-06-30"


def cdnow() -> tuple[Path, None, str] | None:
    """CDNOW master as canonical Parquet (read through retain's loader), if ../shared has it."""
    if not CDNOW.exists():
        return None
    from core.schema import TRANSACTIONS
    from core.sources import TableSource
    from features.loading import load_table

    path = CACHE / "cdnow_master.parquet"
    if not path.exists():
        source = TableSource(
            path=CDNOW,
            sep=r"\s+",
            header=False,
            names=["customer", "date", "cds", "dollars"],
            columns={
                "customer_id": "customer",
                "timestamp": "date",
                "amount": "dollars",
                "quantity": "cds",
            },
            date_format="%Y%m%d",
            drop_duplicates=False,
        )
        frame, _ = load_table(source, TRANSACTIONS)
        CACHE.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    return path, None, "1997-09-30"


def run_child(python: Path, code: str, *args: str) -> dict:
    done = subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true", help="skip lifetimes")
    args = parser.parse_args()
    ours_python = Path(sys.executable)
    peer = not args.no_peer and BENCH_PYTHON.exists()
    if not args.no_peer and not BENCH_PYTHON.exists():
        print(f"no {BENCH_PYTHON}: run `make bench-features` to create it; skipping lifetimes")

    datasets: list[tuple[str, Path, Path | None, str]] = []
    for size in args.sizes:
        print(f"data: synthetic, ~{size:,} rows", flush=True)
        tx, customers, end = synthetic(size)
        datasets.append((f"synthetic {size / 1e6:g}M", tx, customers, end))
    found = cdnow()
    if found:
        datasets.append(("CDNOW master", found[0], None, found[2]))

    rows = []
    for name, tx, customers, end in datasets:
        print(f"{name}: BTYD summary (retain)", flush=True)
        ours = run_child(
            ours_python, OURS_SUMMARY, str(tx), end, str(args.runs), str(CACHE / "ours.parquet")
        )
        row = {
            "data": name,
            "rows": ours["rows"],
            "customers": ours["customers"],
            "btyd_retain_s": statistics.median(ours["times"]),
            "btyd_retain_peak_mb": ours["rss_kb"] / 1024,
        }
        if peer:
            print(f"{name}: BTYD summary (lifetimes)", flush=True)
            runs = max(1, min(args.runs, 3)) if ours["rows"] > 5_000_000 else args.runs
            theirs = run_child(
                BENCH_PYTHON, PEER_SUMMARY, str(tx), end, str(runs), str(CACHE / "peer.parquet")
            )
            same = _same_summary(CACHE / "ours.parquet", CACHE / "peer.parquet")
            row.update(
                {
                    "btyd_lifetimes_s": statistics.median(theirs["times"]),
                    "btyd_lifetimes_peak_mb": theirs["rss_kb"] / 1024,
                    "speedup": statistics.median(theirs["times"])
                    / statistics.median(ours["times"]),
                    "identical": same,
                }
            )
        print(f"{name}: full feature set (retain)", flush=True)
        full = run_child(
            ours_python,
            OURS_FULL,
            str(tx),
            end,
            str(max(1, min(args.runs, 3))),
            "",
            str(customers) if customers else "-",
        )
        row.update(
            {
                "full_retain_s": statistics.median(full["times"]),
                "full_peak_mb": full["rss_kb"] / 1024,
                "features": full["features"],
            }
        )
        rows.append(row)
        print(f"  {row}", flush=True)

    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Feature benchmark",
        "",
        f"`python experiments/bench_features.py --runs {args.runs}`; median of the runs; "
        "peak = the peak RSS (VmHWM) of",
        "the measuring process, input data included. lifetimes: "
        + (
            "`summary_data_from_transaction_data` in `.venv-bench`, same file, same run."
            if peer
            else "not run."
        ),
        "",
        _markdown(table),
        "",
    ]
    (RESULTS / "features.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _same_summary(ours: Path, theirs: Path) -> bool:
    """Same customers in the same order and every value equal to 1e-9."""
    a, b = pd.read_parquet(ours), pd.read_parquet(theirs)
    if list(a.index.astype(str)) != list(b.index.astype(str)) or list(a.columns) != list(b.columns):
        return False
    return bool(((a.to_numpy() - b.to_numpy()) ** 2).max() < 1e-18)


def _markdown(frame: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        return f"{v:,.3f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else str(v))

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


if __name__ == "__main__":
    main()
