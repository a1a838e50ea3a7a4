"""Propose how an export's columns map onto the input contract, each choice with its evidence.

Pure functions over a sample of the file as ``read_table`` reads it (text cells): no I/O, no
clock. ``propose_mapping`` decides whether the export is a transaction log or a labelled
snapshot table and which column plays each canonical role; what it cannot decide from the data
it still chooses, marked ``confirm`` with the config key to set (``retain init`` writes both).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from core.schema import (
    AMOUNT,
    AS_OF,
    CAMPAIGN_ID,
    CATEGORY,
    CHURNED,
    CONTACTED_AT,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    FUTURE_VALUE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    TIMESTAMP,
    TREATMENT,
)
from features.column_profile import Profile, profile
from features.loading import parse_datetimes, parse_text
from features.readings import date_evidence

Kind = Literal["transactions", "snapshots"]

PLANS = ((90, 90), (60, 90), (60, 60), (45, 60), (30, 60), (30, 30))
"""(horizon, history before the first cutoff) in days, tried in order on a log's span."""
MIN_TRAINING_CUTOFFS = 3
MAX_AS_OF_DAYS = 60
"""Most distinct days a snapshot table's as_of column has (five years of month ends)."""
INDEX_WORDS = {"row", "rownumber", "rownum", "index", "unnamed"}
"""Names of a row-number column an export may carry (``RowNumber``, pandas' ``Unnamed: 0``)."""

ENTITY = {"customer", "cust", "client", "account", "user", "member", "subscriber", "buyer"}
ID_SUFFIX = {"id", "no", "nr", "num", "number", "code", "key", "ref"}
LABEL_WORDS = {"churn", "churned", "exited", "attrition", "attrited", "cancelled", "canceled"}
LABEL_FALLBACK = {"label", "target", "left", "lost", "defected"}
POSITIVE_WORDS = {"yes", "y", "true", "t", "1", "churned", "churn", "exited", "left", "lost"}
POSITIVE_WORDS |= {"cancelled", "canceled", "attrited", "attrited customer", "gone"}
NEGATIVE_WORDS = {"no", "n", "false", "f", "0", "active", "stayed", "retained", "existing"}
NEGATIVE_WORDS |= {"existing customer", "current", "loyal"}
DEFAULT_NEGATIVE = {"no", "n", "false", "f", "0", "active"}
"""``data.snapshots.negative``'s default (``features.labelled.NEGATIVE``)."""
TIME_WORDS = {"date", "time", "timestamp", "datetime", "day", "created", "at", "when"}
EVENT_WORDS = {"invoice", "order", "purchase", "transaction", "sale", "sales", "payment"}
AS_OF_WORDS = {"asof", "snapshot", "extract", "report", "period", "month", "date"}
RECURRING_WORDS = {"monthly", "month", "mrr", "arpu", "recurring", "subscription"}
"""Words of a name saying a charge recurs each month (MonthlyCharges, MRR, ARPU)."""
CHARGE_WORDS = {"charge", "charges", "fee", "fees", "price", "bill", "payment", "mrr", "arpu"}
AMOUNT_WORDS = {"amount", "total", "revenue", "sales", "spend", "value", "paid", "payment"}
AMOUNT_WORDS |= {"net", "gross", "sum"}
PRICE_WORDS = {"price", "unitprice", "rate", "cost"}
QUANTITY_WORDS = {"quantity", "qty", "units", "items"}
ORDER_WORDS = {"invoice", "order", "receipt", "basket", "transaction", "bill", "ticket"}
PRODUCT_WORDS = {"stock", "stockcode", "sku", "product", "item", "article", "ean", "upc"}
DESCRIPTION_WORDS = {"description", "desc", "descr"}
CATEGORY_WORDS = {"category", "categories", "subcategory", "department", "dept"}
COUNTRY_WORDS = {"country", "nation"}
CURRENCY_WORDS = {"currency", "curr", "ccy"}
SYMBOL_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
FUTURE_WORDS = {"future", "next", "ahead", "forward"}
TREATMENT_WORDS = {"treatment", "treated", "arm", "offer", "offered", "intervention"}
CAMPAIGN_WORDS = {"campaign", "wave", "test", "experiment"}
"""Words of a name saying which randomized test a row belongs to (next to a treatment column)."""
CONTACT_WORDS = {"contact", "contacted", "sent", "offer", "mailed", "called"}
"""Words of a date column's name saying when the offer was made."""


