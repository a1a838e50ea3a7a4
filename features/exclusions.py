"""``exclude`` rules of a table source: rows the user asks to leave out, found on the raw file.

Exports mix products with lines that are not purchases (postage, manual adjustments, bank
charges). ``exclusion_masks`` turns a source's ``exclude`` mapping into one boolean mask per
rule over the raw rows, so loading can drop them before anything else and report each rule's
count, like every other exclusion. A rule naming a column that is neither a canonical column nor
a column of the file is a configuration error that lists what is there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.schema import TableSpec
from core.sources import ExcludePattern, ExcludeRule

MAX_LISTED = 20


def exclusion_masks(
    raw: pd.DataFrame,
    rules: dict[str, ExcludeRule],
    spec: TableSpec,
    mapping: dict[str, str | list[str]],
    source_name: str = "input",
) -> list[tuple[str, str, np.ndarray]]:
    """One ``(file column, what it matched, mask)`` per rule, in the rules' order.

    Parameters
    ----------
    raw
        The table as read, before any parsing (row positions as in the file).
    rules
        Column -> exact values (compared as trimmed text; blanks never match) or a pattern.
    spec, mapping
        The table's canonical columns and the source's column mapping: a canonical name is
        looked up through the mapping, any other name among the file's columns.
    """
    out = []
    canonical = {c.name for c in spec.columns}
    for key, rule in rules.items():
        column = _file_column(key, raw, canonical, mapping, spec, source_name)
        text = raw[column].astype("string").str.strip()
        if isinstance(rule, ExcludePattern):
            mask = text.str.contains(rule.pattern, regex=True, na=False)
            what = f"matches the exclude pattern {rule.pattern!r}"
        else:
            values = [str(v).strip() for v in rule]
            mask = text.isin(values).fillna(False)
            shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
            what = f"is one of the excluded values {shown}"
        out.append((column, what, mask.to_numpy(dtype=bool)))
    return out


def _file_column(
    key: str,
    raw: pd.DataFrame,
    canonical: set[str],
    mapping: dict[str, str | list[str]],
    spec: TableSpec,
    source_name: str,
) -> str:
    if key in canonical:
        mapped = mapping.get(key, key)
        if isinstance(mapped, list):
            raise ConfigError(
                f"data.{spec.name}.exclude.{key}: '{key}' is the product of the columns "
                f"{mapped}; exclude by one of those file columns instead"
            )
        if mapped in raw.columns:
            return mapped
    elif key in raw.columns:
        return key
    listed = ", ".join(map(str, list(raw.columns)[:MAX_LISTED]))
    more = ", ..." if raw.shape[1] > MAX_LISTED else ""
    raise ConfigError(
        f"data.{spec.name}.exclude: unknown column {key!r}: {source_name} has the columns "
        f"{listed}{more}; a key is one of those or a canonical column of the "
        f"{spec.name} table ({', '.join(sorted(canonical))})"
    )
