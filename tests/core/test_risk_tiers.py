"""Risk tiers are churn-probability thresholds a reader can check, set in the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config_file import ConfigFile
from core.errors import ConfigError
from core.risk_tiers import RiskTiers
from serving.scorer import TIERS, risk_tier_codes

PLANTED = [0.0, 0.2999, 0.3, 0.56, 0.5999, 0.6, 0.95, 1.0, np.nan]


def tiers_of(p: list[float], tiers: RiskTiers) -> list[str]:
    return list(np.asarray(TIERS)[risk_tier_codes(np.asarray(p), tiers)])


def test_default_tiers_are_fixed_chances_of_leaving_not_ranks() -> None:
    assert tiers_of(PLANTED, RiskTiers()) == [
        "low",
        "low",
        "medium",
        "medium",  # a 56% chance of leaving is medium, whatever the others' chances
        "medium",
        "high",
        "high",
        "high",
        "low",  # no probability: no tier above low
    ]
    # a tier depends on the customer's own chance only: the same under any other population
    assert tiers_of([0.56], RiskTiers()) == tiers_of([0.56, 0.01, 0.02], RiskTiers())[:1]
    assert RiskTiers().words() == (
        "high: 60% or more; medium: 30% to under 60%; low: under 30% chance of leaving"
    )


def test_the_configs_risk_tiers_section_sets_them(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("risk_tiers: {high: 0.5, medium: 0.125}\n")
    tiers = ConfigFile.read(config).risk_tiers()
    assert (tiers.high, tiers.medium) == (0.5, 0.125)
    assert tiers_of([0.124, 0.125, 0.49, 0.5], tiers) == ["low", "medium", "medium", "high"]
    assert tiers.words() == (
        "high: 50% or more; medium: 12.5% to under 50%; low: under 12.5% chance of leaving"
    )
    other = tmp_path / "other.yaml"
    other.write_text("horizon_days: 90\n")
    assert ConfigFile.read(other).risk_tiers() == RiskTiers()  # no section: the defaults


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("{high: 0.3, medium: 0.3}", "risk_tiers.medium (0.3) must be below risk_tiers.high (0.3)"),
        ("{high: 1.5}", "risk_tiers.high: Input should be less than or equal to 1"),
        ("{hgh: 0.5}", "risk_tiers.hgh: unknown key; valid keys here: high, medium"),
    ],
)
def test_bad_tiers_are_one_line_naming_the_key(tmp_path: Path, section: str, words: str) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text(f"risk_tiers: {section}\n")
    with pytest.raises(ConfigError) as err:
        ConfigFile.read(config).risk_tiers()
    assert words in str(err.value)


def test_packaged_tiers_are_read_back_default_when_absent_and_refused_when_damaged() -> None:
    from core.errors import RetainError
    from serving.store import RISK_TIERS, packaged_risk_tiers

    tiers = RiskTiers(high=0.7, medium=0.2)
    assert packaged_risk_tiers({RISK_TIERS: tiers.model_dump(mode="json")}) == tiers
    assert packaged_risk_tiers({}) == RiskTiers()  # packaged before tiers were thresholds
    with pytest.raises(RetainError, match="run `retain package --config` again"):
        packaged_risk_tiers({RISK_TIERS: {"high": 0.2, "medium": 0.7}})


def test_the_scorer_tiers_every_score_by_its_packaged_thresholds_in_both_outputs(
    tmp_path: Path,
) -> None:
    from serving.batch import check_risk_tiers
    from serving.output import score_records, scores_table
    from tests.serving.support import tiny_features, tiny_scorer

    scorer = tiny_scorer()  # packaged with high 0.65, medium 0.4
    frame = tiny_features(300, seed=4)
    batch = scorer.encode(frame)
    scores = scorer.score(batch)
    expected = tiers_of(list(scores.churn), RiskTiers(high=0.65, medium=0.4))
    assert set(expected) == {"high", "medium", "low"}  # every tier exercised
    assert list(np.asarray(TIERS)[scores.tier]) == expected
    day = pd.Timestamp("2024-12-31")
    table = scores_table(scorer, frame.index, scores, batch, day)  # batch scores
    records = score_records(scorer, frame.index.tolist(), scores, batch, [day.date()] * len(frame))
    assert table["risk_tier"].tolist() == expected
    assert [r["risk_tier"] for r in records] == expected  # the service's answers
    same = tmp_path / "same.yaml"
    same.write_text("risk_tiers: {high: 0.65, medium: 0.4}\n")
    check_risk_tiers(ConfigFile.read(same), scorer)
    other = tmp_path / "other.yaml"
    other.write_text("risk_tiers: {high: 0.6}\n")
    packaged = r"packaged with the models \(high: 65% or more; medium: 40% to under 65%"
    with pytest.raises(ConfigError, match=r"risk_tiers \(high: 60% or more; .*" + packaged):
        check_risk_tiers(ConfigFile.read(other), scorer)
