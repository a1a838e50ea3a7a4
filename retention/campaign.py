"""``retain campaign``: whom to contact so that expected retained profit minus cost is largest,
with a randomized control group held out so that the campaign's effect can be measured.

The expected-profit view of EMPC (Verbraken et al. 2013), per customer: a would-be churner who is
contacted accepts the offer with probability ``acceptance`` and is retained (worth its CLV times
the gross margin, less the offer); a would-be stayer takes the offer anyway (it costs the offer);
every contact costs the contact fee. So, with churn probability p, value V, gross margin m, offer
d, contact f and acceptance g:

    expected gain  = p * g * (m * V - d) - (1 - p) * d - f
    expected spend = f + d * (p * g + 1 - p)

This "risk-value" policy *assumes* the acceptance; only a control group can tell whether it holds.
Customers with a positive gain are taken in order of gain per unit spent until the budget runs
out: the optimum of the fractional relaxation, and within one customer's gain of the exact one.
Of the customers selected, a share (``control_share``, 10% by default) is drawn at random within
each risk tier and held out: they are recorded in the campaign ledger but never exported.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.economics import Economics
from core.errors import ConfigError, DataValidationError
from core.processes import process_alive
from core.risk_tiers import RiskTiers
from core.schema import CUSTOMER_ID
from core.settings import test_hook
from model.uplift_bundle import INCREMENTAL_VALUE, OFFER_RESPONSE, UPLIFT
from retention.campaign_results import control_share_for_power, detection_power
from retention.ledger import CampaignRecord, Ledger, new_campaign_id
from retention.targeting import RISK_ONLY, RISK_VALUE, Policy, choose_targeting, policy_lines
from serving.batch import VALUE_BASIS
from serving.files import from_spreadsheet_safe, fsync_dir, spreadsheet_safe, write_atomically
from serving.generation import Generation, read_meta, read_scores
from serving.store import ECONOMICS, RISK_TIERS
from serving.uplift_store import UPLIFT_CARD

CONTACT = "contact with offer"
CONTROL = "hold out as control"
OVER_BUDGET = "contact if budget allows"
NO_ACTION = "do not contact"
TREATMENT_ARM = "treatment"
CONTROL_ARM = "control"
CAMPAIGN_JSON = "campaign.json"
CAMPAIGNS = "campaigns"
"""The folder (beside the scores) holding each recorded campaign's files, by campaign id."""
SCORES_GENERATION = "scores_generation"
"""The key of ``campaign.json`` naming the scores generation the campaign was planned on."""
RECORD_KEYS = ("campaign_id", "policy")
"""Keys ``campaign.json`` holds beside the settings (which campaign, planned how); reading the
file back as ``CampaignParams`` passes over them."""
NO_TIER = "all"
"""The single stratum when the scores carry no risk tier."""
FLAGS = {
    "budget": "--budget",
    "offer_cost": "--offer-cost",
    "contact_cost": "--contact-cost",
    "acceptance": "--acceptance",
    "gross_margin": "economics.gross_margin in --config",
    "currency": "economics.currency in --config",
    "control_share": "--control-share",
    "seed": "--seed",
    "include_negative": "--include-negative",
}
_ECONOMICS_KEYS = tuple(Economics.model_fields)


