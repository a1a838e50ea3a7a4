"""The dependency rule: features imports neither training nor serving; those two never each other."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from tests.helpers import ROOT

FORBIDDEN = {
    "features": {"training", "serving"},
    "training": {"serving"},
    "serving": {"training"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_dependency_rule(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).glob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_top_level_layout_is_in_place() -> None:
    for name in ("features", "training", "serving", "experiments", "tests"):
        assert (ROOT / name).is_dir(), name
    for name in ("bentofile.yaml", "pyproject.toml", "README.md", "Makefile", ".ci/run"):
        assert (ROOT / name).is_file(), name


def test_nothing_happens_at_import_time(tmp_path: Path) -> None:
    """Importing every module creates no file: no tracking store, no state folder, no logs."""
    import subprocess
    import sys

    modules = [
        f"{pkg}.{p.stem}"
        for pkg in ("features", "training", "serving")
        for p in sorted((ROOT / pkg).glob("*.py"))
        if p.stem != "service"
    ]
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    cwd, home, state = tmp_path / "cwd", tmp_path / "home", tmp_path / "state"
    cwd.mkdir()
    home.mkdir()
    env = {
        "RETAIN_HOME": str(state),
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "MPLCONFIGDIR": str(home / "mpl"),
    }
    subprocess.run(
        [sys.executable, "-c", script, *modules], cwd=cwd, env=env, check=True, capture_output=True
    )
    assert sorted(p.name for p in cwd.iterdir()) == []
    assert not state.exists()
