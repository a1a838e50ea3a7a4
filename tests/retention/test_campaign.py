"""retention.campaign on a case solved by hand, its budget rule, its profit curve and its errors.

The hand-made case: offer d = 10, contact f = 1, acceptance g = 0.5, so per customer
    gain  = p * g * (V - d) - (1 - p) * d - f
    spend = f + d * (p * g + 1 - p)

    customer   p     V     gain                                spend                    gain/spend
    A         0.8   100    0.8*0.5*90  - 0.2*10 - 1 = 33.0     1 + 10*(0.40+0.2) = 7.0    4.714
    B         0.5    60    0.5*0.5*50  - 0.5*10 - 1 =  6.5     1 + 10*(0.25+0.5) = 8.5    0.765
    C         0.9    20    0.9*0.5*10  - 0.1*10 - 1 =  2.5     1 + 10*(0.45+0.1) = 6.5    0.385
    D         0.1   500    0.1*0.5*490 - 0.9*10 - 1 = 14.5     1 + 10*(0.05+0.9) = 10.5   1.381
    E         0.3    10    0.3*0.5*0   - 0.7*10 - 1 = -8.0     1 + 10*(0.15+0.7) = 9.5    (never)

Contact order by gain per unit spent: A, D, B, C; E loses money and is never contacted.
With a budget of 20: A (spend 7) and D (cumulative 17.5) fit, B would bring it to 26: the plan
contacts A and D for an expected profit of 33 + 14.5 = 47.5, spending 17.5.
Profit curve (top k by gain: A, D, B, C, E): 0, 33, 47.5, 54, 56.5, 48.5 -> optimum k = 4, 56.5.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigError, DataValidationError
from retention.campaign import (
    CONTACT,
    CONTROL,
    NO_ACTION,
    OVER_BUDGET,
    CampaignParams,
    assign_control,
    plan,
    plan_campaign,
    select,
)
from retention.ledger import Ledger
from retention.targeting import expected_economics
from tests.helpers import ROOT

IDS = ["A", "B", "C", "D", "E"]
P = np.array([0.8, 0.5, 0.9, 0.1, 0.3])
V = np.array([100.0, 60.0, 20.0, 500.0, 10.0])
GAIN = [33.0, 6.5, 2.5, 14.5, -8.0]
SPEND = [7.0, 8.5, 6.5, 10.5, 9.5]


def params(budget: float) -> CampaignParams:
    """The hand-made case: margin 100% so gains are in revenue, and no control group."""
    return CampaignParams(
        budget=budget,
        offer_cost=10,
        contact_cost=1,
        acceptance=0.5,
        gross_margin=1.0,
        control_share=0.0,
    )


@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": IDS,
            "churn_probability": P,
            "clv": V,
            "value_at_risk": P * V,
            "risk_tier": ["high", "medium", "high", "low", "low"],
            "reason_1": "days_since_last_purchase",
        }
    )


def test_expected_gain_and_spend_match_the_hand_computation() -> None:
    gain, spend = expected_economics(P, V, params(20).economics)
    assert gain == pytest.approx(GAIN)
    assert spend == pytest.approx(SPEND)


def test_gains_count_value_at_the_gross_margin() -> None:
    # margin 0.5: A 0.8*0.5*(50-10) - 2 - 1 = 13; D 0.1*0.5*(250-10) - 9 - 1 = 2;
    # B 0.5*0.5*(30-10) - 5 - 1 = -1; C 0.9*0.5*(10-10) - 1 - 1 = -2; E 0.15*(5-10) - 8 = -8.75
    half = CampaignParams(budget=20, economics=params(20).economics, gross_margin=0.5)
    gain, spend = expected_economics(P, V, half.economics)
    assert gain == pytest.approx([13.0, -1.0, -2.0, 2.0, -8.75])
    assert spend == pytest.approx(SPEND)  # costs do not depend on the margin


def test_select_ranks_by_gain_per_spend_and_stops_at_the_budget() -> None:
    rank, chosen = select(*expected_economics(P, V, params(20).economics), budget=20)
    assert rank.tolist() == [1, 3, 4, 2, -1]  # A, D, B, C; E never
    assert [c for c, yes in zip(IDS, chosen, strict=True) if yes] == ["A", "D"]


def test_plan_contacts_exactly_the_hand_computed_customers(scores: pd.DataFrame) -> None:
    result = plan(scores, params(20))
    contacted = result.contacted
    assert contacted["customer_id"].tolist() == ["A", "D"]
    assert contacted["expected_gain"].sum() == pytest.approx(47.5)
    assert contacted["expected_spend"].sum() == pytest.approx(17.5)
    actions = dict(
        zip(result.table["customer_id"], result.table["recommended_action"], strict=True)
    )
    assert actions == {
        "A": CONTACT,
        "D": CONTACT,
        "B": OVER_BUDGET,
        "C": OVER_BUDGET,
        "E": NO_ACTION,
    }
    assert result.table["customer_id"].tolist() == ["A", "D", "B", "C", "E"]  # CRM order
    assert result.table["rank"].tolist()[:4] == [1, 2, 3, 4]
    assert result.table["rank"].isna().tolist() == [False] * 4 + [True]
    assert {"risk_tier", "reason_1"} <= set(result.table.columns)
    assert (
        "contact 2 of 5 customers, hold out 0 as control: expected profit $47.50 for expected "
        "spend $17.50" in result.lines()
    )


@pytest.mark.parametrize(
    ("budget", "contacted"),
    [
        (0.0, []),
        (6.99, []),  # A alone costs 7
        (7.0, ["A"]),  # exactly the budget is allowed
        (17.5, ["A", "D"]),
        (26.0, ["A", "D", "B"]),
        (32.5, ["A", "D", "B", "C"]),
        (math.inf, ["A", "D", "B", "C"]),  # never E, however large the budget
    ],
)
def test_budget_limits(scores: pd.DataFrame, budget: float, contacted: list[str]) -> None:
    result = plan(scores, params(budget))
    assert result.contacted["customer_id"].tolist() == contacted
    assert result.contacted["expected_spend"].sum() <= budget + 1e-9


def test_profit_curve_and_its_optimum(scores: pd.DataFrame) -> None:
    curve = plan(scores, params(20)).curve
    assert curve["contacted"].tolist() == [0, 1, 2, 3, 4, 5]
    assert curve["expected_profit"].tolist() == pytest.approx([0, 33, 47.5, 54, 56.5, 48.5])
    assert curve["expected_spend"].tolist() == pytest.approx([0, 7, 17.5, 26, 32.5, 42])
    best = curve.loc[curve["expected_profit"].idxmax()]
    assert (best["contacted"], best["share_contacted"]) == (4, 0.8)
    unlimited = plan(scores, params(math.inf)).contacted["expected_gain"].sum()
    assert unlimited == pytest.approx(best["expected_profit"])


def test_plan_campaign_writes_list_curve_and_settings(scores: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "scores.parquet"
    scores.to_parquet(source)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    result = plan_campaign(source, params(20), out_dir=tmp_path / "out", ledger=ledger)
    assert result.csv is not None
    assert result.curve_png is not None
    assert result.curve_csv is not None
    written = pd.read_csv(result.csv)
    assert written["customer_id"].tolist() == ["A", "D"]  # the contact list only
    assert set(written["campaign_id"]) == {result.campaign_id}
    assert result.curve_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(result.curve_csv)) == 6
    saved = json.loads((tmp_path / "out" / "campaign.json").read_text())
    assert saved.pop("scores_generation") is None  # a bare table, not `retain score` output
    assert saved.pop("campaign_id") == result.campaign_id
    assert saved.pop("policy") == "risk-value (assumed acceptance)"
    assert CampaignParams.model_validate(saved) == params(20)
    folder = tmp_path / "out" / "campaigns" / str(result.campaign_id)
    assert sorted(p.name for p in folder.iterdir()) == [
        "campaign.csv",
        "campaign.json",
        "profit_curve.csv",
        "profit_curve.png",
    ]
    assert (folder / "campaign.csv").read_bytes() == result.csv.read_bytes()


def test_scores_without_needed_columns_are_refused(scores: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="'churn_probability'"):
        plan(scores.drop(columns="churn_probability"), params(20))


@pytest.mark.parametrize(
    ("values", "flag", "words"),
    [
        ({"budget": -1.0}, "--budget", "greater than or equal to 0"),
        ({"budget": math.nan}, "--budget", "greater than or equal to 0"),
        ({"budget": 10.0, "acceptance": 1.5}, "--acceptance", "less than or equal to 1"),
        ({"budget": 10.0, "acceptance": -0.1}, "--acceptance", "greater than or equal to 0"),
        ({"budget": 10.0, "offer_cost": -1.0}, "--offer-cost", "greater than or equal to 0"),
        ({"budget": 10.0, "contact_cost": -0.5}, "--contact-cost", "greater than or equal to 0"),
    ],
)
def test_bad_settings_name_the_flag(values: dict[str, float], flag: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        CampaignParams.checked(**values)
    message = str(err.value)
    assert message.startswith("invalid campaign settings: ")
    assert f"{flag}: Input should be {words}" in message


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        CampaignParams.checked(budget=-1, offer_cost=-1, contact_cost=-1, acceptance=2)
    for flag in ("--budget", "--offer-cost", "--contact-cost", "--acceptance"):
        assert flag in str(err.value)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--budget", "-1"], "--budget"),
        (["--budget", "100", "--acceptance", "1.5"], "--acceptance"),
        (["--budget", "100", "--offer-cost", "-3"], "--offer-cost"),
    ],
)
def test_cli_reports_bad_settings_without_a_traceback(
    args: list[str], flag: str, tmp_path: Path
) -> None:
    retain = Path(sys.executable).parent / "retain"
    scores = tmp_path / "scores.parquet"  # never read: the settings are checked first
    done = subprocess.run(
        [str(retain), "campaign", *args, "--scores", str(scores)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid campaign settings")
    assert flag in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# ----------------------------------------------------------------------------- control groups


@pytest.fixture
def many() -> pd.DataFrame:
    """2,000 scored customers in three risk tiers."""
    rng = np.random.default_rng(7)
    p = rng.beta(2, 5, 2000)
    tier = np.where(
        p > np.quantile(p, 0.8), "high", np.where(p > np.quantile(p, 0.5), "medium", "low")
    )
    return pd.DataFrame(
        {
            "customer_id": [f"R{i:05d}" for i in range(2000)],
            "churn_probability": p,
            "clv": rng.gamma(2.0, 100.0, 2000),
            "risk_tier": tier,
        }
    )


def test_the_control_group_is_the_share_of_each_tier_drawn_at_random(many: pd.DataFrame) -> None:
    params = CampaignParams(budget=math.inf, control_share=0.2, seed=3)
    result = plan(many, params)
    selected = result.assignments
    for tier, rows in selected.groupby("risk_tier"):
        held = (rows["arm"] == "control").sum()
        assert held in (math.floor(0.2 * len(rows)), math.ceil(0.2 * len(rows))), tier
    assert len(result.control) == math.floor(0.2 * len(selected) + 0.5)
    assert (result.control["recommended_action"] == CONTROL).all()
    assert set(result.control["customer_id"]).isdisjoint(result.contacted["customer_id"])
    # drawn at random within tiers: the arms' mean risk agree, and the draw is not the top ranks
    arms = selected.groupby("arm")["churn_probability"].mean()
    assert abs(arms["control"] - arms["treatment"]) < 0.02
    assert result.control["rank"].min() < 50 < result.control["rank"].max()


def test_small_tiers_add_up_to_the_overall_share() -> None:
    # 4 selected in each of 3 tiers: 10% of each rounds to 0, but 10% of 12 is 1
    ids = np.array([f"X{i:02d}" for i in range(12)])
    tiers = np.repeat(["high", "medium", "low"], 4)
    control = assign_control(ids, tiers, np.ones(12, dtype=bool), 0.1, seed=0)
    assert control.sum() == 1
    half = assign_control(ids, tiers, np.ones(12, dtype=bool), 0.5, seed=0)
    assert [int(half[tiers == t].sum()) for t in ("high", "medium", "low")] == [2, 2, 2]


def test_the_draw_is_seeded_and_independent_of_row_order(many: pd.DataFrame) -> None:
    params = CampaignParams(budget=math.inf, seed=11)
    control = set(plan(many, params).control["customer_id"])
    shuffled = many.sample(frac=1.0, random_state=5)
    assert set(plan(shuffled, params).control["customer_id"]) == control
    other = set(plan(many, params.model_copy(update={"seed": 12})).control["customer_id"])
    assert other != control
    assert len(other) == len(control)


def test_control_customers_are_never_in_the_crm_list(many: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "scores.parquet"
    many.to_parquet(source)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    result = plan_campaign(
        source, CampaignParams(budget=3000), out_dir=tmp_path / "out", ledger=ledger
    )
    assert result.csv is not None
    listed = pd.read_csv(result.csv, dtype=str)
    record, customers = ledger.campaign(str(result.campaign_id))
    control = set(customers.loc[customers["arm"] == 0, "customer_id"])
    assert len(control) == record.n_control > 0
    assert control.isdisjoint(listed["customer_id"])
    assert sorted(listed["customer_id"]) == sorted(
        customers.loc[customers["arm"] == 1, "customer_id"]
    )
    assert set(listed["recommended_action"]) == {CONTACT}


def test_no_control_group_needs_saying_so() -> None:
    with pytest.raises(
        ConfigError, match=r"--control-share 0 leaves no control group.*--no-control"
    ):
        CampaignParams.checked(budget=10, control_share=0.0)
    assert CampaignParams.checked(budget=10, no_control=True).control_share == 0
    with pytest.raises(ConfigError, match="--control-share: Input should be less than or equal"):
        CampaignParams.checked(budget=10, control_share=0.9)


def test_flags_override_the_configs_economics(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("economics: {currency: EUR, gross_margin: 0.4, offer_cost: 20}\n")
    from core.config_file import ConfigFile

    params = CampaignParams.checked(
        budget=100, economics=ConfigFile.read(config).economics(), offer_cost=5.0, contact_cost=None
    )
    assert params.economics.model_dump() == {
        "currency": "EUR",
        "gross_margin": 0.4,
        "offer_cost": 5.0,
        "contact_cost": 1.0,
        "acceptance": 0.3,
        "recurring_charge": None,
    }
    assert params.lines()[0] == (
        "economics: gross margin 40%, offer €5.00, contact €1.00, assumed acceptance 30%, "
        "budget €100"
    )


def test_retain_campaigns_lists_the_ledger(many: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "scores.parquet"
    many.to_parquet(source)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    retain = Path(sys.executable).parent / "retain"
    empty = subprocess.run(
        [str(retain), "campaigns", "--ledger", url], capture_output=True, text=True, timeout=120
    )
    assert empty.returncode == 0
    assert empty.stdout.startswith("no campaigns in the ledger")
    ids = [
        plan_campaign(
            source, CampaignParams(budget=b), out_dir=tmp_path / "out", ledger=Ledger(url)
        ).campaign_id
        for b in (1000, 2000)
    ]
    listed = subprocess.run(
        [str(retain), "campaigns", "--ledger", url, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    campaigns = json.loads(listed.stdout)
    assert sorted(c["campaign_id"] for c in campaigns) == sorted(ids)
    assert {c["policy"] for c in campaigns} == {"risk-value (assumed acceptance)"}
    assert all(c["n_control"] > 0 and c["control_share"] == 0.1 for c in campaigns)
    table = subprocess.run(
        [str(retain), "campaigns", "--ledger", url], capture_output=True, text=True, timeout=120
    )
    assert all(i in table.stdout for i in ids)


def test_without_a_config_the_economics_recorded_with_the_scores_are_used(tmp_path: Path) -> None:
    from retention.campaign import scored_economics

    scores = tmp_path / "scores.parquet"
    assert scored_economics(scores) is None  # a bare table records none
    (tmp_path / "score_meta.json").write_text(
        json.dumps({"economics": {"currency": "GBP", "gross_margin": 0.45}})
    )
    recorded = scored_economics(scores)
    assert recorded is not None
    assert (recorded.currency, recorded.gross_margin, recorded.offer_cost) == ("GBP", 0.45, 10.0)
