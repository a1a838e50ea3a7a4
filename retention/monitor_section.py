"""The report's "Is the model still right?" section: predicted vs actual churn by generation.

For every past score generation whose horizon has passed: the churn the scores predicted and the
churn that happened (with its 95% bootstrap interval of the difference), the realized ROC-AUC
against the model's test figure, the customers a campaign treated counted apart; then the
monitor's one-line verdict with its reasons (``retention/monitor.py``). An HTML fragment.
"""

from __future__ import annotations

import html
from pathlib import Path

from matplotlib.figure import Figure

from core.errors import RetainError
from retention.monitor import MonitorResult, RealizedGeneration, monitor
from retention.report_plots import png

TITLE = "Is the model still right?"
"""The section's heading; the report renders it (``retention.report.write_report``)."""


def model_right_section(config: Path) -> str:
    """The section's HTML for the workspace's score history, or a line saying why it is empty."""
    try:
        result = monitor(config)
    except RetainError as err:
        return f"<p>{html.escape(str(err))}</p>"
    return render(result)


def churn_figure(realized: list[RealizedGeneration]) -> Figure:
    """Predicted and actual churn per generation; bars: the actual churn's 95% interval (the
    predicted churn minus the interval of the bias)."""
    fig = Figure(figsize=(6.0, 2.6), dpi=100)
    ax = fig.add_subplot()
    x = list(range(len(realized)))
    predicted = [r.figures.predicted_churn for r in realized]
    actual = [r.figures.actual_churn for r in realized]
    bias = [r.figures.calibration_bias for r in realized]
    low = [a - (p - b.high) for a, p, b in zip(actual, predicted, bias, strict=True)]
    high = [(p - b.low) - a for a, p, b in zip(actual, predicted, bias, strict=True)]
    ax.plot(x, predicted, "o-", label="predicted")
    ax.errorbar(x, actual, yerr=[low, high], fmt="s--", capsize=3, label="actual")
    ax.set_xticks(x, [r.as_of for r in realized], fontsize=8)
    ax.set_ylabel("churn")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def render(result: MonitorResult) -> str:
    """Verdict, then the predicted-vs-actual table, then the reasons, escaped."""
    e = html.escape
    test_auc = result.card.get("roc_auc")
    verdict = (
        "Retraining is recommended."
        if result.reasons
        else "The model still holds: no retraining needed."
    )
    parts = [f'<p class="verdict"><strong>{e(verdict)}</strong></p>']
    if result.reasons:
        parts.append("<ul>" + "".join(f"<li>{e(r.text)}</li>" for r in result.reasons) + "</ul>")
    if not result.realized:
        parts.append(
            "<p>No scored generation has reached the end of its horizon yet: predicted and "
            "actual churn can be compared once it has.</p>"
        )
        return "\n".join(parts)
    rows = []
    for r in result.realized:
        f = r.figures
        treated = (
            f"{r.treated.customers:,}: {r.treated.predicted_churn:.1%} predicted, "
            f"{r.treated.actual_churn:.1%} actual"
            if r.treated
            else "none"
        )
        rows.append(
            "<tr>"
            f"<td>{e(r.as_of)}</td><td>{e(r.horizon_end)}</td><td>{f.customers:,}</td>"
            f"<td>{f.predicted_churn:.1%}</td><td>{f.actual_churn:.1%}</td>"
            f"<td>{e(f.calibration_bias.text('+.1%'))}</td><td>{e(f.roc_auc.text())}</td>"
            f"<td>{e(treated)}</td>"
            "</tr>"
        )
    test = (
        "" if test_auc is None else f" The model's ROC-AUC on its test cutoff was {test_auc:.3f}."
    )
    parts.append(
        "<p>Each row is one past scoring: the churn its scores predicted for the customers "
        "scored that day, against the churn that happened by the end of the horizon (95% "
        f"intervals in brackets).{e(test)} Customers a campaign contacted are counted apart: "
        "their outcome was changed on purpose.</p>"
    )
    parts.append(
        '<figure><img alt="Predicted and actual churn of each past scoring" '
        f'src="data:image/png;base64,{png(churn_figure(result.realized))}"><figcaption>'
        "Bars: 95% intervals of the actual churn given the prediction.</figcaption></figure>"
    )
    parts.append(
        '<table class="model-right"><thead><tr><th>scored as of</th><th>horizon to</th>'
        "<th>customers</th><th>predicted churn</th><th>actual churn</th>"
        "<th>predicted minus actual</th><th>ROC-AUC</th><th>treated (apart)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return "\n".join(parts)


__all__ = ["TITLE", "model_right_section", "render"]
