"""One entry point for customer features as of a cutoff, used by training, batch scoring and serving.

``build_features(data, as_of)`` returns one row per customer known by the end of the cutoff day,
computed from events on or before that day only. The batch path (a whole base) and the serving
path (the raw events of one customer in a request) call this same function, so their features are
equal by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from core.errors import ConfigError
from core.families import FAMILIES
from core.schema import CUSTOMER_ID
from features.accounts import profile_family, subscription_family, voice_family
from features.catalogue import family_features
from features.history import TRANSACTION_FAMILIES, PastTransactions
from features.loading import CustomerData
from features.prepare import PRODUCT_COLUMNS, PreparedData, prepare, to_day
from features.products import PRODUCT_FAMILIES

LINE_FAMILIES = {**TRANSACTION_FAMILIES, **PRODUCT_FAMILIES}
"""Every family computed from the transactions on or before the cutoff."""

CUTOFF = "cutoff"


def available_families(data: CustomerData | PreparedData) -> list[str]:
    """Families whose input tables (and, for the product families, columns) the data has, in
    catalogue order."""
    has = {
        "transactions": True,
        "customers": (data.customers if isinstance(data, CustomerData) else data.attributes)
        is not None,
        "subscriptions": data.subscriptions is not None,
        "interactions": data.interactions is not None,
    }
    filled = filled_columns(data)
    return [
        name
        for name, fam in FAMILIES.items()
        if has[fam.source] and (not fam.needs or filled & set(fam.needs))
    ]


def filled_columns(data: CustomerData | PreparedData) -> set[str]:
    """The optional product columns of the transactions that carry a value on some row."""
    if isinstance(data, CustomerData):
        tx = data.transactions
        return {c for c in PRODUCT_COLUMNS if c in tx and tx[c].notna().any()}
    return set(data.filled_columns)


def unbuilt_note(families: Sequence[str], data: CustomerData | PreparedData) -> str | None:
    """One line naming the product families left out because the log lacks their columns."""
    left = [
        f
        for f, fam in FAMILIES.items()
        if fam.needs and f not in families and not filled_columns(data) & set(fam.needs)
    ]
    if not left:
        return None
    needs = sorted({c for f in left for c in FAMILIES[f].needs})
    families = f"{', '.join(left)} feature famil{'ies are' if len(left) > 1 else 'y is'}"
    return (
        f"the transactions have no {' or '.join(needs)} values, so the {families} not built "
        "(map those columns under data.transactions.columns to use them)"
    )


def resolve_families(
    requested: Sequence[str] | None, data: CustomerData | PreparedData
) -> list[str]:
    """The requested families (default: all available), checked against the data's tables.

    A requested product family is built even where its columns are empty (a request for one
    customer without product ids): its features are then empty, as the model reads them.
    """
    available = available_families(data)
    if requested is None:
        return available
    unknown = [f for f in requested if f not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown feature family {unknown}; valid: {list(FAMILIES)}")
    missing = [f for f in requested if f not in available and not FAMILIES[f].needs]
    if missing:
        need = sorted({FAMILIES[f].source for f in missing})
        raise ConfigError(
            f"feature families {missing} need the {', '.join(need)} table(s), which the data lacks"
        )
    return [f for f in FAMILIES if f in requested]


def build_features(
    data: CustomerData | PreparedData,
    as_of: pd.Timestamp | str,
    *,
    families: Sequence[str] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Features of every customer known by the end of ``as_of``, from events up to that day.

    Parameters
    ----------
    data
        Canonical tables (``features.loading``) or their prepared arrays, to reuse over cutoffs.
    as_of
        The cutoff date. Events dated on this day are included; later ones are never read.
    families
        Feature families to compute; default all whose input table is present.
    progress
        Show a progress bar over the families (for large bases from the command line).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted), one column per feature in catalogue order;
    numeric features are float64, categorical ones (plan, text attributes) are text.
    """
    prep = data if isinstance(data, PreparedData) else prepare(data)
    chosen = resolve_families(families, prep)
    cutoff = to_day(as_of)
    columns: dict[str, np.ndarray | pd.Series] = {}
    needs_past = any(f in LINE_FAMILIES for f in chosen)
    past = PastTransactions.at(prep.transactions, cutoff, prep.n_customers) if needs_past else None
    for family in tqdm(chosen, desc="features", unit="family", disable=not progress):
        if family in LINE_FAMILIES:
            assert past is not None
            columns.update(LINE_FAMILIES[family](past))
        elif family == "profile":
            columns.update(profile_family(prep, cutoff))
        elif family == "subscription":
            assert prep.subscriptions is not None
            columns.update(subscription_family(prep.subscriptions, cutoff, prep.n_customers))
        elif family == "voice":
            assert prep.interactions is not None
            columns.update(voice_family(prep.interactions, cutoff, prep.n_customers))
    rows = prep.existing_at(cutoff)
    frame = pd.DataFrame(
        {name: _take(values, rows) for name, values in columns.items()},
        index=pd.Index(prep.ids[rows], name=CUSTOMER_ID, dtype="str"),
    )
    return frame


def btyd_summary_at(prep: PreparedData, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """The ``btyd`` family alone (frequency, recency, T, monetary value; days) of every customer
    with a purchase on or before ``as_of``, indexed by ``customer_id``: what a population BTYD
    fit at that cutoff needs, without building the other families."""
    cutoff = to_day(as_of)
    past = PastTransactions.at(prep.transactions, cutoff, prep.n_customers)
    columns = TRANSACTION_FAMILIES["btyd"](past)
    bought = ~np.isnan(columns["btyd_T"])
    return pd.DataFrame(
        {name: np.asarray(values)[bought] for name, values in columns.items()},
        index=pd.Index(prep.ids[bought], name=CUSTOMER_ID, dtype="str"),
    )


def _take(values: np.ndarray | pd.Series, rows: np.ndarray) -> np.ndarray | pd.Series:
    if isinstance(values, pd.Series):
        taken = values.iloc[rows].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(taken):
            return taken.to_numpy(dtype=np.float64)
        # a text array, not object: the dtype must not depend on whether any value is present
        return taken.astype("str").mask(taken.isna()).array
    return values[rows]


def feature_names(families: Sequence[str], attributes: Sequence[str] = ()) -> list[str]:
    """The column names ``build_features`` gives for these families and attribute columns."""
    names: list[str] = []
    for family in FAMILIES:
        if family in families:
            names += family_features(family)
            if family == "profile":
                names += [f"attr_{a}" for a in attributes]
    return names
