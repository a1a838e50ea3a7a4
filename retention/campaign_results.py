"""``retain campaign-results``: what a campaign did, measured against its randomized control group.

Per arm: customers, retention rate and revenue per customer over the horizon after contact. The
effect is the difference between the arms, scaled to the treated customers:

    incremental retained customers = (r_T - r_C) * n_T,   95% CI from the normal approximation
        of a difference of proportions, se = sqrt(r_T (1 - r_T) / n_T + r_C (1 - r_C) / n_C)
    incremental revenue = (m_T - m_C) * n_T,   95% CI from Welch's t interval of the difference
        of means (Welch-Satterthwaite degrees of freedom)
    ROI = (incremental revenue * gross margin - cost) / cost,   cost = n_T * contact cost +
        (treated customers retained) * offer cost, the offer taken as redeemed by those retained

plus a balance check of pre-contact features between the arms (standardized mean differences;
|SMD| > 0.1 is flagged: the arms differ by more than chance should allow) and the control arm's
observed churn against what the model predicted for it. Before the horizon has passed, every
figure is "so far" and says so. ``campaign_results`` is a pure function of the assignments and
the outcomes; ``outcomes_after_contact`` derives outcomes from the event tables.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from core.config_file import ConfigFile
from core.economics import Economics
from core.errors import DataValidationError
from core.schema import AS_OF, CAMPAIGN_ID, CUSTOMER_ID, FUTURE_VALUE, TREATMENTS
from core.sources import TableSource
from features.build import build_features
from features.labelled import CHURN, load_snapshots
from features.loading import load_data, parse_ids, parse_numbers, read_table, validate_table
from features.prepare import PreparedData, from_day, prepare
from features.treatments import campaign_assignments, load_treatments, snapshot_campaign_id
from retention.ledger import Ledger

Z95 = float(stats.norm.ppf(0.975))
SMD_LIMIT = 0.1
"""|standardized mean difference| above which a pre-contact feature is flagged as unbalanced."""
NO_OUTCOME = "customer(s) without an outcome (not in the data)"
"""Why an assigned customer is left out of the arms when the data has no outcome for them."""
RETAINED = "retained"
REVENUE = "revenue"


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% confidence interval."""

    estimate: float
    low: float
    high: float

    def scaled(self, factor: float, shift: float = 0.0) -> Interval:
        """``estimate * factor + shift`` (factor >= 0), with the interval mapped alike."""
        return Interval(
            self.estimate * factor + shift, self.low * factor + shift, self.high * factor + shift
        )

    def show(self, fmt: Any = "{:,.1f}".format) -> str:
        return f"{fmt(self.estimate)} (95% CI {fmt(self.low)} to {fmt(self.high)})"


@dataclass(frozen=True)
class ArmSummary:
    """One arm's outcomes."""

    customers: int
    retained: int
    retention_rate: float
    revenue_per_customer: float
    revenue_sd: float


