"""Synthetic exports shaped like the ones users bring: a classic retail log and two telecom CRM
tables, small, seeded, with the real files' column names and formats and a planted churn signal."""

from __future__ import annotations

import numpy as np
import pandas as pd

STATES = ["CA", "NY", "TX", "OH", "WA", "NJ"]


def retail_log(customers: int = 300, seed: int = 0) -> pd.DataFrame:
    """InvoiceNo, StockCode, Description, Quantity, InvoiceDate (``12/1/2010 8:26``),
    UnitPrice, CustomerID (``17850.0``, blank on some rows), Country; cancellations are
    ``C``-invoices with negative quantities. Each customer buys at a rate until a planted
    dropout day, so recent buyers stay and lapsed ones churn."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2010-12-01 08:00")
    days = 373  # to 2011-12-09, as the classic file
    rows = []
    invoice = 536365
    products = [(f"{85000 + i}{'AB'[i % 2]}", f"PRODUCT {i}", 0.85 + 0.5 * i) for i in range(20)]
    for c in range(customers):
        cid = f"{12346 + c}.0"
        rate = rng.gamma(2.0, 1 / 40)  # purchases per day
        dropout = rng.uniform(30, days * 1.6)
        t = rng.uniform(0, 40)
        while t < min(days, dropout):
            when = start + pd.Timedelta(days=float(t)) + pd.Timedelta(hours=int(rng.integers(0, 9)))
            invoice += 1
            for _ in range(int(rng.integers(1, 4))):
                code, text, price = products[int(rng.integers(0, len(products)))]
                quantity = int(rng.integers(1, 13))
                rows.append(
                    (str(invoice), code, text, quantity, when, price, cid, "United Kingdom")
                )
                if rng.random() < 0.04:  # a cancellation of that line
                    rows.append(
                        (f"C{invoice}", code, text, -quantity, when, price, cid, "United Kingdom")
                    )
            t += rng.exponential(1 / rate)
    for k in range(40):  # guest checkouts: no customer id
        when = start + pd.Timedelta(days=float(rng.uniform(0, days)))
        rows.append((str(600000 + k), "POST", "POSTAGE", 1, when, 18.0, "", "France"))
    frame = pd.DataFrame(
        rows,
        columns=[
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
    ).sort_values("InvoiceDate", kind="stable")
    stamp = frame["InvoiceDate"]
    frame["InvoiceDate"] = (
        stamp.dt.month.astype(str)
        + "/"
        + stamp.dt.day.astype(str)
        + "/"
        + stamp.dt.year.astype(str)
        + " "
        + stamp.dt.hour.astype(str)
        + ":"
        + stamp.dt.minute.map("{:02d}".format)
    )
    return frame.reset_index(drop=True)


def ibm_telco(customers: int = 800, seed: int = 1) -> pd.DataFrame:
    """The IBM-style telecom CRM export: customerID, ..., Contract, MonthlyCharges,
    TotalCharges (blank for new customers), Churn Yes/No; churn planted on the contract,
    tenure and fibre service."""
    rng = np.random.default_rng(seed)
    n = customers
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    ids = [f"{rng.integers(1000, 9999)}-{''.join(rng.choice(letters, 5))}{i}" for i in range(n)]
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.25, 0.2])
    tenure = rng.integers(0, 73, n)
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.35, 0.45, 0.2])
    monthly = np.round(
        20 + 30 * (internet == "DSL") + 60 * (internet == "Fiber optic") + rng.normal(0, 5, n), 2
    )
    total = np.where(tenure == 0, " ", np.round(monthly * tenure, 2).astype(str))
    logit = (
        -1.2
        + 1.8 * (contract == "Month-to-month")
        - 1.2 * (contract == "Two year")
        - 0.04 * tenure
        + 0.8 * (internet == "Fiber optic")
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    yes_no = np.array(["No", "Yes"])
    return pd.DataFrame(
        {
            "customerID": ids,
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": rng.choice([0, 1], n, p=[0.84, 0.16]),
            "Partner": yes_no[rng.integers(0, 2, n)],
            "Dependents": yes_no[rng.integers(0, 2, n)],
            "tenure": tenure,
            "PhoneService": yes_no[(rng.random(n) < 0.9).astype(int)],
            "InternetService": internet,
            "Contract": contract,
            "PaperlessBilling": yes_no[rng.integers(0, 2, n)],
            "PaymentMethod": rng.choice(
                ["Electronic check", "Mailed check", "Bank transfer (automatic)"], n
            ),
            "MonthlyCharges": monthly,
            "TotalCharges": total,
            "Churn": yes_no[churn.astype(int)],
        }
    )


def telecom_churn(customers: int = 800, seed: int = 2) -> pd.DataFrame:
    """The 3,333-row style telecom export: State, Account length, Area code, plans, minutes,
    calls and charges per period, Customer service calls, Churn True/False; no id and no date
    column. Churn planted on service calls, the international plan and day minutes."""
    rng = np.random.default_rng(seed)
    n = customers
    day_minutes = np.round(rng.normal(180, 50, n).clip(0), 1)
    calls = rng.poisson(1.5, n)
    intl = rng.random(n) < 0.1
    logit = -3.0 + 0.9 * (calls >= 4) * calls / 2 + 1.5 * intl + 0.012 * (day_minutes - 180)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "State": rng.choice(STATES, n),
            "Account length": rng.integers(1, 240, n),
            "Area code": rng.choice([408, 415, 510], n),
            "International plan": np.where(intl, "yes", "no"),
            "Voice mail plan": rng.choice(["yes", "no"], n, p=[0.28, 0.72]),
            "Number vmail messages": rng.poisson(8, n),
            "Total day minutes": day_minutes,
            "Total day calls": rng.poisson(100, n),
            "Total day charge": np.round(day_minutes * 0.17, 2),
            "Total eve minutes": np.round(rng.normal(200, 50, n).clip(0), 1),
            "Total night minutes": np.round(rng.normal(200, 50, n).clip(0), 1),
            "Customer service calls": calls,
            "Churn": np.where(churn, "True", "False"),
        }
    )
    return frame


def with_partial_leak(export: pd.DataFrame, seed: int = 3, right: float = 0.8) -> pd.DataFrame:
    """``export`` (``ibm_telco``) with ``BilledNextQuarter``: revenue billed after the export day,
    a post-outcome field that follows the outcome for a ``right`` share of customers (churners
    billed 0 to 200, stayers 100 to 400) and is drawn at random for the others: alone its
    churn ROC-AUC is about 0.83, under the single-column limits."""
    rng = np.random.default_rng(seed)
    churned = (export["Churn"] == "Yes").to_numpy()
    informed = rng.random(len(export)) < right
    billed = np.where(
        informed,
        np.where(churned, rng.uniform(0, 200, len(export)), rng.uniform(100, 400, len(export))),
        rng.uniform(0, 400, len(export)),
    )
    return export.assign(BilledNextQuarter=np.round(billed, 2))


def with_ratio_leak(export: pd.DataFrame, seed: int = 4, right: float = 0.8) -> pd.DataFrame:
    """``export`` (``ibm_telco``) with ``YearRevenue`` = MonthlyCharges x months billed in the year
    that includes the horizon: 12 for stayers, 6 to 12 for churners (billing stopped when they
    left), for a ``right`` share of customers; 1 to 12 at random for the others. Alone it mostly
    says the monthly charge (ROC-AUC about 0.7); divided by it, about 0.82."""
    rng = np.random.default_rng(seed)
    n = len(export)
    churned = (export["Churn"] == "Yes").to_numpy()
    informed = rng.random(n) < right
    months = np.where(
        informed, np.where(churned, rng.integers(6, 13, n), 12), rng.integers(1, 13, n)
    )
    return export.assign(YearRevenue=np.round(export["MonthlyCharges"] * months, 2))
