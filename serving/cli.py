"""``retain package``, ``serve`` and ``score``: thin wrappers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import RetainError
from core.settings import (
    Settings,
    disable_telemetry,
    project_root,
    retain_home,
    use_local_bentoml_home,
)
from model.cli_options import (
    ConfigPath,
    Engine,
    Scheduler,
    TrackingUri,
    config_for,
    optional_config,
    parse_as_of,
)


def bentoml_serve_args(host: str, port: int) -> list[str]:
    """The ``bentoml serve`` command line of the retain service (also used by tests, benchmarks)."""
    root = project_root() or Path.cwd()
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "serving.service:Retain",
        "--host",
        host,
        "--port",
        str(port),
        "--working-dir",
        str(root),
    ]


def package_command(
    churn: Annotated[
        str | None, typer.Option(help="Registered churn model name; default the registry's.")
    ] = None,
    clv: Annotated[
        str | None, typer.Option(help="Registered CLV model name; default the registry's.")
    ] = None,
    alias: Annotated[
        str | None, typer.Option(help="Registry alias to package; default the champion.")
    ] = None,
    config: ConfigPath = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Copy the champion churn model, and the CLV and uplift models when they have champions,
    from the MLflow registry into BentoML's store, as one package that becomes current at once.

    Without a CLV champion (a churn-only export) the package is churn-only: value at risk comes
    from `economics.recurring_charge` when the config names one, else value is unknown.

    Then `retain serve` serves them, and `bentoml build` packages service and models into a bento.
    The config's 'registry' names say which models to package and its `economics` section is
    recorded with the models, so the service and `retain score` compute value at risk with the
    same gross margin and show the same currency; its `risk_tiers` (default high from 60%,
    medium from 30% chance of leaving) likewise.
    """
    config = optional_config(config)
    use_local_bentoml_home()
    from core.config import RegistryConfig
    from core.config_file import ConfigFile
    from core.economics import Economics
    from core.risk_tiers import RiskTiers
    from model.registry import CHAMPION
    from serving.store import package, packaged

    file = ConfigFile.read(config) if config else None
    names = file.registry() if file else RegistryConfig()
    economics = file.economics() if file else Economics()
    tiers = file.risk_tiers() if file else RiskTiers()
    stored = package(
        churn or names.churn,
        clv or names.clv,
        alias=alias or CHAMPION,
        tracking_uri=tracking_uri,
        economics=economics,
        risk_tiers=tiers,
        uplift_name=names.uplift,
        clv_required=clv is not None,  # a name given on the command line must be there
    )
    for m in stored:
        typer.echo(f"{m.kind}: {m.registry_name} v{m.version} -> BentoML model {m.tag}")
    kinds = {m.kind for m in stored}
    if "clv" not in kinds:
        charge = economics.recurring_charge
        typer.echo(
            f"clv: no champion CLV model ({clv or names.clv}): a churn-only package; value at "
            + (
                f"risk = churn probability x {charge} x the horizon's months x gross margin"
                if charge
                else "risk unknown (set economics.recurring_charge to a monthly-charge column)"
            )
        )
    if "uplift" not in kinds:
        typer.echo("uplift: no champion uplift model; scores carry no uplift")
    current = packaged()
    typer.echo(f"package {current.tag}: serves {' + '.join(current.models)}, current as one")
    typer.echo(
        f"economics: {economics.currency}, gross margin {economics.gross_margin:.0%}"
        + ("" if config else " (defaults: give --config to use an experiment's economics)")
    )
    typer.echo(f"risk tiers: {tiers.words()}")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True when binding ``host`` keeps the service on this machine."""
    import ipaddress

    if host.lower() in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def worker_count(workers: int) -> int:
    """The service's worker processes: ``workers``, or one per CPU core for 0."""
    return workers or os.cpu_count() or 1


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 keeps it local.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 3000,
    workers: Annotated[int, typer.Option(min=0, help="Worker processes; 0: one per CPU core.")] = 1,
    api_key: Annotated[
        str | None,
        typer.Option(help="Require this X-API-Key on scoring endpoints; default $RETAIN_API_KEY."),
    ] = None,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated Host header names to answer (* for any); default "
            "$RETAIN_ALLOWED_HOSTS, else loopback names plus --host.",
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(help="Allow binding beyond loopback without an API key (not recommended)."),
    ] = False,
    config: ConfigPath = None,
) -> None:
    """Serve the packaged champion models over HTTP (BentoML), until interrupted.

    POST /score, /score_ids, /model_info; GET /healthz, /readyz, /metrics, /docs.json; Swagger UI
    at /. Serves the workspace of --config (else the current one): run `retain package` first.
    Two businesses are served side by side from two terminals, each with its --config and --port.
    """
    optional_config(config)
    settings = Settings.read()
    api_key = api_key or settings.api_key
    allowed_hosts = allowed_hosts or ",".join(settings.allowed_hosts) or None
    local = is_loopback(host)
    if not local and not api_key:
        warning = (
            f"WARNING: binding {host} without an API key: anyone who can reach this port can "
            "score customers and read model details. Set RETAIN_API_KEY (or --api-key)."
        )
        if not insecure:
            raise RetainError(
                f"refusing to bind {host} without an API key: set RETAIN_API_KEY (or --api-key), "
                "or pass --insecure to serve unauthenticated"
            )
        typer.secho(warning, fg="red", err=True, bold=True)
    hosts = allowed_hosts or ",".join(
        [*LOOPBACK, *([] if local or host in ("0.0.0.0", "::") else [host])]
    )
    if not local and not allowed_hosts:
        typer.echo(
            f"answering Host headers {hosts} only: set RETAIN_ALLOWED_HOSTS (or --allowed-hosts) "
            "to the names clients use",
            err=True,
        )
    home = use_local_bentoml_home()  # sets BENTOML_HOME in os.environ, which the server inherits
    disable_telemetry()  # likewise
    _check_packaged()
    count = worker_count(workers)
    os.environ.update({"RETAIN_WORKERS": str(count), "RETAIN_ALLOWED_HOSTS": hosts})
    if api_key:
        os.environ["RETAIN_API_KEY"] = api_key
    command = bentoml_serve_args(host, port)
    typer.echo(
        f"serving on http://{host}:{port} with {count} worker{'s' * (count > 1)} (models from "
        f"{home}); Ctrl-C stops"
    )
    os.execvp(command[0], command)


