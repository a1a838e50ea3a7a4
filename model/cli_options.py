"""Command-line options that several ``retain`` commands share, defined once."""

from __future__ import annotations

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
