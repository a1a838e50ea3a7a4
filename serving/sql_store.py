"""Where the workspace's SQL store is: the one SQLAlchemy database of the campaign ledger
(``retention/ledger.py``) and the score history (``serving/score_history.py``).

A sqlite file in the workspace by default (``ledger.db``); any SQLAlchemy URL (e.g.
``postgresql+psycopg://user@host/db``) through ``$RETAIN_LEDGER_URL`` or ``--ledger``. Here, below
both users, so the history written by ``retain score`` and the ledger share one URL rule.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from core.errors import ConfigError
from core.settings import Settings, retain_home

LEDGER_URL_ENV = "RETAIN_LEDGER_URL"
"""Environment variable naming the SQL store's SQLAlchemy URL."""
LEDGER_FILE = "ledger.db"


def ledger_url(explicit: str | None = None) -> str:
    """``--ledger``, else ``$RETAIN_LEDGER_URL``, else sqlite in the current workspace."""
    url = explicit or Settings.read().ledger_url
    if url:
        return url
    return f"sqlite:///{retain_home() / LEDGER_FILE}"


def shown(url: str) -> str:
    """The URL without its password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def open_store(url: str, metadata: sa.MetaData, what: str) -> Engine:
    """An engine on ``url`` with ``metadata``'s tables created; a bad URL or an unreachable
    database is a ConfigError naming ``what`` (e.g. 'campaign ledger') and how to fix it."""
    try:
        parsed = sa.engine.make_url(url)
        if parsed.drivername.startswith("sqlite") and parsed.database:
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = sa.create_engine(parsed)
        metadata.create_all(engine)
    except (ArgumentError, NoSuchModuleError) as err:
        raise ConfigError(
            f"{what} URL {shown(url)}: not a usable SQLAlchemy URL ({err}); set "
            f"--ledger or ${LEDGER_URL_ENV}, e.g. sqlite:///path/ledger.db or "
            "postgresql+psycopg://user@host/db"
        ) from None
    except SQLAlchemyError as err:
        raise ConfigError(
            f"cannot open the {what} at {shown(url)} ({type(err).__name__}): check "
            f"--ledger or ${LEDGER_URL_ENV} and that the database is reachable"
        ) from None
    return engine


__all__ = ["LEDGER_FILE", "LEDGER_URL_ENV", "ledger_url", "open_store", "shown"]
