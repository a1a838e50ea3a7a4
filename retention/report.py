"""``retain report``: one self-contained HTML page for a Chief Customer Officer, in plain words.

Headline sentences a CCO can repeat, key figures with the currency on every amount, where the
value at risk sits, what a campaign would return, the accounts at risk (``retention.at_risk``: the
rule is stated on the page) with what raises each one's risk, any extra sections the caller
passes (e.g. campaign results), how far to trust the models (with a calibration warning when the
churn card records a bias beyond the limit), a glossary and provenance. Images are inlined as base64 PNG and the
CSS is inline, so the file opens anywhere with no server and no network. Every KPI also carries
its exact value in a ``data-value`` attribute, so tests can check it against the scores table.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Sequence
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
from model.economics import Economics
from retention.at_risk import AtRisk, at_risk_accounts, risk_raising_labels, summarise_at_risk
from retention.campaign import CAMPAIGN_JSON, SCORES_GENERATION, CampaignParams, plan, plot_curve
from retention.report_words import glossary, metric_name, model_name
from serving.batch import CARDS
from serving.files import write_atomically
from serving.generation import SCORE_META, Generation, read_meta, read_scores
from serving.store import ECONOMICS

TOP_ACCOUNTS = 50
SEGMENT_CANDIDATES = ("region", "channel", "plan", "company_size", "segment")
TOP_SHARE = 0.2
"""The headline's share of customers: "the model finds X% of leavers in the top 20%"."""
BIAS_LIMIT = 0.03
"""Calibration bias (mean predicted minus observed churn) above which the report warns, when the
model card gives no limit of its own."""

Section = tuple[str, str]
"""An extra section of the report: (title, HTML body). The body is trusted HTML made by retain's
own functions (e.g. campaign results); the title is escaped."""


@dataclass
class Kpi:
    key: str
    label: str
    value: float
    fmt: str | Callable[[float], str] = "{:,.0f}"
    note: str = ""

    def shown(self) -> str:
        if self.value is None or np.isnan(self.value):
            return "n/a"
        return self.fmt(self.value) if callable(self.fmt) else self.fmt.format(self.value)


@dataclass(frozen=True)
class Headline:
    """A sentence a CCO can repeat; ``{key}`` marks a number, given in ``numbers`` as
    (exact value, shown text). Rendered with each number in ``data-headline``/``data-value``."""

    key: str
    text: str
    numbers: dict[str, tuple[float, str]]


