"""Money as the business counts it: currency, gross margin and the costs of a retention offer.

One ``economics`` section of the experiment config, read by training (the EMPC metric's costs),
batch scoring and the service (value at risk), ``retain campaign`` and ``retain report``. Revenue
is not profit: every amount a decision rests on is revenue times ``gross_margin``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}


class Economics(BaseModel):
    """Currency, margin and offer costs; each default is an assumption the report labels as one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = Field(
        "USD", min_length=1, max_length=8, description="ISO code (or symbol) shown on amounts."
    )
    gross_margin: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Share of revenue kept as gross profit; value at risk and campaign gains "
        "are revenue times this margin.",
    )
    offer_cost: float = Field(
        10.0, ge=0, description="Cost of the offer, paid when accepted (EMPC's incentive too)."
    )
    contact_cost: float = Field(
        1.0, ge=0, description="Cost of one contact (campaigns and the EMPC metric)."
    )
    acceptance: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumed share of contacted would-be churners the offer retains, used only "
        "when no uplift model measures it.",
    )

    recurring_charge: str | None = Field(
        None,
        min_length=1,
        description="A churn-only export's column holding each customer's recurring monthly "
        "charge (e.g. MonthlyCharges). Without a CLV model, value at risk is churn probability "
        "x this charge x the months of the horizon x gross_margin; without either, value is "
        "unknown and campaigns rank by churn risk. A CLV model, when packaged, is used instead.",
    )

    def money(self, amount: float, decimals: int = 0) -> str:
        """An amount with the currency: ``$1,234``, ``-€5``, ``1,234 SEK``."""
        if amount != amount:  # NaN
            return "n/a"
        sign = "-" if amount < 0 and round(abs(amount), decimals) > 0 else ""
        number = f"{abs(amount):,.{decimals}f}"
        symbol = SYMBOLS.get(self.currency.upper())
        if symbol is None and len(self.currency) <= 2 and not self.currency.isalpha():
            symbol = self.currency
        if symbol is not None:
            return f"{sign}{symbol}{number}"
        return f"{sign}{number} {self.currency}"
