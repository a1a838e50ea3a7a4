"""Past campaigns as uplift training rows: features the day before contact, outcomes after it.

For each campaign of the treatments table, the cutoff is the day before contact: features come
from ``features.snapshots.build_snapshots`` at that cutoff (the code every other model trains on)
and churn and future value from the horizon that starts on the contact day. Customers the campaign
lists but who were not active customers at the cutoff get no label and are counted, as are
campaigns whose horizon has not ended within the data (they are used once it has).

A labelled snapshots table with a treatment column is its own campaign data
(``snapshot_campaign_rows``): each tested row keeps the features the training built for it (its
attributes, plus event features as of its as_of day when histories are given) and its outcome,
the mapped ``response`` or else ``1 - churned``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from core.errors import CutoffError
from core.schema import ARM, AS_OF, CAMPAIGN_ID, CONTACTED_AT, CUSTOMER_ID, FUTURE_VALUE, RESPONSE
from features.build import CUTOFF
from features.labels import CHURN
from features.prepare import PreparedData, from_day, to_day
from features.snapshots import build_snapshots

TREATED = "treated"
"""1 for the treatment arm, 0 for control, in the uplift rows."""
RETAINED = "retained"
"""The good outcome whose increase an uplift model predicts: 1 - churn, or a test's response."""
MIN_ARM_ROWS = 100
"""Fewer labelled rows in an arm over all campaigns and no uplift model is fitted."""


@dataclass
class CampaignRows:
    """Labelled rows of every past campaign with a complete horizon, and what was left out."""

    frame: pd.DataFrame
    """customer_id, campaign_id, cutoff, the features, churn, future_value, retained, treated."""
    features: list[str]
    lines: list[str] = field(default_factory=list)
    """One line per campaign: rows used, and rows or the whole campaign left out and why."""
    by_outcome: bool = False
    """Split stratified by outcome too (one-day tests, where no later campaign tests the model)."""

    @property
    def usable(self) -> bool:
        """Enough rows in both arms to learn an effect."""
        if self.frame.empty:
            return False
        counts = self.frame[TREATED].value_counts()
        return bool(counts.get(0, 0) >= MIN_ARM_ROWS and counts.get(1, 0) >= MIN_ARM_ROWS)


def campaign_rows(
    prep: PreparedData,
    treatments: pd.DataFrame,
    horizon_days: int,
    *,
    families: list[str] | None = None,
    active_days: int | None = 365,
) -> CampaignRows:
    """Uplift rows of every campaign in ``treatments`` (``features.treatments`` columns).

    A campaign whose horizon ends after the data is skipped with a line saying when it can be
    used; every other campaign customer is either a row or counted as not labelled.
    """
    frames: list[pd.DataFrame] = []
    lines: list[str] = []
    end = prep.end_day
    for campaign, rows in treatments.groupby(CAMPAIGN_ID, sort=True):
        contact = pd.Timestamp(rows[CONTACTED_AT].min()).normalize()
        cutoff = contact - pd.Timedelta(days=1)
        if to_day(cutoff) + horizon_days > end:
            lines.append(
                f"campaign {campaign} (contacted {contact.date()}): its {horizon_days}-day "
                f"outcome window ends after the data ({from_day(end).date()}); not used for "
                "uplift until the data covers it"
            )
            continue
        if to_day(cutoff) < prep.start_day:
            lines.append(
                f"campaign {campaign} (contacted {contact.date()}): before the data; skipped"
            )
            continue
        snap, _ = build_snapshots(
            prep, [cutoff], horizon_days, families=families, active_days=active_days, progress=False
        )
        arms = rows.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[ARM]
        joined = snap.join(arms.rename(TREATED), on=CUSTOMER_ID, how="inner")
        joined.insert(1, CAMPAIGN_ID, str(campaign))
        frames.append(joined)
        left = len(arms) - len(joined)
        lines.append(
            f"campaign {campaign} (contacted {contact.date()}): {len(joined):,} of "
            f"{len(arms):,} customers labelled ({int(joined[TREATED].sum()):,} treated, "
            f"{int((joined[TREATED] == 0).sum()):,} control)"
            + (
                f"; {left:,} not active customers the day before contact, not labelled"
                if left
                else ""
            )
        )
    if not frames:
        return CampaignRows(pd.DataFrame(), [], lines)
    frame = pd.concat(frames, ignore_index=True)
    frame[TREATED] = frame[TREATED].astype(np.int64)
    frame[RETAINED] = 1 - frame[CHURN].astype(np.int64)
    reserved = {CUSTOMER_ID, CAMPAIGN_ID, CUTOFF, CHURN, FUTURE_VALUE, TREATED, RETAINED}
    features = [c for c in frame.columns if c not in reserved]
    return CampaignRows(frame, features, lines)


