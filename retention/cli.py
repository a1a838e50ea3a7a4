"""``retain campaign``, ``campaigns``, ``campaign-results``, ``report``, ``monitor`` and
``history``: thin wrappers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.settings import retain_home
from model.cli_options import ConfigPath, config_for, optional_config

LedgerUrl = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        help="Campaign ledger, a SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db); "
        "default $RETAIN_LEDGER_URL, else sqlite in the workspace (ledger.db).",
    ),
]


def campaign_command(
    budget: Annotated[float, typer.Option(help="Total money to spend on offers and contacts.")],
    config: ConfigPath = None,
    offer_cost: Annotated[
        float | None,
        typer.Option(help="Cost of the retention offer, paid when accepted (overrides --config)."),
    ] = None,
    contact_cost: Annotated[
        float | None, typer.Option(help="Cost of contacting one customer (overrides --config).")
    ] = None,
    acceptance: Annotated[
        float | None,
        typer.Option(
            help="Assumed share of contacted would-be churners the offer retains, in [0, 1] "
            "(overrides --config)."
        ),
    ] = None,
    control_share: Annotated[
        float,
        typer.Option(
            help="Share of the selected customers held out at random, within risk tiers, as a "
            "control group (never contacted, never in the CSV); 0 needs --no-control."
        ),
    ] = 0.10,
    no_control: Annotated[
        bool,
        typer.Option(
            "--no-control", help="Run without a control group (the effect cannot be measured)."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the control draw (same seed, same draw).")] = 0,
    include_negative: Annotated[
        bool,
        typer.Option(
            "--include-negative",
            help="Also contact customers whose expected gain is not positive, after every "
            "profitable one, within the budget (each is expected to lose money).",
        ),
    ] = False,
    scores: Annotated[Path | None, typer.Option(help="Scores table from `retain score`.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default beside the scores).")
    ] = None,
    ledger: LedgerUrl = None,
) -> None:
    """Choose whom to contact to maximise expected retained profit minus cost, within the budget.

    Gains count the customer's value at the gross margin of the config's `economics` (without
    --config, the economics recorded with the scored models; flags override its costs). Of the
    customers selected, --control-share are held out at random within each risk tier as a
    control group, so `retain campaign-results` can later measure what the campaign did. A
    customer whose expected gain (by an uplift model: expected incremental profit) is not positive
    is never contacted unless --include-negative; the output counts them by reason. Writes
    the CRM list of the treatment arm only (campaign_id, customer_id, churn probability, CLV,
    expected gain, action, reasons, rank), the expected profit curve, and records the campaign
    and both arms in the campaign ledger (`retain campaigns` lists it).
    """
    from core.config_file import ConfigFile
    from core.economics import Economics
    from retention.campaign import CampaignParams, plan_campaign, scored_economics
    from retention.ledger import Ledger
    from retention.targeting import RISK_ONLY, RISK_VALUE

    workspace_config = optional_config(config)  # without --config: the current workspace's
    scores_path = scores or retain_home() / "scores" / "scores.parquet"
    recorded = None if config else scored_economics(scores_path)
    if config:
        economics, source = ConfigFile.read(config).economics(), f"--config {config}"
    elif recorded:
        economics, source = recorded, "recorded with the scored models"
    elif workspace_config:
        economics = ConfigFile.read(workspace_config).economics()
        source = f"the workspace's config {workspace_config}"
    else:
        economics, source = Economics(), "defaults (give --config for an experiment's economics)"
    params = CampaignParams.checked(
        budget=budget,
        economics=economics,
        offer_cost=offer_cost,
        contact_cost=contact_cost,
        acceptance=acceptance,
        control_share=control_share,
        seed=seed,
        include_negative=include_negative,
        no_control=no_control,
    )
    result = plan_campaign(
        scores_path, params, out_dir=out or scores_path.parent, ledger=Ledger(ledger)
    )
    if result.policy in (RISK_VALUE, RISK_ONLY) and (config or workspace_config):
        result.policy_lines += latest_uplift_lines(config or workspace_config)
    typer.echo(f"economics: {source}; flags override it")
    for line in result.lines():
        typer.echo(line)


def latest_uplift_lines(config: Path | None) -> list[str]:
    """What the latest registered uplift version of ``config`` says when no policy beat random
    order (``retention.targeting.unpromoted_lines``); nothing without one."""
    from core.config_file import ConfigFile
    from model.registry import mlflow_client, tracking_store
    from retention.targeting import unpromoted_lines

    if config is None:
        return []
    name = ConfigFile.read(config).registry().uplift
    versions = mlflow_client(tracking_store()).search_model_versions(f"name='{name}'")
    if not versions:
        return []
    latest = max(versions, key=lambda v: int(v.version))
    return unpromoted_lines(dict(latest.tags), f"{name}:{latest.version}")


def campaigns_command(
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON.")] = False,
    ledger: LedgerUrl = None,
    config: ConfigPath = None,
) -> None:
    """List the campaigns in the ledger, newest first: id, time, as_of, policy, arms, models."""
    import json

    from retention.ledger import Ledger

    optional_config(config)  # the workspace whose ledger this is

    book = Ledger(ledger)
    if as_json:
        typer.echo(json.dumps([c.summary() for c in book.campaigns()], indent=2))
        return
    table = book.table()
    if table.empty:
        typer.echo(f"no campaigns in the ledger at {book.shown}: `retain campaign` records one")
        return
    typer.echo(f"campaign ledger: {book.shown}")
    typer.echo(table.to_string(index=False))


def campaign_results_command(
    campaign_id: Annotated[
        str,
        typer.Argument(
            help="A campaign id from `retain campaigns`, a campaign_id of the treatments table, or "
            "<snapshot file stem>-<YYYYMMDD> for a snapshot export's treatment column."
        ),
    ],
    config: ConfigPath = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every figure, as JSON.")] = False,
    ledger: LedgerUrl = None,
) -> None:
    """What a campaign did, measured against its randomized control group.

    Per arm: customers, retention rate and revenue per customer over the horizon after contact;
    the incremental retained customers and revenue with 95% confidence intervals; ROI net of
    contact and offer costs at the config's gross margin; a balance check of pre-contact features
    (|SMD| > 0.1 flagged); the control arm's observed churn against the model's prediction.
    Before the horizon has passed it reports the results "so far" and says so.
    """
    import json

    from retention.campaign_results import measure_campaign
    from retention.ledger import Ledger

    results = measure_campaign(campaign_id, config_for(config), Ledger(ledger))
    if as_json:
        typer.echo(json.dumps(results.as_json(), indent=2))
        return
    for line in results.lines():
        typer.echo(line)


def report_command(
    scores: Annotated[Path | None, typer.Option(help="Scores table from `retain score`.")] = None,
    config: ConfigPath = None,
    out: Annotated[Path | None, typer.Option(help="HTML file to write.")] = None,
) -> None:
    """Write one self-contained HTML report for the CCO, in plain words.

    Headline sentences, key figures in the packaged currency, where the value at risk sits, whom
    to call first (the latest campaign's contact list, or the order `retain campaign` would
    contact in, with what raises each one's risk), the risk tiers in words, how far to trust the
    models, a glossary. Value at risk is gross profit:
    chance of leaving x value if staying x gross margin (`retain package --config` sets the
    margin). The calibration, gain and test metrics come from the model cards `retain score`
    recorded.
    """
    from retention.report import write_report

    config = config_for(config)
    scores_path = scores or retain_home() / "scores" / "scores.parquet"
    path = write_report(scores_path, config, out or scores_path.parent / "report.html")
    typer.echo(f"report: {path}")


def monitor_command(
    config: ConfigPath = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every figure, as JSON.")] = False,
) -> None:
    """Is the model still right? The latest score generation's input and score drift against
    the model's reference, the performance its probabilities promise, the realized performance of
    every past generation whose horizon has passed, and the verdict: retrain or not, and why.

    Reads the score history every `retain score` records (in the ledger's database) and the
    config's data as it is now for the labels. Thresholds: the config's `monitoring` section.
    """
    import json

    from retention.monitor import monitor, record_verdict

    result = monitor(config_for(config))
    record_verdict(result)  # the service exports the last verdict on /metrics
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2, default=str, allow_nan=False))
        return
    for line in result.lines():
        typer.echo(line)


def history_command(
    config: ConfigPath = None,
    keep: Annotated[
        int | None,
        typer.Option(min=1, help="First remove every generation but the newest this many."),
    ] = None,
) -> None:
    """List the score generations `retain score` recorded, oldest first; --keep N prunes the
    older ones first, in one transaction (new runs keep monitoring.keep_generations)."""
    optional_config(config)
    from serving.score_history import ScoreHistory
    from serving.sql_store import shown

    history = ScoreHistory()
    if keep is not None:
        removed = history.prune(keep)
        typer.echo(f"removed {len(removed)} generation(s); kept the newest {keep} at most")
    rows = history.generations()
    if not rows:
        typer.echo(f"no generation recorded in {shown(history.url)}: run `retain score`")
    for g in rows:
        typer.echo(
            f"{g.generation_id}  as of {g.as_of}  {g.customers:,} customers  "
            + ", ".join(f"{k} {v}" for k, v in sorted(g.model_versions.items()))
        )


def register(app: typer.Typer) -> None:
    """Add the retention commands to the root ``retain`` app."""
    app.command("monitor")(monitor_command)
    app.command("history")(history_command)
    app.command("campaign")(campaign_command)
    app.command("campaigns")(campaigns_command)
    app.command("campaign-results")(campaign_results_command)
    app.command("report")(report_command)
