"""The economics section: money formatting and config errors that name the key."""

from pathlib import Path

import pytest

from core.config_file import ConfigFile
from core.economics import Economics
from core.errors import ConfigError


def test_money_puts_the_symbol_or_code_and_the_sign_first() -> None:
    assert Economics().money(1234.5) == "$1,234"
    assert Economics(currency="GBP").money(-5.25, 2) == "-£5.25"
    assert Economics(currency="SEK").money(3) == "3 SEK"
    assert Economics().money(-0.1) == "$0"
    assert Economics().money(float("nan")) == "n/a"


def test_the_economics_section_defaults_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    assert ConfigFile.read(path).economics() == Economics()
    path.write_text("economics: {currency: EUR, gross_margin: 0.4}\n")
    assert ConfigFile.read(path).economics() == Economics(currency="EUR", gross_margin=0.4)


def test_the_economics_section_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("economics: {gross_margin: 1.5, margin: 0.2}\n")
    with pytest.raises(ConfigError) as err:
        ConfigFile.read(path).economics()
    assert "economics.gross_margin" in str(err.value)
    assert "economics.margin: unknown key" in str(err.value)
