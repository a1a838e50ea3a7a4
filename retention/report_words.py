"""The report's words: model and metric names a business reader understands, and the glossary.

Training names candidates and metrics by short keys (``bgnbd``, ``empc_fraction``); the report
shows these names instead: models' from the name registry ``core.names`` (a test fails when a
candidate has none), metrics' from here. An unknown key is shown as it is.
"""

from __future__ import annotations

from core.names import plain_name
from core.risk_tiers import RiskTiers
from model.value_at_risk import STAY_FLOOR

METRIC_NAMES = {
    "roc_auc": "ranking quality (ROC-AUC: 0.5 is a coin toss, 1 is perfect)",
    "pr_auc": "precision-recall area (PR-AUC: higher is better)",
    "brier": "Brier score (squared error of the probabilities: lower is better)",
    "log_loss": "log loss (lower is better)",
    "lift_10": "lift in the top 10% (churn rate there over the average)",
    "capture_10": "share of leavers found in the top 10%",
    "empc": "expected maximum profit of a campaign, per customer (EMPC)",
    "empc_fraction": "share of customers to contact for that profit",
    "gini": "ranking quality of value (normalised Gini: 1 is perfect)",
    "spearman": "rank correlation of predicted and actual value",
    "mae": "mean absolute error of value",
    "rmse": "root mean squared error of value",
    "decile_mape": "mean error of value per tenth of customers (share)",
    "top_decile_share": "share of value in the top tenth by prediction",
}


def model_name(key: str) -> str:
    """A candidate's plain name from the one name registry (``core.names``)."""
    return plain_name(key)


def metric_name(key: str) -> str:
    """A metric's plain name with how to read it; unknown keys as they are."""
    return METRIC_NAMES.get(key, key)


def glossary(
    horizon_days: int, gross_margin: float, currency: str, tiers: RiskTiers | None = None
) -> list[tuple[str, str]]:
    """(term, meaning) pairs for the report's glossary, with this run's horizon, margin and
    risk tiers."""
    tiers = tiers or RiskTiers()
    times = round(1 / STAY_FLOOR)
    return [
        (
            "Leaving (churn)",
            f"No purchase in the next {horizon_days} days (for subscriptions: no subscription "
            f"running at the end of the {horizon_days} days).",
        ),
        (
            "Chance of leaving",
            f"The churn model's probability that the customer leaves in the next {horizon_days} "
            "days. Calibrated: of customers shown at 30%, about 30 in 100 leave.",
        ),
        (
            "Risk tier",
            f"A fixed chance of leaving, the same for every customer ({tiers.words()}); set by "
            "risk_tiers in the configuration and packaged with the models.",
        ),
        (
            "Expected spend (CLV)",
            f"What the customer is expected to spend in the next {horizon_days} days, counting "
            "the chance that they leave and spend nothing.",
        ),
        (
            "Value if staying",
            f"What the customer would spend in the next {horizon_days} days if they stay: "
            f"expected spend divided by the chance of staying (at most {times} times the "
            "expected spend, so that near-certain leavers are not blown up).",
        ),
        (
            "Value at risk",
            f"Gross profit lost if the customer leaves, weighted by the chance they do: chance "
            f"of leaving x value if staying x gross margin ({gross_margin:.0%}). In {currency}.",
        ),
        (
            "Gross margin",
            f"The share of revenue kept as gross profit ({gross_margin:.0%}, from the "
            "configuration's economics): every amount a decision rests on is profit, not revenue.",
        ),
        (
            "Accounts at risk",
            "Customers at medium or high risk; the key figures sum their value at risk. Whom to "
            "call first is the campaign's decision: expected gain of the contact, which can "
            "favour a valuable medium-risk customer over a high-risk one.",
        ),
        (
            "Expected gain of a contact",
            "What contacting the customer is expected to return, net of the offer and the "
            "contact: with an uplift model, the offer's expected incremental profit; without one, "
            "chance of leaving x assumed acceptance x value at the gross margin, less costs. A "
            "campaign contacts only customers with a positive gain, highest per unit spent first.",
        ),
        (
            "What raises the risk",
            "For each account, the customer facts that push their chance of leaving up the most "
            "(the model's largest contributions: TreeSHAP for trees, coefficient × standardized "
            "value for logistic regression); facts that lower it are not listed.",
        ),
        (
            "Test period",
            "A past date the models never saw while training: how well they did on what "
            "happened after it is the evidence for trusting them now.",
        ),
        (
            "Calibration",
            "Whether predicted chances match what happened: a model predicting 40% on average "
            "when 43% left is biased by 3 points.",
        ),
    ]
