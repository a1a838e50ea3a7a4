"""The report's figures, computed before anything is drawn or rendered: tables in, numbers out.

Key figures, the headline sentences, the accounts at risk with what raises each one's risk, the
campaign the page shows, the calibration warning and provenance: pure functions of the scores
table, the prepared data and the models' cards, which ``retention.report`` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from core.economics import Economics
from core.risk_tiers import RiskTiers, percent
from core.schema import AS_OF, FUTURE_VALUE
from features.labelled import CHURN, LabelledTable
from features.labels import make_labels
from features.prepare import PreparedData, to_day
from model.card import ModelCard
from retention.at_risk import AtRisk, risk_raising_labels, summarise_at_risk
from retention.campaign import (
    CampaignParams,
    CampaignPlan,
    contact_list,
    customers,
    plan,
    ranking,
)
from retention.report_words import model_name

TOP_ACCOUNTS = 50
SEGMENT_CANDIDATES = ("region", "channel", "plan", "company_size", "segment")
TOP_SHARE = 0.2
"""The headline's share of customers: "the model finds X% of leavers in the top 20%"."""
BIAS_LIMIT = 0.03
"""Calibration bias (mean predicted minus observed churn) above which the report warns, when the
model card gives no limit of its own."""


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
    risk_tiers: RiskTiers | None = None,
) -> tuple[list[Kpi], list[str]]:
    """Headline numbers: base size, last-horizon churn and revenue, CLV, value at risk, NPS/CSAT.

    Amounts carry ``economics``' currency; value at risk is gross profit (see
    ``model.value_at_risk``), the rest revenue.

    From a transaction log the churn rate is derived from events; from a labelled CRM export
    (``prep`` None) it is the export's own churned flag (``observed``).
    """
    notes: list[str] = []
    economics = economics or Economics()
    tiers = risk_tiers or RiskTiers()
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
            note=f"chance of leaving {percent(tiers.high)} or more",
        ),
        Kpi(
            "medium_risk_customers",
            "Medium-risk customers",
            float((scores["risk_tier"] == "medium").sum()),
            note=f"chance of leaving {percent(tiers.medium)} to under {percent(tiers.high)}",
        ),
    ]
    kpis, value_note = churn_only_kpis(scores, kpis, economics)
    if value_note:
        notes.append(value_note)
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


def churn_only_kpis(
    scores: pd.DataFrame, kpis: list[Kpi], economics: Economics
) -> tuple[list[Kpi], str | None]:
    """The KPIs a churn-only package can state: no CLV figures without a CLV model, no value
    figures when value is unknown (never "n/a" or an invented amount); and the note saying so."""
    has_clv = "clv" in scores and bool(scores["clv"].notna().any())
    has_value = "value_at_risk" in scores and bool(scores["value_at_risk"].notna().any())
    # a CRM export has no transactions: no revenue figure rather than "n/a"
    kpis = [k for k in kpis if not (k.key == "revenue_existing" and np.isnan(k.value))]
    if has_clv:
        return kpis, None
    dropped = {"mean_clv", "total_clv"} | (set() if has_value else VALUE_KPIS)
    kept = [k for k in kpis if k.key not in dropped]
    if has_value:
        kept = [
            replace(
                k,
                note=f"chance of leaving x recurring charge over the horizon x "
                f"{economics.gross_margin:.0%} margin (no CLV model)",
            )
            if k.key == "total_value_at_risk"
            else k
            for k in kept
        ]
        return kept, (
            "value at risk is churn probability x the recurring charge x the months of the "
            "horizon x gross margin (economics.recurring_charge): the package has no CLV model"
        )
    return kept, (
        "value unknown: the package has no CLV model and the config names no recurring charge "
        "(economics.recurring_charge), so accounts are ranked by churn risk and no amount at "
        "risk is shown"
    )


