"""The economics packaged with the models are the ones batch scores use."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config_file import ConfigFile
from core.economics import Economics
from core.errors import ConfigError
from serving.batch import check_economics
from serving.store import ECONOMICS, packaged_economics
from tests.serving.support import tiny_scorer


def test_packaged_economics_are_read_back_and_default_when_absent() -> None:
    eco = Economics(currency="EUR", gross_margin=0.35)
    assert packaged_economics({ECONOMICS: eco.model_dump(mode="json")}) == eco
    assert packaged_economics({}) == Economics()


def test_scoring_with_other_economics_than_packaged_is_an_error(tmp_path: Path) -> None:
    scorer = tiny_scorer(economics=Economics(currency="GBP", gross_margin=0.4))
    same = tmp_path / "same.yaml"
    same.write_text("economics: {currency: GBP, gross_margin: 0.4}\n")
    check_economics(ConfigFile.read(same), scorer)
    silent = tmp_path / "none.yaml"
    silent.write_text("name: x\n")
    check_economics(ConfigFile.read(silent), scorer)  # no section: the packaged economics apply
    other = tmp_path / "other.yaml"
    other.write_text("economics: {currency: GBP, gross_margin: 0.5}\n")
    with pytest.raises(ConfigError, match="run `retain package --config"):
        check_economics(ConfigFile.read(other), scorer)
