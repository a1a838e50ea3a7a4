"""The feature catalogue: every feature's name, meaning, dtype, source table, window and family.

This is the one machine-readable place that says what each feature is. ``retain features --list``
prints it, ``docs/FEATURES.md`` is generated from it, and the builders are checked against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from core.families import FAMILIES
from core.schema import ATTRIBUTE_PREFIX

Dtype = Literal["float", "int", "category"]

WINDOWS = (30, 90, 180, 365)
"""Activity windows in days, each ending on (and including) the cutoff day."""
TREND_WINDOWS = (30, 90, 180)
"""Windows whose activity is compared with the window of the same length just before it."""
TICKET_WINDOWS = (30, 90)


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: what it is and where it comes from."""

    name: str
    family: str
    dtype: Dtype
    source: str
    window: str
    description: str


def _transaction_features() -> list[FeatureSpec]:
    all_time = "all history to the cutoff"
    specs = [
        FeatureSpec(
            "btyd_frequency",
            "btyd",
            "float",
            "transactions",
            all_time,
            "Repeat purchase days: distinct days with a purchase, minus one.",
        ),
        FeatureSpec(
            "btyd_recency",
            "btyd",
            "float",
            "transactions",
            all_time,
            "Days from the first to the last purchase day (0 with one purchase day).",
        ),
        FeatureSpec(
            "btyd_T",
            "btyd",
            "float",
            "transactions",
            all_time,
            "Days from the first purchase day to the cutoff (the customer's age).",
        ),
        FeatureSpec(
            "btyd_monetary_value",
            "btyd",
            "float",
            "transactions",
            all_time,
            "Mean spend of the repeat purchase days (first day excluded); 0 without repeats.",
        ),
        FeatureSpec(
            "days_since_last_purchase",
            "rfm",
            "float",
            "transactions",
            all_time,
            "Days from the last purchase day to the cutoff; empty if never bought.",
        ),
        FeatureSpec(
            "orders_total",
            "rfm",
            "float",
            "transactions",
            all_time,
            "Orders placed (order_id, else one per customer and timestamp); returns excluded.",
        ),
        FeatureSpec(
            "spend_total",
            "rfm",
            "float",
            "transactions",
            all_time,
            "Net spend: purchases minus returns.",
        ),
        FeatureSpec(
            "avg_order_value",
            "rfm",
            "float",
            "transactions",
            all_time,
            "Gross purchase value per order; empty without orders.",
        ),
    ]
    for w in WINDOWS:
        window = f"last {w} days"
        specs += [
            FeatureSpec(
                f"orders_{w}d",
                "activity",
                "float",
                "transactions",
                window,
                f"Orders in the last {w} days.",
            ),
            FeatureSpec(
                f"spend_{w}d",
                "activity",
                "float",
                "transactions",
                window,
                f"Net spend in the last {w} days.",
            ),
            FeatureSpec(
                f"active_days_{w}d",
                "activity",
                "float",
                "transactions",
                window,
                f"Distinct purchase days in the last {w} days.",
            ),
        ]
    for w in TREND_WINDOWS:
        window = f"last {w} days vs the {w} before"
        specs += [
            FeatureSpec(
                f"orders_trend_{w}d",
                "activity",
                "float",
                "transactions",
                window,
                f"Orders in the last {w} days divided by orders in the {w} days before; "
                "empty if there were none before.",
            ),
            FeatureSpec(
                f"spend_trend_{w}d",
                "activity",
                "float",
                "transactions",
                window,
                f"Net spend in the last {w} days divided by that of the {w} days before; "
                "empty if there was none before.",
            ),
        ]
    specs += [
        FeatureSpec(
            "gap_mean_days",
            "gaps",
            "float",
            "transactions",
            all_time,
            "Mean days between consecutive purchase days; needs two purchase days.",
        ),
        FeatureSpec(
            "gap_std_days",
            "gaps",
            "float",
            "transactions",
            all_time,
            "Standard deviation of the days between purchase days; needs three purchase days.",
        ),
        FeatureSpec(
            "gap_last_days",
            "gaps",
            "float",
            "transactions",
            all_time,
            "Days between the last two purchase days.",
        ),
        FeatureSpec(
            "overdue_ratio",
            "gaps",
            "float",
            "transactions",
            all_time,
            "Days since the last purchase divided by the mean gap: above 1 means overdue.",
        ),
        FeatureSpec(
            "items_per_order",
            "basket",
            "float",
            "transactions",
            all_time,
            "Items bought per order (quantity, 1 per line when absent).",
        ),
        FeatureSpec(
            "distinct_products",
            "basket",
            "float",
            "transactions",
            all_time,
            "Distinct products bought; empty if none of the customer's purchases has a product_id.",
        ),
        FeatureSpec(
            "distinct_categories",
            "basket",
            "float",
            "transactions",
            all_time,
            "Distinct categories bought; empty if none of the customer's purchases has a category.",
        ),
        FeatureSpec(
            "return_rows_share",
            "basket",
            "float",
            "transactions",
            all_time,
            "Share of the customer's lines that are returns (negative amount or quantity).",
        ),
        FeatureSpec(
            "return_value_share",
            "basket",
            "float",
            "transactions",
            all_time,
            "Value returned divided by value bought.",
        ),
    ]
    return specs


