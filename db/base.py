"""The declarative base and the one MetaData every table of the project shares.

Model modules (``records.py``, ``gateway.py``, ``console.py``) subclass :class:`Base`;
Alembic autogenerates against ``Base.metadata``. The naming convention gives every
constraint and index a stable name, so migrations are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import declarative_base

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)
