"""``retain init PATH``: from one export to a commented config that trains, every problem at once.

Reads the export through the real loader, proposes the mapping (``features.mapping``), writes
the config (``retain.config_writer``) atomically, then runs what ``retain train`` runs before
fitting on it: the config's validation and the loading, labelling and splitting of the data.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import RetainError

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 50_000
"""Rows the mapping is inferred from (a seeded sample of a larger file)."""
SEPARATORS = (";", "\t", "|")
"""Separators tried when a file read with commas has one column only."""


def init_command(
    path: Annotated[
        Path, typer.Argument(help="The export: a transaction log or a labelled CRM table.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Config file to write [default: <name>.yaml in this folder]."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The business's name [default: from the file name].")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Propose a config for your own export, write it commented, and check that it trains.

    Reads a transaction log (customer, date, amount or quantity x price, ...) or a labelled
    snapshot export (one row per customer with a churn flag), CSV or Parquet, gzipped or not.
    Every choice is written with its evidence; a choice the file cannot decide is marked CHECK
    with the key to set. Then the data is loaded as `retain train` loads it, and every problem
    is listed at once (exit 2), with the rows excluded and why.

    Example: retain init exports/online_retail.csv && retain train --config online-retail.yaml
    """
    from core.config_file import load_config
    from features.mapping import propose_mapping
    from retain.config_writer import business_name, render_config, yaml_value
    from serving.files import write_atomically

    source = path.resolve()
    sample, sep = _read_sample(source)
    modified = dt.datetime.fromtimestamp(source.stat().st_mtime, tz=dt.UTC).date()
    proposal = propose_mapping(sample, modified=modified)
    if sep != ",":
        proposal.choose(
            f"data.{proposal.kind}.sep",
            sep,
            f"read with commas the file has one column; its header splits on {sep!r} into "
            f"{sample.shape[1]} columns",
        )
    chosen = name or business_name(source.name)
    target = (out or Path(f"{chosen}.yaml")).resolve()
    if target.exists() and not force:
        raise RetainError(f"{target} exists: give another --out, or --force to overwrite it")
    data_path = os.path.relpath(source, target.parent)
    text = render_config(proposal, name=chosen, data_path=data_path, file_name=source.name)
    write_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    typer.echo(f"wrote {target}: a {proposal.kind} export ({source.name})")
    for choice in proposal.choices:
        mark = "CHECK " if choice.confirm else ""
        typer.echo(f"  {mark}{choice.key}: {yaml_value(choice.value)}  ({choice.evidence})")
    if proposal.unused:
        typer.echo(f"  not read: {', '.join(proposal.unused)}")
    problems = list(proposal.problems)
    if not problems:
        try:
            problems += _check(load_config(target))
        except RetainError as err:
            problems.append(str(err))
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise RetainError(
            f"{len(problems)} problem(s) stop `retain train` on {target}:\n{listed}\n"
            "Fix them in the config (each names its key) and run `retain train --config "
            f"{target}`."
        )
    checks = "; CHECK the marked keys" if proposal.to_confirm else ""
    typer.echo(f"checked: the data loads as `retain train` reads it{checks}")
    typer.echo(f"next: retain train --config {target}")


def _read_sample(path: Path) -> tuple[pd.DataFrame, str]:
    """The file's rows as text (a seeded sample of a large file) and its separator."""
    from core.sources import TableSource
    from features.loading import SeparatorError, read_table

    sep = ","
    try:
        frame = read_table(TableSource(path=path))
    except SeparatorError as err:  # the header says which: ';', tab or '|'
        sep = err.sep
        frame = read_table(TableSource(path=path, sep=sep))
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        found = [s for s in SEPARATORS if s in header]
        if found:
            sep = found[0]
            frame = read_table(TableSource(path=path, sep=sep))
    if len(frame) > SAMPLE_ROWS:
        frame = frame.sample(SAMPLE_ROWS, random_state=0).sort_index()
    return frame, sep


def _check(config: object) -> list[str]:
    """What `retain train` finds before fitting: load, label and split; the reports shown."""
    from core.config import ExperimentConfig
    from training.dataset import load_training_data

    assert isinstance(config, ExperimentConfig)
    try:
        data = load_training_data(config, progress=False)
    except RetainError as err:
        return [str(err)]
    for report in data.load_reports:
        for line in report.lines():
            typer.echo(line)
    for label_report in data.label_reports:
        typer.echo("  " + label_report.line())
    if data.schema is not None:
        typer.echo("attributes, as training will read them (override with data.snapshots.types):")
        for line in data.schema.lines():
            typer.echo(line)
    for note in data.notes:
        typer.echo("  note: " + note)
    return []


__all__ = ["init_command"]
