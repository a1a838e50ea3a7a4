"""The input contract: canonical table and column names that every loader maps user data onto.

Everything downstream (features, labels, training, serving) reads these names and nothing else, so
a user's own column names are translated exactly once, at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["id", "datetime", "number", "text"]

CUSTOMER_ID = "customer_id"
TIMESTAMP = "timestamp"
AMOUNT = "amount"
ORDER_ID = "order_id"
QUANTITY = "quantity"
PRODUCT_ID = "product_id"
CATEGORY = "category"
DESCRIPTION = "description"
COUNTRY = "country"
SIGNUP_DATE = "signup_date"
START_DATE = "start_date"
END_DATE = "end_date"
PLAN = "plan"
MONTHLY_AMOUNT = "monthly_amount"
INTERACTION_TYPE = "type"
SCORE = "score"
AS_OF = "as_of"
CHURNED = "churned"
FUTURE_VALUE = "future_value"
CAMPAIGN_ID = "campaign_id"
ARM = "arm"
CONTACTED_AT = "contacted_at"
OFFER = "offer"
TREATMENT = "treatment"
RESPONSE = "response"

TREATMENT_VALUES = ("treatment", "treated", "1", "true", "t", "yes", "y")
"""Values of ``arm`` (and of a snapshot's ``treatment``) meaning 'offered', case-insensitive."""
CONTROL_VALUES = ("control", "holdout", "0", "false", "f", "no", "n")
"""Values meaning 'held out as control' (not contacted), case-insensitive."""

INTERACTION_TYPES = ("ticket", "nps", "csat")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input table: its canonical name, kind and whether it must be present."""

    name: str
    kind: ColumnKind
    required: bool
    description: str


@dataclass(frozen=True)
class TableSpec:
    """An input table: its name, its columns, and whether extra columns are kept (as attributes)."""

    name: str
    columns: tuple[ColumnSpec, ...]
    description: str
    keeps_extra_columns: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.required)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TRANSACTIONS = TableSpec(
    "transactions",
    (
        ColumnSpec(
            CUSTOMER_ID,
            "id",
            True,
            "Who bought. Text; float-typed ids like 12345.0 are read as 12345.",
        ),
        ColumnSpec(
            TIMESTAMP,
            "datetime",
            True,
            "When. A date or date-time; ISO 8601, with or without a UTC offset.",
        ),
        ColumnSpec(
            AMOUNT, "number", True, "Money of the line or order; negative for returns and refunds."
        ),
        ColumnSpec(
            ORDER_ID,
            "text",
            False,
            "Groups lines into orders; without it, lines with the same customer and timestamp are one order.",
        ),
        ColumnSpec(
            QUANTITY,
            "number",
            False,
            "Items on the line; negative for returns. Taken as 1 when absent.",
        ),
        ColumnSpec(PRODUCT_ID, "text", False, "Product bought, for the product features."),
        ColumnSpec(
            DESCRIPTION,
            "text",
            False,
            "Product description; identifies the product on lines without a product_id.",
        ),
        ColumnSpec(CATEGORY, "text", False, "Product category, for the category features."),
        ColumnSpec(COUNTRY, "text", False, "Where the order was placed or shipped, for `country`."),
    ),
    "One row per purchase (or order line, or return).",
)

CUSTOMERS = TableSpec(
    "customers",
    (
        ColumnSpec(CUSTOMER_ID, "id", True, "The customer."),
        ColumnSpec(
            SIGNUP_DATE,
            "datetime",
            False,
            "When the customer was acquired; tenure counts from here.",
        ),
    ),
    "One row per customer; every other column is kept as an attribute (region, channel, ...).",
    keeps_extra_columns=True,
)

SUBSCRIPTIONS = TableSpec(
    "subscriptions",
    (
        ColumnSpec(CUSTOMER_ID, "id", True, "The subscriber."),
        ColumnSpec(
            START_DATE, "datetime", True, "When this subscription (or plan period) started."
        ),
        ColumnSpec(
            END_DATE, "datetime", False, "When it ended or was cancelled; empty while it runs."
        ),
        ColumnSpec(PLAN, "text", False, "Plan name."),
        ColumnSpec(MONTHLY_AMOUNT, "number", False, "Recurring monthly price."),
    ),
    "One row per subscription period; a plan change ends one row and starts the next.",
)

INTERACTIONS = TableSpec(
    "interactions",
    (
        ColumnSpec(CUSTOMER_ID, "id", True, "The customer."),
        ColumnSpec(
            TIMESTAMP, "datetime", True, "When the ticket was opened or the survey answered."
        ),
        ColumnSpec(INTERACTION_TYPE, "text", True, "One of: ticket, nps, csat."),
        ColumnSpec(
            SCORE, "number", False, "NPS answer 0-10 or CSAT answer 1-5; empty for tickets."
        ),
    ),
    "Support tickets and survey answers (voice of the customer).",
)

SNAPSHOTS = TableSpec(
    "snapshots",
    (
        ColumnSpec(CUSTOMER_ID, "id", True, "The customer."),
        ColumnSpec(
            AS_OF,
            "datetime",
            True,
            "The day the row describes; or give one date for the whole table as `as_of:`.",
        ),
        ColumnSpec(
            CHURNED,
            "text",
            False,
            "The label: did the customer leave within horizon_days after as_of. Yes/No, 1/0, "
            "true/false or churned/active by default; see `positive` and `negative`.",
        ),
        ColumnSpec(
            FUTURE_VALUE,
            "number",
            False,
            "Optional label: what the customer spent within horizon_days after as_of.",
        ),
        ColumnSpec(
            TREATMENT,
            "text",
            False,
            "Optional: the row is part of a randomized retention test run at as_of, 1 = offered, "
            "0 = held out as control (also treatment/control, yes/no, true/false); empty = not "
            "in the test. Not a feature.",
        ),
        ColumnSpec(
            CAMPAIGN_ID,
            "text",
            False,
            "Optional, with treatment: which test the row belongs to, when one table holds "
            "several; without it, each as_of day is one test. Not a feature.",
        ),
        ColumnSpec(
            CONTACTED_AT,
            "datetime",
            False,
            "Optional, with treatment: the day the offer was made (or withheld); empty = the "
            "as_of day. A row contacted before its as_of is not used for uplift. Not a feature.",
        ),
        ColumnSpec(
            RESPONSE,
            "text",
            False,
            "Optional, with treatment: the test's good outcome when it is not staying (visited, "
            "renewed, bought; yes/no, 1/0, true/false). Uplift models learn it instead of "
            "1 - churned. Not a feature.",
        ),
    ),
    "A labelled CRM export: one row per customer and as_of day with a churned flag; every "
    "other column becomes a typed attribute feature.",
    keeps_extra_columns=True,
)

TREATMENTS = TableSpec(
    "treatments",
    (
        ColumnSpec(CUSTOMER_ID, "id", True, "The customer assigned."),
        ColumnSpec(
            CAMPAIGN_ID,
            "id",
            True,
            "The campaign (or test); float-typed ids like 12.0 are read as 12.",
        ),
        ColumnSpec(
            ARM,
            "text",
            True,
            "treatment or control (also 1/0, true/false, yes/no; any case). Control customers "
            "were held out at random and not contacted.",
        ),
        ColumnSpec(
            CONTACTED_AT,
            "datetime",
            True,
            "When the customer was contacted (or, for control, would have been); outcomes are "
            "measured over the horizon after this day.",
        ),
        ColumnSpec(OFFER, "text", False, "The offer made, e.g. '10% off'."),
    ),
    "One row per customer and campaign: who was offered a retention treatment and who was held "
    "out as control, in campaigns run in the CRM or recorded by `retain campaign`.",
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (TRANSACTIONS, CUSTOMERS, SUBSCRIPTIONS, INTERACTIONS, SNAPSHOTS, TREATMENTS)
}

SCORE_RANGES: dict[str, tuple[float, float]] = {"nps": (0.0, 10.0), "csat": (1.0, 5.0)}
"""Valid survey answer ranges, by interaction type."""

ATTRIBUTE_PREFIX = "attr_"
"""Customer-table attributes become features named ``attr_<column>``."""
