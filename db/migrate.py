"""Run the Alembic history from code: ``upgrade(url)`` and ``alembic_config(url)``."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from db.engine import database_url_from_env

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config for ``url`` (default ``DATABASE_URL``), no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is interpolation syntax in Alembic's ConfigParser.
    config.set_main_option(
        "sqlalchemy.url", (url or database_url_from_env()).replace("%", "%%")
    )
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    logger.info("Migrating database to %s", revision)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    logger.info("Downgrading database to %s", revision)
    command.downgrade(alembic_config(url), revision)
