"""Campaign results on hand-made campaigns against hand-computed rates, increments and intervals.

The hand-made campaign: treatment 10 customers, 7 retained, revenue 10, 20, ..., 70, 0, 0, 0
(mean 28, sample variance 6160 / 9); control 8 customers, 4 retained, revenue 10, 20, 30, 40,
0, 0, 0, 0 (mean 12.5, sample variance 1750 / 7 = 250).

    retention lift   0.7 - 0.5 = 0.2, se = sqrt(0.7*0.3/10 + 0.5*0.5/8) = 0.2285826
                     95% CI 0.2 -/+ 1.959964 * se = (-0.2480136, 0.6480136)
    incremental retained customers  0.2 * 10 = 2.0, CI (-2.480136, 6.480136)
    revenue lift     28 - 12.5 = 15.5, se = sqrt(68.4444 + 31.25) = 9.984711,
                     Welch df = 99.6944^2 / (68.4444^2/9 + 31.25^2/7) = 15.0585, t = 2.1307286
                     CI (-5.774708, 36.774708); incremental revenue x 10 = 155 (-57.747, 367.747)
    economics        margin 0.5, contact 1, offer 5: cost = 10 * 1 + 7 * 5 = 45
    profit           155 * 0.5 - 45 = 32.5, CI (-73.8735, 138.8735); ROI 32.5 / 45 = 0.72222
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

from core.economics import Economics
from core.errors import DataValidationError
from core.schema import TRANSACTIONS
from features.arms import ARM_HELP
from features.loading import CustomerData, validate_table
from features.prepare import prepare
from retention.campaign_results import (
    campaign_results,
    measure_campaign,
    outcomes_after_contact,
    standardized_differences,
)
from retention.ledger import Ledger
from tests.helpers import ROOT

ECONOMICS = Economics(gross_margin=0.5, contact_cost=1.0, offer_cost=5.0, currency="EUR")
T_REVENUE = [10, 20, 30, 40, 50, 60, 70, 0, 0, 0]
C_REVENUE = [10, 20, 30, 40, 0, 0, 0, 0]


def hand_made() -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"T{i}" for i in range(10)] + [f"C{i}" for i in range(8)]
    assignments = pd.DataFrame(
        {
            "customer_id": ids,
            "arm": [1] * 10 + [0] * 8,
            "churn_probability": [0.6] * 10 + [0.4] * 8,
        }
    )
    outcomes = pd.DataFrame(
        {
            "customer_id": ids,
            "retained": [1] * 7 + [0] * 3 + [1] * 4 + [0] * 4,
            "revenue": [float(v) for v in T_REVENUE + C_REVENUE],
        }
    )
    return assignments, outcomes


def test_rates_increments_and_intervals_match_the_hand_computation() -> None:
    assignments, outcomes = hand_made()
    r = campaign_results(
        assignments,
        outcomes,
        ECONOMICS,
        campaign_id="hand",
        horizon_days=90,
        days_observed=90,
    )
    assert (r.treatment.customers, r.treatment.retained, r.treatment.retention_rate) == (10, 7, 0.7)
    assert (r.control.customers, r.control.retained, r.control.retention_rate) == (8, 4, 0.5)
    assert r.treatment.revenue_per_customer == 28.0
    assert r.control.revenue_per_customer == 12.5
    lift = r.retention_lift
    assert (lift.estimate, lift.low, lift.high) == pytest.approx((0.2, -0.2480136, 0.6480136))
    inc = r.incremental_customers
    assert (inc.estimate, inc.low, inc.high) == pytest.approx((2.0, -2.480136, 6.480136))
    rev = r.revenue_lift
    assert (rev.estimate, rev.low, rev.high) == pytest.approx((15.5, -5.774708, 36.774708))
    total = r.incremental_revenue
    assert (total.estimate, total.low, total.high) == pytest.approx((155.0, -57.74708, 367.74708))
    assert r.cost == 45.0
    profit = r.incremental_profit
    assert (profit.estimate, profit.low, profit.high) == pytest.approx((32.5, -73.87354, 138.87354))
    assert r.roi.estimate == pytest.approx(32.5 / 45)
    assert r.predicted_control_churn == pytest.approx(0.4)
    assert r.observed_control_churn == pytest.approx(0.5)
    assert r.mature
    text = "\n".join(r.lines())
    assert "retention lift: +20.0 pts (95% CI -24.8 pts to +64.8 pts)" in text
    assert "incremental retained customers: +2.0 (95% CI -2.5 to +6.5)" in text
    assert "incremental revenue: €155 (95% CI -€58 to €368)" in text
    assert "control arm churn: observed 50.0%, the model predicted 40.0%" in text
    assert "verdict: no effect shown yet (the interval includes zero)" in text
    assert "SO FAR" not in text


def test_before_the_horizon_the_results_say_so_far() -> None:
    assignments, outcomes = hand_made()
    r = campaign_results(
        assignments, outcomes, ECONOMICS, campaign_id="young", horizon_days=90, days_observed=30
    )
    assert not r.mature
    assert r.window == "so far (30 of 90 days)"
    lines = r.lines()
    assert lines[1].startswith("SO FAR: only 30 of the 90 days after contact have passed")
    assert json.loads(json.dumps(r.as_json()))["window"] == "so far (30 of 90 days)"


def test_customers_without_outcome_are_counted_and_a_missing_arm_is_an_error() -> None:
    assignments, outcomes = hand_made()
    r = campaign_results(
        assignments,
        outcomes.iloc[1:],
        ECONOMICS,
        campaign_id="x",
        horizon_days=90,
        days_observed=90,
    )
    assert r.treatment.customers == 9
    assert r.excluded == {"customer(s) without an outcome (not in the data)": 1}
    with pytest.raises(DataValidationError, match="the control arm has no customers"):
        campaign_results(
            assignments.loc[assignments["arm"] == 1],
            outcomes,
            ECONOMICS,
            campaign_id="x",
            horizon_days=90,
            days_observed=90,
        )


def test_standardized_mean_differences_are_exact_and_flagged() -> None:
    # x: treatment 1, 2, 3 (mean 2, var 1); control 2, 3, 4 (mean 3, var 1): SMD = -1 / 1 = -1
    # y: identical in both arms: SMD 0
    features = pd.DataFrame({"x": [1.0, 2, 3, 2, 3, 4], "y": [5.0, 6, 7, 5, 6, 7]})
    table = standardized_differences(features, pd.Series([1, 1, 1, 0, 0, 0]))
    assert table["feature"].tolist() == ["x", "y"]
    assert table["smd"].tolist() == pytest.approx([-1.0, 0.0])
    assert table["flagged"].tolist() == [True, False]


def _prep() -> object:
    rows = [
        ("A", "2024-01-01", 10.0),  # before contact
        ("A", "2024-01-20", 25.0),  # inside the window
        ("B", "2024-03-01", 40.0),  # after the 30-day window
        ("C", "2024-01-15", 30.0),
        ("C", "2024-01-16", -50.0),  # a return larger than the purchase: revenue floors at 0
        ("D", "2024-01-05", 5.0),  # contacted later, bought before its own contact
        ("D", "2024-04-01", 5.0),  # the data's last day
    ]
    raw = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).astype(str)
    tx, _ = validate_table(raw, TRANSACTIONS)
    return prepare(CustomerData(transactions=tx))


def test_outcomes_come_from_the_window_after_each_contact() -> None:
    assignments = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "ghost"],
            "contacted_at": pd.to_datetime(
                ["2024-01-10", "2024-01-10", "2024-01-10", "2024-02-01", "2024-01-10"]
            ),
        }
    )
    outcomes, days = outcomes_after_contact(_prep(), assignments, 30, contractual=False)  # type: ignore[arg-type]
    assert days == 30
    assert outcomes["customer_id"].tolist() == ["A", "B", "C", "D"]  # ghost is not in the data
    assert outcomes["retained"].tolist() == [1, 0, 1, 0]
    assert outcomes["revenue"].tolist() == [25.0, 0.0, 0.0, 0.0]
    # a 90-day horizon runs past the data's last day for the 2024-02-01 contact: 60 days so far
    _, so_far = outcomes_after_contact(_prep(), assignments, 90, contractual=False)  # type: ignore[arg-type]
    assert so_far == (pd.Timestamp("2024-04-01") - pd.Timestamp("2024-02-01")).days


def write_business(folder: Path) -> Path:
    """400 customers buying every ~20 days through 2024; a campaign on 2024-10-01 whose treated
    customers keep buying while half of the control customers stop."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 400
    ids = np.array([f"K{i:04d}" for i in range(n)])
    arm = rng.permutation(np.r_[np.ones(200, dtype=int), np.zeros(200, dtype=int)])
    stops = np.zeros(n, dtype=bool)
    stops[np.flatnonzero(arm == 0)[::2]] = True  # exactly 100 control customers stop
    rows = []
    for i in range(n):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
        while day <= pd.Timestamp("2024-12-31"):
            if not (stops[i] and day > pd.Timestamp("2024-10-01")):
                rows.append((ids[i], day.date().isoformat(), 20.0))
            day += pd.Timedelta(days=20)
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(
        folder / "transactions.csv", index=False
    )
    pd.DataFrame(
        {
            "cust": ids,
            "campaign": "autumn",
            "group": np.where(arm == 1, "Treatment", "control"),
            "sent": "2024-10-01",
        }
    ).to_csv(folder / "treatments.csv", index=False)
    config = folder / "config.yaml"
    config.write_text(
        "data:\n"
        "  transactions: {path: transactions.csv}\n"
        "  treatments:\n"
        "    path: treatments.csv\n"
        "    columns: {customer_id: cust, campaign_id: campaign, arm: group, contacted_at: sent}\n"
        "horizon_days: 60\n"
        "economics: {gross_margin: 0.5, contact_cost: 1, offer_cost: 2}\n"
    )
    return config