class CampaignParams(BaseModel):
    """A campaign's budget, economics and control group; validated so a wrong sign or share is an
    error, not a silent plan. Economics fields given flat (``offer_cost=10``) override
    ``economics``, as the command-line flags override the config's ``economics`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: float = Field(ge=0, description="Money available for contacts and accepted offers.")
    economics: Economics = Field(
        default_factory=Economics,
        description="Currency, gross margin, offer and contact costs, assumed acceptance.",
    )
    control_share: float = Field(
        0.10,
        ge=0,
        le=0.5,
        description="Share of the selected customers held out at random (within each risk tier) "
        "as a control group: without one a campaign's effect cannot be measured.",
    )
    seed: int = Field(0, ge=0, description="Seed of the control draw; same seed, same draw.")
    include_negative: bool = Field(
        False,
        description="Also contact, after every profitable customer and within the budget, "
        "customers whose expected gain is not positive (never by default: each such contact is "
        "expected to lose money, or for a sleeping dog to raise churn).",
    )

    @model_validator(mode="before")
    @classmethod
    def _fold_economics(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = {k: v for k, v in values.items() if k not in RECORD_KEYS}
        flat = {k: values[k] for k in _ECONOMICS_KEYS if k in values and values[k] is not None}
        if not flat:
            return values
        base = values.get("economics") or {}
        base = base.model_dump() if isinstance(base, Economics) else dict(base)
        rest = {k: v for k, v in values.items() if k not in _ECONOMICS_KEYS}
        return {**rest, "economics": {**base, **flat}}

    @property
    def offer_cost(self) -> float:
        return self.economics.offer_cost

    @property
    def contact_cost(self) -> float:
        return self.economics.contact_cost

    @property
    def acceptance(self) -> float:
        return self.economics.acceptance

    @classmethod
    def checked(cls, *, no_control: bool = False, **values: Any) -> CampaignParams:
        """Validate, naming the command-line flag (or config key) of each bad value.

        A control share of 0 is refused unless ``no_control`` says it is meant; ``no_control``
        sets the share to 0.
        """
        if no_control:
            values["control_share"] = 0.0
        elif values.get("control_share") == 0:
            raise ConfigError(
                "invalid campaign settings: --control-share 0 leaves no control group, so the "
                "campaign's effect can never be measured; give a share such as 0.1, or "
                "--no-control if you really mean to run without one"
            )
        try:
            return cls(**{k: v for k, v in values.items() if v is not None})
        except ValidationError as err:
            lines = []
            for e in err.errors():
                name = str(e["loc"][-1]) if e["loc"] else "?"
                lines.append(f"{FLAGS.get(name, name)}: {e['msg']} (got {e.get('input')!r})")
            raise ConfigError("invalid campaign settings: " + "; ".join(lines)) from None

    def lines(self) -> list[str]:
        """The economics and control group, as the campaign output states them."""
        e = self.economics
        control = (
            f"control group {self.control_share:.0%} of the selected, drawn within risk tiers "
            f"(seed {self.seed})"
            if self.control_share
            else "no control group (--no-control): the campaign's effect cannot be measured"
        )
        return [
            f"economics: gross margin {e.gross_margin:.0%}, offer {e.money(e.offer_cost, 2)}, "
            f"contact {e.money(e.contact_cost, 2)}, assumed acceptance {e.acceptance:.0%}, "
            f"budget {e.money(self.budget)}",
            control,
        ]


def worth_contacting(gain: np.ndarray, *, include_negative: bool = False) -> np.ndarray:
    """Who may be contacted: a positive expected gain, or with ``include_negative`` any known one
    (a gain that cannot be computed is never contacted)."""
    known = np.isfinite(gain)
    return known if include_negative else known & (gain > 0)


def customers(n: int) -> str:
    """'1 customer', '2 customers', '1,204 customers'."""
    return f"{n:,} customer" + ("" if n == 1 else "s")


def select(
    gain: np.ndarray,
    spend: np.ndarray,
    budget: float,
    *,
    include_negative: bool = False,
    priority: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Contact order (rank, -1 if not worth contacting) and whether each is within the budget:
    by gain per unit spent, or by ``priority`` (higher first) when the policy ranks by a score."""
    worth = worth_contacting(gain, include_negative=include_negative)
    ratio = np.where(spend > 0, gain / np.where(spend > 0, spend, 1.0), np.inf)
    if priority is not None:
        order = np.lexsort((np.arange(len(gain)), -gain, -np.asarray(priority)))
    else:
        order = np.lexsort((np.arange(len(gain)), -gain, -ratio))
    order = order[worth[order]]
    affordable = np.cumsum(spend[order]) <= budget + 1e-9
    rank = np.full(len(gain), -1, dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    chosen = np.zeros(len(gain), dtype=bool)
    chosen[order[affordable]] = True
    return rank, chosen


def assign_control(
    customer_ids: np.ndarray, tiers: np.ndarray, selected: np.ndarray, share: float, seed: int
) -> np.ndarray:
    """Which selected customers are held out as control: share x n of them (rounded half up),
    drawn at random within each tier (stratified, so the arms match in risk), seeded.

    Each tier gets its share rounded down, and the customers left to reach the total go to the
    tiers with the largest remainders (largest-remainder allocation), so small tiers still add
    up to the overall share. The draw depends on the customers, their tiers and the seed only,
    not on row order: customers are put in id order before the random keys are drawn.
    """
    control = np.zeros(len(customer_ids), dtype=bool)
    if share <= 0 or not selected.any():
        return control
    rows = np.flatnonzero(selected)
    ids = customer_ids[rows].astype(str)
    rows = rows[np.argsort(ids, kind="stable")]
    key = np.random.default_rng(seed).random(len(rows))
    frame = pd.DataFrame({"tier": tiers[rows].astype(str), "key": key})
    sizes = frame.groupby("tier").size()
    quota = share * sizes
    count = np.floor(quota).astype(int)
    left = math.floor(share * len(rows) + 0.5) - int(count.sum())  # half rounds up
    if left > 0:
        remainder = (quota - count).sort_values(ascending=False, kind="stable")
        count[remainder.index[:left]] += 1
    position = frame.groupby("tier")["key"].rank(method="first").to_numpy()
    control[rows] = position <= frame["tier"].map(count).to_numpy()
    return control


@dataclass
class CampaignPlan:
    """The campaign: every scored customer with its action and arm, the profit curve, and where
    the files were written."""

    table: pd.DataFrame
    curve: pd.DataFrame
    params: CampaignParams
    policy: str = RISK_VALUE
    left_out: dict[str, int] = field(default_factory=dict)
    """Customers never contacted, by reason (``Targeting.left_out``): none is dropped unsaid."""
    risk_tiers: RiskTiers | None = None
    """The tiers recorded with the scored models, stated in the output; None: not recorded."""
    campaign_id: str | None = None
    csv: Path | None = None
    curve_png: Path | None = None
    curve_csv: Path | None = None
    folder: Path | None = None
    ledger: str | None = None
    value_note: str | None = None
    """What the value rests on when the scores come from a churn-only package (else None)."""
    policy_lines: list[str] = field(default_factory=list)
    """Which policy targeted and why, with its held-out figures (``targeting.policy_lines``)."""

    @property
    def contacted(self) -> pd.DataFrame:
        """The treatment arm: the customers to contact (the CRM list)."""
        return self.table.loc[self.table["recommended_action"] == CONTACT]

    @property
    def control(self) -> pd.DataFrame:
        """The control arm: selected, held out, never exported."""
        return self.table.loc[self.table["recommended_action"] == CONTROL]

    @property
    def assignments(self) -> pd.DataFrame:
        """Both arms, as the ledger records them."""
        return self.table.loc[self.table["arm"].notna()]

    def risk_only_lines(self) -> list[str]:
        """The plan in words when value is unknown: who is contacted and how many would-be
        churners that reaches; no profit is claimed."""
        c = self.contacted
        money = self.params.economics.money
        out = [
            f"campaign {self.campaign_id or '(not recorded)'}: policy {self.policy}",
            *self.policy_lines,
            *self.params.lines(),
            "value unknown (no CLV model, no economics.recurring_charge): customers are ranked "
            "by churn probability and no expected profit is computed",
            f"contact {len(c):,} of {len(self.table):,} customers, hold out {len(self.control):,} "
            f"as control: {c['churn_probability'].sum():,.1f} expected would-be churners "
            f"reached for expected spend {money(c['expected_spend'].sum(), 2)}",
        ]
        if len(self.assignments):
            out.append(self.power_line())
        if self.csv is not None:
            out.append(f"contact list (treatment arm only): {self.csv}")
            out.append(f"reach curve: {self.curve_png} (data: {self.curve_csv})")
        if self.ledger is not None:
            out.append(f"recorded in the campaign ledger: {self.ledger} (files: {self.folder})")
        return out

    def power_line(self) -> str:
        """Whether the control group can measure the effect the risk-value policy assumes: a
        retention lift of acceptance x the selected customers' mean churn probability."""
        selected = self.assignments
        churn = float(selected["churn_probability"].mean())
        lift = self.params.acceptance * churn
        n, n_c = len(selected), len(self.control)
        power = detection_power(n - n_c, n_c, 1 - churn, lift)
        needed = control_share_for_power(n, 1 - churn, lift)
        head = (
            f"power: the assumed effect (+{lift * 100:.1f} pts retention among the {n:,} "
            f"selected) would be detected with probability {power:.0%} with this control group"
        )
        if needed is None:
            return (
                head + "; no control share up to 50% reaches 80%: too few customers to measure it"
            )
        return head + f"; 80% needs a control share of at least {needed:.0%}"

    def tier_lines(self) -> list[str]:
        """The risk tiers of the ``risk_tier`` column, in words (nothing when not recorded)."""
        if self.risk_tiers is None:
            return []
        return [f"risk tiers (recorded with the scored models): {self.risk_tiers.words()}"]

    def left_out_lines(self) -> list[str]:
        """Who is never contacted and why, or who is contacted although expected to lose."""
        if self.params.include_negative:
            negative = self.table["expected_gain"].to_numpy() <= 0
            ranked = self.table["rank"].notna().to_numpy()
            out = [
                f"--include-negative: {customers(int((negative & ranked).sum()))} whose "
                "expected gain is not positive are ranked after the profitable ones and "
                f"contacted if the budget allows ({int((negative & self.contacted_mask).sum()):,}"
                " are)"
            ]
        else:
            out = []
        out += [f"left out: {customers(n)} {why}" for why, n in self.left_out.items()]
        if self.left_out and not self.params.include_negative:
            out.append("(never contacted; --include-negative ranks those with a known gain last)")
        return out

    @property
    def contacted_mask(self) -> np.ndarray:
        """Per table row: whether it is in the treatment arm."""
        return (self.table["recommended_action"] == CONTACT).to_numpy()

    def lines(self) -> list[str]:
        if self.policy == RISK_ONLY:
            return self.risk_only_lines()
        c = self.contacted
        best = self.curve.loc[self.curve["expected_profit"].idxmax()]
        money = self.params.economics.money
        out = [
            f"campaign {self.campaign_id or '(not recorded)'}: policy {self.policy}",
            *self.policy_lines,
            *self.params.lines(),
            *self.tier_lines(),
            *([self.value_note] if self.value_note else []),
            f"contact {len(c):,} of {len(self.table):,} customers, hold out {len(self.control):,} "
            f"as control: expected profit {money(c['expected_gain'].sum(), 2)} for expected "
            f"spend {money(c['expected_spend'].sum(), 2)}",
            f"unconstrained optimum: contact the top {best['share_contacted']:.1%} "
            f"({int(best['contacted']):,}) for expected profit {money(best['expected_profit'], 2)}",
        ]
        if self.params.control_share and len(c) and not len(self.control):
            out.append(
                f"warning: {len(c):,} selected customer(s) are too few for a "
                f"{self.params.control_share:.0%} control group (rounded to 0 in every risk "
                "tier): this campaign's effect cannot be measured; raise the budget or the share"
            )
        if self.policy == RISK_VALUE and len(self.assignments):
            out.append(self.power_line())
        if self.policy == RISK_VALUE:
            out.append(
                "note: the acceptance is an assumption, not a measurement; "
                "`retain campaign-results` measures it against the control group"
            )
        out += self.left_out_lines()
        if self.csv is not None:
            out.append(f"contact list (treatment arm only): {self.csv}")
            out.append(f"profit curve: {self.curve_png} (data: {self.curve_csv})")
        if self.ledger is not None:
            out.append(f"recorded in the campaign ledger: {self.ledger} (files: {self.folder})")
        return out


def plan(
    scores: pd.DataFrame, params: CampaignParams, policy: Policy | None = None
) -> CampaignPlan:
    """Rank customers of a scores table for contact, hold out the control group, and compute the
    expected profit curve. ``policy`` (default: ``retention.targeting.choose_targeting``, by the
    uplift model's incremental profit when the scores carry ``uplift``, else
    ``risk_value_targeting``) gives each customer's expected gain and spend, in the scores' row
    order."""
    for column in (CUSTOMER_ID, "churn_probability"):
        if column not in scores:
            raise DataValidationError(
                f"the scores table has no '{column}' column: is it from `retain score`?"
            )
    if policy is None:
        policy = choose_targeting
    targeting = policy(scores, params.economics)
    gain, spend = targeting.gain, targeting.spend
    rank, chosen = select(
        gain,
        spend,
        params.budget,
        include_negative=params.include_negative,
        priority=targeting.priority,
    )
    ids = scores[CUSTOMER_ID].to_numpy()
    tiers = scores["risk_tier"].to_numpy() if "risk_tier" in scores else np.full(len(ids), NO_TIER)
    control = assign_control(ids, tiers, chosen, params.control_share, params.seed)
    action = np.where(
        control, CONTROL, np.where(chosen, CONTACT, np.where(rank > 0, OVER_BUDGET, NO_ACTION))
    )
    arm = pd.Series(np.where(control, CONTROL_ARM, TREATMENT_ARM), dtype="str").where(chosen)
    reasons = [c for c in scores.columns if c.startswith("reason_")]
    table = pd.DataFrame(
        {
            "rank": np.where(rank > 0, rank, pd.NA),
            CUSTOMER_ID: ids,
            "churn_probability": scores["churn_probability"].to_numpy(dtype=np.float64),
            "clv": pd.to_numeric(scores.get("clv", np.nan), errors="coerce"),
            "expected_gain": gain,
            "expected_spend": spend,
            "recommended_action": action,
            "arm": arm,
        }
    )
    for column in [*reasons, "risk_tier", UPLIFT, INCREMENTAL_VALUE, OFFER_RESPONSE]:
        if column in scores:
            table[column] = scores[column].to_numpy()
    table["rank"] = table["rank"].astype("Int64")
    table = table.sort_values(
        ["rank", "expected_gain"], ascending=[True, False], na_position="last", kind="stable"
    ).reset_index(drop=True)
    return CampaignPlan(
        table=table,
        curve=profit_curve(gain, spend),
        params=params,
        policy=targeting.policy,
        left_out=targeting.left_out(rank > 0),
    )


def profit_curve(gain: np.ndarray, spend: np.ndarray) -> pd.DataFrame:
    """Expected profit and spend when contacting the top k customers by expected gain, k = 0..n
    (k up to the customers whose gain is known: one that cannot be computed is never contacted)."""
    order = np.argsort(-gain, kind="stable")
    order = order[np.isfinite(gain[order])]
    profit = np.r_[0.0, np.cumsum(gain[order])]
    cost = np.r_[0.0, np.cumsum(spend[order])]
    k = np.arange(len(order) + 1)
    return pd.DataFrame(
        {
            "contacted": k,
            "share_contacted": k / max(len(gain), 1),
            "expected_profit": profit,
            "expected_spend": cost,
        }
    )


def plot_curve(curve: pd.DataFrame, params: CampaignParams, policy: str = RISK_VALUE) -> Figure:
    """The expected profit curve with the unconstrained optimum and the budget point marked;
    for ``RISK_ONLY`` (value unknown) the expected would-be churners reached instead."""
    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.subplots()
    what = "expected would-be churners reached" if policy == RISK_ONLY else "expected profit"
    ax.plot(curve["share_contacted"] * 100, curve["expected_profit"], label=what)
    best = curve.loc[curve["expected_profit"].idxmax()]
    if policy != RISK_ONLY:  # reaching more would-be churners is always "better": no optimum
        ax.scatter(
            [best["share_contacted"] * 100],
            [best["expected_profit"]],
            color="C3",
            zorder=3,
            label=f"optimum: top {best['share_contacted']:.1%}",
        )
    within = curve.loc[curve["expected_spend"] <= params.budget]
    if len(within) > 1:
        last = within.iloc[-1]
        ax.axvline(
            last["share_contacted"] * 100,
            color="grey",
            linestyle=":",
            label=f"budget {params.budget:,.0f} reaches {last['share_contacted']:.1%}",
        )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("customers contacted, highest expected gain first (%)")
    ax.set_ylabel(what)
    ax.set_title(f"Retention campaign: {what} by reach")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def contact_list(result: CampaignPlan) -> pd.DataFrame:
    """The CRM list: the treatment arm only (never a control customer), tagged with the campaign
    id so the CRM's export of who was contacted maps back to the ledger."""
    rows = result.contacted.drop(columns=["arm"])
    rows.insert(0, "campaign_id", result.campaign_id)
    return rows.reset_index(drop=True)


CONTACT_LIST = "campaign.csv"
"""The file of a campaign's contact list (``contact_list``), in its folder and beside the scores."""
NUMERIC_COLUMNS = (
    "rank",
    "churn_probability",
    "clv",
    "expected_gain",
    "expected_spend",
    UPLIFT,
    INCREMENTAL_VALUE,
    OFFER_RESPONSE,
)
"""Columns of a contact list read back as numbers; the others stay text, as written."""


def ranking(result: CampaignPlan) -> pd.DataFrame:
    """Every customer the campaign would contact given the budget, in its contact order (both
    arms, before the control group is held out): the order ``retain campaign`` contacts in."""
    return result.table.loc[result.table["rank"].notna()].reset_index(drop=True)


def read_contact_list(path: Path) -> pd.DataFrame:
    """A contact list as ``plan_campaign`` wrote it (ids and reasons as text, figures as
    numbers); an unreadable file is an error that says to plan the campaign again."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataValidationError(
            f"the contact list {path} cannot be read ({type(err).__name__}): rerun "
            "`retain campaign`"
        ) from None
    frame = from_spreadsheet_safe(frame)
    for column in NUMERIC_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce")
    return frame


def scored_economics(scores_path: Path) -> Economics | None:
    """The economics ``retain score`` recorded with the scored models (packaged from their
    experiment config), None for scores without a ``score_meta.json`` naming them."""
    meta = read_meta(scores_path.parent) or {}
    recorded = meta.get(ECONOMICS)
    return Economics.model_validate(recorded) if isinstance(recorded, dict) else None


def scored_risk_tiers(scores_path: Path) -> RiskTiers | None:
    """The risk tiers ``retain score`` recorded with the scored models (``risk_tier`` follows
    them), None for scores that record none."""
    recorded = (read_meta(scores_path.parent) or {}).get(RISK_TIERS)
    return RiskTiers.model_validate(recorded) if isinstance(recorded, dict) else None


def campaign_record(result: CampaignPlan, generation: Generation | None) -> CampaignRecord:
    """The ledger's record of a planned campaign: its settings, models and scores generation."""
    meta = generation.meta if generation else {}
    as_of = meta.get("as_of")
    assert result.campaign_id is not None
    return CampaignRecord(
        campaign_id=result.campaign_id,
        created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        as_of=dt.date.fromisoformat(as_of) if as_of else None,
        horizon_days=int(meta.get("horizon_days", 90)),
        contractual=bool(meta.get("contractual", False)),
        policy=result.policy,
        economics=result.params.economics,
        budget=result.params.budget,
        control_share=result.params.control_share,
        seed=result.params.seed,
        model_versions={
            k.removesuffix("_model"): str(v)
            for k, v in meta.items()
            if k.endswith("_model") and v is not None
        },
        scores_generation=generation.id if generation else None,
        n_treatment=len(result.contacted),
        n_control=len(result.control),
    )


def ledger_customers(result: CampaignPlan) -> pd.DataFrame:
    """Both arms in the ledger's per-customer form (``arm`` 1 treatment, 0 control)."""
    rows = result.assignments
    return pd.DataFrame(
        {
            CUSTOMER_ID: rows[CUSTOMER_ID].astype("str"),
            "arm": (rows["arm"] == TREATMENT_ARM).astype("int8"),
            "risk_tier": rows.get("risk_tier", NO_TIER),
            "rank": rows["rank"],
            "churn_probability": rows["churn_probability"],
            "clv": rows["clv"],
            "expected_gain": rows["expected_gain"],
        }
    )


def plan_campaign(
    scores_path: Path,
    params: CampaignParams,
    *,
    out_dir: Path,
    ledger: Ledger | None = None,
    policy: Policy | None = None,
) -> CampaignPlan:
    """Read ``retain score`` output, plan the campaign with its control group, record it in the
    ledger and write the contact list (treatment arm only), profit curve and settings.

    Nothing is half done: the files are written into ``campaigns/.<id>.<pid>.tmp/`` first, then
    the ledger commits the campaign and its customers in one transaction, then the folder is
    renamed to ``campaigns/<id>/`` and its files published beside the scores (each atomically;
    ``campaign.json``, last, records the campaign id and the scores' generation). A run killed
    before the commit leaves the ledger and the published files as they were; one killed after
    it leaves the campaign recorded whole, and the next run finishes its folder. Test-hook points:
    ``campaign:stage:<file>``, ``campaign:ledger`` (before the commit), ``campaign:committed``
    (after it), ``campaign:recorded`` (folder in place) and ``campaign:<file>`` before each
    published rename.
    """
    scores, generation = read_scores(scores_path)
    card = (read_meta(scores_path.parent) or {}).get(UPLIFT_CARD)
    result = plan(scores, params, policy or partial(choose_targeting, card=card))
    result.risk_tiers = scored_risk_tiers(scores_path)
    meta = generation.meta if generation else {}
    result.policy_lines = policy_lines(card, result.policy)
    if meta.get("clv_model", "") is None and meta.get(VALUE_BASIS):  # a churn-only package
        result.value_note = f"value (no CLV model): {meta[VALUE_BASIS]}"
    ledger = ledger or Ledger()
    folder = out_dir / CAMPAIGNS
    finish_staged(folder, ledger)
    result.campaign_id = new_campaign_id()
    record = campaign_record(result, generation)
    settings = {
        "campaign_id": result.campaign_id,
        "policy": result.policy,
        **params.model_dump(mode="json"),
        SCORES_GENERATION: generation.id if generation else None,
    }
    figure = plot_curve(result.curve, params, result.policy)
    files: dict[str, Any] = {
        CONTACT_LIST: lambda tmp: spreadsheet_safe(contact_list(result)).to_csv(tmp, index=False),
        "profit_curve.csv": lambda tmp: result.curve.to_csv(tmp, index=False),
        "profit_curve.png": lambda tmp: figure.savefig(tmp, format="png"),
        CAMPAIGN_JSON: lambda tmp: tmp.write_text(json.dumps(settings, indent=2)),
    }
    staged = folder / f".{result.campaign_id}.{os.getpid()}.tmp"
    staged.mkdir(parents=True)
    try:
        for name, write in files.items():
            write_atomically(staged / name, write, hook=f"campaign:stage:{name}")
        ledger.record(record, ledger_customers(result), hook="campaign:ledger")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    test_hook("campaign:committed")
    final = folder / result.campaign_id
    staged.rename(final)
    fsync_dir(folder)
    test_hook("campaign:recorded")
    for name, write in files.items():
        write_atomically(out_dir / name, write, hook=f"campaign:{name}")
    result.folder, result.ledger = final, ledger.shown
    result.csv = out_dir / CONTACT_LIST
    result.curve_csv = out_dir / "profit_curve.csv"
    result.curve_png = out_dir / "profit_curve.png"
    return result


def finish_staged(folder: Path, ledger: Ledger) -> None:
    """Deal with campaign folders left by killed runs: one whose campaign the ledger committed
    is completed (renamed into place); one it never committed is removed."""
    if not folder.is_dir():
        return
    for staged in folder.glob(".C*.tmp"):
        campaign_id, _, pid = staged.name[1:-4].rpartition(".")
        if not pid.isdigit() or (process_alive(int(pid)) and int(pid) != os.getpid()):
            continue
        if ledger.has(campaign_id) and not (folder / campaign_id).exists():
            staged.rename(folder / campaign_id)
        else:
            shutil.rmtree(staged, ignore_errors=True)
