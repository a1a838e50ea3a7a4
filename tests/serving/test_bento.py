"""bentofile.yaml and serving/requirements.txt: what `bentoml build` packages, and that it works.

The requirements are the service's run-time imports pinned to the installed versions; a test
follows the imports serving code makes while the service module loads, so a new dependency
cannot be forgotten. The end-to-end test runs `retain package` and `bentoml build` offline.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.settings import TELEMETRY_OFF
from tests.conftest import TrainedProject
from tests.helpers import ROOT

BENTOFILE = ROOT / "bentofile.yaml"
REQUIREMENTS = ROOT / "serving" / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{name} pinned twice"
        pins[name] = match.group(2)
    return pins


def _bentofile() -> dict[str, Any]:
    return dict(yaml.safe_load(BENTOFILE.read_text()))


def test_bentofile_packages_the_service_code_only() -> None:
    config = _bentofile()
    assert config["service"] == "serving.service:Retain"
    assert config["include"] == [
        "features/**/*.py",
        "model/**/*.py",
        "serving/**/*.py",
        "core/**/*.py",
    ]
    assert "models" not in config  # taken from the service's BentoModel declarations
    python = config["python"]
    assert python["requirements_txt"] == "./serving/requirements.txt"
    assert python["lock_packages"] is False
    assert "packages" not in python


def test_bentofile_switches_telemetry_off_and_holds_no_secrets() -> None:
    envs = {e["name"]: e["value"] for e in _bentofile()["envs"]}
    assert envs["BENTOML_DO_NOT_TRACK"] == "true"
    assert envs["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert set(envs) <= set(TELEMETRY_OFF)
    assert "RETAIN_API_KEY" not in BENTOFILE.read_text()


def test_requirements_are_pinned_to_the_installed_versions() -> None:
    pins = _pins()
    installed = {name: md.version(name) for name in pins}
    assert pins == installed


def _required_closure(roots: set[str]) -> set[str]:
    """Distributions installed with ``roots`` (their requirements, recursively, no extras)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in md.requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(canonicalize_name(req.name))
    return seen


IMPORT_PROBE = """
import builtins, json, sys
seen = set()
real = builtins.__import__
def spy(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and importer.split(".")[0] in ("core", "features", "model", "serving"):
        seen.add(name.split(".")[0])
    return real(name, globals, locals, fromlist, level)
builtins.__import__ = spy
import serving.service
print(json.dumps(sorted(seen)))
"""


def test_requirements_cover_what_the_service_imports() -> None:
    """Every package serving code imports while the service loads is installed by the pins."""
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=ROOT,
        env={**os.environ, **TELEMETRY_OFF},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    imported = set(json.loads(out.strip().splitlines()[-1]))
    third_party = {m for m in imported if m not in sys.stdlib_module_names} - {
        "core",
        "features",
        "model",
        "serving",
    }
    assert {"bentoml", "lightgbm", "pandas", "pydantic"} <= third_party  # the probe works
    covered = _required_closure(set(_pins()))
    owners = md.packages_distributions()
    missing = {
        module: owners.get(module)
        for module in third_party
        if not {canonicalize_name(d) for d in owners.get(module, [])} & covered
    }
    assert missing == {}
    assert "pyarrow" in _pins()  # pandas reads the feature table (parquet) with it
    assert not {"mlflow", "matplotlib", "scikit-learn"} & set(_pins())  # not used when serving


@pytest.mark.slow
def test_retain_package_then_bentoml_build(trained: TrainedProject) -> None:
    env = {**os.environ, **TELEMETRY_OFF}
    retain = Path(sys.executable).parent / "retain"
    # with the session's config: packaging without it would record the default economics (margin
    # 30%) as the latest models, and the session's service (if it starts later) would serve them
    packaged = subprocess.run(
        # the session's store: a library training has no workspace, the CLI's --config chooses one
        [
            str(retain),
            "package",
            "--config",
            str(trained.config),
            "--tracking-uri",
            trained.tracking_uri,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert packaged.returncode == 0, packaged.stderr[-3000:]
    tags = dict(re.findall(r"^(churn|clv): .* -> BentoML model (\S+)$", packaged.stdout, re.M))
    assert set(tags) == {"churn", "clv"}, packaged.stdout

    built = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    match = re.search(r"__tag__:(\S+):(\S+)", built.stdout)
    assert match, built.stdout
    name, version = match.groups()
    assert name == "retain"

    bento = Path(os.environ["BENTOML_HOME"]) / "bentos" / name / version
    src = bento / "src"
    files = sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file())
    assert "serving/service.py" in files
    assert "features/build.py" in files
    tops = {f.split("/")[0] for f in files}
    assert tops == {"core", "features", "model", "serving", "bentofile.yaml"}, tops
    assert all(f.endswith(".py") for f in files if f != "bentofile.yaml")
    assert not any("__pycache__" in f for f in files)

    info = yaml.safe_load((bento / "bento.yaml").read_text())
    models = {m["tag"] for service in info["services"] for m in service["models"]}
    # the package's models and its manifest (serving.package_manifest), which names them
    assert {t for t in models if not t.startswith("retain-package:")} == {
        tags["churn"],
        tags["clv"],
    }
    assert {t.split(":")[0] for t in models} == {"retain-churn", "retain-clv", "retain-package"}
    assert {e["name"]: e["value"] for e in info["envs"]}["BENTOML_DO_NOT_TRACK"] == "true"
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    for package, version_ in _pins().items():
        assert f"{package}=={version_}" in requirements
