"""serving.runtime: the latency settings reach the app BentoML really builds, through public APIs.

Each case imports the service in a fresh process (the decorator reads the environment once) and
builds its ASGI app with ``Service.to_asgi()``, then reads the middleware chain Starlette keeps in
``app.user_middleware``: the OpenTelemetry middleware must skip every URL unless tracing is asked
for. No model is needed to build the app: the service instance is created at lifespan start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.settings import TELEMETRY_OFF
from serving.runtime import EVERY_URL, tracing_config
from tests.helpers import ROOT

PROBE = """
import json
from serving.service import Retain
app = Retain.to_asgi()
chain = [m.cls.__name__ for m in app.user_middleware]
otel = next(m for m in app.user_middleware if m.cls.__name__ == "OpenTelemetryMiddleware")
urls = ["http://127.0.0.1:3000/score", "http://127.0.0.1:3000/score_ids", "http://h/readyz"]
print(json.dumps({"chain": chain, "skipped": [otel.kwargs["excluded_urls"].url_disabled(u) for u in urls]}))
"""


def _built_app(tmp_path: Path, **env: str) -> dict[str, list[object]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={
            **os.environ,
            **TELEMETRY_OFF,
            "BENTOML_HOME": str(tmp_path / "bentoml"),
            "RETAIN_TRACING": "0",
            "RETAIN_RUNTIME_TUNING": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_built_app_creates_no_spans_by_default(tmp_path: Path) -> None:
    app = _built_app(tmp_path)
    assert app["skipped"] == [True, True, True]
    assert "ApiKeyMiddleware" in app["chain"]  # our public middleware hook is in the same chain


@pytest.mark.parametrize("env", [{"RETAIN_TRACING": "1"}, {"RETAIN_RUNTIME_TUNING": "0"}])
def test_tracing_or_the_default_runtime_keep_bentoml_spans(
    tmp_path: Path, env: dict[str, str]
) -> None:
    assert _built_app(tmp_path, **env)["skipped"] == [False, False, False]


def test_tracing_config_per_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETAIN_TRACING", raising=False)
    monkeypatch.delenv("RETAIN_RUNTIME_TUNING", raising=False)
    assert tracing_config() == {"sample_rate": 0.0, "excluded_urls": [EVERY_URL]}
    monkeypatch.setenv("RETAIN_TRACING", "1")
    assert tracing_config() == {"sample_rate": 0.0}
    monkeypatch.setenv("RETAIN_TRACING", "0")
    monkeypatch.setenv("RETAIN_RUNTIME_TUNING", "0")
    assert tracing_config() == {"sample_rate": 0.0}
