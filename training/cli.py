"""``retain train``, ``models``, ``promote`` and ``rollback``: thin wrappers over training functions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.engines import ENGINES
from core.errors import ConfigError
from model.cli_options import (
    ConfigPath,
    Engine,
    Scheduler,
    TrackingUri,
    config_for,
    optional_config,
)


def train_command(
    config: ConfigPath = None,
    tracking_uri: TrackingUri = None,
    strict: Annotated[
        bool, typer.Option(help="Fail on any unusable input row instead of excluding it.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    engine: Engine = None,
    scheduler: Scheduler = None,
    promote_separately: Annotated[
        bool,
        typer.Option(
            help="Let churn or CLV become champion alone (promotion.separately); by default "
            "they are promoted only together."
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the run as JSON on stdout: the full evaluation table (every metric and "
            "interval), the gate's decisions, the versions; progress goes to stderr.",
        ),
    ] = False,
) -> None:
    """Train churn and CLV models, evaluate them out of time beside baselines, track in MLflow.

    Builds features and labels at monthly cutoffs, trains on the earlier ones, early-stops and
    calibrates on a later one, tests on the latest. Every model and baseline is logged in one
    parent MLflow run; the LightGBM models are registered as 'churn' and 'clv' (names from the
    config) and become 'champion' only if they beat the current champion significantly on the
    same test customers (paired bootstrap), churn and CLV together.

    The printed evaluation table fits 100 columns: per task, a few headline metrics and the gate
    metric against the best reliable baseline. The full table is in the MLflow run (evaluation.md)
    and in --json. Under it: each model's calibration on the test cutoff (mean predicted vs
    observed; a warning beyond the config's calibration limits) and a note for any fit that is
    unreliable (an unreliable baseline is never the yardstick; the note names the one used).
    Library warnings are printed as one plain note each, never with source paths.

    With engine: dask (or --engine dask) the snapshots are built per customer partition on a
    Dask cluster, then training proceeds in memory on the customer-level table, as with pandas.
    """
    import json

    from core.config_file import load_config
    from training.fit_notes import captured_warnings
    from training.pipeline import train

    cfg = load_config(config_for(config))
    if strict:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"strict": True})})
    if engine is not None:
        if engine not in ENGINES:
            raise ConfigError(f"--engine {engine!r}: expected {' or '.join(ENGINES)}")
        cfg = cfg.model_copy(update={"engine": engine})
    if scheduler:
        cfg = cfg.model_copy(update={"dask": cfg.dask.model_copy(update={"scheduler": scheduler})})
    if promote_separately:
        promotion = cfg.promotion.model_copy(update={"separately": True})
        cfg = cfg.model_copy(update={"promotion": promotion})

    def log(line: str) -> None:
        typer.echo(line, err=as_json)

    with captured_warnings("training", deprecations=False) as raised:
        result = train(cfg, tracking_uri=tracking_uri, progress=not quiet, log=log)
    for line in raised:
        log(f"  note: {line}")
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, allow_nan=False))


def models_command(
    config: ConfigPath = None,
    name: Annotated[
        list[str] | None,
        typer.Option(help="Registered model names (default churn, clv, uplift)."),
    ] = None,
    tracking_uri: TrackingUri = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Everything (test metrics, tags, reasons, run ids) as JSON for scripts."
        ),
    ] = False,
) -> None:
    """List registered versions: aliases, gate decision and the gate metric's test value.

    The table fits 100 columns; gate reasons and every test metric are in --json.
    """
    import json

    from model.registry import tracking_store
    from training.registry import list_versions, versions_table

    names = _names(optional_config(config), name)
    uri = tracking_store(tracking_uri)
    rows = list_versions(names, uri=uri)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        typer.echo(f"no registered versions of {names}; run `retain train` first")
        return
    typer.echo(versions_table(rows))


def promote_command(
    model: Annotated[str, typer.Argument(help="Registered model name, e.g. churn.")],
    version: Annotated[str, typer.Argument(help="Version to make champion.")],
    config: ConfigPath = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Make a version the champion by hand (overriding the gate); logged on the version."""
    from model.registry import tracking_store

    optional_config(config)  # the workspace whose registry this is
    from training.registry import promote

    previous = promote(model, version, uri=tracking_store(tracking_uri))
    typer.echo(f"{model}: champion is now v{version}" + (f" (was v{previous})" if previous else ""))


def rollback_command(
    model: Annotated[str, typer.Argument(help="Registered model name, e.g. churn.")],
    config: ConfigPath = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Give the champion alias back to the previous champion."""
    from model.registry import tracking_store

    optional_config(config)  # the workspace whose registry this is
    from training.registry import rollback

    old, new = rollback(model, uri=tracking_store(tracking_uri))
    typer.echo(f"{model}: champion rolled back from v{old} to v{new}")


def _names(config: Path | None, names: list[str] | None) -> list[str]:
    if names:
        return names
    from core.config import RegistryConfig
    from core.config_file import ConfigFile

    registry = ConfigFile.read(config).registry() if config is not None else RegistryConfig()
    return [registry.churn, registry.clv, registry.uplift]


def register(app: typer.Typer) -> None:
    """Add the training commands to the root ``retain`` app."""
    app.command("train")(train_command)
    app.command("models")(models_command)
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
