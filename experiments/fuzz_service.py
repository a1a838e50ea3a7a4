"""`make fuzz`: schemathesis against a real retain server on 127.0.0.1, from its OpenAPI document.

Every schemathesis check runs on every response (``--checks all``): no server error (5xx), a
status the document declares, the declared content type, headers and schema, valid data accepted
and invalid data rejected, unsupported methods refused with an Allow header, and the rest; the
exceptions the contract needs are in ``experiments/schemathesis.toml``, each with its reason. The
run fails unless it made at least ``--min-requests`` requests with none of those failures. The
project is the harness home (``experiments/served``).

    python experiments/fuzz_service.py [--examples 2000] [--seed 1] [--min-requests 5000]
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.served import HOME, Served, ensure_project

CHECKS = "all"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
"""The checks' exceptions, each explained."""


def summarise(report: Path) -> dict[str, object]:
    """Requests by status, failed checks and server errors, from schemathesis' NDJSON events."""
    statuses: collections.Counter[int] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    examples = []
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for interaction in (recorder.get("interactions") or {}).values():
            response = interaction.get("response") or {}
            statuses[int(response.get("status_code", 0))] += 1
            if response.get("status_code", 0) >= 500 and len(examples) < 5:
                body = base64.b64decode(response.get("content", {}).get("$base64", "")).decode(
                    errors="replace"
                )
                examples.append(
                    f"{interaction['request']['method']} {interaction['request']['uri']}: {body[:300]}"
                )
        for results in (recorder.get("checks") or {}).values():
            for check in results:
                if check["status"] != "success":
                    failures[check["name"]] += 1
    return {
        "requests": sum(statuses.values()),
        "by_status": dict(sorted(statuses.items())),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "failed_checks": dict(failures),
        "server_error_examples": examples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="Examples per operation.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-requests", type=int, default=5000)
    args = parser.parse_args()
    ensure_project()
    out = HOME / "fuzz"
    out.mkdir(parents=True, exist_ok=True)
    report = out / "schemathesis.ndjson"
    report.unlink(missing_ok=True)
    with Served(out / "service.log") as server:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            f"{server.url}/docs.json",
            "--url",
            server.url,
            "--checks",
            CHECKS,
            "--max-examples",
            str(args.examples),
            "--seed",
            str(args.seed),
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ]
        run = subprocess.run(command, capture_output=True, text=True)
        log = (out / "service.log").read_text()
    tail = run.stdout.split("SUMMARY")[-1]
    print(tail.strip())
    result = summarise(report)
    result["tracebacks_in_server_log"] = log.count("Traceback")
    print(json.dumps(result, indent=2))
    requests, errors = int(str(result["requests"])), int(str(result["server_errors"]))
    failed = sum(dict(result["failed_checks"]).values())  # type: ignore[call-overload]
    ok = errors == 0 and failed == 0 and requests >= args.min_requests and run.returncode == 0
    print(
        f"fuzz: {requests} requests, {errors} server errors, {failed} non-conformances "
        f"-> {'OK' if ok else 'FAILED'} (report {report})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
