"""The evaluation table as ``retain train`` prints it: a few headline metrics per task, 100 wide.

The full table (every metric, cross-validation, every interval) is logged to MLflow as
``evaluation.md``/``evaluation.csv`` and printed by ``retain train --json``; a terminal gets one
block per task with the metrics a reader compares first and the gate metric against the best
baseline.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from training.evaluation import ModelResult, verdict

WIDTH = 100
"""The widest line printed."""
HEADLINE = {"churn": ("roc_auc", "pr_auc", "brier"), "clv": ("gini", "spearman", "mae")}
"""The metrics shown per task (the gate's metric joins them when it is another one)."""
LEGEND = (
    "* chosen on validation (the challenger); ! unreliable fit (see the notes). Every metric "
    "and interval: retain train --json, or evaluation.md in the MLflow run."
)


def console_table(results: Sequence[ModelResult], width: int = WIDTH) -> str:
    """One block per task: model, headline metrics, served or not, and the gate metric's
    difference from the best baseline with its interval; every line at most ``width`` wide."""
    blocks = [
        _task_block(task, [r for r in results if r.task == task], width)
        for task in dict.fromkeys(r.task for r in results)
    ]
    lines = [line for block in blocks for line in [*block, ""]]
    return "\n".join(_clip(line, width) for line in [*lines, *_wrap(LEGEND, width)])


def _task_block(task: str, results: list[ModelResult], width: int) -> list[str]:
    compared = next((r for r in results if r.versus), None)
    gate = next(iter(compared.versus)) if compared is not None else ""
    headline = HEADLINE[task]
    metrics = [*headline] if not gate or gate in headline else [*headline[:2], gate]
    versus = f"{gate} vs {compared.baseline}, {_level(compared, gate)}" if compared else ""
    header = [task, *metrics, "served", versus]
    rows = [
        [
            r.name,
            *(_number(r.metrics.get(m, math.nan)) for m in metrics),
            "yes" if r.servable else "no",
            _versus(r, gate),
        ]
        for r in results
    ]
    marks = ["".join((" *" if r.chosen else "", "" if r.reliable else " !")) for r in results]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    widths[0] = max(widths[0], *(len(r[0]) + len(m) for r, m in zip(rows, marks, strict=True)))
    over = sum(widths) + 2 * (len(widths) - 1) - width
    if over > 0:  # a long model name gives way first, keeping its marks
        widths[0] = max(len(task), widths[0] - over)
    for row, mark in zip(rows, marks, strict=True):
        row[0] = _clip(row[0], widths[0] - len(mark)) + mark
    numbers = range(1, 1 + len(metrics))  # aligned right, words left

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in numbers else c.ljust(w) for i, (c, w) in pairs).rstrip()

    return [line(header), *(line(row) for row in rows)]


def _level(result: ModelResult, metric: str) -> str:
    return f"{result.versus[metric].level:.0%} interval"


def _versus(result: ModelResult, metric: str) -> str:
    """'+0.0131 [+0.0086, +0.0179] better' (difference, interval, verdict); '' without one."""
    interval = result.versus.get(metric)
    if interval is None:
        return ""
    if math.isnan(interval.low):
        return f"{_number(interval.diff, '+')} (interval not estimable)"
    low, high = _number(interval.low, "+"), _number(interval.high, "+")
    return f"{_number(interval.diff, '+')} [{low}, {high}] {verdict(interval)}"


def _number(value: float, sign: str = "") -> str:
    """Four decimals for scores below 10, two for money-like values, none past 1,000."""
    if math.isnan(value):
        return ""
    decimals = 4 if abs(value) < 10 else 2 if abs(value) < 1000 else 0
    if round(value, decimals) == 0:
        value = 0.0  # never '-0.0000'
    return f"{value:{sign},.{decimals}f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width)