@dataclass
class ReportData:
    """Everything the page shows, computed before any HTML is written."""

    as_of: pd.Timestamp
    kpis: list[Kpi]
    figures: dict[str, str]
    top: pd.DataFrame
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    economics: Economics = field(default_factory=Economics)
    horizon_days: int = 90
    top_reasons: list[list[str]] = field(default_factory=list)
    """Per row of ``top``: the plain labels of the reasons that raise its risk."""
    warnings: list[str] = field(default_factory=list)
    """Shown above the headlines (e.g. a calibration bias beyond the limit)."""
    extra_sections: list[Section] = field(default_factory=list)


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
    economics: Economics | None = None,
) -> tuple[list[Kpi], list[str]]:
    """Headline numbers: base size, last-horizon churn and revenue, CLV, value at risk, NPS/CSAT.

    Amounts carry ``economics``' currency; value at risk is gross profit (see
    ``model.value_at_risk``), the rest revenue.

    From a transaction log the churn rate is derived from events; from a labelled CRM export
    (``prep`` None) it is the export's own churned flag (``observed``).
    """
    notes: list[str] = []
    economics = economics or Economics()
    money = economics.money

    def cents(x: float) -> str:
        return economics.money(x, 2)

    at_risk = summarise_at_risk(scores)
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
            money,
        ),
        Kpi(
            "mean_clv",
            f"Expected spend per customer, next {horizon_days} days",
            float(scores["clv"].mean()),
            cents,
            "revenue (CLV), counting the chance of leaving",
        ),
        Kpi(
            "total_clv",
            f"Expected spend of all customers, next {horizon_days} days",
            float(scores["clv"].sum()),
            money,
            "revenue (CLV)",
        ),
        Kpi(
            "at_risk_value",
            "Gross profit at risk among accounts at risk",
            at_risk.value_at_risk,
            money,
            f"{at_risk.customers:,} medium- and high-risk customers",
        ),
        Kpi(
            "total_value_at_risk",
            "Gross profit at risk, all customers",
            float(scores["value_at_risk"].sum()),
            money,
            f"chance of leaving x value if staying x {economics.gross_margin:.0%} margin",
        ),
        Kpi(
            "high_risk_customers",
            "High-risk customers",
            float((scores["risk_tier"] == "high").sum()),
        ),
        Kpi(
            "medium_risk_customers",
            "Medium-risk customers",
            float((scores["risk_tier"] == "medium").sum()),
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


def headlines(
    scores: pd.DataFrame,
    kpis: Sequence[Kpi],
    economics: Economics,
    horizon_days: int,
    churn_card: ModelCard | None,
) -> list[Headline]:
    """The sentences at the top of the report, each number from the scores table or the card.

    Gross profit at risk among the accounts at risk; the share of leavers the model finds in its
    top 20% (the churn card's gain curve on the test period); the high-risk count; last period's
    churn rate when the data gives one.
    """
    days = f"{horizon_days} days"
    at_risk: AtRisk = summarise_at_risk(scores)
    out = [
        Headline(
            "at_risk",
            f"{{at_risk_value}} of gross profit is at risk over the next {days} among "
            "{at_risk_customers} medium- and high-risk customers.",
            {
                "at_risk_value": (at_risk.value_at_risk, economics.money(at_risk.value_at_risk)),
                "at_risk_customers": (float(at_risk.customers), f"{at_risk.customers:,}"),
            },
        )
    ]
    gain = churn_card.gain if churn_card is not None else None
    if gain is not None and len(gain.share) > 1:
        found = float(np.interp(TOP_SHARE, gain.share, gain.reached))
        ceiling = ""
        curve = churn_card.calibration if churn_card is not None else None
        if curve is not None and curve.observed:
            rate = float(np.mean(curve.observed))  # deciles of equal size: the test churn rate
            if rate > 0 and TOP_SHARE / rate < 0.95:
                ceiling = (
                    f"; as about {rate:.0%} left, no ranking could find more than about "
                    f"{TOP_SHARE / rate:.0%} there"
                )
        out.append(
            Headline(
                "capture",
                f"The model finds {{capture_top}} of the customers who leave within {days} among "
                f"the {TOP_SHARE:.0%} of customers it scores highest (checked on the test period "
                f"after {churn_card.cutoffs.test if churn_card else ''}{ceiling}).",
                {"capture_top": (found, f"{found:.0%}")},
            )
        )
    high = int((scores["risk_tier"] == "high").sum())
    share = high / len(scores) if len(scores) else float("nan")
    out.append(
        Headline(
            "high_risk",
            f"{{high_risk_customers}} customers ({{high_risk_share}} of the active base) are at "
            f"high risk of leaving in the next {days}.",
            {
                "high_risk_customers": (float(high), f"{high:,}"),
                "high_risk_share": (share, f"{share:.0%}"),
            },
        )
    )
    churn = next((k for k in kpis if k.key == "churn_rate"), None)
    if churn is not None and np.isfinite(churn.value):
        out.append(
            Headline(
                "churn_rate",
                f"In the last {days}, {{churn_rate}} of customers left ({churn.note}).",
                {"churn_rate": (churn.value, f"{churn.value:.1%}")},
            )
        )
    return out


def calibration_warning(card: object | None) -> str | None:
    """The warning for a churn model whose calibration bias on the test period is beyond the limit.

    Reads the card's ``calibration_bias`` when training recorded one: a number (mean predicted
    minus observed churn rate), or a record with ``bias`` and optionally ``limit``,
    ``mean_predicted``, ``observed``. No field, or a bias within the limit: no warning.
    """
    raw = getattr(card, "calibration_bias", None) if card is not None else None
    if raw is None:
        return None
    if isinstance(raw, (int, float)):
        bias, limit, predicted, observed = float(raw), BIAS_LIMIT, None, None
    else:

        def get(key: str) -> Any:
            return raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)

        bias, predicted, observed = get("bias"), get("mean_predicted"), get("observed")
        limit = get("limit") if get("limit") is not None else BIAS_LIMIT
    if bias is None or not np.isfinite(bias) or abs(bias) <= limit:
        return None
    over = bias > 0
    measured = (
        f" (predicted {predicted:.1%} on average against {observed:.1%} observed)"
        if predicted is not None and observed is not None
        else ""
    )
    return (
        f"Calibration warning: on the test period the churn model "
        f"{'over' if over else 'under'}-predicted leaving by {abs(bias) * 100:.1f} points"
        f"{measured}, beyond the {limit * 100:.0f}-point limit. Read the chances of leaving and "
        f"the value at risk as {'too high' if over else 'too low'}; the ranking of customers is "
        "still usable."
    )


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


