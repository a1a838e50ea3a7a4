"""Command-line options that several ``retain`` commands share, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

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