@dataclass(frozen=True)
class CampaignResults:
    """What a campaign did: per arm, the increments with intervals, ROI, balance and calibration."""

    campaign_id: str
    source: str
    contacted_on: str
    horizon_days: int
    days_observed: int
    treatment: ArmSummary
    control: ArmSummary
    retention_lift: Interval
    incremental_customers: Interval
    revenue_lift: Interval
    incremental_revenue: Interval
    cost: float
    incremental_profit: Interval
    roi: Interval
    economics: Economics
    balance: pd.DataFrame = field(repr=False)
    predicted_control_churn: float | None = None
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def mature(self) -> bool:
        """Whether the whole horizon after contact has passed."""
        return self.days_observed >= self.horizon_days

    @property
    def observed_control_churn(self) -> float:
        return 1.0 - self.control.retention_rate

    @property
    def unbalanced(self) -> list[str]:
        return self.balance.loc[self.balance["flagged"], "feature"].tolist()

    @property
    def chance_imbalance(self) -> float:
        """The share of features with |SMD| > ``SMD_LIMIT`` expected from randomization alone
        (SMD is about normal with sd sqrt(1/n_T + 1/n_C) under a random split)."""
        sd = math.sqrt(1 / self.treatment.customers + 1 / self.control.customers)
        return float(2 * stats.norm.sf(SMD_LIMIT / sd))

    @property
    def window(self) -> str:
        """'over the 90 days after contact', or 'so far (30 of 90 days)'."""
        if self.mature:
            return f"over the {self.horizon_days} days after contact"
        return f"so far ({self.days_observed} of {self.horizon_days} days)"

    def lines(self) -> list[str]:
        money = self.economics.money
        t, c = self.treatment, self.control
        has_revenue = not math.isnan(t.revenue_per_customer)
        out = [f"campaign {self.campaign_id} ({self.source}), contacted {self.contacted_on}"]
        if not self.mature:
            out.append(
                f"SO FAR: only {self.days_observed} of the {self.horizon_days} days after contact "
                "have passed; every figure below is provisional and will change"
            )
        out.append(f"outcomes {self.window}:")
        for name, arm in (("treatment", t), ("control", c)):
            revenue = (
                f", revenue per customer {money(arm.revenue_per_customer, 2)}"
                if has_revenue
                else ""
            )
            out.append(
                f"  {name:<9} {arm.customers:>7,} customers, retained {arm.retention_rate:.1%}"
                + revenue
            )
        out.append(
            f"retention lift: {self.retention_lift.show(lambda v: f'{v * 100:+.1f} pts')}; "
            f"incremental retained customers: {self.incremental_customers.show('{:+,.1f}'.format)}"
        )
        if has_revenue:
            out.append(
                "incremental revenue: "
                + self.incremental_revenue.show(lambda v: money(v, 0))
                + f"; at {self.economics.gross_margin:.0%} gross margin, net of costs "
                + f"{money(self.cost, 0)}: "
                + self.incremental_profit.show(lambda v: money(v, 0))
            )
            out.append(f"ROI: {self.roi.show(lambda v: f'{v:+.0%}')}")
        else:
            out.append("revenue: not in the data (a snapshot export without future_value)")
        if self.roi.high < 0 and has_revenue:
            out.append("verdict: the campaign lost money (the whole interval is below zero)")
        elif self.incremental_customers.low > 0:
            out.append("verdict: the campaign retained customers (the interval excludes zero)")
        elif has_revenue and self.incremental_profit.low > 0:
            out.append(
                "verdict: the campaign paid (the incremental profit interval is above zero: the "
                "contacted spent more), though more retained customers are not shown"
            )
        else:
            out.append("verdict: no effect shown yet (the interval includes zero)")
        if self.predicted_control_churn is not None:
            out.append(
                f"control arm churn: observed {self.observed_control_churn:.1%}, the model "
                f"predicted {self.predicted_control_churn:.1%}"
            )
        if self.balance.empty:
            out.append("balance: no pre-contact features to compare")
        elif self.unbalanced:
            out.append(
                f"balance: {len(self.unbalanced)} of {len(self.balance)} pre-contact features "
                f"differ between the arms by |SMD| > {SMD_LIMIT}: "
                f"{', '.join(self.unbalanced[:5])}; with arms of this size about "
                f"{self.chance_imbalance:.0%} would by chance alone - many more suggests the "
                "control group was not drawn at random"
            )
        else:
            worst = self.balance["smd"].abs().max()
            out.append(
                f"balance: the arms agree on all {len(self.balance)} pre-contact features "
                f"(largest |SMD| {worst:.3f} <= {SMD_LIMIT})"
            )
        for why, n in self.excluded.items():
            out.append(f"excluded: {n:,} {why}")
        return out

    def as_json(self) -> dict[str, Any]:
        out = {
            k: v for k, v in asdict(self).items() if k not in ("balance", "economics", "excluded")
        }
        out["economics"] = self.economics.model_dump(mode="json")
        out["excluded"] = dict(self.excluded)
        out["mature"] = self.mature
        out["window"] = self.window
        out["observed_control_churn"] = self.observed_control_churn
        out["balance"] = self.balance.to_dict("records")
        return _finite(out)


