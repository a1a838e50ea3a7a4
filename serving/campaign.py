"""``retain campaign``: whom to contact so that expected retained value minus cost is largest.

The expected-profit view of EMPC (Verbraken et al. 2013), per customer: a would-be churner who is
contacted accepts the offer with probability ``acceptance`` and is retained (worth its CLV, less
the offer); a would-be stayer takes the offer anyway (it costs the offer); every contact costs the
contact fee. So, with churn probability p, value V, offer d, contact f and acceptance g:

    expected gain  = p * g * (V - d) - (1 - p) * d - f
    expected spend = f + d * (p * g + 1 - p)

Customers with a positive gain are taken in order of gain per unit spent until the budget runs
out: the optimum of the fractional relaxation, and within one customer's gain of the exact one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.errors import ConfigError, DataValidationError
from features.schema import CUSTOMER_ID
from serving.files import write_atomically, write_csv_atomically
from serving.generation import read_scores

CONTACT = "contact with offer"
OVER_BUDGET = "contact if budget allows"
NO_ACTION = "do not contact"
CAMPAIGN_JSON = "campaign.json"
SCORES_GENERATION = "scores_generation"
"""The key of ``campaign.json`` naming the scores generation the campaign was planned on."""
FLAGS = {
    "budget": "--budget",
    "offer_cost": "--offer-cost",
    "contact_cost": "--contact-cost",
    "acceptance": "--acceptance",
}


class CampaignParams(BaseModel):
    """Campaign economics; validated so a wrong sign or share is an error, not a silent plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: float = Field(ge=0, description="Money available for contacts and accepted offers.")
    offer_cost: float = Field(10.0, ge=0, description="Cost of the offer, paid when accepted.")
    contact_cost: float = Field(1.0, ge=0, description="Cost of one contact.")
    acceptance: float = Field(0.3, ge=0, le=1, description="Share of contacted churners retained.")

    @classmethod
    def checked(cls, **values: float) -> CampaignParams:
        """Validate, naming the command-line flag of each bad value."""
        try:
            return cls(**values)
        except ValidationError as err:
            lines = []
            for e in err.errors():
                name = str(e["loc"][0]) if e["loc"] else "?"
                lines.append(f"{FLAGS.get(name, name)}: {e['msg']} (got {e.get('input')!r})")
            raise ConfigError("invalid campaign settings: " + "; ".join(lines)) from None


def expected_economics(
    p: np.ndarray, value: np.ndarray, params: CampaignParams
) -> tuple[np.ndarray, np.ndarray]:
    """Expected gain and expected spend of contacting each customer (see the module docstring)."""
    d, f, g = params.offer_cost, params.contact_cost, params.acceptance
    gain = p * g * (value - d) - (1 - p) * d - f
    spend = f + d * (p * g + 1 - p)
    return gain, spend


