"""Training on labelled CRM exports: planted drivers recovered, baselines beaten, splits honest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from core.config_file import parse_config
from core.errors import LeakageError
from model.registry import load_version
from retain.demo_crm import make_crm
from tests.helpers import FAST_LIGHTGBM
from training.pipeline import TrainResult, train

pytestmark = pytest.mark.slow

COLUMNS = {"customer_id": "customerID", "churned": "Churn", "future_value": "Revenue90d"}


def crm_config(path: Path, name: str, **overrides: Any) -> Any:
    snapshots: dict[str, Any] = {"path": str(path), "columns": dict(COLUMNS)}
    snapshots.update(overrides.pop("snapshots", {}))
    raw = {
        "name": name,
        "data": {"snapshots": snapshots},
        "horizon_days": 90,
        "seed": 42,
        "registry": {"churn": f"{name}-churn", "clv": f"{name}-clv"},
        "tuning": {"enabled": False},
        **overrides,
    }
    return parse_config(raw)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    export = make_crm(8000, months=1, horizon_days=90, seed=5)
    path = tmp_path_factory.mktemp("crm") / "snapshot.csv"
    export.snapshots.drop(columns=["as_of"]).to_csv(path, index=False)
    return path, export.truth


@pytest.fixture(scope="module")
def single_run(single: tuple[Path, pd.DataFrame]) -> TrainResult:
    config = crm_config(single[0], "crm-single", snapshots={"as_of": "2024-06-30"})
    return train(config, progress=False, log=lambda _: None)


def metric(result: TrainResult, task: str, model: str, name: str) -> float:
    table = result.evaluation.set_index(["task", "model"])
    return float(table.loc[(task, model), name])


def test_single_as_of_beats_the_baselines_and_says_it_is_in_time(
    single_run: TrainResult,
) -> None:
    lgbm, logistic = (metric(single_run, "churn", m, "roc_auc") for m in ("lightgbm", "logistic"))
    assert lgbm > logistic > 0.8
    assert metric(single_run, "churn", "prior_rate", "roc_auc") == 0.5
    assert metric(single_run, "churn", "lightgbm", "brier") < metric(
        single_run, "churn", "prior_rate", "brier"
    )
    assert metric(single_run, "clv", "lightgbm", "mae") < metric(
        single_run, "clv", "prior_mean", "mae"
    )
    # the cross-validated ROC-AUC agrees with the test's within its spread
    cv, sd = (metric(single_run, "churn", "lightgbm", c) for c in ("cv_roc_auc", "cv_roc_auc_sd"))
    assert abs(cv - lgbm) < 4 * sd + 0.01
    # baselines that need a purchase history do not run without one
    assert not {"bgnbd", "recency_rule", "bgnbd_gamma_gamma", "last_period"} & set(
        single_run.evaluation["model"]
    )
    bundle = load_version(
        "crm-single-churn", single_run.versions["churn"], tracking_uri=single_run.tracking_uri
    ).bundle
    assert bundle.card.cutoffs.in_time
    assert bundle.card.data.business == "labelled"
    assert bundle.card.attribute_schema is not None


def test_planted_drivers_are_recovered(
    single_run: TrainResult, single: tuple[Path, pd.DataFrame]
) -> None:
    bundle = load_version(
        "crm-single-churn", single_run.versions["churn"], tracking_uri=single_run.tracking_uri
    ).bundle
    gain = dict(
        zip(
            bundle.model.feature_name(),
            bundle.model.booster.feature_importance(importance_type="gain"),
            strict=True,
        )
    )
    top = sorted(gain, key=gain.get, reverse=True)[:5]  # type: ignore[arg-type]
    assert {"attr_Contract", "attr_SupportCalls90d"} <= set(top)
    assert {"attr_tenure", "attr_ContractStart"} & set(top)
    assert gain["attr_gender"] < 0.02 * sum(gain.values())  # noise
    # predictions order the test customers like the planted probability
    pred = single_run.predictions.set_index("customer_id")["churn.lightgbm"]
    truth = single[1].set_index("customerID").loc[pred.index, "p_churn"]
    assert spearmanr(pred, truth).statistic > 0.85
    observed = single_run.predictions["churn"].mean()
    assert abs(pred.mean() - observed) < 0.03  # calibrated in the large


def test_monthly_snapshots_are_split_out_of_time(tmp_path: Path) -> None:
    export = make_crm(4000, months=6, horizon_days=30, seed=6)
    path = tmp_path / "monthly.csv"
    export.snapshots.to_csv(path, index=False)
    config = crm_config(path, "crm-monthly", horizon_days=30)
    result = train(config, progress=False, log=lambda _: None)
    bundle = load_version(
        "crm-monthly-churn", result.versions["churn"], tracking_uri=result.tracking_uri
    ).bundle
    assert not bundle.card.cutoffs.in_time
    assert bundle.card.cutoffs.test == "2024-11-30"
    assert bundle.card.cutoffs.validation == "2024-10-31"
    assert bundle.card.cutoffs.train == ["2024-06-30", "2024-07-31", "2024-08-31", "2024-09-30"]
    lgbm, logistic = (metric(result, "churn", m, "roc_auc") for m in ("lightgbm", "logistic"))
    assert lgbm > logistic > 0.75
    assert "cv_roc_auc" not in result.evaluation  # out of time: no cross-validation needed
    pred = result.predictions.set_index("customer_id")["churn.lightgbm"]
    truth = export.truth.loc[export.truth["as_of"] == "2024-11-30"].set_index("customerID")
    assert spearmanr(pred, truth.loc[pred.index, "p_churn"]).statistic > 0.8


def test_the_leakage_guard_stops_a_recoded_label_in_a_snapshot_table(tmp_path: Path) -> None:
    export = make_crm(3000, months=1, horizon_days=90, seed=7)
    frame = export.snapshots.drop(columns=["as_of"])
    frame["AccountState"] = np.where(frame["Churn"] == "Yes", "closing", "open")
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    config = crm_config(path, "crm-leaky", snapshots={"as_of": "2024-06-30"})
    leak = r"(?s)attr_AccountState: a copy or one-to-one recoding of churn.*data.snapshots.drop"
    with pytest.raises(LeakageError, match=leak):
        train(config, progress=False, log=lambda _: None)
    allowed = crm_config(
        path,
        "crm-leaky",
        snapshots={"as_of": "2024-06-30"},
        leakage={"allow_features": ["attr_AccountState"]},
        # the allowed copy of the label separates the classes at once: short boosting, no CV
        split={"cv_folds": 0},
        churn={"lightgbm": FAST_LIGHTGBM},
        clv={"lightgbm": FAST_LIGHTGBM},
    )
    result = train(allowed, progress=False, log=lambda _: None)
    assert metric(result, "churn", "lightgbm", "roc_auc") > 0.99


def test_a_snapshot_table_beside_a_transaction_log_gets_event_features(
    demo_data: Path, tmp_path: Path
) -> None:
    """Labels from the CRM table, purchase features from the log as of each row's day."""
    from core.sources import DataConfig
    from features.labels import make_labels
    from features.loading import load_data
    from features.prepare import prepare

    retail = demo_data / "retail"
    data, _ = load_data(
        DataConfig.model_validate({"transactions": {"path": str(retail / "transactions.csv")}})
    )
    prep = prepare(data)
    end = prep.date_range[1]
    days = [(end - pd.Timedelta(days=90 + 91 * k)).normalize() for k in (3, 2, 1, 0)]
    customers = pd.read_csv(retail / "customers.csv", dtype=str)
    rows = []
    for day in days:
        labels, _ = make_labels(prep, day, 90)
        frame = labels.reset_index().merge(customers[["customer_id", "channel"]], how="left")
        rows.append(
            frame.assign(
                as_of=str(day.date()),
                churned=np.where(frame["churn"] == 1, "churned", "active"),
            ).drop(columns=["churn"])
        )
    path = tmp_path / "crm.csv"
    pd.concat(rows).to_csv(path, index=False)
    config = parse_config(
        {
            "name": "crm-with-log",
            "data": {
                "snapshots": {"path": str(path)},
                "transactions": {"path": str(retail / "transactions.csv")},
            },
            "horizon_days": 90,
            "seed": 42,
            "registry": {"churn": "crm-with-log-churn", "clv": "crm-with-log-clv"},
            "tuning": {"enabled": False},
        }
    )
    result = train(config, progress=False, log=lambda _: None)
    bundle = load_version(
        "crm-with-log-churn", result.versions["churn"], tracking_uri=result.tracking_uri
    ).bundle
    assert "days_since_last_purchase" in bundle.card.features
    assert "attr_channel" in bundle.card.features
    assert bundle.card.cutoffs.test == str(days[-1].date())
    models = set(result.evaluation["model"])
    assert {"bgnbd", "recency_rule", "bgnbd_gamma_gamma", "last_period"} <= models
    assert metric(result, "churn", "lightgbm", "roc_auc") > metric(
        result, "churn", "recency_rule", "roc_auc"
    )
