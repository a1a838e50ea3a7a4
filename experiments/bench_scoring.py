"""Benchmark: batch scoring of 1M customers from a precomputed feature table, reasons included.

The feature table is the benchmark champion's own (demo data, see bench_serving.py) resampled to
``--customers`` rows with new ids, so the rows have realistic values. Each run happens in a fresh
process (its peak RSS is its own): read the Parquet table, score with the packaged champions
(churn probability, CLV, value at risk, tier, top-3 TreeSHAP reasons) and write the scores table.

    python experiments/bench_scoring.py [--customers 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import HOME, RESULTS, ROOT, ensure_champion, env_for_home

CHILD = """
import json, resource, sys, time
import pandas as pd
from serving.batch import score_features
from serving.store import load_packaged_scorer
t0 = time.perf_counter()
scorer = load_packaged_scorer()
t1 = time.perf_counter()
table = pd.read_parquet(sys.argv[1]).set_index("customer_id")
as_of = pd.Timestamp(table["as_of"].iloc[0])
t2 = time.perf_counter()
scores = score_features(scorer, table.drop(columns="as_of"), as_of, progress=False)
t3 = time.perf_counter()
scores.to_parquet(sys.argv[2], index=False)
t4 = time.perf_counter()
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
reasons = int(sum(c.startswith("reason_") and c.count("_") == 1 for c in scores.columns))
print(json.dumps({"load_models_s": t1 - t0, "read_s": t2 - t1, "score_s": t3 - t2, "write_s": t4 - t3,
                  "total_s": t4 - t1, "rows": len(scores), "rss_mb": rss_mb, "reasons": reasons}))
"""


def feature_table(customers: int) -> Path:
    path = ROOT / ".retain" / "bench" / f"features_{customers}.parquet"
    if path.exists():
        return path
    base = pd.read_parquet(HOME / "serving" / "features_latest.parquet")
    sample = base.sample(customers, replace=True, random_state=0).reset_index(drop=True)
    sample["customer_id"] = [f"B{i:08d}" for i in range(customers)]
    path.parent.mkdir(parents=True, exist_ok=True)
    sample.to_parquet(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ensure_champion(5000)
    table = feature_table(args.customers)
    out = ROOT / ".retain" / "bench" / "scores_bench.parquet"
    runs = []
    for i in range(args.runs):
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(CHILD), str(table), str(out)],
            env=env_for_home(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"run {i + 1}: {runs[-1]}", flush=True)
    keys = ("read_s", "score_s", "write_s", "total_s", "rss_mb")
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    lines = [
        "# Batch scoring benchmark",
        "",
        f"`python experiments/bench_scoring.py --customers {args.customers} --runs {args.runs}`: "
        f"{runs[0]['rows']:,} customers, {runs[0]['reasons']} reasons each, "
        f"medians of {args.runs} fresh processes.",
        "",
        "| read table (s) | score + reasons (s) | write scores (s) | total (s) | peak RSS (MB) |",
        "|---|---|---|---|---|",
        f"| {median['read_s']:.1f} | {median['score_s']:.1f} | {median['write_s']:.1f} | "
        f"{median['total_s']:.1f} | {median['rss_mb']:,.0f} |",
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