def value_at_risk_by_segment(scores: pd.DataFrame, currency: str = "") -> str | None:
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
    axes[0][0].set_ylabel(f"gross profit at risk ({currency})" if currency else "value at risk")
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


def gather(scores_path: Path, config: Path, extra_sections: Sequence[Section] = ()) -> ReportData:
    """Read the scores, the data behind them and the models' cards; compute what the page shows.

    ``extra_sections`` (title, HTML) are shown after the accounts at risk, in order.
    """
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
    economics = Economics.model_validate(meta.get(ECONOMICS) or {})
    cards = _cards(meta, scores_path.parent)
    figures_cards, info, card_notes = card_plots(cards)
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
        economics=economics,
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
    segments = value_at_risk_by_segment(scores, economics.currency)
    if segments:
        figures["segments"] = segments
    figures.update(figures_cards)
    top = at_risk_accounts(scores, TOP_ACCOUNTS)
    money = economics.money
    if prep is not None:
        start, end = prep.date_range
    else:
        start, end = (observed.day if observed else as_of), as_of

    def described(kind: str, version: str) -> str:
        card = cards.get(kind)
        return f"{model_name(card.model)} ({version})" if card is not None else version

    provenance = {
        "churn model": described("churn", churn_version),
        "CLV model": described("clv", str(scores["clv_model"].iloc[0])),
        "trained": info.get("trained", "n/a"),
        "test cutoff": info.get("test_cutoff", "n/a"),
        "data range": f"{start.date()} to {end.date()}",
        "scored as of": str(as_of.date()),
        "economics": (
            f"amounts in {economics.currency}; gross margin {economics.gross_margin:.0%}"
        ),
        "campaign economics": (
            f"offer {money(campaign.offer_cost, 2)}, contact {money(campaign.contact_cost, 2)}, "
            f"acceptance {campaign.acceptance:.0%}, budget "
            + ("none" if not np.isfinite(campaign.budget) else money(campaign.budget))
        ),
        "metrics": info.get("metrics", {}),
    }
    warning = calibration_warning(cards.get("churn"))
    return ReportData(
        as_of,
        kpis,
        figures,
        top,
        provenance,
        notes,
        headlines=headlines(scores, kpis, economics, horizon, cards.get("churn")),
        economics=economics,
        horizon_days=horizon,
        top_reasons=risk_raising_labels(top, money),
        warnings=[warning] if warning else [],
        extra_sections=list(extra_sections),
    )


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
ul.headlines{font-size:1.15rem;line-height:1.6;padding-left:1.2rem}
ul.headlines strong{color:#b3261e}
.warning{background:#fff4e5;border-left:4px solid #e08600;padding:.6rem .9rem;color:#6b3d00}
img{max-width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #e4e7ee;padding:.35rem .5rem;text-align:left}th{background:#f5f7fb}
td.num{text-align:right;font-variant-numeric:tabular-nums}.note{color:#a05a00}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
dl.glossary dt{font-weight:600;margin-top:.6rem}dl.glossary dd{margin-left:1.2rem;color:#334}
"""


def render(report: ReportData) -> str:
    """The report as one HTML document (no scripts, no external resources)."""
    e = html.escape
    eco = report.economics
    days = report.horizon_days
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Retention report, {report.as_of.date()}</title><style>{CSS}</style></head><body>",
        f'<h1>Retention report</h1><p class="sub">Customers as of {report.as_of.date()} &middot; '
        f"who is likely to leave in the next {days} days, what it would cost, whom to call "
        f"first &middot; amounts in {e(eco.currency)}, profit at a {eco.gross_margin:.0%} gross "
        "margin.</p>",
    ]
    parts += [f'<p class="warning" id="calibration-warning">{e(w)}</p>' for w in report.warnings]
    parts.append('<h2 id="headlines">In brief</h2><ul class="headlines">')
    parts += [f'<li data-sentence="{e(h.key)}">{_sentence(h)}</li>' for h in report.headlines]
    parts.append("</ul>")
    parts.append('<h2 id="kpis">Key figures</h2><div class="kpis">')
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
    parts.append(f'<h2 id="top">Accounts at risk: the {len(report.top)} to call first</h2>')
    parts.append(
        '<p class="rule">The rule: customers at <b>medium or high risk</b> of leaving, ranked by '
        "<b>value at risk</b> (the gross profit lost if they leave, times the chance that they "
        "do). Low-risk customers are left out however valuable. Beside each, what raises that "
        "customer's risk the most.</p>"
    )
    parts.append(_top_table(report.top, report.top_reasons, eco))
    for title, body in report.extra_sections:
        parts.append(f'<h2 id="{e(_slug(title))}">{e(title)}</h2>{body}')
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
    metrics = report.provenance.get("metrics") or {}
    if metrics:
        parts.append("<h3>Churn model on the test period</h3><table>")
        parts += [
            f'<tr><th>{e(metric_name(k))}</th><td class="num" data-metric="{e(k)}">{v:.4f}</td></tr>'
            for k, v in sorted(metrics.items())
        ]
        parts.append("</table>")
    parts.append('<h2 id="glossary">Glossary</h2><dl class="glossary">')
    for term, meaning in glossary(days, eco.gross_margin, eco.currency):
        parts.append(f"<dt>{e(term)}</dt><dd>{e(meaning)}</dd>")
    parts.append("</dl>")
    parts.append('<h2 id="provenance">Provenance</h2><table>')
    for key, value in report.provenance.items():
        if key == "metrics":
            continue
        parts.append(f"<tr><th>{e(key)}</th><td>{e(str(value))}</td></tr>")
    parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _sentence(headline: Headline) -> str:
    """A headline's text, escaped, with each number as ``<strong data-headline data-value>``."""
    out = html.escape(headline.text)
    for key, (value, shown) in headline.numbers.items():
        exact = repr(float(value)) if np.isfinite(value) else ""
        out = out.replace(
            "{" + key + "}",
            f'<strong data-headline="{html.escape(key)}" data-value="{exact}">'
            f"{html.escape(shown)}</strong>",
        )
    return out


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-") or "section"


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return ""
    label = html.escape(alt)
    return (
        f'<figure><img alt="{label}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{label}</figcaption></figure>"
    )


def _top_table(top: pd.DataFrame, reasons: list[list[str]], economics: Economics) -> str:
    e = html.escape
    money = economics.money
    segs = segment_columns(top)
    head = [
        "#",
        "customer",
        "risk",
        "chance of leaving",
        "value if staying",
        "value at risk (gross profit)",
        "what raises the risk",
        *segs,
    ]
    rows = ['<table id="top-accounts"><tr>' + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for i, (r, why) in enumerate(zip(top.to_dict("records"), reasons, strict=True), start=1):
        staying = r.get("value_if_staying", float("nan"))
        cells = [
            f"<td>{i}</td>",
            f'<td data-customer="{e(str(r[CUSTOMER_ID]))}">{e(str(r[CUSTOMER_ID]))}</td>',
            f"<td>{e(str(r['risk_tier']))}</td>",
            f'<td class="num">{r["churn_probability"]:.0%}</td>',
            f'<td class="num">{e(money(staying, 2))}</td>',
            f'<td class="num" data-value="{float(r["value_at_risk"])!r}">'
            f"{e(money(r['value_at_risk'], 2))}</td>",
            f"<td>{e('; '.join(why) if why else 'no single fact stands out')}</td>",
            *[f"<td>{e(str(r[s]))}</td>" for s in segs],
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def write_report(
    scores_path: Path, config: Path, out: Path, extra_sections: Sequence[Section] | None = None
) -> Path:
    """Gather, render and write the report; returns its path.

    ``extra_sections`` are (title, HTML body) pairs shown after the accounts at risk; by default
    the campaigns' measured results and, when an uplift model was scored, its Qini curves.
    """
    sections = default_sections(scores_path, config) if extra_sections is None else extra_sections
    report = gather(scores_path, config, sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render(report)
    write_atomically(out, lambda tmp: tmp.write_text(page, encoding="utf-8"), hook="report:html")
    return out


def default_sections(scores_path: Path, config: Path) -> list[Section]:
    """ "Did retention pay?" (every campaign with a control group, measured) and the uplift
    model's Qini curves when the scores carry an uplift model's card."""
    from retention import campaign_section, uplift_report
    from serving.uplift_store import UPLIFT_CARD

    sections: list[Section] = [
        (campaign_section.TITLE, campaign_section.retention_paid_section(config))
    ]
    card = (read_meta(scores_path.parent) or {}).get(UPLIFT_CARD)
    body = uplift_report.qini_section(card) if isinstance(card, dict) else ""
    if body:
        sections.append((uplift_report.TITLE, body))
    return sections
