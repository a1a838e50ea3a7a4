"""Command-line options that several ``retain`` commands share, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.cutoff import Cutoff, CutoffFormatError
from core.errors import CutoffError

TrackingUri = Annotated[
    str | None,
    typer.Option(
        help="MLflow tracking URI; default $MLFLOW_TRACKING_URI, else sqlite under .retain."
    ),
]
Engine = Annotated[
    str | None,
    typer.Option(help="pandas or dask; default the config's 'engine' key, else pandas."),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler to join (tcp://host:8786; or $RETAIN_DASK_SCHEDULER); "
        "default a local cluster on 127.0.0.1."
    ),
]


def parse_as_of(text: str, *, allow_latest: bool) -> Cutoff:
    """``--as-of`` through the one cutoff parser; a refusal is a user error naming the option."""
    try:
        return Cutoff.parse(text, allow_latest=allow_latest)
    except CutoffFormatError as err:
        raise CutoffError(f"--as-of {err}") from None


ConfigPath = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Experiment YAML of the business; it also chooses the business's workspace "
        "(default: the current workspace's config, see `retain workspace`).",
    ),
]


def config_for(config: Path | None) -> Path:
    """The config a command reads: ``--config``, else the current workspace's (said on stderr).

    Either way the command runs in that config's workspace (``core.workspace``).
    """
    from core.workspace import config_of

    path, workspace = config_of(config)
    if config is None:
        typer.echo(f"using {workspace.describe()}", err=True)
    return path


def optional_config(config: Path | None) -> Path | None:
    """``--config``, else the current workspace's config, else None (no workspace chosen yet)."""
    from core.workspace import use

    workspace = use(config)
    if config is not None or workspace is None:
        return config
    typer.echo(f"using {workspace.describe()}", err=True)
    return workspace.config if workspace.config and workspace.config.is_file() else None
