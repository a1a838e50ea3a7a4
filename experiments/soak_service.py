"""`make soak`: a bounded load of good and bad requests on a real retain server on 127.0.0.1.

Threads send a mix for ``--seconds``: by-features, by-events (one customer with 5,000 events,
scored off the event loop) and by-id scoring, and bad
requests (dates out of range, overflowing amounts, a foreign Host, XML, an oversized body).
Every answer must carry the status its kind expects. Reports requests, errors (a 5xx, a wrong
status, a connection failure), the slowest /readyz while loaded, and the resident memory (RSS)
of the server's processes after warm-up, every 10 s and at the end. Fails on any error.

    python experiments/soak_service.py [--seconds 60] [--threads 4]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from experiments.served import HOME, STATE, Served, ensure_project
from serving.lookup import read_feature_table
from tests.helpers import http
from tests.serving.support import demo_events, feature_values

MAX_BODY = 1_000_000


def requests_mix() -> list[tuple[str, str, Any, dict[str, str], str, int]]:
    """(name, path, JSON body or raw bytes, headers, content type, expected status)."""
    table = read_feature_table(STATE / "serving" / "features_latest.parquet")
    columns = [c for c in table.columns if c != "as_of"]
    ids = table.index[:200].tolist()
    as_of = pd.Timestamp(table["as_of"].max()).normalize()
    feats = [
        {"customer_id": cid, "features": feature_values(table.loc[cid], columns)}
        for cid in ids[:50]
    ]
    events = demo_events(HOME / "data" / "retail", ids[:20], as_of)
    many = {**events[0], "transactions": (events[0]["transactions"] * 5000)[:5000]}
    bad_day = {**events[0], "as_of": "0001-01-01"}
    huge = {**events[0], "transactions": [{**events[0]["transactions"][0], "amount": 1e308}] * 2}
    js = "application/json"
    return [
        ("one by features", "/score", {"customers": feats[:1]}, {}, js, 200),
        ("50 by features", "/score", {"customers": feats}, {}, js, 200),
        ("20 by events", "/score", {"customers": events}, {}, js, 200),
        ("5,000 events", "/score", {"customers": [many]}, {}, js, 200),
        ("200 by id", "/score_ids", {"customer_ids": ids}, {}, js, 200),
        ("model info", "/model_info", {}, {}, js, 200),
        ("date in year 1", "/score", {"customers": [bad_day]}, {}, js, 400),
        ("amounts of 1e308", "/score", {"customers": [huge]}, {}, js, 400),
        (
            "foreign host",
            "/score_ids",
            {"customer_ids": ids[:1]},
            {"Host": "evil.example"},
            js,
            400,
        ),
        ("xml", "/score", b"<customers/>", {}, "application/xml", 415),
        ("body too large", "/score_ids", b"[" + b" " * (MAX_BODY + 1) + b"]", {}, js, 413),
    ]


def rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants, in kB."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss="], capture_output=True, text=True)
    rows = [tuple(int(x) for x in line.split()) for line in out.stdout.splitlines() if line.strip()]
    children = collections.defaultdict(list)
    rss = {}
    for pid, ppid, kb in rows:
        children[ppid].append(pid)
        rss[pid] = kb
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    ensure_project()
    mix = requests_mix()
    counts: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    out = HOME / "soak"
    with Served(out / "service.log", RETAIN_MAX_BODY_BYTES=str(MAX_BODY)) as server:
        assert server.process is not None

        def send(k: int) -> None:
            name, path, body, headers, content_type, expected = mix[k % len(mix)]
            try:
                if isinstance(body, bytes):
                    status, _ = http(
                        "POST",
                        server.url + path,
                        headers=headers,
                        raw=body,
                        content_type=content_type,
                        timeout=60,
                    )
                else:
                    status, _ = http("POST", server.url + path, body, headers, timeout=60)
            except OSError as err:
                status, expected = -1, 0
                name = f"{name}: {type(err).__name__}"
            with lock:
                counts[name] += 1
                if status != expected:
                    errors[f"{name} -> {status}"] += 1

        for k in range(len(mix) * 3):  # warm-up: every kind a few times
            send(k)
        start_rss = rss_kb(server.process.pid)
        stop = time.monotonic() + args.seconds
        warm = sum(counts.values())

        def worker(offset: int) -> None:
            k = offset
            while time.monotonic() < stop:
                send(k)
                k += args.threads

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
        for t in threads:
            t.start()
        ready_worst = 0.0
        ready_failed = 0
        samples: list[float] = []  # RSS in MB about every 10 s: a plateau, or steady growth
        next_sample = time.monotonic() + 10
        while any(t.is_alive() for t in threads):
            if time.monotonic() >= next_sample:
                samples.append(round(rss_kb(server.process.pid) / 1024, 1))
                next_sample += 10
            t0 = time.monotonic()
            status, _ = http("GET", f"{server.url}/readyz", timeout=60)
            ready_worst = max(ready_worst, time.monotonic() - t0)
            ready_failed += status != 200
            time.sleep(0.5)
        for t in threads:
            t.join()
        end_rss = rss_kb(server.process.pid)
        log = (out / "service.log").read_text()
    total = sum(counts.values()) - warm
    result = {
        "seconds": args.seconds,
        "threads": args.threads,
        "requests": total,
        "requests_per_kind": dict(counts),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "readyz_failures": ready_failed,
        "readyz_slowest_s": round(ready_worst, 3),
        "rss_after_warmup_mb": round(start_rss / 1024, 1),
        "rss_end_mb": round(end_rss / 1024, 1),
        "rss_growth_mb": round((end_rss - start_rss) / 1024, 1),
        "rss_every_10s_mb": samples,
        "tracebacks_in_server_log": log.count("Traceback"),
    }
    print(json.dumps(result, indent=2))
    ok = not errors and not ready_failed and result["tracebacks_in_server_log"] == 0
    print(
        f"soak: {total} requests in {args.seconds:g} s, {result['errors']} errors, RSS "
        f"{result['rss_after_warmup_mb']} -> {result['rss_end_mb']} MB "
        f"({result['rss_growth_mb']:+} MB) -> {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
