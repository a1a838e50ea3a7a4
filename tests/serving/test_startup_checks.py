"""A damaged model never hangs the service: /readyz answers 503 with the reason, /livez stays up.

The packaged models are copied into a separate BentoML store and damaged there: a truncated
booster, a garbage bundle.json (with and without its recorded hash updated), a feature list that
differs from the schema, a package without the file manifest. ``retain package`` records every
file's size and SHA-256; the service verifies them before LightGBM parses anything.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from core.errors import DataValidationError
from model.booster import BOOSTER_FILE
from model.bundle import BUNDLE_FILE, ModelBundle
from serving.store import file_manifest
from tests.conftest import TrainedProject
from tests.helpers import Server, http

pytestmark = pytest.mark.slow  # packages the trained demo project; starts servers

RENAMED = ("tenure_days", "tenure_weeks")
FAILURE_LINE = "retain start-up check failed"


def _latest(models: Path, name: str) -> Path:
    return models / name / (models / name / "latest").read_text().strip()


def _copy_home(trained: TrainedProject, tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "bentoml"
    shutil.copytree(trained.home / "bentoml" / "models", home / "models")
    return home, _latest(home / "models", "retain-churn")


def _record_bundle_files(folder: Path) -> None:
    """Record the bundle's current files in model.yaml, as `retain package` would have."""
    spec = folder / "model.yaml"
    meta = yaml.safe_load(spec.read_text())
    files = file_manifest(folder)
    del files["model.yaml"]  # BentoML's own file, not the bundle's
    meta["metadata"]["files"] = files
    spec.write_text(yaml.safe_dump(meta))


def _rename_feature(folder: Path) -> None:
    bundle = folder / BUNDLE_FILE
    meta = json.loads(bundle.read_text())
    columns = meta["encoding"]["columns"]
    assert RENAMED[0] in columns
    meta["encoding"]["columns"] = [RENAMED[1] if c == RENAMED[0] else c for c in columns]
    bundle.write_text(json.dumps(meta))


def _truncate_booster(folder: Path) -> None:
    booster = folder / BOOSTER_FILE
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 2])


def _garbage_bundle(folder: Path) -> None:
    (folder / BUNDLE_FILE).write_bytes(b"\x00\xffnot json{{{")


def _drop_manifest(folder: Path) -> None:
    spec = folder / "model.yaml"
    meta = yaml.safe_load(spec.read_text())
    del meta["metadata"]["files"]
    spec.write_text(yaml.safe_dump(meta))


def _empty_booster(folder: Path) -> None:
    (folder / BOOSTER_FILE).write_bytes(b"")


def _garbage_model_yaml(folder: Path) -> None:
    """BentoML's own record of the model: unreadable YAML (BentoML parses it before retain)."""
    (folder / "model.yaml").write_text("name: retain-churn\n{{{ : [ not yaml\n")


# (id, damage, re-record the manifest afterwards, words of the reason)
DAMAGES: list[tuple[str, Callable[[Path], None], bool, tuple[str, ...]]] = [
    (
        "truncated booster",
        _truncate_booster,
        False,
        ("the churn model's file booster.txt is", "bytes, packaged as", "retain package"),
    ),
    (
        "empty booster",
        _empty_booster,
        False,
        ("the churn model's file booster.txt is 0 bytes", "damaged"),
    ),
    (
        "garbage bundle",
        _garbage_bundle,
        False,
        ("the churn model's file bundle.json is", "damaged"),
    ),
    (
        "garbage bundle with its hash recorded",
        _garbage_bundle,
        True,
        ("the churn model cannot be loaded",),
    ),
    (
        "features renamed, hash recorded",
        _rename_feature,
        True,
        (
            "the churn model's features differ from the feature schema",
            f"missing ['{RENAMED[0]}'], unexpected ['{RENAMED[1]}']",
        ),
    ),
    (
        "unreadable model.yaml",
        _garbage_model_yaml,
        False,
        (
            "the BentoML store entry retain-churn:",  # the package's exact tag
            "cannot be read (ScannerError): its model.yaml or folder is damaged",
            "run `retain package` again",
        ),
    ),
    (
        "no file manifest",
        _drop_manifest,
        False,
        ("the churn model has no file manifest", "run `retain package` again"),
    ),
]


