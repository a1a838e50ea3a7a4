"""A seeded synthetic CRM export (a telecom-style base) with planted churn drivers, for the demo
and for tests of labelled snapshot tables.

One row per customer and month-end ``as_of`` with a ``Churn`` flag (Yes/No: left within the next
``horizon_days``), the revenue of that window, and attributes as a real export holds them:
numbers, yes/no flags, 0/1 flags, a date, categories with a rare level, numbers stored as text with
blank cells, an e-mail column (an identifier) and a constant column. Planted drivers of the
monthly churn hazard: contract type, tenure, support calls, internet service, payment method,
monthly charges, partner and senior citizen; gender and region are noise. The true churn
probability of each row is saved in the truth table.

``make_crm_offer`` exports the same base with a past randomized retention offer (two waves of one
campaign, in ``Campaign``, ``RetentionOffer`` and ``OfferDate`` columns) and a planted,
heterogeneous effect: persuadables (month-to-month, a few support calls, under two years) churn
far less when offered; lost causes (four or more calls) and sure things (one- and two-year
contracts) do not change; sleeping dogs (month-to-month for two years or more, no calls) churn
more, reminded to shop around. The customers most likely to stay when offered (the response a
response model learns) are the sure things, and the likeliest to leave are the lost causes, so
neither a response model nor churn risk finds the persuadables. The true effect of each row is
kept in a separate truth table, never in the export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CONTRACTS = ("Month-to-month", "One year", "Two year")
CONTRACT_SHARE = (0.55, 0.25, 0.20)
CONTRACT_LOGIT = {"Month-to-month": 0.9, "One year": -0.4, "Two year": -1.3}
INTERNET = ("DSL", "Fiber optic", "No")
INTERNET_SHARE = (0.35, 0.45, 0.20)
INTERNET_LOGIT = {"DSL": 0.0, "Fiber optic": 0.55, "No": -0.5}
PAYMENT = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)
PAYMENT_SHARE = (0.34, 0.22, 0.22, 0.22)
PAYMENT_LOGIT = {
    "Electronic check": 0.45,
    "Mailed check": 0.0,
    "Bank transfer (automatic)": -0.2,
    "Credit card (automatic)": -0.2,
}
REGIONS = ("North", "South", "East", "West", "Central", "Islands")
REGION_SHARE = (0.25, 0.25, 0.2, 0.2, 0.097, 0.003)
DRIVERS = (
    "Contract",
    "tenure",
    "SupportCalls90d",
    "InternetService",
    "PaymentMethod",
    "MonthlyCharges",
)
"""The planted drivers, strongest first (by their share of the hazard's variance)."""
NOISE = ("gender", "Region")


SEGMENT_EFFECT = {
    "persuadable": 0.7,
    "lost cause": 0.0,
    "sure thing": 0.0,
    "sleeping dog": -0.12,
    "other": 0.1,
}
"""Planted offer effect per segment: the share of the churn probability the offer removes (a
sleeping dog's is an absolute rise of 12 points in its churn probability instead)."""
SEGMENT_RISK = {"lost cause": 1.2, "persuadable": -0.4, "sleeping dog": 0.3}
"""Shift of each segment's churn logit without the offer: lost causes are the likeliest to leave,
so ranking by churn risk spends the budget on them first."""
OFFER_WAVES = (("june_save_wave1", 1), ("june_save_wave2", 3))
"""The campaign's two waves: id, and days after as_of the offer was made."""


@dataclass(frozen=True)
class CrmExport:
    """The export and, per row, the true probability of the churn it records."""

    snapshots: pd.DataFrame
    truth: pd.DataFrame


def make_crm(
    customers: int = 5000,
    *,
    months: int = 1,
    horizon_days: int = 90,
    seed: int = 42,
    first_as_of: str = "2024-06-30",
) -> CrmExport:
    """``customers`` accounts observed at ``months`` month ends; churners leave, new ones join.

    A customer churned at one month end is gone from the next; as many new customers join, so
    each snapshot holds about ``customers`` rows. With ``months=1`` the table has one as_of.
    """
    rng = np.random.default_rng(seed)
    months_ahead = horizon_days / 30.4
    ends = pd.date_range(pd.Timestamp(first_as_of), periods=months, freq="ME")
    base = _new_accounts(customers, rng, start_id=1, as_of=ends[0])
    frames, truths = [], []
    next_id = customers + 1
    for m, as_of in enumerate(ends):
        if m:
            base["tenure"] += 1
            base["SupportCalls90d"] = rng.poisson(base["_call_rate"].to_numpy() * 3)
        hazard = _monthly_hazard(base)
        p_churn = 1 - (1 - hazard) ** months_ahead
        churned = rng.random(len(base)) < p_churn
        months_kept = np.where(churned, rng.uniform(0, months_ahead, len(base)), months_ahead)
        value = base["MonthlyCharges"].to_numpy() * months_kept * rng.lognormal(0, 0.1, len(base))
        frames.append(_export(base, as_of, churned, value, rng))
        truths.append(
            pd.DataFrame(
                {
                    "customerID": base["customerID"].to_numpy(),
                    "as_of": as_of.date().isoformat(),
                    "p_churn": p_churn,
                    "churned": churned.astype(int),
                }
            )
        )
        # who left before the next month end: a share of this row's churners, by the hazard
        gone = rng.random(len(base)) < hazard
        stay = base.loc[~gone].reset_index(drop=True)
        joiners = _new_accounts(int(gone.sum()), rng, start_id=next_id, as_of=as_of, new=True)
        next_id += len(joiners)
        base = pd.concat([stay, joiners], ignore_index=True)
    return CrmExport(pd.concat(frames, ignore_index=True), pd.concat(truths, ignore_index=True))


def make_crm_offer(
    customers: int = 5000,
    *,
    horizon_days: int = 90,
    seed: int = 42,
    as_of: str = "2024-06-30",
    tested_share: float = 0.9,
) -> CrmExport:
    """One as_of export whose outcome followed a randomized retention offer.

    ``tested_share`` of the customers are in the test (half offered, half held out as control,
    at random; each in one of two waves); the rest have empty test columns. ``truth`` holds per
    tested customer ``customer_id``, ``campaign_id``, ``segment``, ``p_churn_control``,
    ``p_churn_treated``, ``true_churn_effect`` (the reduction in churn probability),
    ``value_control`` and ``true_value_effect`` (expected revenue without the offer and what the
    offer adds over the horizon): the columns ``training.uplift_eval.add_truth`` reads.
    """
    rng = np.random.default_rng(seed)
    day = pd.Timestamp(as_of)
    months_ahead = horizon_days / 30.4
    base = _new_accounts(customers, rng, start_id=1, as_of=day)
    segment = offer_segments(base)
    shift = pd.Series(segment).map(SEGMENT_RISK).fillna(0.0).to_numpy()
    hazard = 1 / (1 + np.exp(-(np.log(_odds(_monthly_hazard(base))) + shift)))
    p_control = 1 - (1 - hazard) ** months_ahead
    share = pd.Series(segment).map(SEGMENT_EFFECT).to_numpy()
    p_treated = np.where(
        segment == "sleeping dog", p_control - share, p_control * (1 - share)
    ).clip(0.0, 1.0)
    tested = rng.random(customers) < tested_share
    offered = tested & (rng.random(customers) < 0.5)
    wave = rng.integers(0, len(OFFER_WAVES), customers)
    churned = rng.random(customers) < np.where(offered, p_treated, p_control)
    months_kept = np.where(churned, rng.uniform(0, months_ahead, customers), months_ahead)
    noise = rng.lognormal(0, 0.1, customers)
    value = base["MonthlyCharges"].to_numpy() * months_kept * noise
    export = _export(base, day, churned, value, rng)
    ids = np.array([w[0] for w in OFFER_WAVES])[wave]
    lag = np.array([w[1] for w in OFFER_WAVES])[wave]
    contacted = (day + pd.to_timedelta(lag, unit="D")).strftime("%Y-%m-%d").to_numpy()
    export.insert(len(export.columns) - 2, "Campaign", np.where(tested, ids, ""))
    export.insert(
        len(export.columns) - 2,
        "RetentionOffer",
        np.where(tested, np.where(offered, "treatment", "control"), ""),
    )
    export.insert(len(export.columns) - 2, "OfferDate", np.where(tested, contacted, ""))
    # expected revenue: a stayer pays the whole horizon, a churner half of it on average
    full = base["MonthlyCharges"].to_numpy() * months_ahead * np.exp(0.005)
    truth = pd.DataFrame(
        {
            "customer_id": base["customerID"].to_numpy(),
            "campaign_id": ids,
            "segment": segment,
            "p_churn_control": p_control,
            "p_churn_treated": p_treated,
            "true_churn_effect": p_control - p_treated,
            "value_control": full * (1 - p_control / 2),
            "true_value_effect": full * (p_control - p_treated) / 2,
        }
    ).loc[tested]
    return CrmExport(export, truth.reset_index(drop=True))


def _odds(p: np.ndarray) -> np.ndarray:
    return p / (1 - p)


def offer_segments(base: pd.DataFrame) -> np.ndarray:
    """Each account's planted response to the offer: persuadable, lost cause, sure thing,
    sleeping dog or other."""
    month_to_month = base["Contract"].to_numpy() == "Month-to-month"
    calls = base["SupportCalls90d"].to_numpy()
    tenure = base["tenure"].to_numpy()
    return np.select(
        [
            ~month_to_month,
            (calls >= 3) | (tenure < 6),
            (calls >= 1) & (tenure < 36),
            (calls == 0) & (tenure >= 12),
        ],
        ["sure thing", "lost cause", "persuadable", "sleeping dog"],
        "other",
    )


def _new_accounts(
    n: int, rng: np.random.Generator, *, start_id: int, as_of: pd.Timestamp, new: bool = False
) -> pd.DataFrame:
    contract = rng.choice(CONTRACTS, n, p=CONTRACT_SHARE)
    long_contract = contract != "Month-to-month"
    tenure = np.where(
        long_contract, rng.integers(1, 72, n), rng.geometric(1 / 14, n).clip(0, 72)
    ).astype(np.int64)
    if new:  # joined this month
        tenure[:] = 0
    internet = rng.choice(INTERNET, n, p=INTERNET_SHARE)
    base_price = np.select([internet == "Fiber optic", internet == "DSL"], [80.0, 55.0], 22.0)
    monthly = np.round(base_price + rng.normal(0, 10, n).clip(-15, 35), 2)
    call_rate = rng.gamma(1.2, 0.35, n)
    ids = np.char.add("C", np.char.zfill(np.arange(start_id, start_id + n).astype(str), 7))
    start = as_of - pd.to_timedelta(tenure * 30.4 + rng.integers(0, 28, n), unit="D")
    return pd.DataFrame(
        {
            "customerID": ids,
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": (rng.random(n) < 0.16).astype(int),
            "Partner": rng.choice(["Yes", "No"], n),
            "tenure": tenure,
            "Contract": contract,
            "ContractStart": start.normalize(),
            "PaperlessBilling": rng.choice(["Yes", "No"], n, p=[0.6, 0.4]),
            "PaymentMethod": rng.choice(PAYMENT, n, p=PAYMENT_SHARE),
            "InternetService": internet,
            "MonthlyCharges": monthly,
            "SupportCalls90d": rng.poisson(call_rate * 3),
            "Region": rng.choice(REGIONS, n, p=REGION_SHARE),
            "_call_rate": call_rate,
        }
    )


def _monthly_hazard(base: pd.DataFrame) -> np.ndarray:
    """The planted monthly churn hazard of each account: additive effects plus the thresholds and
    interactions real bases show (a linear model sees only part of them)."""
    tenure = base["tenure"].to_numpy()
    calls = base["SupportCalls90d"].to_numpy()
    charges = base["MonthlyCharges"].to_numpy()
    month_to_month = base["Contract"].to_numpy() == "Month-to-month"
    fiber = base["InternetService"].to_numpy() == "Fiber optic"
    logit = (
        -3.8
        + base["Contract"].map(CONTRACT_LOGIT).to_numpy()
        + np.where(tenure < 6, 1.4, np.where(tenure < 18, 0.3, 0.0))  # the first months
        + np.where(calls >= 4, 1.8, 0.1 * calls)  # a fourth call in 90 days tips them
        + base["InternetService"].map(INTERNET_LOGIT).to_numpy()
        + 1.0 * (month_to_month & fiber)
        - 0.5 * (~month_to_month & fiber)  # fibre customers without a contract shop around
        + base["PaymentMethod"].map(PAYMENT_LOGIT).to_numpy()
        + 0.9 * (np.abs(charges - 65) > 25)  # the cheapest and the dearest plans
        - 0.25 * (base["Partner"].to_numpy() == "Yes")
        + 0.2 * base["SeniorCitizen"].to_numpy()
    )
    return 1 / (1 + np.exp(-logit))


def _export(
    base: pd.DataFrame,
    as_of: pd.Timestamp,
    churned: np.ndarray,
    value: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The rows as a CRM exports them: text flags, charges as text with blanks, an e-mail."""
    total = base["MonthlyCharges"].to_numpy() * base["tenure"].to_numpy()
    total_text = np.where(base["tenure"].to_numpy() <= 1, " ", np.char.mod("%.2f", total))
    return pd.DataFrame(
        {
            "customerID": base["customerID"].to_numpy(),
            "as_of": as_of.date().isoformat(),
            "gender": base["gender"].to_numpy(),
            "SeniorCitizen": base["SeniorCitizen"].to_numpy(),
            "Partner": base["Partner"].to_numpy(),
            "tenure": base["tenure"].to_numpy(),
            "Contract": base["Contract"].to_numpy(),
            "ContractStart": base["ContractStart"].dt.strftime("%Y-%m-%d").to_numpy(),
            "PaperlessBilling": base["PaperlessBilling"].to_numpy(),
            "PaymentMethod": base["PaymentMethod"].to_numpy(),
            "InternetService": base["InternetService"].to_numpy(),
            "MonthlyCharges": base["MonthlyCharges"].to_numpy(),
            "TotalCharges": total_text,
            "SupportCalls90d": base["SupportCalls90d"].to_numpy(),
            "Region": base["Region"].to_numpy(),
            "Email": np.char.add(
                np.char.lower(base["customerID"].to_numpy().astype(str)), "@example.com"
            ),
            "Country": "Freedonia",
            "Churn": np.where(churned, "Yes", "No"),
            "Revenue90d": np.round(value, 2),
        }
    )
