"""The campaign ledger: every campaign ``retain campaign`` planned, with each customer's arm.

A SQL store through SQLAlchemy Core: a sqlite file under the state folder by default
(``.retain/ledger.db``), any SQLAlchemy URL (e.g. ``postgresql+psycopg://user@host/db``) through
``$RETAIN_LEDGER_URL`` or ``--ledger``. Two tables: ``retain_campaigns`` (one row per campaign: id,
time, as_of, policy, economics, control share, seed, model versions, scores generation) and
``retain_campaign_customers`` (one row per customer of a campaign: arm, risk tier, rank, predicted
churn, predicted value, expected gain). A campaign is written in one transaction: it is in the
ledger whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.economics import Economics
from core.errors import DataValidationError
from core.schema import CUSTOMER_ID
from core.settings import test_hook
from serving.sql_store import LEDGER_URL_ENV, ledger_url, open_store, shown


class LedgerError(DataValidationError):
    """The ledger refused a write (which was rolled back whole) or cannot be reached."""


metadata = sa.MetaData()
campaigns_table = sa.Table(
    "retain_campaigns",
    metadata,
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("horizon_days", sa.Integer, nullable=False),
    sa.Column("contractual", sa.Boolean, nullable=False),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("economics", sa.Text, nullable=False),
    sa.Column("budget", sa.Float, nullable=False),
    sa.Column("control_share", sa.Float, nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("model_versions", sa.Text, nullable=False),
    sa.Column("scores_generation", sa.String(64), nullable=True),
    sa.Column("n_treatment", sa.Integer, nullable=False),
    sa.Column("n_control", sa.Integer, nullable=False),
)
customers_table = sa.Table(
    "retain_campaign_customers",
    metadata,
    sa.Column(
        "campaign_id",
        sa.String(64),
        sa.ForeignKey("retain_campaigns.campaign_id"),
        primary_key=True,
    ),
    sa.Column(CUSTOMER_ID, sa.String(128), primary_key=True),
    sa.Column("arm", sa.SmallInteger, nullable=False),
    sa.Column("risk_tier", sa.String(32), nullable=True),
    sa.Column("rank", sa.Integer, nullable=True),
    sa.Column("churn_probability", sa.Float, nullable=True),
    sa.Column("clv", sa.Float, nullable=True),
    sa.Column("expected_gain", sa.Float, nullable=True),
)
CUSTOMER_COLUMNS = [c.name for c in customers_table.columns if c.name != "campaign_id"]
"""Per-customer columns of a campaign, in order (``arm``: 1 treatment, 0 control)."""


@dataclass(frozen=True)
class CampaignRecord:
    """What the ledger keeps about one campaign besides its customers."""

    campaign_id: str
    created_at: dt.datetime
    as_of: dt.date | None
    horizon_days: int
    contractual: bool
    policy: str
    economics: Economics
    budget: float
    control_share: float
    seed: int
    model_versions: dict[str, str]
    scores_generation: str | None
    n_treatment: int
    n_control: int

    def row(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "economics": self.economics.model_dump_json(),
            "model_versions": json.dumps(self.model_versions, sort_keys=True),
        }

    @classmethod
    def from_row(cls, row: Any) -> CampaignRecord:
        values = dict(row._mapping)
        values["economics"] = Economics.model_validate_json(values["economics"])
        values["model_versions"] = json.loads(values["model_versions"])
        return cls(**values)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view (``retain campaigns --json``)."""
        return {
            **self.__dict__,
            "created_at": self.created_at.isoformat(timespec="seconds") + "Z",
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "economics": self.economics.model_dump(mode="json"),
        }


def new_campaign_id(now: dt.datetime | None = None) -> str:
    """A readable, unique id: ``C`` + the UTC day + 6 random hex digits, e.g. C20261201-ab12cd."""
    now = now or dt.datetime.now(dt.UTC)
    return f"C{now:%Y%m%d}-{secrets.token_hex(3)}"


