"""docs/CONFIGURATION.md: generated from the typed config, fresh, complete, and what the docs cite."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from core.config_reference import config_keys, config_reference, reference_keys
from tests.helpers import ROOT

REFERENCE = ROOT / "docs" / "CONFIGURATION.md"
SECTIONS = {k.path for k in config_keys() if k.section is not None}
"""Keys whose value is a section of further keys (``split``, ``data.transactions``, ...)."""
CODE_SPAN = re.compile(r"`([a-z_]+(?:\.[a-z_0-9]+)+)`")
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
NOT_KEYS = {"calibration.method"}
"""Names the docs cite that look like config keys and are not (an MLflow parameter)."""
FILE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".csv", ".json", ".parquet", ".html", ".db")


def markdown_files() -> list[Path]:
    """The prose that cites config keys: the READMEs and docs/, whatever they hold today."""
    return [ROOT / "README.md", ROOT / "experiments" / "README.md", *sorted(ROOT.glob("docs/*.md"))]


def unknown_key(path: str, known: set[str]) -> str | None:
    """``path`` if no key it names exists; a path inside a mapping-valued key (a ``columns``
    entry) is known when the mapping is."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in known:
            return None if end == len(parts) or prefix not in SECTIONS else path
    return path


def yaml_keys(raw: Any, prefix: str = "") -> list[str]:
    """The dotted keys of a YAML mapping, not descending below a key that is not a section."""
    if not isinstance(raw, dict):
        return []
    keys = []
    for key, value in raw.items():
        path = f"{prefix}{key}"
        keys.append(path)
        if path in SECTIONS:
            keys += yaml_keys(value, f"{path}.")
    return keys


def cited_keys(text: str) -> list[str]:
    """Config keys a Markdown text cites: in YAML blocks of a config, and as `section.key`."""
    top = {k.path for k in config_keys() if "." not in k.path}
    cited = []
    for block in YAML_BLOCK.findall(text):
        try:
            raw = yaml.safe_load(block)
        except yaml.YAMLError:
            continue
        if isinstance(raw, dict) and set(raw) & top:
            cited += yaml_keys(raw)
    sections = {s for s in SECTIONS if "." not in s}
    cited += [
        span
        for span in CODE_SPAN.findall(text)
        if span.split(".")[0] in sections
        and not span.endswith(FILE_SUFFIXES)
        and span not in NOT_KEYS
    ]
    return cited


def test_the_reference_is_fresh() -> None:
    from retain import cli

    result = CliRunner().invoke(cli.app, ["config-reference"])
    assert result.exit_code == 0, result.output
    assert result.output == config_reference()
    assert REFERENCE.exists(), "run: make docs"
    assert REFERENCE.read_text() == result.output, "docs/CONFIGURATION.md is stale: make docs"


def test_every_key_has_a_type_and_a_description() -> None:
    keys = config_keys()
    assert len(keys) > 150
    assert [k.path for k in keys if not k.description or not k.kind] == []
    text = config_reference()
    for key in keys:
        assert f"| `{key.path.rpartition('.')[2]}` |" in text


@pytest.mark.parametrize("doc", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_key_the_docs_cite_is_in_the_reference(doc: Path) -> None:
    if not doc.exists():
        pytest.skip(f"{doc.name} is absent")
    known = reference_keys()
    assert [k for k in cited_keys(doc.read_text()) if unknown_key(k, known)] == []


def test_cited_keys_are_found_in_yaml_blocks_and_code_spans() -> None:
    text = (
        "Set `churn.compete` or `clv.lightgbm.num_leavs`; see `economics.py`.\n\n"
        "```yaml\nhorizon_days: 60\ndata:\n  transactions:\n    path: t.csv\n"
        "    columns: {customer_id: Client}\n    sepp: ';'\n```\n"
    )
    cited = cited_keys(text)
    assert "data.transactions.columns" in cited
    assert [k for k in cited if unknown_key(k, reference_keys())] == [
        "data.transactions.sepp",
        "clv.lightgbm.num_leavs",
    ]