BASKET_TREND_WINDOW = 90
"""Window in days whose items per order are compared with those of the window just before it."""


def _product_features() -> list[FeatureSpec]:
    all_time = "all history to the cutoff"
    trend = f"last {BASKET_TREND_WINDOW} days vs the {BASKET_TREND_WINDOW} before"
    latest = "the latest line to the cutoff"
    return [
        FeatureSpec(
            "lines_per_order",
            "products",
            "float",
            "transactions",
            all_time,
            "Purchase lines per order: basket size in distinct lines; empty without orders.",
        ),
        FeatureSpec(
            f"items_per_order_trend_{BASKET_TREND_WINDOW}d",
            "products",
            "float",
            "transactions",
            trend,
            f"Items per order in the last {BASKET_TREND_WINDOW} days divided by items per order "
            f"in the {BASKET_TREND_WINDOW} days before (below 1: baskets shrink); empty when "
            "either window has no order.",
        ),
        FeatureSpec(
            "repeat_product_share",
            "products",
            "float",
            "transactions",
            all_time,
            "Share of the distinct products bought that were bought again on a later day; empty "
            "without a product_id (or description) on the customer's purchases.",
        ),
        FeatureSpec(
            "product_repeat_days_median",
            "products",
            "float",
            "transactions",
            all_time,
            "Median, over the products bought on two or more days, of the days from a product's "
            "first purchase to its second (how fast a consumable is bought again); empty without "
            "a repeat.",
        ),
        FeatureSpec(
            "product_return_share",
            "products",
            "float",
            "transactions",
            all_time,
            "Share of the distinct products bought of which some quantity was returned (a return "
            "line with the same product).",
        ),
        FeatureSpec(
            "top_category",
            "categories",
            "category",
            "transactions",
            all_time,
            "The category with the most purchase spend (ties: the first by name); empty without "
            "a category on the customer's purchases.",
        ),
        FeatureSpec(
            "top_category_spend_share",
            "categories",
            "float",
            "transactions",
            all_time,
            "That category's share of the spend on purchase lines with a category (1: one "
            "category only).",
        ),
        FeatureSpec(
            "country",
            "country",
            "category",
            "transactions",
            latest,
            "Country of the customer's latest line that names one.",
        ),
    ]


SEASON_WINDOW = 90
"""Length in days of the year-ago window: (cutoff - 365, cutoff - 365 + 90], the default horizon."""


def _season_features() -> list[FeatureSpec]:
    year_ago = f"({SEASON_WINDOW}-day window starting 365 days before the cutoff)"
    week = "the cutoff day's ISO week of the year"
    return [
        FeatureSpec(
            "cutoff_week_sin",
            "season",
            "float",
            "transactions",
            "at the cutoff",
            f"sin(2 pi week / 52.1775) of {week}: with the cosine, a point on the year's circle, "
            "so late December sits next to early January.",
        ),
        FeatureSpec(
            "cutoff_week_cos",
            "season",
            "float",
            "transactions",
            "at the cutoff",
            f"cos(2 pi week / 52.1775) of {week}.",
        ),
        FeatureSpec(
            f"orders_year_ago_{SEASON_WINDOW}d",
            "season",
            "float",
            "transactions",
            year_ago,
            "Orders in the same season a year earlier: the window the forecast covers, one year "
            "back. Empty when the customer's first purchase is less than a year before the cutoff.",
        ),
        FeatureSpec(
            f"spend_year_ago_{SEASON_WINDOW}d",
            "season",
            "float",
            "transactions",
            year_ago,
            "Net spend in that year-ago window; empty when the history is shorter than a year.",
        ),
    ]


