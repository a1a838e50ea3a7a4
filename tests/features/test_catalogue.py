"""The feature catalogue says what every feature is: the builders, the CLI and the docs agree with it."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from core.schema import ATTRIBUTE_PREFIX, TABLES
from features.build import build_features, feature_names
from features.catalogue import (
    BTYD_DERIVED,
    BTYD_DERIVED_NAMES,
    BY_NAME,
    CATALOGUE,
    FAMILIES,
    catalogue_frame,
    catalogue_markdown,
    family_features,
)
from features.loading import CustomerData, validate_table
from retain import cli
from retain.demo_data import make_subscription
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def every_table() -> CustomerData:
    """A synthetic subscription business: it has all four input tables."""
    tables = make_subscription(200, seed=5).tables()
    return CustomerData(
        **{name: validate_table(frame, TABLES[name])[0] for name, frame in tables.items()}
    )


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    """The root ``retain`` app with every command group registered, as the console script has it."""
    cli.register_commands()
    return CliRunner()


def test_names_are_unique_and_families_known() -> None:
    names = [f.name for f in CATALOGUE]
    assert len(names) == len(set(names))
    assert {f.family for f in CATALOGUE} == set(FAMILIES)
    for f in CATALOGUE:
        assert f.source == FAMILIES[f.family].source, f.name
        assert f.dtype in ("float", "int", "category"), f.name
        assert f.description.endswith("."), f.name
        assert not f.name.startswith(ATTRIBUTE_PREFIX), f.name
    assert sum(len(family_features(f)) for f in FAMILIES) == len(CATALOGUE)
    with pytest.raises(KeyError, match="unknown feature family 'rfn'"):
        family_features("rfn")


def test_every_built_feature_is_catalogued_with_its_dtype(every_table: CustomerData) -> None:
    # every product column filled too, so every family is built
    lines = every_table.transactions
    digit = lines["customer_id"].str[-1]
    filled = lines.assign(
        product_id=lines["product_id"].fillna("p" + digit),
        category=lines["category"].fillna("k" + digit),
        country=digit.map(lambda d: "FR" if d < "5" else "DE"),
    )
    every_table = dataclasses.replace(every_table, transactions=filled)
    frame = build_features(every_table, "2023-06-30")
    attributes = ["channel", "region", "company_size"]
    assert list(frame.columns) == feature_names(list(FAMILIES), attributes)
    for name, dtype in frame.dtypes.items():
        if name.startswith(ATTRIBUTE_PREFIX):
            assert name.removeprefix(ATTRIBUTE_PREFIX) in attributes
            continue
        spec = BY_NAME[name]
        if spec.dtype == "category":
            assert pd.api.types.is_string_dtype(dtype), name
        else:
            assert dtype == "float64", name
    catalogued = [f.name for f in CATALOGUE]
    built = [c for c in frame.columns if not c.startswith(ATTRIBUTE_PREFIX)]
    assert built == catalogued  # nothing catalogued is left out when every table is present


def test_catalogue_frame_marks_the_families_the_data_can_feed() -> None:
    frame = catalogue_frame({"transactions"})
    assert frame["available"].sum() == sum(
        len(family_features(f)) for f, fam in FAMILIES.items() if fam.source == "transactions"
    )
    assert frame.loc[frame["name"] == "plan", "available"].tolist() == [False]


def test_cli_lists_the_catalogue(runner: CliRunner) -> None:
    result = runner.invoke(cli.app, ["features", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "family", "dtype", "window", "description"]
    assert len(lines) == 1 + len(CATALOGUE)
    assert lines[1].split()[:3] == ["btyd_frequency", "btyd", "float"]


def test_docs_features_md_is_the_generated_catalogue(runner: CliRunner) -> None:
    result = runner.invoke(cli.app, ["features", "--list", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == catalogue_markdown() + "\n"
    docs = ROOT / "docs" / "FEATURES.md"
    assert docs.exists(), "run: .venv/bin/retain features --list --markdown > docs/FEATURES.md"
    assert docs.read_text() == result.output, "docs/FEATURES.md is stale: regenerate it"
    for f in CATALOGUE:
        assert f"| `{f.name}` |" in result.output


def test_cli_writes_the_features_of_a_configured_data_set(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame(
        {
            "Client": ["a", "a", "b"],
            "Date": ["2021-01-10", "2021-03-01", "2021-02-01"],
            "Total": ["10", "20", "oops"],
        }
    ).to_csv(data / "orders.csv", index=False)
    config = tmp_path / "exp.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "transactions": {
                        "path": "data/orders.csv",
                        "columns": {
                            "customer_id": "Client",
                            "timestamp": "Date",
                            "amount": "Total",
                        },
                    }
                },
                "families": ["btyd", "rfm"],
            }
        )
    )
    out = tmp_path / "out" / "f.parquet"
    args = ["features", "--config", str(config), "--as-of", "2021-06-30", "--out", str(out)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "1 row(s): 'Total' is not a finite number (e.g. row 3: 'oops')" in result.output
    assert "wrote 1 customers x 8 features as of 2021-06-30" in result.output
    frame = pd.read_parquet(out)
    assert frame.index.tolist() == ["a"]
    assert frame.loc["a", "btyd_frequency"] == 1.0  # two purchase days
    assert frame.loc["a", "spend_total"] == 30.0

    strict = runner.invoke(cli.app, [*args, "--strict"])
    assert strict.exit_code != 0
    assert "strict mode" in str(strict.exception)


def test_console_script_prints_user_errors_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["retain", "features", "--as-of", "2021-06-30"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no --config given and no workspace chosen yet")
    assert "Traceback" not in err


def test_every_feature_has_a_plain_label() -> None:
    from features.catalogue import LABELS

    assert [f.name for f in (*CATALOGUE, *BTYD_DERIVED) if f.name not in LABELS] == []
    assert set(LABELS) <= set(BY_NAME) | set(BTYD_DERIVED_NAMES)


@pytest.mark.parametrize(
    ("name", "value", "label"),
    [
        ("days_since_last_purchase", 133.0, "no purchase for 133 days"),
        ("days_since_last_purchase", 1.0, "no purchase for 1 day"),
        ("days_since_last_purchase", None, "never bought"),
        ("spend_trend_90d", 0.4, "spend down 60% on the previous 90 days"),
        ("spend_trend_90d", 1.25, "spend up 25% on the previous 90 days"),
        ("orders_trend_30d", float("nan"), "no orders in the 30 days before the last 30"),
        ("tickets_90d", 3.0, "3 support tickets in 90 days"),
        ("tickets_30d", 1.0, "1 support ticket in 30 days"),
        ("gap_std_days", 12.8, "gaps between purchases typically vary by 13 days"),
        ("return_value_share", 0.153, "15% of the value bought returned"),
        ("overdue_ratio", 2.46, "2.5x the usual gap since the last purchase"),
        ("spend_90d", 1234.5, "£1,234 spent in the last 90 days"),
        ("distinct_categories", 1.0, "1 different category bought"),
        ("btyd_p_alive", 0.734, "73% chance of still being a customer (BG/NBD)"),
        ("btyd_expected_value", float("nan"), "no BTYD estimate"),
        ("subscription_active", 0.0, "no subscription running"),
        ("plan", "basic", "on the basic plan"),
        ("attr_channel", "paid_social", "channel: paid_social"),
        ("attr_region", None, "region: not given"),
        ("not_in_catalogue", 2.5, "not_in_catalogue = 2.5"),
    ],
)
def test_reason_labels_read_in_plain_words_with_units(
    name: str, value: float | str | None, label: str
) -> None:
    from features.catalogue import reason_label

    assert reason_label(name, value, lambda x: f"£{x:,.0f}") == label