def snapshot_campaign_rows(
    frame: pd.DataFrame, features: list[str], tests: pd.DataFrame, *, has_value: bool
) -> CampaignRows:
    """Uplift rows of the randomized tests a snapshots table records (``snapshot_tests``).

    ``frame`` is the labelled training frame (customer_id, cutoff, the features, churn,
    future_value); each tested row is joined on customer and as_of day. A row contacted before
    its as_of day is left out and counted: its attributes may already show the offer's effect.
    """
    keys = [CUSTOMER_ID, CUTOFF]
    tests = tests.rename(columns={AS_OF: CUTOFF})
    joined = frame.merge(tests, on=keys, how="inner")
    late = (joined[CONTACTED_AT] < joined[CUTOFF]).to_numpy()
    responses = joined[RESPONSE].notna().any()
    lines = []
    for campaign, rows in joined.groupby(CAMPAIGN_ID, sort=True):
        used = rows.loc[~late[rows.index]]
        first = pd.Timestamp((used if len(used) else rows)[CONTACTED_AT].min()).date()
        line = (
            f"campaign {campaign} (snapshot test, contacted {first}): {len(used):,} customers "
            f"({int(used[ARM].sum()):,} treated, {int((used[ARM] == 0).sum()):,} control)"
        )
        dropped = int(late[rows.index].sum())
        if dropped:
            line += f"; {dropped:,} contacted before their as_of day, not used (attributes may show the offer)"
        lines.append(line)
    joined = joined.loc[~late].reset_index(drop=True)
    if not has_value:
        lines.append(
            "the snapshots table has no future_value column: map the spend after as_of "
            "(data.snapshots.columns.future_value) to learn the offer's effect on value"
        )
        return CampaignRows(pd.DataFrame(), [], lines)
    out = joined[[CUSTOMER_ID, CAMPAIGN_ID, CUTOFF, CONTACTED_AT, *features, CHURN, FUTURE_VALUE]]
    out = out.assign(**{TREATED: joined[ARM].astype(np.int64)})
    if responses:
        out[RETAINED] = joined[RESPONSE].astype(np.int64)
        lines.append("outcome: the mapped response (1 = the good outcome), not churn")
    else:
        out[RETAINED] = 1 - joined[CHURN].astype(np.int64)
    return CampaignRows(out, list(features), lines, by_outcome=True)


def split_rows(rows: CampaignRows, test_share: float, seed: int) -> np.ndarray:
    """'train' or 'test' per row: a seeded split stratified by campaign and arm, and by outcome
    too when ``rows.by_outcome`` and every such stratum has two rows."""
    strata = rows.frame[CAMPAIGN_ID].astype(str) + "/" + rows.frame[TREATED].astype(str)
    with_outcome = strata + "/" + rows.frame[RETAINED].astype(str)
    if rows.by_outcome and with_outcome.value_counts().min() >= 2:
        strata = with_outcome
    if strata.value_counts().min() < 2:
        raise CutoffError("every campaign needs at least two customers in each arm to be split")
    index = np.arange(len(rows.frame))
    _, test = train_test_split(index, test_size=test_share, random_state=seed, stratify=strata)
    parts = np.full(len(index), "train", dtype=object)
    parts[test] = "test"
    return parts