@dataclass(frozen=True)
class Choice:
    """One decision of the proposal: the config key, the value written, and why."""

    key: str
    """Dotted key of the config (``data.transactions.columns.customer_id``)."""
    value: object
    evidence: str
    confirm: bool = False
    """Not decidable from the file: a choice was made, and the user should check ``key``."""


@dataclass
class Proposal:
    """The proposed ``data`` table of an export: its kind, column mapping and other keys."""

    kind: Kind
    columns: dict[str, str | list[str]] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)
    """Keys of the table beside ``columns`` (dayfirst, as_of, positive, row_ids, ...)."""
    economics: dict[str, object] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """What stops the export from training as proposed, each naming the key to set."""
    unused: list[str] = field(default_factory=list)
    """Columns of a transaction log that no role reads."""
    settings: dict[str, object] = field(default_factory=dict)
    """Keys outside ``data`` by dotted name (``horizon_days``, ``split.min_history_days``)."""

    def choose(self, key: str, value: object, evidence: str, *, confirm: bool = False) -> None:
        """Record a choice; column and option keys also go into the table's mapping."""
        self.choices.append(Choice(key, value, evidence, confirm))
        parts = key.split(".")
        if parts[:3] == ["data", self.kind, "columns"]:
            assert isinstance(value, str | list)
            self.columns[parts[3]] = value
        elif parts[:2] == ["data", self.kind]:
            self.options[parts[2]] = value
        elif parts[0] == "economics":
            self.economics[parts[1]] = value
        else:
            self.settings[key] = value

    @property
    def to_confirm(self) -> list[Choice]:
        """The choices the file could not decide, in order."""
        return [c for c in self.choices if c.confirm]


def propose_mapping(sample: pd.DataFrame, *, modified: dt.date) -> Proposal:
    """The proposed mapping of an export from a sample of its rows (text cells).

    ``modified`` is the day the file was last written: a snapshot export without a date
    column is taken to describe that day (a choice to confirm).
    """
    columns = profile(sample)
    label = _label_column(columns)
    if label is not None and not _event_log(columns):
        return _snapshots(columns, sample, label, modified)
    if any(c.dated for c in columns):
        return _transactions(columns, sample)
    proposal = Proposal("snapshots")
    proposal.problems.append(
        "neither a transaction log (no date column) nor a labelled export (no churn flag "
        "column of two values named like churn, exited or attrition): map the churn flag, "
        f"data.snapshots.columns.churned: <your column>. The file has: {_names(columns)}"
    )
    return proposal


def _event_log(columns: list[Profile]) -> bool:
    """Many event times and customers that recur: a log, even with a flag named like churn
    (a snapshot table's as_of has a few days, and a row per customer and day)."""
    many_times = any(c.dated and c.distinct > MAX_AS_OF_DAYS for c in columns)
    ids = [c for c in columns if _id_score(c)]
    return many_times and bool(ids) and ids[0].distinct < 0.8 * ids[0].filled


# ----------------------------------------------------------------------------- shared roles


def _names(columns: list[Profile]) -> str:
    """The first 30 column names, quoted, for messages."""
    return ", ".join(repr(c.name) for c in columns[:30])


def _has(column: Profile, words: set[str]) -> bool:
    """Whether a column's name holds one of ``words``."""
    return bool(words & set(column.tokens))


def _id_score(column: Profile) -> int:
    """How much a column's name says 'customer id': 3 entity + id word, 2 entity or 'id' alone."""
    tokens = set(column.tokens)
    if tokens & ENTITY and tokens & ID_SUFFIX:
        return 3
    if (tokens & ENTITY and len(column.tokens) == 1) or column.tokens == ("id",):
        return 2
    return 0


