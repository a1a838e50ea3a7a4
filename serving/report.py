"""``retain report``: one self-contained HTML page for a Chief Customer Officer.

Headline KPIs, where the value at risk sits, what a campaign would return, how far to trust the
models, and the accounts to call first with the reasons. Images are inlined as base64 PNG and the
CSS is inline, so the file opens anywhere with no server and no network. Every KPI also carries
its exact value in a ``data-value`` attribute, so tests can check it against the scores table.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import ValidationError

from features.errors import DataValidationError
from features.labelled import CHURN, LabelledTable, load_snapshots
from features.labels import make_labels
from features.loading import load_data
from features.prepare import PreparedData, prepare, to_day
from features.schema import AS_OF, CUSTOMER_ID, FUTURE_VALUE
from features.sources import read_data_section
from model.card import CalibrationCurve, GainCurve, ModelCard
from serving.batch import CARDS
from serving.campaign import CAMPAIGN_JSON, SCORES_GENERATION, CampaignParams, plan, plot_curve
from serving.files import write_atomically
from serving.generation import SCORE_META, Generation, read_scores

TOP_ACCOUNTS = 50
SEGMENT_CANDIDATES = ("region", "channel", "plan", "company_size", "segment")


@dataclass
class Kpi:
    key: str
    label: str
    value: float
    fmt: str = "{:,.0f}"
    note: str = ""

    def shown(self) -> str:
        return "n/a" if self.value is None or np.isnan(self.value) else self.fmt.format(self.value)


@dataclass
class ReportData:
    """Everything the page shows, computed before any HTML is written."""

    as_of: pd.Timestamp
    kpis: list[Kpi]
    figures: dict[str, str]
    top: pd.DataFrame
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ObservedChurn:
    """Churn and revenue a labelled CRM export records for one of its as_of days."""

    day: pd.Timestamp
    churn_rate: float
    revenue: float


def observed_in_snapshots(
    table: LabelledTable, as_of: pd.Timestamp, horizon_days: int
) -> ObservedChurn | None:
    """The export's own labels: of the latest as_of day whose horizon has passed by ``as_of``,
    else of the latest labelled day up to ``as_of`` (None if no row is labelled)."""
    rows = table.rows.assign(day=pd.to_datetime(table.rows[AS_OF]).dt.normalize())
    rows = rows.loc[rows[CHURN].notna() & (rows["day"] <= as_of)]
    if rows.empty:
        return None
    matured = rows.loc[rows["day"] + pd.Timedelta(days=horizon_days) <= as_of, "day"]
    day = matured.max() if len(matured) else rows["day"].max()
    at = rows.loc[rows["day"] == day]
    revenue = float(at[FUTURE_VALUE].sum()) if FUTURE_VALUE in at else float("nan")
    return ObservedChurn(pd.Timestamp(day), float(at[CHURN].mean()), revenue)


def compute_kpis(
    scores: pd.DataFrame,
    prep: PreparedData | None,
    as_of: pd.Timestamp,
    horizon_days: int,
    *,
    contractual: bool,
    active_days: int,
    observed: ObservedChurn | None = None,
) -> tuple[list[Kpi], list[str]]:
    """Headline numbers: base size, last-horizon churn and revenue, CLV, value at risk, NPS/CSAT.

    From a transaction log the churn rate is derived from events; from a labelled CRM export
    (``prep`` None) it is the export's own churned flag (``observed``).
    """
    notes: list[str] = []
    start = as_of - pd.Timedelta(days=horizon_days)
    churn_rate = float("nan")
    revenue_existing = float("nan")
    churn_detail = f"of customers active on {start.date()}"
    if prep is None:
        if observed is not None:
            start = observed.day
            churn_rate, revenue_existing = observed.churn_rate, observed.revenue
            churn_detail = f"the export's churned flag, rows of {observed.day.date()}"
        else:
            notes.append("the snapshots table has no churned labels: no observed churn rate")
    elif to_day(start) >= prep.start_day:
        labels, _ = make_labels(
            prep,
            start,
            horizon_days,
            active_days=None if contractual else active_days,
            contractual=contractual,
        )
        churn_rate = float(labels["churn"].mean()) if len(labels) else float("nan")
        tx = prep.transactions
        existing = prep.first_day <= to_day(start)
        window = (tx.day > to_day(start)) & (tx.day <= to_day(as_of))
        revenue_existing = float(tx.amount[window & existing[tx.customer]].sum())
    else:
        notes.append(
            f"the data starts less than {horizon_days} days before {as_of.date()}: "
            "no churn rate over the last horizon"
        )
    kpis = [
        Kpi("active_customers", "Active customers", float(len(scores))),
        Kpi(
            "churn_rate",
            f"Churn rate, last {horizon_days} days",
            churn_rate,
            "{:.1%}",
            churn_detail,
        ),
        Kpi(
            "retention_rate", f"Retention rate, last {horizon_days} days", 1 - churn_rate, "{:.1%}"
        ),
        Kpi(
            "revenue_existing",
            f"Revenue from existing customers, last {horizon_days} days",
            revenue_existing,
            "{:,.0f}",
        ),
        Kpi(
            "mean_clv",
            f"Mean CLV (next {horizon_days} days)",
            float(scores["clv"].mean()),
            "{:,.2f}",
        ),
        Kpi("total_clv", f"Total CLV (next {horizon_days} days)", float(scores["clv"].sum())),
        Kpi(
            "total_value_at_risk",
            "Total value at risk",
            float(scores["value_at_risk"].sum()),
            "{:,.0f}",
            "sum of churn probability x CLV",
        ),
        Kpi(
            "high_risk_customers",
            "High-risk customers",
            float((scores["risk_tier"] == "high").sum()),
        ),
    ]
    if prep is not None and prep.interactions is not None:
        inter = prep.interactions
        recent = (inter.day > to_day(as_of) - 365) & (inter.day <= to_day(as_of))
        nps = inter.score[recent & (inter.kind == 1)]
        csat = inter.score[recent & (inter.kind == 2)]
        nps_value = (
            float(((nps >= 9).mean() - (nps <= 6).mean()) * 100) if len(nps) else float("nan")
        )
        kpis += [
            Kpi("nps", "NPS, last 365 days", nps_value, "{:+.0f}", f"{len(nps):,} answers"),
            Kpi(
                "csat",
                "Mean CSAT, last 365 days",
                float(csat.mean()) if len(csat) else float("nan"),
                "{:.2f}",
                f"{len(csat):,} answers, scale 1-5",
            ),
        ]
    return kpis, notes


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def risk_distribution(scores: pd.DataFrame, cutoffs: tuple[float, float] | None) -> str:
    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.subplots()
    ax.hist(scores["churn_probability"], bins=40, color="C0")
    if cutoffs:
        for value, name in zip(cutoffs, ("high", "medium"), strict=True):
            ax.axvline(
                value,
                color="C3" if name == "high" else "C1",
                linestyle="--",
                label=f"{name} from {value:.2f}",
            )
        ax.legend()
    ax.set_xlabel("churn probability over the horizon")
    ax.set_ylabel("customers")
    ax.set_title("Churn-risk distribution")
    fig.tight_layout()
    return _png(fig)


def segment_columns(scores: pd.DataFrame) -> list[str]:
    return [c for c in SEGMENT_CANDIDATES if c in scores.columns and scores[c].nunique() <= 30]


def value_at_risk_by_segment(scores: pd.DataFrame) -> str | None:
    columns = segment_columns(scores)
    if not columns:
        return None
    fig = Figure(figsize=(3.4 * len(columns), 3.6), dpi=100)
    axes = fig.subplots(1, len(columns), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        totals = (
            scores.groupby(column, dropna=False)["value_at_risk"].sum().sort_values(ascending=False)
        )
        ax.bar([str(i) for i in totals.index], totals.to_numpy(), color="C3")
        ax.set_title(f"by {column}")
        ax.tick_params(axis="x", rotation=45)
    axes[0][0].set_ylabel("value at risk")
    fig.suptitle("Where the value at risk sits")
    fig.tight_layout()
    return _png(fig)


def calibration_plot(curve: CalibrationCurve) -> str:
    """Mean predicted probability against the observed churn rate, per decile of test score."""
    fig = Figure(figsize=(5.2, 4.2), dpi=100)
    ax = fig.subplots()
    top = max([*curve.predicted, *curve.observed, 0.01])
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfectly calibrated")
    ax.plot(curve.predicted, curve.observed, marker="o", color="C0", label="model, per decile")
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration on the test cutoff")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def gain_plot(curve: GainCurve) -> str:
    """Share of churners reached against share of customers contacted, highest score first."""
    fig = Figure(figsize=(5.2, 4.2), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", label="random order")
    ax.plot(
        np.asarray(curve.share) * 100, np.asarray(curve.reached) * 100, color="C3", label="model"
    )
    ax.set_xlabel("customers contacted, highest churn score first (%)")
    ax.set_ylabel("churners reached (%)")
    ax.set_title("Cumulative gain on the test cutoff")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def card_plots(
    cards: dict[str, ModelCard],
) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """The churn champion's calibration and gain plots, test metrics and dates, from its card.

    Returns figures, provenance facts and notes; a card or curve that is missing is a note, and
    the page renders without that plot.
    """
    card = cards.get("churn")
    if card is None:
        return (
            {},
            {},
            ["training plots unavailable: no model cards beside the scores; rerun `retain score`"],
        )
    figures: dict[str, str] = {}
    notes: list[str] = []
    if card.calibration is not None:
        figures["calibration"] = calibration_plot(card.calibration)
    else:
        notes.append(
            "calibration plot unavailable: the churn model's card has no calibration curve"
        )
    if card.gain is not None:
        figures["gain"] = gain_plot(card.gain)
    else:
        notes.append("gain plot unavailable: the churn model's card has no gain curve")
    trained = pd.Timestamp(card.trained_at)
    if trained.tzinfo is not None:
        trained = trained.tz_convert("UTC").tz_localize(None)
    info = {
        "trained": trained.strftime("%Y-%m-%d %H:%M UTC"),
        "test_cutoff": card.cutoffs.test,
        "metrics": dict(card.test_metrics),
    }
    return figures, info, notes


def gather(scores_path: Path, config: Path) -> ReportData:
    """Read the scores, the data behind them and the models' cards; compute what the page shows."""
    scores, generation = read_scores(scores_path)
    if scores.empty:
        raise DataValidationError(f"the scores table {scores_path} is empty")
    as_of = pd.Timestamp(scores["as_of"].iloc[0])
    data_config, _ = read_data_section(config)
    prep = prepare(load_data(data_config)[0]) if data_config.transactions is not None else None
    horizon = int(meta_horizon(scores_path.parent))
    observed = None
    if data_config.snapshots is not None:
        table = load_snapshots(data_config.snapshots, labels=True)
        observed = observed_in_snapshots(table, as_of, horizon)
    churn_version = str(scores["churn_model"].iloc[0])
    meta = generation.meta if generation else _score_meta(scores_path.parent)
    figures_cards, info, card_notes = card_plots(_cards(meta, scores_path.parent))
    kpis, notes = compute_kpis(
        scores,
        prep,
        as_of,
        horizon,
        contractual=bool(
            meta.get("contractual", prep is not None and prep.subscriptions is not None)
        ),
        active_days=int(meta.get("active_days", 365)),
        observed=observed,
    )
    notes += card_notes
    campaign, campaign_note = _campaign_params(scores_path.parent, generation)
    if campaign_note:
        notes.append(campaign_note)
    campaign_plan = plan(scores, campaign)
    figures = {
        "risk": risk_distribution(scores, _tier_cutoffs(scores)),
        "profit": _png(plot_curve(campaign_plan.curve, campaign)),
    }
    segments = value_at_risk_by_segment(scores)
    if segments:
        figures["segments"] = segments
    figures.update(figures_cards)
    top = scores.sort_values("value_at_risk", ascending=False, kind="stable").head(TOP_ACCOUNTS)
    if prep is not None:
        start, end = prep.date_range
    else:
        start, end = (observed.day if observed else as_of), as_of
    provenance = {
        "churn model": churn_version,
        "CLV model": str(scores["clv_model"].iloc[0]),
        "trained": info.get("trained", "n/a"),
        "test cutoff": info.get("test_cutoff", "n/a"),
        "data range": f"{start.date()} to {end.date()}",
        "scored as of": str(as_of.date()),
        "campaign economics": (
            f"offer {campaign.offer_cost:g}, contact {campaign.contact_cost:g}, "
            f"acceptance {campaign.acceptance:g}, budget {campaign.budget:,.0f}"
        ),
        "metrics": info.get("metrics", {}),
    }
    return ReportData(as_of, kpis, figures, top, provenance, notes)


