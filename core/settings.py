"""Runtime settings from the environment: one typed, validated object, and telemetry off.

Every environment variable retain reads is listed in ``VARIABLES`` (name, default, meaning) and
read here only, by ``Settings.from_environ`` (``Settings.read()`` for this process's environment).
A value that cannot be used is refused with a one-line ``SettingsError`` naming the variable and
what it expects; an empty value counts as unset. The few writes that configure other libraries
(telemetry off, BentoML's home) are functions here too. Nothing runs at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError

TELEMETRY_OFF = {
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}
"""Usage reporting of BentoML and MLflow, switched off: the tools run on closed machines."""
QUIET_DEFAULTS = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
"""Overridable: a model loads from a local store in milliseconds; no per-file progress bars."""
WORKSPACE = "RETAIN_WORKSPACE"
"""The variable naming the current business's workspace (``core.workspace`` sets it)."""
WORKSPACE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""A workspace name: a folder name on every system, lower case (see ``core.workspace``)."""
TEST_KILL_AT = "RETAIN_TEST_KILL_AT"
"""Test hook: the name of a point (e.g. ``score:scores.csv``) where the process kills itself."""


class SettingsError(ConfigError):
    """An environment variable's value cannot be used; the message names it and what it takes."""


@dataclass(frozen=True)
class Variable:
    """One environment variable retain reads: its name, its default in words, and its meaning."""

    name: str
    default: str
    meaning: str


def _text(name: str, raw: str) -> str:
    """A value taken as written (a URL, a tag, an address)."""
    return raw


def _home(name: str, raw: str) -> Path:
    """A folder, by absolute path (``~`` expanded), so a later ``cd`` cannot move it."""
    return Path(raw).expanduser().resolve()


def _workspace(name: str, raw: str) -> str:
    """A workspace name: lower-case letters, digits, '.', '_' and '-', up to 64 characters."""
    if not WORKSPACE_NAME.fullmatch(raw) or raw.strip(".") == "":
        raise SettingsError(
            f"{name} must be a workspace name (lower-case letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, at most 64 characters), got {raw!r}"
        )
    return raw


def _path(name: str, raw: str) -> Path:
    """A file path as given."""
    return Path(raw)


def _flag(name: str, raw: str) -> bool:
    """A switch: 1/true/yes/on or 0/false/no/off; anything else is refused, not guessed."""
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0 (or true or false), got {raw!r}")