def score_command(
    as_of: Annotated[
        str,
        typer.Option(help="Score as of this day, YYYY-MM-DD (events on or before it), or latest."),
    ] = "latest",
    config: ConfigPath = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the workspace's scores/).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Fail on any unusable input row.")] = False,
    engine: Engine = None,
    scheduler: Scheduler = None,
) -> None:
    """Score every active customer with the packaged champion models; refresh the id lookup table.

    With the dask engine, each customer partition is featured and scored on a Dask worker
    (progress bar and dashboard address shown) and the generation also holds the scores as
    partitioned Parquet (scores_parts/).

    Writes scores.parquet and scores.csv (churn probability, CLV, value if staying, value at risk
    as gross profit with its currency, risk tier, top reasons, segment columns) and the
    latest-features table the service looks ids up in. Active: a purchase in the models'
    active_days (or a running subscription); the service flags other ids `active: false`.
    """
    cutoff = parse_as_of(as_of, allow_latest=True)
    config = config_for(config)
    use_local_bentoml_home()
    from core.config_file import ConfigFile
    from features.engine import DaskEngine
    from serving.batch import score_base

    configured, settings = ConfigFile.read(config).engine()
    out_dir = out or retain_home() / "scores"
    if (engine or configured) == "dask":
        from serving.batch_dask import score_base_dask

        with DaskEngine(settings, work_dir=retain_home() / "dask", scheduler=scheduler) as dask:
            result = score_base_dask(config, cutoff, out_dir=out_dir, engine=dask, strict=strict)
    else:
        result = score_base(config, cutoff, out_dir=out_dir, strict=strict)
    for line in result.lines():
        typer.echo(line)


def _check_packaged() -> None:
    """Refuse to start a service with no packaged models, saying what to run first."""
    from serving.store import has_packaged_models

    if not has_packaged_models():
        raise RetainError(
            "nothing to serve: no packaged models in this workspace's BentoML store "
            f"({Settings.read().bentoml_home}); run `retain train` then `retain package` first"
        )


def register(app: typer.Typer) -> None:
    """Add the serving commands to the root ``retain`` app."""
    app.command("package")(package_command)
    app.command("serve")(serve_command)
    app.command("score")(score_command)


__all__ = ["RetainError", "register"]
