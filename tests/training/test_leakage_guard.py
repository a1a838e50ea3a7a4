"""The leakage guard: planted label copies, recodings, proxies and label names stop training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from core.config import LeakageConfig
from core.config_file import load_config
from core.errors import ConfigError, DataValidationError, LeakageError, RetainError
from core.families import FAMILIES
from core.schema import CUSTOMER_ID
from features.build import feature_names
from tests.helpers import ROOT, write_config
from tests.training.conftest import FAST_LIGHTGBM
from training.dataset import load_training_data
from training.leakage import Finding, check_leakage, find_leaks, label_like, single_feature_auc
from training.pipeline import train

N = 2000
DEFAULT = LeakageConfig()


def frame(**columns: object) -> pd.DataFrame:
    """Training rows: a 30% churn label, a legitimate feature, future value and ``columns``."""
    rng = np.random.default_rng(0)
    churn = (rng.random(N) < 0.3).astype(np.int64)
    out = pd.DataFrame(
        {
            "churn": churn,
            "future_value": rng.gamma(1.0, 50.0, N) * (rng.random(N) < 0.6),
            "orders_90d": rng.poisson(3, N).astype(np.float64),
        }
    )
    for name, column in columns.items():
        out[name] = column(out) if callable(column) else column
    return out


def features_of(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in ("churn", "future_value")]


def leaks(df: pd.DataFrame, config: LeakageConfig = DEFAULT) -> list[Finding]:
    return find_leaks(df, features_of(df), config)


def noisy(churn: pd.Series, sd: float, seed: int = 1) -> np.ndarray:
    """Churn plus Gaussian noise: a proxy whose AUC is Phi(1 / (sd * sqrt 2))."""
    return churn.to_numpy() + np.random.default_rng(seed).normal(0.0, sd, len(churn))


def test_a_planted_label_copy_is_caught_and_named() -> None:
    df = frame(attr_churn_flag=lambda d: d["churn"])
    assert leaks(df) == [
        Finding(
            "attr_churn_flag",
            (
                "a copy or one-to-one recoding of churn (1 ↔ churned, 0 ↔ stayed)",
                "named like a label",
            ),
        )
    ]


def test_a_recoded_label_is_caught_whatever_its_name() -> None:
    df = frame(attr_status=lambda d: np.where(d["churn"] == 1, "gone", "active"))
    assert leaks(df) == [
        Finding(
            "attr_status",
            ("a copy or one-to-one recoding of churn ('gone' ↔ churned, 'active' ↔ stayed)",),
        )
    ]
    with pytest.raises(LeakageError) as caught:
        check_leakage(df, features_of(df), DEFAULT)
    message = str(caught.value)
    assert "1 feature(s) give the label away on the 2,000 training rows" in message
    assert "\n  - attr_status: a copy or one-to-one recoding of churn" in message
    assert "drop it" in message
    assert "list it under leakage.allow_features" in message
    assert isinstance(caught.value, DataValidationError)
    assert isinstance(caught.value, RetainError)


def test_a_near_perfect_numeric_proxy_is_caught_with_its_auc() -> None:
    df = frame(attr_days_until_cancel=lambda d: noisy(d["churn"], 0.3))
    auc = roc_auc_score(df["churn"], df["attr_days_until_cancel"])
    assert 0.98 < auc < 0.995
    [finding] = leaks(df)
    assert finding.feature == "attr_days_until_cancel"
    assert finding.reasons == (
        f"alone separates churn: single-feature ROC-AUC {auc:.4f} (scored by raw values; "
        "the guard stops at >= 0.98 or <= 0.02)",
    )
    # the same proxy reversed is as much a leak
    df["attr_days_until_cancel"] *= -1
    assert f"ROC-AUC {1 - auc:.4f}" in leaks(df)[0].reasons[0]


def test_a_value_present_only_for_churners_is_caught_by_its_missingness() -> None:
    rng = np.random.default_rng(2)
    df = frame(attr_cancel_day=lambda d: np.where(d["churn"] == 1, rng.integers(1, 90, N), np.nan))
    [finding] = leaks(df)
    assert finding.reasons[0].startswith("alone separates churn: single-feature ROC-AUC 1.0000")


def test_strong_but_imperfect_features_pass() -> None:
    rng = np.random.default_rng(3)
    df = frame(
        attr_engagement=lambda d: noisy(d["churn"], 0.7),
        attr_channel=lambda d: np.where(
            rng.random(N) < np.where(d["churn"] == 1, 0.8, 0.15), "marketplace", "direct"
        ),
    )
    assert 0.8 < roc_auc_score(df["churn"], df["attr_engagement"]) < 0.9
    assert single_feature_auc(df["attr_channel"], df["churn"].to_numpy(float))[
        "churn rate per level"
    ] == pytest.approx(0.825, abs=0.03)
    assert leaks(df) == []


def test_a_label_named_attribute_is_caught_even_when_uninformative() -> None:
    rng = np.random.default_rng(4)
    df = frame(attr_Exited=rng.integers(0, 2, N), days_since_churn_risk_model=rng.random(N))
    # only customers-table attributes are judged by name
    assert leaks(df) == [Finding("attr_Exited", ("named like a label",))]


@pytest.mark.parametrize(
    "name",
    [
        "Churn",
        "churn_flag",
        "IsChurned",
        "has_churned",
        "churnRisk",
        "Attrition_Flag",
        "Exited",
        "cancelled",
        "date_canceled",
        "lapsed_customer",
        "label",
        "Target",
        "y",
        "is_active",
        "left",
    ],
)
def test_label_like_names(name: str) -> None:
    assert label_like(name)


@pytest.mark.parametrize(
    "name",
    [
        "region",
        "channel",
        "signup_date",
        "days_since_last_purchase",
        "target_segment",
        "labels_seen",
        "active_months",
        "exit_survey_sent_flag_v2",
        "cancel_count",
        "plan",
        "status",
        "y_coord",
        "class",
    ],
)
def test_legitimate_names_are_not_label_like(name: str) -> None:
    assert not label_like(name)


def test_none_of_retains_own_feature_names_reads_like_a_label() -> None:
    names = feature_names(list(FAMILIES))
    assert len(names) > 30
    assert [n for n in names if label_like(n)] == []


def test_a_monotone_copy_of_future_value_is_caught() -> None:
    df = frame(attr_next_spend=lambda d: np.log1p(d["future_value"]))
    assert leaks(df) == [
        Finding(
            "attr_next_spend",
            ("a copy of future_value up to a monotone map (rank correlation 1.0000)",),
        )
    ]


def test_allow_features_lets_each_through() -> None:
    rng = np.random.default_rng(5)
    df = frame(
        attr_churn_flag=lambda d: d["churn"],
        attr_status=lambda d: np.where(d["churn"] == 1, "gone", "active"),
        attr_days_until_cancel=lambda d: noisy(d["churn"], 0.3),
        attr_Exited=rng.integers(0, 2, N),
    )
    planted = ["attr_churn_flag", "attr_status", "attr_days_until_cancel", "attr_Exited"]
    with pytest.raises(LeakageError) as caught:
        check_leakage(df, features_of(df), DEFAULT)
    assert "4 feature(s)" in str(caught.value)
    assert all(f"  - {name}: " in str(caught.value) for name in planted)
    for name in planted:
        with pytest.raises(LeakageError) as rest:
            check_leakage(df, features_of(df), LeakageConfig(allow_features=[name]))
        assert f"  - {name}: " not in str(rest.value)
    check_leakage(df, features_of(df), LeakageConfig(allow_features=planted))


def test_an_unknown_name_in_allow_features_is_an_error_naming_it() -> None:
    df = frame(attr_churn_flag=lambda d: d["churn"])
    config = LeakageConfig(allow_features=["churn_flag", "attr_nope", "attr_churn_flag"])
    with pytest.raises(ConfigError) as caught:
        check_leakage(df, features_of(df), config)
    message = str(caught.value)
    assert (
        "leakage.allow_features names no feature of this run: ['churn_flag', 'attr_nope']"
        in message
    )
    assert "with their prefix: ['attr_churn_flag']" in message


def test_the_thresholds_are_configurable() -> None:
    df = frame(attr_engagement=lambda d: noisy(d["churn"], 0.7))
    auc = roc_auc_score(df["churn"], df["attr_engagement"])
    assert leaks(df, LeakageConfig(max_auc=auc + 0.001)) == []
    [finding] = leaks(df, LeakageConfig(max_auc=auc - 0.001))
    assert f"ROC-AUC {auc:.4f}" in finding.reasons[0]


def test_missing_values_constants_and_tiny_levels_neither_crash_nor_flag() -> None:
    rng = np.random.default_rng(6)
    sparse = np.where(rng.random(N) < 0.1, rng.normal(size=N), np.nan)
    df = frame(
        attr_constant=7.0,
        attr_all_missing=np.nan,
        attr_constant_text="gold",
        attr_all_missing_text=pd.Series([None] * N, dtype="object"),
        attr_sparse_score=sparse,
        attr_sparse_code=np.where(rng.random(N) < 0.05, "vip", None),
        # unique per row: every level is pure on its own, but tiny levels are pooled
        attr_referral_code=[f"R{i:05d}" for i in range(N)],
        attr_nullable_int=pd.array(np.where(rng.random(N) < 0.5, 1, pd.NA), dtype="Int64"),
    )
    with np.errstate(all="raise"):
        assert leaks(df) == []
    check_leakage(df, features_of(df), DEFAULT)


def test_the_tiny_levels_of_a_real_leak_are_still_caught() -> None:
    rng = np.random.default_rng(7)
    reasons = np.array([f"reason {i}" for i in range(400)])
    df = frame(
        attr_exit_reason=lambda d: np.where(
            d["churn"] == 1, reasons[rng.integers(0, 400, N)], "none"
        )
    )
    [finding] = leaks(df)
    assert finding.reasons[0].startswith("alone separates churn: single-feature ROC-AUC 1.0000")
    assert "churn rate per level" in finding.reasons[0]


def _leaky_project(tmp_path: Path) -> tuple[Path, Path]:
    """Demo retail data on one training cutoff with its churn label planted in customers.csv.

    Returns the leaky config and a copy of it allowing the planted columns.
    """
    from retain.demo_data import write_demo

    folder = write_demo(tmp_path / "demo", customers=800, seed=11, businesses=("retail",))["retail"]
    overrides = {
        "split": {"max_train_cutoffs": 1},
        "churn": {"lightgbm": FAST_LIGHTGBM},
        "clv": {"lightgbm": FAST_LIGHTGBM},
    }
    clean = load_config(write_config(tmp_path / "clean.yaml", folder, name="clean", **overrides))
    labels = load_training_data(clean, progress=False).part("train").set_index(CUSTOMER_ID)["churn"]
    customers = pd.read_csv(folder / "customers.csv")
    churned = customers[CUSTOMER_ID].map(labels)
    customers["status"] = churned.map({1: "gone", 0: "active"})
    customers["Churned"] = churned.astype("Int64")
    customers.to_csv(folder / "customers.csv", index=False)
    planted = ["attr_status", "attr_Churned"]
    leaky = write_config(tmp_path / "leaky.yaml", folder, name="leaky", **overrides)
    allowed = write_config(
        tmp_path / "allowed.yaml",
        folder,
        name="allowed",
        leakage={"allow_features": planted},
        **overrides,
    )
    return leaky, allowed


@pytest.mark.slow
def test_training_stops_before_registering_and_allow_features_trains(tmp_path: Path) -> None:
    leaky, allowed = _leaky_project(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    quiet = {"progress": False, "log": lambda _: None}
    with pytest.raises(LeakageError) as caught:
        train(load_config(leaky), tracking_uri=uri, **quiet)
    message = str(caught.value)
    assert "2 feature(s) give the label away" in message
    assert (
        "  - attr_status: a copy or one-to-one recoding of churn ('gone' ↔ churned, 'active' ↔ stayed)"
        in message
    )
    assert (
        "  - attr_Churned: a copy or one-to-one recoding of churn (1 ↔ churned, 0 ↔ stayed); named like a label"
        in message
    )
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert client.search_registered_models() == []

    cli = subprocess.run(
        [
            str(Path(sys.executable).parent / "retain"),
            "train",
            "--config",
            str(leaky),
            "--tracking-uri",
            uri,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert cli.returncode == 2, cli.stderr
    assert cli.stderr.startswith("error: training stopped before fitting: 2 feature(s)")
    assert "  - attr_status: " in cli.stderr
    assert "Traceback" not in cli.stderr
    assert client.search_registered_models() == []

    result = train(load_config(allowed), tracking_uri=uri, **quiet)
    assert set(result.versions) == {"churn", "clv"}
    assert len(client.search_registered_models()) == 2


def test_allow_features_is_read_from_the_yaml(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.yaml", tmp_path, leakage={"allow_features": ["attr_x"], "max_auc": 0.99}
    )
    config = load_config(path)
    assert config.leakage == LeakageConfig(allow_features=["attr_x"], max_auc=0.99)
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "leakage": {"allow": []}}))
    with pytest.raises(
        ConfigError, match=r"leakage\.allow: unknown key; valid keys here: allow_features"
    ):
        load_config(path)
