"""Risk tiers as churn-probability thresholds a reader can check: "high: 60% or more".

One ``risk_tiers`` section of the experiment config; ``retain package --config`` records it with
the models, so batch scores, the service, ``retain campaign`` and ``retain report`` put a customer
in the same tier and state the same thresholds. A tier is a fixed chance of leaving, not a rank:
a 56% chance is medium whatever the other customers' chances are.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

TIER_NAMES = ("high", "medium", "low")
"""The tiers, highest risk first; a tier's code in score arrays is its position here."""


class RiskTiers(BaseModel):
    """Churn probabilities from which a customer is at high and at medium risk (else low)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    high: float = Field(
        0.6, gt=0, le=1, description="Chance of leaving from which a customer is at high risk."
    )
    medium: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Chance of leaving from which a customer is at medium risk (below: low); "
        "below high.",
    )

    @model_validator(mode="after")
    def _medium_below_high(self) -> RiskTiers:
        if self.medium >= self.high:
            raise ValueError(
                f"risk_tiers.medium ({self.medium}) must be below risk_tiers.high ({self.high})"
            )
        return self

    def words(self) -> str:
        """The thresholds as a reader checks them: 'high: 60% or more; medium: 30% to under
        60%; low: under 30% chance of leaving'."""
        high, medium = percent(self.high), percent(self.medium)
        return (
            f"high: {high} or more; medium: {medium} to under {high}; low: under {medium} "
            "chance of leaving"
        )


def percent(share: float) -> str:
    """A share as a percentage without needless decimals: 0.6 -> '60%', 0.125 -> '12.5%'."""
    return f"{share * 100:.4g}%"