def _names(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _host_names(name: str, raw: str) -> tuple[str, ...]:
    """Host names, lower-cased as the Host header is compared."""
    return tuple(part.lower() for part in _names(name, raw))


def _count(minimum: int) -> Callable[[str, str], int]:
    """A whole number of at least ``minimum``."""

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


@dataclass(frozen=True)
class _Spec:
    """How one variable becomes one field of ``Settings``."""

    attribute: str
    variable: Variable
    parse: Callable[[str, str], Any]


def _spec(
    attribute: str, name: str, parse: Callable[[str, str], Any], default: str, meaning: str
) -> _Spec:
    """One row of the table below."""
    return _Spec(attribute, Variable(name, default, meaning), parse)


_SPECS = (
    _spec(
        "retain_home",
        "RETAIN_HOME",
        _home,
        "<checkout>/.retain, else ~/.retain",
        "Where retain keeps its state: one workspace per business (tracking store, scores, "
        "ledger, BentoML store) under workspaces/<name>.",
    ),
    _spec(
        "workspace",
        WORKSPACE,
        _workspace,
        "the current one (`--config` chooses it; none: the home itself)",
        "The business whose state commands use: <retain home>/workspaces/<name>.",
    ),
    _spec(
        "bentoml_home",
        "BENTOML_HOME",
        _home,
        "<workspace>/bentoml",
        "BentoML's model and bento store (retain sets it for BentoML when unset).",
    ),
    _spec(
        "tracking_uri",
        "MLFLOW_TRACKING_URI",
        _text,
        "sqlite:///<workspace>/mlflow.db",
        "MLflow tracking and registry store; --tracking-uri wins over it.",
    ),
    _spec(
        "ledger_url",
        "RETAIN_LEDGER_URL",
        _text,
        "sqlite:///<workspace>/ledger.db",
        "The campaign ledger, a SQLAlchemy URL; --ledger wins over it.",
    ),
    _spec(
        "feature_table",
        "RETAIN_FEATURE_TABLE",
        _path,
        "<workspace>/serving/features_latest.parquet",
        "The latest-features table `retain score` writes and the service looks ids up in.",
    ),
    _spec(
        "dask_scheduler",
        "RETAIN_DASK_SCHEDULER",
        _text,
        "none: a local cluster on 127.0.0.1",
        "Dask scheduler to join (tcp://host:8786); --scheduler wins over it.",
    ),
    _spec(
        "api_key",
        "RETAIN_API_KEY",
        _text,
        "none: no key asked",
        "When set, the service's scoring endpoints need it in the X-API-Key header.",
    ),
    _spec(
        "allowed_hosts",
        "RETAIN_ALLOWED_HOSTS",
        _host_names,
        "loopback names (127.0.0.1, localhost, ::1)",
        "Comma-separated Host header names the service answers (* for any).",
    ),
    _spec(
        "cors_origins",
        "RETAIN_CORS_ORIGINS",
        _names,
        "none: CORS off",
        "Comma-separated browser origins allowed to call the service.",
    ),
    _spec(
        "max_body_bytes",
        "RETAIN_MAX_BODY_BYTES",
        _count(1),
        "4194304 (4 MiB)",
        "Largest request body the service reads.",
    ),
    _spec(
        "max_batch",
        "RETAIN_MAX_BATCH",
        _count(1),
        "10000",
        "Most customers in one scoring request.",
    ),
    _spec(
        "max_events",
        "RETAIN_MAX_EVENTS",
        _count(1),
        "50000",
        "Most raw events in one scoring request.",
    ),
    _spec(
        "top_reasons",
        "RETAIN_TOP_REASONS",
        _count(0),
        "3",
        "Reasons (largest contributions to the churn risk) given per customer.",
    ),
    _spec(
        "workers",
        "RETAIN_WORKERS",
        _count(1),
        "1",
        "Service worker processes (`retain serve --workers` sets it).",
    ),
    _spec(
        "churn_model",
        "RETAIN_CHURN_MODEL",
        _text,
        "the latest packaged",
        "BentoML tag of the churn model the service loads.",
    ),
    _spec(
        "clv_model",
        "RETAIN_CLV_MODEL",
        _text,
        "the latest packaged",
        "BentoML tag of the CLV model the service loads.",
    ),
    _spec(
        "uplift_model",
        "RETAIN_UPLIFT_MODEL",
        _text,
        "the one packaged with the churn model",
        "BentoML tag of the uplift model the service loads; none serves without one.",
    ),
    _spec(
        "runtime_tuning",
        "RETAIN_RUNTIME_TUNING",
        _flag,
        "1",
        "0 runs BentoML's default runtime, for the benchmark's side-by-side row.",
    ),
    _spec(
        "tracing",
        "RETAIN_TRACING",
        _flag,
        "0",
        "1 keeps BentoML's OpenTelemetry spans (configure an exporter in BentoML's config).",
    ),
    _spec(
        "test_kill_at",
        TEST_KILL_AT,
        _text,
        "none",
        "Fault tests only: the point (e.g. score:scores.csv) where the process kills itself.",
    ),
)

VARIABLES: tuple[Variable, ...] = tuple(s.variable for s in _SPECS)
"""Every environment variable retain reads, with its default and meaning, in a stable order."""


def project_root() -> Path | None:
    """The source checkout holding this package (a folder with pyproject.toml), if any."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else None


def _default_home() -> Path:
    """<checkout>/.retain in a source checkout, else ~/.retain."""
    root = project_root()
    return (root / ".retain") if root else Path.home() / ".retain"


@dataclass(frozen=True)
class Settings:
    """retain's runtime settings, one field per variable of ``VARIABLES``; None means unset.

    ``retain_home`` is the current workspace's folder (``root/workspaces/<workspace>``), where
    every command keeps its state; with no workspace chosen it is the root itself.
    """

    retain_home: Path
    bentoml_home: Path
    root: Path | None = None
    workspace: str | None = None
    tracking_uri: str | None = None
    ledger_url: str | None = None
    feature_table: Path | None = None
    dask_scheduler: str | None = None
    api_key: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = 10_000
    max_events: int = 50_000
    top_reasons: int = 3
    workers: int = 1
    churn_model: str | None = None
    clv_model: str | None = None
    uplift_model: str | None = None
    runtime_tuning: bool = True
    tracing: bool = False
    test_kill_at: str | None = None

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Settings:
        """The settings an environment gives; a ``SettingsError`` names the first bad value."""
        values: dict[str, Any] = {}
        for spec in _SPECS:
            raw = env.get(spec.variable.name, "").strip()
            if raw:
                values[spec.attribute] = spec.parse(spec.variable.name, raw)
        root = values.pop("retain_home", None) or _default_home()
        workspace = values.get("workspace")
        home = root / "workspaces" / workspace if workspace else root
        values.setdefault("bentoml_home", home / "bentoml")
        return cls(retain_home=home, root=root, **values)

    @property
    def state_root(self) -> Path:
        """The folder holding every workspace ($RETAIN_HOME, else the default home)."""
        return self.root or self.retain_home

    @classmethod
    def read(cls) -> Settings:
        """The settings of this process's environment, read now (tests may change it)."""
        return cls.from_environ(os.environ)


def retain_home() -> Path:
    """Where the current business keeps its state: its workspace folder under the root
    ($RETAIN_HOME, else <checkout>/.retain, else ~/.retain); the root when none is chosen."""
    return Settings.read().retain_home


def bentoml_home() -> Path:
    """BentoML's model and bento store: $BENTOML_HOME, else <retain home>/bentoml."""
    return Settings.read().bentoml_home


def disable_telemetry() -> None:
    """Switch off BentoML's and MLflow's usage reporting: the tools run on closed machines."""
    os.environ.update(TELEMETRY_OFF)
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)


def use_local_bentoml_home() -> Path:
    """Point BentoML at retain's store (before bentoml is imported) and return it."""
    home = bentoml_home()
    os.environ["BENTOML_HOME"] = str(home)
    return home


def test_hook(point: str) -> None:
    """Fault-test hook: SIGKILL this process at ``point`` if ``$RETAIN_TEST_KILL_AT`` names it."""
    if Settings.read().test_kill_at == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


__all__ = [
    "QUIET_DEFAULTS",
    "TELEMETRY_OFF",
    "TEST_KILL_AT",
    "VARIABLES",
    "WORKSPACE",
    "WORKSPACE_NAME",
    "Settings",
    "SettingsError",
    "Variable",
    "bentoml_home",
    "disable_telemetry",
    "project_root",
    "retain_home",
    "test_hook",
    "use_local_bentoml_home",
]
