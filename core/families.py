"""The feature families: the names an experiment config's ``families`` may list, and their tables.

The config validates ``families`` against these names; ``features.catalogue`` lists each family's
features under them.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.schema import CATEGORY, COUNTRY, DESCRIPTION, PRODUCT_ID


@dataclass(frozen=True)
class Family:
    """A group of features computed together from one input table."""

    name: str
    source: str
    description: str
    needs: tuple[str, ...] = ()
    """Optional columns of ``source``, at least one of which must carry a value in the data for
    the family to be built by default (product, category, country of an order-line log)."""


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("btyd", "transactions", "BTYD summary as lifetimes defines it, in days."),
        Family("rfm", "transactions", "Recency, frequency and monetary value over all history."),
        Family(
            "activity",
            "transactions",
            "Orders, spend and active days over recent windows, and their trends.",
        ),
        Family(
            "gaps", "transactions", "Time between purchase days, and how overdue the next one is."
        ),
        Family("basket", "transactions", "Basket size, product and category diversity, returns."),
        Family(
            "products",
            "transactions",
            "Order lines by product: lines per order, basket-size trend, repeat purchases of a "
            "product and returns by product; built when the log has product ids or descriptions.",
            (PRODUCT_ID, DESCRIPTION),
        ),
        Family(
            "categories",
            "transactions",
            "The customer's top category and its share of spend; built when the log has categories.",
            (CATEGORY,),
        ),
        Family(
            "country",
            "transactions",
            "The country of the customer's latest order line; built when the log has countries.",
            (COUNTRY,),
        ),
        Family(
            "season",
            "transactions",
            "The cutoff's week of the year, and what the customer bought a year earlier in the "
            "window the forecast looks at.",
        ),
        Family(
            "profile",
            "customers",
            "Tenure and the customer's attributes (one attr_<column> per column).",
        ),
        Family(
            "subscription",
            "subscriptions",
            "Plan, price, tenure and plan changes; contractual businesses.",
        ),
        Family("voice", "interactions", "Support tickets and NPS/CSAT survey answers."),
    )
}
