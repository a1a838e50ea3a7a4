"""Workspaces: each business keeps its state in a folder of its own, chosen by its config.

A config's ``name`` names its workspace (``<retain home>/workspaces/<name>``): the tracking store,
scores, lookup table, ledger, BentoML store, uplift model and report of one business live there,
so nothing of one business can appear in another's. A command given ``--config`` enters that
config's workspace and remembers it as the current one; a command without ``--config`` uses the
current workspace (and its config) and says which. Entering sets ``$RETAIN_WORKSPACE`` for this
process and its children (the service), so every state path (``core.settings``) follows.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.config_file import ConfigFile
from core.errors import ConfigError
from core.settings import WORKSPACE, WORKSPACE_NAME, Settings

CURRENT = "current_workspace"
"""The file under the retain home naming the workspace of the last ``--config`` given."""
RECORD = "workspace.json"
"""The file in a workspace's folder recording the config that made it."""


@dataclass(frozen=True)
class Workspace:
    """One business's state: its name, its folder and the config that chose it (if known)."""

    name: str
    folder: Path
    config: Path | None

    def describe(self) -> str:
        """'workspace NAME (config PATH)': the line commands print when they use it."""
        config = f"config {_shown(self.config)}" if self.config else "no config recorded"
        return f"workspace {self.name} ({config}; state in {_shown(self.folder)})"


def workspace_name(name: str) -> str:
    """The workspace of a config ``name``: lower case, runs of other characters made one '-'."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-._")[:64].strip("-._")
    if not WORKSPACE_NAME.fullmatch(slug):
        raise ConfigError(
            f"config name {name!r} gives no workspace name: use letters or digits in `name`"
        )
    return slug


def config_workspace(config: Path) -> str:
    """The workspace a config file chooses: from its ``name`` key, else from the file's name."""
    name = ConfigFile.read(config).raw.get("name")
    if isinstance(name, str | int | float) and str(name).strip():
        return workspace_name(str(name))
    return workspace_name(config.stem)


def enter(config: Path) -> Workspace:
    """Make ``config``'s workspace this process's and the current one; return it."""
    settings = Settings.read()
    name = config_workspace(config)
    folder = settings.state_root / "workspaces" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = config.expanduser().resolve()
    _write_json(folder / RECORD, {"name": name, "config": str(path)})
    _write_text(settings.state_root / CURRENT, name + "\n")
    os.environ[WORKSPACE] = name
    return Workspace(name, folder, path)


def current() -> Workspace | None:
    """The workspace in use: ``$RETAIN_WORKSPACE``, else the last one entered; None if none."""
    settings = Settings.read()
    name = settings.workspace
    if name is None:
        pointer = settings.state_root / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text().strip()
        if not WORKSPACE_NAME.fullmatch(name):
            raise ConfigError(
                f"{pointer} names no workspace ({name!r}): delete it and pass --config"
            )
    folder = settings.state_root / "workspaces" / name
    return Workspace(name, folder, _recorded_config(folder))


def use(config: Path | None) -> Workspace | None:
    """The workspace a command runs in: ``config``'s if given, else the current one (entered)."""
    if config is not None:
        return enter(config)
    found = current()
    if found is not None:
        os.environ[WORKSPACE] = found.name
    return found


def config_of(config: Path | None) -> tuple[Path, Workspace]:
    """The config a command reads and its workspace: ``config``, else the current workspace's.

    Raises ``ConfigError`` saying what to run when neither exists.
    """
    workspace = use(config)
    if config is not None and workspace is not None:
        return config, workspace
    if workspace is None or workspace.config is None:
        raise ConfigError(
            "no --config given and no workspace chosen yet: run `retain init YOUR_EXPORT` to "
            "write a config for your data, or pass --config FILE (the demo's is "
            "experiments/demo.yaml)"
        )
    if not workspace.config.is_file():
        raise ConfigError(
            f"the config of {workspace.describe()} is gone: pass --config FILE to choose again"
        )
    return workspace.config, workspace


def workspaces() -> list[Workspace]:
    """Every workspace under the retain home, by name."""
    root = Settings.read().state_root / "workspaces"
    if not root.is_dir():
        return []
    return [
        Workspace(folder.name, folder, _recorded_config(folder))
        for folder in sorted(root.iterdir())
        if folder.is_dir() and WORKSPACE_NAME.fullmatch(folder.name)
    ]


def _recorded_config(folder: Path) -> Path | None:
    """The config recorded in a workspace folder, if any."""
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    config = record.get("config") if isinstance(record, dict) else None
    return Path(config) if isinstance(config, str) else None


def _shown(path: Path) -> str:
    """A path relative to the working folder when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_text(path: Path, text: str) -> None:
    """Write a small file atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, record: dict[str, str]) -> None:
    """Write a small JSON record atomically."""
    _write_text(path, json.dumps(record, indent=2) + "\n")


__all__ = [
    "CURRENT",
    "RECORD",
    "Workspace",
    "config_of",
    "config_workspace",
    "current",
    "enter",
    "use",
    "workspace_name",
    "workspaces",
]