def meta_horizon(folder: Path) -> int:
    """The horizon `retain score` recorded (90 days when the scores predate the record)."""
    return int(_score_meta(folder).get("horizon_days", 90))


def _score_meta(folder: Path) -> dict[str, Any]:
    """What `retain score` recorded beside the scores (horizon, active window, business, cards)."""
    path = folder / SCORE_META
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _cards(meta: dict[str, Any], folder: Path) -> dict[str, ModelCard]:
    """The models' cards `retain score` recorded; a malformed one is a clear error."""
    try:
        return {kind: ModelCard.model_validate(card) for kind, card in meta.get(CARDS, {}).items()}
    except ValidationError as err:
        raise DataValidationError(
            f"the model cards in {folder / SCORE_META} are not valid ({err}); rerun `retain score`"
        ) from None


def _tier_cutoffs(scores: pd.DataFrame) -> tuple[float, float] | None:
    if "risk_tier" not in scores:
        return None
    high = scores.loc[scores["risk_tier"] == "high", "churn_probability"]
    medium = scores.loc[scores["risk_tier"] == "medium", "churn_probability"]
    if high.empty or medium.empty:
        return None
    return float(high.min()), float(medium.min())


def _campaign_params(
    folder: Path, generation: Generation | None
) -> tuple[CampaignParams, str | None]:
    """The saved campaign settings, and a note if they were planned on other scores."""
    saved = folder / CAMPAIGN_JSON
    if not saved.exists():
        return CampaignParams(budget=float("inf")), None
    try:
        values = json.loads(saved.read_text())
        planned_on = values.pop(SCORES_GENERATION, None)
        params = CampaignParams(**values)
    except (OSError, ValueError, TypeError):
        raise DataValidationError(
            f"{saved} is unreadable (not the settings `retain campaign` writes): rerun "
            "`retain campaign`"
        ) from None
    if generation is not None and planned_on != generation.id:
        return params, (
            f"The campaign settings ({saved.name}) were planned on scores generation "
            f"{planned_on or 'unknown'}, not the current {generation.id}; the campaign shown "
            "here is recomputed on the current scores (rerun `retain campaign` to refresh "
            "campaign.csv)."
        )
    return params, None


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2433;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
.sub{color:#667}.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:.8rem}
.kpi{background:#f5f7fb;border-radius:8px;padding:.8rem 1rem}.kpi .v{font-size:1.6rem;font-weight:600}
.kpi .l{color:#556;font-size:.85rem}.kpi .n{color:#889;font-size:.75rem}
img{max-width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #e4e7ee;padding:.35rem .5rem;text-align:left}th{background:#f5f7fb}
td.num{text-align:right;font-variant-numeric:tabular-nums}.note{color:#a05a00}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
"""


def render(report: ReportData) -> str:
    """The report as one HTML document (no scripts, no external resources)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Retention report, {report.as_of.date()}</title><style>{CSS}</style></head><body>",
        f'<h1>Retention report</h1><p class="sub">Customers as of {report.as_of.date()} &middot; '
        "who is about to leave, what they are worth, whom to call first.</p>",
        '<h2 id="kpis">Headline</h2><div class="kpis">',
    ]
    for k in report.kpis:
        value = "" if k.value is None or np.isnan(k.value) else repr(float(k.value))
        parts.append(
            f'<div class="kpi" data-kpi="{e(k.key)}" data-value="{value}"><div class="v">{e(k.shown())}</div>'
            f'<div class="l">{e(k.label)}</div><div class="n">{e(k.note)}</div></div>'
        )
    parts.append("</div>")
    parts += [f'<p class="note">{e(n)}</p>' for n in report.notes]
    figs = report.figures
    parts.append('<h2 id="risk">Risk and value at risk</h2><div class="grid2">')
    parts.append(_img(figs.get("risk"), "Churn-risk distribution"))
    parts.append(_img(figs.get("profit"), "Expected campaign profit by reach"))
    parts.append("</div>")
    if "segments" in figs:
        parts.append(_img(figs["segments"], "Value at risk by segment"))
    parts.append('<h2 id="models">How far to trust the scores</h2>')
    if "calibration" in figs or "gain" in figs:
        parts.append(
            '<div class="grid2">'
            + _img(figs.get("calibration"), "Calibration on the test cutoff")
            + _img(figs.get("gain"), "Cumulative gain on the test cutoff")
            + "</div>"
        )
    else:
        parts.append('<p class="note">Training plots are not available (see the note above).</p>')
    parts.append(f'<h2 id="top">Top {len(report.top)} accounts by value at risk</h2>')
    parts.append(_top_table(report.top))
    parts.append('<h2 id="provenance">Provenance</h2><table>')
    for key, value in report.provenance.items():
        if key == "metrics":
            continue
        parts.append(f"<tr><th>{e(key)}</th><td>{e(str(value))}</td></tr>")
    parts.append("</table>")
    metrics = report.provenance.get("metrics") or {}
    if metrics:
        parts.append("<h3>Churn model test metrics</h3><table>")
        parts += [
            f'<tr><th>{e(k)}</th><td class="num" data-metric="{e(k)}">{v:.4f}</td></tr>'
            for k, v in sorted(metrics.items())
        ]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return ""
    label = html.escape(alt)
    return (
        f'<figure><img alt="{label}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{label}</figcaption></figure>"
    )


def _top_table(top: pd.DataFrame) -> str:
    e = html.escape
    reason_cols = sorted(
        {c.split("_")[1] for c in top.columns if c.startswith("reason_") and c.count("_") == 1}
    )
    segs = segment_columns(top)
    head = ["#", "customer", "churn probability", "CLV", "value at risk", "tier", "reasons", *segs]
    rows = ['<table id="top-accounts"><tr>' + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for i, r in enumerate(top.itertuples(index=False), start=1):
        d = r._asdict()
        reasons = "; ".join(
            f"{d[f'reason_{k}']} = {d[f'reason_{k}_value']} ({d[f'reason_{k}_direction']})"
            for k in reason_cols
        )
        cells = [
            f"<td>{i}</td>",
            f'<td data-customer="{e(str(d[CUSTOMER_ID]))}">{e(str(d[CUSTOMER_ID]))}</td>',
            f'<td class="num">{d["churn_probability"]:.1%}</td>',
            f'<td class="num">{d["clv"]:,.2f}</td>',
            f'<td class="num" data-value="{float(d["value_at_risk"])!r}">{d["value_at_risk"]:,.2f}</td>',
            f"<td>{e(str(d['risk_tier']))}</td>",
            f"<td>{e(reasons)}</td>",
            *[f"<td>{e(str(d[s]))}</td>" for s in segs],
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def write_report(scores_path: Path, config: Path, out: Path) -> Path:
    """Gather, render and write the report; returns its path."""
    report = gather(scores_path, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render(report)
    from serving.campaign_section import retention_paid_section  # wired properly at merge

    page = page.replace(
        '<h2 id="provenance">', retention_paid_section(config) + '<h2 id="provenance">', 1
    )
    write_atomically(out, lambda tmp: tmp.write_text(page, encoding="utf-8"), hook="report:html")
    return out