def _customer_id(columns: list[Profile], proposal: Proposal, *, unique: bool) -> Profile | None:
    """The customer id column by name; two equally good names are a choice to confirm."""
    key = f"data.{proposal.kind}.columns.{CUSTOMER_ID}"
    scored = [(c, _id_score(c)) for c in columns if _id_score(c) and not c.dated]
    if unique:  # a snapshot row per customer: ids that repeat are no customer ids
        scored = [(c, s) for c, s in scored if c.distinct >= 0.5 * c.filled]
    if not scored:
        return None
    best = max(s for _, s in scored)
    found = [c for c, s in scored if s == best]
    chosen = found[0]
    blank = f"; blank in {chosen.blank:,} of {chosen.rows:,} sampled rows" if chosen.blank else ""
    evidence = f"named like a customer id; {chosen.distinct:,} distinct values{blank}"
    if len(found) > 1:
        others = ", ".join(repr(c.name) for c in found[1:])
        proposal.choose(
            key,
            chosen.name,
            f"AMBIGUOUS: {chosen.name!r} and {others} are both named like a customer id; "
            f"took the first: set {key} to the right one",
            confirm=True,
        )
    else:
        proposal.choose(key, chosen.name, evidence)
    return chosen


def _day_order(sample: pd.DataFrame, names: list[str], proposal: Proposal) -> None:
    """dayfirst from the dates whose day is above 12; none shown is a choice to confirm."""
    key = f"data.{proposal.kind}.dayfirst"
    texts = [parse_text(sample[n]).dropna().astype(str) for n in names]
    text = pd.concat(texts) if texts else pd.Series(dtype=str)
    e = date_evidence(text)
    if e.day_first and e.month_first:
        proposal.problems.append(
            f"{', '.join(map(repr, names))}: {e.day_first:,} date(s) can only be day-first "
            f"(e.g. {e.day_first_examples[0]}) and {e.month_first:,} only month-first (e.g. "
            f"{e.month_first_examples[0]}): export ISO dates (2024-03-25) or one order"
        )
    elif e.day_first:
        proposal.choose(
            key,
            True,
            f"{e.day_first:,} date(s) can only be day-first, e.g. {e.day_first_examples[0]}",
        )
    elif e.month_first:
        proposal.choose(
            key,
            False,
            f"{e.month_first:,} date(s) can only be month-first, e.g. {e.month_first_examples[0]}",
        )
    elif e.ambiguous:
        proposal.choose(
            key,
            False,
            f"AMBIGUOUS: {e.ambiguous:,} date(s) such as {e.ambiguous_examples[0]} read both "
            f"day-first and month-first and none shows the order; read month-first: set {key} "
            "(true: day-first)",
            confirm=True,
        )


# ----------------------------------------------------------------------------- snapshots


def _label_column(columns: list[Profile]) -> Profile | None:
    """The churn flag: a two-valued column named like churn (else like label or target)."""
    for words in (LABEL_WORDS, LABEL_FALLBACK):
        found = [c for c in columns if c.binary and _has(c, words)]
        if found:
            return found[0]
    return None


def _snapshots(
    columns: list[Profile], sample: pd.DataFrame, label: Profile, modified: dt.date
) -> Proposal:
    """A labelled export: id (or row numbers), churn flag and its values, as_of, value labels."""
    proposal = Proposal("snapshots")
    ident = _customer_id(columns, proposal, unique=True)
    if ident is None:
        proposal.choose(
            "data.snapshots.row_ids",
            True,
            "no column is named like a customer id: customers are numbered by their row "
            "(1 for the first data row); map one with data.snapshots.columns.customer_id",
        )
    _label(label, proposal)
    taken = {label.name} | ({ident.name} if ident else set())
    as_of = [
        c
        for c in columns
        if c.dated
        and c.name not in taken
        and _has(c, AS_OF_WORDS)
        and not _has(c, CONTACT_WORDS)  # an offer's day (OfferDate) is no snapshot day
        and c.distinct <= MAX_AS_OF_DAYS
    ]
    if as_of:
        proposal.choose(
            f"data.snapshots.columns.{AS_OF}",
            as_of[0].name,
            f"a date column named like a snapshot day, {as_of[0].distinct:,} distinct day(s)",
        )
        taken.add(as_of[0].name)
    else:
        proposal.choose(
            "data.snapshots.as_of",
            modified,
            f"the file has no snapshot date column: taken as the day the file was last "
            f"written ({modified}); set data.snapshots.as_of to the day the export describes",
            confirm=True,
        )
    value = [
        c
        for c in columns
        if c.numeric and c.name not in taken and _has(c, AMOUNT_WORDS) and _future(c)
    ]
    if value:
        proposal.choose(
            f"data.snapshots.columns.{FUTURE_VALUE}",
            value[0].name,
            "a number column named like value after the snapshot day (a label, not a feature)",
        )
        taken.add(value[0].name)
    else:
        _recurring_charge(columns, taken, proposal)
    treated = [c for c in columns if c.binary and c.name not in taken and _has(c, TREATMENT_WORDS)]
    if treated:
        proposal.choose(
            f"data.snapshots.columns.{TREATMENT}",
            treated[0].name,
            f"two values {list(treated[0].levels)} named like a retention test's arm",
        )
        taken.add(treated[0].name)
        _test_columns(columns, taken, proposal)
    counters = [
        c.name
        for c in columns
        if c.name not in taken and _has(c, INDEX_WORDS) and c.numeric and c.distinct == c.rows
    ]
    if counters:
        proposal.choose(
            "data.snapshots.drop",
            counters,
            "row numbers of the export (a distinct number per row), not features",
        )
    dated = [c.name for c in columns if c.dated]
    if dated:
        _day_order(sample, dated, proposal)
    return proposal


