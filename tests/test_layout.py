"""The layer rule of docs/ARCHITECTURE.md, checked on every module's imports.

core <- features <- model <- serving <- retention, and model <- training; retain on top: a package
imports only the layers below it, and training never imports serving or retention. Also: no
lightgbm in features, no matplotlib backend switch anywhere, BentoML's private modules in
serving/runtime.py only, nothing written at import, no import circle, every module named in
docs/ARCHITECTURE.md, YAML parsed in core/ only.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("core", "features", "model", "training", "serving", "retention", "retain")
FORBIDDEN = {
    "core": {
        "features",
        "model",
        "training",
        "serving",
        "retention",
        "retain",
        "lightgbm",
        "mlflow",
        "bentoml",
        "sklearn",
        "pandas",
    },
    "features": {
        "model",
        "training",
        "serving",
        "retention",
        "retain",
        "lightgbm",
        "mlflow",
        "bentoml",
    },
    "model": {"training", "serving", "retention", "retain", "bentoml"},
    "training": {"serving", "retention", "retain"},
    "serving": {"training", "retention", "retain"},
    "retention": {"training", "retain"},
    "retain": set(),
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name a file imports, at any depth (lazy imports count too).

    ``from a.b import c`` gives ``a.b`` and ``a.b.c``: ``c`` may be a module (or just a name).
    """
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_packages_are_the_documented_layers() -> None:
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert found == set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_follow_the_layer_rule(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            {m.split(".")[0] for m in imported_modules(path)} & FORBIDDEN[package]
        )
        for path in modules(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_bottom_layer_reads_yaml() -> None:
    """Config files are parsed in core/ only (``core.config_file``); the rest asks it for
    typed sections, so no default or error message is spelled twice."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for package in PACKAGES
        if package != "core"
        for path in modules(package)
        if "yaml" in {m.split(".")[0] for m in imported_modules(path)}
        or any(
            isinstance(node, ast.Name) and node.id == "yaml"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert readers == []


def module_name(path: Path) -> str:
    """The dotted name a package file is imported by (``serving/store.py`` -> ``serving.store``)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the packages, and the modules of the packages it imports (lazily or not)."""
    files = {module_name(path): path for package in PACKAGES for path in modules(package)}
    return {name: imported_modules(path) & files.keys() - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as ``[a, b, ..., a]``, or ``[]`` when the graph has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return []
        path.append(name)
        for imported in sorted(graph[name]):
            if cycle := visit(imported):
                return cycle
        path.pop()
        done.add(name)
        return []

    for name in sorted(graph):
        if cycle := visit(name):
            return cycle
    return []


def test_find_cycle_names_the_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others() -> None:
    """An import circle, lazy imports included, makes import order matter; there is none."""
    cycle = find_cycle(import_graph())
    assert cycle == [], "import circle: " + " -> ".join(cycle)


PRIVATE_BENTOML_HOME = "serving/runtime.py"
"""The one module allowed to touch ``bentoml._internal`` (isolated, checked against the real app)."""


def test_bentoml_internals_are_touched_in_one_place_only() -> None:
    """BentoML is configured through its public API, but for the one hook serving/runtime.py owns."""
    touching = sorted(
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in modules(package)
        if any(m.startswith(("bentoml._internal", "_bentoml_")) for m in imported_modules(path))
    )
    assert touching == [PRIVATE_BENTOML_HOME]


def test_no_module_switches_the_matplotlib_backend() -> None:
    switching = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in modules(package)
        if "matplotlib.use(" in path.read_text() or "import matplotlib.pyplot" in path.read_text()
    ]
    assert switching == []


def test_top_level_layout_is_in_place() -> None:
    for name in (*PACKAGES, "experiments", "tests"):
        assert (ROOT / name).is_dir(), name
    for name in ("bentofile.yaml", "pyproject.toml", "README.md", "Makefile", ".ci/run"):
        assert (ROOT / name).is_file(), name


def test_nothing_happens_at_import_time(tmp_path: Path) -> None:
    """Importing every module creates no file: no tracking store, no state folder, no logs."""
    import subprocess
    import sys

    names = [
        f"{pkg}.{p.stem}"
        for pkg in PACKAGES
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
        [sys.executable, "-c", script, *names], cwd=cwd, env=env, check=True, capture_output=True
    )
    assert sorted(p.name for p in cwd.iterdir()) == []
    assert not state.exists()


def test_every_model_training_produces_has_a_registered_name() -> None:
    """The report's plain names come from ``core.names``: no candidate, uplift learner or policy
    may be missing there, or the report would print its raw key."""
    from core.names import MODELS
    from training.candidates import CANDIDATES
    from training.uplift import LEARNERS
    from training.uplift_eval import POLICIES

    produced: set[tuple[str, str]] = {(c.name, c.task) for c in CANDIDATES}
    produced |= {(name, "uplift") for name in (*LEARNERS, *POLICIES)}
    missing = sorted(
        f"{task}/{name}"
        for name, task in produced
        if name not in MODELS or task not in MODELS[name].tasks
    )
    assert missing == []


ENVIRONMENT = {"environ", "environb", "getenv"}
ENVIRONMENT_WRITES = {"setdefault", "update"}
"""Methods of ``os.environ`` that configure other libraries (telemetry off, BentoML's home)."""


def _written(node: ast.AST) -> ast.AST | None:
    """The object a node writes to: ``x`` of ``x[k] = v``, ``x.setdefault(...)``, ``x.update``."""
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
        return node.value
    if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_WRITES:
        return node.value
    return None


def _os_environment(node: ast.AST) -> bool:
    """``os.environ``, ``os.environb`` or ``os.getenv``, or ``from os import`` one of them."""
    if isinstance(node, ast.ImportFrom):
        return node.module == "os" and bool({a.name for a in node.names} & ENVIRONMENT)
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ENVIRONMENT
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def environment_reads(path: Path) -> list[int]:
    """Lines where a module reads the environment: ``os.getenv``, ``os.environ`` in any use but
    an assignment to a key or a ``setdefault`` / ``update`` call, or ``from os import environ``."""
    tree = ast.parse(path.read_text())
    writes = {id(target) for node in ast.walk(tree) if (target := _written(node)) is not None}
    return sorted(
        node.lineno  # type: ignore[attr-defined]
        for node in ast.walk(tree)
        if _os_environment(node)
        and (getattr(node, "attr", "") == "getenv" or id(node) not in writes)
    )


def test_only_core_reads_the_environment() -> None:
    """Settings come from ``core.settings`` only (typed, validated, documented); other packages
    may write variables that configure a library, never read them by hand."""
    reading = {
        str(path.relative_to(ROOT)): environment_reads(path)
        for package in PACKAGES
        if package != "core"
        for path in modules(package)
    }
    assert {k: v for k, v in reading.items() if v} == {}


def test_the_environment_rule_tells_reads_from_writes(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom os import getenv\n"
        "os.environ['A'] = '1'\nos.environ.setdefault('B', '1')\nos.environ.update(C='1')\n"
        "os.environ.get('D')\nos.getenv('E')\nx = {**os.environ}\ny = os.environ['F']\n"
    )
    assert environment_reads(module) == [2, 6, 7, 8, 9]


ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def test_the_architecture_page_names_every_module() -> None:
    """docs/ARCHITECTURE.md names each module of the packages as ``package/module.py``."""
    text = ARCHITECTURE.read_text()
    unnamed = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in modules(package)
        if path.name != "__init__.py" and f"`{path.relative_to(ROOT).as_posix()}`" not in text
    ]
    assert unnamed == [], f"name them in docs/ARCHITECTURE.md: {unnamed}"


def test_the_architecture_page_names_no_module_that_is_gone() -> None:
    """Every ``package/module.py`` the page names exists: a move updates the page too."""
    named = set(
        re.findall(r"`((?:" + "|".join(PACKAGES) + r")/\w+\.py)`", ARCHITECTURE.read_text())
    )
    assert sorted(m for m in named if not (ROOT / m).is_file()) == []


def test_the_layer_table_has_one_row_per_package() -> None:
    """Each package's row of the layer table is there once, whole: a merge that kept both sides of
    a changed row (or left a conflict line) would show two rows, or a line that is no row."""
    lines = ARCHITECTURE.read_text().splitlines()
    rows = [re.match(r"\| `(\w+)/` \|", line) for line in lines]
    named = [m.group(1) for m in rows if m]
    assert sorted(named) == sorted(set(named)), "a package has two rows"
    assert set(PACKAGES) <= set(named)
    table = [i for i, m in enumerate(rows) if m]
    inside = lines[table[0] : table[-1] + 1]
    assert [line for line in inside if not line.startswith("| `")] == []
    conflict = ("<<<<<<<", ">>>>>>>", "=======")
    assert [line for line in lines if line.startswith(conflict)] == []