class Ledger:
    """The campaign ledger at one SQLAlchemy URL; its tables are created on first use."""

    def __init__(self, url: str | None = None) -> None:
        self.url = ledger_url(url)
        self.engine: Engine = open_store(self.url, metadata, "campaign ledger")

    @property
    def shown(self) -> str:
        """The URL without its password."""
        return shown(self.url)

    def record(
        self, record: CampaignRecord, customers: pd.DataFrame, *, hook: str | None = None
    ) -> None:
        """Write a campaign and its customers in one transaction; ``hook`` names the test-hook
        point after every row is inserted and before the commit."""
        missing = [c for c in CUSTOMER_COLUMNS if c not in customers]
        if missing:
            raise DataValidationError(f"campaign customers lack column(s) {missing}")
        rows = customers[CUSTOMER_COLUMNS].astype(object)
        rows = rows.where(rows.notna(), None).assign(campaign_id=record.campaign_id)
        try:
            with self.engine.begin() as conn:
                conn.execute(campaigns_table.insert(), [record.row()])
                if len(rows):
                    conn.execute(customers_table.insert(), rows.to_dict("records"))
                if hook:
                    test_hook(hook)
        except SQLAlchemyError as err:
            raise LedgerError(
                f"campaign {record.campaign_id} was not recorded in the ledger at {self.shown} "
                f"({type(err).__name__}: {str(err.orig if hasattr(err, 'orig') else err)[:200]}); "
                "nothing of it was written"
            ) from None

    def has(self, campaign_id: str) -> bool:
        query = sa.select(campaigns_table.c.campaign_id).where(
            campaigns_table.c.campaign_id == campaign_id
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def campaigns(self) -> list[CampaignRecord]:
        """Every campaign, newest first."""
        query = sa.select(campaigns_table).order_by(
            campaigns_table.c.created_at.desc(), campaigns_table.c.campaign_id
        )
        with self.engine.connect() as conn:
            return [CampaignRecord.from_row(r) for r in conn.execute(query)]

    def campaign(self, campaign_id: str) -> tuple[CampaignRecord, pd.DataFrame]:
        """One campaign and its customers (``CUSTOMER_COLUMNS``, by arm then rank)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(campaigns_table).where(campaigns_table.c.campaign_id == campaign_id)
            ).first()
            if row is None:
                known = [c.campaign_id for c in self.campaigns()][:10]
                raise DataValidationError(
                    f"no campaign {campaign_id!r} in the ledger at {self.shown}; recorded: "
                    f"{', '.join(known) or 'none'} (`retain campaigns` lists them)"
                )
            query = (
                sa.select(*[customers_table.c[c] for c in CUSTOMER_COLUMNS])
                .where(customers_table.c.campaign_id == campaign_id)
                .order_by(customers_table.c.arm.desc(), customers_table.c.rank)
            )
            customers = pd.DataFrame(conn.execute(query).fetchall(), columns=CUSTOMER_COLUMNS)
        customers = customers.astype(
            {
                CUSTOMER_ID: "str",
                "arm": "int8",
                "churn_probability": "float64",
                "clv": "float64",
                "expected_gain": "float64",
            }
        )
        customers["rank"] = customers["rank"].astype("Int64")
        return CampaignRecord.from_row(row), customers

    def table(self) -> pd.DataFrame:
        """The campaigns as a table (``retain campaigns``)."""
        rows = [
            {
                "campaign_id": c.campaign_id,
                "created": c.created_at.strftime("%Y-%m-%d %H:%M"),
                "as_of": c.as_of.isoformat() if c.as_of else "",
                "policy": c.policy,
                "treatment": c.n_treatment,
                "control": c.n_control,
                "control_share": c.control_share,
                "models": ", ".join(f"{k} {v}" for k, v in sorted(c.model_versions.items())),
            }
            for c in self.campaigns()
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "campaign_id",
                "created",
                "as_of",
                "policy",
                "treatment",
                "control",
                "control_share",
                "models",
            ],
        )


__all__ = [
    "CUSTOMER_COLUMNS",
    "LEDGER_URL_ENV",
    "CampaignRecord",
    "Ledger",
    "LedgerError",
    "ledger_url",
    "new_campaign_id",
]