def _test_columns(columns: list[Profile], taken: set[str], proposal: Proposal) -> None:
    """A randomized test's campaign and contact-day columns, beside its treatment column: mapped,
    they are read as the test's, not as customer attributes."""
    campaign = [
        c
        for c in columns
        if c.name not in taken and not c.numeric and not c.dated and _has(c, CAMPAIGN_WORDS)
    ]
    if campaign:
        proposal.choose(
            f"data.snapshots.columns.{CAMPAIGN_ID}",
            campaign[0].name,
            "a text column named like the test's campaign (several tests in one table)",
        )
        taken.add(campaign[0].name)
    contact = [c for c in columns if c.name not in taken and c.dated and _has(c, CONTACT_WORDS)]
    if contact:
        proposal.choose(
            f"data.snapshots.columns.{CONTACTED_AT}",
            contact[0].name,
            "a date column named like the day of the offer",
        )
        taken.add(contact[0].name)


def _recurring_charge(columns: list[Profile], taken: set[str], proposal: Proposal) -> None:
    """economics.recurring_charge: without a future-value column no CLV model is trained, and
    value at risk comes from a monthly charge the export holds (MonthlyCharges, MRR)."""
    charges = [
        c
        for c in columns
        if c.numeric
        and c.name not in taken
        and c.negative == 0
        and _has(c, RECURRING_WORDS)
        and _has(c, CHARGE_WORDS)
    ]
    if charges:
        proposal.choose(
            "economics.recurring_charge",
            charges[0].name,
            "a number column named like a monthly charge: with no future-value column there is "
            "no CLV model, so value at risk is churn probability x this charge x the horizon's "
            "months x gross margin (remove the key to leave value unknown)",
            confirm=len(charges) > 1,
        )


def _future(column: Profile) -> bool:
    """Whether a name says 'after the snapshot day': next, future, 90d, ..."""
    tokens = set(column.tokens)
    return (
        bool(tokens & FUTURE_WORDS)
        or any(re.fullmatch(r"\d+d", t) for t in tokens)
        or ("futurevalue" in tokens)
    )


def _label(label: Profile, proposal: Proposal) -> None:
    """The churn flag and which of its two values means 'left'."""
    proposal.choose(
        f"data.snapshots.columns.{CHURNED}",
        label.name,
        f"named like a churn flag, two values {list(label.levels)}",
    )
    low = {v.lower(): v for v in label.levels}
    positive = [v for k, v in low.items() if k in POSITIVE_WORDS]
    negative = [v for k, v in low.items() if k in NEGATIVE_WORDS]
    if len(positive) == 1 and len(negative) == 1 and positive != negative:
        proposal.choose("data.snapshots.positive", [positive[0]], f"{positive[0]!r} means left")
        if negative[0].lower() not in DEFAULT_NEGATIVE:
            proposal.choose(
                "data.snapshots.negative", [negative[0]], f"{negative[0]!r} means stayed"
            )
        return
    first, second = label.levels
    proposal.choose(
        "data.snapshots.positive",
        [first],
        f"AMBIGUOUS: neither {first!r} nor {second!r} says which means left; took {first!r}: "
        "set data.snapshots.positive (and negative) to the values of your flag",
        confirm=True,
    )
    proposal.choose("data.snapshots.negative", [second], f"{second!r} taken as stayed")


