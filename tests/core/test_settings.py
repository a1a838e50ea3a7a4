"""core.settings: every environment variable read once, typed, validated and documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import VARIABLES, Settings, SettingsError, project_root
from tests.helpers import ROOT

PACKAGES = ("core", "features", "model", "training", "serving", "retention", "retain")


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_environ({})
    root = project_root()
    assert root is not None
    assert settings.retain_home == root / ".retain"
    assert settings.bentoml_home == root / ".retain" / "bentoml"
    assert settings == Settings(
        retain_home=root / ".retain",
        bentoml_home=root / ".retain" / "bentoml",
        root=root / ".retain",
    )
    assert settings.workspace is None
    assert (settings.max_batch, settings.max_events, settings.max_body_bytes) == (
        10_000,
        50_000,
        4 * 1024 * 1024,
    )
    assert (settings.top_reasons, settings.workers) == (3, 1)
    assert (settings.runtime_tuning, settings.tracing) == (True, False)
    assert settings.allowed_hosts == settings.cors_origins == ()
    assert settings.api_key is settings.tracking_uri is settings.uplift_model is None


def test_every_variable_is_read_into_its_typed_field(tmp_path: Path) -> None:
    env = {
        "RETAIN_HOME": str(tmp_path / "state"),
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "RETAIN_LEDGER_URL": "sqlite:///ledger.db",
        "RETAIN_FEATURE_TABLE": "table.parquet",
        "RETAIN_DASK_SCHEDULER": "tcp://dask:8786",
        "RETAIN_API_KEY": "secret",
        "RETAIN_ALLOWED_HOSTS": " Scores.example.com , * ",
        "RETAIN_CORS_ORIGINS": "https://crm.example,",
        "RETAIN_MAX_BODY_BYTES": "1000",
        "RETAIN_MAX_BATCH": "500",
        "RETAIN_MAX_EVENTS": "900",
        "RETAIN_TOP_REASONS": "0",
        "RETAIN_WORKERS": "4",
        "RETAIN_CHURN_MODEL": "retain-churn:abc",
        "RETAIN_CLV_MODEL": "retain-clv:def",
        "RETAIN_UPLIFT_MODEL": "none",
        "RETAIN_RUNTIME_TUNING": "0",
        "RETAIN_TRACING": "true",
        "RETAIN_TEST_KILL_AT": "score:lookup",
    }
    s = Settings.from_environ(env)
    assert s.retain_home == tmp_path / "state"
    assert s.bentoml_home == tmp_path / "state" / "bentoml"  # follows the state folder
    assert (s.tracking_uri, s.ledger_url, s.dask_scheduler) == (
        "http://mlflow:5000",
        "sqlite:///ledger.db",
        "tcp://dask:8786",
    )
    assert s.feature_table == Path("table.parquet")
    assert s.api_key == "secret"
    assert "secret" not in repr(s)
    assert s.allowed_hosts == ("scores.example.com", "*")
    assert s.cors_origins == ("https://crm.example",)
    assert (s.max_body_bytes, s.max_batch, s.max_events, s.top_reasons, s.workers) == (
        1000,
        500,
        900,
        0,
        4,
    )
    assert (s.churn_model, s.clv_model, s.uplift_model) == (
        "retain-churn:abc",
        "retain-clv:def",
        "none",
    )
    assert (s.runtime_tuning, s.tracing, s.test_kill_at) == (False, True, "score:lookup")
    bentoml = Settings.from_environ({**env, "BENTOML_HOME": str(tmp_path / "models")})
    assert bentoml.bentoml_home == tmp_path / "models"


def test_a_workspace_moves_every_state_folder_below_the_home(tmp_path: Path) -> None:
    s = Settings.from_environ({"RETAIN_HOME": str(tmp_path), "RETAIN_WORKSPACE": "shop-uk"})
    assert s.workspace == "shop-uk"
    assert s.state_root == tmp_path
    assert s.retain_home == tmp_path / "workspaces" / "shop-uk"
    assert s.bentoml_home == tmp_path / "workspaces" / "shop-uk" / "bentoml"


def test_an_empty_value_counts_as_unset() -> None:
    env = {"RETAIN_MAX_BATCH": "", "RETAIN_API_KEY": " ", "RETAIN_HOME": ""}
    assert Settings.from_environ(env) == Settings.from_environ({})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RETAIN_MAX_BATCH", "lots", "RETAIN_MAX_BATCH must be a whole number, got 'lots'"),
        ("RETAIN_MAX_BODY_BYTES", "4MB", "RETAIN_MAX_BODY_BYTES must be a whole number, got '4MB'"),
        ("RETAIN_WORKERS", "0", "RETAIN_WORKERS must be at least 1, got 0"),
        (
            "RETAIN_WORKSPACE",
            "../demo",
            "RETAIN_WORKSPACE must be a workspace name (lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit, at most 64 characters), got '../demo'",
        ),
        (
            "RETAIN_WORKSPACE",
            "Shop UK",
            "RETAIN_WORKSPACE must be a workspace name (lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit, at most 64 characters), got 'Shop UK'",
        ),
        ("RETAIN_TOP_REASONS", "-1", "RETAIN_TOP_REASONS must be at least 0, got -1"),
        (
            "RETAIN_TRACING",
            "maybe",
            "RETAIN_TRACING must be 1 or 0 (or true or false), got 'maybe'",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({name: value})
    assert str(refused.value) == message


def test_the_command_line_shows_a_bad_setting_as_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "RETAIN_HOME": str(tmp_path), "RETAIN_WORKERS": "several"}
    retain = Path(sys.executable).parent / "retain"
    done = subprocess.run(
        [str(retain), "campaigns"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: RETAIN_WORKERS must be a whole number, got 'several'\n"


def test_every_variable_a_module_names_is_documented() -> None:
    """A ``RETAIN_*`` name anywhere in the packages is one of ``VARIABLES``, with its meaning."""
    documented = {v.name for v in VARIABLES}
    named = {
        match
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for match in re.findall(r"\bRETAIN_[A-Z_]+\b", path.read_text())
    }
    assert named - documented == set()
    assert {"BENTOML_HOME", "MLFLOW_TRACKING_URI"} <= documented
    assert all(v.meaning and v.default for v in VARIABLES)
    assert len(documented) == len(VARIABLES)
