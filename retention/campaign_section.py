"""The report's "Did retention pay?" section: every campaign's measured effect, as an HTML fragment.

Per campaign: the incremental retained customers and revenue with their 95% intervals, the ROI,
and a small plot of the two arms (retention rate and revenue per customer, with 95% error bars).
A campaign whose horizon has not passed is marked "so far"; one that cannot be measured yet says
why. The fragment is self-contained (inline PNG), like the rest of the report.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

from matplotlib.figure import Figure
from scipy import stats

from core.errors import RetainError
from retention.campaign_results import (
    Z95,
    ArmSummary,
    CampaignData,
    CampaignResults,
    measure_campaign,
)
from retention.ledger import Ledger

TITLE = "Did retention pay?"
"""The section's heading; the report renders it (``retention.report.write_report``)."""


def measure_all(config: Path, ledger: Ledger) -> tuple[list[CampaignResults], list[str]]:
    """Results of every campaign of the ledger and of the config's treatment data, and a note for
    each that cannot be measured (yet), with the reason."""
    inputs = CampaignData(config)
    ids = [c.campaign_id for c in ledger.campaigns()]
    ids += [i for i in inputs.treatments["campaign_id"].unique() if i not in ids]
    results, notes = [], []
    for campaign_id in ids:
        try:
            results.append(measure_campaign(campaign_id, inputs, ledger))
        except RetainError as err:
            notes.append(f"{campaign_id}: not measured: {err}")
    return results, notes


def _arm_interval(arm: ArmSummary) -> tuple[float, float]:
    """Half-widths of the 95% intervals of an arm's retention rate (Wald) and mean revenue (t)."""
    rate = Z95 * math.sqrt(arm.retention_rate * (1 - arm.retention_rate) / arm.customers)
    t = float(stats.t.ppf(0.975, arm.customers - 1)) if arm.customers > 1 else math.nan
    return rate, t * arm.revenue_sd / math.sqrt(arm.customers)


def arms_figure(result: CampaignResults) -> Figure:
    """Two small panels: retention rate and revenue per customer of each arm, with 95% bars."""
    arms = [("treatment", result.treatment), ("control", result.control)]
    has_revenue = not math.isnan(result.treatment.revenue_per_customer)
    fig = Figure(figsize=(6.0 if has_revenue else 3.2, 2.6), dpi=100)
    axes = fig.subplots(1, 2 if has_revenue else 1, squeeze=False)[0]
    names = [name for name, _ in arms]
    colors = ["C0", "C7"]
    rates = [a.retention_rate * 100 for _, a in arms]
    errors = [_arm_interval(a) for _, a in arms]
    axes[0].bar(names, rates, yerr=[e[0] * 100 for e in errors], color=colors, capsize=6)
    axes[0].set_ylabel("retained (%)")
    window = (
        f"within {result.horizon_days} days"
        if result.mature
        else f"so far ({result.days_observed} of {result.horizon_days} days)"
    )
    axes[0].set_title(f"Retained {window}", fontsize=9)
    if has_revenue:
        revenue = [a.revenue_per_customer for _, a in arms]
        axes[1].bar(names, revenue, yerr=[e[1] for e in errors], color=colors, capsize=6)
        axes[1].set_ylabel(f"revenue per customer ({result.economics.currency})")
        axes[1].set_title("Revenue per customer", fontsize=9)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def retention_paid_html(results: list[CampaignResults], notes: list[str] | None = None) -> str:
    """The body of the "Did retention pay?" section (the report adds the ``TITLE`` heading)."""
    e = html.escape
    parts: list[str] = []
    if not results:
        parts.append(
            "<p>No campaign with a control group has outcomes yet. <code>retain campaign</code> "
            "holds out a random control group and records the campaign; "
            "<code>retain campaign-results</code> measures it once customers have had time to "
            "stay or leave.</p>"
        )
    for r in results:
        money = r.economics.money
        has_revenue = not math.isnan(r.treatment.revenue_per_customer)
        badge = (
            f' <span class="note">so far: {r.days_observed} of {r.horizon_days} days</span>'
            if not r.mature
            else ""
        )
        parts.append(
            f'<section data-campaign="{e(r.campaign_id)}" data-mature="{str(r.mature).lower()}">'
            f"<h3>{e(r.campaign_id)}{badge}</h3>"
            f'<p class="sub">{e(r.source)}; contacted {e(r.contacted_on)}; '
            f"{r.treatment.customers:,} contacted, {r.control.customers:,} held out as control; "
            f"outcomes {e(r.window)}.</p><table>"
        )
        rows = [
            (
                "incremental retained customers",
                r.incremental_customers.estimate,
                r.incremental_customers.show("{:+,.1f}".format),
            ),
            (
                "retention, contacted vs control",
                r.retention_lift.estimate,
                f"{r.treatment.retention_rate:.1%} vs {r.control.retention_rate:.1%}",
            ),
        ]
        if has_revenue:
            rows += [
                (
                    "incremental revenue",
                    r.incremental_revenue.estimate,
                    r.incremental_revenue.show(money),
                ),
                (
                    f"incremental profit at {r.economics.gross_margin:.0%} margin, net of "
                    f"{money(r.cost)} costs",
                    r.incremental_profit.estimate,
                    r.incremental_profit.show(money),
                ),
                (
                    "return on the campaign's cost",
                    r.roi.estimate,
                    r.roi.show(lambda v: f"{v:+.0%}"),
                ),
            ]
        for label, value, shown in rows:
            parts.append(
                f'<tr><th>{e(label)}</th><td class="num" data-value="{value!r}">{e(shown)}</td></tr>'
            )
        parts.append("</table>")
        verdict = next((line for line in r.lines() if line.startswith("verdict:")), "")
        parts.append(f"<p>{e(verdict.removeprefix('verdict: ').capitalize())}.</p>")
        b64 = _png(arms_figure(r))
        parts.append(
            f'<figure><img alt="Retention and revenue of the two arms of {e(r.campaign_id)}" '
            f'src="data:image/png;base64,{b64}"><figcaption>Bars: 95% confidence intervals.'
            "</figcaption></figure></section>"
        )
    parts += [f'<p class="note">{e(n)}</p>' for n in notes or []]
    return "\n".join(parts)


def retention_paid_section(config: Path, ledger: Ledger | None = None) -> str:
    """Measure every campaign and render the section (what ``retention.report`` includes)."""
    results, notes = measure_all(config, ledger or Ledger())
    return retention_paid_html(results, notes)


__all__ = ["TITLE", "arms_figure", "measure_all", "retention_paid_html", "retention_paid_section"]