# ----------------------------------------------------------------------------- transactions


def _transactions(columns: list[Profile], sample: pd.DataFrame) -> Proposal:
    """An event log: customer, time, money (amount, or quantity x price), order and product."""
    proposal = Proposal("transactions")
    ident = _customer_id(columns, proposal, unique=False)
    if ident is None:
        proposal.problems.append(
            "no column is named like a customer id (CustomerID, client_id, ...): set "
            f"data.transactions.columns.customer_id. The file has: {_names(columns)}"
        )
    taken = {ident.name} if ident else set()
    stamp = _timestamp(columns, proposal)
    if stamp is not None:
        taken.add(stamp.name)
        _day_order(sample, [stamp.name], proposal)
        dayfirst = bool(proposal.options.get("dayfirst", False))
        days, _ = parse_datetimes(sample[stamp.name], dayfirst=dayfirst)
        if days.notna().any():
            _horizon(days.min(), days.max(), proposal)
    quantity = _named(columns, QUANTITY_WORDS, taken, numeric=True)
    amount = [
        c
        for c in columns
        if c.numeric and c.name not in taken and _has(c, AMOUNT_WORDS) and not _has(c, PRICE_WORDS)
    ]
    price = _named(columns, PRICE_WORDS, taken, numeric=True)
    key = f"data.transactions.columns.{AMOUNT}"
    if amount:
        proposal.choose(key, amount[0].name, _money_evidence(amount[0]))
        taken.add(amount[0].name)
    elif price is not None and quantity is not None:
        proposal.choose(
            key,
            [quantity.name, price.name],
            f"no amount column: {quantity.name} x {price.name} (the line's money)",
        )
        taken.add(price.name)
    elif price is not None:
        proposal.choose(key, price.name, "no amount or quantity column: the price is the amount")
        taken.add(price.name)
    else:
        proposal.problems.append(
            "no number column is named like an amount (amount, total, revenue, price): set "
            f"{key} (a list multiplies columns, e.g. [Quantity, UnitPrice])"
        )
    if quantity is not None:
        returns = (
            f"; {quantity.negative:,} negative (returns)"
            if quantity.negative
            else ", none negative"
        )
        proposal.choose(
            f"data.transactions.columns.{QUANTITY}",
            quantity.name,
            f"named like a quantity{returns}",
        )
        taken.add(quantity.name)
    order = _order_id(columns, taken, sample)
    if order is not None:
        column, evidence = order
        proposal.choose(f"data.transactions.columns.{ORDER_ID}", column.name, evidence)
        taken.add(column.name)
    roles = (
        (PRODUCT_ID, PRODUCT_WORDS, None),
        (DESCRIPTION, DESCRIPTION_WORDS, False),
        (CATEGORY, CATEGORY_WORDS, None),
        (COUNTRY, COUNTRY_WORDS, False),
    )
    for role, words, numeric in roles:
        found = _named(columns, words, taken, numeric=numeric)
        if found is not None:
            proposal.choose(
                f"data.transactions.columns.{role}",
                found.name,
                f"named like a {role.replace('_', ' ')}, {found.distinct:,} distinct values",
            )
            taken.add(found.name)
    _currency(columns, sample, proposal, taken)
    proposal.unused = [c.name for c in columns if c.name not in taken]
    return proposal


def training_cutoffs(start: pd.Timestamp, end: pd.Timestamp, horizon: int, history: int) -> int:
    """How many training cutoffs the default split leaves on a log from ``start`` to ``end``:
    month ends from ``history`` days in to ``horizon`` days before the end, the latest tests,
    the latest a horizon before it validates, those a horizon before that train."""
    step = pd.Timedelta(days=horizon)
    first = start.normalize() + pd.Timedelta(days=history)
    cutoffs = list(pd.date_range(first, end.normalize() - step, freq="ME"))
    if not cutoffs:
        return 0
    earlier = [c for c in cutoffs if c + step <= cutoffs[-1]]
    if not earlier:
        return 0
    return sum(c + step <= earlier[-1] for c in cutoffs)


