"""Money as the business counts it: currency, gross margin and the costs of a retention offer.

One ``economics`` section of the experiment config, read by training (the EMPC metric's defaults),
batch scoring and the service (value at risk), ``retain campaign`` and ``retain report``. Revenue
is not profit: every amount a decision rests on is revenue times ``gross_margin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError

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
    offer_cost: float = Field(10.0, ge=0, description="Cost of the offer, paid when accepted.")
    contact_cost: float = Field(1.0, ge=0, description="Cost of one contact.")
    acceptance: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Assumed share of contacted would-be churners the offer retains, used only "
        "when no uplift model measures it.",
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


def read_economics(path: Path | None) -> Economics:
    """The ``economics`` section of a config YAML; defaults when there is no file or section."""
    if path is None:
        return Economics()
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw: Any = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    section = raw.get("economics") if isinstance(raw, dict) else None
    if section is None:
        return Economics()
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: 'economics' must be a mapping, got {section!r}")
    try:
        return Economics.model_validate(section)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                lines.append(
                    f"  - economics.{where}: unknown key; valid keys: "
                    + ", ".join(Economics.model_fields)
                )
            else:
                lines.append(f"  - economics.{where}: {e['msg']} (got {e.get('input')!r})")
        raise ConfigError(f"{path} is invalid:\n" + "\n".join(lines)) from None
