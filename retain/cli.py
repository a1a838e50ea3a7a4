"""The ``retain`` command line: a thin layer over functions, one command per step of the workflow.

The application layer: it may import every package, and none imports it. It adds the data
commands itself (``demo-data``, ``features``) and those of ``training.cli``, ``serving.cli`` and
``retention.cli``.
"""

from __future__ import annotations

import difflib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from core.errors import RetainError
from core.settings import disable_telemetry
from model.cli_options import ConfigPath, Engine, Scheduler, config_for, parse_as_of
from retain.init_command import init_command

HELP = """\
retain: churn and customer-lifetime-value prediction, from raw transactions to a scoring service.

\b
Workflow (each step reads what the previous one wrote):
  1. retain init EXPORT.csv              your export -> a commented config (my-shop.yaml), checked
     (or retain demo-data                synthetic demo data; its config: experiments/demo.yaml)
  2. retain train --config my-shop.yaml  features, LightGBM + baselines, out-of-time test,
                                         MLflow tracking, registry gate
  3. retain package                      champion models -> BentoML model store
  4. retain serve                        HTTP scoring service on http://127.0.0.1:3000
  5. retain score --as-of DATE           score every active customer, refresh id lookups
  6. retain campaign --budget 5000       whom to contact for the most retained value, with a
                                         random control group, recorded in the campaign ledger
  7. retain report                       one self-contained HTML page for the CCO

\b
Inspect: retain features --list, retain models. Move the champion: retain promote, rollback.
Measure: retain campaigns (the ledger), retain campaign-results ID.

\b
Each business keeps its state in its own workspace, named by its config's `name`
(.retain/workspaces/<name>; RETAIN_HOME moves .retain). --config chooses the workspace and
makes it current; commands without --config use the current one. retain workspace lists them;
eval "$(retain env)" points the mlflow and bentoml commands at the current one.
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class DemoFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class DemoBusiness(StrEnum):
    retail = "retail"
    subscription = "subscription"
    crm = "crm"


@app.command("demo-data")
def demo_data(
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write <business>/<table>.csv into [default: data/demo]."),
    ] = None,
    customers: Annotated[
        int,
        typer.Option(
            min=100, max=1_000_000, help="Retail customers (the subscription business gets 60%)."
        ),
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    fmt: Annotated[DemoFormat, typer.Option("--format", help="File format.")] = DemoFormat.csv,
    business: Annotated[
        list[DemoBusiness] | None,
        typer.Option(help="Business to write; repeat for both (default)."),
    ] = None,
) -> None:
    """Write synthetic demo businesses with known churn drivers, plus their latent truth.

    retail: non-contractual shop (transactions, customers, and treatments: two past randomized
    retention campaigns, whose true per-customer effects are in campaign_truth.parquet).
    subscription: SaaS plans
    (transactions, customers, subscriptions, interactions). crm: a telecom's labelled CRM
    exports (snapshot: one as_of day; monthly: six month ends). truth.parquet beside each holds
    the planted per-customer state (rates, death or cancellation date, churn probability).
    """
    from retain.demo_data import default_data_dir, write_demo

    chosen = tuple(b.value for b in business or list(DemoBusiness))
    written = write_demo(
        out or default_data_dir(),
        customers=customers,
        seed=seed,
        fmt=fmt.value,
        businesses=chosen,
    )
    for name, folder in written.items():
        files = ", ".join(sorted(p.name for p in folder.iterdir()))
        typer.echo(f"{name}: {folder} ({files})")


app.command("init")(init_command)


@app.command("config-reference")
def config_reference_command() -> None:
    """Print the reference of every experiment config key as Markdown (docs/CONFIGURATION.md)."""
    from core.config_reference import config_reference

    typer.echo(config_reference(), nl=False)


@app.command("features")
def features_command(
    list_: Annotated[
        bool, typer.Option("--list", help="Print the feature catalogue and exit.")
    ] = False,
    markdown: Annotated[bool, typer.Option(help="With --list: print it as Markdown.")] = False,
    config: ConfigPath = None,
    as_of: Annotated[
        str | None, typer.Option(help="Cutoff day, YYYY-MM-DD: events on or before it are used.")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Parquet file to write (engine dask: a folder of part files).")
    ] = Path("features.parquet"),
    strict: Annotated[bool, typer.Option(help="Fail on any unusable input row.")] = False,
    engine: Engine = None,
    scheduler: Scheduler = None,
) -> None:
    """List the feature catalogue, or write the features of every customer as of a date.

    Example: retain features --config experiments/demo.yaml --as-of 2024-06-30 --out f.parquet

    With the dask engine (engine: dask in the config, or --engine dask) the data paths may be
    Parquet folders or globs; the features are written as one Parquet file per customer
    partition into --out, with a progress bar and the Dask dashboard's address.
    """
    from features.catalogue import catalogue_frame, catalogue_markdown

    if list_:
        if markdown:
            typer.echo(catalogue_markdown())
        else:
            frame = catalogue_frame()[["name", "family", "dtype", "window", "description"]]
            with _wide_pandas():
                typer.echo(frame.to_string(index=False))
        return
    if as_of is None:
        raise RetainError(
            "give --list, or --as-of (with --config, default the current workspace's; see "
            "retain features --help)"
        )
    config = config_for(config)
    import pandas as pd

    from core.config_file import ConfigFile
    from features.build import build_features
    from features.loading import load_data, raise_if_unclean

    cutoff = parse_as_of(as_of, allow_latest=False)
    assert cutoff.day is not None
    day = pd.Timestamp(cutoff.day)
    file = ConfigFile.read(config)
    data_config, families = file.data(), file.families()
    if data_config.labelled:
        _snapshot_features(data_config, day, out, strict=strict)
        return
    configured, settings = file.engine()
    if (engine or configured) == "dask":
        _dask_features(data_config, families, day, out, settings, scheduler, strict)
        return
    data, reports = load_data(data_config)
    for report in reports:
        for line in report.lines():
            typer.echo(line, err=True)
    if strict:
        raise_if_unclean(reports)
    frame = build_features(data, day, families=families, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out)
    typer.echo(
        f"wrote {len(frame):,} customers x {frame.shape[1]} features as of {cutoff} to {out}"
    )


def _dask_features(
    data_config: Any,
    families: list[str] | None,
    day: Any,
    out: Path,
    settings: Any,
    scheduler: str | None,
    strict: bool,
) -> None:
    """``retain features`` on the dask engine: partitioned Parquet of features into ``out``."""
    from core.settings import retain_home
    from features.dask_engine import FeatureTask, map_partitions
    from features.engine import DaskEngine

    if strict:
        data_config = data_config.model_copy(update={"strict": True})
    with DaskEngine(settings, work_dir=retain_home() / "dask", scheduler=scheduler) as engine:
        parted = engine.load_partitioned(data_config)
        for report in parted.reports:
            for line in report.lines():
                typer.echo(line, err=True)
        task = FeatureTask(day, tuple(families) if families else None)
        written = map_partitions(parted, task, out, progress=True)
    rows = sum(_parquet_rows(p) for p in written.paths)
    typer.echo(
        f"wrote {rows:,} customers as of {day.date()} to {out}/ ({len(written.paths)} partitions)"
    )


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _snapshot_features(data_config: Any, day: Any, out: Path, *, strict: bool) -> None:
    """The attribute features of a labelled export's rows of one as_of day, typed by inference
    on the whole table (training infers on its training table and stores that schema)."""
    import pandas as pd

    from core.schema import AS_OF, CUSTOMER_ID
    from features.labelled import infer_schema, labelled_features, load_snapshots
    from features.loading import raise_if_unclean

    if data_config.transactions is not None:
        raise RetainError(
            "retain features on a snapshots table with a transaction log: train on it, or list "
            "the log's features with a config without the snapshots table"
        )
    source = data_config.snapshots
    table = load_snapshots(source, labels=False)
    for line in table.report.lines():
        typer.echo(line, err=True)
    if strict:
        raise_if_unclean([table.report])
    inferred = infer_schema(table.rows[table.attributes], source, table.rows[CUSTOMER_ID].nunique())
    for line in [*inferred.schema.lines(), *inferred.notes]:
        typer.echo(line, err=True)
    rows = table.rows.loc[pd.to_datetime(table.rows[AS_OF]).dt.normalize() == day]
    if rows.empty:
        days = ", ".join(str(d.date()) for d in table.as_of_days[-10:])
        raise RetainError(
            f"--as-of {day.date()}: the snapshots table has no rows of that day ({days})"
        )
    frame = labelled_features(rows.reset_index(drop=True), inferred.schema)
    frame.index = pd.Index(rows[CUSTOMER_ID].astype("str"), name=CUSTOMER_ID)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out)
    typer.echo(f"wrote {len(frame):,} rows x {frame.shape[1]} features as of {day.date()} to {out}")


@app.command("retrain")
def retrain_command(
    config: ConfigPath = None,
    force: Annotated[
        bool, typer.Option("--force", help="Retrain even when the monitor recommends nothing.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Only say whether retraining is recommended.")
    ] = False,
) -> None:
    """Retrain when `retain monitor` recommends it: train -> gate -> package -> score.

    The MLflow run is tagged with the monitor verdict that caused it. Exit codes for cron or
    Airflow: 0 nothing to do, or retrained with a new champion scoring the base; 3 retraining
    recommended but not run (--check); 4 retrained but the gate kept the champion; 2 a user error.
    """
    from retain.retrain import retrain

    done = retrain(config_for(config), force=force, check=check, log=typer.echo)
    for line in done.lines:
        typer.echo(line)
    if done.code:
        raise typer.Exit(done.code)


@app.command("workspace")
def workspace_command(
    as_json: Annotated[bool, typer.Option("--json", help="Every workspace, as JSON.")] = False,
) -> None:
    """List the businesses' workspaces (the current one marked *), each with its config.

    Each config's `name` chooses a workspace under the retain home (.retain/workspaces/<name>):
    tracking store, scores, lookup table, ledger, BentoML store, uplift model and report of
    that business. A command given --config enters its workspace and makes it current; one
    without --config uses the current workspace. `retain env` prints its paths for the
    mlflow and bentoml command lines.
    """
    import json

    from core.workspace import current, workspaces

    chosen = current()
    found = workspaces()
    if as_json:
        rows = [
            {
                "name": w.name,
                "current": chosen is not None and w.name == chosen.name,
                "config": str(w.config) if w.config else None,
                "folder": str(w.folder),
            }
            for w in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not found:
        typer.echo(
            "no workspaces yet: `retain init YOUR_EXPORT` writes a config for your data, and "
            "the first command given --config creates its workspace"
        )
        return
    for w in found:
        mark = "*" if chosen is not None and w.name == chosen.name else " "
        typer.echo(f"{mark} {w.describe()}")


@app.command("env")
def env_command(config: ConfigPath = None) -> None:
    """Print shell exports pointing MLflow's and BentoML's own commands at a workspace.

    Run `eval "$(retain env)"` once in a shell; then `bentoml build`, `bentoml serve`,
    `bentoml containerize` and `mlflow ui` use the current workspace's stores as written in
    the README (or `eval "$(retain env --config FILE)"` for another business).
    """
    import shlex

    from core.settings import Settings, disable_telemetry
    from core.workspace import use
    from model.registry import tracking_store

    workspace = use(config)
    if workspace is None:
        raise RetainError(
            "no workspace chosen yet: pass --config FILE (or run a command with --config first)"
        )
    settings = Settings.read()
    disable_telemetry()
    exports = {
        "RETAIN_WORKSPACE": workspace.name,
        "BENTOML_HOME": str(settings.bentoml_home),
        "MLFLOW_TRACKING_URI": tracking_store(None),
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    typer.echo(f"# {workspace.describe()}")
    for key, value in exports.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


class _wide_pandas:
    def __enter__(self) -> None:
        import pandas as pd

        self._ctx = pd.option_context(
            "display.max_colwidth", 90, "display.width", 200, "display.max_rows", 500
        )
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def register_commands() -> None:
    """Add the training, serving and retention commands once (their modules import lazily)."""
    from retention.cli import register as register_retention
    from serving.cli import register as register_serving
    from training.cli import register as register_training

    if "train" not in {c.name for c in app.registered_commands}:
        register_training(app)
        register_serving(app)
        register_retention(app)


def main() -> None:
    """Console entry point: user mistakes print a clear message (exit 2), never a traceback."""
    disable_telemetry()
    register_commands()
    try:
        app(standalone_mode=False)
    except RetainError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except (click.ClickException, typer.TyperException) as err:
        # typer bundles its own click: a typo in a command or option raises typer's copy of
        # click's UsageError, which is a TyperException, not a click.ClickException
        if type(err).__name__ == "NoArgsIsHelpError":  # `retain` alone: the help is the answer
            typer.echo(_message(err))
            sys.exit(0)
        typer.echo(f"error: {_usage_message(err)}", err=True)
        sys.exit(getattr(err, "exit_code", 2))


def _message(err: Exception) -> str:
    """A click-style error's own message (click's and typer's copies alike)."""
    format_message = getattr(err, "format_message", None)
    return str(format_message()) if callable(format_message) else str(err)


def _usage_message(err: Exception) -> str:
    """The one-line message of a usage error, with where to read how the command is used."""
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", "") or "retain"
    return f"{_closest_option(err) or _message(err)} (see `{path} --help`)"


def _closest_option(err: Exception) -> str | None:
    """'No such option: --prot. Did you mean --port?' for an unknown option with near names
    (click lists every near name in alphabetical order, the closest not first)."""
    name, near = getattr(err, "option_name", None), getattr(err, "possibilities", None)
    if not name or not near:
        return None
    best = difflib.get_close_matches(name, near, n=1, cutoff=0.0)[0]
    return f"No such option: {name}. Did you mean {best}?"