def _horizon(start: pd.Timestamp, end: pd.Timestamp, proposal: Proposal) -> None:
    """The longest horizon (and history) whose month-end split leaves enough training cutoffs."""
    span = f"the log spans {(end - start).days:,} days ({start.date()} to {end.date()})"
    for horizon, history in PLANS:
        cutoffs = training_cutoffs(start, end, horizon, history)
        if cutoffs >= MIN_TRAINING_CUTOFFS:
            break
    else:
        proposal.problems.append(
            f"{span}: too short for monthly cutoffs even with a {horizon}-day horizon; set "
            "horizon_days and split.cutoffs by hand, or export a longer history"
        )
        return
    proposal.choose(
        "horizon_days",
        horizon,
        f"{span}: a {horizon}-day horizon leaves {cutoffs} monthly training cutoffs"
        + ("" if horizon == PLANS[0][0] else f" (a {PLANS[0][0]}-day one fewer than 3)"),
    )
    if history != PLANS[0][1]:
        proposal.choose(
            "split.min_history_days",
            history,
            f"the first cutoff {history} days after the log starts, to fit the horizon",
        )


def _named(
    columns: list[Profile], words: set[str], taken: set[str], *, numeric: bool | None
) -> Profile | None:
    """The first free, undated column named with one of ``words`` (of the kind asked)."""
    for c in columns:
        if c.name in taken or c.dated or not _has(c, words):
            continue
        if numeric is None or c.numeric == numeric:
            return c
    return None


def _timestamp(columns: list[Profile], proposal: Proposal) -> Profile | None:
    """The event time: the one date column, or the one named like an event; else a choice."""
    key = f"data.transactions.columns.{TIMESTAMP}"
    dated = [c for c in columns if c.dated]
    if not dated:
        return None
    named = [c for c in dated if _has(c, EVENT_WORDS)] or [c for c in dated if _has(c, TIME_WORDS)]
    if len(dated) == 1:
        chosen = dated[0]
        proposal.choose(key, chosen.name, f"the one date column ({chosen.distinct:,} distinct)")
    elif len(named) == 1:
        chosen = named[0]
        proposal.choose(key, chosen.name, "the date column named like an event's time")
    else:
        chosen = (named or dated)[0]
        others = ", ".join(repr(c.name) for c in (named or dated) if c is not chosen)
        proposal.choose(
            key,
            chosen.name,
            f"AMBIGUOUS: {chosen.name!r} and {others} are dates; took the first: set {key}",
            confirm=True,
        )
    return chosen


def _money_evidence(column: Profile) -> str:
    """Why an amount column was chosen, with its returns."""
    negative = f"; {column.negative:,} negative (returns, refunds)" if column.negative else ""
    return f"a number column named like an amount{negative}"


def _order_id(
    columns: list[Profile], taken: set[str], sample: pd.DataFrame
) -> tuple[Profile, str] | None:
    """The order (invoice) column and its evidence, cancellations counted."""
    found = _named(columns, ORDER_WORDS, taken, numeric=None)
    if found is None:
        return None
    text = parse_text(sample[found.name]).dropna().astype(str)
    evidence = f"named like an order id, {found.distinct:,} distinct in {found.filled:,} rows"
    cancelled = int(text.str.match(r"^[Cc]\d").sum())
    if cancelled:
        evidence += (
            f"; {cancelled:,} start with C (cancellations: their negative quantities are "
            "read as returns)"
        )
    return found, evidence


def _currency(
    columns: list[Profile], sample: pd.DataFrame, proposal: Proposal, taken: set[str]
) -> None:
    """economics.currency from a one-valued currency column or a symbol on the amounts."""
    for c in columns:
        if _has(c, CURRENCY_WORDS) and c.distinct == 1:
            value = str(parse_text(sample[c.name]).dropna().iloc[0]).strip()
            proposal.choose("economics.currency", value, f"the one value of {c.name!r}")
            taken.add(c.name)
            return
    money = proposal.columns.get(AMOUNT, [])
    names = [money] if isinstance(money, str) else money
    for name in names:
        text = parse_text(sample[name]).dropna().astype(str)
        for symbol, code in SYMBOL_CURRENCIES.items():
            if text.str.contains(symbol, regex=False).mean() > 0.5:
                proposal.choose(
                    "economics.currency", code, f"the amounts in {name!r} carry {symbol}"
                )
                return


__all__ = ["Choice", "Proposal", "propose_mapping", "training_cutoffs"]
