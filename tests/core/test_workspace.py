"""Workspaces: a config's name chooses where its business keeps state; the current one is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import WORKSPACE, Settings, retain_home
from core.workspace import CURRENT, config_of, current, enter, use, workspace_name, workspaces

RETAIN = str(Path(sys.executable).parent / "retain")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("demo-retail", "demo-retail"),
        ("My Shop (UK)", "my-shop-uk"),
        ("  Telco churn 2024 ", "telco-churn-2024"),
        ("crm.churn_v2", "crm.churn_v2"),
        ("Café Zürich", "caf-z-rich"),
    ],
)
def test_a_config_name_becomes_a_folder_name(name: str, slug: str) -> None:
    assert workspace_name(name) == slug


def test_a_name_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(ConfigError, match="gives no workspace name"):
        workspace_name("!!!")


def _config(folder: Path, name: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "business.yaml"
    path.write_text(
        (f"name: {name}\n" if name else "") + "data: {transactions: {path: orders.csv}}\n"
    )
    return path


def test_entering_a_config_moves_the_state_and_is_remembered(tmp_path: Path) -> None:
    os.environ["RETAIN_HOME"] = str(tmp_path / "home")
    os.environ.pop("BENTOML_HOME", None)
    shop = _config(tmp_path / "shop", "Shop UK")
    telco = _config(tmp_path / "telco", "telco")
    assert current() is None
    assert retain_home() == tmp_path / "home"  # no workspace: the home itself

    entered = enter(shop)
    assert (entered.name, entered.config) == ("shop-uk", shop.resolve())
    assert retain_home() == tmp_path / "home" / "workspaces" / "shop-uk"
    assert Settings.read().bentoml_home == retain_home() / "bentoml"
    assert (tmp_path / "home" / CURRENT).read_text() == "shop-uk\n"

    enter(telco)
    del os.environ[WORKSPACE]  # a new process: the current workspace is the last one entered
    found = use(None)
    assert found is not None
    assert found.name == "telco"
    assert retain_home() == tmp_path / "home" / "workspaces" / "telco"
    assert config_of(None) == (telco.resolve(), found)
    assert [w.name for w in workspaces()] == ["shop-uk", "telco"]


def test_a_config_without_a_name_is_keyed_by_its_file_name(tmp_path: Path) -> None:
    os.environ["RETAIN_HOME"] = str(tmp_path / "home")
    assert enter(_config(tmp_path, None)).name == "business"


def test_no_config_and_no_workspace_says_what_to_run(tmp_path: Path) -> None:
    os.environ["RETAIN_HOME"] = str(tmp_path / "home")
    with pytest.raises(ConfigError) as refused:
        config_of(None)
    assert "retain init" in str(refused.value)
    assert "--config FILE" in str(refused.value)


def test_commands_without_config_use_the_current_workspace_and_say_so(tmp_path: Path) -> None:
    """Real CLI: `retain models` before any config is a one-line error; after `--config` the
    next command without it reads that config's registry names and says which workspace."""
    env = {**os.environ, "RETAIN_HOME": str(tmp_path / "home")}
    env.pop("BENTOML_HOME", None)

    def retain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RETAIN, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    refused = retain("train")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error: no --config given and no workspace chosen yet")
    assert "Traceback" not in refused.stderr

    config = tmp_path / "telco.yaml"
    config.write_text(
        "name: Telco CRM\ndata: {transactions: {path: orders.csv}}\n"
        "registry: {churn: telco-churn, clv: telco-clv}\n"
    )
    first = retain("models", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "telco-churn" in first.stdout
    listed = retain("models", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"
    assert "using workspace telco-crm (config telco.yaml" in listed.stderr
    shown = retain("workspace", "--json")
    assert '"name": "telco-crm"' in shown.stdout
    assert '"current": true' in shown.stdout
    exports = retain("env").stdout
    home = tmp_path / "home" / "workspaces" / "telco-crm"
    assert f"export BENTOML_HOME={home / 'bentoml'}" in exports
    assert f"export MLFLOW_TRACKING_URI=sqlite:///{home / 'mlflow.db'}" in exports
    assert "export RETAIN_WORKSPACE=telco-crm" in exports