def select(
    p: np.ndarray, value: np.ndarray, params: CampaignParams
) -> tuple[np.ndarray, np.ndarray]:
    """Contact order (rank, -1 if not worth contacting) and whether each is within the budget."""
    gain, spend = expected_economics(p, value, params)
    worth = gain > 0
    ratio = np.where(spend > 0, gain / np.where(spend > 0, spend, 1.0), np.inf)
    order = np.lexsort((np.arange(len(p)), -gain, -ratio))
    order = order[worth[order]]
    affordable = np.cumsum(spend[order]) <= params.budget + 1e-9
    rank = np.full(len(p), -1, dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    chosen = np.zeros(len(p), dtype=bool)
    chosen[order[affordable]] = True
    return rank, chosen


@dataclass
class CampaignPlan:
    """The campaign list, its profit curve and where they were written."""

    table: pd.DataFrame
    curve: pd.DataFrame
    params: CampaignParams
    csv: Path | None = None
    curve_png: Path | None = None
    curve_csv: Path | None = None

    @property
    def contacted(self) -> pd.DataFrame:
        return self.table.loc[self.table["recommended_action"] == CONTACT]

    def lines(self) -> list[str]:
        c = self.contacted
        best = self.curve.loc[self.curve["expected_profit"].idxmax()]
        return [
            f"contact {len(c):,} of {len(self.table):,} customers: expected profit "
            f"{c['expected_gain'].sum():,.2f} for expected spend {c['expected_spend'].sum():,.2f} "
            f"(budget {self.params.budget:,.2f})",
            f"unconstrained optimum: contact the top {best['share_contacted']:.1%} "
            f"({int(best['contacted']):,}) for expected profit {best['expected_profit']:,.2f}",
            f"campaign list: {self.csv}",
            f"profit curve: {self.curve_png} (data: {self.curve_csv})",
        ]


def plan(scores: pd.DataFrame, params: CampaignParams) -> CampaignPlan:
    """Rank customers of a scores table for contact and compute the expected profit curve."""
    for column in (CUSTOMER_ID, "churn_probability", "clv"):
        if column not in scores:
            raise DataValidationError(
                f"the scores table has no '{column}' column: is it from `retain score`?"
            )
    p = scores["churn_probability"].to_numpy(dtype=np.float64)
    value = scores["clv"].to_numpy(dtype=np.float64)
    gain, spend = expected_economics(p, value, params)
    rank, chosen = select(p, value, params)
    action = np.where(chosen, CONTACT, np.where(rank > 0, OVER_BUDGET, NO_ACTION))
    reasons = [c for c in scores.columns if c.startswith("reason_")]
    table = pd.DataFrame(
        {
            "rank": np.where(rank > 0, rank, pd.NA),
            CUSTOMER_ID: scores[CUSTOMER_ID].to_numpy(),
            "churn_probability": p,
            "clv": value,
            "expected_gain": gain,
            "expected_spend": spend,
            "recommended_action": action,
        }
    )
    for column in [*reasons, "risk_tier"]:
        if column in scores:
            table[column] = scores[column].to_numpy()
    table["rank"] = table["rank"].astype("Int64")
    table = table.sort_values(
        ["rank", "expected_gain"], ascending=[True, False], na_position="last", kind="stable"
    ).reset_index(drop=True)
    return CampaignPlan(table=table, curve=profit_curve(gain, spend), params=params)


def profit_curve(gain: np.ndarray, spend: np.ndarray) -> pd.DataFrame:
    """Expected profit and spend when contacting the top k customers by expected gain, k = 0..n."""
    order = np.argsort(-gain, kind="stable")
    profit = np.r_[0.0, np.cumsum(gain[order])]
    cost = np.r_[0.0, np.cumsum(spend[order])]
    k = np.arange(len(gain) + 1)
    return pd.DataFrame(
        {
            "contacted": k,
            "share_contacted": k / max(len(gain), 1),
            "expected_profit": profit,
            "expected_spend": cost,
        }
    )


def plot_curve(curve: pd.DataFrame, params: CampaignParams) -> Figure:
    """The expected profit curve with the unconstrained optimum and the budget point marked."""
    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.subplots()
    ax.plot(curve["share_contacted"] * 100, curve["expected_profit"], label="expected profit")
    best = curve.loc[curve["expected_profit"].idxmax()]
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
    ax.set_ylabel("expected profit")
    ax.set_title("Retention campaign: expected profit by reach")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plan_campaign(scores_path: Path, params: CampaignParams, *, out_dir: Path) -> CampaignPlan:
    """Read ``retain score`` output, plan the campaign, write the CSV, curve PNG and curve CSV.

    Scores come from the committed generation (``serving.generation.read_scores``). Each file is
    written atomically; ``campaign.json``, written last, records the scores' generation. Test-hook
    points: ``campaign:<file name>`` before each rename.
    """
    scores, generation = read_scores(scores_path)
    result = plan(scores, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.csv = out_dir / "campaign.csv"
    result.curve_csv = out_dir / "profit_curve.csv"
    result.curve_png = out_dir / "profit_curve.png"
    write_csv_atomically(result.table, result.csv, hook="campaign:campaign.csv")
    write_csv_atomically(result.curve, result.curve_csv, hook="campaign:profit_curve.csv")
    figure = plot_curve(result.curve, params)
    write_atomically(
        result.curve_png,
        lambda tmp: figure.savefig(tmp, format="png"),
        hook="campaign:profit_curve.png",
    )
    settings = {
        **params.model_dump(mode="json"),
        SCORES_GENERATION: generation.id if generation else None,
    }
    write_atomically(
        out_dir / CAMPAIGN_JSON,
        lambda tmp: tmp.write_text(json.dumps(settings, indent=2)),
        hook="campaign:campaign.json",
    )
    return result