def _wait_alive(server: Server, timeout: float = 90) -> None:
    """Until /livez answers 200 (the worker has run its start-up); fails if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.output()[-3000:]
        try:
            with urllib.request.urlopen(f"{server.url}/livez", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"/livez never answered:\n{server.output()[-3000:]}")


def test_loading_the_tampered_bundle_names_the_differing_features(
    trained: TrainedProject, tmp_path: Path
) -> None:
    _, folder = _copy_home(trained, tmp_path)
    _rename_feature(folder)
    with pytest.raises(DataValidationError) as err:
        ModelBundle.load(folder).check_schema()
    assert f"missing ['{RENAMED[0]}'], unexpected ['{RENAMED[1]}']" in str(err.value)


@pytest.mark.parametrize(
    ("damage", "rerecord", "words"), [pytest.param(*d[1:], id=d[0]) for d in DAMAGES]
)
def test_a_damaged_model_gives_503_with_the_reason_and_livez_stays_up(
    trained: TrainedProject,
    tmp_path: Path,
    damage: Callable[[Path], None],
    rerecord: bool,
    words: tuple[str, ...],
) -> None:
    home, folder = _copy_home(trained, tmp_path)
    damage(folder)
    if rerecord:
        _record_bundle_files(folder)
    server = Server({"BENTOML_HOME": str(home)}, tmp_path / "service.log")
    try:
        _wait_alive(server)
        ready, ready_body = http("GET", f"{server.url}/readyz", timeout=10)
        live, _ = http("GET", f"{server.url}/livez", timeout=10)
        scored, score_body = http(
            "POST", f"{server.url}/score_ids", {"customer_ids": ["x"]}, timeout=10
        )
        log = server.output()
    finally:
        server.stop()
    assert (ready, live, scored) == (503, 200, 503)
    for body in (ready_body, score_body):
        assert body["error"].startswith("the service is not ready: "), body
        for word in words:
            assert word in body["error"], (word, body)
    assert str(home) not in ready_body["error"]  # no server paths in answers
    assert log.count(FAILURE_LINE) == 1, log[-3000:]  # checked once, no restart loop


def test_with_an_api_key_the_reason_is_shown_only_to_key_holders(
    trained: TrainedProject, tmp_path: Path
) -> None:
    """The reason names model files and sizes: /readyz without the key says only that the
    service is not ready, the scoring endpoints ask for the key first."""
    home, folder = _copy_home(trained, tmp_path)
    _truncate_booster(folder)
    key = "startup-key-51"
    server = Server({"BENTOML_HOME": str(home), "RETAIN_API_KEY": key}, tmp_path / "s.log")
    try:
        _wait_alive(server)
        anonymous = http("GET", f"{server.url}/readyz", timeout=10)
        keyed = http("GET", f"{server.url}/readyz", headers={"X-API-Key": key}, timeout=10)
        unkeyed_score = http("POST", f"{server.url}/score_ids", {"customer_ids": ["x"]})
        keyed_score = http(
            "POST", f"{server.url}/score_ids", {"customer_ids": ["x"]}, {"X-API-Key": key}
        )
    finally:
        server.stop()
    assert [anonymous[0], keyed[0], unkeyed_score[0], keyed_score[0]] == [503, 503, 401, 503]
    for body in (anonymous[1], unkeyed_score[1]):
        assert "booster.txt" not in json.dumps(body), body
        assert "bytes" not in json.dumps(body), body
    assert "send it in the X-API-Key header" in unkeyed_score[1]["error"]
    for body in (keyed[1], keyed_score[1]):
        assert "the churn model's file booster.txt is" in body["error"], body