def _other_features() -> list[FeatureSpec]:
    all_time = "all history to the cutoff"
    specs = [
        FeatureSpec(
            "tenure_days",
            "profile",
            "float",
            "customers",
            "at the cutoff",
            "Days since signup_date, else since the first event of any kind.",
        ),
        FeatureSpec(
            "plan",
            "subscription",
            "category",
            "subscriptions",
            "at the cutoff",
            "Plan of the latest subscription started by the cutoff.",
        ),
        FeatureSpec(
            "monthly_amount",
            "subscription",
            "float",
            "subscriptions",
            "at the cutoff",
            "Monthly price of that subscription.",
        ),
        FeatureSpec(
            "subscription_active",
            "subscription",
            "float",
            "subscriptions",
            "at the cutoff",
            "1 if a subscription is running at the cutoff (ends after it count as running).",
        ),
        FeatureSpec(
            "subscription_tenure_days",
            "subscription",
            "float",
            "subscriptions",
            all_time,
            "Days since the first subscription started.",
        ),
        FeatureSpec(
            "plan_changes",
            "subscription",
            "float",
            "subscriptions",
            all_time,
            "Subscription rows started after the first one: plan changes and restarts.",
        ),
        FeatureSpec(
            "days_since_plan_change",
            "subscription",
            "float",
            "subscriptions",
            all_time,
            "Days since the latest subscription row started.",
        ),
        FeatureSpec(
            "nps_latest",
            "voice",
            "float",
            "interactions",
            all_time,
            "Latest NPS answer (0-10); empty if none.",
        ),
        FeatureSpec("nps_mean", "voice", "float", "interactions", all_time, "Mean NPS answer."),
        FeatureSpec(
            "csat_mean", "voice", "float", "interactions", all_time, "Mean CSAT answer (1-5)."
        ),
        FeatureSpec(
            "csat_latest", "voice", "float", "interactions", all_time, "Latest CSAT answer."
        ),
    ]
    for w in TICKET_WINDOWS:
        specs.append(
            FeatureSpec(
                f"tickets_{w}d",
                "voice",
                "float",
                "interactions",
                f"last {w} days",
                f"Support tickets opened in the last {w} days.",
            )
        )
    specs += [
        FeatureSpec(
            "tickets_total", "voice", "float", "interactions", all_time, "Support tickets opened."
        ),
        FeatureSpec(
            "days_since_last_ticket",
            "voice",
            "float",
            "interactions",
            all_time,
            "Days since the latest support ticket; empty if none.",
        ),
    ]
    return specs


CATALOGUE: tuple[FeatureSpec, ...] = tuple(
    _transaction_features() + _product_features() + _season_features() + _other_features()
)
BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in CATALOGUE}

_BTYD_MODEL = "the btyd summary and the BG/NBD (+ Gamma-Gamma) fit of the cutoff"
BTYD_DERIVED: tuple[FeatureSpec, ...] = tuple(
    FeatureSpec(name, "btyd", "float", "transactions", _BTYD_MODEL, description)
    for name, description in (
        (
            "btyd_p_alive",
            "BG/NBD probability that the customer is still active at the cutoff.",
        ),
        (
            "btyd_expected_purchases",
            "BG/NBD expected purchase days over the horizon after the cutoff.",
        ),
        (
            "btyd_expected_spend",
            "Gamma-Gamma expected spend per purchase day (the customer's mean shrunk to the "
            "population's).",
        ),
        (
            "btyd_expected_value",
            "Expected purchases times expected spend: the classic BG/NBD x Gamma-Gamma value.",
        ),
    )
)
"""Features the model derives from the btyd summary with the population fit it carries
(``model.btyd_features``): not built by ``build_features``, so a request never sends them.
Empty where the customer has no purchase or the cutoff's fit is unreliable."""
BTYD_DERIVED_NAMES: tuple[str, ...] = tuple(f.name for f in BTYD_DERIVED)


