"""The report's uplift section: does targeting by the offer's effect beat targeting by risk?

``qini_section(card)`` returns an HTML fragment (a heading, two plain sentences and the Qini plot
inlined as a base64 PNG) from the uplift model's card (``model.uplift_bundle.UpliftBundle.card``),
which keeps the Qini curves of the uplift model, the churn-risk policy and random targeting on the
held-out customers of past campaigns. The report places it; nothing here reads files.
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