def test_a_treatments_table_campaign_recovers_the_planted_effect(tmp_path: Path) -> None:
    config = write_business(tmp_path / "data")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    r = measure_campaign("autumn", config, ledger)
    assert (r.treatment.customers, r.control.customers) == (200, 200)
    assert r.treatment.retention_rate == 1.0
    assert r.control.retention_rate == 0.5  # half the control customers stopped: planted
    assert r.incremental_customers.estimate == pytest.approx(100.0)
    assert r.incremental_customers.low > 0
    assert r.mature  # 60 days after 2024-10-01 lie within the data
    # a random split: no pre-contact feature differs by more than chance allows (SMD's sd under
    # randomization is sqrt(1/200 + 1/200) = 0.1, so |SMD| > 0.1 happens by chance)
    assert len(r.balance) > 10
    assert r.balance["smd"].abs().max() < 0.35
    assert r.predicted_control_churn is None  # no model predictions recorded for it
    with pytest.raises(DataValidationError, match="known campaigns: autumn"):
        measure_campaign("spring", config, ledger)


def test_cli_prints_results_and_json_without_a_traceback(tmp_path: Path) -> None:
    config = write_business(tmp_path / "data")
    retain = Path(sys.executable).parent / "retain"
    ledger = ["--ledger", f"sqlite:///{tmp_path / 'ledger.db'}"]
    done = subprocess.run(
        [str(retain), "campaign-results", "autumn", "--config", str(config), "--json", *ledger],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["treatment"]["customers"] == 200
    assert payload["incremental_customers"]["estimate"] == pytest.approx(100.0)
    bad = subprocess.run(
        [str(retain), "campaign-results", "nope", "--config", str(config), *ledger],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: no campaign 'nope'")
    assert "Traceback" not in bad.stderr


def test_a_snapshot_exports_randomized_test_is_measured_from_its_labels(tmp_path: Path) -> None:
    # treated: 4 customers, 1 churned (retained 0.75); control: 4, 2 churned (0.5): lift 0.25,
    # incremental retained customers 0.25 * 4 = 1.0; revenue = Revenue90d: 30 vs 15 per customer
    lines = ["id,lapsed,got_offer,Revenue90d,plan"]
    lines += [f"T{i},{'Yes' if i == 0 else 'No'},1,{0 if i == 0 else 40},a" for i in range(4)]
    lines += [f"C{i},{'Yes' if i < 2 else 'No'},0,{0 if i < 2 else 30},b" for i in range(4)]
    lines += ["U0,No,,50,a"]  # not in the test
    lines += ["M0,No,maybe,50,a", "M1,No,perhaps,50,b"]  # unreadable flags: excluded, counted
    export = tmp_path / "spring_test.csv"
    export.write_text("\n".join(lines) + "\n")
    config = tmp_path / "crm.yaml"
    config.write_text(
        "data:\n"
        "  snapshots:\n"
        f"    path: {export}\n"
        "    columns: {customer_id: id, churned: lapsed, treatment: got_offer, "
        "future_value: Revenue90d}\n"
        "    as_of: 2024-03-01\n"
        "horizon_days: 90\n"
    )
    r = measure_campaign("spring_test-20240301", config, Ledger(f"sqlite:///{tmp_path / 'l.db'}"))
    assert (r.treatment.customers, r.control.customers) == (4, 4)
    assert (r.treatment.retention_rate, r.control.retention_rate) == (0.75, 0.5)
    assert r.incremental_customers.estimate == pytest.approx(1.0)
    assert (r.treatment.revenue_per_customer, r.control.revenue_per_customer) == (30.0, 15.0)
    assert r.mature
    assert r.source == "snapshot export spring_test.csv (outcomes are its labels)"
    assert r.excluded == {
        "snapshot row(s) of the export (any as_of day): 'got_offer' is not a treatment flag "
        f"(expected {ARM_HELP}, or empty)": 2
    }
    # scoring the same export keeps every row, whatever its treatment flag says
    from core.config_file import ConfigFile
    from features.labelled import load_snapshots

    data = ConfigFile.read(config).data()
    assert data.snapshots is not None
    assert len(load_snapshots(data.snapshots, labels=False).rows) == 11


def test_contractual_retention_is_a_subscription_running_at_the_windows_end() -> None:
    from core.schema import SUBSCRIPTIONS

    tx_raw = pd.DataFrame(
        {
            "customer_id": ["S1", "S2", "S3"],
            "timestamp": ["2024-01-01"] * 3,
            "amount": ["10", "10", "10"],
        }
    )
    subs_raw = pd.DataFrame(
        {
            "customer_id": ["S1", "S2", "S3", "S3"],
            "start_date": ["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-20"],
            "end_date": ["", "2024-02-15", "2024-02-10", ""],
        }
    )
    tx, _ = validate_table(tx_raw, TRANSACTIONS)
    subs, _ = validate_table(subs_raw, SUBSCRIPTIONS)
    prep = prepare(CustomerData(transactions=tx, subscriptions=subs))
    assignments = pd.DataFrame(
        {"customer_id": ["S1", "S2", "S3"], "contacted_at": pd.Timestamp("2024-02-01")}
    )
    outcomes, _ = outcomes_after_contact(prep, assignments, 30, contractual=True)
    # S2 cancelled within the window; S3 cancelled and came back before its end
    assert outcomes["retained"].tolist() == [1, 0, 1]


def test_a_ledger_campaign_gives_the_same_results_as_the_same_assignments_in_a_table(
    tmp_path: Path,
) -> None:
    import datetime as dt

    from retention.ledger import CampaignRecord

    config = write_business(tmp_path / "data")
    table = pd.read_csv(tmp_path / "data" / "treatments.csv", dtype=str)
    customers = pd.DataFrame(
        {
            "customer_id": table["cust"],
            "arm": (table["group"] == "Treatment").astype("int8"),
            "risk_tier": "high",
            "rank": pd.array(range(1, len(table) + 1), dtype="Int64"),
            "churn_probability": 0.3,
            "clv": 50.0,
            "expected_gain": 1.0,
        }
    )
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record(
        CampaignRecord(
            campaign_id="C20241001-abcdef",
            created_at=dt.datetime(2024, 10, 1, 8),
            as_of=dt.date(2024, 10, 1),
            horizon_days=60,
            contractual=False,
            policy="risk-value (assumed acceptance)",
            economics=ECONOMICS,
            budget=1000.0,
            control_share=0.5,
            seed=0,
            model_versions={"churn": "churn:1"},
            scores_generation=None,
            n_treatment=200,
            n_control=200,
        ),
        customers,
    )
    from_ledger = measure_campaign("C20241001-abcdef", config, ledger)
    from_table = measure_campaign("autumn", config, ledger)
    for name in ("treatment", "control", "incremental_customers", "incremental_revenue", "roi"):
        assert getattr(from_ledger, name) == getattr(from_table, name), name
    assert from_ledger.source == "campaign ledger, policy risk-value (assumed acceptance)"
    assert from_ledger.predicted_control_churn == pytest.approx(0.3)
    assert from_ledger.observed_control_churn == 0.5


def test_power_of_a_retention_test_matches_the_hand_computation() -> None:
    from retention.campaign_results import control_share_for_power, detection_power

    # p_C 0.5, p_T 0.6, 400 per arm: se = sqrt(0.24/400 + 0.25/400) = 0.035,
    # power = Phi(0.1 / 0.035 - 1.959964) = Phi(0.897179) = 0.815188
    assert detection_power(400, 400, 0.5, 0.1) == pytest.approx(0.815188, abs=1e-6)
    share = control_share_for_power(800, 0.5, 0.1)
    assert share is not None
    below = math.floor(800 * (share - 0.01) + 0.5)
    at = math.floor(800 * share + 0.5)
    assert detection_power(800 - at, at, 0.5, 0.1) >= 0.8
    assert detection_power(800 - below, below, 0.5, 0.1) < 0.8
    assert control_share_for_power(100, 0.5, 0.02) is None  # too few customers for 2 points


def test_a_feature_constant_in_both_arms_is_balanced_not_flagged() -> None:
    """The contact day's week is one value for everyone: rounding must not make it 'imbalanced'."""
    arm = pd.Series([1, 0] * 50)
    week = np.sin(2 * np.pi * 13 / 52)  # one float, whose sums round differently per arm
    features = pd.DataFrame({"cutoff_week_sin": np.full(100, week), "x": np.arange(100.0) % 7})
    table = standardized_differences(features, arm).set_index("feature")
    assert table.loc["cutoff_week_sin", "smd"] == 0.0
    assert not table.loc["cutoff_week_sin", "flagged"]
    shifted = features.assign(cutoff_week_sin=np.where(arm == 1, week, week + 0.5))
    assert (
        standardized_differences(shifted, arm).set_index("feature").loc["cutoff_week_sin", "smd"]
        == np.inf
    )


def test_a_campaign_whose_profit_interval_is_above_zero_is_said_to_have_paid() -> None:
    """Same retention in both arms (no retained customers shown), but the contacted spent more."""
    n = 200
    ids = [f"T{i}" for i in range(n)] + [f"C{i}" for i in range(n)]
    assignments = pd.DataFrame({"customer_id": ids, "arm": [1] * n + [0] * n})
    retained = ([1, 0] * (n // 2)) * 2
    revenue = [500.0 + (i % 5) if r else 0.0 for i, r in enumerate(retained[:n])] + [
        100.0 + (i % 5) if r else 0.0 for i, r in enumerate(retained[n:])
    ]
    outcomes = pd.DataFrame({"customer_id": ids, "retained": retained, "revenue": revenue})
    r = campaign_results(
        assignments, outcomes, ECONOMICS, campaign_id="spend", horizon_days=90, days_observed=90
    )
    assert r.incremental_customers.estimate == 0.0
    assert r.incremental_customers.low < 0 < r.incremental_customers.high
    assert r.incremental_profit.low > 0
    text = "\n".join(r.lines())
    assert "verdict: the campaign paid (the incremental profit interval is above zero" in text


def test_every_excluded_treatments_row_is_counted_by_reason_in_text_and_json(
    tmp_path: Path,
) -> None:
    """Planted bad rows of the treatments table (issue 29): an unknown arm, a blank arm, a
    customer in both arms, an unreadable contact day, a row of no campaign; each counted."""
    config = write_business(tmp_path / "data")
    path = tmp_path / "data" / "treatments.csv"
    table = pd.read_csv(path, dtype=str)
    treated = table.index[table["group"] == "Treatment"]
    control = table.index[table["group"] == "control"]
    table.loc[treated[:5], "group"] = "maybe"  # 5 unknown arms
    table.loc[treated[5:9], "group"] = ""  # 4 blank arms
    table.loc[control[:2], "sent"] = "not a date"  # 2 unreadable contact days
    both = table.loc[treated[10:13]].assign(group="control")  # 3 customers in both arms: 6 rows
    orphan = table.loc[[control[5]]].assign(campaign="", cust="K9999")  # no campaign
    pd.concat([table, both, orphan], ignore_index=True).to_csv(path, index=False)

    retain = Path(sys.executable).parent / "retain"
    ledger = ["--ledger", f"sqlite:///{tmp_path / 'ledger.db'}"]
    runs = {
        flag: subprocess.run(
            [str(retain), "campaign-results", "autumn", "--config", str(config), *flag, *ledger],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for flag in ((), ("--json",))
    }
    for done in runs.values():
        assert done.returncode == 0, done.stderr
    payload = json.loads(runs[("--json",)].stdout)
    assert (payload["treatment"]["customers"], payload["control"]["customers"]) == (
        200 - 5 - 4 - 3,
        200 - 2,
    )
    assert payload["excluded"] == {
        "treatments row(s): 'arm' is empty": 4,
        f"treatments row(s): 'arm' is not an arm (expected {ARM_HELP})": 5,
        "treatments row(s): 'customer_id' is in both arms of one campaign (every such row is "
        "excluded: the assignment is unknown)": 6,
        "treatments row(s): 'sent' is not a date (expected e.g. 2024-03-31 or "
        "2024-03-31T14:05:00+01:00)": 2,
        "treatments row(s) of the file with no 'campaign' (they belong to no campaign)": 1,
    }
    text = runs[()].stdout
    for why, n in payload["excluded"].items():
        assert f"excluded: {n:,} {why}" in text
