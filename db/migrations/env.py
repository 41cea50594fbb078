"""Alembic environment: one history for every table of the project.

Configured from code (``db.migrate.alembic_config``), no alembic.ini. Every module of
the ``db`` package that is not infrastructure is imported, so a new model module
(gateway, console) is seen by ``alembic revision --autogenerate`` without editing this
file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

import db
from db.base import metadata
from db.engine import make_engine

_NOT_MODELS = {"base", "engine", "seed", "migrate", "__main__", "migrations"}

for _module in pkgutil.iter_modules(db.__path__):
    if _module.name not in _NOT_MODELS and not _module.name.startswith("_"):
        importlib.import_module(f"db.{_module.name}")

config = context.config
target_metadata = metadata


def _render_item(
    type_: str, obj: Any, autogen_context: AutogenContext
) -> str | Literal[False]:
    # Migrations must not import model code: project column types render as their
    # plain SQLAlchemy base type (UTCDateTime -> sa.DateTime()).
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl.__class__.__name__}()"
    return False


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        render_item=_render_item,
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    """Emit the SQL for the configured URL without connecting."""
    _configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection (the caller's, or one made from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
