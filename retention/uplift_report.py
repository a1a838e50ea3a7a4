"""The report's uplift section: does targeting by the offer's effect beat targeting by risk?

``qini_section(card)`` returns an HTML fragment (a heading, two plain sentences and the Qini plot
inlined as a base64 PNG) from the uplift model's card (``model.uplift_bundle.UpliftBundle.card``),
which keeps the Qini curves of the uplift model, the churn-risk policy and random targeting on the
held-out customers of past campaigns. The report places it; nothing here reads files.

A card written since the targeting policies compete (``training.uplift_eval``, its ``policy``
section) gets the competition instead: every policy's Qini curve in one plot, a table of each
policy's held-out Qini, AUUC and incremental profit at the budget with intervals, which policy
the campaign uses and why, and a warning when the intervals overlap too much to separate them
(``separation``).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from core.names import CHURN_RISK, RANDOM, plain_name
from model.uplift_plot import qini_figure

TITLE = "Who does the offer move?"
"""The section's heading; the report renders it (``retention.report.write_report``)."""
SHARE = 0.2
"""The share of customers the section's headline compares the two rankings at."""


def _at(curve: list[float], share: float) -> float:
    """The curve's height (incremental retained customers, share of all) at ``share``."""
    return float(curve[round(share * (len(curve) - 1))])


def qini_section(card: dict[str, Any]) -> str:
    """The uplift section's body (the report adds ``TITLE``), or "" when the card has no Qini curves."""
    if isinstance(card.get("policy"), dict) and card.get("qini_curves"):
        return policy_section(card)
    curves: dict[str, list[float]] = card.get("qini_curves") or {}
    learners = [n for n in curves if n not in (CHURN_RISK, RANDOM)]
    if not learners or CHURN_RISK not in curves:
        return ""
    learner = learners[0]
    model_gain = _at(curves[learner], SHARE) * 100
    risk_gain = _at(curves["churn_risk"], SHARE) * 100
    e = html.escape
    rows = card.get("test_rows")
    customers = f" {rows:,}" if isinstance(rows, int) else ""
    campaigns = ", ".join(f"{k} ({v})" for k, v in (card.get("campaigns") or {}).items())
    better = model_gain > risk_gain
    headline = (
        f"Offering the top {SHARE:.0%} chosen by the uplift model keeps {model_gain:.1f} more "
        f"customers per 100 in the base than no offer; the top {SHARE:.0%} by churn risk keeps "
        f"{risk_gain:.1f}."
    )
    plain = (
        "The uplift model finds the customers the offer actually moves."
        if better
        else "On these campaigns the uplift model does not beat targeting by churn risk: keep "
        "control groups so it can learn more."
    )
    fig = qini_figure(
        {name: curves[name] for name in (learner, CHURN_RISK, RANDOM) if name in curves},
        title="Who does the offer move?",
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    b64 = base64.b64encode(buffer.getvalue()).decode()
    alt = (
        f"Qini curves: customers retained by the offer against the share offered, for the "
        f"{plain_name(learner)}, churn-risk order and random order"
    )
    return "\n".join(
        [
            '<section class="uplift">',
            f"<p><strong>{e(headline)}</strong> {e(plain)}</p>",
            f"<p>Measured on{customers} customers of past randomized campaigns the model did not "
            f"train on{': ' + e(campaigns) if campaigns else ''}. A curve above the dotted line "
            "finds more customers who stay <em>because of</em> the offer than choosing at random; "
            "customers the offer drives away (\u201csleeping dogs\u201d) pull a curve down.</p>",
            f'<figure><img alt="{e(alt)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{e(alt)}</figcaption></figure>",
            "</section>",
        ]
    )


FIGURES = (("qini", "Qini", ".4f"), ("auuc", "AUUC", ".4f"), ("profit_at_budget", "profit", ",.0f"))
"""The columns of the policy table: figure key, heading, format."""


def _interval(row: dict[str, Any], metric: str) -> tuple[float, float] | None:
    low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
    return None if low is None or high is None else (float(low), float(high))


def separation(figures: dict[str, dict[str, Any]], chosen: str) -> list[str]:
    """Plain warnings when the held-out evidence cannot separate the chosen policy: its Qini
    interval holds 0 (random), or it overlaps the Qini interval of every other policy."""
    out: list[str] = []
    mine = _interval(figures.get(chosen, {}), "qini")
    if mine is None:
        return [f"the held-out Qini of {plain_name(chosen)} has no interval: too few customers"]
    if mine[0] <= 0 <= mine[1]:
        out.append(
            f"the held-out Qini interval of {plain_name(chosen)} ({mine[0]:.4f} to "
            f"{mine[1]:.4f}) includes 0: on these customers it cannot be told from random targeting"
        )
    others = [
        i for name, row in figures.items() if name != chosen and (i := _interval(row, "qini"))
    ]
    if others and all(low <= mine[1] and mine[0] <= high for low, high in others):
        out.append(
            "its interval overlaps every other policy's: the campaigns are too small to separate "
            "the policies; keep control groups in every campaign so the next training can"
        )
    return out


def _cell(row: dict[str, Any], metric: str, fmt: str) -> str:
    value = row.get(metric)
    if value is None:
        return "not measurable"
    ci = _interval(row, metric)
    return f"{value:{fmt}}" + ("" if ci is None else f" ({ci[0]:{fmt}} to {ci[1]:{fmt}})")


def policy_section(card: dict[str, Any]) -> str:
    """Every policy's Qini curve and held-out figures, the campaign's policy and why, warnings."""
    policy: dict[str, Any] = card["policy"]
    chosen = str(policy.get("policy", ""))
    figures: dict[str, dict[str, Any]] = policy.get("figures") or {}
    e = html.escape
    level = float(policy.get("level", 0.95))
    rows = int(policy.get("test_rows", 0))
    contacts = int(policy.get("contacts", 0))
    chosen_by = "incremental profit at the budget" if policy.get("chosen_by") != "qini" else "Qini"
    used = (
        f"The campaign targets by {plain_name(chosen)}, chosen on {chosen_by}"
        if policy.get("served")
        else "No policy beat random order; the uplift model was promoted by hand, and the "
        "campaign targets by its expected incremental profit"
    )
    header = "".join(f"<th>{e(h)}</th>" for h in ("policy", *(h for _, h, _ in FIGURES)))
    body = "".join(
        f"<tr{' class=chosen' if name == chosen else ''}><td>{e(plain_name(name))}"
        f"{' (chosen)' if name == chosen else ''}</td>"
        + "".join(f"<td>{e(_cell(row, m, f))}</td>" for m, _, f in FIGURES)
        + "</tr>"
        for name, row in figures.items()
    )
    warnings = separation(figures, chosen)
    fig = qini_figure(card["qini_curves"], title="Who does the offer move? Every policy")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    b64 = base64.b64encode(buffer.getvalue()).decode()
    alt = "Qini curves of every targeting policy on held-out campaign customers"
    return "\n".join(
        [
            '<section class="uplift">',
            f"<p><strong>{e(used)}</strong>, chosen on validation customers: "
            f"{e(str(policy.get('reason', '')))}.</p>",
            *(f'<p class="warning">Warning: {e(w)}.</p>' for w in warnings),
            f"<p>Measured on {rows:,} customers of past randomized campaigns no policy trained "
            f"on, with {level:.0%} bootstrap intervals; profit is the incremental profit of "
            f"contacting the top {contacts:,} of them, from the treated and control customers "
            "among them.</p>",
            f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>",
            f'<figure><img alt="{e(alt)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{e(alt)}</figcaption></figure>",
            "</section>",
        ]
    )