def _finite(value: Any) -> Any:
    """NaN and infinities as null, so the JSON is standard."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def difference_of_proportions(successes_t: int, n_t: int, successes_c: int, n_c: int) -> Interval:
    """r_T - r_C with the normal-approximation (Wald) 95% interval."""
    r_t, r_c = successes_t / n_t, successes_c / n_c
    se = math.sqrt(r_t * (1 - r_t) / n_t + r_c * (1 - r_c) / n_c)
    diff = r_t - r_c
    return Interval(diff, diff - Z95 * se, diff + Z95 * se)


def detection_power(n_t: int, n_c: int, p_control: float, lift: float) -> float:
    """The power of the two-sided 5% test of a retention lift ``lift`` over ``p_control``, with
    ``n_t`` treated and ``n_c`` control customers (normal approximation, as the results' CI):
    Phi(|lift| / se - 1.96), se = sqrt(p_T (1 - p_T) / n_T + p_C (1 - p_C) / n_C)."""
    if n_t < 1 or n_c < 1:
        return 0.0
    p_t = min(max(p_control + lift, 0.0), 1.0)
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_control * (1 - p_control) / n_c)
    if se == 0:
        return 1.0 if lift else 0.0
    return float(stats.norm.cdf(abs(lift) / se - Z95))


def control_share_for_power(
    n: int, p_control: float, lift: float, power: float = 0.8
) -> float | None:
    """The smallest control share (in steps of 1%, up to 50%) of ``n`` selected customers whose
    test detects ``lift`` with ``power``; None when even an even split does not."""
    for percent in range(1, 51):
        n_c = math.floor(n * percent / 100 + 0.5)
        if detection_power(n - n_c, n_c, p_control, lift) >= power:
            return percent / 100
    return None


def welch_difference(a: np.ndarray, b: np.ndarray) -> Interval:
    """mean(a) - mean(b) with Welch's 95% t interval (Welch-Satterthwaite df); an arm of one
    customer has no variance to estimate, so its interval is unknown (NaN)."""
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Interval(diff, math.nan, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(diff, diff, diff)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * se
    return Interval(diff, diff - half, diff + half)


def standardized_differences(features: pd.DataFrame, arm: pd.Series) -> pd.DataFrame:
    """Per numeric feature: means by arm and SMD = (mean_T - mean_C) / sqrt((var_T + var_C) / 2),
    flagged when |SMD| > ``SMD_LIMIT``. ``features`` and ``arm`` (1/0) share an index; missing
    values are left out per feature."""
    numeric = features.select_dtypes("number").astype("float64")
    treated = arm.to_numpy() == 1
    t, c = numeric.loc[treated], numeric.loc[~treated]
    mean_t, mean_c = t.mean(), c.mean()
    pooled = np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2)
    diff = mean_t - mean_c
    # a feature constant in both arms (e.g. the contact day's week) differs only by rounding
    tiny = 1e-9 * (mean_t.abs() + mean_c.abs() + 1.0)
    constant = pooled <= tiny
    smd = (diff / pooled.where(~constant)).where(
        ~constant, np.where(diff.abs() <= tiny, 0.0, np.inf)
    )
    table = pd.DataFrame(
        {
            "feature": numeric.columns,
            "mean_treatment": mean_t.to_numpy(),
            "mean_control": mean_c.to_numpy(),
            "smd": smd.to_numpy(dtype="float64"),
        }
    ).dropna(subset=["mean_treatment", "mean_control"])
    table["flagged"] = table["smd"].abs() > SMD_LIMIT
    order = table["smd"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def campaign_results(
    assignments: pd.DataFrame,
    outcomes: pd.DataFrame,
    economics: Economics,
    *,
    campaign_id: str,
    horizon_days: int,
    days_observed: int,
    contacted_on: str = "",
    source: str = "",
    features: pd.DataFrame | None = None,
    excluded: dict[str, int] | None = None,
) -> CampaignResults:
    """The results of one campaign from its assignments and their outcomes.

    ``assignments``: ``customer_id``, ``arm`` (1 treatment, 0 control), optionally
    ``churn_probability`` (what the model predicted). ``outcomes``: ``customer_id``,
    ``retained`` (1/0) and ``revenue`` (NaN when unknown) over the window after contact.
    ``features``: pre-contact features indexed by customer id, for the balance check. Customers
    without an outcome are excluded and counted, after ``excluded`` (rows of the campaign's
    input left out before, by reason).
    """
    joined = assignments.merge(outcomes, on=CUSTOMER_ID, how="left", validate="one_to_one")
    missing = joined[RETAINED].isna().to_numpy()
    excluded = dict(excluded or {})
    if missing.any():
        excluded[NO_OUTCOME] = int(missing.sum())
    joined = joined.loc[~missing]
    treated = joined["arm"].to_numpy() == 1
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    if n_t == 0 or n_c == 0:
        empty = "treatment" if n_t == 0 else "control"
        raise DataValidationError(
            f"campaign {campaign_id}: the {empty} arm has no customers with an outcome, so the "
            "effect cannot be measured (was it run with --no-control?)"
        )
    retained = joined[RETAINED].to_numpy(dtype="float64")
    revenue = joined[REVENUE].to_numpy(dtype="float64")
    arms = [_arm(retained[treated], revenue[treated]), _arm(retained[~treated], revenue[~treated])]
    lift = difference_of_proportions(arms[0].retained, n_t, arms[1].retained, n_c)
    if np.isnan(revenue).any():
        revenue_lift = Interval(math.nan, math.nan, math.nan)
    else:
        revenue_lift = welch_difference(revenue[treated], revenue[~treated])
    incremental_revenue = revenue_lift.scaled(n_t)
    cost = n_t * economics.contact_cost + arms[0].retained * economics.offer_cost
    profit = incremental_revenue.scaled(economics.gross_margin, -cost)
    roi = profit.scaled(1 / cost) if cost > 0 else Interval(math.nan, math.nan, math.nan)
    predicted = None
    if "churn_probability" in joined and joined["churn_probability"].notna().any():
        predicted = float(joined.loc[~treated, "churn_probability"].mean())
    if features is not None:
        ids = joined[CUSTOMER_ID].astype("str")
        aligned = features.reindex(pd.Index(ids))
        aligned.index = joined.index
        balance = standardized_differences(aligned, joined["arm"])
    else:
        balance = standardized_differences(pd.DataFrame(index=joined.index), joined["arm"])
    return CampaignResults(
        campaign_id=campaign_id,
        source=source,
        contacted_on=contacted_on,
        horizon_days=horizon_days,
        days_observed=min(days_observed, horizon_days),
        treatment=arms[0],
        control=arms[1],
        retention_lift=lift,
        incremental_customers=lift.scaled(n_t),
        revenue_lift=revenue_lift,
        incremental_revenue=incremental_revenue,
        cost=float(cost),
        incremental_profit=profit,
        roi=roi,
        economics=economics,
        balance=balance,
        predicted_control_churn=predicted,
        excluded=excluded,
    )


def _arm(retained: np.ndarray, revenue: np.ndarray) -> ArmSummary:
    return ArmSummary(
        customers=len(retained),
        retained=int(retained.sum()),
        retention_rate=float(retained.mean()),
        revenue_per_customer=float(revenue.mean()),
        revenue_sd=float(revenue.std(ddof=1)) if len(revenue) > 1 else math.nan,
    )


def outcomes_after_contact(
    prep: PreparedData,
    assignments: pd.DataFrame,
    horizon_days: int,
    *,
    contractual: bool,
) -> tuple[pd.DataFrame, int]:
    """Each assigned customer's outcome in ``(contact day, contact day + horizon]``, cut at the
    data's last day; and the days observed (the shortest window of the campaign).

    ``assignments``: ``customer_id`` and ``contacted_at``. Retained: non-contractual, a purchase
    in the window; contractual, a subscription running at the window's end (as the churn labels
    define it). Revenue: net spend in the window, floored at 0 (as ``future_value``). Customers
    not in the data get no row.
    """
    codes = pd.Index(prep.ids.astype(str)).get_indexer(assignments[CUSTOMER_ID].astype(str))
    known = codes >= 0
    contacted = pd.to_datetime(assignments["contacted_at"]).dt.normalize().to_numpy()
    contact_day = contacted.astype("datetime64[D]").astype(np.int64)
    end_day = np.minimum(contact_day + horizon_days, prep.end_day)
    days_observed = int((end_day - contact_day).min()) if len(assignments) else 0
    if days_observed <= 0:
        last = from_day(prep.end_day).date()
        raise DataValidationError(
            f"so far 0 of {horizon_days} days: the data ends on {last}, no later than the "
            "contact day, so no outcome can be measured yet; rerun with newer transactions"
        )
    n = prep.n_customers
    start = np.full(n, np.iinfo(np.int64).max)
    stop = np.full(n, np.iinfo(np.int64).min)
    start[codes[known]] = contact_day[known]
    stop[codes[known]] = end_day[known]
    tx = prep.transactions
    window = (tx.day > start[tx.customer]) & (tx.day <= stop[tx.customer])
    spend = np.bincount(tx.customer[window], weights=tx.amount[window], minlength=n)
    if contractual:
        subs = prep.subscriptions
        if subs is None:
            raise DataValidationError("contractual outcomes need a subscriptions table")
        at = stop[subs.customer]
        running = (subs.start_day <= at) & (subs.end_day > at)
        retained = np.bincount(subs.customer[running], minlength=n) > 0
    else:
        bought = window & ~tx.is_return
        retained = np.bincount(tx.customer[bought], minlength=n) > 0
    rows = codes[known]
    outcomes = pd.DataFrame(
        {
            CUSTOMER_ID: assignments.loc[known, CUSTOMER_ID].astype("str").to_numpy(),
            RETAINED: retained[rows].astype("int8"),
            REVENUE: np.maximum(spend[rows], 0.0),
        }
    )
    return outcomes, days_observed


# ----------------------------------------------------------------------------- wiring


class CampaignData:
    """The inputs campaign results read from one experiment config, each read once and reused
    for every campaign measured: the data section, economics, horizon, the treatments and the
    prepared event tables."""

    def __init__(self, config: Path) -> None:
        self.config = config
        file = ConfigFile.read(config)
        self.data = file.data()
        self.economics = file.economics()
        self.horizon_days = file.horizon_days()

    @cached_property
    def treatments(self) -> pd.DataFrame:
        return load_treatments(self.data)

    @cached_property
    def events(self) -> tuple[PreparedData, bool]:
        """The prepared event tables and whether the business is contractual."""
        tables, _ = load_data(self.data)
        return prepare(tables), tables.contractual


def measure_campaign(
    campaign_id: str, config: Path | CampaignData, ledger: Ledger
) -> CampaignResults:
    """The results of a campaign of the ledger, of the treatments table or of a snapshot export's
    treatment column, with outcomes from the config's data and its ``economics``.

    A ledger campaign's window starts at its as_of day (the day its scores describe, so the
    model's predicted churn and the control arm's observed churn cover the same days); one from
    the treatments table at each customer's ``contacted_at``; a snapshot export's outcomes are
    its labels.
    """
    inputs = config if isinstance(config, CampaignData) else CampaignData(config)
    if ledger.has(campaign_id):
        record, customers = ledger.campaign(campaign_id)
        if record.as_of is None:
            raise DataValidationError(
                f"campaign {campaign_id} was planned on a scores table without an as_of day "
                "(not `retain score` output): its outcome window is unknown"
            )
        assignments = customers[[CUSTOMER_ID, "arm", "churn_probability"]].assign(
            contacted_at=pd.Timestamp(record.as_of)
        )
        return _from_events(
            assignments,
            inputs,
            campaign_id=campaign_id,
            horizon_days=record.horizon_days,
            source=f"campaign ledger, policy {record.policy}",
            features_day=pd.Timestamp(record.as_of),
        )
    try:
        rows = campaign_assignments(inputs.treatments, campaign_id)
    except DataValidationError as err:
        recorded = ", ".join(c.campaign_id for c in ledger.campaigns()[:10]) or "none"
        raise DataValidationError(
            f"{err}; in the campaign ledger ({ledger.shown}): {recorded}"
        ) from None
    first_day = pd.Timestamp(rows["contacted_at"].min())
    snapshots = inputs.data.snapshots
    if snapshots is not None and campaign_id == snapshot_campaign_id(snapshots, first_day):
        return _from_labels(rows, inputs, campaign_id=campaign_id)
    return _from_events(
        rows,
        inputs,
        campaign_id=campaign_id,
        horizon_days=inputs.horizon_days,
        source="treatments table",
        features_day=first_day - pd.Timedelta(days=1),
        excluded=treatment_exclusions(inputs.data.treatments, campaign_id)
        if inputs.data.treatments is not None
        else {},
    )


def treatment_exclusions(source: TableSource, campaign_id: str) -> dict[str, int]:
    """The treatments table's rows of ``campaign_id`` that loading left out, by reason (an arm
    that is blank or unknown, a customer in both arms, an unreadable contact day, ...), and the
    rows of no campaign (blank id), so that no row is dropped unsaid.

    The campaign's rows are validated on their own, by the rules that load the whole table.
    """
    raw = read_table(source)
    column = source.columns.get(CAMPAIGN_ID, CAMPAIGN_ID)
    if not isinstance(column, str) or column not in raw:
        return {}
    ids = parse_ids(raw[column])
    mine = raw.loc[(ids == campaign_id).fillna(False).to_numpy(dtype=bool)]
    _, report = validate_table(mine, TREATMENTS, source=source, source_name=str(source.path))
    out: dict[str, int] = {}
    for p in report.left_out:
        out[f"treatments row(s) left out by an exclude rule: '{p.column}' {p.problem}"] = p.count
    for p in report.problems:
        out[f"treatments row(s): '{p.column}' {p.problem}"] = p.count
    if report.duplicates_dropped:
        out["treatments row(s) dropped as exact duplicates"] = report.duplicates_dropped
    blank = int(ids.isna().sum())
    if blank:
        out[f"treatments row(s) of the file with no '{column}' (they belong to no campaign)"] = (
            blank
        )
    return out


def _from_events(
    assignments: pd.DataFrame,
    inputs: CampaignData,
    *,
    campaign_id: str,
    horizon_days: int,
    source: str,
    features_day: pd.Timestamp,
    excluded: dict[str, int] | None = None,
) -> CampaignResults:
    if inputs.data.transactions is None:
        raise DataValidationError(
            f"campaign {campaign_id}: outcomes after contact come from a transactions table, and "
            "the config has none"
        )
    prep, contractual = inputs.events
    outcomes, days = outcomes_after_contact(
        prep, assignments, horizon_days, contractual=contractual
    )
    features = build_features(prep, features_day)
    return campaign_results(
        assignments,
        outcomes,
        inputs.economics,
        campaign_id=campaign_id,
        horizon_days=horizon_days,
        days_observed=days,
        contacted_on=str(pd.Timestamp(assignments["contacted_at"].min()).date()),
        source=source,
        features=features,
        excluded=excluded,
    )


def _from_labels(
    assignments: pd.DataFrame, inputs: CampaignData, *, campaign_id: str
) -> CampaignResults:
    """A randomized test exported as a labelled snapshot: its churned flag is the outcome."""
    snapshots = inputs.data.snapshots
    assert snapshots is not None
    table = load_snapshots(snapshots, labels=True)
    day = pd.Timestamp(assignments["contacted_at"].iloc[0])
    rows = table.rows.loc[pd.to_datetime(table.rows[AS_OF]).dt.normalize() == day]
    rows = rows.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)
    revenue = rows[FUTURE_VALUE] if table.has_value else pd.Series(np.nan, index=rows.index)
    outcomes = pd.DataFrame(
        {
            CUSTOMER_ID: rows.index.astype("str"),
            RETAINED: (1 - rows[CHURN]).astype("int8").to_numpy(),
            REVENUE: revenue.to_numpy(dtype="float64"),
        }
    )
    attributes = rows[table.attributes].apply(lambda c: parse_numbers(c.astype("str"))[0])
    return campaign_results(
        assignments[[CUSTOMER_ID, "arm"]],
        outcomes,
        inputs.economics,
        campaign_id=campaign_id,
        horizon_days=inputs.horizon_days,
        days_observed=inputs.horizon_days,
        contacted_on=str(day.date()),
        source=f"snapshot export {snapshots.file_name} (outcomes are its labels)",
        features=attributes.loc[:, attributes.notna().mean() >= 0.9],
        excluded={
            f"snapshot row(s) of the export (any as_of day): '{p.column}' {p.problem}": p.count
            for p in table.report.problems
        },
    )


__all__ = [
    "SMD_LIMIT",
    "ArmSummary",
    "CampaignData",
    "CampaignResults",
    "Interval",
    "campaign_results",
    "difference_of_proportions",
    "measure_campaign",
    "outcomes_after_contact",
    "standardized_differences",
    "welch_difference",
]
