"""The configuration reference, docs/CONFIGURATION.md, generated from the typed experiment config.

Every key ``load_config`` accepts, with its type, default and description, one table per section,
so the reference cannot drift from the code (a test compares the file with ``config_reference``).
"""

from __future__ import annotations

import datetime as dt
import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from core.config import EMPC_COSTS, ExperimentConfig

LIGHTGBM_KEYS = {
    "learning_rate": "Shrinkage of each tree's contribution.",
    "num_leaves": "Most leaves per tree.",
    "max_depth": "Deepest tree; -1: no limit.",
    "min_child_samples": "Fewest training rows in a leaf.",
    "subsample": "Share of rows each tree is fitted on (bagging; 1: all).",
    "colsample_bytree": "Share of features each tree may split on.",
    "reg_lambda": "L2 penalty on leaf values.",
    "early_stopping_rounds": "Stop after this many rounds without a better validation score.",
}
"""Descriptions of the LightGBM parameters whose fields carry none (the parameter classes)."""

FORMER_KEYS = {
    **{f"empc.{old}": f"economics.{new}" for old, new in EMPC_COSTS.items()},
    "churn.calibrate": "churn.calibration.method",
}
"""Keys still read for configs written before they moved, and where each went."""


@dataclass(frozen=True)
class ConfigKey:
    """One key of the experiment config: its dotted path, type, default and meaning."""

    path: str
    kind: str
    default: str
    description: str
    section: type[BaseModel] | None
    """The model of a section key (its keys follow under ``path``); None for a value."""


def config_keys(model: type[BaseModel] = ExperimentConfig, prefix: str = "") -> list[ConfigKey]:
    """Every key under ``model``, depth first, sections before their keys."""
    keys = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        section = section_model(field.annotation)
        keys.append(
            ConfigKey(
                path, type_name(field.annotation), _default(field), _describe(name, field), section
            )
        )
        if section is not None:
            keys += config_keys(section, f"{path}.")
    return keys


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a section (``Model`` or ``Model | None``); None for a value or mapping."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [a for a in get_args(annotation) if a is not type(None)]
        if len(models) == 1:
            return section_model(models[0])
    return None


def type_name(annotation: Any) -> str:
    """A reader's name for a field type: ``int``, ``list of text``, ``"auto" | "csv"``."""
    names = {str: "text", int: "int", float: "number", bool: "true/false", dt.date: "date"}
    names |= {Path: "path", type(None): "null"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    """The default as YAML would spell it; ``required``; blank for a section (see its keys)."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined or isinstance(value, BaseModel):
        return ""
    return f"`{json.dumps(value, default=str)}`"


def _describe(name: str, field: FieldInfo) -> str:
    """The field's description; a section without one: its model's first docstring line."""
    section = section_model(field.annotation)
    text = field.description or LIGHTGBM_KEYS.get(name, "")
    if not text and section is not None and section.__doc__:
        text = section.__doc__.strip().splitlines()[0]
    return " ".join(text.split()).replace("``", "`")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _doc(model: type[BaseModel]) -> str:
    """A section's docstring on one line, the paragraph above its table."""
    return " ".join((model.__doc__ or "").split()).replace("``", "`")


def config_reference() -> str:
    """docs/CONFIGURATION.md: the top-level keys, then one table per section, in config order."""
    keys = config_keys()
    lines = [
        "# Configuration reference",
        "",
        "Every key of an experiment config (`retain train --config FILE.yaml`), generated from "
        "the typed config in `core/config.py` by `make docs`; do not edit by hand. Unknown or "
        "misspelt keys are refused with the valid keys at that level, and relative paths are "
        "relative to the config file. `experiments/demo.yaml` is a worked example.",
        "",
    ]
    # sections of one model under one parent (the data tables) share a table
    sections: dict[tuple[str, type[BaseModel]], list[str]] = {("", ExperimentConfig): [""]}
    for key in keys:
        if key.section is not None:
            parent = key.path.rpartition(".")[0]
            sections.setdefault((parent, key.section), []).append(key.path)
    for (_, model), paths in sections.items():
        rows = [k for k in keys if k.path.rpartition(".")[0] == paths[0]]
        title = ", ".join(f"`{p}`" for p in paths) if paths[0] else "Top level"
        lines += [f"## {title}", "", _doc(model), ""]
        lines += ["| Key | Type | Default | Description |", "|---|---|---|---|"]
        lines += [
            f"| `{k.path.rpartition('.')[2]}` | {_cell(k.kind)} | {_cell(k.default)} | "
            f"{_cell(k.description)} |"
            for k in rows
        ]
        lines.append("")
    lines += [
        "## Former keys",
        "",
        "Still read, so older configs keep working; each now lives elsewhere (`empc` costs warn "
        "that they moved; `churn.calibrate: true` is `method: standard`, false is `none`).",
        "",
        "| Former key | Now |",
        "|---|---|",
        *[f"| `{old}` | `{new}` |" for old, new in FORMER_KEYS.items()],
    ]
    return "\n".join(lines) + "\n"


def reference_keys() -> set[str]:
    """Every dotted key the reference documents, former keys included."""
    return {k.path for k in config_keys()} | set(FORMER_KEYS)