def family_features(family: str) -> list[str]:
    """Names of a family's fixed features, in catalogue order (attributes come on top)."""
    if family not in FAMILIES:
        raise KeyError(f"unknown feature family {family!r}; valid: {list(FAMILIES)}")
    return [f.name for f in CATALOGUE if f.family == family]


def attribute_spec(column: str, dtype: Dtype) -> FeatureSpec:
    """The catalogue entry for a customers-table attribute, which is named after its column."""
    return FeatureSpec(
        f"{ATTRIBUTE_PREFIX}{column}",
        "profile",
        dtype,
        "customers",
        "static",
        f"The customer's '{column}' attribute, as given (assumed not to change over time).",
    )


def catalogue_frame(available: set[str] | None = None) -> pd.DataFrame:
    """The catalogue as a table; with ``available`` (table names), says which families apply."""
    rows = [asdict(f) for f in CATALOGUE]
    frame = pd.DataFrame(rows)
    if available is not None:
        frame["available"] = frame["source"].isin(available)
    return frame


def catalogue_markdown() -> str:
    """The catalogue as Markdown, for docs/FEATURES.md."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated from `features/catalogue.py` by `retain features --list --markdown`; "
        "do not edit by hand.",
        "",
        "Every feature is computed from events on or before the cutoff day only. Families whose "
        "input table is absent are left out. Windows end on the cutoff day and include it.",
        "",
        "## Families",
        "",
        "| family | source table | what |",
        "|---|---|---|",
    ]
    lines += [f"| `{f.name}` | {f.source} | {f.description} |" for f in FAMILIES.values()]
    lines += [
        "",
        "## Features",
        "",
        "| name | family | dtype | source | window | description |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{f.name}` | {f.family} | {f.dtype} | {f.source} | {f.window} | {f.description} |"
        for f in CATALOGUE
    ]
    lines += [
        f"| `{ATTRIBUTE_PREFIX}<column>` | profile | category or float | customers | static | "
        "One per extra column of the customers table (text becomes a category). |",
        "",
        "## Derived by the model",
        "",
        "With the `btyd` family and `btyd_features: true` (the default), training fits BG/NBD "
        "and Gamma-Gamma on every customer's summary at each cutoff, data up to the cutoff only, "
        "and the model derives these from the summary with the fit of its cutoff; the served "
        "model carries the test cutoff's fit. Requests do not send them.",
        "",
        "| name | family | dtype | source | window | description |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{f.name}` | {f.family} | {f.dtype} | {f.source} | {f.window} | {f.description} |"
        for f in BTYD_DERIVED
    ]
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- reason labels

Unit = Literal["days", "count", "money", "change", "share", "times", "score", "flag", "text"]


@dataclass(frozen=True)
class ReasonLabel:
    """How a feature's value reads to a business user, e.g. "no purchase for 133 days".

    ``template`` holds ``{v}`` (the value formatted by ``unit``) and, for counts, ``{s}`` (an "s"
    unless the count is 1). ``missing`` is the text when the value is missing ("never bought").
    Units: ``days``/``count`` whole numbers; ``money`` with the caller's currency; ``change`` a
    ratio to the window before as "down 60%"/"up 25%"; ``share`` a fraction as a percentage;
    ``times`` a ratio as "2.5x"; ``score`` one decimal; ``flag`` 1/0 as ``template``/``missing``;
    ``text`` as given (categories).
    """

    template: str
    unit: Unit
    missing: str = "not known"


def _window_labels() -> dict[str, ReasonLabel]:
    out: dict[str, ReasonLabel] = {}
    for w in WINDOWS:
        out[f"orders_{w}d"] = ReasonLabel(f"{{v}} order{{s}} in the last {w} days", "count")
        out[f"spend_{w}d"] = ReasonLabel(f"{{v}} spent in the last {w} days", "money")
        out[f"active_days_{w}d"] = ReasonLabel(
            f"bought on {{v}} day{{s}} in the last {w} days", "count"
        )
    for w in TREND_WINDOWS:
        out[f"orders_trend_{w}d"] = ReasonLabel(
            f"orders {{v}} on the previous {w} days",
            "change",
            f"no orders in the {w} days before the last {w}",
        )
        out[f"spend_trend_{w}d"] = ReasonLabel(
            f"spend {{v}} on the previous {w} days",
            "change",
            f"no spend in the {w} days before the last {w}",
        )
    for w in TICKET_WINDOWS:
        out[f"tickets_{w}d"] = ReasonLabel(f"{{v}} support ticket{{s}} in {w} days", "count")
    return out


LABELS: dict[str, ReasonLabel] = {
    "btyd_frequency": ReasonLabel("{v} repeat purchase day{s}", "count"),
    "btyd_recency": ReasonLabel("{v} day{s} from first to last purchase", "days"),
    "btyd_T": ReasonLabel("first purchase {v} day{s} ago", "days"),
    "btyd_monetary_value": ReasonLabel("{v} spent per repeat purchase day", "money"),
    "btyd_p_alive": ReasonLabel(
        "{v} chance of still being a customer (BG/NBD)", "share", "no BG/NBD estimate"
    ),
    "btyd_expected_purchases": ReasonLabel(
        "{v} purchase days expected in the horizon (BG/NBD)", "score", "no BG/NBD estimate"
    ),
    "btyd_expected_spend": ReasonLabel(
        "{v} expected per purchase day (Gamma-Gamma)", "money", "no Gamma-Gamma estimate"
    ),
    "btyd_expected_value": ReasonLabel(
        "{v} expected spend in the horizon (BG/NBD x Gamma-Gamma)", "money", "no BTYD estimate"
    ),
    "days_since_last_purchase": ReasonLabel("no purchase for {v} day{s}", "days", "never bought"),
    "orders_total": ReasonLabel("{v} order{s} in all", "count"),
    "spend_total": ReasonLabel("{v} spent in all, net of returns", "money"),
    "avg_order_value": ReasonLabel("{v} per order on average", "money", "no orders"),
    **_window_labels(),
    "gap_mean_days": ReasonLabel(
        "buys every {v} day{s} on average", "days", "fewer than two purchase days"
    ),
    "gap_std_days": ReasonLabel(
        "gaps between purchases typically vary by {v} day{s}",
        "days",
        "fewer than three purchase days",
    ),
    "gap_last_days": ReasonLabel(
        "{v} day{s} between the last two purchases", "days", "fewer than two purchase days"
    ),
    "overdue_ratio": ReasonLabel(
        "{v} the usual gap since the last purchase", "times", "no usual gap yet"
    ),
    "cutoff_week_sin": ReasonLabel("the time of year", "text"),
    "cutoff_week_cos": ReasonLabel("the time of year", "text"),
    f"orders_year_ago_{SEASON_WINDOW}d": ReasonLabel(
        f"{{v}} order{{s}} in the same {SEASON_WINDOW} days last year",
        "count",
        "less than a year of history",
    ),
    f"spend_year_ago_{SEASON_WINDOW}d": ReasonLabel(
        f"{{v}} spent in the same {SEASON_WINDOW} days last year",
        "money",
        "less than a year of history",
    ),
    "items_per_order": ReasonLabel("{v} items per order", "score"),
    "distinct_products": ReasonLabel("{v} different product{s} bought", "count"),
    "distinct_categories": ReasonLabel("{v} different categor{ies} bought", "count"),
    "return_rows_share": ReasonLabel("{v} of order lines returned", "share"),
    "return_value_share": ReasonLabel("{v} of the value bought returned", "share"),
    "lines_per_order": ReasonLabel("{v} lines per order", "score", "no orders"),
    f"items_per_order_trend_{BASKET_TREND_WINDOW}d": ReasonLabel(
        f"items per order {{v}} on the previous {BASKET_TREND_WINDOW} days",
        "change",
        f"no order in the last {BASKET_TREND_WINDOW} days or the {BASKET_TREND_WINDOW} before",
    ),
    "repeat_product_share": ReasonLabel("{v} of products bought again", "share", "no product ids"),
    "product_repeat_days_median": ReasonLabel(
        "buys a product again after {v} day{s} (median)", "days", "no product bought twice"
    ),
    "product_return_share": ReasonLabel(
        "{v} of products bought were returned", "share", "no product ids"
    ),
    "top_category": ReasonLabel("spends most on {v}", "text", "no category"),
    "top_category_spend_share": ReasonLabel(
        "{v} of spend in the top category", "share", "no category"
    ),
    "country": ReasonLabel("orders from {v}", "text", "no country"),
    "tenure_days": ReasonLabel("customer for {v} day{s}", "days"),
    "plan": ReasonLabel("on the {v} plan", "text", "no plan"),
    "monthly_amount": ReasonLabel("pays {v} a month", "money", "no monthly price"),
    "subscription_active": ReasonLabel(
        "a subscription is running", "flag", "no subscription running"
    ),
    "subscription_tenure_days": ReasonLabel(
        "subscribed for {v} day{s}", "days", "never subscribed"
    ),
    "plan_changes": ReasonLabel("{v} plan change{s} or restart{s}", "count"),
    "days_since_plan_change": ReasonLabel(
        "last plan change {v} day{s} ago", "days", "never subscribed"
    ),
    "nps_latest": ReasonLabel("latest NPS answer {v} of 10", "score", "no NPS answer"),
    "nps_mean": ReasonLabel("average NPS answer {v} of 10", "score", "no NPS answer"),
    "csat_mean": ReasonLabel("average satisfaction (CSAT) {v} of 5", "score", "no CSAT answer"),
    "csat_latest": ReasonLabel("latest satisfaction (CSAT) {v} of 5", "score", "no CSAT answer"),
    "tickets_total": ReasonLabel("{v} support ticket{s} in all", "count"),
    "days_since_last_ticket": ReasonLabel(
        "last support ticket {v} day{s} ago", "days", "no support ticket"
    ),
}
"""The plain-words label of every catalogue feature (a test checks none is missing)."""


def _plain_money(amount: float) -> str:
    return f"{amount:,.0f}"


def reason_label(
    name: str, value: float | str | None, money: Callable[[float], str] = _plain_money
) -> str:
    """A feature's value in plain words with its unit: ``no purchase for 133 days``.

    ``money`` formats amounts with the business's currency (``Economics.money``). Attributes
    (``attr_<column>``) read "<column>: <value>"; a feature without a label (a new one not yet
    labelled) reads "<name> = <value>".
    """
    missing = value is None or (isinstance(value, float) and value != value)
    if name.startswith(ATTRIBUTE_PREFIX):
        column = name.removeprefix(ATTRIBUTE_PREFIX).replace("_", " ")
        return f"{column}: {'not given' if missing else _number_or_text(value)}"
    label = LABELS.get(name)
    if label is None:
        return f"{name} = {'missing' if missing else _number_or_text(value)}"
    if missing:
        return label.missing
    if label.unit == "text" or isinstance(value, str):
        return label.template.format(v=value, s="s", ies="ies")
    assert value is not None
    x = float(value)
    if label.unit == "flag":
        return label.template if x == 1 else label.missing
    shown, plural = _formatted(x, label.unit, money)
    return label.template.format(v=shown, s="s" if plural else "", ies="ies" if plural else "y")


def _formatted(x: float, unit: Unit, money: Callable[[float], str]) -> tuple[str, bool]:
    """The value shown for a unit, and whether a count word after it takes the plural."""
    if unit in ("days", "count"):
        n = round(x)
        return f"{n:,}", n != 1
    if unit == "money":
        return money(x), True
    if unit == "change":
        if round(x, 2) == 1:
            return "unchanged", True
        direction = "down" if x < 1 else "up"
        return f"{direction} {abs(x - 1):.0%}", True
    if unit == "share":
        return f"{x:.0%}", True
    if unit == "times":
        return f"{x:.1f}x", True
    return f"{x:.1f}", True


def _number_or_text(value: float | str | None) -> str:
    if isinstance(value, float) and value == round(value):
        return f"{value:.0f}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
