"""A config with several mistakes gets them all in one run, each naming its key and what is
expected, through the real `retain train` command (it stops before reading any data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config_file import parse_config
from core.errors import ConfigError

RETAIN = str(Path(sys.executable).parent / "retain")
MISTAKES = """\
name: shop
seed: abc
horizon_days: -3
families: [rfm, nosuch]
data:
  transactions:
    path: orders.csv
    sepp: ";"
    columns: {custid: Customer, amount: []}
  customers:
    path: customers.csv
    columns: {foo: bar}
  snapshots:
    path: crm.csv
    as_of: 2024-06-30
    columns: {as_of: Day}
    types: {Plan: categorical}
    drop: [Plan]
"""
EXPECTED = [
    "  - data.transactions.sepp: unknown key; valid keys here: path, columns, format, sep, ",
    "  - data.snapshots: give as_of either as one date (as_of: 2024-06-30) or as a mapped column "
    "(columns: {as_of: <your column>}), not both",
    "  - data.snapshots: ['Plan'] are both in types and in drop; keep each in one",
    "  - horizon_days: Input should be greater than or equal to 1 (got -3)",
    "  - seed: Input should be a valid integer, unable to parse string as an integer (got 'abc')",
    "  - families: unknown feature families ['nosuch']; valid: [",
    "  - data.transactions.columns: unknown canonical column(s) ['custid']; valid: ['customer_id',",
    "  - data.transactions.columns: ['amount'] map to an empty list of columns",
    "  - data.customers.columns: unknown canonical column(s) ['foo']; valid: ['customer_id', "
    "'signup_date']",
]


def test_every_mistake_of_a_config_is_listed_in_one_run(tmp_path: Path) -> None:
    config = tmp_path / "shop.yaml"
    config.write_text(MISTAKES)
    env = {**os.environ, "RETAIN_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [RETAIN, "train", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == f"error: {config} is invalid:"
    for expected in EXPECTED:
        assert sum(line.startswith(expected) for line in lines) == 1, (expected, done.stderr)
    assert len(lines) == 1 + len(EXPECTED), done.stderr


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        # a table's mapping mistakes all at once, once the rest is valid
        (
            {"transactions": {"path": "t.csv", "columns": {"a": "x", "b": "y", "order_id": []}}},
            "  - data.transactions.columns: ['order_id'] map to a list of columns, which are "
            "multiplied; only number columns can (e.g. amount: [Quantity, Price])",
        ),
        (
            {"snapshots": {"path": "s.csv", "row_ids": True, "columns": {"customer_id": "id"}}},
            "  - data.snapshots: give customer ids either by row (row_ids: true) or as a mapped "
            "column (columns: {customer_id: <your column>}), not both",
        ),
    ],
)
def test_each_mapping_mistake_is_its_own_line(raw: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"name": "x", "data": raw}, source="c.yaml")
    assert line in str(err.value).splitlines()
