"""The report's page: its figures and charts in, one self-contained HTML document out.

Headline sentences a CCO can repeat, key figures with the currency on every amount, where the
value at risk sits, what a campaign would return, whom to call first (the campaign's contact list
or its order, ``retention.report_figures.call_list``: the rule is stated on the page) with what
raises each one's risk, any extra sections the caller
passes (e.g. campaign results), how far to trust the models (with a calibration warning when the
churn card records a bias beyond the limit), a glossary and provenance. Images are inlined as
base64 PNG and the CSS is inline, so the file opens anywhere with no server and no network. Every
KPI also carries its exact value in a ``data-value`` attribute, so tests can check it against the
scores table.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.economics import Economics
from core.risk_tiers import RiskTiers
from core.schema import CUSTOMER_ID
from model.uplift_bundle import UPLIFT
from retention.report_figures import Headline, Kpi
from retention.report_words import glossary, metric_name

Section = tuple[str, str]
"""An extra section of the report: (title, HTML body). The body is trusted HTML made by retain's
own functions (e.g. campaign results); the title is escaped."""


@dataclass
class ReportData:
    """Everything the page shows: the report's figures, its charts (``figures``: base64 PNGs by
    name) and extra sections, gathered before any HTML is written."""

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
    risk_tiers: RiskTiers = field(default_factory=RiskTiers)
    call_title: str = "The customers to call first"
    call_rule: str = ""
    """How ``top`` was decided (the campaign's rule), shown above it."""


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
    parts.append(f'<h2 id="top">{e(report.call_title)}</h2>')
    parts.append(
        f'<p class="rule">{e(report.call_rule)} Risk tiers: {e(report.risk_tiers.words())}. '
        "Beside each customer, what raises their risk the most.</p>"
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
    for term, meaning in glossary(days, eco.gross_margin, eco.currency, report.risk_tiers):
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
    """The call list: campaign rank, customer, tier, the figures its decision used, reasons."""
    e = html.escape
    money = economics.money
    effect = UPLIFT in top
    head = [
        "#",
        "customer",
        "risk",
        "chance of leaving",
        "expected spend (CLV)",
        "expected gain of the contact",
        "what raises the risk",
        *(["offer's effect on the chance of leaving"] if effect else []),
    ]
    rows = ['<table id="top-accounts"><tr>' + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    for r, why in zip(top.to_dict("records"), reasons, strict=True):

        def number(name: str, shown: str, row: dict[str, Any] = r) -> str:
            exact = float(row[name])
            value = repr(exact) if np.isfinite(exact) else ""
            return f'<td class="num" data-field="{name}" data-value="{value}">{e(shown)}</td>'

        cells = [
            f'<td data-rank="{int(r["rank"])}">{int(r["rank"])}</td>',
            f'<td data-customer="{e(str(r[CUSTOMER_ID]))}">{e(str(r[CUSTOMER_ID]))}</td>',
            f"<td>{e(str(r.get('risk_tier', '')))}</td>",
            number("churn_probability", f"{r['churn_probability']:.0%}"),
            number("clv", _amount(money, r["clv"])),
            number("expected_gain", _amount(money, r["expected_gain"])),
            f"<td>{e('; '.join(why) if why else 'no single fact stands out')}</td>",
        ]
        if effect:
            cells.append(number(UPLIFT, f"{-float(r[UPLIFT]) * 100:+.1f} pts"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _amount(money: Callable[..., str], value: Any) -> str:
    """An amount with its currency, or "unknown" when the package values no customer."""
    value = float(value)
    return money(value, 2) if np.isfinite(value) else "unknown"
