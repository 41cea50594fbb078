"""Seed an empty database with data/seed/ (filled in by the next commit)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from db.engine import session_scope
from db.records import Office

logger = logging.getLogger(__name__)


def seed(engine: Engine) -> bool:
    """Seed the database if it holds no records yet; return whether it seeded."""
    with session_scope(engine) as session:
        if session.execute(select(func.count(Office.code))).scalar_one():
            logger.info("Database already holds records: not seeding")
            return False
    return True
