"""Past randomized retention campaigns planted in the demo retail base, with their true effects.

Two campaigns, each contacting a random subset of the recent base and splitting it at random into
a treatment arm (offered) and a control arm (not contacted). The offer changes a treated
customer's dropout hazard by a multiplier for ``OFFER_DAYS`` after contact; who it helps depends on
traits the features observe (order value, how much they return, channel and region), and their
purchase rate over the same days by another:

* **persuadables** (bargain hunters, low order value): the offer cuts their hazard to 20% and
  multiplies their purchase rate by 2.5;
* **sure things** (mid order value, the U-shape's low-hazard middle): hazard to 80%, rate +10%,
  on a hazard so small that they stay anyway;
* **lost causes** (south-region marketplace buyers, one-off big spenders): unchanged, they leave
  anyway;
* **sleeping dogs** (customers who return a lot): the contact *raises* their hazard 3-fold and
  cuts their purchase rate to 40%.

The effect is coupled to the control outcome, so every customer has both potential outcomes: the
treated residual lifetime is the control one passed through the changed cumulative hazard
(memoryless exponential lifetimes make this exact). Purchases before contact follow the death time
known before the offer, so the arms are balanced on everything the features see.

The true effects are computed, not simulated: for a customer alive at contact with purchase rate
``r`` (times the mean demand over the horizon, and the offer's rate multiplier in the treated
arm) and residual life ``L``, purchases in the horizon
run at ``r`` and at ``r/4`` in the four months before death (the generator's slowdown). The
probability of no purchase, ``E[exp(-r * exposure(L))]``, and the expected spend are averaged over
256 quantiles of ``L`` in each arm. ``true_churn_effect`` is control minus treated churn
probability (positive: the offer helps), ``true_value_effect`` treated minus control spend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

OFFER_DAYS = 90
"""How long the offer changes the dropout hazard after contact."""
HORIZON_DAYS = 90
"""The outcome window the true effects refer to (the demo config's ``horizon_days``)."""
SLOWDOWN_DAYS = 120
SLOWDOWN = 0.25
QUANTILES = 256

SEGMENTS = ("persuadable", "sure thing", "lost cause", "sleeping dog")
MULTIPLIER = {"persuadable": 0.2, "sure thing": 0.8, "lost cause": 1.0, "sleeping dog": 3.0}
"""The offer's multiplier of the dropout hazard, by segment."""
RATE_MULTIPLIER = {"persuadable": 2.5, "sure thing": 1.1, "lost cause": 1.0, "sleeping dog": 0.4}
"""The offer's multiplier of the purchase rate while it runs, by segment."""


@dataclass(frozen=True)
class Campaign:
    """One past campaign: when it contacted (days before the data ends) and what it offered."""

    campaign_id: str
    days_before_end: int
    offer: str
    reach: float = 0.9
    """Share of the eligible base (recent customers) put into the experiment."""
    treated_share: float = 0.5


CAMPAIGNS = (
    Campaign("winter_winback", 426, "15% off the next order"),
    Campaign("spring_loyalty", 275, "free shipping for three months"),
)


@dataclass(frozen=True)
class Traits:
    """The per-customer draws of the retail generator that campaigns and effects depend on."""

    acquired: np.ndarray
    death: np.ndarray
    hazard: np.ndarray
    rate: np.ndarray
    mean_order_value: np.ndarray
    value_z: np.ndarray
    return_propensity: np.ndarray
    south_marketplace: np.ndarray


def uplift_segment(traits: Traits) -> np.ndarray:
    """Each customer's response segment (see the module docstring), from observable traits."""
    segment = np.where(traits.value_z < -0.25, "persuadable", "sure thing").astype(object)
    segment[(traits.value_z > 1.0) | traits.south_marketplace] = "lost cause"
    segment[traits.return_propensity >= 0.15] = "sleeping dog"
    return segment


def treated_residual(residual: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """Residual lifetime under the offer, coupled to the control residual (same hazard quantile).

    The hazard is ``multiplier`` times the control hazard for ``OFFER_DAYS``, then as before.
    """
    m = multiplier
    within = residual < m * OFFER_DAYS
    return np.where(within, residual / m, OFFER_DAYS + residual - m * OFFER_DAYS)


@dataclass(frozen=True)
class PlantedCampaigns:
    """The campaigns as the generator needs them, and the tables they produce."""

    contact_days: np.ndarray
    """Contact day (days since the data's start) of each campaign, ascending."""
    deaths: np.ndarray
    """Death day per customer before any campaign (row 0) and after each campaign (row k)."""
    treatments: pd.DataFrame
    """Per experiment customer: owner, campaign_id, arm, contact_day, offer."""
    truth: pd.DataFrame
    """Per experiment customer: owner, campaign_id, arm, segment and the true effects."""
    segment: np.ndarray
    seed: int

    @property
    def final_death(self) -> np.ndarray:
        return self.deaths[-1]

    @property
    def longest_death(self) -> np.ndarray:
        return self.deaths.max(axis=0)

    def death_at(self, owner: np.ndarray, when: np.ndarray) -> np.ndarray:
        """The death day in force for an event of customer ``owner`` at day ``when``.

        Before a campaign's contact, the death known without it: the offer cannot act earlier.
        """
        stage = np.searchsorted(self.contact_days, when, side="right")
        return self.deaths[stage, owner]

    def offer_purchases(
        self, owner: np.ndarray, when: np.ndarray, candidate_rate: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Purchase candidates with the offer's rate change: (owner, when, keep multiplier).

        The generator thins candidates drawn at ``candidate_rate`` per day. Treated customers
        get extra candidates at ``(k - 1) * candidate_rate`` during the offer when their rate
        multiplier ``k`` exceeds 1, and keep multiplier ``k`` there when it is below 1.
        """
        rng = np.random.default_rng([self.seed, 13])
        t = self.treatments.loc[self.treatments["arm"] == "treatment"]
        treated = t["owner"].to_numpy()
        start = t["contact_day"].to_numpy()
        k = np.array([RATE_MULTIPLIER[s] for s in self.segment[treated]])
        up = k > 1
        n_extra = rng.poisson((k[up] - 1) * candidate_rate[treated[up]] * OFFER_DAYS)
        extra_owner = np.repeat(treated[up], n_extra)
        extra_when = np.repeat(start[up], n_extra) + rng.uniform(0, OFFER_DAYS, extra_owner.size)
        owner = np.concatenate([owner, extra_owner])
        when = np.concatenate([when, extra_when])
        keep = np.ones(owner.size)
        window = pd.DataFrame({"owner": treated[k < 1], "start": start[k < 1], "k": k[k < 1]})
        events = pd.DataFrame({"owner": owner, "when": when, "row": np.arange(owner.size)})
        hit = events.merge(window, on="owner")
        inside = (hit["when"] >= hit["start"]) & (hit["when"] < hit["start"] + OFFER_DAYS)
        keep[hit.loc[inside, "row"].to_numpy()] = hit.loc[inside, "k"].to_numpy()
        return owner, when, keep


def plant_campaigns(
    traits: Traits,
    *,
    span: int,
    demand: Callable[[np.ndarray], np.ndarray],
    seed: int,
    campaigns: tuple[Campaign, ...] = CAMPAIGNS,
) -> PlantedCampaigns:
    """Draw each campaign's arms and apply the offer to the treated customers' lifetimes.

    ``demand(day)`` is the generator's relative demand by day since its start; ``span`` the last
    day. A customer is eligible for a campaign when acquired 30+ days before contact and not dead
    for more than 180 days (a CRM's "recent customers"). A separate seeded stream draws the arms,
    so the campaigns do not shift the generator's own random numbers before this point.
    """
    rng = np.random.default_rng([seed, 12])
    segment = uplift_segment(traits)
    multiplier = np.array([MULTIPLIER[s] for s in segment])
    order = sorted(campaigns, key=lambda c: -c.days_before_end)
    contact_days = np.array([span - c.days_before_end for c in order], dtype=np.float64)
    if contact_days.min() < 60 or span - contact_days.max() < HORIZON_DAYS:
        raise ValueError(
            f"campaigns need 60 days of history and {HORIZON_DAYS} days after contact; "
            f"the data spans {span} days"
        )
    deaths = [traits.death.astype(np.float64)]
    treat_rows: list[pd.DataFrame] = []
    truth_rows: list[pd.DataFrame] = []
    for campaign, day in zip(order, contact_days, strict=True):
        death = deaths[-1]
        eligible = np.flatnonzero((traits.acquired <= day - 30) & (death > day - 180))
        chosen = eligible[rng.uniform(size=eligible.size) < campaign.reach]
        shuffled = rng.permutation(chosen)
        treated = np.sort(shuffled[: round(campaign.treated_share * chosen.size)])
        control = np.sort(shuffled[treated.size :])
        new_death = death.copy()
        alive = treated[death[treated] > day]
        residual = death[alive] - day
        new_death[alive] = day + treated_residual(residual, multiplier[alive])
        deaths.append(new_death)
        owners = np.concatenate([treated, control])
        arm = np.r_[np.full(treated.size, "treatment"), np.full(control.size, "control")]
        treat_rows.append(
            pd.DataFrame(
                {
                    "owner": owners,
                    "campaign_id": campaign.campaign_id,
                    "arm": arm,
                    "contact_day": day,
                    "offer": campaign.offer,
                }
            )
        )
        effects = true_effects(traits, segment, owners, death, day, demand)
        truth_rows.append(
            pd.DataFrame(
                {
                    "owner": owners,
                    "campaign_id": campaign.campaign_id,
                    "arm": arm,
                    "segment": segment[owners],
                    "hazard_multiplier": multiplier[owners],
                    **effects,
                }
            )
        )
    treatments = pd.concat(treat_rows, ignore_index=True)
    truth = pd.concat(truth_rows, ignore_index=True)
    return PlantedCampaigns(
        contact_days=contact_days,
        deaths=np.vstack(deaths),
        treatments=treatments,
        truth=truth,
        segment=segment,
        seed=seed,
    )


def true_effects(
    traits: Traits,
    segment: np.ndarray,
    owners: np.ndarray,
    death: np.ndarray,
    day: float,
    demand: Callable[[np.ndarray], np.ndarray],
) -> dict[str, np.ndarray]:
    """Churn probability and expected spend over the horizon after ``day``, in both arms.

    Customers dead at contact churn in both arms and spend nothing: the offer cannot move them.
    """
    alive = death[owners] > day
    hazard = traits.hazard[owners]
    multiplier = np.array([MULTIPLIER[s] for s in segment[owners]])
    rate_multiplier = {
        "control": 1.0,
        "treated": np.array([RATE_MULTIPLIER[s] for s in segment[owners]]),
    }
    mean_demand = float(np.mean(demand(day + np.arange(1, HORIZON_DAYS + 1))))
    rate = traits.rate[owners] * mean_demand
    u = (np.arange(QUANTILES) + 0.5) / QUANTILES
    residual = -np.log1p(-u)[None, :] / hazard[:, None]
    treated = treated_residual(residual, multiplier[:, None])
    out: dict[str, np.ndarray] = {"alive_at_contact": alive}
    for arm, life in (("control", residual), ("treated", treated)):
        arm_rate = rate * rate_multiplier[arm]
        exposure = _exposure(life)
        churn = np.exp(-arm_rate[:, None] * exposure).mean(axis=1)
        spend = traits.mean_order_value[owners] * arm_rate * exposure.mean(axis=1)
        out[f"p_churn_{arm}"] = np.where(alive, churn, 1.0)
        out[f"value_{arm}"] = np.where(alive, spend, 0.0)
    out["true_churn_effect"] = out["p_churn_control"] - out["p_churn_treated"]
    out["true_value_effect"] = out["value_treated"] - out["value_control"]
    return out


def _exposure(life: np.ndarray) -> np.ndarray:
    """Purchase-rate-weighted days in the horizon for residual lives ``life`` (see docstring)."""
    lived = np.minimum(life, HORIZON_DAYS)
    full = np.clip(life - SLOWDOWN_DAYS, 0.0, HORIZON_DAYS)
    return full + SLOWDOWN * (lived - full)


def treatments_table(
    planted: PlantedCampaigns, ids: np.ndarray, start: pd.Timestamp
) -> pd.DataFrame:
    """The documented ``treatments`` table: customer_id, campaign_id, arm, contacted_at, offer."""
    t = planted.treatments
    contacted = start + pd.to_timedelta(t["contact_day"].to_numpy(), unit="D")
    return pd.DataFrame(
        {
            "customer_id": ids[t["owner"].to_numpy()],
            "campaign_id": t["campaign_id"].to_numpy(),
            "arm": t["arm"].to_numpy(),
            "contacted_at": np.asarray(contacted.strftime("%Y-%m-%d")),
            "offer": t["offer"].to_numpy(),
        }
    )


def campaign_truth_table(
    planted: PlantedCampaigns, ids: np.ndarray, start: pd.Timestamp
) -> pd.DataFrame:
    """Per campaign customer: the segment, both potential outcomes and the true effects."""
    truth = planted.truth
    contacted = start + pd.to_timedelta(planted.treatments["contact_day"].to_numpy(), unit="D")
    out = truth.drop(columns=["owner"])
    out.insert(0, "customer_id", ids[truth["owner"].to_numpy()])
    out.insert(3, "contacted_at", np.asarray(contacted.strftime("%Y-%m-%d")))
    return out