VALUE_KPIS = {"at_risk_value", "total_value_at_risk"}
"""The KPIs that need a value per customer (a CLV model or a recurring charge)."""


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
            "{at_risk_customers} medium- and high-risk customers could leave in the next "
            f"{days}; their value is unknown (no CLV model, no recurring charge).",
            {"at_risk_customers": (float(at_risk.customers), f"{at_risk.customers:,}")},
        )
        if not np.isfinite(at_risk.value_at_risk)
        else Headline(
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


def segment_columns(scores: pd.DataFrame) -> list[str]:
    return [c for c in SEGMENT_CANDIDATES if c in scores.columns and scores[c].nunique() <= 30]


def card_info(card: ModelCard | None) -> dict[str, Any]:
    """When the churn champion was trained, its test cutoff and test metrics (empty without one)."""
    if card is None:
        return {}
    trained = pd.Timestamp(card.trained_at)
    if trained.tzinfo is not None:
        trained = trained.tz_convert("UTC").tz_localize(None)
    return {
        "trained": trained.strftime("%Y-%m-%d %H:%M UTC"),
        "test_cutoff": card.cutoffs.test,
        "metrics": dict(card.test_metrics),
    }


def card_notes(card: ModelCard | None) -> list[str]:
    """What the page says when the churn champion's card or one of its curves is missing."""
    if card is None:
        return [
            "training plots unavailable: no model cards beside the scores; rerun `retain score`"
        ]
    notes: list[str] = []
    if card.calibration is None:
        notes.append(
            "calibration plot unavailable: the churn model's card has no calibration curve"
        )
    if card.gain is None:
        notes.append("gain plot unavailable: the churn model's card has no gain curve")
    return notes


@dataclass(frozen=True)
class ReportInputs:
    """What the report is computed from, as ``retention.report`` reads it beside the scores."""

    scores: pd.DataFrame
    as_of: pd.Timestamp
    prep: PreparedData | None
    """The transaction log, prepared (None for a labelled CRM export)."""
    observed: ObservedChurn | None
    horizon_days: int
    contractual: bool
    active_days: int
    economics: Economics
    cards: dict[str, ModelCard]
    campaign: CampaignParams
    campaign_note: str | None = None
    risk_tiers: RiskTiers = field(default_factory=RiskTiers)
    """The tiers recorded with the scored models (``risk_tier`` follows them)."""
    campaign_id: str | None = None
    """The latest campaign planned on these scores' folder; None: none was."""
    contact_list: pd.DataFrame | None = None
    """That campaign's recorded contact list (``campaign.csv``), when it is there to read."""


@dataclass(frozen=True)
class ReportFigures:
    """Every number and table the page shows, before any chart is drawn or HTML written."""

    as_of: pd.Timestamp
    kpis: list[Kpi]
    headlines: list[Headline]
    notes: list[str]
    warnings: list[str]
    top: pd.DataFrame
    top_reasons: list[list[str]]
    """Per row of ``top``: the plain labels of the reasons that raise its risk."""
    provenance: dict[str, Any]
    economics: Economics
    horizon_days: int
    campaign: CampaignParams
    campaign_curve: pd.DataFrame
    """The expected profit curve of the campaign the page shows."""
    risk_tiers: RiskTiers
    call_title: str
    """The heading of ``top``: whose list it is."""
    call_rule: str
    """How ``top`` was decided, in words (the campaign's rule, and who it leaves out)."""


def report_figures(inputs: ReportInputs) -> ReportFigures:
    """Compute the page's figures from its inputs: KPIs, headlines, accounts, campaign, provenance."""
    scores, as_of, prep, economics = inputs.scores, inputs.as_of, inputs.prep, inputs.economics
    churn_card = inputs.cards.get("churn")
    info = card_info(churn_card)
    kpis, notes = compute_kpis(
        scores,
        prep,
        as_of,
        inputs.horizon_days,
        contractual=inputs.contractual,
        active_days=inputs.active_days,
        observed=inputs.observed,
        economics=economics,
        risk_tiers=inputs.risk_tiers,
    )
    notes += card_notes(churn_card)
    if inputs.campaign_note:
        notes.append(inputs.campaign_note)
    campaign = inputs.campaign
    campaign_plan = plan(scores, campaign)
    top, call_title, call_rule = call_list(inputs, campaign_plan)
    money = economics.money
    if prep is not None:
        start, end = prep.date_range
    else:
        start, end = (inputs.observed.day if inputs.observed else as_of), as_of

    def described(kind: str, version: str) -> str:
        card = inputs.cards.get(kind)
        return f"{model_name(card.model)} ({version})" if card is not None else version

    provenance = {
        "churn model": described("churn", str(scores["churn_model"].iloc[0])),
        "CLV model": described("clv", str(scores["clv_model"].iloc[0]) or "none (churn only)"),
        "trained": info.get("trained", "n/a"),
        "test cutoff": info.get("test_cutoff", "n/a"),
        "data range": f"{start.date()} to {end.date()}",
        "scored as of": str(as_of.date()),
        "economics": (
            f"amounts in {economics.currency}; gross margin {economics.gross_margin:.0%}"
        ),
        "risk tiers": f"{inputs.risk_tiers.words()} (recorded with the scored models)",
        "campaign economics": (
            f"offer {money(campaign.offer_cost, 2)}, contact {money(campaign.contact_cost, 2)}, "
            f"acceptance {campaign.acceptance:.0%}, budget "
            + ("none" if not np.isfinite(campaign.budget) else money(campaign.budget))
        ),
        "metrics": info.get("metrics", {}),
    }
    warning = calibration_warning(churn_card)
    return ReportFigures(
        as_of=as_of,
        kpis=kpis,
        headlines=headlines(scores, kpis, economics, inputs.horizon_days, churn_card),
        notes=notes,
        warnings=[warning] if warning else [],
        top=top,
        top_reasons=risk_raising_labels(top, money),
        provenance=provenance,
        economics=economics,
        horizon_days=inputs.horizon_days,
        campaign=campaign,
        campaign_curve=campaign_plan.curve,
        risk_tiers=inputs.risk_tiers,
        call_title=call_title,
        call_rule=call_rule,
    )


def call_list(inputs: ReportInputs, planned: CampaignPlan) -> tuple[pd.DataFrame, str, str]:
    """Whom the page says to call first, its heading and its rule: the latest campaign's contact
    list as recorded (what the CRM was sent, in its order), else the order ``retain campaign``
    would contact in (``planned``: the same ``plan``), so the page never contradicts a campaign.
    """
    rule = (
        f"ranked by {planned.policy}: expected gain of the contact per unit spent, highest "
        "first; a customer whose expected gain is not positive is "
        + (
            "contacted only after all others (--include-negative)"
            if planned.params.include_negative
            else "never contacted"
        )
    )
    left = "; ".join(f"{customers(n)} {why}" for why, n in planned.left_out.items())
    if inputs.campaign_id is not None:
        listed = (
            inputs.contact_list
            if inputs.contact_list is not None
            else contact_list(planned).assign(campaign_id=inputs.campaign_id)
        )
        top = listed.head(TOP_ACCOUNTS)
        return (
            top,
            f"The {len(top)} to call first: campaign {inputs.campaign_id}",
            f"The contact list of campaign {inputs.campaign_id} as sent to the CRM (campaign.csv: "
            f"the treatment arm, {len(listed):,} customers, the control group held out), in its "
            f"order: {rule}.",
        )
    top = ranking(planned).head(TOP_ACCOUNTS)
    return (
        top,
        f"The {len(top)} to call first",
        "No campaign has been planned on these scores yet: these are the customers "
        f"`retain campaign` would contact first, in its order, before its budget and control "
        f"group: {rule}." + (f" Left out: {left}." if left else ""),
    )
