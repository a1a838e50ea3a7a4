"""The commented experiment YAML ``retain init`` writes from a proposed mapping.

A pure function of the proposal: every key it writes carries the evidence it was chosen on,
and a guess the file could not decide is marked CHECK with the key to set. Values are written
as JSON scalars and lists, which YAML reads as written (a column named ``True`` or ``12:30``
stays text).
"""

from __future__ import annotations

import datetime as dt
import json
import re

from features.mapping import Choice, Proposal

HORIZON_DAYS = 90
"""The horizon ``retain init`` writes: the config default, stated so the user sees it."""


def business_name(file_name: str) -> str:
    """A config name from a file name: ``Online Retail.csv.gz`` -> ``online-retail``."""
    stem = file_name.split(".")[0]
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "business"


def render_config(proposal: Proposal, *, name: str, data_path: str, file_name: str) -> str:
    """The YAML text of a config reading ``data_path`` as the proposal maps it."""
    kind = proposal.kind
    by_key = {c.key: c for c in proposal.choices}
    lines = [
        f"# retain config for {file_name}, written by `retain init`: each choice says why.",
        "# Lines marked CHECK are guesses the file could not decide: set those keys if wrong.",
        f"name: {yaml_value(name)}",
        f"description: {yaml_value(f'{kind} export {file_name}, mapped by retain init')}",
        "data:",
        f"  {kind}:",
        f"    path: {yaml_value(data_path)}",
    ]
    if proposal.columns:
        lines.append("    columns:")
        for role, column in proposal.columns.items():
            key = f"data.{kind}.columns.{role}"
            lines.append(_line(f"      {role}: {yaml_value(column)}", by_key.get(key)))
    for option, value in proposal.options.items():
        lines.append(
            _line(f"    {option}: {yaml_value(value)}", by_key.get(f"data.{kind}.{option}"))
        )
    if proposal.unused:
        lines.append(f"    # not read: {', '.join(yaml_value(c) for c in proposal.unused)}")
    meaning = (
        "the churn flag means 'left within this many days after as_of': set your flag's window"
        if kind == "snapshots"
        else "churn = no purchase within this many days after a cutoff"
    )
    horizon = proposal.settings.get("horizon_days", HORIZON_DAYS)
    why = by_key.get("horizon_days")
    lines.append(f"horizon_days: {horizon}  # {meaning}" + (f"; {why.evidence}" if why else ""))
    history = by_key.get("split.min_history_days")
    if history is not None:
        lines += ["split:", _line(f"  min_history_days: {history.value}", history)]
    lines.append("registry:  # the registered model names of this business")
    for task in ("churn", "clv", "uplift"):
        lines.append(f"  {task}: {yaml_value(f'{name}-{task}')}")
    if proposal.economics:
        lines.append("economics:")
        for key, value in proposal.economics.items():
            lines.append(_line(f"  {key}: {yaml_value(value)}", by_key.get(f"economics.{key}")))
    return "\n".join(lines) + "\n"


def _line(text: str, choice: Choice | None) -> str:
    """A YAML line with its evidence as a comment (CHECK first when it is a guess)."""
    if choice is None:
        return text
    mark = "CHECK: " if choice.confirm else ""
    return f"{text}  # {mark}{_one_line(choice.evidence)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def yaml_value(value: object) -> str:
    """A YAML value as JSON writes it; dates as ISO days."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False)


__all__ = ["HORIZON_DAYS", "business_name", "render_config", "yaml_value"]
